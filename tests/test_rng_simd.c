/* test_rng_simd.c - the SIMD noise paths against the scalar reference, bit
 * for bit: known answers, random slices (unaligned, across 2^32-block
 * boundaries), every count up to 1000, the Box-Muller transform over every
 * radius input and chosen angle inputs, the fused Gaussian and Rademacher
 * axpys against the reference's z added by the formula, and the Rademacher
 * words against Philox, while the per-thread caches hit, miss and collide,
 * for every SIMD path the CPU runs (AVX2, AVX-512). Skips when it runs
 * none. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kat/rng_vectors.h"
#include "rng/noise.h"
#include "zoq.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_COUNT 1000
#define GUARD 64 /* floats after the slice that must stay untouched */

/* The SIMD paths this build has; each test runs every one the CPU runs. */
typedef void fill_fn(uint64_t, uint64_t, uint32_t, uint32_t, int, uint64_t, size_t, float *);
typedef void axpy_fn(uint64_t, uint64_t, uint32_t, uint32_t, uint64_t, size_t, float, float *);
typedef void words_fn(uint64_t, uint64_t, uint32_t, uint32_t, uint64_t, size_t, uint32_t *);
typedef struct simd_path {
    const char *name;
    fill_fn *fill;
    void (*gauss16)(const uint64_t h[16], float z[32]);
    int (*has)(void);
    axpy_fn *gauss_axpy;
    axpy_fn *rademacher_axpy;
    words_fn *rademacher_words;
} simd_path;

static const simd_path paths[] = {
#ifdef ZOQ__NOISE_AVX2
    {"avx2", zoq__noise_fill_avx2, zoq__gauss16_avx2, zoq__noise_has_avx2, zoq__gauss_axpy_avx2,
     zoq__rademacher_axpy_avx2, zoq__rademacher_words_avx2},
    {"avx512", zoq__noise_fill_avx512, zoq__gauss16_avx512, zoq__noise_has_avx512,
     zoq__gauss_axpy_avx512, zoq__rademacher_axpy_avx512, zoq__rademacher_words_avx512},
#endif
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL}};

/* The paths to test; skips when the CPU (or build) runs none. */
static int runnable(const simd_path **out)
{
    int n = 0;
    for (const simd_path *p = paths; p->name; p++)
        if (p->has())
            out[n++] = p;
    if (n == 0)
        cr_skip_test("this CPU (or build) has no SIMD noise path");
    return n;
}

/* check(p) for every path the CPU runs. */
static void each_path(void (*check)(const simd_path *p))
{
    const simd_path *run[N_OF(paths)];
    for (int i = 0, n = runnable(run); i < n; i++)
        check(run[i]);
}

/* splitmix64: the test's own reproducible randomness. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct draw {
    uint64_t key, step, offset;
    uint32_t query, stream;
    int dist;
    size_t count;
} draw;

/* The SIMD slice equals the scalar one bit for bit and writes nothing past
 * count (both buffers start as different garbage, guards must survive). */
static void assert_same(const simd_path *p, const draw *d)
{
    static uint32_t ref[MAX_COUNT + GUARD], simd[MAX_COUNT + GUARD];
    cr_assert(d->count <= MAX_COUNT);
    memset(ref, 0xA5, sizeof ref);
    memset(simd, 0x5A, sizeof simd);
    zoq__noise_fill_scalar(d->key, d->step, d->query, d->stream, d->dist, d->offset, d->count,
                           (float *)ref);
    p->fill(d->key, d->step, d->query, d->stream, d->dist, d->offset, d->count, (float *)simd);
    for (size_t i = 0; i < d->count; i++)
        cr_assert_eq(simd[i], ref[i],
                     "%s: key %016llx step %llu query %u stream %u dist %d offset %llu "
                     "count %zu: element %zu is %08x, scalar %08x", p->name,
                     (unsigned long long)d->key,
                     (unsigned long long)d->step, d->query, d->stream, d->dist,
                     (unsigned long long)d->offset, d->count, i, simd[i], ref[i]);
    for (size_t i = d->count; i < d->count + GUARD; i++)
        cr_assert_eq(simd[i], 0x5A5A5A5Au, "%s wrote past the slice end at +%zu (count %zu)",
                     p->name, i - d->count, d->count);
}

