/* noise_avx2.c - the noise spec (docs/rng.md) with AVX2, 8 Philox blocks per
 * step, one per lane. Bit-identical to the scalar reference noise.c: every
 * float operation is the spec's single IEEE operation in the spec's order
 * (separate mul and add, never FMA: this file is built with -mavx2 but not
 * -mfma, and -ffp-contract=off keeps even an -march=native build from
 * fusing them), sqrt is vsqrtps (correctly rounded, keeps
 * -0), selections and negations only move bits. Built only on x86; runs only
 * when zoq__noise_has_avx2(). */
#include "noise.h"

#ifdef ZOQ__NOISE_AVX2

#ifndef __AVX2__
#error "noise_avx2.c needs -mavx2 (see the Makefile)"
#endif
#ifdef __FAST_MATH__
#error "the noise spec needs IEEE arithmetic: no -ffast-math (see docs/rng.md)"
#endif

#include <immintrin.h>
#include <string.h>

#include "zoq.h"

#define LANES 8  /* blocks per Philox vector */
#define GROUPS 2 /* Philox vectors in flight at once */
#define INLINE __attribute__((always_inline))

/* The (key, step, query, stream) part of every Philox input. */
typedef struct stream_id {
    uint32_t k0, k1, c2, c3;
} stream_id;

/* hi and lo 32 bits of the 32x32 products a * m, lane by lane (vpmuludq on
 * the even lanes, then on the odd lanes shifted down). */
static inline INLINE __m256i mul_hi_lo(__m256i a, __m256i m, __m256i *lo)
{
    __m256i even = _mm256_mul_epu32(a, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* Philox4x32-10 of blocks b .. b + 8g - 1 (philox.h), g = 1 or 2 groups of
 * 8 lanes: lane j of group k is block b + 8k + j, its word i in w[4k + i].
 * Two groups run interleaved so that their dependency chains overlap. */
static inline INLINE void philox8(const stream_id *s, uint64_t b, int g, __m256i *w)
{
    const __m256i m0 = _mm256_set1_epi32((int)ZOQ__PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi32((int)ZOQ__PHILOX_M1);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i blo = _mm256_set1_epi32((int)(uint32_t)b);
    const __m256i bhi = _mm256_set1_epi32((int)(uint32_t)(b >> 32));
    __m256i c0[GROUPS], c1[GROUPS], c2[GROUPS], c3[GROUPS];
#pragma GCC unroll 2
    for (int k = 0; k < g; k++) {
        /* counter (lo32, hi32) of b + 8k + j: add to the low word, carry where it wrapped
         * (unsigned c0 < lo32(b); the sign flips make the signed compare unsigned) */
        __m256i j = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        c0[k] = _mm256_add_epi32(blo, _mm256_add_epi32(j, _mm256_set1_epi32(LANES * k)));
        __m256i wrapped = _mm256_cmpgt_epi32(_mm256_xor_si256(blo, sign),
                                             _mm256_xor_si256(c0[k], sign));
        c1[k] = _mm256_sub_epi32(bhi, wrapped);
        c2[k] = _mm256_set1_epi32((int)s->c2);
        c3[k] = _mm256_set1_epi32((int)s->c3);
    }
    uint32_t k0 = s->k0, k1 = s->k1;
#pragma GCC unroll 10
    for (int r = 0; r < 10; r++) {
        const __m256i kv0 = _mm256_set1_epi32((int)k0), kv1 = _mm256_set1_epi32((int)k1);
#pragma GCC unroll 2
        for (int k = 0; k < g; k++) {
            __m256i lo0, lo1;
            __m256i hi0 = mul_hi_lo(c0[k], m0, &lo0);
            __m256i hi1 = mul_hi_lo(c2[k], m1, &lo1);
            c0[k] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[k]), kv0);
            c2[k] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[k]), kv1);
            c1[k] = lo1;
            c3[k] = lo0;
        }
        k0 += ZOQ__PHILOX_W0;
        k1 += ZOQ__PHILOX_W1;
    }
#pragma GCC unroll 2
    for (int k = 0; k < g; k++) {
        w[4 * k] = c0[k]; w[4 * k + 1] = c1[k]; w[4 * k + 2] = c2[k]; w[4 * k + 3] = c3[k];
    }
}

#define F(x) _mm256_set1_ps(x)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps

