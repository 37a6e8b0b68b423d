#!/bin/sh
# tools/deps.sh - installs what zoq's build and tests need on Debian/Ubuntu:
# Debian packages through apt-get (as root; otherwise prints the command)
# and the Python packages of tests/requirements.txt through pip.
set -u
DEBS="gcc g++ make pkg-config libopenblas-dev libxxhash-dev libcriterion-dev zlib1g-dev valgrind \
abigail-tools python3 python3-pip python3-numpy python3-pytest python3-torch python3-matplotlib \
python3-sklearn cmake unzip"
missing=""
for p in $DEBS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# A python3 with pip on PATH (e.g. pyenv) installs tests/requirements.txt as
# well as Debian's would. Debian's python3 itself stays: the bindings' tests
# and the demo run on it with its python3-numpy, -pytest, -torch, -matplotlib;
# python3-sklearn ships the UCI digits file the demo, benches and examples read.
if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    missing=$(echo "$missing" | sed 's/ python3-pip//')
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "deps: apt-get install$missing"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing ||
            { echo "deps: apt-get failed"; exit 1; }
    else
        echo "deps: missing Debian packages; run as root:"
        echo "  sudo apt-get install -y$missing"
        exit 1
    fi
else
    echo "deps: Debian packages present"
fi
if ! python3 -c 'import numpy, xxhash, scipy, mpmath, safetensors, yaml' >/dev/null 2>&1; then
    echo "deps: pip install -r tests/requirements.txt"
    python3 -m pip install -q -r tests/requirements.txt 2>/dev/null ||
        python3 -m pip install -q --break-system-packages -r tests/requirements.txt ||
        { echo "deps: pip failed; run: python3 -m pip install -r tests/requirements.txt"; exit 1; }
else
    echo "deps: Python packages present"
fi
