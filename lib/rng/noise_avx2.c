/* noise_avx2.c - the noise spec (docs/rng.md) with AVX2: Philox on 8 or 16
 * blocks at once, one block per lane, then the transform on 8 lanes per
 * vector. Bit-identical to the scalar reference noise.c: every float
 * operation is the spec's single IEEE operation in the spec's order (separate
 * mul and add, never FMA: the file is built with -mavx2, not -mfma, and
 * -ffp-contract=off keeps even an -march=native build from fusing them);
 * sqrt is vsqrtps (correctly rounded, keeps -0); selections and negations
 * only move bits. Built only on x86; runs only when zoq__noise_has_avx2(). */
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
#define GROUPS 2 /* Philox vectors in flight at once for the Gaussian fill */
#define INLINE __attribute__((always_inline))
/* for (v = 0; v < n; v++) body, unrolled: independent dependency chains side
 * by side, so the core overlaps their latencies */
#define EACH(n, ...) _Pragma("GCC unroll 4") for (int v = 0; v < (n); v++) __VA_ARGS__

/* The (key, step, query, stream) part of every Philox input. */
typedef struct stream_id {
    uint32_t k0, k1, c2, c3;
} stream_id;

/* Philox4x32-10 of blocks b .. b + 8g - 1 (philox.h), g <= GROUPS groups of
 * 8: lane j of group k is block b + 8k + j, its word i in w[4k + i].
 * Inside, each 32-bit word sits in the low half of a 64-bit lane (even and
 * odd blocks in separate vectors), so vpmuludq gives the whole product: its
 * low half is lo() in place and a shift gives hi(). The high halves carry
 * junk that vpmuludq ignores and the final blend drops. */
static inline INLINE void philox8(const stream_id *s, uint64_t b, int g, __m256i *w)
{
    enum { Q = 2 * GROUPS };
    const __m256i m0 = _mm256_set1_epi32((int)ZOQ__PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi32((int)ZOQ__PHILOX_M1);
    __m256i c0[Q], c1[Q], c2[Q], c3[Q];
    EACH(2 * g, {
        /* quad v: blocks b + 8(v/2) + (v%2) + {0, 2, 4, 6}; lo32 and hi32 of a 64-bit index */
        uint64_t first = b + (uint64_t)(LANES * (v / 2) + v % 2);
        c0[v] = _mm256_add_epi64(_mm256_set1_epi64x((long long)first),
                                 _mm256_setr_epi64x(0, 2, 4, 6));
        c1[v] = _mm256_srli_epi64(c0[v], 32);
        c2[v] = _mm256_set1_epi32((int)s->c2);
        c3[v] = _mm256_set1_epi32((int)s->c3);
    });
    uint32_t k0 = s->k0, k1 = s->k1;
#pragma GCC unroll 10
    for (int r = 0; r < 10; r++) {
        const __m256i kv0 = _mm256_set1_epi32((int)k0), kv1 = _mm256_set1_epi32((int)k1);
        EACH(2 * g, {
            __m256i p0 = _mm256_mul_epu32(c0[v], m0), p1 = _mm256_mul_epu32(c2[v], m1);
            c0[v] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), _mm256_xor_si256(c1[v], kv0));
            c2[v] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), _mm256_xor_si256(c3[v], kv1));
            c1[v] = p1;
            c3[v] = p0;
        });
        k0 += ZOQ__PHILOX_W0;
        k1 += ZOQ__PHILOX_W1;
    }
    EACH(g, {
        const __m256i *e[4] = {&c0[2 * v], &c1[2 * v], &c2[2 * v], &c3[2 * v]};
        for (int i = 0; i < 4; i++) /* even blocks' words in even lanes, odd blocks' in odd */
            w[4 * v + i] = _mm256_blend_epi32(e[i][0], _mm256_slli_epi64(e[i][1], 32), 0xAA);
    });
}

#define F(x) _mm256_set1_ps(x)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps

/* The transform works on WAYS vectors of 8 lanes at once, each step of the
 * spec written once and applied to all of them (EACH), so that the long
 * dependent chains of the polynomials run side by side. */
#define WAYS (2 * GROUPS)

