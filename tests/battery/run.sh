#!/bin/sh
# tests/battery/run.sh [pairs|steps] - Dieharder's whole battery (-a) on the
# Gaussian pair hashes of docs/rng.md section 4 (tests/battery/rng_stream.c):
# one stream's pairs in order, or one pair index across 1024 steps' streams.
# Not part of `make check` (it reads tens of GB); `make rng-battery` runs it,
# the results are in docs/rng.md section 10. Needs Debian's dieharder.
set -eu
mode=${1:-pairs}
BUILD=${BUILD:-build}
command -v dieharder >/dev/null || { echo "rng-battery: needs dieharder (apt-get install dieharder)"; exit 1; }
"$BUILD/tests/battery/rng_stream" "$mode" | dieharder -a -g 200