static void known_answers(const simd_path *p)
{
    for (size_t i = 0; i < N_OF(kat_noise); i++) {
        const kat_noise_t *v = &kat_noise[i];
        uint32_t z[16];
        p->fill(v->key, v->step, v->query, v->stream, v->dist, v->offset, 16, (float *)z);
        for (int j = 0; j < 16; j++)
            cr_assert_eq(z[j], v->bits[j], "%s: vector %zu element %d: %08x != %08x", p->name,
                         i, j, z[j], v->bits[j]);
    }
}

Test(rng_simd, known_answers_bit_exact)
{
    each_path(known_answers);
}

static void every_count(const simd_path *p)
{
    static const uint64_t offsets[] = {0, 1, 2, 3, 4, 5, 31, 32, 33, 127, 128, 129, 1000, 4093};
    for (int dist = 0; dist < 2; dist++)
        for (size_t o = 0; o < N_OF(offsets); o++)
            for (size_t count = 0; count <= MAX_COUNT; count += 1 + (o > 5) * 6)
                assert_same(p, &(draw){.key = 0xC6D89249D5BE7411ull, .step = 7, .query = 5,
                                       .stream = 1, .dist = dist, .offset = offsets[o],
                                       .count = count});
}

Test(rng_simd, every_count_and_alignment)
{
    each_path(every_count);
}

/* Random streams and slices; one in four sits on a 2^32-block boundary of
 * its distribution, where the counter's high word changes inside a batch. */
static void random_slices(const simd_path *p)
{
    uint64_t s = 20240611;
    for (int t = 0; t < 4000; t++) {
        draw d;
        d.key = next(&s);
        d.step = next(&s);
        d.query = (uint32_t)next(&s) & (ZOQ__QUERY_LIMIT - 1);
        d.stream = (uint32_t)next(&s) & ZOQ__STREAM_MAX;
        d.dist = (int)(next(&s) & 1);
        d.count = (size_t)(next(&s) % (MAX_COUNT + 1));
        uint64_t per = d.dist ? ZOQ__RADE_PER_BLOCK : ZOQ__GAUSS_CHUNK;
        switch (t & 3) {
        case 0: /* near a 2^32-block (chunk) boundary, anywhere from before to after it */
            d.offset = ((next(&s) % 4 + 1) << 32) * per - 1100 + next(&s) % 1200;
            break;
        case 1: /* small offsets, every alignment */
            d.offset = next(&s) % 5000;
            break;
        case 2: /* anywhere a slice of this length may start */
            d.offset = next(&s) % (UINT64_MAX - MAX_COUNT);
            break;
        default: /* the top of the block range */
            d.offset = (UINT64_MAX - MAX_COUNT) - next(&s) % 3000;
            break;
        }
        assert_same(p, &d);
    }
}

Test(rng_simd, random_slices)
{
    each_path(random_slices);
}

/* The transform alone on chosen hashes: every value of a >> 8 (all 2^24, with
 * random low bits), the radius edges (a = 0..3: u = 2^-31; a >= 2^32 - 128:
 * u rounds to 1, which gives -0), each with an angle word that walks the 4
 * quadrants and puts the signed angle integer (b << 2) at its edges 0, 1,
 * -1, -2^31 and 2^31 - 4. */
Test(rng_simd, box_muller_every_radius_and_angle_edges)
{
    const simd_path *run[N_OF(paths)];
    const int n_run = runnable(run);
    static const uint32_t as[] = {0, 1, 2, 3, 0xFFFFFF7Fu, 0xFFFFFF80u, 0xFFFFFFFEu, 0xFFFFFFFFu};
    static const uint32_t js[] = {0, 1, 0x3FFFFFFFu, 0x20000000u, 0x1FFFFFFFu, 0x20000001u};
    uint64_t s = 99;
    uint64_t h[16];
    float ref[32], simd[32];
    for (uint32_t a = 0; a < (1u << 24); a += 16) {
        for (uint32_t j = 0; j < 16; j++) {
            uint32_t r = (uint32_t)next(&s), ah = a + j, pick = ah >> 2;
            uint32_t x = pick % 3 ? r & 0x3FFFFFFFu : js[(pick / 3) % 6];
            uint32_t lo = ah % 61 == 0 ? as[(ah / 61) % 8] : ah << 8 | (r >> 24); /* radius */
            uint32_t hi = ((ah & 3) << 30) | x;                                  /* angle */
            h[j] = (uint64_t)hi << 32 | lo;
        }
        zoq__gauss16(h, ref);
        for (int i = 0; i < n_run; i++) {
            run[i]->gauss16(h, simd);
            cr_assert(memcmp(ref, simd, sizeof ref) == 0, "%s: hashes around a >> 8 = %06x differ",
                      run[i]->name, a);
        }
    }
}

