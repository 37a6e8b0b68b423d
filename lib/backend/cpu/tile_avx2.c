/* tile_avx2.c - the tile pieces of tile.h with AVX2, 8 elements a vector
 * (the pieces themselves are tile_simd.h's); f16 storage converts with F16C
 * (vcvtph2ps / vcvtps2ph) on CPUs that have it, a feature separate from
 * AVX2, and in software on those that do not. Built with -mavx2, never
 * -mfma, and only on x86; used only where zoq__tile_ops_get() saw AVX2. */
#include "tile.h"

#ifdef ZOQ__TILE_AVX2

#ifndef __AVX2__
#error "tile_avx2.c needs -mavx2 (see the Makefile)"
#endif

#include <immintrin.h>

#define W 8
#define ISA(name) name##_avx2
typedef __m256 vf;
typedef __m256i vi;
typedef __m256i vm; /* all-ones lanes */

#define F1(x) _mm256_set1_ps(x)
#define I1(x) _mm256_set1_epi32((int)(x))
#define LDF(p) _mm256_loadu_ps(p)
#define STF(p, a) _mm256_storeu_ps(p, a)
#define ADD _mm256_add_ps
#define MUL _mm256_mul_ps
#define DIV _mm256_div_ps
#define SQRT _mm256_sqrt_ps
#define AS_F _mm256_castsi256_ps
#define AS_I _mm256_castps_si256
#define I_ADD _mm256_add_epi32
#define I_AND _mm256_and_si256
#define I_SRL _mm256_srli_epi32
#define I_SLL _mm256_slli_epi32
#define I_GT _mm256_cmpgt_epi32
#define ANY_NAN(a, b) _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q))
#define F_BLEND(a, b, m) _mm256_blendv_ps(a, b, _mm256_castsi256_ps(m))
#define U8_WIDEN(p) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p)))
#define U16_WIDEN(p) _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p)))
/* lanes hold values below 2^16: the unsigned-saturating pack keeps them (per
 * 128-bit half, so the two vectors' halves are put back in order after) */
#define U16_STORE2(p, a, b)                                                                      \
    _mm256_storeu_si256((__m256i *)(p), _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8))
#define LDI(p) _mm256_loadu_si256((const __m256i *)(p))
#define I_SLLV _mm256_sllv_epi32
#define SIGN_XOR(f, w) AS_F(_mm256_xor_si256(AS_I(f), _mm256_and_si256(w, I1(0x80000000u))))
typedef __m128i vh;
#define VH_LOAD(p) _mm_loadu_si128((const __m128i *)(p))
#define VH_STORE(p, h) _mm_storeu_si128((__m128i *)(p), h)
#define H_WIDEN _mm256_cvtph_ps
#define H_NARROW(a) _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT)
#define F16_TARGET __attribute__((target("avx2,f16c")))

#include "tile_simd.h"

static void store_f16_soft(uint16_t *d, int n, const float *acc)
{
    for (int j = 0; j < n; j++)
        zoq__put_u16(d + j, zoq__f32_to_f16(acc[j]));
}
LOAD_STORE(soft, load_f16_soft, store_f16_soft, store_bf16)

/* Without F16C the sign passes (built for F16C) are not used. */
static const zoq__tile_ops avx2_f16c = OPS("avx2+f16c", hw, sign_passes),
                           avx2_soft = OPS("avx2", soft, NULL);

const zoq__tile_ops *zoq__tile_ops_avx2(int f16c)
{
    return f16c ? &avx2_f16c : &avx2_soft;
}

#else
typedef int zoq__tile_avx2_not_built; /* ISO C wants a non-empty file */
#endif
