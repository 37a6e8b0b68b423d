/* tile_avx2.c - the tile pieces of tile.h with AVX2, 8 elements a vector;
 * f16 storage converts with F16C (vcvtph2ps / vcvtps2ph, round to nearest
 * even) on CPUs that have it, a feature separate from AVX2. Every float
 * operation is the scalar reference's (tile.c) single IEEE operation in its
 * order: the file is built with -mavx2, never -mfma, and -ffp-contract=off.
 * Ragged ends (n % 8) run the scalar formula on the remaining elements.
 * The AVX-512 set is this one with the AVX-512 generator (noise_avx512.c).
 * Built only on x86; used only where zoq__tile_ops_get() saw the features. */
#include "tile.h"

#ifdef ZOQ__TILE_AVX2

#ifndef __AVX2__
#error "tile_avx2.c needs -mavx2 (see the Makefile)"
#endif
#ifdef __FAST_MATH__
#error "the pass kernels need IEEE arithmetic: no -ffast-math"
#endif

#include <immintrin.h>
#include <math.h>

#include "core/convert.h"
#include "rng/noise.h"
#include "zoq.h"

#define W 8 /* lanes */

static void load_f32(const float *s, int n, float *acc)
{
    int j = 0;
    for (; j + W <= n; j += W)
        _mm256_storeu_ps(acc + j, _mm256_loadu_ps(s + j));
    for (; j < n; j++)
        acc[j] = s[j];
}

/* bf16 -> f32 is the 16 bits moved to the top: exact. */
static void load_bf16(const uint16_t *s, int n, float *acc)
{
    int j = 0;
    for (; j + W <= n; j += W) {
        __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + j)));
        _mm256_storeu_si256((__m256i *)(acc + j), _mm256_slli_epi32(h, 16));
    }
    for (; j < n; j++)
        acc[j] = zoq__bf16_to_f32(s[j]);
}

/* core/convert.h's zoq__f32_to_bf16 on 8 lanes: NaN keeps its top bits and
 * is made quiet; otherwise x + 0x7FFF + (bit 16 of x), top half. */
static __m256i bf16_round(__m256 f)
{
    const __m256i x = _mm256_castps_si256(f);
    const __m256i ax = _mm256_and_si256(x, _mm256_set1_epi32(0x7FFFFFFF));
    const __m256i nan = _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x7F800000));
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(x, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), odd));
    r = _mm256_srli_epi32(r, 16);
    const __m256i q = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(r, q, nan);
}

static void store_bf16(uint16_t *d, int n, const float *acc)
{
    int j = 0;
    for (; j + 2 * W <= n; j += 2 * W) {
        /* values fit 16 bits: the unsigned-saturating pack keeps them; it
         * interleaves 128-bit halves, the permute puts them back in order */
        __m256i p = _mm256_packus_epi32(bf16_round(_mm256_loadu_ps(acc + j)),
                                        bf16_round(_mm256_loadu_ps(acc + j + W)));
        _mm256_storeu_si256((__m256i *)(d + j), _mm256_permute4x64_epi64(p, 0xD8));
    }
    for (; j < n; j++)
        d[j] = zoq__f32_to_bf16(acc[j]);
}

static void load_f16_soft(const uint16_t *s, int n, float *acc)
{
    for (int j = 0; j < n; j++)
        acc[j] = zoq__f16_to_f32(s[j]);
}

static void store_f16_soft(uint16_t *d, int n, const float *acc)
{
    for (int j = 0; j < n; j++)
        d[j] = zoq__f32_to_f16(acc[j]);
}

/* F16C: both conversions are IEEE's (exact widening; narrowing rounds to
 * nearest even, overflows to infinity, keeps a NaN's top payload bits and
 * makes it quiet), which is what core/convert.h computes in software, except
 * that the widening quiets a signaling NaN where convert.h keeps it as it
 * is: NaN lanes take convert.h's bits. */
