#!/bin/sh
# tests/mpi/abi.sh BUILD - libzoq-mpi exports only zoq_mpi_* under its own
# version node ZOQ_MPI_0.1, libzoq does not link MPI, and (not under
# SANITIZE) `make install` gives a pkg-config zoq-mpi that builds and runs a
# program on 2 ranks; `make uninstall` removes it again.
set -eu
BUILD=${1:-build}
so=$(ls "$BUILD"/libzoq-mpi.so.*.*.* | head -n 1)
bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^zoq_mpi_[a-z0-9_]*@@ZOQ_MPI_0\.1$' |
      grep -v '^ZOQ_MPI_0\.1$' || true)
[ -z "$bad" ] || { echo "libzoq-mpi exports outside zoq_mpi_*/ZOQ_MPI_0.1:"; echo "$bad"; exit 1; }
readelf -d "$so" | grep -q 'SONAME.*libzoq-mpi.so.0' || { echo "libzoq-mpi: SONAME missing"; exit 1; }
if readelf -d "$BUILD"/libzoq.so.*.*.* | grep NEEDED | grep -qi mpi; then
    echo "libzoq links MPI"; exit 1
fi
[ -n "${SAN:-}" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install PREFIX="$tmp/usr" BUILD="$BUILD" >/dev/null
export PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig"
cat > "$tmp/use.c" <<'C'
#include <stdio.h>
#include <zoq_mpi.h>
int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    zoq_mpi *m = NULL;
    int32_t rank, size;
    int rc = zoq_mpi_create(MPI_COMM_WORLD, NULL, &m);
    if (rc == ZOQ_OK)
        rc = zoq_mpi_grid(m, &rank, NULL, NULL, &size, NULL);
    if (rc == ZOQ_OK && rank == 0)
        printf("zoq-mpi %s on %d ranks\n", zoq_version(), (int)size);
    zoq_mpi_destroy(m);
    MPI_Finalize();
    return rc == ZOQ_OK ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror "$tmp/use.c" -o "$tmp/use" $(pkg-config --cflags --libs zoq-mpi) \
    -Wl,-rpath,"$tmp/usr/lib"
mpirun --oversubscribe -np 2 "$tmp/use" </dev/null | grep -q "on 2 ranks"
make -s uninstall PREFIX="$tmp/usr" >/dev/null
left=$(find "$tmp/usr" -type f -o -type l)
[ -z "$left" ] || { echo "uninstall left: $left"; exit 1; }
