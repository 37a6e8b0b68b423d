#!/bin/sh
# tests/pip_install.sh BUILD - the Python package is self-contained: in a new
# virtual environment (with Debian's numpy, setuptools and wheel through
# --system-site-packages, so nothing is downloaded), `pip install
# ./bindings/python` builds libzoq into the package (setup.py runs make lib),
# and so does the wheel of `make wheel`; each time `import zoq` from / must
# load the library inside the environment, with ZOQ_LIBRARY and PYTHONPATH
# unset, and train a parameter.
set -eu
BUILD=${1:-build}
SYS_PYTHON=${SYS_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$SYS_PYTHON" -m venv --system-site-packages "$tmp/venv"
py="$tmp/venv/bin/python"
check_import() {
    got=$(cd / && env -u ZOQ_LIBRARY -u PYTHONPATH "$py" -c '
import numpy as np, zoq
w = np.zeros(4, np.float32)
zoq.Optimizer({"w": w}, lr=0.1, seed=1).step(lambda: float(((w - 1) ** 2).sum()))
assert w.any(), "no step"
print(zoq.lib._name)')
    case $got in
        "$tmp/venv/"*/site-packages/zoq/libzoq.so.*) ;;
        *) echo "$1: zoq loaded $got, not the library inside the environment"; exit 1 ;;
    esac
}
"$py" -m pip install -q --no-build-isolation --no-index ./bindings/python
check_import "pip install ./bindings/python"
"$py" -m pip uninstall -q -y zoq
make -s wheel BUILD="$BUILD" SYS_PYTHON="$SYS_PYTHON" >/dev/null
"$py" -m pip install -q --no-index "$BUILD"/wheel/zoq-*.whl
check_import "make wheel"
echo "pip install ok"