/* Box-Muller of the word pairs (a[v], b[v]), v < WAYS, as box_muller() in
 * noise.c, with LOG and SINCOS of docs/rng.md written out. Every value is
 * computed by the spec's operations in the spec's order; only independent
 * work is interleaved (the SINCOS steps between the LOG polynomial's, whose
 * mul-add chain alone would leave the core waiting on latency). The octant
 * bits o = b >> 29 are used in place: blendv reads only the sign bit, so
 * shifting bit 29 or 30 of b to bit 31 gives each mask. */
static inline INLINE void box_muller(const __m256i *a, const __m256i *b, __m256 *z0, __m256 *z1)
{
    const __m256 two_m24 = F(5.9604644775390625e-8f);
    __m256 x[WAYS], p[WAYS], fe[WAYS], t[WAYS], tz[WAYS], ps[WAYS], pc[WAYS];
    EACH(WAYS, {
        /* u = float((a >> 8) + 1) * 2^-24, then LOG's exponent split */
        __m256i ua = _mm256_add_epi32(_mm256_srli_epi32(a[v], 8), _mm256_set1_epi32(1));
        __m256i ub = _mm256_castps_si256(MUL(_mm256_cvtepi32_ps(ua), two_m24));
        /* (bits >> 23) & 0xFF without the mask: u > 0, its sign bit is 0 */
        __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(ub, 23), _mm256_set1_epi32(126));
        __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
            _mm256_and_si256(ub, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F000000)));
        __m256 small = _mm256_cmp_ps(m, F(0.707106781186547524f), _CMP_LT_OQ);
        e = _mm256_add_epi32(e, _mm256_castps_si256(small)); /* all-ones = -1 */
        fe[v] = _mm256_cvtepi32_ps(e);
        x[v] = _mm256_blendv_ps(SUB(m, F(1.0f)), SUB(ADD(m, m), F(1.0f)), small);
        p[v] = ADD(MUL(F(7.0376836292e-2f), x[v]), F(-1.1514610310e-1f));
        /* the angle: x = float((b >> 5) & 0xFFFFFF) * 2^-24, 1 - x in odd octants */
        __m256i xb = _mm256_and_si256(_mm256_srli_epi32(b[v], 5), _mm256_set1_epi32(0x00FFFFFF));
        __m256 xa = MUL(_mm256_cvtepi32_ps(xb), two_m24);
        __m256 odd = _mm256_castsi256_ps(_mm256_slli_epi32(b[v], 2)); /* sign = o & 1 */
        xa = _mm256_blendv_ps(xa, SUB(F(1.0f), xa), odd);
        t[v] = MUL(xa, F(0.785398163397448310f));
    });
    EACH(WAYS, {
        p[v] = ADD(MUL(p[v], x[v]), F(1.1676998740e-1f));
        tz[v] = MUL(t[v], t[v]);
    });
    EACH(WAYS, {
        p[v] = ADD(MUL(p[v], x[v]), F(-1.2420140846e-1f));
        ps[v] = ADD(MUL(F(-1.9515295891e-4f), tz[v]), F(8.3321608736e-3f));
        pc[v] = ADD(MUL(F(2.443315711809948e-5f), tz[v]), F(-1.388731625493765e-3f));
    });
    EACH(WAYS, {
        p[v] = ADD(MUL(p[v], x[v]), F(1.4249322787e-1f));
        ps[v] = ADD(MUL(ps[v], tz[v]), F(-1.6666654611e-1f));
        pc[v] = ADD(MUL(pc[v], tz[v]), F(4.166664568298827e-2f));
    });
    EACH(WAYS, {
        p[v] = ADD(MUL(p[v], x[v]), F(-1.6668057665e-1f));
        ps[v] = MUL(ps[v], tz[v]);
        pc[v] = MUL(pc[v], tz[v]);
    });
    EACH(WAYS, {
        p[v] = ADD(MUL(p[v], x[v]), F(2.0000714765e-1f));
        ps[v] = MUL(ps[v], t[v]);
        pc[v] = MUL(pc[v], tz[v]);
    });
    EACH(WAYS, {
        p[v] = ADD(MUL(p[v], x[v]), F(-2.4999993993e-1f));
        ps[v] = ADD(ps[v], t[v]);                  /* s */
        pc[v] = SUB(pc[v], MUL(F(0.5f), tz[v]));
    });
    EACH(WAYS, {
        p[v] = ADD(MUL(p[v], x[v]), F(3.3333331174e-1f));
        pc[v] = ADD(pc[v], F(1.0f));               /* c */
    });
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    EACH(WAYS, {
        __m256 z = MUL(x[v], x[v]);
        __m256 y = MUL(x[v], z);
        y = MUL(y, p[v]);
        y = ADD(y, MUL(fe[v], F(-2.12194440e-4f)));
        y = SUB(y, MUL(F(0.5f), z));
        __m256 l = ADD(x[v], y);
        l = ADD(l, MUL(fe[v], F(0.693359375f)));  /* LOG(u) */
        __m256 r = _mm256_sqrt_ps(MUL(F(-2.0f), l));
        __m256i b_x = _mm256_xor_si256(b[v], _mm256_slli_epi32(b[v], 1)); /* b_k ^ b_(k-1) */
        __m256 swap = _mm256_castsi256_ps(_mm256_slli_epi32(b_x, 1));     /* sign: b30 ^ b29 */
        __m256 cs = _mm256_blendv_ps(pc[v], ps[v], swap), sn = _mm256_blendv_ps(ps[v], pc[v], swap);
        cs = _mm256_xor_ps(cs, _mm256_castsi256_ps(_mm256_and_si256(b_x, sign))); /* b31 ^ b30 */
        sn = _mm256_xor_ps(sn, _mm256_castsi256_ps(_mm256_and_si256(b[v], sign))); /* b31 */
        z0[v] = MUL(r, cs);
        z1[v] = MUL(r, sn);
    });
}

