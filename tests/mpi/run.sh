#!/bin/sh
# tests/mpi/run.sh BUILD - libzoq-mpi's tests under mpirun on this machine
# (--oversubscribe: up to 4 ranks on however many cores), called by
# tests/run.sh. Prints "[PASS] ..."/"[FAIL] ..." lines and, last,
# "mpi: N passed, M failed"; exits 0 with "[SKIP] ..." when there is no MPI.
# As root, OpenMPI's mpirun wants to be told (CI runs as root, no stdin).
set -u
BUILD=${1:-build}
t=$BUILD/tests/mpi/test_mpi
ex=$BUILD/examples/mpi/digits_mpi
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$t" ]; then
    echo "[SKIP] mpi: no mpirun or $t (make deps installs openmpi-bin and libopenmpi-dev)"
    echo "mpi: 0 passed, 0 failed"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# no network interfaces needed: shared memory and loopback between local ranks
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
passed=0
failed=0
log=$(mktemp)
tmp=$(mktemp -d)
trap 'rm -rf "$log" "$tmp"' EXIT

run() {
    name=$1
    shift
    if "$@" </dev/null >"$log" 2>&1; then
        echo "[PASS] mpi: $name"
        passed=$((passed + 1))
    else
        echo "[FAIL] mpi: $name"
        tail -n 30 "$log"
        failed=$((failed + 1))
    fi
}
mpi() {
    np=$1
    shift
    timeout 300 mpirun --oversubscribe -np "$np" "$@"
}

for np in 1 2 3 4; do
    run "np=$np: 100 steps bit-identical to one process (query-, data-parallel, grid; 7 option sets)" \
        mpi "$np" "$t" identity
    run "np=$np: a failure on one rank at each point index restores every rank exactly" \
        mpi "$np" "$t" failures
done
run "np=3: the digest check names the rank whose parameters diverged" mpi 3 "$t" divergence
run "np=1, 4: bytes per step per rank do not grow from 10^4 to 10^7 parameters" \
    sh -c "timeout 300 mpirun --oversubscribe -np 1 $t bytes && timeout 300 mpirun --oversubscribe -np 4 $t bytes"
run "np=2: argument checks" mpi 2 "$t" api
run "abi: libzoq-mpi exports zoq_mpi_* only (ZOQ_MPI_0.1), libzoq links no MPI; pkg-config zoq-mpi" \
    sh tests/mpi/abi.sh "$BUILD"
# kill -9 of one rank at step 57, then resume from the step-50 checkpoint
kill_then_resume() {
    if mpi 3 "$t" checkpoint "$tmp" 100 57 0; then
        echo "the run with a killed rank did not fail"
        return 1
    fi
    mpi 3 "$t" checkpoint "$tmp" 100 -1 1 | tee /dev/stderr | grep -q "resumed at step 50"
}
run "np=3: kill -9 of one rank mid-run, resume from the checkpoint: same parameters" \
    kill_then_resume
DIGITS=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
if [ -n "${SAN:-}" ]; then
    echo "[SKIP] mpi example under SANITIZE=1 (the protocol's tests above ran sanitized)"
elif [ -x "$ex" ] && [ -f "$DIGITS" ]; then
    run "example: digits MLP on 4 ranks, query- and data-parallel, same digest as 1 rank" \
        sh tests/mpi/example.sh "$ex" "$DIGITS"
else
    echo "[SKIP] mpi example (needs $ex and $DIGITS from python3-sklearn)"
fi
echo "mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