/* The fused Gaussian axpy equals acc + c * z with z the reference's, product
 * and sum rounded separately, for slices of every alignment and length
 * (whole 512-element tiles among them), coefficients 0, -0, NaN, ±Inf and
 * ordinary ones, on accumulators holding NaN, ±Inf and subnormals too; and
 * it leaves the floats past the slice alone. (A sum of two NaNs returns
 * either, as the compiler orders the operands: NaN accumulators meet only
 * finite coefficients, whose products are never NaN.) */
static void gauss_axpy(const simd_path *p)
{
    static const float coefs[] = {1e-3f, -2.5f, 0.0f, -0.0f, 1e30f, NAN, INFINITY, -INFINITY,
                                  1e-40f};
    static float z[MAX_COUNT], ref[MAX_COUNT + GUARD], got[MAX_COUNT + GUARD];
    uint64_t s = 20261206;
    for (int t = 0; t < 3000; t++) {
        const uint64_t key = next(&s), step = next(&s);
        const uint32_t query = (uint32_t)next(&s) & (ZOQ__QUERY_LIMIT - 1);
        const uint32_t stream = (uint32_t)next(&s) & ZOQ__STREAM_MAX;
        const size_t count = t % 3 == 0 ? 512 : (size_t)(next(&s) % (MAX_COUNT + 1));
        const uint64_t r = next(&s);
        const uint64_t offset = t % 3 == 0   ? 512 * (r % 100000)
                                : t % 3 == 1 ? r % 5000
                                             : r % (UINT64_MAX - MAX_COUNT);
        const float c = coefs[t % N_OF(coefs)];
        for (size_t i = 0; i < MAX_COUNT + GUARD; i++) {
            const uint32_t bits = (uint32_t)next(&s);
            float a = (float)(bits % 20001) * 1e-4f - 1.0f;
            if (next(&s) % 8 == 0) /* any pattern: NaN, Inf, subnormal, ... */
                memcpy(&a, &bits, sizeof a);
            ref[i] = got[i] = isnan(a) && !isfinite(c) ? 1.0f : a;
        }
        zoq__noise_fill_scalar(key, step, query, stream, ZOQ_DIST_GAUSSIAN, offset, count, z);
        for (size_t i = 0; i < count; i++)
            ref[i] = ref[i] + c * z[i];
        p->gauss_axpy(key, step, query, stream, offset, count, c, got);
        cr_assert(memcmp(ref, got, sizeof ref) == 0,
                  "%s: gauss_axpy key %016llx offset %llu count %zu c %g differs", p->name,
                  (unsigned long long)key, (unsigned long long)offset, count, (double)c);
    }
}

Test(rng_simd, gauss_axpy_equals_fill_then_axpy)
{
    each_path(gauss_axpy);
}

/* A walk over streams and slices that makes the per-thread caches of
 * Philox groups (and Gaussian seeds) hit and miss: each call continues the
 * previous slice or jumps within its group of blocks, under the same stream,
 * one seen a few calls before (a slot that may still hold it), one that
 * shares its slot (step + 8), or one differing from the last in exactly one
 * of key, step, query or stream. */
typedef struct walk {
    uint64_t s, key, step, offset;
    uint32_t query, stream;
    size_t count;
    struct { uint64_t key, step; uint32_t query, stream; } seen[12];
} walk;

static void walk_next(walk *w, int t)
{
    const uint64_t r = next(&w->s), k = r % 12;
    switch (r % 8) { /* 0: the same stream */
    case 1: case 2: /* one seen before */
        w->key = w->seen[k].key;
        w->step = w->seen[k].step;
        w->query = w->seen[k].query;
        w->stream = w->seen[k].stream;
        break;
    case 3: w->step += 8; break;
    case 4: w->key = next(&w->s); break;
    case 5: w->step = next(&w->s) % 64; break;
    case 6: w->query = (uint32_t)next(&w->s) & 7; break;
    case 7: w->stream = (uint32_t)next(&w->s) & ZOQ__STREAM_MAX; break;
    }
    w->seen[t % 12].key = w->key;
    w->seen[t % 12].step = w->step;
    w->seen[t % 12].query = w->query;
    w->seen[t % 12].stream = w->stream;
    w->count = ZOQ__RADE_PER_BLOCK * (size_t)(1 + (r >> 8) % (MAX_COUNT / 128));
    w->offset = (r >> 16) % 4 == 0 ? ZOQ__RADE_PER_BLOCK * ((r >> 20) % (1ull << 40))
                : (r >> 16) % 4 == 1 ? w->offset / 2048 * 2048 + 128 * ((r >> 20) % 16)
                                     : w->offset + w->count; /* the next tile */
}