/* The Gaussian draws of 16 blocks, group k's words in w[4k .. 4k+3], in
 * element order: block j of group k gives z[32k + 4j .. 32k + 4j + 3] (a
 * 4x8 transpose of each group's lanes). */
static inline INLINE void gauss16(const __m256i w[4 * GROUPS], float z[4 * LANES * GROUPS])
{
    __m256i a[WAYS], b[WAYS];
    EACH(WAYS, {
        a[v] = w[2 * v];
        b[v] = w[2 * v + 1];
    });
    __m256 z0[WAYS], z1[WAYS];
    box_muller(a, b, z0, z1);
    for (int k = 0; k < GROUPS; k++) {
        /* group k: pairs 2k (draws 0, 1 of each block) and 2k + 1 (draws 2, 3) */
        __m256 t0 = _mm256_unpacklo_ps(z0[2 * k], z1[2 * k]);
        __m256 t1 = _mm256_unpackhi_ps(z0[2 * k], z1[2 * k]);
        __m256 t2 = _mm256_unpacklo_ps(z0[2 * k + 1], z1[2 * k + 1]);
        __m256 t3 = _mm256_unpackhi_ps(z0[2 * k + 1], z1[2 * k + 1]);
        __m256 q0 = _mm256_shuffle_ps(t0, t2, 0x44); /* blocks 0 | 4 */
        __m256 q1 = _mm256_shuffle_ps(t0, t2, 0xEE); /* blocks 1 | 5 */
        __m256 q2 = _mm256_shuffle_ps(t1, t3, 0x44); /* blocks 2 | 6 */
        __m256 q3 = _mm256_shuffle_ps(t1, t3, 0xEE); /* blocks 3 | 7 */
        float *o = z + 4 * LANES * k;
        _mm256_storeu_ps(o, _mm256_permute2f128_ps(q0, q1, 0x20));
        _mm256_storeu_ps(o + 8, _mm256_permute2f128_ps(q2, q3, 0x20));
        _mm256_storeu_ps(o + 16, _mm256_permute2f128_ps(q0, q1, 0x31));
        _mm256_storeu_ps(o + 24, _mm256_permute2f128_ps(q2, q3, 0x31));
    }
}

void zoq__gauss4x16_avx2(const uint32_t w[64], float z[64])
{
    uint32_t soa[4 * GROUPS][LANES]; /* group k's word i of block j: soa[4k + i][j] */
    for (int j = 0; j < LANES * GROUPS; j++)
        for (int i = 0; i < 4; i++)
            soa[4 * (j / LANES) + i][j % LANES] = w[4 * j + i];
    __m256i v[4 * GROUPS];
    for (int k = 0; k < 4 * GROUPS; k++)
        v[k] = _mm256_loadu_si256((const __m256i *)soa[k]);
    gauss16(v, z);
}

