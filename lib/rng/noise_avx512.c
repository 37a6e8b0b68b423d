/* noise_avx512.c - the noise spec (docs/rng.md) with AVX-512F/DQ: Philox on
 * 16 blocks per vector, the transform on 16 lanes, octant selects through
 * mask registers and Philox's three-way XORs as one vpternlogd; the
 * algorithm itself is noise_simd.h's. AVX-512F has FMA instructions, so
 * -ffp-contract=off is what keeps products and sums separate. Built with
 * -mavx512f -mavx512dq, only on x86; runs only when zoq__noise_has_avx512(). */
#include "noise.h"

#ifdef ZOQ__NOISE_AVX2

#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
#error "noise_avx512.c needs -mavx512f -mavx512dq (see the Makefile)"
#endif

#include <immintrin.h>

#define LANES 16
#define ISA(name) name##_avx512
typedef __m512i vi;
typedef __m512 vf;

#define I_SET1(x) _mm512_set1_epi32(x)
#define I64_SET1(x) _mm512_set1_epi64(x)
#define I64_EVENS() _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0)
#define I_ADD(a, b) _mm512_add_epi32(a, b)
#define I_SUB(a, b) _mm512_sub_epi32(a, b)
#define I64_ADD(a, b) _mm512_add_epi64(a, b)
#define I_AND(a, b) _mm512_and_si512(a, b)
#define I_OR(a, b) _mm512_or_si512(a, b)
#define I_XOR(a, b) _mm512_xor_si512(a, b)
#define I_XOR3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96) /* a ^ b ^ c */
#define I_SRL(a, n) _mm512_srli_epi32(a, n)
#define I_SLL(a, n) _mm512_slli_epi32(a, n)
#define I64_SRL(a, n) _mm512_srli_epi64(a, n)
#define I64_SLL(a, n) _mm512_slli_epi64(a, n)
#define I_MULU(a, b) _mm512_mul_epu32(a, b)
#define I_ODD(a, b) _mm512_mask_blend_epi32(0xAAAA, a, b)
#define I_LANE(a, j) _mm512_permutexvar_epi32(_mm512_set1_epi32(j), a)
#define I_LOADU(p) _mm512_loadu_si512(p)
#define F(x) _mm512_set1_ps(x)
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps
#define SQRT _mm512_sqrt_ps
#define CVT _mm512_cvtepi32_ps
#define AS_F _mm512_castsi512_ps
#define AS_I _mm512_castps_si512
#define F_XOR _mm512_xor_ps
#define F_LOADU _mm512_loadu_ps
#define F_STOREU _mm512_storeu_ps
#define LT(a, b) _mm512_movm_epi32(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ))
#define SEL(a, b, m) _mm512_mask_blend_ps(_mm512_movepi32_mask(m), a, b)
/* vptestmd: the mask of lanes i whose bit 16q + i of w is set */
#define BITS(w, q)                                                                             \
    _mm512_test_epi32_mask(w, _mm512_sllv_epi32(_mm512_set1_epi32(1 << 16 * (q)),              \
                                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \
                                                                  10, 11, 12, 13, 14, 15)))
#define PICK(a, b, w, q) _mm512_mask_blend_ps(BITS(w, q), a, b)
/* a + c, then a - c in the masked lanes */
#define ADD_SIGNED(a, c, w, q) _mm512_mask_sub_ps(ADD(a, c), BITS(w, q), a, c)

/* A 4x16 transpose: unpack pairs and shuffle as with AVX2, which leaves
 * blocks j | j+4 | j+8 | j+12 in the four 128-bit lanes of q_j, then two
 * rounds of 128-bit lane shuffles put the blocks in order. */
static inline __attribute__((always_inline)) void STORE_DRAWS(vf d0, vf d1, vf d2, vf d3,
                                                              float *o)
{
    vf t0 = _mm512_unpacklo_ps(d0, d1), t1 = _mm512_unpackhi_ps(d0, d1);
    vf t2 = _mm512_unpacklo_ps(d2, d3), t3 = _mm512_unpackhi_ps(d2, d3);
    vf q0 = _mm512_shuffle_ps(t0, t2, 0x44); /* blocks 0 | 4 | 8 | 12 */
    vf q1 = _mm512_shuffle_ps(t0, t2, 0xEE); /* blocks 1 | 5 | 9 | 13 */
    vf q2 = _mm512_shuffle_ps(t1, t3, 0x44); /* blocks 2 | 6 | 10 | 14 */
    vf q3 = _mm512_shuffle_ps(t1, t3, 0xEE); /* blocks 3 | 7 | 11 | 15 */
    vf lo01 = _mm512_shuffle_f32x4(q0, q1, 0x44), lo23 = _mm512_shuffle_f32x4(q2, q3, 0x44);
    vf hi01 = _mm512_shuffle_f32x4(q0, q1, 0xEE), hi23 = _mm512_shuffle_f32x4(q2, q3, 0xEE);
    _mm512_storeu_ps(o, _mm512_shuffle_f32x4(lo01, lo23, 0x88));      /* blocks 0-3 */
    _mm512_storeu_ps(o + 16, _mm512_shuffle_f32x4(lo01, lo23, 0xDD)); /* 4-7 */
    _mm512_storeu_ps(o + 32, _mm512_shuffle_f32x4(hi01, hi23, 0x88)); /* 8-11 */
    _mm512_storeu_ps(o + 48, _mm512_shuffle_f32x4(hi01, hi23, 0xDD)); /* 12-15 */
}

#include "noise_simd.h"

#else
typedef int zoq__noise_avx512_not_built; /* ISO C wants a non-empty file */
#endif
