/* test_backend.c - the CPU backend's pieces: f16/bf16 conversion against
 * independent references, the thread pool, and the fused pass formula. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/convert.h"
#include "backend/cpu/pool.h"
#include "backend/cpu/tile.h"
#include "rng/noise.h"
#include "zoq.h"

#ifdef __FLT16_MAX__
__extension__ typedef _Float16 half_ref; /* gcc/clang's IEEE binary16 */
#endif

Test(convert, f16_matches_the_compilers_float16)
{
#ifndef __FLT16_MAX__
    cr_skip_test("this compiler has no _Float16 to compare against");
#else
    /* gcc's _Float16 conversion is IEEE round-to-nearest-even: an independent reference. */
    for (uint32_t h = 0; h < 65536; h++) {
        half_ref ref;
        uint16_t hb = (uint16_t)h;
        memcpy(&ref, &hb, 2);
        float f = zoq__f16_to_f32(hb);
        if (isnan((float)ref)) {
            cr_assert(isnan(f));
            continue;
        }
        cr_assert_eq(zoq__f32_bits(f), zoq__f32_bits((float)ref), "f16 %04x", h);
    }
    srand(5);
    for (int i = 0; i < 2000000; i++) {
        uint32_t b = ((uint32_t)rand() << 16) ^ (uint32_t)rand() ^ ((uint32_t)rand() << 31);
        /* bias towards the f16 range and its rounding boundaries */
        if (i % 2)
            b = (b & 0x80001FFFu) | ((0x33000000u + (b & 0x0FFFE000u)) & 0x7FFFE000u);
        float f = zoq__f32_from_bits(b);
        if (isnan(f))
            continue;
        half_ref ref = (half_ref)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        cr_assert_eq(zoq__f32_to_f16(f), rb, "f32 %08x -> %04x, want %04x", b,
                     zoq__f32_to_f16(f), rb);
    }
    cr_assert_eq(zoq__f32_to_f16(65520.0f), 0x7C00);
    cr_assert_eq(zoq__f32_to_f16(65519.0f), 0x7BFF);
    cr_assert(isnan(zoq__f16_to_f32(zoq__f32_to_f16(NAN))));
#endif
}

/* bf16 reference: the nearer of the two neighbours in double, ties to even. */
static uint16_t bf16_ref(float f)
{
    uint32_t b = zoq__f32_bits(f);
    uint16_t lo = (uint16_t)(b >> 16), hi = (uint16_t)(lo + 1);
    double x = f, dl = fabs(x - zoq__bf16_to_f32(lo)), dh = fabs(zoq__bf16_to_f32(hi) - x);
    if ((b & 0xFFFFu) == 0)
        return lo;
    if (dl < dh)
        return lo;
    if (dh < dl)
        return hi;
    return (lo & 1) ? hi : lo;
}

Test(convert, bf16_rounds_to_nearest_even)
{
    srand(9);
    for (int i = 0; i < 2000000; i++) {
        uint32_t b = ((uint32_t)rand() << 16) ^ (uint32_t)rand() ^ ((uint32_t)rand() << 31);
        if (i % 3 == 0)
            b = (b & 0xFFFF0000u) | 0x8000u; /* exact ties */
        float f = zoq__f32_from_bits(b);
        if (isnan(f) || (b & 0x7F800000u) == 0x7F800000u)
            continue;
        if ((b & 0x7FFF0000u) == 0x7F7F0000u)
            continue; /* rounds up into infinity: the neighbour above is not finite */
        cr_assert_eq(zoq__f32_to_bf16(f), bf16_ref(f), "f32 %08x", b);
    }
    cr_assert_eq(zoq__f32_to_bf16(zoq__f32_from_bits(0x7F7FFFFFu)), 0x7F80);
    cr_assert(isnan(zoq__bf16_to_f32(zoq__f32_to_bf16(NAN))));
}

typedef struct count_arg {
    atomic_int *hits;
} count_arg;

static void count_task(void *arg, size_t t)
{
    count_arg *c = arg;
    atomic_fetch_add(&c->hits[t], 1);
}

Test(pool, every_task_runs_exactly_once)
{
    enum { N = 10000 };
    static atomic_int hits[N];
    for (int threads = 1; threads <= 4; threads++) {
        zoq__pool *p;
        cr_assert_eq(zoq__pool_create(threads, &p), ZOQ_OK);
        cr_assert_eq(zoq__pool_threads(p), threads);
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < N; i++)
                atomic_store(&hits[i], 0);
            count_arg a = {hits};
            zoq__pool_run(p, count_task, &a, (size_t)(round * 499 % N + 1));
            for (int i = 0; i < N; i++)
                cr_assert_eq(atomic_load(&hits[i]), i < round * 499 % N + 1 ? 1 : 0);
        }
        zoq__pool_destroy(p);
    }
    zoq__pool_destroy(NULL);
    zoq__pool *p;
    cr_assert_eq(zoq__pool_create(0, &p), ZOQ_E_INVALID);
}

