#!/bin/sh
# tools/deps.sh - installs what zoq's build and tests need on Debian/Ubuntu:
# Debian packages through apt-get (as root; otherwise prints the command),
# the Python packages of tests/requirements.txt through pip, and PEFT for
# Debian's python3 (SYS_PYTHON) where it installs.
set -u
DEBS="gcc g++ clang make pkg-config libopenblas-dev libxxhash-dev libcriterion-dev zlib1g-dev valgrind \
libopenmpi-dev openmpi-bin python3-mpi4py \
abigail-tools python3 python3-pip python3-venv python3-setuptools python3-wheel python3-numpy \
python3-pytest python3-torch python3-matplotlib python3-sklearn cmake unzip dieharder"
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
# The PEFT round trip (tests/peft_roundtrip.py in make check) runs on Debian's
# python3 with its python3-torch 1.13: releases pinned that still take that
# torch, and peft without its dependencies, since it asks for torch >= 1.13.0,
# which 1.13.0a0 is not (pip would fetch another torch). jinja2: PEFT's
# save_pretrained writes a model card. If this fails, that check skips.
SYS_PYTHON=${SYS_PYTHON:-/usr/bin/python3}
PEFT_PINS="transformers==4.46.3 accelerate==0.34.2 jinja2"
sys_pip() {
    $SYS_PYTHON -m pip install -q "$@" 2>/dev/null ||
        $SYS_PYTHON -m pip install -q --break-system-packages "$@"
}
if ! $SYS_PYTHON -c 'import peft, transformers, jinja2' >/dev/null 2>&1; then
    echo "deps: pip install $PEFT_PINS, then peft==0.21.2 --no-deps, for $SYS_PYTHON"
    { sys_pip $PEFT_PINS && sys_pip --no-deps peft==0.21.2; } ||
        echo "deps: PEFT did not install; make check will skip the PEFT round trip"
else
    echo "deps: PEFT present for $SYS_PYTHON"
fi
