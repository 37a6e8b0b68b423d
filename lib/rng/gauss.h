/* gauss.h - the Gaussian stream of docs/rng.md section 4 (contract 3): a
 * 64-bit seed per stream, a SplitMix64-finalizer hash per pair of draws, and
 * the Box-Muller transform with short fused polynomials. Shared by the scalar
 * reference (noise.c) and the CUDA kernels (ZOQ__HD). Each written float
 * operation is one IEEE binary32 operation and each fmaf one fused operation:
 * C builds use -ffp-contract=off, nvcc builds -fmad=false (explicit fmaf is
 * still fused there), neither fast-math. */
#ifndef ZOQ_RNG_GAUSS_H
#define ZOQ_RNG_GAUSS_H

#include <math.h>
#include <stdint.h>

#include "core/bits.h"
#include "core/hd.h"
#include "philox.h"

#define ZOQ__GAUSS_GAMMA 0x9E3779B97F4A7C15ull /* 2^64 / golden ratio, odd */
#define ZOQ__GAUSS_MIX1 0xBF58476D1CE4E5B9ull  /* SplitMix64's finalizer multipliers */
#define ZOQ__GAUSS_MIX2 0x94D049BB133111EBull
#define ZOQ__GAUSS_CHUNK 32                    /* elements per chunk: 16 pairs */

/* The stream's 64-bit seed: words 0 and 1 of Philox block 2^64 - 1, a block
 * no other distribution reads (docs/rng.md 4). */
static inline ZOQ__HD uint64_t zoq__gauss_seed(uint64_t key, uint64_t step, uint32_t query,
                                               uint32_t stream)
{
    const uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    const uint32_t c[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, (uint32_t)step, query | (stream << 24)};
    uint32_t w[4];
    zoq__philox4x32_10(c, k, w);
    return (uint64_t)w[0] | (uint64_t)w[1] << 32;
}

/* The 64 bits of pair p: SplitMix64's finalizer of seed ^ (p * gamma). */
static inline ZOQ__HD uint64_t zoq__gauss_hash(uint64_t seed, uint64_t p)
{
    uint64_t x = seed ^ (p * ZOQ__GAUSS_GAMMA);
    x ^= x >> 30;
    x *= ZOQ__GAUSS_MIX1;
    x ^= x >> 27;
    x *= ZOQ__GAUSS_MIX2;
    return x ^ (x >> 31);
}

/* The pair of element i and which of its two draws i is (docs/rng.md 4):
 * chunk i / 32 holds pairs 16 (i / 32) + 0..15, first draws then second. */
static inline ZOQ__HD uint64_t zoq__gauss_pair(uint64_t i)
{
    return 16u * (i >> 5) + (i & 15u);
}

/* The transform's constants (docs/rng.md 4; fitted by tools/rng_poly.py). */
#define ZOQ__GAUSS_SQRTH_BITS 0x3F3504F3u /* bits of sqrt(1/2) in binary32 */
#define ZOQ__GAUSS_L1 1.0000225e+00f       /* -2 ln(1 + x) / x = -2 + L1 x + ... + L6 x^6 */
#define ZOQ__GAUSS_L2 -6.664061e-01f
#define ZOQ__GAUSS_L3 4.9810916e-01f
#define ZOQ__GAUSS_L4 -4.082137e-01f
#define ZOQ__GAUSS_L5 3.7425667e-01f
#define ZOQ__GAUSS_L6 -2.4548653e-01f
#define ZOQ__GAUSS_M2LN2 -1.3862944e+00f /* -2 ln 2 */
#define ZOQ__GAUSS_S3 -1.6666664e-01f   /* sin t = t + t z (S3 + z (S5 + z S7)) */
#define ZOQ__GAUSS_S5 8.332751e-03f
#define ZOQ__GAUSS_S7 -1.9588259e-04f
#define ZOQ__GAUSS_C2 -4.9999982e-01f /* cos t = 1 + z (C2 + z (C4 + z C6)) */
#define ZOQ__GAUSS_C4 4.1661434e-02f
#define ZOQ__GAUSS_C6 -1.3661517e-03f
/* pi/4 (binary32) times 2^-31, exact */
#define ZOQ__GAUSS_ANGLE (0.785398163397448310f * 4.656612873077392578125e-10f)

