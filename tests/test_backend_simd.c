/* test_backend_simd.c - the SIMD pass kernels against the scalar reference,
 * bit for bit: every tile piece on ragged lengths and special values (NaN
 * through loads and stores, infinities, subnormals, f16 overflow, NaNs the
 * arithmetic makes), every 16-bit pattern through the
 * f16/bf16 loads, and whole passes (moves, weight decay, masks, momentum,
 * Adam, HiZOO, chained passes) for f32, f16 and bf16 storage across thread
 * counts, for each SIMD set the CPU runs (AVX2, AVX-512), the
 * ZOQ_CPU_ISA cap, and the CPUID + XCR0 rule that decides which sets run.
 * Skips the SIMD half where the CPU lacks AVX2. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/tile.h"
#include "core/convert.h"
#include "core/cpu.h"
#include "zoq.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t next32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* A float that is usually ordinary (|x| around 1e-3 .. 1e3) and sometimes
 * special: NaN, ±Inf, ±0, subnormal, beyond f16's range, an f16/bf16
 * rounding tie. */
static float any_float(void)
{
    uint32_t r = next32();
    switch (r % 16) {
    case 0: return zoq__f32_from_bits(0x7FC00000u | (next32() & 0x803FFFFFu)); /* NaN */
    case 1: return (r & 16) ? INFINITY : -INFINITY;
    case 2: return (r & 16) ? 0.0f : -0.0f;
    case 3: return zoq__f32_from_bits(next32() & 0x807FFFFFu);                  /* subnormal */
    case 4: return zoq__f32_from_bits((next32() & 0x8000E000u) | 0x47800000u); /* >= 65536 */
    case 5: return zoq__f32_from_bits((next32() & 0xFFFF0000u) | 0x8000u);     /* bf16 tie */
    case 6: return zoq__f32_from_bits((next32() & 0xC7FFE000u) | 0x1000u);     /* f16 tie */
    default: return ((float)(next32() % 2000001) - 1e6f) * 1e-3f * (float)(1 + r % 7);
    }
}

static float no_nan(float f)
{
    return isnan(f) ? 1.5f : f;
}

static const zoq__tile_ops *simd_sets[4];
static int n_simd;

static void find_simd(void)
{
    n_simd = 0;
#ifdef ZOQ__TILE_AVX2
    if (zoq__tile_ops_get(ZOQ__ISA_AVX2)) {
        simd_sets[n_simd++] = zoq__tile_ops_get(ZOQ__ISA_AVX2);
        simd_sets[n_simd++] = zoq__tile_ops_avx2(0); /* f16 in software: CPUs without F16C */
    }
    if (zoq__tile_ops_get(ZOQ__ISA_AVX512)) {
        simd_sets[n_simd++] = zoq__tile_ops_avx512(0); /* bf16 by integer rounding */
        if (zoq__cpu_features() & ZOQ__CPU_AVX512_BF16)
            simd_sets[n_simd++] = zoq__tile_ops_avx512(1);
    }
#endif
    if (n_simd == 0)
        cr_skip_test("this CPU (or build) has no SIMD tile set");
}

#define EQ_BYTES(a, b, bytes, ...) cr_assert(memcmp((a), (b), (bytes)) == 0, __VA_ARGS__)