/* dst = scale*src + sum coef_k z_k computed by the backend with `threads`. */
static void run_pass(int threads, int dtype, void *data, int64_t n, float scale,
                     const zoq__term *terms, int nt, int dist)
{
    zoq__backend *be;
    cr_assert_eq(zoq__cpu_backend_create(threads, &be), ZOQ_OK);
    zoq__tensor t = {.data = data, .dtype = dtype, .numel = n, .key = 0xABCDEFull};
    zoq__pass ps = {.src = &t, .dst = data, .stream = 0, .dist = dist, .scale = scale,
                    .n_terms = nt, .terms = terms};
    cr_assert_eq(be->iface->run_passes(be, &ps, 1), ZOQ_OK);
    be->iface->destroy(be);
}

Test(backend, pass_formula_and_thread_independence)
{
    enum { N = 300001 }; /* several chunks, ragged end: exercises the pool */
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *z0 = malloc(N * sizeof *z0),
          *z1 = malloc(N * sizeof *z1);
    for (int i = 0; i < N; i++)
        a[i] = b[i] = (float)sin(i * 0.001);
    const zoq__term terms[2] = {{3, 0, 0.25f}, {3, 5, -0.5f}};
    for (int dist = 0; dist < 2; dist++) {
        float *ref = malloc(N * sizeof *ref);
        memcpy(ref, a, N * sizeof *a);
        zoq__noise_fill(0xABCDEFull, 3, 0, 0, dist, 0, N, z0);
        zoq__noise_fill(0xABCDEFull, 3, 5, 0, dist, 0, N, z1);
        for (int i = 0; i < N; i++) { /* the formula of backend.h, in its order */
            float acc = 0.75f * ref[i];
            acc = acc + 0.25f * z0[i];
            acc = acc + -0.5f * z1[i];
            ref[i] = acc;
        }
        run_pass(1, ZOQ_F32, a, N, 0.75f, terms, 2, dist);
        run_pass(3, ZOQ_F32, b, N, 0.75f, terms, 2, dist);
        cr_assert(memcmp(a, ref, N * sizeof *a) == 0, "1 thread differs from the formula");
        cr_assert(memcmp(b, ref, N * sizeof *b) == 0, "3 threads differ from the formula");
        free(ref);
    }
    free(a); free(b); free(z0); free(z1);
}

Test(backend, half_storage_is_rounded_from_f32_arithmetic)
{
    enum { N = 70000 };
    uint16_t *h = malloc(N * 2), *g = malloc(N * 2);
    float *z = malloc(N * sizeof *z);
    for (int dtype = ZOQ_F16; dtype <= ZOQ_BF16; dtype++) {
        for (int i = 0; i < N; i++) {
            float v = (float)cos(i * 0.01);
            h[i] = dtype == ZOQ_F16 ? zoq__f32_to_f16(v) : zoq__f32_to_bf16(v);
            g[i] = h[i];
        }
        const zoq__term t = {3, 2, 0.125f};
        run_pass(2, dtype, h, N, 1.0f, &t, 1, ZOQ_DIST_GAUSSIAN);
        zoq__noise_fill(0xABCDEFull, 3, 2, 0, ZOQ_DIST_GAUSSIAN, 0, N, z);
        for (int i = 0; i < N; i++) {
            float x = dtype == ZOQ_F16 ? zoq__f16_to_f32(g[i]) : zoq__bf16_to_f32(g[i]);
            float want = x + 0.125f * z[i];
            uint16_t wb = dtype == ZOQ_F16 ? zoq__f32_to_f16(want) : zoq__f32_to_bf16(want);
            cr_assert_eq(h[i], wb, "dtype %d element %d", dtype, i);
        }
    }
    free(h); free(g); free(z);
}

/* A value of dtype's storage, as bits: ordinary values mostly, and quiet
 * and signaling NaNs, infinities, subnormals and zeros. */
static uint32_t stored_value(int dtype, uint32_t r)
{
    static const uint32_t f32[] = {0x7FC01234u, 0xFF80F00Du, 0x7F800000u, 0x80000001u,
                                   0x007FFFFFu, 0x80000000u, 0x00000000u, 0xFF800000u};
    static const uint16_t f16[] = {0x7E12, 0xFC05, 0x7C00, 0x8001, 0x03FF, 0x8000, 0x0000, 0xFC00};
    static const uint16_t bf16[] = {0x7FC1, 0xFF81, 0x7F80, 0x8001, 0x007F, 0x8000, 0x0000, 0xFF80};
    const float x = (float)sin(r * 0.001) * (float)(1 + r % 5);
    if (r % 17 == 0)
        return dtype == ZOQ_F32   ? f32[r / 17 % 8]
               : dtype == ZOQ_F16 ? f16[r / 17 % 8]
                                  : bf16[r / 17 % 8];
    return dtype == ZOQ_F32   ? zoq__f32_bits(x)
           : dtype == ZOQ_F16 ? zoq__f32_to_f16(x)
                              : zoq__f32_to_bf16(x);
}

static float widen(const void *data, int dtype, int64_t i)
{
    return zoq__load_f32(data, dtype, i);
}

