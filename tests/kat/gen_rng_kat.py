#!/usr/bin/env python3
"""Known-answer vectors for zoq's random numbers, written from docs/rng.md alone.

This is an independent implementation of the specification in docs/rng.md (tensor key,
Philox4x32-10, Rademacher, Gaussian Box-Muller with Cephes LOG/SINCOS in binary32). It was
written without looking at the C implementation, so agreement between the two is evidence that
both follow the text. Every Gaussian intermediate is a numpy.float32 scalar, so each + - * / and
sqrt is one correctly rounded binary32 operation, evaluated in the order the spec writes.

    python3 tests/kat/gen_rng_kat.py           rewrite tests/kat/rng_vectors.h
    python3 tests/kat/gen_rng_kat.py --check   exit 1 if the committed header is stale

Needs: numpy, xxhash (pip install numpy xxhash).
"""
import math
import os
import random
import sys
from fractions import Fraction

import numpy as np
import xxhash

F32 = np.float32
M32 = 0xFFFFFFFF
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rng_vectors.h")


def f32(v):
    """Round a decimal string or Fraction to the nearest normal binary32, ties to even, as a C
    compiler rounds an `f` literal (no double rounding through a Python float)."""
    v = Fraction(v)
    if v == 0:
        return F32(0)
    e = abs(v).numerator.bit_length() - abs(v).denominator.bit_length()
    e -= abs(v) < Fraction(2) ** e                     # now 2^e <= |v| < 2^(e+1)
    q, r = divmod(abs(v) * Fraction(2) ** (23 - e), 1)          # q in [2^23, 2^24)
    q += r > Fraction(1, 2) or (r == Fraction(1, 2) and q & 1)
    exact = (1 if v > 0 else -1) * q * Fraction(2) ** (e - 23)
    assert Fraction(float(F32(float(exact)))) == exact
    return F32(float(exact))


def bits(x):
    return int(np.asarray(x, dtype=np.float32).view(np.uint32))


def from_bits(w):
    return np.uint32(w).view(np.float32)


# --- 1. Tensor key ------------------------------------------------------------------------------
def tensor_key(seed, name):
    return xxhash.xxh3_64_intdigest(name.encode(), seed=seed)


