/* noise_avx2.c - the noise spec (docs/rng.md) with AVX2: Philox on 8 blocks
 * per vector, one block per lane, then the transform on 8 lanes per vector;
 * the algorithm itself is noise_simd.h's. Built with -mavx2, never -mfma,
 * and only on x86; runs only when zoq__noise_has_avx2(). */
#include "noise.h"

#ifdef ZOQ__NOISE_AVX2

#ifndef __AVX2__
#error "noise_avx2.c needs -mavx2 (see the Makefile)"
#endif

#include <immintrin.h>

#define LANES 8
#define ISA(name) name##_avx2
typedef __m256i vi;
typedef __m256 vf;

#define I_SET1(x) _mm256_set1_epi32(x)
#define I64_SET1(x) _mm256_set1_epi64x(x)
#define I64_EVENS() _mm256_setr_epi64x(0, 2, 4, 6)
#define I_ADD(a, b) _mm256_add_epi32(a, b)
#define I_SUB(a, b) _mm256_sub_epi32(a, b)
#define I64_ADD(a, b) _mm256_add_epi64(a, b)
#define I_AND(a, b) _mm256_and_si256(a, b)
#define I_OR(a, b) _mm256_or_si256(a, b)
#define I_XOR(a, b) _mm256_xor_si256(a, b)
#define I_XOR3(a, b, c) _mm256_xor_si256(a, _mm256_xor_si256(b, c))
#define I_SRL(a, n) _mm256_srli_epi32(a, n)
#define I_SLL(a, n) _mm256_slli_epi32(a, n)
#define I64_SRL(a, n) _mm256_srli_epi64(a, n)
#define I64_SLL(a, n) _mm256_slli_epi64(a, n)
#define I_MULU(a, b) _mm256_mul_epu32(a, b)
#define I_ODD(a, b) _mm256_blend_epi32(a, b, 0xAA)
#define I_LANE(a, j) _mm256_permutevar8x32_epi32(a, _mm256_set1_epi32(j))
#define I_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define F(x) _mm256_set1_ps(x)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define SQRT _mm256_sqrt_ps
#define CVT _mm256_cvtepi32_ps
#define AS_F _mm256_castsi256_ps
#define AS_I _mm256_castps_si256
#define F_XOR _mm256_xor_ps
#define F_LOADU _mm256_loadu_ps
#define F_STOREU _mm256_storeu_ps
#define LT(a, b) _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define SEL(a, b, m) _mm256_blendv_ps(a, b, _mm256_castsi256_ps(m))
/* bit 8q + i of lane i shifted into its sign bit, which blendv reads */
#define SIGN_BITS(w, q)                                                                        \
    _mm256_castsi256_ps(_mm256_sllv_epi32(                                                     \
        w, _mm256_sub_epi32(_mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24),                 \
                            _mm256_set1_epi32(8 * (q)))))
#define PICK(a, b, w, q) _mm256_blendv_ps(a, b, SIGN_BITS(w, q))
/* c with its sign bit flipped where PICK would pick, added to a */
#define ADD_SIGNED(a, c, w, q)                                                                 \
    ADD(a, _mm256_xor_ps(c, _mm256_and_ps(SIGN_BITS(w, q), F(-0.0f))))

/* A 4x8 transpose: unpack pairs, shuffle to blocks j | j+4 per 128-bit
 * half, then put the halves in block order. */
static inline __attribute__((always_inline)) void STORE_DRAWS(vf d0, vf d1, vf d2, vf d3,
                                                              float *o)
{
    vf t0 = _mm256_unpacklo_ps(d0, d1), t1 = _mm256_unpackhi_ps(d0, d1);
    vf t2 = _mm256_unpacklo_ps(d2, d3), t3 = _mm256_unpackhi_ps(d2, d3);
    vf q0 = _mm256_shuffle_ps(t0, t2, 0x44); /* blocks 0 | 4 */
    vf q1 = _mm256_shuffle_ps(t0, t2, 0xEE); /* blocks 1 | 5 */
    vf q2 = _mm256_shuffle_ps(t1, t3, 0x44); /* blocks 2 | 6 */
    vf q3 = _mm256_shuffle_ps(t1, t3, 0xEE); /* blocks 3 | 7 */
    _mm256_storeu_ps(o, _mm256_permute2f128_ps(q0, q1, 0x20));
    _mm256_storeu_ps(o + 8, _mm256_permute2f128_ps(q2, q3, 0x20));
    _mm256_storeu_ps(o + 16, _mm256_permute2f128_ps(q0, q1, 0x31));
    _mm256_storeu_ps(o + 24, _mm256_permute2f128_ps(q2, q3, 0x31));
}

#include "noise_simd.h"

#else
typedef int zoq__noise_avx2_not_built; /* ISO C wants a non-empty file */
#endif