/* x rounded to dtype into data[i], and the value data[i] now holds. */
static float narrow(void *data, int dtype, int64_t i, float x)
{
    if (dtype == ZOQ_F32)
        ((float *)data)[i] = x;
    else
        ((uint16_t *)data)[i] = dtype == ZOQ_F16 ? zoq__f32_to_f16(x) : zoq__f32_to_bf16(x);
    return widen(data, dtype, i);
}

/* Plain Rademacher passes (the CPU backend's one-sweep sign passes) give
 * the formula of backend.h with the reference's z, element by element, for
 * every instruction set, dtype and thread count: a chained pair of two-term
 * and one-term passes, a chained pair of one-term passes, and a pass into
 * another buffer; over values with NaNs (quiet and signaling), infinities,
 * subnormals and zeros, and a length that ends inside a block. */
Test(backend, rademacher_passes_follow_the_formula)
{
    enum { N = 70000 + 77 };
    static const zoq__term two[2] = {{3, 0, 0.01f}, {3, 1, -0.02f}}, one = {4, 0, 5e-3f},
                           small = {4, 1, -1e-3f}, moved = {5, 2, 0.25f};
    size_t es[3] = {4, 2, 2};
    float *z[5];
    const zoq__term *zt[5] = {&two[0], &two[1], &one, &small, &moved};
    for (int k = 0; k < 5; k++) {
        z[k] = malloc(N * sizeof *z[k]);
        zoq__noise_fill_scalar(0xABCDEFull, zt[k]->step, zt[k]->query, 0, ZOQ_DIST_RADEMACHER, 0,
                               N, z[k]);
    }
    for (int isa = ZOQ__ISA_SCALAR; isa <= ZOQ__ISA_AVX512; isa++) {
        for (int threads = 1; threads <= 2; threads++) {
            zoq__backend *be;
            if (zoq__cpu_backend_create_isa(threads, isa, &be) != ZOQ_OK)
                continue; /* a set this CPU does not run */
            for (int dt = ZOQ_F32; dt <= ZOQ_BF16; dt++) {
                unsigned char *a = malloc(N * es[dt]), *ref = malloc(N * es[dt]),
                              *out = malloc(N * es[dt]), *want = malloc(N * es[dt]);
                for (int64_t i = 0; i < N; i++) {
                    const uint32_t v = stored_value(dt, (uint32_t)i * 2654435761u >> 7);
                    memcpy(a + i * es[dt], &v, es[dt]); /* little-endian: the low bytes */
                }
                zoq__tensor t = {.data = a, .dtype = dt, .numel = N, .key = 0xABCDEFull};
                for (int shape = 0; shape < 3; shape++) {
                    memcpy(ref, a, N * es[dt]);
                    for (int64_t i = 0; i < N; i++) { /* backend.h's formula, in its order */
                        if (shape == 0) {
                            float x = 0.999f * widen(ref, dt, i);
                            x = x + two[0].coef * z[0][i];
                            x = x + two[1].coef * z[1][i];
                            x = 1.0f * narrow(ref, dt, i, x);
                            narrow(ref, dt, i, x + one.coef * z[2][i]);
                        } else if (shape == 1) {
                            float x = 0.9999f * widen(ref, dt, i);
                            x = 1.0f * narrow(ref, dt, i, x + one.coef * z[2][i]);
                            narrow(ref, dt, i, x + small.coef * z[3][i]);
                        } else {
                            narrow(want, dt, i, -1.5f * widen(ref, dt, i) + moved.coef * z[4][i]);
                        }
                    }
                    zoq__pass first = {.src = &t, .dst = a, .dist = ZOQ_DIST_RADEMACHER,
                                       .scale = shape ? 0.9999f : 0.999f,
                                       .n_terms = shape ? 1 : 2, .terms = shape ? &one : two};
                    zoq__pass then = {.src = &t, .dst = a, .dist = ZOQ_DIST_RADEMACHER,
                                      .scale = 1.0f, .n_terms = 1,
                                      .terms = shape ? &small : &one};
                    if (shape < 2) {
                        cr_assert_eq(be->iface->run_chained(be, &first, &then, 1), ZOQ_OK);
                        cr_assert(memcmp(a, ref, N * es[dt]) == 0,
                                  "isa %d threads %d dtype %d: chained shape %d", isa, threads,
                                  dt, shape);
                    } else {
                        zoq__pass mv = {.src = &t, .dst = out, .dist = ZOQ_DIST_RADEMACHER,
                                        .scale = -1.5f, .n_terms = 1, .terms = &moved};
                        cr_assert_eq(be->iface->run_passes(be, &mv, 1), ZOQ_OK);
                        cr_assert(memcmp(out, want, N * es[dt]) == 0,
                                  "isa %d threads %d dtype %d: into another buffer", isa, threads,
                                  dt);
                        cr_assert(memcmp(a, ref, N * es[dt]) == 0, "the source changed");
                    }
                }
                free(a);
                free(ref);
                free(out);
                free(want);
            }
            be->iface->destroy(be);
        }
    }
    for (int k = 0; k < 5; k++)
        free(z[k]);
}