/* The squared radius -2 ln u of u = float((a >> 1) | 1) 2^-31 in (0, 1]:
 * u = m 2^e with m in [sqrt(1/2), sqrt 2) by one integer subtraction, then
 * a degree-7 polynomial in x = m - 1 (exact) for -2 ln m. */
static inline ZOQ__HD float zoq__gauss_radius2(uint32_t a)
{
    const uint32_t v = zoq__f32_bits((float)(int32_t)((a >> 1) | 1u)); /* [1, 2^31] */
    const uint32_t i = v - ZOQ__GAUSS_SQRTH_BITS;
    const int e = (int)(i >> 23) - 31; /* in [-31, 0] */
    const float x = zoq__f32_from_bits((i & 0x007FFFFFu) + ZOQ__GAUSS_SQRTH_BITS) - 1.0f;
    float p = ZOQ__GAUSS_L6;
    p = fmaf(p, x, ZOQ__GAUSS_L5);
    p = fmaf(p, x, ZOQ__GAUSS_L4);
    p = fmaf(p, x, ZOQ__GAUSS_L3);
    p = fmaf(p, x, ZOQ__GAUSS_L2);
    p = fmaf(p, x, ZOQ__GAUSS_L1);
    p = fmaf(p, x, -2.0f);
    return fmaf((float)e, ZOQ__GAUSS_M2LN2, x * p);
}

/* sin and cos of t in [-pi/4, pi/4] (odd and even polynomials, fused). */
static inline ZOQ__HD void zoq__gauss_sincos(float t, float *s, float *c)
{
    const float z = t * t;
    *s = fmaf(fmaf(fmaf(ZOQ__GAUSS_S7, z, ZOQ__GAUSS_S5), z, ZOQ__GAUSS_S3), t * z, t);
    *c = fmaf(fmaf(fmaf(ZOQ__GAUSS_C6, z, ZOQ__GAUSS_C4), z, ZOQ__GAUSS_C2), z, 1.0f);
}

/* Box-Muller of one pair's 64 bits h: radius from a = lo32(h), angle from
 * b = hi32(h): quadrant b >> 30 and t = (b << 2 as int32) pi/4 2^-31 in
 * [-pi/4, pi/4]. Branch-free: the quadrant is random, so branches would
 * mispredict; the quadrant's swap selects bits and its negations flip the
 * sign bit (of the radius, which gives the same product bits). */
static inline ZOQ__HD void zoq__box_muller(uint64_t h, float *z0, float *z1)
{
    const uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32);
    const float r = sqrtf(zoq__gauss_radius2(a));
    float s, c;
    zoq__gauss_sincos((float)(int32_t)(b << 2) * ZOQ__GAUSS_ANGLE, &s, &c);
    /* quadrant q: (C, S) = (c, s), (-s, c), (-c, -s), (s, -c) for q = 0..3 */
    const uint32_t swap = 0u - ((b >> 30) & 1u);
    const uint32_t sb = zoq__f32_bits(s), cb = zoq__f32_bits(c), rb = zoq__f32_bits(r);
    const uint32_t cs = (sb & swap) | (cb & ~swap), sn = (cb & swap) | (sb & ~swap);
    *z0 = zoq__f32_from_bits(rb ^ ((b ^ (b << 1)) & 0x80000000u)) * zoq__f32_from_bits(cs);
    *z1 = zoq__f32_from_bits(rb ^ (b & 0x80000000u)) * zoq__f32_from_bits(sn);
}

/* z[i] of the Gaussian stream with this seed, alone (the CUDA kernels'
 * element-wise form; the fills make both draws of a pair at once). */
static inline ZOQ__HD float zoq__gauss_at(uint64_t seed, uint64_t i)
{
    float z0, z1;
    zoq__box_muller(zoq__gauss_hash(seed, zoq__gauss_pair(i)), &z0, &z1);
    return (i & 16u) ? z1 : z0;
}

#endif
