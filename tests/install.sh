#!/bin/sh
# tests/install.sh BUILD - `make install` into a temporary PREFIX, then build
# and run the quadratic example against it through pkg-config alone; then
# `make uninstall` must remove everything it installed.
set -eu
BUILD=${1:-build}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install PREFIX="$tmp/usr" BUILD="$BUILD" >/dev/null
export PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig"
want=$(awk '/define ZOQ_VERSION_(MAJOR|MINOR|PATCH) /{v = v (v == "" ? "" : ".") $3} END{print v}' \
    include/zoq.h)
got=$(pkg-config --modversion zoq)
[ "$got" = "$want" ] || { echo "zoq.pc says $got, zoq.h $want"; exit 1; }
# shellcheck disable=SC2046
$CC -std=c11 examples/quadratic.c -o "$tmp/quadratic" $(pkg-config --cflags --libs zoq) \
    -Wl,-rpath,"$tmp/usr/lib"
"$tmp/quadratic" >/dev/null
test -L "$tmp/usr/lib/libzoq.so.0" && test -f "$tmp/usr/include/zoq.h"
make -s uninstall PREFIX="$tmp/usr" >/dev/null
left=$(find "$tmp/usr" -type f -o -type l)
[ -z "$left" ] || { echo "uninstall left: $left"; exit 1; }
echo "install ok"