/* LOG of docs/rng.md, 8 lanes; the branch on m is a blend. */
static inline INLINE __m256 log_spec8(__m256 u)
{
    __m256i b = _mm256_castps_si256(u);
    __m256i e = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(0xFF)),
                                 _mm256_set1_epi32(126));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007FFFFF)),
                                                   _mm256_set1_epi32(0x3F000000)));
    __m256 small = _mm256_cmp_ps(m, F(0.707106781186547524f), _CMP_LT_OQ);
    e = _mm256_add_epi32(e, _mm256_castps_si256(small)); /* all-ones = -1 */
    __m256 x = _mm256_blendv_ps(SUB(m, F(1.0f)), SUB(ADD(m, m), F(1.0f)), small);
    __m256 z = MUL(x, x);
    __m256 p = F(7.0376836292e-2f);
    p = ADD(MUL(p, x), F(-1.1514610310e-1f));
    p = ADD(MUL(p, x), F(1.1676998740e-1f));
    p = ADD(MUL(p, x), F(-1.2420140846e-1f));
    p = ADD(MUL(p, x), F(1.4249322787e-1f));
    p = ADD(MUL(p, x), F(-1.6668057665e-1f));
    p = ADD(MUL(p, x), F(2.0000714765e-1f));
    p = ADD(MUL(p, x), F(-2.4999993993e-1f));
    p = ADD(MUL(p, x), F(3.3333331174e-1f));
    __m256 y = MUL(x, z);
    y = MUL(y, p);
    __m256 fe = _mm256_cvtepi32_ps(e);
    y = ADD(y, MUL(fe, F(-2.12194440e-4f)));
    y = SUB(y, MUL(F(0.5f), z));
    x = ADD(x, y);
    x = ADD(x, MUL(fe, F(0.693359375f)));
    return x;
}

/* SINCOS of docs/rng.md, 8 lanes. */
static inline INLINE void sincos_spec8(__m256 t, __m256 *s, __m256 *c)
{
    __m256 z = MUL(t, t);
    __m256 ps = F(-1.9515295891e-4f);
    ps = ADD(MUL(ps, z), F(8.3321608736e-3f));
    ps = ADD(MUL(ps, z), F(-1.6666654611e-1f));
    ps = MUL(ps, z);
    ps = MUL(ps, t);
    *s = ADD(ps, t);
    __m256 pc = F(2.443315711809948e-5f);
    pc = ADD(MUL(pc, z), F(-1.388731625493765e-3f));
    pc = ADD(MUL(pc, z), F(4.166664568298827e-2f));
    pc = MUL(pc, z);
    pc = MUL(pc, z);
    pc = SUB(pc, MUL(F(0.5f), z));
    *c = ADD(pc, F(1.0f));
}

/* Box-Muller of 8 word pairs (a, b), as box_muller() in noise.c. The octant
 * bits o = b >> 29 are used in place: blendv reads only the sign bit, so
 * shifting bit 29 or 30 of b to bit 31 gives each mask. */
static inline INLINE void box_muller8(__m256i a, __m256i b, __m256 *z0, __m256 *z1)
{
    const __m256 two_m24 = F(5.9604644775390625e-8f);
    __m256i ua = _mm256_add_epi32(_mm256_srli_epi32(a, 8), _mm256_set1_epi32(1));
    __m256 u = MUL(_mm256_cvtepi32_ps(ua), two_m24);
    __m256 r = _mm256_sqrt_ps(MUL(F(-2.0f), log_spec8(u)));
    __m256i xb = _mm256_and_si256(_mm256_srli_epi32(b, 5), _mm256_set1_epi32(0x00FFFFFF));
    __m256 x = MUL(_mm256_cvtepi32_ps(xb), two_m24);
    __m256 odd = _mm256_castsi256_ps(_mm256_slli_epi32(b, 2)); /* sign = bit 29 = o & 1 */
    x = _mm256_blendv_ps(x, SUB(F(1.0f), x), odd);
    __m256 s, c;
    sincos_spec8(MUL(x, F(0.785398163397448310f)), &s, &c);
    __m256i b_x = _mm256_xor_si256(b, _mm256_slli_epi32(b, 1)); /* bit k = b_k ^ b_(k-1) */
    __m256 swap = _mm256_castsi256_ps(_mm256_slli_epi32(b_x, 1)); /* sign = b30 ^ b29 */
    __m256 cs = _mm256_blendv_ps(c, s, swap), sn = _mm256_blendv_ps(s, c, swap);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    cs = _mm256_xor_ps(cs, _mm256_castsi256_ps(_mm256_and_si256(b_x, sign))); /* b31 ^ b30 */
    sn = _mm256_xor_ps(sn, _mm256_castsi256_ps(_mm256_and_si256(b, sign)));   /* b31 */
    *z0 = MUL(r, cs);
    *z1 = MUL(r, sn);
}

/* The 32 Gaussian draws of 8 blocks whose words are w[0..3], in element
 * order: block j gives z[4j .. 4j+3] (a 4x8 transpose of the lanes). */