/* The Rademacher axpy (whole blocks, c not NaN) equals acc + c * z of the
 * reference's z along the walk. */
static void rademacher_axpy(const simd_path *p)
{
    static const float coefs[] = {1e-3f, -2.5f, 0.0f, -0.0f, 1e30f, INFINITY, -INFINITY, 1e-40f};
    static float z[MAX_COUNT], ref[MAX_COUNT + GUARD], got[MAX_COUNT + GUARD];
    walk w = {.s = 7, .key = 1, .step = 2, .query = 3, .stream = 4};
    for (int t = 0; t < 3000; t++) {
        walk_next(&w, t);
        const float c = coefs[t % N_OF(coefs)];
        for (size_t i = 0; i < MAX_COUNT + GUARD; i++)
            ref[i] = got[i] = (float)(next(&w.s) % 20001) * 1e-4f - 1.0f;
        zoq__noise_fill_scalar(w.key, w.step, w.query, w.stream, ZOQ_DIST_RADEMACHER, w.offset,
                               w.count, z);
        for (size_t i = 0; i < w.count; i++)
            ref[i] = ref[i] + c * z[i];
        p->rademacher_axpy(w.key, w.step, w.query, w.stream, w.offset, w.count, c, got);
        cr_assert(memcmp(ref, got, sizeof ref) == 0,
                  "%s: rademacher_axpy call %d offset %llu count %zu differs", p->name, t,
                  (unsigned long long)w.offset, w.count);
    }
}

/* The Rademacher words along the walk (whole tiles of 4 blocks, and runs
 * of 1 to 7 blocks across groups) are the Philox blocks, word by word. */
static void rademacher_words(const simd_path *p)
{
    enum { MAXB = MAX_COUNT / 128 };
    uint32_t got[4 * MAXB + 4], want[4 * MAXB + 4];
    walk w = {.s = 11, .key = 5, .step = 6, .query = 1, .stream = 0};
    for (int t = 0; t < 3000; t++) {
        walk_next(&w, t);
        const size_t nb = t % 2 ? 4 : w.count / ZOQ__RADE_PER_BLOCK;
        const uint64_t block = t % 2 ? w.offset / 512 * 4 : w.offset / ZOQ__RADE_PER_BLOCK;
        for (size_t i = 0; i < nb; i++) {
            uint32_t b[4];
            zoq__noise_block(w.key, w.step, w.query, w.stream, block + i, b);
            for (int k = 0; k < 4; k++)
                want[nb * (size_t)k + i] = b[k];
        }
        memset(got, 0xEE, sizeof got);
        want[4 * nb] = 0xEEEEEEEEu; /* and nothing after them */
        p->rademacher_words(w.key, w.step, w.query, w.stream, block, nb, got);
        cr_assert(memcmp(want, got, (4 * nb + 1) * sizeof *got) == 0,
                  "%s: rademacher_words call %d block %llu nb %zu differ", p->name, t,
                  (unsigned long long)block, nb);
    }
}

Test(rng_simd, rademacher_words_are_the_philox_blocks)
{
    each_path(rademacher_words);
}

/* The per-thread Gaussian seeds along the walk are the streams' seeds. */
Test(rng_simd, gauss_seed_cache_gives_each_streams_seed)
{
    walk w = {.s = 13, .key = 2, .step = 3, .query = 0, .stream = 0};
    for (int t = 0; t < 3000; t++) {
        walk_next(&w, t);
        cr_assert_eq(zoq__gauss_seed_cached(w.key, w.step, w.query, w.stream),
                     zoq__gauss_seed(w.key, w.step, w.query, w.stream), "call %d", t);
    }
}

Test(rng_simd, rademacher_axpy_equals_fill_then_axpy)
{
    each_path(rademacher_axpy);
}

/* The dispatcher is one of the paths, so equals the reference anywhere. */
Test(rng_simd, selected_path_equals_the_reference)
{
    enum { N = 3000 };
    static float a[N], b[N];
    for (int dist = 0; dist < 2; dist++) {
        zoq__noise_fill_scalar(0x1234, 9, 3, 0, dist, 77, N, a);
        zoq__noise_fill(0x1234, 9, 3, 0, dist, 77, N, b);
        cr_assert(memcmp(a, b, sizeof a) == 0, "dist %d", dist);
    }
}
