#!/usr/bin/env python3
"""Known-answer vectors for zoq's random numbers, written from docs/rng.md alone.

This is an independent implementation of the specification in docs/rng.md (tensor key,
Philox4x32-10, Rademacher, Gaussian Box-Muller with short fused polynomials in binary32). It was
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


# --- 4. Gaussian: stream seed, pair hash, FMA Box-Muller, one binary32 op at a time ------------
M64 = (1 << 64) - 1
GAMMA, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def stream_seed(key, step, query, stream):               # words 0, 1 of block 2^64 - 1
    w = block(key, step, query, stream, M64)
    return w[0] | w[1] << 32


def mix(x):                                              # SplitMix64's finalizer
    x ^= x >> 30; x = (x * MIX1) & M64                   # noqa: E702
    x ^= x >> 27; x = (x * MIX2) & M64                   # noqa: E702
    return x ^ (x >> 31)


def pair_hash(sigma, p):
    return mix(sigma ^ ((p * GAMMA) & M64))


def fma(a, b, c):
    """binary32 fma: a*b + c rounded once. a*b is exact in binary64; TwoSum gives the exact
    error of the binary64 sum, so only a sum landing exactly on a binary32 midpoint needs it."""
    assert type(a) is F32 and type(b) is F32 and type(c) is F32
    p, fc = float(a) * float(b), float(c)
    s = p + fc
    bp = s - fc
    err = (p - bp) + (fc - (s - bp))
    r = F32(s)
    if err != 0 and float(r) != s:
        other = np.nextafter(r, F32(math.copysign(math.inf, s - float(r))))
        if (float(r) + float(other)) / 2 == s:           # a tie only in binary64: err decides
            r = max(r, other) if err > 0 else min(r, other)
    return r


ONE, TWO = F32(1), F32(2)
SQRTH_BITS = 0x3F3504F3                                  # bits of sqrt(1/2) in binary32
LOG_L = [f32(s) for s in ("1.0000225e+00", "-6.664061e-01", "4.9810916e-01", "-4.082137e-01",
                          "3.7425667e-01", "-2.4548653e-01")]          # L1 .. L6
M2LN2 = f32("-1.3862944e+00")
SIN_S = [f32(s) for s in ("-1.6666664e-01", "8.332751e-03", "-1.9588259e-04")]   # S3, S5, S7
COS_C = [f32(s) for s in ("-4.9999982e-01", "4.1661434e-02", "-1.3661517e-03")]  # C2, C4, C6
PIO4F = f32("0.785398163397448310")
ANGLE = PIO4F * F32(2.0 ** -31)                          # exact: a power-of-two scaling


def i2f(n):
    """float(n) for an integer |n| <= 2^31, rounded to nearest even, as int -> binary32 does."""
    return f32(Fraction(n))


def RADIUS2(a):                                          # -2 ln u, u = float((a >> 1) | 1) 2^-31
    v = bits(i2f((a >> 1) | 1))
    i = (v - SQRTH_BITS) & M32
    e = (i >> 23) - 31
    x = from_bits((i & 0x7FFFFF) + SQRTH_BITS) - ONE
    p = LOG_L[5]
    for k in (4, 3, 2, 1, 0):
        p = fma(p, x, LOG_L[k])
    p = fma(p, x, -TWO)
    return fma(F32(e), M2LN2, x * p)


def SINCOS(t):                                           # t in [-pi/4, pi/4]
    z = t * t
    s = fma(fma(fma(SIN_S[2], z, SIN_S[1]), z, SIN_S[0]), t * z, t)
    c = fma(fma(fma(COS_C[2], z, COS_C[1]), z, COS_C[0]), z, ONE)
    return s, c


def box_muller(h):
    a, b = h & M32, h >> 32
    r = np.sqrt(RADIUS2(a))
    j = (b << 2) & M32
    j -= (j >> 31) << 32                                 # as a signed 32-bit integer
    s, c = SINCOS(i2f(j) * ANGLE)
    C, S = [(c, s), (-s, c), (-c, -s), (s, -c)][b >> 30]
    z1, z2 = r * C, r * S
    assert type(z1) is F32 and type(z2) is F32     # no double ever entered the computation
    return z1, z2


# --- 3 + 4. Elements [offset, offset + n) of a fill ----------------------------------------------
def noise(key, step, query, stream, dist, offset, n):
    out, cache = [], {}
    sigma = stream_seed(key, step, query, stream) if dist == 0 else None
    for i in range(offset, offset + n):
        if dist == 1:                                   # Rademacher: 128 elements per block
            w = block(key, step, query, stream, i // 128)[(i >> 5) & 3]
            out.append(F32(-1) if (w >> (i & 31)) & 1 else ONE)
        else:                                           # Gaussian: pair 16(i >> 5) + (i & 15)
            p = 16 * (i >> 5) + (i & 15)
            if p not in cache:
                cache[p] = box_muller(pair_hash(sigma, p))
            out.append(cache[p][(i >> 4) & 1])
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
    assert bits(RADIUS2(0xFFFFFFFF)) == bits(F32(-0.0))  # u = 1: -2 ln u = -0
    assert abs(float(RADIUS2(0)) - 62 * math.log(2)) < 1e-5   # u = 2^-31
    for n in (2, 3, 2 ** 24 + 1, 2 ** 31 - 1, -2 ** 31, 12345679):  # int -> binary32 rounding
        assert float(i2f(n)) == float(np.float32(np.int32(n) if n < 2 ** 31 else n))
    k = tensor_key(42, "layer.0.weight")
    z = [float(v) for v in noise(k, 0, 0, 0, 0, 0, 200000)]
    mean = sum(z) / len(z); var = sum((v - mean) ** 2 for v in z) / len(z)   # noqa: E702
    assert abs(mean) < 0.01 and abs(var - 1) < 0.02, ("Gaussian moments", mean, var)
    assert max(map(abs, z)) <= 6.56 and all(math.isfinite(v) for v in z)
    sigma = stream_seed(k, 0, 0, 0)
    for p in range(1000):                               # vs double-precision Box-Muller
        h = pair_hash(sigma, p)
        a, c = h & M32, h >> 32
        r = math.sqrt(-2 * math.log(float(i2f((a >> 1) | 1)) * 2.0 ** -31))
        j = ((c << 2) & M32) - (((c >> 29) & 1) << 32)
        th = (c >> 30) * math.pi / 2 + float(i2f(j)) * 2.0 ** -31 * math.pi / 4
        i = 32 * (p >> 4) + (p & 15)
        for got, ref in ((z[i], r * math.cos(th)), (z[i + 16], r * math.sin(th))):
            assert abs(got - ref) <= 2e-6 * max(abs(ref), r, 1e-3), (p, got, ref)
    for _ in range(20000):                              # fma: one rounding of the exact value
        a, b, c = (F32(rng.uniform(-1, 1) * 2.0 ** rng.randint(-30, 30)) for _ in range(3))
        exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        assert bits(fma(a, b, c)) == bits(f32(exact) if exact else a * b + c), (a, b, c)
    a, b = F32(1 + 2.0 ** -20), F32(2.0 ** -24 - 2.0 ** -44)   # a*b = 2^-24 - 2^-64
    c = F32(1 + 2.0 ** -23)                             # binary64 sum: the tie 1 + 2^-23 + 2^-24
    assert bits(fma(a, b, c)) == bits(c) != bits(F32(float(a) * float(b) + float(c)))
    rad = [float(v) for v in noise(k, 0, 0, 0, 1, 0, 20000)]
    assert set(rad) == {-1.0, 1.0} and abs(sum(rad)) / len(rad) < 0.03
    assert noise(k, 7, 5, 1, 0, 13, 9) == noise(k, 7, 5, 1, 0, 0, 22)[13:]   # slices


# --- The vectors ---------------------------------------------------------------------------------
SEEDS = [0, 42, 0xFFFFFFFFFFFFFFFF]
NAMES = ["w", "layer.0.weight", "model.layers.11.self_attn.q_proj.lora_A.weight", ""]
K1 = tensor_key(42, "layer.0.weight")
K2 = tensor_key(0xFFFFFFFFFFFFFFFF, "model.layers.11.self_attn.q_proj.lora_A.weight")
Q, S32 = (1 << 24) - 1, (1 << 32) + 3


def find_radius(key, shift, want):
    """The first element of stream (key, 0, 0, 0) whose pair has a >> shift == want (numpy)."""
    sigma, g = np.uint64(stream_seed(key, 0, 0, 0)), np.uint64(GAMMA)
    for start in range(0, 1 << 31, 1 << 22):
        x = np.arange(start, start + (1 << 22), dtype=np.uint64) * g ^ sigma
        x ^= x >> np.uint64(30); x *= np.uint64(MIX1)  # noqa: E702
        x ^= x >> np.uint64(27); x *= np.uint64(MIX2)  # noqa: E702
        x ^= x >> np.uint64(31)
        hit = np.nonzero(((x & np.uint64(M32)) >> np.uint64(shift)) == np.uint64(want))[0]
        if len(hit):
            p = start + int(hit[0])
            assert (pair_hash(int(sigma), p) & M32) >> shift == want
            return 32 * (p >> 4) + (p & 15)
    raise AssertionError("no such pair")


# a >= 2^32 - 128: float((a >> 1) | 1) rounds to 2^31, u = 1; a < 256: u <= 2^-24, |z| >= 5.77
U_ONE, U_MIN = find_radius(K1, 7, 0x1FFFFFF), find_radius(K1, 8, 0)

PHILOX_EXTRA = [((1, 0, 0, 0), (0, 0)), ((0, 0, 0, 1 << 24), (0x12345678, 0x9ABCDEF0)),
                ((0xFFFFFFFF, 1, 3, 0xFF000005), (K1 & M32, K1 >> 32))]


def noise_cases():
    cases = []                                 # (key, step, query, stream, dist, offset)
    for d in (0, 1):
        per_block = 32 if d == 0 else 128      # Gaussian: 32 elements (16 pairs) per chunk
        cases += [(K1, 0, 0, 0, d, 0), (K1, 7, 5, 1, d, 1), (K2, S32, Q, 255, d, 3),
                  (K2, 0, 5, 0, d, 126), (K1, 7, 0, 255, d, 1000003),
                  (K2, S32, Q, 1, d, (1 << 33) + 5),
                  (K1, 3, 5, 1, d, per_block * (1 << 32) + 5),     # hi32(block/chunk) = 1
                  (K2, 0, 0, 0, d, per_block * (1 << 32) - 8),     # lo32 wraps to hi32
                  (K1, 1, 2, 3, d, (1 << 64) - 17)]                # the last whole slice
    cases += [(K2, 3, Q, 255, 0, 3),           # == the step (1<<32)+3 vector: steps wrap
              (K1, 0, 0, 0, 0, U_ONE),         # u = 1: r = sqrt(-2 * +0) = -0, z is a signed 0
              (K1, 0, 0, 0, 0, U_MIN),         # u <= 2^-24: a radius of at least 5.77
              (tensor_key(0, ""), 0, 0, 0, 0, 0)]
    return cases


def generate():
    rows = [(c, k, philox(c, k)) for c, k in [(c, k) for c, k, _ in R123_KAT] + PHILOX_EXTRA]
    vec = {c: [bits(v) for v in noise(*c, 16)] for c in noise_cases()}
    assert vec[(K2, 3, Q, 255, 0, 3)] == vec[(K2, S32, Q, 255, 0, 3)]
    assert vec[(K1, 0, 0, 0, 0, U_ONE)][0] & 0x7FFFFFFF == 0
    assert all(bits(v) & 0x7FFFFFFF == 0 for v in noise(K1, 0, 0, 0, 0, U_ONE, 17)[::16])
    assert 5.77 < math.hypot(*map(float, noise(K1, 0, 0, 0, 0, U_MIN, 17)[::16])) < 6.56
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