/* Gaussian draws of blocks b .. b+nb-1 (1 <= nb <= 16) into out[0 .. 4nb). */
static void gauss_blocks(const stream_id *s, uint64_t b, int nb, float *out)
{
    __m256i w[4 * GROUPS];
    philox8(s, b, GROUPS, w);
    if (nb == LANES * GROUPS) {
        gauss16(w, out);
    } else {
        float z[4 * LANES * GROUPS];
        gauss16(w, z);
        memcpy(out, z, (size_t)nb * ZOQ__GAUSS_PER_BLOCK * sizeof *z);
    }
}

/* Rademacher signs of blocks b .. b+nb-1 (nb <= 8) into out[0 .. 128nb):
 * each word is broadcast to all lanes (from its lane of the Philox output),
 * shifted so that bit i lands in the sign bit of lane i, and blendv picks
 * -1.0f or +1.0f by that sign. */
static void rademacher_blocks(const stream_id *s, uint64_t b, int nb, float *out)
{
    __m256i w[4];
    philox8(s, b, 1, w);
    const __m256 plus = F(1.0f), minus = F(-1.0f);
    const __m256i sh[4] = {_mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24),
                           _mm256_setr_epi32(23, 22, 21, 20, 19, 18, 17, 16),
                           _mm256_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8),
                           _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0)};
    for (int j = 0; j < nb; j++) {
        const __m256i lane = _mm256_set1_epi32(j);
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_permutevar8x32_epi32(w[k], lane);
            float *o = out + ZOQ__RADE_PER_BLOCK * j + 32 * k;
            for (int q = 0; q < 4; q++) {
                __m256 m = _mm256_castsi256_ps(_mm256_sllv_epi32(v, sh[q]));
                _mm256_storeu_ps(o + 8 * q, _mm256_blendv_ps(plus, minus, m));
            }
        }
    }
}

/* acc[j] = acc[j] + c * z[offset + j] for Rademacher z of whole blocks
 * (offset and count multiples of 128), z never written: c * (+1) is c and
 * c * (-1) is c with its sign bit flipped, exactly, for every c but NaN. */
void zoq__rademacher_axpy_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                               uint64_t offset, size_t count, float c, float *acc)
{
    const stream_id s = {(uint32_t)key, (uint32_t)(key >> 32), (uint32_t)step,
                         query | (stream << 24)};
    const __m256 vc = F(c), sign = F(-0.0f);
    const __m256i sh[4] = {_mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24),
                           _mm256_setr_epi32(23, 22, 21, 20, 19, 18, 17, 16),
                           _mm256_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8),
                           _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0)};
    const uint64_t first = offset / ZOQ__RADE_PER_BLOCK, end = first + count / ZOQ__RADE_PER_BLOCK;
    for (uint64_t b = first; b < end; b += LANES) {
        __m256i w[4];
        philox8(&s, b, 1, w);
        const int nb = end - b < LANES ? (int)(end - b) : LANES;
        for (int j = 0; j < nb; j++) {
            const __m256i lane = _mm256_set1_epi32(j);
            for (int k = 0; k < 4; k++) {
                __m256i v = _mm256_permutevar8x32_epi32(w[k], lane);
                float *a = acc + (b + (uint64_t)j - first) * ZOQ__RADE_PER_BLOCK + 32 * k;
                for (int q = 0; q < 4; q++) {
                    __m256 flip = _mm256_and_ps(_mm256_castsi256_ps(_mm256_sllv_epi32(v, sh[q])),
                                                sign);
                    __m256 cz = _mm256_xor_ps(vc, flip);
                    _mm256_storeu_ps(a + 8 * q, ADD(_mm256_loadu_ps(a + 8 * q), cz));
                }
            }
        }
    }
}

/* Whole blocks go straight to out, up to 16 (Gaussian) or 8 (Rademacher)
 * per call; a block cut by either end of the slice is made in a scratch
 * block and partly copied. */
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
