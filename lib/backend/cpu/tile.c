/* tile.c - the scalar reference of the tile pieces (tile.h) and the choice
 * of a set by CPU feature (core/cpu.h). */
#include "tile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/convert.h"
#include "core/cpu.h"
#include "rng/noise.h"
#include "zoq.h"

/* src and dst are the caller's buffers, at any address: zoq__get_* and zoq__put_*. */
static void load(const void *src, int dtype, int64_t i0, int n, float *acc)
{
    if (dtype == ZOQ_F32) {
        const float *s = (const float *)src + i0;
        for (int j = 0; j < n; j++)
            acc[j] = zoq__get_f32(s + j);
    } else if (dtype == ZOQ_F16) {
        const uint16_t *s = (const uint16_t *)src + i0;
        for (int j = 0; j < n; j++)
            acc[j] = zoq__f16_to_f32(zoq__get_u16(s + j));
    } else {
        const uint16_t *s = (const uint16_t *)src + i0;
        for (int j = 0; j < n; j++)
            acc[j] = zoq__bf16_to_f32(zoq__get_u16(s + j));
    }
}

static void store(void *dst, int dtype, int64_t i0, int n, const float *acc)
{
    if (dtype == ZOQ_F32) {
        float *d = (float *)dst + i0;
        for (int j = 0; j < n; j++)
            zoq__put_f32(d + j, acc[j]);
    } else if (dtype == ZOQ_F16) {
        uint16_t *d = (uint16_t *)dst + i0;
        for (int j = 0; j < n; j++)
            zoq__put_u16(d + j, zoq__f32_to_f16(acc[j]));
    } else {
        uint16_t *d = (uint16_t *)dst + i0;
        for (int j = 0; j < n; j++)
            zoq__put_u16(d + j, zoq__f32_to_bf16(acc[j]));
    }
}

/* The words of each block straight from Philox. */
static void rademacher_words(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                             uint64_t block, size_t nb, uint32_t *out)
{
    for (size_t i = 0; i < nb; i++) {
        uint32_t w[4];
        zoq__noise_block(key, step, query, stream, block + i, w);
        for (int k = 0; k < 4; k++)
            out[nb * (size_t)k + i] = w[k];
    }
}

/* Element by element: each pass's value is stored (rounded) and read back. */
static void sign_passes(const void *src, void *dst, int dtype, int64_t i0, int n,
                        const zoq__sign_pass *p, int n_pass)
{
    for (int j = 0; j < n; j++) {
        float x;
        load(src, dtype, i0 + j, 1, &x);
        for (int q = 0; q < n_pass; q++) {
            const zoq__sign_pass *ps = &p[q];
            if (ps->scale != 1.0f)
                x = ps->scale * x;
            for (int k = 0; k < ps->n_terms; k++) {
                const float c = ps->coef[k];
                const int w = 4 * ps->stride * k + (j / 32 % 4) * ps->stride + j / 128;
                x = x + ((ps->words[w] >> (j % 32)) & 1u ? -c : c);
            }
            store(dst, dtype, i0 + j, 1, &x);
            load(dst, dtype, i0 + j, 1, &x);
        }
    }
}

static void scale(float s, const float *x, int n, float *out)
{
    for (int j = 0; j < n; j++)
        out[j] = s * x[j];
}

static void axpy(float c, const float *z, int n, float *acc)
{
    for (int j = 0; j < n; j++)
        acc[j] = acc[j] + c * z[j];
}

static void keep(const uint8_t *m, int n, float *z)
{
    for (int j = 0; j < n; j++)
        z[j] = m[j] ? z[j] : 0.0f;
}

static void divide(const float *d, int n, float *z)
{
    for (int j = 0; j < n; j++)
        z[j] = z[j] / d[j];
}

static void root(const float *x, int n, float *out)
{
    for (int j = 0; j < n; j++)
        out[j] = sqrtf(x[j]);
}

static void curv(float c, const float *sig, const float *z, int n, float *s)
{
    for (int j = 0; j < n; j++)
        s[j] = s[j] + (c * sig[j]) * (z[j] * z[j]);
}

static void momentum(const zoq__update *u, const float *g, float *m, float *acc, int n)
{
    const float neg_lr = -u->lr;
    for (int j = 0; j < n; j++) {
        m[j] = u->mu * m[j] + g[j];
        acc[j] = acc[j] + neg_lr * m[j];
    }
}

static void adam(const zoq__update *u, const float *g, float *m, float *v, float *acc, int n)
{
    const float neg_lr = -u->lr, a1 = 1.0f - u->beta1, a2 = 1.0f - u->beta2;
    for (int j = 0; j < n; j++) {
        m[j] = u->beta1 * m[j] + a1 * g[j];
        v[j] = u->beta2 * v[j] + a2 * (g[j] * g[j]);
        float step = (m[j] / u->bc1) / (sqrtf(v[j] / u->bc2) + u->eps);
        acc[j] = acc[j] + neg_lr * step;
    }
}

static const zoq__tile_ops scalar_ops = {
    .name = "scalar", .noise = zoq__noise_fill_scalar, .rademacher_words = rademacher_words,
    .sign_passes = sign_passes, .load = load, .store = store,
    .scale = scale, .axpy = axpy, .keep = keep, .divide = divide, .root = root, .curv = curv,
    .momentum = momentum, .adam = adam};

const zoq__tile_ops *zoq__tile_ops_get(int isa)
{
#ifdef ZOQ__TILE_AVX2
    const unsigned f = zoq__cpu_features();
    const int avx2 = (f & ZOQ__CPU_AVX2) != 0, avx512 = (f & ZOQ__CPU_AVX512) != 0;
    if (isa == ZOQ__ISA_AVX512 || (isa == ZOQ__ISA_BEST && avx512))
        return avx512 ? zoq__tile_ops_avx512((f & ZOQ__CPU_AVX512_BF16) != 0) : NULL;
    if (isa == ZOQ__ISA_AVX2 || (isa == ZOQ__ISA_BEST && avx2))
        return avx2 ? zoq__tile_ops_avx2((f & ZOQ__CPU_F16C) != 0) : NULL;
#endif
    return isa == ZOQ__ISA_SCALAR || isa == ZOQ__ISA_BEST ? &scalar_ops : NULL;
}

int zoq__tile_isa_from_env(void)
{
    static const struct { const char *name; int isa; } caps[] = {
        {"scalar", ZOQ__ISA_SCALAR}, {"avx2", ZOQ__ISA_AVX2}, {"avx512", ZOQ__ISA_AVX512}};
    const char *want = getenv("ZOQ_CPU_ISA");
    if (!want)
        return ZOQ__ISA_BEST;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (strcmp(want, caps[i].name) == 0) {
            for (int isa = caps[i].isa; isa > ZOQ__ISA_SCALAR; isa--)
                if (zoq__tile_ops_get(isa))
                    return isa;
            return ZOQ__ISA_SCALAR;
        }
    return ZOQ__ISA_BEST;
}
