#!/bin/sh
# tests/cuda/ptx.sh PTX - the CUDA kernels keep the noise spec's arithmetic
# (docs/rng.md): every binary32 add, sub and mul is its own round-to-nearest
# operation (.rn, which ptxas never fuses), nothing is an FMA, division and
# square root are the IEEE ones, nothing flushes subnormals, and no
# approximate instruction appears. Fails, listing the lines, otherwise.
set -eu
ptx=$1
if grep -nE '(fma|mad)(\.[a-z]+)*\.f32|(mul|add|sub)(\.sat)?\.f32|\.ftz\.|\.approx\.|\.full\.f32|(ex2|lg2|sin|cos|rsqrt|rcp)\.' "$ptx"; then
    echo "$ptx: fused, unrounded, flushed or approximate float operations (above)"
    exit 1
fi
[ "$(grep -c 'mul\.rn\.f32' "$ptx")" -gt 0 ] || { echo "$ptx: no kernel arithmetic found"; exit 1; }
echo "$ptx: $(grep -cE '\.rn\.f32' "$ptx") binary32 operations, all single IEEE round-to-nearest"