Test(tile_simd, every_piece_on_ragged_lengths_and_special_values)
{
    find_simd();
    const zoq__tile_ops *ref = zoq__tile_ops_get(ZOQ__ISA_SCALAR);
    enum { T = ZOQ__TILE };
    static float x[T + 8], y[T + 8], z[T + 8], r1[T + 8], r2[T + 8], m1[T], m2[T], v1[T], v2[T];
    static uint16_t h[T + 8], h1[T + 8], h2[T + 8];
    static uint8_t mk[T];
    const zoq__update u = {.kind = ZOQ_OPTIM_ADAM, .lr = 0.01f, .mu = 0.9f, .beta1 = 0.9f,
                           .beta2 = 0.999f, .eps = 1e-8f, .bc1 = 0.19f, .bc2 = 0.002f};
    for (int s = 0; s < n_simd; s++) {
        const zoq__tile_ops *o = simd_sets[s];
        for (int round = 0; round < 600; round++) {
            int n = round < 100 ? round : round < 200 ? T - (round - 100) % 24 : 1 + (int)(next32() % T);
            int off = (int)(next32() % 8); /* unaligned starts */
            for (int j = 0; j < n + off; j++) {
                x[j] = any_float();
                y[j] = any_float();
                z[j] = (float)(next32() % 4001) * 1e-3f - 2.0f; /* noise-like, finite */
                h[j] = (uint16_t)next32();
            }
            for (int j = 0; j < n; j++) {
                mk[j] = (uint8_t)(next32() % 3 ? next32() % 2 : 0);
                m1[j] = m2[j] = any_float();
                v1[j] = v2[j] = fabsf(any_float());
            }
            for (int dt = ZOQ_F32; dt <= ZOQ_BF16; dt++) {
                const void *src = dt == ZOQ_F32 ? (const void *)x : (const void *)h;
                ref->load(src, dt, off, n, r1);
                o->load(src, dt, off, n, r2);
                EQ_BYTES(r1, r2, (size_t)n * 4, "%s load dtype %d n %d", o->name, dt, n);
                if (dt == ZOQ_F32) {
                    ref->store(r1, dt, off, n, x + off);
                    o->store(r2, dt, off, n, x + off);
                    EQ_BYTES(r1 + off, r2 + off, (size_t)n * 4, "%s store f32", o->name);
                } else {
                    ref->store(h1, dt, off, n, x + off);
                    o->store(h2, dt, off, n, x + off);
                    EQ_BYTES(h1 + off, h2 + off, (size_t)n * 2, "%s store dtype %d n %d",
                             o->name, dt, n);
                }
            }
            /* Arithmetic with two NaN operands returns the first on x86, and which
             * is first is the compiler's choice even in the reference: from here
             * on the only NaNs are those the arithmetic makes (Inf - Inf, 0 * Inf),
             * which are the same default NaN either way. */
            for (int j = 0; j < n + off; j++) {
                x[j] = no_nan(x[j]);
                y[j] = no_nan(y[j]);
            }
            for (int j = 0; j < n; j++) {
                m1[j] = m2[j] = no_nan(m1[j]);
                v1[j] = v2[j] = no_nan(v1[j]);
            }
            float c = any_float();
            if (isnan(c) || isinf(c))
                c = 0.37f;
            memcpy(r1, y, sizeof y);
            memcpy(r2, y, sizeof y);
            ref->scale(c, x + off, n, r1);
            o->scale(c, x + off, n, r2);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s scale", o->name);
            ref->axpy(c, z + off, n, r1);
            o->axpy(c, z + off, n, r2);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s axpy", o->name);
            ref->keep(mk, n, r1);
            o->keep(mk, n, r2);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s keep", o->name);
            ref->divide(y + off, n, r1);
            o->divide(y + off, n, r2);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s divide", o->name);
            ref->root(x + off, n, r1);
            o->root(x + off, n, r2);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s root", o->name);
            ref->curv(c, y + off, z + off, n, r1);
            o->curv(c, y + off, z + off, n, r2);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s curv", o->name);
            ref->momentum(&u, z + off, m1, r1, n);
            o->momentum(&u, z + off, m2, r2, n);
            EQ_BYTES(m1, m2, (size_t)n * 4, "%s momentum m", o->name);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s momentum", o->name);
            ref->adam(&u, z + off, m1, v1, r1, n);
            o->adam(&u, z + off, m2, v2, r2, n);
            EQ_BYTES(m1, m2, (size_t)n * 4, "%s adam m", o->name);
            EQ_BYTES(v1, v2, (size_t)n * 4, "%s adam v", o->name);
            EQ_BYTES(r1, r2, (size_t)n * 4, "%s adam", o->name);
        }
    }
}