__attribute__((target("avx2,f16c"))) static void load_f16c(const uint16_t *s, int n, float *acc)
{
    int j = 0;
    for (; j + W <= n; j += W) {
        __m128i h = _mm_loadu_si128((const __m128i *)(s + j));
        __m256i x = _mm256_cvtepu16_epi32(h);
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x7FFF)),
                                         _mm256_set1_epi32(0x7C00));
        __m256i bits = _mm256_or_si256(
            _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x8000)), 16),
                            _mm256_set1_epi32(0x7F800000)),
            _mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x3FF)), 13));
        __m256 f = _mm256_blendv_ps(_mm256_cvtph_ps(h), _mm256_castsi256_ps(bits),
                                    _mm256_castsi256_ps(nan));
        _mm256_storeu_ps(acc + j, f);
    }
    for (; j < n; j++)
        acc[j] = zoq__f16_to_f32(s[j]);
}

__attribute__((target("avx2,f16c"))) static void store_f16c(uint16_t *d, int n, const float *acc)
{
    int j = 0;
    for (; j + W <= n; j += W)
        _mm_storeu_si128((__m128i *)(d + j),
                         _mm256_cvtps_ph(_mm256_loadu_ps(acc + j), _MM_FROUND_TO_NEAREST_INT));
    for (; j < n; j++)
        d[j] = zoq__f32_to_f16(acc[j]);
}

#define LOAD_STORE(suffix, load_f16, store_f16)                                                  \
    static void load_##suffix(const void *src, int dtype, int64_t i0, int n, float *acc)         \
    {                                                                                            \
        if (dtype == ZOQ_F32)                                                                    \
            load_f32((const float *)src + i0, n, acc);                                           \
        else if (dtype == ZOQ_F16)                                                               \
            load_f16((const uint16_t *)src + i0, n, acc);                                        \
        else                                                                                     \
            load_bf16((const uint16_t *)src + i0, n, acc);                                       \
    }                                                                                            \
    static void store_##suffix(void *dst, int dtype, int64_t i0, int n, const float *acc)        \
    {                                                                                            \
        if (dtype == ZOQ_F32)                                                                    \
            load_f32(acc, n, (float *)dst + i0);                                                 \
        else if (dtype == ZOQ_F16)                                                               \
            store_f16((uint16_t *)dst + i0, n, acc);                                             \
        else                                                                                     \
            store_bf16((uint16_t *)dst + i0, n, acc);                                            \
    }
LOAD_STORE(hard, load_f16c, store_f16c)
LOAD_STORE(soft, load_f16_soft, store_f16_soft)

static void scale(float s, const float *x, int n, float *out)
{
    const __m256 vs = _mm256_set1_ps(s);
    int j = 0;
    for (; j + W <= n; j += W)
        _mm256_storeu_ps(out + j, _mm256_mul_ps(vs, _mm256_loadu_ps(x + j)));
    for (; j < n; j++)
        out[j] = s * x[j];
}

static void axpy(float c, const float *z, int n, float *acc)
{
    const __m256 vc = _mm256_set1_ps(c);
    int j = 0;
    for (; j + W <= n; j += W) {
        __m256 cz = _mm256_mul_ps(vc, _mm256_loadu_ps(z + j));
        _mm256_storeu_ps(acc + j, _mm256_add_ps(_mm256_loadu_ps(acc + j), cz));
    }
    for (; j < n; j++)
        acc[j] = acc[j] + c * z[j];
}

static void keep(const uint8_t *m, int n, float *z)
{
    int j = 0;
    for (; j + W <= n; j += W) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(m + j));
        __m256i on = _mm256_cmpgt_epi32(_mm256_cvtepu8_epi32(b), _mm256_setzero_si256());
        _mm256_storeu_ps(z + j, _mm256_and_ps(_mm256_loadu_ps(z + j), _mm256_castsi256_ps(on)));
    }
    for (; j < n; j++)
        z[j] = m[j] ? z[j] : 0.0f;
}

static void divide(const float *d, int n, float *z)
{
    int j = 0;
    for (; j + W <= n; j += W)
        _mm256_storeu_ps(z + j, _mm256_div_ps(_mm256_loadu_ps(z + j), _mm256_loadu_ps(d + j)));
    for (; j < n; j++)
        z[j] = z[j] / d[j];
}

static void root(const float *x, int n, float *out)
{
    int j = 0;
    for (; j + W <= n; j += W)
        _mm256_storeu_ps(out + j, _mm256_sqrt_ps(_mm256_loadu_ps(x + j)));
    for (; j < n; j++)
        out[j] = sqrtf(x[j]);
}

