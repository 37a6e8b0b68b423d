/* tile_avx512.c - the tile pieces of tile.h with AVX-512F/DQ, 16 elements a
 * vector (the pieces themselves are tile_simd.h's), lane selects through
 * mask registers, f16 by the AVX-512F forms of vcvtph2ps / vcvtps2ph, bf16
 * narrowed by AVX512_BF16 where the CPU has it (a set of its own), and the
 * 16-lane generator of noise_avx512.c. AVX-512F has FMA instructions, so
 * -ffp-contract=off is what keeps products and sums separate. Built with
 * -mavx512f -mavx512dq, only on x86; used only where zoq__tile_ops_get()
 * saw AVX-512F and DQ. */
#include "tile.h"

#ifdef ZOQ__TILE_AVX2

#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
#error "tile_avx512.c needs -mavx512f -mavx512dq (see the Makefile)"
#endif

#include <immintrin.h>

#define W 16
#define ISA(name) name##_avx512
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vm;

#define F1(x) _mm512_set1_ps(x)
#define I1(x) _mm512_set1_epi32((int)(x))
#define LDF(p) _mm512_loadu_ps(p)
#define STF(p, a) _mm512_storeu_ps(p, a)
#define ADD _mm512_add_ps
#define MUL _mm512_mul_ps
#define DIV _mm512_div_ps
#define SQRT _mm512_sqrt_ps
#define AS_F _mm512_castsi512_ps
#define AS_I _mm512_castps_si512
#define I_ADD _mm512_add_epi32
#define I_AND _mm512_and_si512
#define I_SRL _mm512_srli_epi32
#define I_SLL _mm512_slli_epi32
#define I_GT _mm512_cmpgt_epi32_mask
#define ANY_NAN(a, b) _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q)
#define F_BLEND(a, b, m) _mm512_mask_blend_ps(m, a, b)
#define U8_WIDEN(p) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p)))
#define U16_WIDEN(p) _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p)))
/* vpmovdw keeps the low 16 bits of each lane */
#define U16_STORE2(p, a, b)                                                                      \
    (_mm256_storeu_si256((__m256i *)(p), _mm512_cvtepi32_epi16(a)),                              \
     _mm256_storeu_si256((__m256i *)((p) + W), _mm512_cvtepi32_epi16(b)))
#define LDI(p) _mm512_loadu_si512(p)
#define I_SLLV _mm512_sllv_epi32
/* c ^ (w & 0x80000000): one vpternlogd */
#define SIGN_XOR(f, w) AS_F(_mm512_ternarylogic_epi32(AS_I(f), w, I1(0x80000000u), 0x78))
typedef __m256i vh;
#define VH_LOAD(p) _mm256_loadu_si256((const __m256i *)(p))
#define VH_STORE(p, h) _mm256_storeu_si256((__m256i *)(p), h)
#define H_WIDEN _mm512_cvtph_ps
#define H_NARROW(a) _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT)
#define F16_TARGET

/* vcvtne2ps2bf16 (AVX512_BF16), written as assembly so that it needs no
 * target attribute where it is inlined: run only on CPUs that have it.
 * _mm512_cvtne2ps_pbh(hi, lo): lo's 16 values, then hi's. */
static inline __attribute__((always_inline)) __m512i bf16_narrow2(__m512 lo, __m512 hi)
{
    __m512i r;
    __asm__("vcvtne2ps2bf16 %2, %1, %0" : "=v"(r) : "v"(hi), "v"(lo));
    return r;
}
/* 32 lanes by vcvtne2ps2bf16 (see store_bf16_ne below: a subnormal input
 * sends them through the integer rounding, out of line), widened back by
 * a shift. */
#define BF16_GROUP_STORE(d, x)                                                                   \
    do {                                                                                         \
        __m512i r;                                                                               \
        if (!_kortestz_mask16_u8(_mm512_fpclass_ps_mask(x[0], 0x20),                             \
                                 _mm512_fpclass_ps_mask(x[1], 0x20))) {                          \
            float v[32];                                                                         \
            STF(v, x[0]);                                                                        \
            STF(v + 16, x[1]);                                                                   \
            bf16_store_cold(d, v);                                                               \
            r = _mm512_loadu_si512(d);                                                           \
        } else {                                                                                 \
            r = bf16_narrow2(x[0], x[1]);                                                        \
            _mm512_storeu_si512(d, r);                                                           \
        }                                                                                        \
        x[0] = AS_F(I_SLL(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(r)), 16));                \
        x[1] = AS_F(I_SLL(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(r, 1)), 16));          \
    } while (0)

#include "tile_simd.h"

/* AVX512_BF16's vcvtne2ps2bf16 narrows 32 lanes in one instruction, rounding
 * to nearest even and making NaN quiet with its top bits kept, as
 * core/convert.h does, but it flushes subnormal inputs to zero: 32 lanes with
 * a subnormal (vfpclassps, class 0x20) take the integer rounding instead. */
#define BF16_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512bf16")))
BF16_TARGET static void store_bf16_ne(uint16_t *d, int n, const float *acc)
{
    int j = 0;
    for (; j + 2 * W <= n; j += 2 * W) {
        const __m512 lo = LDF(acc + j), hi = LDF(acc + j + W);
        if (_mm512_fpclass_ps_mask(lo, 0x20) | _mm512_fpclass_ps_mask(hi, 0x20))
            store_bf16(d + j, 2 * W, acc + j);
        else
            _mm512_storeu_si512(d + j, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
    if (j < n)
        store_bf16(d + j, n - j, acc + j);
}
LOAD_STORE(bf16ne, load_f16_hw, store_f16_hw, store_bf16_ne)

SIGN_PASSES(sign_passes_bf16ne, BF16_HW)

static const zoq__tile_ops avx512 = OPS("avx512", hw, sign_passes),
                           avx512_bf16 = OPS("avx512+bf16", bf16ne, sign_passes_bf16ne);

const zoq__tile_ops *zoq__tile_ops_avx512(int bf16)
{
    return bf16 ? &avx512_bf16 : &avx512;
}

#else
typedef int zoq__tile_avx512_not_built; /* ISO C wants a non-empty file */
#endif
