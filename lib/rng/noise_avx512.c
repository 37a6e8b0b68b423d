/* noise_avx512.c - the noise spec (docs/rng.md) with AVX-512F/DQ: Philox on
 * 16 blocks per vector (Rademacher), the Gaussian pair hashes on 8 64-bit
 * lanes (vpmullq), the transform on 16 lanes, octant selects through mask
 * registers and Philox's three-way XORs as one vpternlogd; the algorithm
 * itself is noise_simd.h's. -ffp-contract=off keeps every product and sum
 * that the spec does not fuse separate. Built with -mavx512f -mavx512dq,
 * only on x86; runs only when zoq__noise_has_avx512(). */
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
#define I_SRA(a, n) _mm512_srai_epi32(a, n)
#define I64_SRL(a, n) _mm512_srli_epi64(a, n)
#define I64_SLL(a, n) _mm512_slli_epi64(a, n)
#define I_MULU(a, b) _mm512_mul_epu32(a, b)
#define I_ODD(a, b) _mm512_mask_blend_epi32(0xAAAA, a, b)
#define I_LANE(a, j) _mm512_permutexvar_epi32(_mm512_set1_epi32(j), a)
#define I64_MUL(a, b) _mm512_mullo_epi64(a, b)
#define I_LO32(h0, h1)                                                                         \
    _mm512_permutex2var_epi32(h0, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, \
                                                    24, 26, 28, 30), h1)
#define I_HI32(h0, h1)                                                                         \
    _mm512_permutex2var_epi32(h0, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, \
                                                    25, 27, 29, 31), h1)
#define F(x) _mm512_set1_ps(x)
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps
#define FMA _mm512_fmadd_ps
#define SQRT _mm512_sqrt_ps
#define CVT _mm512_cvtepi32_ps
#define AS_F _mm512_castsi512_ps
#define AS_I _mm512_castps_si512
/* f ^ (w & sign) in one ternary logic op (truth table 0x78) */
#define XOR_SIGN(f, w)                                                                         \
    _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(f), w,                   \
                                                  _mm512_set1_epi32((int)0x80000000u), 0x78))
#define F_LOADU _mm512_loadu_ps
#define F_STOREU _mm512_storeu_ps
#define SEL(a, b, m) _mm512_mask_blend_ps(_mm512_movepi32_mask(m), a, b)
/* vptestmd: the mask of lanes i whose bit 16q + i of w is set */
#define BITS(w, q)                                                                             \
    _mm512_test_epi32_mask(w, _mm512_sllv_epi32(_mm512_set1_epi32(1 << 16 * (q)),              \
                                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \
                                                                  10, 11, 12, 13, 14, 15)))
#define PICK(a, b, w, q) _mm512_mask_blend_ps(BITS(w, q), a, b)
/* a + c, then a - c in the masked lanes */
#define ADD_SIGNED(a, c, w, q) _mm512_mask_sub_ps(ADD(a, c), BITS(w, q), a, c)

#include "noise_simd.h"

#else
typedef int zoq__noise_avx512_not_built; /* ISO C wants a non-empty file */
#endif
