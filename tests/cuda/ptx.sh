#!/bin/sh
# tests/cuda/ptx.sh PTX - the CUDA kernels keep the noise spec's arithmetic
# (docs/rng.md): every binary32 add, sub and mul is its own round-to-nearest
# operation (.rn, which ptxas never fuses), the only fused operations are the
# spec's fma (fma.rn.f32, 13 per inlined Box-Muller pair in gauss.h: a count
# that is not a multiple of 13 means the compiler fused something of its
# own), division and square root are the IEEE ones, nothing flushes
# subnormals, and no approximate instruction appears. Fails, listing the
# lines, otherwise.
set -eu
ptx=$1
if grep -nE 'mad(\.[a-z]+)*\.f32|fma\.r[zmp]\.f32|(mul|add|sub)(\.sat)?\.f32|\.ftz\.|\.approx\.|\.full\.f32|(ex2|lg2|sin|cos|rsqrt|rcp)\.' "$ptx"; then
    echo "$ptx: fused, unrounded, flushed or approximate float operations (above)"
    exit 1
fi
[ "$(grep -c 'mul\.rn\.f32' "$ptx")" -gt 0 ] || { echo "$ptx: no kernel arithmetic found"; exit 1; }
fma=$(grep -c 'fma\.rn\.f32' "$ptx" || true)
if [ "$fma" -eq 0 ] || [ $((fma % 13)) -ne 0 ]; then
    echo "$ptx: $fma fma.rn.f32, not a positive multiple of the spec's 13 per Box-Muller pair"
    exit 1
fi
echo "$ptx: $(grep -cE '\.rn\.f32' "$ptx") binary32 operations, all single IEEE round-to-nearest" \
    "($fma of them the spec's fma, $((fma / 13)) inlined Box-Muller pairs)"