static inline INLINE void gauss8(const __m256i w[4], float z[32])
{
    __m256 z0, z1, z2, z3;
    box_muller8(w[0], w[1], &z0, &z1);
    box_muller8(w[2], w[3], &z2, &z3);
    __m256 t0 = _mm256_unpacklo_ps(z0, z1), t1 = _mm256_unpackhi_ps(z0, z1);
    __m256 t2 = _mm256_unpacklo_ps(z2, z3), t3 = _mm256_unpackhi_ps(z2, z3);
    __m256 q0 = _mm256_shuffle_ps(t0, t2, 0x44); /* blocks 0 | 4 */
    __m256 q1 = _mm256_shuffle_ps(t0, t2, 0xEE); /* blocks 1 | 5 */
    __m256 q2 = _mm256_shuffle_ps(t1, t3, 0x44); /* blocks 2 | 6 */
    __m256 q3 = _mm256_shuffle_ps(t1, t3, 0xEE); /* blocks 3 | 7 */
    _mm256_storeu_ps(z, _mm256_permute2f128_ps(q0, q1, 0x20));
    _mm256_storeu_ps(z + 8, _mm256_permute2f128_ps(q2, q3, 0x20));
    _mm256_storeu_ps(z + 16, _mm256_permute2f128_ps(q0, q1, 0x31));
    _mm256_storeu_ps(z + 24, _mm256_permute2f128_ps(q2, q3, 0x31));
}

void zoq__gauss4x8_avx2(const uint32_t w[32], float z[32])
{
    uint32_t soa[4][LANES];
    for (int j = 0; j < LANES; j++)
        for (int k = 0; k < 4; k++)
            soa[k][j] = w[4 * j + k];
    __m256i v[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm256_loadu_si256((const __m256i *)soa[k]);
    gauss8(v, z);
}

/* Gaussian draws of blocks b .. b+nb-1 (1 <= nb <= 16) into out[0 .. 4nb). */
static void gauss_blocks(const stream_id *s, uint64_t b, int nb, float *out)
{
    __m256i w[4 * GROUPS];
    float z[4 * LANES * GROUPS];
    float *dst = nb == LANES * GROUPS ? out : z;
    philox8(s, b, GROUPS, w);
    for (int k = 0; k < GROUPS; k++)
        gauss8(&w[4 * k], dst + 4 * LANES * k);
    if (dst == z)
        memcpy(out, z, (size_t)nb * ZOQ__GAUSS_PER_BLOCK * sizeof *z);
}

/* Rademacher signs of blocks b .. b+nb-1 into out[0 .. 128nb): each word is
 * broadcast, shifted so that bit i lands in the sign bit of lane i, and
 * blendv picks -1.0f or +1.0f by that sign. */
static void rademacher_blocks(const stream_id *s, uint64_t b, int nb, float *out)
{
    __m256i wv[4];
    uint32_t w[4][LANES];
    philox8(s, b, 1, wv);
    for (int k = 0; k < 4; k++)
        _mm256_storeu_si256((__m256i *)w[k], wv[k]);
    const __m256 plus = F(1.0f), minus = F(-1.0f);
    const __m256i sh[4] = {_mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24),
                           _mm256_setr_epi32(23, 22, 21, 20, 19, 18, 17, 16),
                           _mm256_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8),
                           _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0)};
    for (int j = 0; j < nb; j++) {
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_set1_epi32((int)w[k][j]);
            float *o = out + ZOQ__RADE_PER_BLOCK * j + 32 * k;
            for (int q = 0; q < 4; q++) {
                __m256 m = _mm256_castsi256_ps(_mm256_sllv_epi32(v, sh[q]));
                _mm256_storeu_ps(o + 8 * q, _mm256_blendv_ps(plus, minus, m));
            }
        }
    }
}

/* Whole blocks go straight to out, up to 8 per Philox step; a block cut by
 * either end of the slice is made in a scratch block and partly copied. */
void zoq__noise_fill_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                          uint64_t offset, size_t count, float *out)
{
    const stream_id s = {(uint32_t)key, (uint32_t)(key >> 32), (uint32_t)step,
                         query | (stream << 24)};
    const int rade = dist == ZOQ_DIST_RADEMACHER;
    const uint64_t per = rade ? ZOQ__RADE_PER_BLOCK : ZOQ__GAUSS_PER_BLOCK;
    const uint64_t most = rade ? LANES : LANES * GROUPS; /* blocks per call below */
    float part[ZOQ__RADE_PER_BLOCK];
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint64_t b = i / per, first = i - b * per, whole = (end - i) / per;
        float *dst = out + (i - offset);
        if (first == 0 && whole > 0) {
            int nb = (int)(whole < most ? whole : most);
            if (rade)
                rademacher_blocks(&s, b, nb, dst);
            else
                gauss_blocks(&s, b, nb, dst);
            i += (uint64_t)nb * per;
        } else {
            if (rade)
                rademacher_blocks(&s, b, 1, part);
            else
                gauss_blocks(&s, b, 1, part);
            uint64_t n = per - first < end - i ? per - first : end - i;
            memcpy(dst, part + first, (size_t)n * sizeof *part);
            i += n;
        }
    }
}

#else
typedef int zoq__noise_avx2_not_built; /* ISO C wants a non-empty file */
#endif
