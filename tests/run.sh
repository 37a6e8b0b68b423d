#!/bin/sh
# tests/run.sh - runs every check `make check` owns and prints one closing
# line "check: N passed, M failed". Usage: tests/run.sh TEST_BINARY...
# Environment: BUILD (build folder), CC, CXX, PYTHON, SYS_PYTHON (Debian's
# python3 with numpy, pytest and torch), SAN (non-empty under SANITIZE=1),
# FUZZ (fuzz target names whose corpus is replayed), CUDA_CHECKS.
BUILD=${BUILD:-build}
CC=${CC:-cc}
CXX=${CXX:-c++}
PYTHON=${PYTHON:-python3}
SYS_PYTHON=${SYS_PYTHON:-/usr/bin/python3}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# A Criterion binary: count its tests from its "Synthesis" line.
for t in "$@"; do
    echo "== $t"
    "$t" --jobs 2 >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep 'Synthesis' "$log" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    if [ -z "$p" ]; then p=0; f=1; c=0; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$c" -eq 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f + c))
done

# A named shell check: counts as one test.
check() {
    name=$1
    shift
    if "$@" >"$log" 2>&1; then
        echo "[PASS] $name"
        passed=$((passed + 1))
    else
        echo "[FAIL] $name"
        cat "$log"
        failed=$((failed + 1))
    fi
}

check "abi: only zoq_ symbols exported, header portable" sh tests/abi.sh "$BUILD"
check "layering: backend/ never includes estim/ or tech/, nothing includes backend internals" \
    sh tests/layering.sh
check "example: quadratic converges" "$BUILD/examples/quadratic"
check "example: preference objective raises accuracy" "$BUILD/examples/preference"
if [ -x "$BUILD/llm/zoq_llama" ]; then
    check "llm: zoq inside llama.cpp, --quick invariants" \
        "$BUILD/llm/zoq_llama" --quick --data "${LLM_DATA:-../shared/data/hh-rlhf-harmless/pairs.jsonl.gz}" \
        --out "$BUILD/llm/quick"
else
    echo "[SKIP] llm: zoq inside llama.cpp (needs make llm-deps)"
fi
if [ -z "${SAN:-}" ]; then
    check "install: pkg-config build of the example, uninstall" sh tests/install.sh "$BUILD"
fi
if [ -n "${SAN:-}" ]; then
    echo "[SKIP] pip install of bindings/python (not under SANITIZE=1)"
elif $SYS_PYTHON -c 'import venv, ensurepip, numpy, setuptools, wheel' 2>/dev/null; then
    check "pip install ./bindings/python and make wheel: import zoq from / in a new venv" \
        env SYS_PYTHON="$SYS_PYTHON" sh tests/pip_install.sh "$BUILD"
else
    echo "[SKIP] pip install of bindings/python (needs python3-venv, -setuptools, -wheel: make deps)"
fi
DIGITS=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
if [ -f "$DIGITS" ] && $PYTHON -c 'import numpy' 2>/dev/null; then
    check "example: nightly pipeline, 7 nights: every module, never a worse adapter" \
        sh tests/nightly.sh "$BUILD" "$DIGITS"
else
    echo "[SKIP] nightly pipeline (needs $DIGITS from python3-sklearn and numpy: make deps)"
fi
for f in ${FUZZ:-}; do
    check "fuzz corpus replays: $f" "$BUILD/fuzz/replay_$f" "tests/fuzz/corpus/$f"
