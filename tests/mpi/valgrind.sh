#!/bin/sh
# tests/mpi/valgrind.sh BUILD - libzoq-mpi's api and failures cases on 2
# ranks under valgrind's memcheck (make valgrind): no error and no definite
# leak outside what OpenMPI itself keeps (tests/mpi/valgrind.supp, with
# OpenMPI's own /usr/share/openmpi/openmpi-valgrind.supp). Skips without MPI.
set -u
BUILD=${1:-build}
t=$BUILD/tests/mpi/test_mpi
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$t" ]; then
    echo "[SKIP] valgrind mpi: no mpirun or $t"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
supp="--suppressions=tests/mpi/valgrind.supp"
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] &&
    supp="$supp --suppressions=/usr/share/openmpi/openmpi-valgrind.supp"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
for c in api failures; do
    # shellcheck disable=SC2086
    mpirun --oversubscribe -np 2 valgrind --quiet --num-callers=40 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite $supp \
        --log-file="$logs/$c.%p.log" "$t" "$c" </dev/null >"$logs/$c.out" 2>&1
    rc=$?
    bad=$(find "$logs" -name "$c.*.log" -size +0 | head -n 2)
    if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
        echo "[FAIL] valgrind mpi $c (exit $rc)"
        tail -n 5 "$logs/$c.out"
        for f in $bad; do head -n 80 "$f"; done
        failed=$((failed + 1))
    else
        echo "[PASS] valgrind mpi $c on 2 ranks"
    fi
done
[ "$failed" -eq 0 ]
