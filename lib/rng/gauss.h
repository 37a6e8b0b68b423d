/* gauss.h - the Box-Muller transform of docs/rng.md section 4, shared by the
 * scalar reference (noise.c) and the CUDA kernels (ZOQ__HD). Each written
 * float operation must stay one IEEE binary32 operation: C builds use
 * -ffp-contract=off, nvcc builds -fmad=false, neither fast-math. */
#ifndef ZOQ_RNG_GAUSS_H
#define ZOQ_RNG_GAUSS_H

#include <math.h>
#include <stdint.h>

#include "core/bits.h"
#include "core/hd.h"

/* ln(u) for normal u in (0, 1]: exponent split, then Cephes' logf polynomial
 * on m - 1 with m in [sqrt(1/2), sqrt(2)). Max error about 1 ulp; what matters
 * is that the bits are fixed. */
static inline ZOQ__HD float zoq__log_spec(float u)
{
    uint32_t b = zoq__f32_bits(u);
    int e = (int)((b >> 23) & 0xFFu) - 126;
    float m = zoq__f32_from_bits((b & 0x007FFFFFu) | 0x3F000000u); /* [0.5, 1) */
    /* m < sqrt(1/2): e -= 1, x = (m + m) - 1; else x = m - 1 (selected by mask) */
    uint32_t lo = 0u - (uint32_t)(m < 0.707106781186547524f);
    e -= (int)(lo & 1u);
    float twice = m + m;
    float x = zoq__f32_from_bits((zoq__f32_bits(twice - 1.0f) & lo) | (zoq__f32_bits(m - 1.0f) & ~lo));
    float z = x * x;
    float p = 7.0376836292e-2f;
    p = p * x + -1.1514610310e-1f;
    p = p * x + 1.1676998740e-1f;
    p = p * x + -1.2420140846e-1f;
    p = p * x + 1.4249322787e-1f;
    p = p * x + -1.6668057665e-1f;
    p = p * x + 2.0000714765e-1f;
    p = p * x + -2.4999993993e-1f;
    p = p * x + 3.3333331174e-1f;
    float y = x * z;
    y = y * p;
    float fe = (float)e;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * z;
    x = x + y;
    x = x + fe * 0.693359375f;
    return x;
}

/* sin and cos of t in [0, pi/4] (Cephes sinf/cosf polynomials). */
static inline ZOQ__HD void zoq__sincos_spec(float t, float *s, float *c)
{
    float z = t * t;
    float ps = -1.9515295891e-4f;
    ps = ps * z + 8.3321608736e-3f;
    ps = ps * z + -1.6666654611e-1f;
    ps = ps * z;
    ps = ps * t;
    *s = ps + t;
    float pc = 2.443315711809948e-5f;
    pc = pc * z + -1.388731625493765e-3f;
    pc = pc * z + 4.166664568298827e-2f;
    pc = pc * z;
    pc = pc * z;
    pc = pc - 0.5f * z;
    *c = pc + 1.0f;
}

/* One Box-Muller pair from words (a, b): radius from a, angle from b. The
 * octant logic of docs/rng.md is done with bit masks, not branches: the
 * octant is random, so branches would mispredict half the time. Negation is
 * a sign-bit flip and selection moves bits, so the values are exactly the
 * spec's. */
static inline ZOQ__HD void zoq__box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    float u = (float)((a >> 8) + 1u) * 5.9604644775390625e-8f; /* (0, 1], times 2^-24 */
    float r = sqrtf(-2.0f * zoq__log_spec(u));
    uint32_t o = b >> 29;
    float x = (float)((b >> 5) & 0x00FFFFFFu) * 5.9604644775390625e-8f; /* [0, 1) */
    uint32_t odd = 0u - (o & 1u);
    x = zoq__f32_from_bits((zoq__f32_bits(1.0f - x) & odd) | (zoq__f32_bits(x) & ~odd));
    float s, c;
    zoq__sincos_spec(x * 0.785398163397448310f, &s, &c);
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

#endif