done
# CUDA_CHECKS: the host build of the kernels' code and their PTX (make check
# sets them where nvcc is and SANITIZE is off).
if [ -n "${CUDA_CHECKS:-}" ]; then
    host_test=${CUDA_CHECKS%% *}
    ptx=${CUDA_CHECKS#* }
    check "cuda: kernel code (host build) equals the noise reference and CPU backend" "$host_test"
    check "cuda: the kernels' PTX has only single IEEE binary32 operations" sh tests/cuda/ptx.sh "$ptx"
else
    echo "[SKIP] cuda plugin host tests (no nvcc on PATH, or SANITIZE=1)"
fi
# libzoq-mpi under mpirun (tests/mpi/run.sh skips without MPI). Under
# SANITIZE=1 LeakSanitizer stays off there: OpenMPI's own allocations that
# it keeps until exit would be reported as leaks; ASan and UBSan still check.
mpi_log=$(mktemp)
if [ -n "${SAN:-}" ]; then
    ASAN_OPTIONS=detect_leaks=0 sh tests/mpi/run.sh "$BUILD" >"$mpi_log" 2>&1
else
    sh tests/mpi/run.sh "$BUILD" >"$mpi_log" 2>&1
fi
grep -v '^mpi: ' "$mpi_log"
passed=$((passed + $(grep -c '^\[PASS\]' "$mpi_log")))
failed=$((failed + $(grep -c '^\[FAIL\]' "$mpi_log")))
rm -f "$mpi_log"
check "docs/api.md lists every function of include/zoq.h" $PYTHON tools/gen_api_doc.py --check
check "docs/options.md and bindings/python/zoq/_generated.py match the option table and headers" \
    $PYTHON tools/gen_options.py --check
# The Python bindings load $BUILD/libzoq.so into Debian's python3. Under
# SANITIZE=1 that library needs the compiler's ASan and UBSan runtimes
# preloaded into the interpreter; leak checking stays with the C suites and
# valgrind (the interpreter keeps its own allocations until exit).
py_env="ZOQ_LIBRARY=$BUILD/libzoq.so PYTHONDONTWRITEBYTECODE=1"
py_ok=1
if [ -n "${SAN:-}" ]; then
    asan=$($CC -print-file-name=libasan.so)
    ubsan=$($CC -print-file-name=libubsan.so)
    if [ -f "$asan" ] && [ -f "$ubsan" ]; then
        py_env="$py_env ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=$asan:$ubsan"
    else
        echo "[SKIP] python bindings: $CC has no libasan.so/libubsan.so to preload into python3"
        py_ok=0
    fi
fi
if [ "$py_ok" -eq 1 ] && $SYS_PYTHON -c 'import numpy, pytest' 2>/dev/null; then
    check "python bindings: pytest bindings/python/tests" env $py_env \
        $SYS_PYTHON -m pytest -q -p no:cacheprovider bindings/python/tests
elif [ "$py_ok" -eq 1 ]; then
    echo "[SKIP] python bindings (needs python3-numpy and python3-pytest: make deps)"
fi
if $PYTHON -c 'import numpy, xxhash' 2>/dev/null; then
    check "rng vectors regenerate from docs/rng.md" $PYTHON tests/kat/gen_rng_kat.py --check
else
    echo "[SKIP] rng vectors regenerate (needs python3 numpy and xxhash: make deps)"
fi
# ctypes loads libzoq.so into Python: not with a sanitized build.
if [ -n "${SAN:-}" ]; then
    echo "[SKIP] safetensors cross-check (not under SANITIZE=1)"
elif $PYTHON -c 'import numpy, safetensors' 2>/dev/null; then
    check "safetensors files match the safetensors package, PEFT config keys" \
        $PYTHON tests/io_crosscheck.py "$BUILD"
else
    echo "[SKIP] safetensors cross-check (needs python3 numpy and safetensors: make deps)"
fi
# Debian's python3 again where PYTHON is another one: its numpy is 1.x.
if [ -z "${SAN:-}" ] && [ "$(command -v "$PYTHON")" != "$SYS_PYTHON" ] &&
    $SYS_PYTHON -c 'import numpy, safetensors' 2>/dev/null; then
    check "safetensors cross-check on $SYS_PYTHON's numpy" \
        $SYS_PYTHON tests/io_crosscheck.py "$BUILD"
fi
# PEFT itself (torch, transformers) on a tiny Llama; tools/deps.sh installs it.
if [ -n "${SAN:-}" ]; then
    echo "[SKIP] PEFT round trip (not under SANITIZE=1)"
elif peft_why=$($SYS_PYTHON -c 'import numpy, torch, transformers, peft, jinja2' 2>&1); then
    check "PEFT round trip: zoq -> PEFT and PEFT -> zoq -> PEFT, bit-identical" \
        env $py_env PYTHONPATH=bindings/python $SYS_PYTHON tests/peft_roundtrip.py
else
    echo "[SKIP] PEFT round trip: $SYS_PYTHON cannot import it ($(echo "$peft_why" | tail -n 1));" \
        "make deps installs it"
fi
for kat in tests/kat/gen_*_kat.py; do
    [ "$kat" = tests/kat/gen_rng_kat.py ] && continue
    [ -f "$kat" ] || continue
    if $PYTHON "$kat" --help >/dev/null 2>&1; then
        check "$(basename "$kat") vectors are current" $PYTHON "$kat" --check
    else
        echo "[SKIP] $kat (its Python dependencies are missing: make deps)"
    fi
done

echo
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