static void curv(float c, const float *sig, const float *z, int n, float *s)
{
    const __m256 vc = _mm256_set1_ps(c);
    int j = 0;
    for (; j + W <= n; j += W) {
        __m256 vz = _mm256_loadu_ps(z + j);
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(vc, _mm256_loadu_ps(sig + j)),
                                 _mm256_mul_ps(vz, vz));
        _mm256_storeu_ps(s + j, _mm256_add_ps(_mm256_loadu_ps(s + j), t));
    }
    for (; j < n; j++)
        s[j] = s[j] + (c * sig[j]) * (z[j] * z[j]);
}

static void momentum(const zoq__update *u, const float *g, float *m, float *acc, int n)
{
    const float neg_lr = -u->lr;
    const __m256 mu = _mm256_set1_ps(u->mu), nl = _mm256_set1_ps(neg_lr);
    int j = 0;
    for (; j + W <= n; j += W) {
        __m256 mj = _mm256_add_ps(_mm256_mul_ps(mu, _mm256_loadu_ps(m + j)),
                                  _mm256_loadu_ps(g + j));
        _mm256_storeu_ps(m + j, mj);
        _mm256_storeu_ps(acc + j, _mm256_add_ps(_mm256_loadu_ps(acc + j), _mm256_mul_ps(nl, mj)));
    }
    for (; j < n; j++) {
        m[j] = u->mu * m[j] + g[j];
        acc[j] = acc[j] + neg_lr * m[j];
    }
}

static void adam(const zoq__update *u, const float *g, float *m, float *v, float *acc, int n)
{
    const float neg_lr = -u->lr, a1 = 1.0f - u->beta1, a2 = 1.0f - u->beta2;
    const __m256 b1 = _mm256_set1_ps(u->beta1), b2 = _mm256_set1_ps(u->beta2);
    const __m256 va1 = _mm256_set1_ps(a1), va2 = _mm256_set1_ps(a2);
    const __m256 bc1 = _mm256_set1_ps(u->bc1), bc2 = _mm256_set1_ps(u->bc2);
    const __m256 eps = _mm256_set1_ps(u->eps), nl = _mm256_set1_ps(neg_lr);
    int j = 0;
    for (; j + W <= n; j += W) {
        __m256 gj = _mm256_loadu_ps(g + j);
        __m256 mj = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + j)), _mm256_mul_ps(va1, gj));
        __m256 vj = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + j)),
                                  _mm256_mul_ps(va2, _mm256_mul_ps(gj, gj)));
        _mm256_storeu_ps(m + j, mj);
        _mm256_storeu_ps(v + j, vj);
        __m256 den = _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vj, bc2)), eps);
        __m256 st = _mm256_div_ps(_mm256_div_ps(mj, bc1), den);
        _mm256_storeu_ps(acc + j, _mm256_add_ps(_mm256_loadu_ps(acc + j), _mm256_mul_ps(nl, st)));
    }
    for (; j < n; j++) {
        m[j] = u->beta1 * m[j] + a1 * g[j];
        v[j] = u->beta2 * v[j] + a2 * (g[j] * g[j]);
        float step = (m[j] / u->bc1) / (sqrtf(v[j] / u->bc2) + u->eps);
        acc[j] = acc[j] + neg_lr * step;
    }
}

/* The AVX2 pieces with the noise of `isa`: AVX-512 machines keep these
 * element-wise pieces (L1- and memory-bound, measured in docs/performance.md)
 * and take the 16-lane generator, where the time of a Gaussian step goes. */
#define OPS(label, suffix, isa)                                                                  \
    {.name = label, .noise = zoq__noise_fill_##isa,                                              \
     .rademacher_axpy = zoq__rademacher_axpy_##isa, .load = load_##suffix,                       \
     .store = store_##suffix, .scale = scale, .axpy = axpy, .keep = keep, .divide = divide,      \
     .root = root, .curv = curv, .momentum = momentum, .adam = adam}
static const zoq__tile_ops avx2_f16c = OPS("avx2+f16c", hard, avx2),
                           avx2_soft = OPS("avx2", soft, avx2),
                           avx512 = OPS("avx512", hard, avx512);

const zoq__tile_ops *zoq__tile_ops_avx2(int f16c)
{
    return f16c ? &avx2_f16c : &avx2_soft;
}

const zoq__tile_ops *zoq__tile_ops_avx512(void)
{
    return &avx512;
}

#else
typedef int zoq__tile_avx2_not_built; /* ISO C wants a non-empty file */
#endif
