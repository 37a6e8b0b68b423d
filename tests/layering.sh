#!/bin/sh
# tests/layering.sh - the library's layers, checked with grep
# (docs/architecture.md): the backends never reach into the estimators or
# the techniques; core and the techniques see a backend only through its
# interface (backend/backend.h, backend/plugin.h), never the CPU or CUDA
# internals; estim/update.c only builds gradient terms (under 120 lines).
set -eu
cd "$(dirname "$0")/.."
bad=0
complain() {
    echo "$1"; echo "$2"; bad=1
}
hits=$(grep -rnE '#include "(estim|tech)/' lib/backend || true)
[ -z "$hits" ] || complain "lib/backend/ includes estim/ or tech/:" "$hits"
hits=$(grep -rnE '#include "backend/(cpu|cuda)/|#include "(pool|tile|tile_simd|pass)\.(h|cuh)"' \
       lib/core lib/tech lib/estim || true)
[ -z "$hits" ] || complain "core/, tech/ or estim/ include backend internals:" "$hits"
lines=$(wc -l < lib/estim/update.c)
[ "$lines" -lt 120 ] || complain "lib/estim/update.c has $lines lines (< 120):" "-"
exit $bad
