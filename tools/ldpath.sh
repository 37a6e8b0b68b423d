#!/bin/sh
# tools/ldpath.sh LIBDIR - run by `make install` (without DESTDIR): makes the
# freshly installed libzoq.so.0 findable by the dynamic loader where that is
# the system's job, and says what to do where it is not.
#  - LIBDIR is one of the loader's configured directories (/etc/ld.so.conf):
#    as root, refresh the loader's cache (ldconfig); otherwise say to.
#  - any other LIBDIR: programs need -Wl,-rpath,LIBDIR or LD_LIBRARY_PATH.
set -u
libdir=$1
if command -v ldconfig >/dev/null 2>&1 &&
    ldconfig -Nv 2>/dev/null | grep -q "^$libdir: "; then
    if [ "$(id -u)" -eq 0 ]; then
        ldconfig
    else
        echo "install: run 'sudo ldconfig' so that programs find $libdir/libzoq.so.0"
    fi
else
    echo "install: $libdir is not on the loader's path: link programs with" \
         "-Wl,-rpath,$libdir or run them with LD_LIBRARY_PATH=$libdir" \
         "(docs/getting-started.md)"
fi
