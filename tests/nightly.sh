#!/bin/sh
# tests/nightly.sh - the acceptance run of examples/nightly: seven nights in
# a fresh folder, then tests/nightly_check.py asserts from the files alone
# that the week touched every module type and never served a worse adapter.
# Quick form: 60 ZO steps a night at lr 2e-2, coarse enough that the
# regression guard refuses some nights (2 deployed, 5 kept when written), so
# both of its branches are checked.
# Usage: tests/nightly.sh BUILD_DIR [digits.csv.gz]   (PYTHON: interpreter)
BUILD=${1:-build}
DATA=${2:-/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz}
PYTHON=${PYTHON:-python3}
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
for t in 0 1 2 3 4 5 6; do
    "$BUILD/examples/nightly" --dir "$dir" --night "$t" --data "$DATA" --steps 60 --lr 2e-2 ||
        exit 1
done
$PYTHON tests/nightly_check.py "$dir" "$DATA"
