/* noise_avx2.c - the noise spec (docs/rng.md) with AVX2 and FMA: Philox on
 * 8 blocks per vector (Rademacher), the Gaussian pair hashes on 4 64-bit
 * lanes (the 64-bit multiply built from three vpmuludq), the transform on 8
 * lanes; the algorithm itself is noise_simd.h's. Built with -mavx2 -mfma and
 * -ffp-contract=off (FMA only where noise_simd.h writes it), only on x86;
 * runs only when zoq__noise_has_avx2(). */
#include "noise.h"

#ifdef ZOQ__NOISE_AVX2

#if !defined(__AVX2__) || !defined(__FMA__)
#error "noise_avx2.c needs -mavx2 -mfma (see the Makefile)"
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
#define I_SRA(a, n) _mm256_srai_epi32(a, n)
#define I64_SRL(a, n) _mm256_srli_epi64(a, n)
#define I64_SLL(a, n) _mm256_slli_epi64(a, n)
#define I_MULU(a, b) _mm256_mul_epu32(a, b)
#define I_ODD(a, b) _mm256_blend_epi32(a, b, 0xAA)
#define I_LANE(a, j) _mm256_permutevar8x32_epi32(a, _mm256_set1_epi32(j))
/* halves of h0's pairs 0-3 and h1's 4-7: shufps takes pairs 0 1 4 5 | 2 3 6 7,
 * vpermq puts them in order */
#define I_HALF(h0, h1, imm)                                                                    \
    _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(                            \
                                 _mm256_castsi256_ps(h0), _mm256_castsi256_ps(h1), imm)),      \
                             0xD8)
#define I_LO32(h0, h1) I_HALF(h0, h1, 0x88)
#define I_HI32(h0, h1) I_HALF(h0, h1, 0xDD)
#define F(x) _mm256_set1_ps(x)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define FMA _mm256_fmadd_ps
#define SQRT _mm256_sqrt_ps
#define CVT _mm256_cvtepi32_ps
#define AS_F _mm256_castsi256_ps
#define AS_I _mm256_castps_si256
#define XOR_SIGN(f, w) _mm256_xor_ps(f, _mm256_and_ps(_mm256_castsi256_ps(w), F(-0.0f)))
#define F_LOADU _mm256_loadu_ps
#define F_STOREU _mm256_storeu_ps
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

/* The low 64 bits of a * b per 64-bit lane: lo*lo + ((hi*lo + lo*hi) << 32). */
static inline __attribute__((always_inline)) __m256i I64_MUL(__m256i a, __m256i b)
{
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                                     _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b), _mm256_slli_epi64(cross, 32));
}

#include "noise_simd.h"

#else
typedef int zoq__noise_avx2_not_built; /* ISO C wants a non-empty file */
#endif
