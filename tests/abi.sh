#!/bin/sh
# tests/abi.sh BUILD - the ABI promise: the shared library exports only zoq_*
# (under version node ZOQ_0.1), include/zoq.h compiles alone as C99
# -Wpedantic and as C++, so does each of its parts include/zoq/*.h, the
# experimental API is declared exactly when ZOQ_EXPERIMENTAL is defined,
# and, where abidiff exists, nothing in the baseline abi/libzoq.abi was
# removed or changed (additions and appended members of size-prefixed
# structs are allowed).
set -eu
BUILD=${1:-build}
CC=${CC:-cc}
CXX=${CXX:-c++}
SAN=${SAN:-}   # sanitizer flags the library was built with, if any
so=$(ls "$BUILD"/libzoq.so.*.*.* | head -n 1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^zoq_[a-z0-9_]*@@ZOQ_0\.1$' |
      grep -v '^ZOQ_0\.1$' || true)
if [ -n "$bad" ]; then
    echo "symbols outside zoq_* or the ZOQ_0.1 node:"; echo "$bad"; exit 1
fi
count=$(nm -D --defined-only "$so" | grep -c ' zoq_')
[ "$count" -gt 20 ] || { echo "only $count zoq_ symbols exported"; exit 1; }
readelf -d "$so" | grep -q "SONAME.*libzoq.so.0" || { echo "SONAME missing"; exit 1; }

cat > "$tmp/use.c" <<'C'
#include <zoq.h>
int main(void)
{
    zoq_ctx *ctx = 0;
    zoq_param_desc_t d = {sizeof d, "w", 0, ZOQ_F32, ZOQ_DEVICE_CPU, 1, 0, 0, 0, 0, 0, 0};
    int rc = zoq_create(&ctx);
    (void)d;
    zoq_destroy(ctx);
    return rc == ZOQ_OK && zoq_version_number() == ZOQ_VERSION_NUMBER ? 0 : 1;
}
C
$CC $SAN -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude "$tmp/use.c" -o "$tmp/use_c" \
    -L"$BUILD" -lzoq -Wl,-rpath,"$(cd "$BUILD" && pwd)"
"$tmp/use_c"
cp "$tmp/use.c" "$tmp/use.cpp"
$CXX $SAN -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude "$tmp/use.cpp" -o "$tmp/use_cxx" \
    -L"$BUILD" -lzoq -Wl,-rpath,"$(cd "$BUILD" && pwd)"
"$tmp/use_cxx"
for part in include/zoq/*.h; do
    printf '#include <zoq/%s>\nint zoq_part_ok;\n' "${part##*/}" > "$tmp/part.c"
    $CC -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude -c "$tmp/part.c" -o "$tmp/part.o" ||
        { echo "$part does not compile alone"; exit 1; }
done
printf '#include <zoq.h>\nzoq_rotation_t r;\n' > "$tmp/exp.c"
if $CC -std=c99 -Iinclude -c "$tmp/exp.c" -o "$tmp/exp.o" 2>/dev/null; then
    echo "experimental API declared without ZOQ_EXPERIMENTAL"; exit 1
fi
$CC -std=c99 -Wall -Wpedantic -Werror -DZOQ_EXPERIMENTAL -Iinclude -c "$tmp/exp.c" -o "$tmp/exp.o"

if command -v abidiff >/dev/null 2>&1 && [ -f abi/libzoq.abi ]; then
    # Allowed growth: added functions, and members appended to structs (size-
    # prefixed, abi/zoq.abignore). Anything removed or changed fails.
    set +e
    abidiff --suppressions abi/zoq.abignore --headers-dir2 include abi/libzoq.abi "$so" \
        > "$tmp/abidiff.txt"
    rc=$?
    set -e
    changed=$(sed -n 's/^\(Functions\|Variables\) changes summary: \([0-9]*\) Removed, \([0-9]*\) Changed.*/\2 \3/p' \
        "$tmp/abidiff.txt" | tr ' ' '\n' | grep -cv '^0$' || true)
    if [ $((rc & 11)) -ne 0 ] || [ "$changed" -ne 0 ]; then
        echo "ABI break against abi/libzoq.abi:"; cat "$tmp/abidiff.txt"; exit 1
    fi
fi
echo "abi ok: $count zoq_ symbols"