Test(tile_simd, half_formats_every_pattern_and_f32_sweep)
{
    find_simd();
    const zoq__tile_ops *ref = zoq__tile_ops_get(ZOQ__ISA_SCALAR);
    static uint16_t all[65536], h1[65536], h2[65536];
    static float f1[65536], f2[65536];
    for (uint32_t i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    for (int s = 0; s < n_simd; s++) {
        const zoq__tile_ops *o = simd_sets[s];
        for (int dt = ZOQ_F16; dt <= ZOQ_BF16; dt++) {
            for (int b = 0; b < 65536; b += ZOQ__TILE) {
                ref->load(all, dt, b, ZOQ__TILE, f1 + b);
                o->load(all, dt, b, ZOQ__TILE, f2 + b);
            }
            EQ_BYTES(f1, f2, sizeof f1, "%s load of every dtype %d pattern", o->name, dt);
            /* f32 -> half: 2^32 patterns in strides of 65536 from random starts */
            for (int rep = 0; rep < 4; rep++) {
                uint32_t start = next32();
                for (uint32_t i = 0; i < 65536; i++)
                    f1[i] = zoq__f32_from_bits(start + i * 65537u);
                for (int b = 0; b < 65536; b += ZOQ__TILE) {
                    ref->store(h1, dt, b, ZOQ__TILE, f1 + b);
                    o->store(h2, dt, b, ZOQ__TILE, f1 + b);
                }
                EQ_BYTES(h1, h2, sizeof h1, "%s store dtype %d from %08x", o->name, dt, start);
            }
        }
    }
}

/* A 16-bit pattern for a tensor of dtype: ordinary values mostly, and
 * every kind of special one (quiet and signaling NaN, ±Inf, subnormals). */
static uint16_t any_half(int dtype)
{
    uint32_t r = next32();
    if (r % 8)
        return dtype == ZOQ_F16 ? zoq__f32_to_f16(any_float()) : zoq__f32_to_bf16(any_float());
    return (uint16_t)next32(); /* any pattern */
}

/* The sign passes of every set equal the scalar reference's bit for bit:
 * one pass or a chained pair, of 1 to 3 terms each (the one-sweep pair and
 * the sweep-per-term paths), word rows wider than the tile, dst apart from
 * src or the same, at odd byte addresses, on values with quiet and
 * signaling NaNs, infinities, subnormals and rounding ties, with scales and
 * coefs that overflow or underflow. */
Test(tile_simd, sign_passes_every_shape_and_special_value)
{
    find_simd();
    const zoq__tile_ops *ref = zoq__tile_ops_get(ZOQ__ISA_SCALAR);
    static const int shapes[4][2] = {{1, 1}, {3, 1}, {1, 2}, {2, 3}};
    static const float scales[4] = {1.0f, 0.999f, -2.5f, 1e30f};
    enum { T = ZOQ__TILE, MAXW = 2 * 3 * 4 * (T / 128 + 2) };
    static unsigned char src[4 * (T + 8)], d1[4 * (T + 8)], d2[4 * (T + 8)]; /* i0 < 5, off < 4 */
    static uint32_t words[MAXW];
    int tested = 0;
    for (int s = 0; s < n_simd; s++) {
        const zoq__tile_ops *o = simd_sets[s];
        if (!o->sign_passes)
            continue; /* the set without F16C */
        tested++;
        for (int round = 0; round < 800; round++) {
            const int n = 128 * (1 + (int)(next32() % (T / 128)));
            const int stride = n / 128 + (int)(next32() % 3);
            const int n_pass = 1 + round % 2, *terms = shapes[round / 2 % 4];
            const int off = (int)(next32() % 4), i0 = (int)(next32() % 5);
            const int in_place = round % 3 == 0;
            float coef[2][3];
            zoq__sign_pass sp[2];
            for (int j = 0; j < MAXW; j++)
                words[j] = next32();
            for (int p = 0; p < 2; p++) {
                for (int k = 0; k < 3; k++) {
                    const float c = any_float();
                    coef[p][k] = isnan(c) ? 3e38f : c;
                }
                sp[p] = (zoq__sign_pass){scales[next32() % 4], terms[p], coef[p],
                                         words + p * 3 * 4 * stride, stride};
            }
            for (int dt = ZOQ_F32; dt <= ZOQ_BF16; dt++) {
                const size_t es = dt == ZOQ_F32 ? 4 : 2, bytes = (size_t)(n + i0) * es;
                for (int j = 0; j < n + i0; j++) {
                    if (dt == ZOQ_F32) {
                        const uint32_t snan = 0x7F800001u + next32() % 0x3FFFFF;
                        const float x = next32() % 16 ? any_float() : zoq__f32_from_bits(snan);
                        memcpy(src + off + 4 * (size_t)j, &x, 4);
                    } else {
                        const uint16_t h = any_half(dt);
                        memcpy(src + off + 2 * (size_t)j, &h, 2);
                    }
                }
                if (in_place) { /* each from its own copy */
                    memcpy(d1 + off, src + off, bytes);
                    memcpy(d2 + off, src + off, bytes);
                } else {
                    memset(d1, 0x5A, sizeof d1);
                    memset(d2, 0x5A, sizeof d2);
                }
                ref->sign_passes((in_place ? d1 : src) + off, d1 + off, dt, i0, n, sp, n_pass);
                o->sign_passes((in_place ? d2 : src) + off, d2 + off, dt, i0, n, sp, n_pass);
                EQ_BYTES(d1 + off + es * (size_t)i0, d2 + off + es * (size_t)i0, (size_t)n * es,
                         "%s sign passes dtype %d n %d shape %d/%d+%d", o->name, dt, n, n_pass,
                         terms[0], terms[1]);
            }
        }
    }
    if (!tested)
        cr_skip_test("no SIMD set with sign passes on this CPU");
}

/* Buffers of one tensor: data and everything a pass may write. */
typedef struct tens {
    zoq__tensor t;
    void *data;
    float *m, *v, *sigma;       /* the stages' state */
    uint8_t *bits;
    zoq__moments mv;
    zoq__mask_state ms;
} tens;

static void tens_make(tens *a, int dtype, int64_t n, uint64_t seed)
{
    rng_state = seed;
    size_t es = dtype == ZOQ_F32 ? 4 : 2;
    a->data = malloc((size_t)n * es);
    a->t = (zoq__tensor){.data = a->data, .dtype = dtype, .numel = n, .key = seed * 7 + 1};
    a->m = malloc((size_t)n * 4);
    a->v = malloc((size_t)n * 4);
    a->sigma = malloc((size_t)n * 4);
    a->bits = calloc((size_t)n / 8 + 1, 1);
    a->mv = (zoq__moments){a->m, a->v};
    a->ms = (zoq__mask_state){a->bits, 0.5f};
    for (int64_t i = 0; i < n; i++) {
        float x = (next32() % 50 == 0) ? any_float() : (float)(next32() % 2001) * 1e-3f - 1.0f;
        if (dtype == ZOQ_F32)
            ((float *)a->data)[i] = x;
        else
            ((uint16_t *)a->data)[i] = dtype == ZOQ_F16 ? zoq__f32_to_f16(x) : zoq__f32_to_bf16(x);
        a->m[i] = (float)(next32() % 1000) * 1e-4f;
        a->v[i] = (float)(next32() % 1000) * 1e-6f;
        a->sigma[i] = 0.5f + (float)(next32() % 1000) * 1e-3f;
    }
}

static void tens_no_nan(tens *a)
{
    for (int64_t i = 0; i < a->t.numel; i++) {
        if (a->t.dtype == ZOQ_F32)
            ((float *)a->data)[i] = no_nan(((float *)a->data)[i]);
        else if (isnan(zoq__load_f32(a->data, a->t.dtype, i)))
            ((uint16_t *)a->data)[i] = 0x3C00; /* 1.0 in f16; 2^-7 in bf16 */
    }
}

static void tens_free(tens *a)
{
    free(a->data);
    free(a->m);
    free(a->v);
    free(a->sigma);
    free(a->bits);
}

static void tens_same(const tens *a, const tens *b, const char *what)
{
    int64_t n = a->t.numel;
    size_t es = a->t.dtype == ZOQ_F32 ? 4 : 2;
    EQ_BYTES(a->data, b->data, (size_t)n * es, "%s: data (dtype %d, n %lld)", what, a->t.dtype,
             (long long)n);
    EQ_BYTES(a->m, b->m, (size_t)n * 4, "%s: m", what);
    EQ_BYTES(a->v, b->v, (size_t)n * 4, "%s: v", what);
    EQ_BYTES(a->sigma, b->sigma, (size_t)n * 4, "%s: sigma", what);
    EQ_BYTES(a->bits, b->bits, (size_t)n / 8 + 1, "%s: bits", what);
}

/* The pass variants a step is made of (backend.h), on tensor t. */
enum { V_MOVE, V_DECAY, V_FRESH, V_MASK_STORE, V_MASK_BITS, V_MASK_RANDOM, V_MOMENTUM, V_ADAM,
       V_HIZOO_ADAM, V_HIZOO_SGD_MASKED, V_NAN_COEF, V_COUNT };

static const zoq__term terms[3] = {{5, 0, 1e-2f}, {5, 1, -3e-2f}, {4, 0, 7e-3f}};
static const zoq__term grad[2] = {{5, 0, 0.75f}, {5, 1, -1.25f}};
static zoq__term nan_term = {5, 2, 0.0f}; /* coef set to NaN at run time */

/* The stages of backend.h for these arguments (NULL: none), over a's state. */
static void stages(zoq__pass *ps, tens *a, const zoq__mask *mk, const zoq__hessian *hs,
                   const zoq__update *u)
{
    if (mk)
        zoq__pass_stage(ps, ZOQ__STAGE_MASK, mk, &a->ms);
    if (hs) {
        zoq__pass_stage(ps, ZOQ__STAGE_PRECOND, hs, a->sigma);
        zoq__pass_stage(ps, ZOQ__STAGE_CURV, hs, a->sigma);
    }
    if (u && u->kind == ZOQ_OPTIM_ADAM)
        zoq__pass_stage(ps, ZOQ__STAGE_ADAM, u, &a->mv);
    else if (u && u->kind == ZOQ_OPTIM_MOMENTUM)
        zoq__pass_stage(ps, ZOQ__STAGE_MOMENTUM, u, a->m);
    else if (u)
        zoq__pass_stage(ps, ZOQ__STAGE_SGD, u, NULL);
}

static zoq__pass variant(int v, int dist, tens *a, zoq__update *u, zoq__hessian *hs,
                         zoq__mask *mk)
{
    zoq__pass ps = {.src = &a->t, .dst = a->t.data, .stream = 0, .dist = dist, .scale = 1.0f,
                    .n_terms = 2, .terms = terms};
    *u = (zoq__update){.kind = ZOQ_OPTIM_MOMENTUM, .n_grad = 2, .grad = grad, .lr = 1e-2f,
                       .mu = 0.9f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-6f, .bc1 = 0.1f,
                       .bc2 = 0.01f};
    *hs = (zoq__hessian){.keep = 0.9f, .floor = 0.6f, .n_curv = 2, .curv = grad};
    *mk = (zoq__mask){.kind = ZOQ__MASK_MAGNITUDE_STORE, .keep = 0.4f, .step = 5};
    switch (v) {
    case V_DECAY: ps.scale = 0.999f; ps.n_terms = 3; break;
    case V_FRESH: ps.scale = 0.0f; break;
    case V_MASK_STORE: stages(&ps, a, mk, NULL, NULL); break;
    case V_MASK_BITS: mk->kind = ZOQ__MASK_BITS; stages(&ps, a, mk, NULL, NULL); break;
    case V_MASK_RANDOM: mk->kind = ZOQ__MASK_RANDOM; stages(&ps, a, mk, NULL, NULL); break;
    case V_MOMENTUM: stages(&ps, a, NULL, NULL, u); break;
    case V_ADAM: u->kind = ZOQ_OPTIM_ADAM; stages(&ps, a, NULL, NULL, u); break;
    case V_HIZOO_ADAM: u->kind = ZOQ_OPTIM_ADAM; stages(&ps, a, NULL, hs, u); break;
    case V_NAN_COEF: /* c * z keeps a NaN's sign; a sign flip of c would not */
        nan_term.coef = zoq__f32_from_bits(0x7FC01234u);
        ps.terms = &nan_term;
        ps.n_terms = 1;
        break;
    case V_HIZOO_SGD_MASKED:
        u->kind = ZOQ_OPTIM_SGD; mk->kind = ZOQ__MASK_RANDOM; stages(&ps, a, mk, hs, u); break;
    default: break;
    }
    return ps;
}

/* The SIMD instruction sets this CPU runs, each tested whole below. */
static int simd_isas(int isa[2])
{
    int n = 0;
    if (zoq__tile_ops_get(ZOQ__ISA_AVX2))
        isa[n++] = ZOQ__ISA_AVX2;
    if (zoq__tile_ops_get(ZOQ__ISA_AVX512))
        isa[n++] = ZOQ__ISA_AVX512;
    if (n == 0)
        cr_skip_test("this CPU (or build) has no SIMD tile set");
    return n;
}

static void every_pass(int isa)
{
    zoq__backend *be[3];
    cr_assert_eq(zoq__cpu_backend_create_isa(1, ZOQ__ISA_SCALAR, &be[0]), ZOQ_OK);
    cr_assert_eq(zoq__cpu_backend_create_isa(1, isa, &be[1]), ZOQ_OK);
    cr_assert_eq(zoq__cpu_backend_create_isa(3, isa, &be[2]), ZOQ_OK);
    /* ragged tails, a tile, a chunk and more (the pool splits above 65536) */
    const int64_t sizes[] = {1, 7, 8, 9, 131, 511, 513, 4097, 16385, 70001};
    for (size_t si = 0; si < N_OF(sizes); si++) {
        for (int dt = ZOQ_F32; dt <= ZOQ_BF16; dt++) {
            for (int v = 0; v < V_COUNT; v++) {
                int dist = (int)((si + (size_t)v) % 2);
                tens a[3];
                for (int k = 0; k < 3; k++) {
                    tens_make(&a[k], dt, sizes[si], 1000 + si);
                    if (v == V_NAN_COEF) /* one NaN operand at most (see above) */
                        tens_no_nan(&a[k]);
                    zoq__update u;
                    zoq__hessian hs;
                    zoq__mask mk;
                    if (v == V_MASK_BITS) { /* bits from a magnitude pass first */
                        zoq__pass st = variant(V_MASK_STORE, dist, &a[k], &u, &hs, &mk);
                        cr_assert_eq(be[k]->iface->run_passes(be[k], &st, 1), ZOQ_OK);
                    }
                    zoq__pass ps = variant(v, dist, &a[k], &u, &hs, &mk);
                    cr_assert_eq(be[k]->iface->run_passes(be[k], &ps, 1), ZOQ_OK);
                }
                char what[64];
                snprintf(what, sizeof what, "isa %d variant %d dist %d", isa, v, dist);
                tens_same(&a[0], &a[1], what);
                tens_same(&a[0], &a[2], what);
                for (int k = 0; k < 3; k++)
                    tens_free(&a[k]);
            }
        }
    }
    for (int k = 0; k < 3; k++)
        be[k]->iface->destroy(be[k]);
}

Test(backend_simd, every_pass_variant_dtype_and_thread_count)
{
    int isa[2];
    for (int i = 0, n = simd_isas(isa); i < n; i++)
        every_pass(isa[i]);
}

/* A caller may register a buffer at any address: every set moves and
 * updates one at an odd address (here +1 byte) to the bits of the aligned
 * copy, and materializes into one. UBSan (make check SANITIZE=1) flagged the
 * typed loads and stores this took before. */
Test(backend_simd, buffers_at_odd_addresses_give_the_same_bits)
{
    const int isas[3] = {ZOQ__ISA_SCALAR, ZOQ__ISA_AVX2, ZOQ__ISA_AVX512};
    for (int i = 0; i < 3; i++) {
        zoq__backend *be;
        if (!zoq__tile_ops_get(isas[i]))
            continue;
        cr_assert_eq(zoq__cpu_backend_create_isa(1, isas[i], &be), ZOQ_OK);
        for (int dt = ZOQ_F32; dt <= ZOQ_BF16; dt++) {
            for (int v = V_MOVE; v <= V_ADAM; v += V_ADAM - V_MOVE) {
                const int64_t n = 1000 + 13; /* tiles and a ragged tail */
                const size_t bytes = (size_t)n * (dt == ZOQ_F32 ? 4 : 2);
                tens a[2];
                unsigned char *odd = malloc(bytes + 1), *out = malloc(bytes + 1);
                void *aligned_out = malloc(bytes);
                zoq__update u;
                zoq__hessian hs;
                zoq__mask mk;
                for (int k = 0; k < 2; k++)
                    tens_make(&a[k], dt, n, 5);
                memcpy(odd + 1, a[1].data, bytes);
                a[1].t.data = odd + 1;
                for (int k = 0; k < 2; k++) {
                    zoq__pass ps = variant(v, 0, &a[k], &u, &hs, &mk);
                    cr_assert_eq(be->iface->run_passes(be, &ps, 1), ZOQ_OK);
                    ps = variant(V_MOVE, 1, &a[k], &u, &hs, &mk); /* into another buffer */
                    ps.dst = k ? (void *)(out + 1) : aligned_out;
                    cr_assert_eq(be->iface->run_passes(be, &ps, 1), ZOQ_OK);
                }
                EQ_BYTES(a[0].data, odd + 1, bytes, "isa %d dtype %d variant %d", isas[i], dt, v);
                EQ_BYTES(aligned_out, out + 1, bytes, "isa %d dtype %d: materialized", isas[i],
                         dt);
                a[1].t.data = a[1].data;
                for (int k = 0; k < 2; k++)
                    tens_free(&a[k]);
                free(odd);
                free(out);
                free(aligned_out);
            }
        }
        be->iface->destroy(be);
    }
}

/* Chained passes on the best set the CPU runs (scalar where it has none)
 * equal the scalar set's two separate passes. */
Test(backend_simd, chained_passes_equal_two_passes)
{
    zoq__backend *sep, *chain[2];
    cr_assert_eq(zoq__cpu_backend_create_isa(1, ZOQ__ISA_SCALAR, &sep), ZOQ_OK);
    cr_assert_eq(zoq__cpu_backend_create_isa(1, ZOQ__ISA_BEST, &chain[0]), ZOQ_OK);
    cr_assert_eq(zoq__cpu_backend_create_isa(2, ZOQ__ISA_BEST, &chain[1]), ZOQ_OK);
    cr_assert(ZOQ__BACKEND_HAS(chain[0], run_chained));
    const int64_t sizes[] = {3, 600, 16384 * 5 + 77};
    for (size_t si = 0; si < N_OF(sizes); si++) {
        for (int dt = ZOQ_F32; dt <= ZOQ_BF16; dt++) {
            /* an update (Adam, weight decay) chained with the next step's move */
            tens a[3];
            zoq__update u[3];
            zoq__hessian hs;
            zoq__mask mk;
            zoq__pass first[3], then[3];
            for (int k = 0; k < 3; k++) {
                tens_make(&a[k], dt, sizes[si], 77 + si);
                first[k] = variant(V_ADAM, (int)si % 2, &a[k], &u[k], &hs, &mk);
                first[k].scale = 0.999f;
                then[k] = variant(V_MOVE, (int)si % 2, &a[k], &u[k], &hs, &mk);
                then[k].n_terms = 1;
                then[k].terms = &terms[2];
            }
            cr_assert_eq(sep->iface->run_passes(sep, &first[0], 1), ZOQ_OK);
            cr_assert_eq(sep->iface->run_passes(sep, &then[0], 1), ZOQ_OK);
            for (int k = 1; k < 3; k++)
                cr_assert_eq(chain[k - 1]->iface->run_chained(chain[k - 1], &first[k], &then[k], 1),
                             ZOQ_OK);
            tens_same(&a[0], &a[1], "chained, 1 thread");
            tens_same(&a[0], &a[2], "chained, 2 threads");
            for (int k = 0; k < 3; k++)
                tens_free(&a[k]);
        }
    }
    sep->iface->destroy(sep);
    chain[0]->iface->destroy(chain[0]);
    chain[1]->iface->destroy(chain[1]);
}

/* ZOQ_CPU_ISA caps the set a backend picks, falling back to the best the CPU
 * runs below the cap; an unknown value or none leaves the choice to the CPU. */
Test(tile_simd, cpu_isa_cap_from_the_environment)
{
    const int upto_avx2 = zoq__tile_ops_get(ZOQ__ISA_AVX2) ? ZOQ__ISA_AVX2 : ZOQ__ISA_SCALAR;
    const int upto_avx512 = zoq__tile_ops_get(ZOQ__ISA_AVX512) ? ZOQ__ISA_AVX512 : upto_avx2;
    const struct { const char *value; int expect; } cases[] = {
        {"scalar", ZOQ__ISA_SCALAR}, {"avx2", upto_avx2}, {"avx512", upto_avx512},
        {"sse9", ZOQ__ISA_BEST}, {"", ZOQ__ISA_BEST}};
    for (size_t i = 0; i < N_OF(cases); i++) {
        cr_assert_eq(setenv("ZOQ_CPU_ISA", cases[i].value, 1), 0);
        cr_assert_eq(zoq__tile_isa_from_env(), cases[i].expect, "ZOQ_CPU_ISA=%s", cases[i].value);
        zoq__backend *be = NULL;
        cr_assert_eq(zoq__cpu_backend_create(1, &be), ZOQ_OK, "ZOQ_CPU_ISA=%s", cases[i].value);
        be->iface->destroy(be);
    }
    cr_assert_eq(unsetenv("ZOQ_CPU_ISA"), 0);
    cr_assert_eq(zoq__tile_isa_from_env(), ZOQ__ISA_BEST);
}

/* CPUID words of a CPU with AVX2, FMA, F16C, AVX-512F/DQ (a Sapphire Rapids or
 * Zen 4 class part), and the XCR0 an OS that saves every register sets. */
#define LEAF1_ECX_ALL ((1u << 12) | (1u << 27) | (1u << 28) | (1u << 29)) /* FMA, OSXSAVE, AVX, F16C */
#define LEAF7_EBX_ALL ((1u << 5) | (1u << 16) | (1u << 17))  /* AVX2, AVX512F, AVX512DQ */

/* A feature counts only when CPUID reports it and the OS has enabled the
 * registers it uses in XCR0: the fault class of a virtual machine that
 * advertises an extension whose state it does not save. */
Test(cpu_features, cpuid_and_xcr0_must_agree)
{
    const unsigned all = ZOQ__CPU_AVX2 | ZOQ__CPU_F16C | ZOQ__CPU_AVX512;
    const unsigned ymm_only = ZOQ__CPU_AVX2 | ZOQ__CPU_F16C;
    const struct { const char *what; zoq__cpuid_words w; unsigned expect; } cases[] = {
        {"all enabled", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL, 0xe7, 0}, all},
        {"AMX and more state too", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL, 0x602e7, 0}, all},
        {"ZMM state not enabled", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL, 0x07, 0}, ymm_only},
        {"Hi16_ZMM missing", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL, 0x67, 0}, ymm_only},
        {"YMM state not enabled", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL, 0xe3, 0}, 0},
        {"OSXSAVE clear", {13, LEAF1_ECX_ALL & ~(1u << 27), LEAF7_EBX_ALL, 0xe7, 0}, 0},
        {"no AVX bit", {13, LEAF1_ECX_ALL & ~(1u << 28), LEAF7_EBX_ALL, 0xe7, 0}, 0},
        {"no leaf 7", {6, LEAF1_ECX_ALL, LEAF7_EBX_ALL, 0xe7, 0}, ZOQ__CPU_F16C},
        {"AVX2 without F16C", {13, LEAF1_ECX_ALL & ~(1u << 29), LEAF7_EBX_ALL, 0xe7, 0},
         ZOQ__CPU_AVX2 | ZOQ__CPU_AVX512},
        {"AVX-512F without DQ", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL & ~(1u << 17), 0xe7, 0},
         ymm_only},
        {"AVX2 without FMA (the Gaussian stream's fused steps)",
         {13, LEAF1_ECX_ALL & ~(1u << 12), LEAF7_EBX_ALL, 0xe7, 0}, ZOQ__CPU_F16C},
        {"AVX-512 without AVX2", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL & ~(1u << 5), 0xe7, 0},
         ZOQ__CPU_F16C},
        {"AVX512_BF16 and BW", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL | (1u << 30), 0xe7, 1u << 5},
         all | ZOQ__CPU_AVX512_BF16},
        {"AVX512_BF16 without BW", {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL, 0xe7, 1u << 5}, all},
        {"AVX512_BF16 without ZMM state",
         {13, LEAF1_ECX_ALL, LEAF7_EBX_ALL | (1u << 30), 0x07, 1u << 5}, ymm_only}};
    for (size_t i = 0; i < N_OF(cases); i++)
        cr_expect_eq(zoq__cpu_features_from(&cases[i].w), cases[i].expect, "%s: %#x, want %#x",
                     cases[i].what, zoq__cpu_features_from(&cases[i].w), cases[i].expect);
}

