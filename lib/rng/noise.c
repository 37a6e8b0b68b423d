/* noise.c - scalar reference of the noise spec (docs/rng.md). Every other
 * path (SIMD, threads, GPU) must reproduce these bits exactly, so each float
 * operation here is a single IEEE operation in a fixed order: the build uses
 * -ffp-contract=off and no fast-math. */
#include "noise.h"

#include <math.h>
#include <string.h>

#include "core/bits.h"
#include "zoq.h"

/* ln(u) for normal u in (0, 1]: exponent split, then Cephes' logf polynomial
 * on m - 1 with m in [sqrt(1/2), sqrt(2)). Max error about 1 ulp; what matters
 * is that the bits are fixed. */
static float log_spec(float u)
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
static void sincos_spec(float t, float *s, float *c)
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
static inline void box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    float u = (float)((a >> 8) + 1u) * 5.9604644775390625e-8f; /* (0, 1], times 2^-24 */
    float r = sqrtf(-2.0f * log_spec(u));
    uint32_t o = b >> 29;
    float x = (float)((b >> 5) & 0x00FFFFFFu) * 5.9604644775390625e-8f; /* [0, 1) */
    uint32_t odd = 0u - (o & 1u);
    x = zoq__f32_from_bits((zoq__f32_bits(1.0f - x) & odd) | (zoq__f32_bits(x) & ~odd));
    float s, c;
    sincos_spec(x * 0.785398163397448310f, &s, &c);
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

void zoq__gauss4(const uint32_t w[4], float z[4])
{
    box_muller(w[0], w[1], &z[0], &z[1]);
    box_muller(w[2], w[3], &z[2], &z[3]);
}

/* Blocks generated per batch: Philox words first, then the transforms over
 * plain arrays, which the compiler can vectorize. */
#define BATCH 64

static void fill_gauss(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                       uint64_t offset, size_t count, float *out)
{
    uint32_t w[BATCH][4];
    float z[BATCH * 4];
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint64_t b0 = i / ZOQ__GAUSS_PER_BLOCK;
        uint64_t b1 = (end + ZOQ__GAUSS_PER_BLOCK - 1) / ZOQ__GAUSS_PER_BLOCK;
        int nb = b1 - b0 < BATCH ? (int)(b1 - b0) : BATCH;
        for (int k = 0; k < nb; k++)
            zoq__noise_block(key, step, query, stream, b0 + (uint64_t)k, w[k]);
        for (int k = 0; k < nb; k++)
            zoq__gauss4(w[k], &z[4 * k]);
        uint64_t first = i - b0 * ZOQ__GAUSS_PER_BLOCK;
        uint64_t n = (uint64_t)nb * ZOQ__GAUSS_PER_BLOCK - first;
        if (n > end - i)
            n = end - i;
        memcpy(out + (i - offset), z + first, (size_t)n * sizeof *z);
        i += n;
    }
}

static void fill_rademacher(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            uint64_t offset, size_t count, float *out)
{
    uint32_t w[4];
    float z[ZOQ__RADE_PER_BLOCK];
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint64_t block = i / ZOQ__RADE_PER_BLOCK;
        zoq__noise_block(key, step, query, stream, block, w);
        for (unsigned j = 0; j < ZOQ__RADE_PER_BLOCK; j++) /* bit set: -1.0f, else +1.0f */
            z[j] = zoq__f32_from_bits(0x3F800000u | (((w[j >> 5] >> (j & 31u)) & 1u) << 31));
        uint64_t first = i - block * ZOQ__RADE_PER_BLOCK;
        uint64_t n = ZOQ__RADE_PER_BLOCK - first;
        if (n > end - i)
            n = end - i;
        memcpy(out + (i - offset), z + first, (size_t)n * sizeof *z);
        i += n;
    }
}

void zoq__mask_fill(uint64_t key, uint64_t step, float keep, uint64_t offset, size_t count,
                    uint8_t *out)
{
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint32_t w[4];
        zoq__noise_block(key, step, 0, ZOQ__STREAM_MASK, i / 4, w);
        for (unsigned j = (unsigned)(i % 4); j < 4 && i < end; j++, i++)
            out[i - offset] = (float)(w[j] >> 8) * 5.9604644775390625e-8f < keep;
    }
}

void zoq__noise_fill_scalar(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            int dist, uint64_t offset, size_t count, float *out)
{
    if (dist == ZOQ_DIST_RADEMACHER)
        fill_rademacher(key, step, query, stream, offset, count, out);
    else
        fill_gauss(key, step, query, stream, offset, count, out);
}