# --- 2. Philox4x32-10 ---------------------------------------------------------------------------
def philox(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for rnd in range(10):
        if rnd:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & M32, (p0 >> 32) ^ c3 ^ k1, p0 & M32
    return (c0, c1, c2, c3)


def block(key, step, query, stream, b):
    assert query < 1 << 24 and stream < 256
    ctr = (b & M32, (b >> 32) & M32, step & M32, query | stream << 24)
    return philox(ctr, (key & M32, key >> 32))


# --- 4. Gaussian: Cephes LOG / SINCOS and Box-Muller, one binary32 op at a time ----------------
ONE, HALF, TWO_M24, SQRTHF = F32(1), F32(0.5), F32(2.0 ** -24), f32("0.707106781186547524")
LOG_P = [f32(s) for s in ("7.0376836292e-2", "-1.1514610310e-1", "1.1676998740e-1",
                          "-1.2420140846e-1", "1.4249322787e-1", "-1.6668057665e-1",
                          "2.0000714765e-1", "-2.4999993993e-1", "3.3333331174e-1")]
LOG_Q1, LOG_Q2 = f32("-2.12194440e-4"), f32("0.693359375")
SIN_P = [f32(s) for s in ("-1.9515295891e-4", "8.3321608736e-3", "-1.6666654611e-1")]
COS_P = [f32(s) for s in ("2.443315711809948e-5", "-1.388731625493765e-3",
                          "4.166664568298827e-2")]
PIO4F = f32("0.785398163397448310")


def LOG(u):                                             # Cephes logf, line by line as in the spec
    bu = bits(u)
    e = ((bu >> 23) & 0xFF) - 126
    m = from_bits((bu & 0x7FFFFF) | 0x3F000000)
    if m < SQRTHF:
        e = e - 1; x = m + m; x = x - ONE               # noqa: E702
    else:
        x = m - ONE
    z = x * x
    p = LOG_P[0]
    for k in LOG_P[1:]:
        p = p * x + k                                   # product rounded, then sum rounded
    y = x * z; y = y * p                                # noqa: E702
    f = F32(e)
    y = y + f * LOG_Q1
    y = y - HALF * z
    x = x + y
    x = x + f * LOG_Q2
    return x


def SINCOS(t):                                          # Cephes sinf/cosf polynomials on [0, pi/4]
    z = t * t
    ps = SIN_P[0]
    for k in SIN_P[1:]:
        ps = ps * z + k
    ps = ps * z; ps = ps * t; s = ps + t                # noqa: E702
    pc = COS_P[0]
    for k in COS_P[1:]:
        pc = pc * z + k
    pc = pc * z; pc = pc * z; pc = pc - HALF * z; c = pc + ONE   # noqa: E702
    return s, c


def box_muller(a, b):
    u = F32((a >> 8) + 1) * TWO_M24
    r = np.sqrt(F32(-2) * LOG(u))
    o = b >> 29
    x = F32((b >> 5) & 0xFFFFFF) * TWO_M24
    if o & 1:
        x = ONE - x
    s, c = SINCOS(x * PIO4F)
    if o & 1:
        s, c = c, s
    C, S = [(c, s), (-s, c), (-c, -s), (s, -c)][o >> 1]
    z1, z2 = r * C, r * S
    assert type(z1) is F32 and type(z2) is F32     # no double ever entered the computation
    return z1, z2


# --- 3 + 4. Elements [offset, offset + n) of a fill ----------------------------------------------
def noise(key, step, query, stream, dist, offset, n):
    out, cache = [], {}
    for i in range(offset, offset + n):
        if dist == 1:                                   # Rademacher: 128 elements per block
            w = block(key, step, query, stream, i // 128)[(i >> 5) & 3]
            out.append(F32(-1) if (w >> (i & 31)) & 1 else ONE)
        else:                                           # Gaussian: 4 elements per block
            b = i // 4
            if b not in cache:
                w = block(key, step, query, stream, b)
                cache[b] = box_muller(w[0], w[1]) + box_muller(w[2], w[3])
            out.append(cache[b][i % 4])
    return out


# --- Self-checks: fail loudly before writing anything --------------------------------------------
R123_KAT = [  # Random123 tests/kat_vectors, "philox4x32 10" lines: counter, key, expected
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32,) * 4, (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]


def self_check():
    for ctr, key, want in R123_KAT:
        assert philox(ctr, key) == want, ("Philox4x32-10 KAT failed", ctr, key)
    assert tensor_key(0, "") == 0x2D06800538D394C2, "XXH3-64 of empty input, seed 0"
    rng = random.Random(1)
    for _ in range(2000):                               # numpy float32 scalars round correctly
        a, b = (F32(rng.uniform(-1, 1) * 2.0 ** rng.randint(-8, 8)) for _ in range(2))
        fa, fb = Fraction(float(a)), Fraction(float(b))
        assert bits(a * b) == bits(f32(fa * fb)) and bits(a + b) == bits(f32(fa + fb))
        assert bits(a - b) == bits(f32(fa - fb))
        q = Fraction(float(np.sqrt(abs(a))))
        ulp = Fraction(2) ** (math.frexp(float(q))[1] - 24)
        assert (q - ulp / 2) ** 2 < abs(fa) < (q + ulp / 2) ** 2, "sqrt not correctly rounded"
    assert bits(LOG(ONE)) == 0 and abs(float(LOG(TWO_M24)) + 24 * math.log(2)) < 1e-5
    k = tensor_key(42, "layer.0.weight")
    z = [float(v) for v in noise(k, 0, 0, 0, 0, 0, 200000)]
    mean = sum(z) / len(z); var = sum((v - mean) ** 2 for v in z) / len(z)   # noqa: E702
    assert abs(mean) < 0.01 and abs(var - 1) < 0.02, ("Gaussian moments", mean, var)
    assert max(map(abs, z)) <= 5.78 and all(math.isfinite(v) for v in z)
    for b in range(500):                                # vs double-precision Box-Muller
        w = block(k, 0, 0, 0, b)
        for j, (a, c) in enumerate(((w[0], w[1]), (w[2], w[3]))):
            r = math.sqrt(-2 * math.log(((a >> 8) + 1) * 2.0 ** -24))
            th = ((c >> 29) + ((c >> 5) & 0xFFFFFF) * 2.0 ** -24) * math.pi / 4
            for got, ref in zip(z[4 * b + 2 * j: 4 * b + 2 * j + 2],
                                (r * math.cos(th), r * math.sin(th))):
                assert abs(got - ref) <= 1e-6 * max(abs(ref), r, 1e-3), (b, got, ref)
    rad = [float(v) for v in noise(k, 0, 0, 0, 1, 0, 20000)]
    assert set(rad) == {-1.0, 1.0} and abs(sum(rad)) / len(rad) < 0.03
    assert noise(k, 7, 5, 1, 0, 13, 9) == noise(k, 7, 5, 1, 0, 0, 22)[13:]   # slices


# --- The vectors ---------------------------------------------------------------------------------
SEEDS = [0, 42, 0xFFFFFFFFFFFFFFFF]
NAMES = ["w", "layer.0.weight", "model.layers.11.self_attn.q_proj.lora_A.weight", ""]
K1 = tensor_key(42, "layer.0.weight")
K2 = tensor_key(0xFFFFFFFFFFFFFFFF, "model.layers.11.self_attn.q_proj.lora_A.weight")
Q, S32 = (1 << 24) - 1, (1 << 32) + 3
U_ONE, U_MIN = 4 * 2595524, 4 * 1221715    # K1/0/0/0 Gaussian: a>>8 == 0xFFFFFF resp. 0

PHILOX_EXTRA = [((1, 0, 0, 0), (0, 0)), ((0, 0, 0, 1 << 24), (0x12345678, 0x9ABCDEF0)),
                ((0xFFFFFFFF, 1, 3, 0xFF000005), (K1 & M32, K1 >> 32))]


def noise_cases():
    cases = []                                 # (key, step, query, stream, dist, offset)
    for d in (0, 1):
        per_block = 4 if d == 0 else 128
        cases += [(K1, 0, 0, 0, d, 0), (K1, 7, 5, 1, d, 1), (K2, S32, Q, 255, d, 3),
                  (K2, 0, 5, 0, d, 126), (K1, 7, 0, 255, d, 1000003),
                  (K2, S32, Q, 1, d, (1 << 33) + 5),
                  (K1, 3, 5, 1, d, per_block * (1 << 32) + 5),     # hi32(block) = 1
                  (K2, 0, 0, 0, d, per_block * (1 << 32) - 8)]     # block lo32 wraps to hi32
    cases += [(K2, 3, Q, 255, 0, 3),           # == the step (1<<32)+3 vector: steps wrap
              (K1, 0, 0, 0, 0, U_ONE),         # u = 1: r = sqrt(-2 * +0) = -0, z is a signed 0
              (K1, 0, 0, 0, 0, U_MIN),         # u = 2^-24: largest radius, |z| <= 5.77
              (tensor_key(0, ""), 0, 0, 0, 0, 0)]
    return cases


def generate():
    rows = [(c, k, philox(c, k)) for c, k in [(c, k) for c, k, _ in R123_KAT] + PHILOX_EXTRA]
    vec = {c: [bits(v) for v in noise(*c, 16)] for c in noise_cases()}
    assert vec[(K2, 3, Q, 255, 0, 3)] == vec[(K2, S32, Q, 255, 0, 3)]
    assert all(b & 0x7FFFFFFF == 0 for b in vec[(K1, 0, 0, 0, 0, U_ONE)][:2])
    assert 5.76 < math.hypot(*map(float, map(from_bits, vec[(K1, 0, 0, 0, 0, U_MIN)][:2]))) < 5.78
    def h(v):
        return "0x%08Xu" % v
    L = ["/* Generated by tests/kat/gen_rng_kat.py from docs/rng.md -- DO NOT EDIT.",
         " * Regenerate: python3 tests/kat/gen_rng_kat.py   (check: --check) */",
         "#ifndef ZOQ_TESTS_KAT_RNG_VECTORS_H", "#define ZOQ_TESTS_KAT_RNG_VECTORS_H", "",
         "#include <stdint.h>", "",
         "typedef struct { uint32_t ctr[4]; uint32_t key[2]; uint32_t out[4]; } kat_philox_t;",
         "/* First three: Random123 tests/kat_vectors, philox4x32 10. */",
         "static const kat_philox_t kat_philox[] = {"]
    for c, k, o in rows:
        L.append("    {{%s}, {%s}, {%s}}," % tuple(", ".join(map(h, x)) for x in (c, k, o)))
    L += ["};", "",
          "typedef struct { uint64_t seed; const char *name; uint64_t key; } kat_key_t;",
          "static const kat_key_t kat_key[] = {"]
    for s in SEEDS:
        for n in NAMES:
            L.append('    {0x%016Xull, "%s", 0x%016Xull},' % (s, n, tensor_key(s, n)))
    L += ["};", "",
          "/* dist: 0 = Gaussian, 1 = Rademacher; bits = binary32 patterns of z[offset..+16). */",
          "typedef struct { uint64_t key; uint64_t step; uint32_t query; uint32_t stream; "
          "int dist; uint64_t offset; uint32_t bits[16]; } kat_noise_t;",
          "static const kat_noise_t kat_noise[] = {"]
    for case, b in vec.items():
        L.append("    {0x%016Xull, 0x%Xull, 0x%Xu, 0x%Xu, %d, 0x%Xull," % case)
        L.append("     {" + ", ".join(map(h, b[:8])) + ",")
        L.append("      " + ", ".join(map(h, b[8:])) + "}},")
    L += ["};", "", "#endif /* ZOQ_TESTS_KAT_RNG_VECTORS_H */", ""]
    return "\n".join(L)


def main():
    self_check()
    text = generate()
    if "--check" in sys.argv[1:]:
        old = open(OUT).read() if os.path.exists(OUT) else ""
        if old != text:
            sys.exit("tests/kat/rng_vectors.h is stale: run python3 tests/kat/gen_rng_kat.py")
        print("tests/kat/rng_vectors.h is up to date")
    else:
        with open(OUT, "w") as f:
            f.write(text)
        print("wrote", OUT)


if __name__ == "__main__":
    main()