Test(cpu_features, cap_names)
{
    const unsigned all = ZOQ__CPU_AVX2 | ZOQ__CPU_F16C | ZOQ__CPU_AVX512;
    cr_expect_eq(zoq__cpu_features_capped(all, NULL), all);
    cr_expect_eq(zoq__cpu_features_capped(all, "scalar"), 0u);
    cr_expect_eq(zoq__cpu_features_capped(all | ZOQ__CPU_AVX512_BF16, "avx2"),
                 ZOQ__CPU_AVX2 | ZOQ__CPU_F16C);
    cr_expect_eq(zoq__cpu_features_capped(all, "avx512"), all);
    cr_expect_eq(zoq__cpu_features_capped(ZOQ__CPU_AVX2, "avx512"), ZOQ__CPU_AVX2);
    cr_expect_eq(zoq__cpu_features_capped(all, "sse9"), all);
}

/* This machine: the detection agrees with the compiler runtime's reading of
 * the same CPU (gcc's libgcc checks XCR0 too), and the sets the backend
 * offers are exactly the detected ones. Skipped under a ZOQ_CPU_ISA cap. */
Test(cpu_features, this_machine)
{
    if (getenv("ZOQ_CPU_ISA"))
        cr_skip_test("ZOQ_CPU_ISA is set");
    const unsigned f = zoq__cpu_features();
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
    cr_expect_eq((f & ZOQ__CPU_AVX2) != 0, __builtin_cpu_supports("avx2") != 0);
    cr_expect_eq((f & ZOQ__CPU_AVX512) != 0,
                 __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"));
#endif
    cr_expect_eq(zoq__tile_ops_get(ZOQ__ISA_AVX2) != NULL, (f & ZOQ__CPU_AVX2) != 0);
    cr_expect_eq(zoq__tile_ops_get(ZOQ__ISA_AVX512) != NULL, (f & ZOQ__CPU_AVX512) != 0);
    cr_expect_eq(zoq__tile_ops_get(ZOQ__ISA_SCALAR) != NULL, 1);
}

/* ZOQ_CPU_ISA, as the process sees it when zoq first asks, caps the noise
 * generator's choice too (Criterion runs each test in a fresh process, so
 * nothing has asked yet here). */
Test(cpu_features, environment_caps_the_noise_choice)
{
    cr_assert_eq(setenv("ZOQ_CPU_ISA", "scalar", 1), 0);
    cr_expect_eq(zoq__cpu_features(), 0u);
    cr_expect_eq(zoq__tile_ops_get(ZOQ__ISA_AVX2), NULL);
    cr_expect_eq(zoq__tile_ops_get(ZOQ__ISA_BEST), zoq__tile_ops_get(ZOQ__ISA_SCALAR));
}
