/* noise_bench.c - cost of generating z, ns per element, for each
 * implementation of the noise spec (scalar reference, AVX2 and AVX-512 when
 * the CPU has them), Gaussian and Rademacher. Fills go tile by tile (512
 * elements into one reused buffer, as the CPU backend calls it), so this is
 * the generator's cost, not memory traffic. Medians of repeated runs. Also
 * the SIMD paths' axpys (acc += c * z without writing z, what the CPU
 * backend's passes call), as `noise_<dist>_axpy_<isa>`, and for the Gaussian
 * the fill followed by the same sum in a loop, `noise_gaussian_fill_axpy_<isa>`.
 * Usage: noise_bench [elements] [reps]; writes bench/results/noise.json. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "rng/noise.h"
#include "timing.h"
#include "zoq.h"

#define TILE 512

typedef void fill_fn(uint64_t, uint64_t, uint32_t, uint32_t, int, uint64_t, size_t, float *);

static float sink;

/* ns per element of filling n elements tile by tile: the median of reps
 * runs, and in *best the fastest (least disturbed by other processes). */
static double time_fill(fill_fn *fill, int dist, size_t n, int reps, double *best)
{
    static float z[TILE];
    double t[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t i = 0; i < n; i += TILE) {
            fill(0xC6D89249D5BE7411ull, 12, 3, ZOQ__STREAM_PROBE, dist, i, TILE, z);
            sink += z[i % TILE];
        }
        t[r] = now() - t0;
    }
    double mid = median(t, reps);
    *best = 1e9 * t[0] / (double)n;
    return 1e9 * mid / (double)n;
}

#ifdef ZOQ__NOISE_AVX2
/* The axpys as fills (out accumulates). */
static void axpy_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                      uint64_t offset, size_t count, float *out)
{
    if (dist == ZOQ_DIST_RADEMACHER)
        zoq__rademacher_axpy_avx2(key, step, query, stream, offset, count, 1e-3f, out);
    else
        zoq__gauss_axpy_avx2(key, step, query, stream, offset, count, 1e-3f, out);
}

static void axpy_avx512(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                        uint64_t offset, size_t count, float *out)
{
    if (dist == ZOQ_DIST_RADEMACHER)
        zoq__rademacher_axpy_avx512(key, step, query, stream, offset, count, 1e-3f, out);
    else
        zoq__gauss_axpy_avx512(key, step, query, stream, offset, count, 1e-3f, out);
}

/* Gaussian z filled, then added into out by the formula the axpys fuse. */
static void fill_axpy(fill_fn *fill, uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                      uint64_t offset, size_t count, float *out)
{
    float z[TILE];
    fill(key, step, query, stream, ZOQ_DIST_GAUSSIAN, offset, count, z);
    for (size_t j = 0; j < count; j++)
        out[j] = out[j] + 1e-3f * z[j];
}

static void fill_axpy_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                           uint64_t offset, size_t count, float *out)
{
    (void)dist;
    fill_axpy(zoq__noise_fill_avx2, key, step, query, stream, offset, count, out);
}

static void fill_axpy_avx512(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                             int dist, uint64_t offset, size_t count, float *out)
{
    (void)dist;
    fill_axpy(zoq__noise_fill_avx512, key, step, query, stream, offset, count, out);
}
#endif

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atoll(argv[1]) : (size_t)1 << 21;
    int reps = argc > 2 ? atoi(argv[2]) : 21;
    if (reps < 1 || reps > 64 || n < TILE)
        return 2;
    n -= n % TILE;
    static const char *dist_name[2] = {"gaussian", "rademacher"};
    struct { const char *name; fill_fn *fill; int ok; } impl[] = {
        {"scalar", zoq__noise_fill_scalar, 1},
#ifdef ZOQ__NOISE_AVX2
        {"avx2", zoq__noise_fill_avx2, zoq__noise_has_avx2()},
        {"avx512", zoq__noise_fill_avx512, zoq__noise_has_avx512()},
#endif
        {"selected", zoq__noise_fill, 1},
    };
    int n_impl = (int)(sizeof impl / sizeof impl[0]);
    FILE *js = fopen("bench/results/noise.json", "w");
    if (js)
        fprintf(js, "{\n  \"elements\": %zu, \"reps\": %d, \"tile\": %d, \"results\": [\n", n,
                reps, TILE);
    int first = 1;
    for (int dist = 0; dist < 2; dist++) {
        double scalar_ns = 0;
        for (int k = 0; k < n_impl; k++) {
            if (!impl[k].ok) {
                printf("noise_%s_%s skipped (CPU lacks it)\n", dist_name[dist], impl[k].name);
                continue;
            }
            double best, ns = time_fill(impl[k].fill, dist, n, reps, &best);
            if (k == 0)
                scalar_ns = ns;
            printf("noise_%s_%s %.4f ns/element\n", dist_name[dist], impl[k].name, ns);
            printf("noise_%s_%s_min %.4f ns/element\n", dist_name[dist], impl[k].name, best);
            if (k > 0)
                printf("noise_%s_%s_speedup %.2f x\n", dist_name[dist], impl[k].name,
                       scalar_ns / ns);
            if (js)
                fprintf(js, "%s    {\"dist\": \"%s\", \"impl\": \"%s\", \"ns_per_element\": %.4f, "
                        "\"min_ns_per_element\": %.4f, \"speedup_vs_scalar\": %.3f}", first ? "" : ",\n",
                        dist_name[dist], impl[k].name, ns, best, scalar_ns / ns);
            first = 0;
        }
    }
#ifdef ZOQ__NOISE_AVX2
    struct { const char *name, *what; fill_fn *axpy; int dist, ok; } axpy[] = {
        {"avx2", "rademacher_axpy", axpy_avx2, ZOQ_DIST_RADEMACHER, zoq__noise_has_avx2()},
        {"avx512", "rademacher_axpy", axpy_avx512, ZOQ_DIST_RADEMACHER, zoq__noise_has_avx512()},
        {"avx2", "gaussian_axpy", axpy_avx2, ZOQ_DIST_GAUSSIAN, zoq__noise_has_avx2()},
        {"avx512", "gaussian_axpy", axpy_avx512, ZOQ_DIST_GAUSSIAN, zoq__noise_has_avx512()},
        {"avx2", "gaussian_fill_axpy", fill_axpy_avx2, ZOQ_DIST_GAUSSIAN, zoq__noise_has_avx2()},
        {"avx512", "gaussian_fill_axpy", fill_axpy_avx512, ZOQ_DIST_GAUSSIAN,
         zoq__noise_has_avx512()}};
    for (size_t k = 0; k < sizeof axpy / sizeof axpy[0]; k++) {
        if (!axpy[k].ok)
            continue;
        double best, ns = time_fill(axpy[k].axpy, axpy[k].dist, n, reps, &best);
        printf("noise_%s_%s %.4f ns/element\n", axpy[k].what, axpy[k].name, ns);
        if (js)
            fprintf(js, ",\n    {\"dist\": \"%s\", \"impl\": \"%s\", "
                    "\"ns_per_element\": %.4f, \"min_ns_per_element\": %.4f}", axpy[k].what,
                    axpy[k].name, ns, best);
    }
#endif
    if (js) {
        fprintf(js, "\n  ]\n}\n");
        fclose(js);
    }
    return sink == 12345.0f; /* keeps the fills observable */
}
