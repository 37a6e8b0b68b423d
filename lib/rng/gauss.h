/* gauss.h - the Gaussian stream of docs/rng.md section 4 (contract 2): a
 * 64-bit seed per stream, a SplitMix64-finalizer hash per pair of draws, and
 * the Box-Muller transform with fused multiply-adds. Shared by the scalar
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

/* ln(u) for normal u in (0, 1]: exponent split, then Cephes' logf
 * polynomial on x = m - 1 (exact) with m in [sqrt(1/2), sqrt(2)), the
 * polynomial and the final sums fused. */
static inline ZOQ__HD float zoq__log_spec(float u)
{
    uint32_t b = zoq__f32_bits(u);
    int e = (int)((b >> 23) & 0xFFu) - 126;
    float m = zoq__f32_from_bits((b & 0x007FFFFFu) | 0x3F000000u); /* [0.5, 1) */
    /* m < sqrt(1/2): e -= 1, x = 2m - 1; else x = m - 1 (both exact, by mask) */
    uint32_t lo = 0u - (uint32_t)(m < 0.707106781186547524f);
    e -= (int)(lo & 1u);
    float x = zoq__f32_from_bits((zoq__f32_bits((m + m) - 1.0f) & lo) |
                                 (zoq__f32_bits(m - 1.0f) & ~lo));
    float z = x * x;
    float p = 7.0376836292e-2f;
    p = fmaf(p, x, -1.1514610310e-1f);
    p = fmaf(p, x, 1.1676998740e-1f);
    p = fmaf(p, x, -1.2420140846e-1f);
    p = fmaf(p, x, 1.4249322787e-1f);
    p = fmaf(p, x, -1.6668057665e-1f);
    p = fmaf(p, x, 2.0000714765e-1f);
    p = fmaf(p, x, -2.4999993993e-1f);
    p = fmaf(p, x, 3.3333331174e-1f);
    float y = x * z;
    y = y * p;
    float fe = (float)e;
    y = fmaf(fe, -2.12194440e-4f, y);
    y = fmaf(-0.5f, z, y);
    x = x + y;
    return fmaf(fe, 0.693359375f, x);
}

/* sin and cos of t in [0, pi/4] (Cephes sinf/cosf polynomials, fused). */
static inline ZOQ__HD void zoq__sincos_spec(float t, float *s, float *c)
{
    float z = t * t;
    float ps = fmaf(fmaf(-1.9515295891e-4f, z, 8.3321608736e-3f), z, -1.6666654611e-1f);
    *s = fmaf(ps, z * t, t);
    float pc = fmaf(fmaf(2.443315711809948e-5f, z, -1.388731625493765e-3f), z,
                    4.166664568298827e-2f);
    *c = fmaf(pc, z * z, fmaf(-0.5f, z, 1.0f));
}

/* Box-Muller of one pair's 64 bits h: radius from a = lo32(h), angle from
 * b = hi32(h). The octant logic of docs/rng.md is done with bit masks, not
 * branches (the octant is random: branches would mispredict half the time).
 * Negation is a sign-bit flip and selection moves bits. */
static inline ZOQ__HD void zoq__box_muller(uint64_t h, float *z0, float *z1)
{
    const uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32);
    float u = (float)((a >> 8) + 1u) * 5.9604644775390625e-8f; /* (0, 1], times 2^-24 */
    float r = sqrtf(zoq__log_spec(u) * -2.0f);
    uint32_t o = b >> 29;
    uint32_t k = (b >> 5) & 0x00FFFFFFu, odd = 0u - (o & 1u);
    k = ((0x01000000u - k) & odd) | (k & ~odd); /* odd octant: 2^24 - k */
    float s, c;
    /* pi/4 (binary32) times 2^-24, exact */
    zoq__sincos_spec((float)k * (0.785398163397448310f * 5.9604644775390625e-8f), &s, &c);
    /* odd octant swaps (s, c); odd quadrant k = o >> 1 swaps again */
    uint32_t swap = 0u - ((o ^ (o >> 1)) & 1u);
    uint32_t sb = zoq__f32_bits(s), cb = zoq__f32_bits(c);
    uint32_t cs = (sb & swap) | (cb & ~swap), sn = (cb & swap) | (sb & ~swap);
    /* cos negative in quadrants 1, 2; sin negative in quadrants 2, 3 */
    cs ^= (((o >> 1) ^ (o >> 2)) & 1u) << 31;
    sn ^= ((o >> 2) & 1u) << 31;
    *z0 = r * zoq__f32_from_bits(cs);
    *z1 = r * zoq__f32_from_bits(sn);
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
