#!/bin/sh
# tests/install.sh BUILD - `make install` into a temporary PREFIX (a
# directory the dynamic loader does not search), then build the quadratic
# example against it through pkg-config alone and start it the three ways
# docs/getting-started.md gives (rpath, LD_LIBRARY_PATH; without either it
# must not find libzoq); the installed files must be the same list whatever
# was built before (libzoq-cuda.so exactly where nvcc is, libzoq-mpi exactly
# where mpicc is); then
# `make uninstall` must remove everything it installed, include/zoq/ too.
set -eu
BUILD=${1:-build}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install PREFIX="$tmp/usr" BUILD="$BUILD" >/dev/null
export PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig"
want=$(awk '/define ZOQ_VERSION_(MAJOR|MINOR|PATCH) /{v = v (v == "" ? "" : ".") $3} END{print v}' \
    include/zoq/core.h)
got=$(pkg-config --modversion zoq)
[ "$got" = "$want" ] || { echo "zoq.pc says $got, zoq.h $want"; exit 1; }
files=$(cd "$tmp/usr" && find . -type f -o -type l | sort)
cuda=$(command -v nvcc >/dev/null 2>&1 && echo ./lib/libzoq-cuda.so || true)
# the MPI add-on (lib/mpi/mpi.mk) exactly where mpicc is
mpi=$(command -v mpicc >/dev/null 2>&1 && printf '%s ' ./include/zoq_mpi.h ./lib/libzoq-mpi.so \
    ./lib/libzoq-mpi.so.0 "./lib/libzoq-mpi.so.$want" ./lib/pkgconfig/zoq-mpi.pc || true)
# the umbrella header and its parts, include/zoq/*.h
parts=$(cd include && find zoq -name '*.h' | sed 's|^|./include/|')
# shellcheck disable=SC2086
expect=$(printf '%s\n' ./include/zoq.h $parts ./lib/libzoq.a ./lib/libzoq.so ./lib/libzoq.so.0 \
    "./lib/libzoq.so.$want" ./lib/pkgconfig/zoq.pc $cuda $mpi | sort)
[ "$files" = "$expect" ] || { printf 'installed:\n%s\nexpected:\n%s\n' "$files" "$expect"; exit 1; }
# shellcheck disable=SC2046
$CC -std=c11 examples/quadratic.c -o "$tmp/plain" $(pkg-config --cflags --libs zoq)
# shellcheck disable=SC2046
$CC -std=c11 examples/quadratic.c -o "$tmp/rpath" $(pkg-config --cflags --libs zoq) \
    -Wl,-rpath,"$(pkg-config --variable=libdir zoq)"
"$tmp/rpath" >/dev/null
LD_LIBRARY_PATH="$tmp/usr/lib" "$tmp/plain" >/dev/null
if ! ldconfig -p 2>/dev/null | grep -q 'libzoq\.so\.0 '; then
    if "$tmp/plain" >/dev/null 2>&1; then
        echo "a program without rpath started although $tmp/usr/lib is on no search path"
        exit 1
    fi
fi
make -s uninstall PREFIX="$tmp/usr" >/dev/null
left=$(find "$tmp/usr" -type f -o -type l; find "$tmp/usr/include" -mindepth 1 -type d)
[ -z "$left" ] || { echo "uninstall left: $left"; exit 1; }
echo "install ok"
