/* step_bench.c - parameter-side cost of zoq's steps, ns per parameter per
 * step, next to one plain read-write pass over the same buffer measured in
 * the same process (bound_ratio = step / pass). The objective is a constant,
 * so only zoq's passes are timed. Two ways to step: zoq_step (2n+1 passes
 * central) and zoq_run (the update fused with the next perturbation, 2n);
 * a zoq_run step is the time between the first evaluations of consecutive
 * steps. Every figure is the median of `reps` timings. With one thread all
 * work runs on the calling thread, so its CPU time is reported too (`_cpu`
 * lines): on a shared machine wall time also counts the time other
 * processes held the core, which a sub-slice plain pass mostly escapes and a
 * long step does not; CPU time compares the two fairly there.
 * The 1-thread n = 1 zoq_run rows of the full tables are timed again with
 * ZOQ_CPU_ISA=avx2 (`_avx2` lines): what AVX-512 adds, in the same run.
 * Usage: step_bench [max_numel] [reps]  (defaults 1e8, 5; ZOQ_BENCH_MAX caps
 * max_numel too). Prints `name value unit` lines; writes
 * bench/results/step.json, and dtype.json: the 16-bit Rademacher step over
 * the f32 one at 1e7 and max_numel, timed interleaved (dtype_ratios). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"
#include "zoq.h"

#define MAX_REPS 64

typedef struct slice {
    void *w;
    size_t bytes;
} slice;

/* Flips the lowest bit of every 32-bit word: one read and one write of each
 * byte, vectorized by the compiler's generic vectors (no FP: no subnormal
 * or NaN slow paths). Run twice it restores the buffer. */
static void *rw_pass(void *arg)
{
    typedef uint32_t v8 __attribute__((vector_size(32)));
    const slice *s = arg;
    unsigned char *p = s->w;
    size_t n = s->bytes / sizeof(v8);
    const v8 one = {1, 1, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < n; i++) {
        v8 x;
        memcpy(&x, p + i * sizeof x, sizeof x);
        x ^= one;
        memcpy(p + i * sizeof x, &x, sizeof x);
    }
    for (size_t i = n * sizeof(v8); i < s->bytes; i++)
        p[i] ^= 1;
    return NULL;
}

/* One read-write pass over `bytes` with `threads` threads, seconds (median);
 * *cpu gets the calling thread's CPU seconds (median). */
static double plain_pass(void *w, size_t bytes, int threads, int reps, double *cpu)
{
    double t[MAX_REPS], tc[MAX_REPS];
    for (int r = 0; r < reps + 1; r++) {
        pthread_t th[8];
        slice s[8];
        double t0 = now(), c0 = cpu_now();
        for (int k = 0; k < threads; k++) {
            size_t a = bytes * (size_t)k / (size_t)threads & ~(size_t)63;
            size_t b = k + 1 == threads ? bytes : bytes * (size_t)(k + 1) / (size_t)threads & ~(size_t)63;
            s[k] = (slice){(char *)w + a, b - a};
            if (k && pthread_create(&th[k], NULL, rw_pass, &s[k]) != 0)
                exit(1);
        }
        rw_pass(&s[0]);
        for (int k = 1; k < threads; k++)
            pthread_join(th[k], NULL);
        if (r > 0) { /* the first one warms up */
            t[r - 1] = now() - t0;
            tc[r - 1] = cpu_now() - c0;
        }
    }
    *cpu = median(tc, reps);
    return median(t, reps);
}

/* Wall and thread CPU times of the first evaluation of each step. */
typedef struct clock_obj {
    double t[MAX_REPS + 1], c[MAX_REPS + 1];
    int n;
} clock_obj;

static int constant(void *user, const zoq_eval_t *ev, double *loss)
{
    clock_obj *c = user;
    if (ev->point == 0 && c->n <= MAX_REPS) {
        c->c[c->n] = cpu_now();
        c->t[c->n++] = now();
    }
    *loss = 1.0;
    return 0;
}

typedef struct cfg {
    int64_t n;
    int dtype, dist, queries, threads;
    const char *isa; /* NULL: the best the CPU runs; else a ZOQ_CPU_ISA cap */
} cfg;

static char *isa_env; /* ZOQ_CPU_ISA as the run was started, or NULL */

static void fail(zoq_ctx *ctx)
{
    fprintf(stderr, "step_bench: %s\n", zoq_last_error(ctx));
    exit(1);
}

/* Seconds per step (median) with zoq_step (fused = 0) or zoq_run, the
 * calling thread's CPU seconds per step (median) and the passes of a step. */
static double step_time(void *w, const cfg *c, int fused, int reps, double *cpu,
                        long long *passes)
{
    zoq_ctx *ctx;
    clock_obj clk = {.n = 0};
    double t[MAX_REPS], tc[MAX_REPS];
    if (c->isa && setenv("ZOQ_CPU_ISA", c->isa, 1) != 0) /* read when a backend is made */
        exit(1);
    if (zoq_create(&ctx) != ZOQ_OK)
        exit(1);
    if (zoq_param_add(ctx, "w", w, c->dtype, c->n, NULL) != ZOQ_OK)
        fail(ctx);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, c->threads);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, c->queries);
    zoq_set_int(ctx, ZOQ_OPT_DIST, c->dist);
    zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, 1e-4); /* g = 0: make the update pass real */
    zoq_set_double(ctx, ZOQ_OPT_LR, 1e-6);
    zoq_set_objective(ctx, constant, &clk);
    zoq_report_t rep = {.size = sizeof rep};
    if (zoq_step(ctx, &rep) != ZOQ_OK) /* warm: threads started, pages touched */
        fail(ctx);
    if (fused) {
        clk.n = 0;
        if (zoq_run(ctx, reps + 1, NULL, &rep) != ZOQ_OK)
            fail(ctx);
        for (int r = 0; r < reps; r++) {
            t[r] = clk.t[r + 1] - clk.t[r];
            tc[r] = clk.c[r + 1] - clk.c[r];
        }
    } else {
        for (int r = 0; r < reps; r++) {
            double t0 = now(), c0 = cpu_now();
            if (zoq_step(ctx, &rep) != ZOQ_OK)
                fail(ctx);
            t[r] = now() - t0;
            tc[r] = cpu_now() - c0;
        }
    }
    *cpu = median(tc, reps);
    *passes = rep.passes;
    zoq_destroy(ctx);
    if (c->isa && (isa_env ? setenv("ZOQ_CPU_ISA", isa_env, 1) : unsetenv("ZOQ_CPU_ISA")) != 0)
        exit(1); /* back to the cap the whole run was started with */
    return median(t, reps);
}

static const char *dtype_name[3] = {"f32", "f16", "bf16"};
static const char *dist_name[2] = {"gaussian", "rademacher"};

/* e.g. 100000000 -> "1e8" */
static const char *size_name(int64_t n, char *buf, size_t cap)
{
    int e = 0;
    int64_t m = n;
    while (m >= 10 && m % 10 == 0) {
        m /= 10;
        e++;
    }
    if (m == 1)
        snprintf(buf, cap, "1e%d", e);
    else
        snprintf(buf, cap, "%lld", (long long)n);
    return buf;
}

static FILE *js;
static int js_first = 1;

/* Times one configuration and prints and records its row. */
static void one_row(void *w, const cfg *c, int fused, int reps, const char *sz, double pass,
                    double pass_cpu)
{
    long long passes;
    double cpu, s = step_time(w, c, fused, reps, &cpu, &passes);
    double ns = 1e9 * s / (double)c->n;
    char name[128];
    snprintf(name, sizeof name, "%s_%s_%s_central_n%d_%s_t%d%s%s", fused ? "zoq_run" : "zoq_step",
             sz, dtype_name[c->dtype], c->queries, dist_name[c->dist], c->threads,
             c->isa ? "_" : "", c->isa ? c->isa : "");
    printf("%s %.3f ns/param\n", name, ns);
    printf("%s_bound_ratio %.2f x\n", name, s / pass);
    if (c->threads == 1) {
        printf("%s_cpu %.3f ns/param\n", name, 1e9 * cpu / (double)c->n);
        printf("%s_bound_ratio_cpu %.2f x\n", name, cpu / pass_cpu);
    }
    fprintf(js, "%s    {\"name\": \"%s\", \"numel\": %lld, \"dtype\": \"%s\", "
            "\"dist\": \"%s\", \"queries\": %d, \"threads\": %d, \"mode\": "
            "\"%s\", \"isa\": \"%s\", \"ns_per_param\": %.4f, \"passes\": %lld, "
            "\"pass_ns_per_param\": %.4f, \"bound_ratio\": %.3f, \"cpu_ns_per_param\": "
            "%.4f, \"pass_cpu_ns_per_param\": %.4f}",
            js_first ? "" : ",\n", name, (long long)c->n, dtype_name[c->dtype],
            dist_name[c->dist], c->queries, c->threads, fused ? "run" : "step",
            c->isa ? c->isa : "best", ns, passes, 1e9 * pass / (double)c->n, s / pass,
            c->threads == 1 ? 1e9 * cpu / (double)c->n : 0.0,
            c->threads == 1 ? 1e9 * pass_cpu / (double)c->n : 0.0);
    js_first = 0;
    fflush(stdout);
}

/* n parameters of dtype, values 0 .. 1 (64-byte aligned; free() it). */
static void *init_buffer(int64_t n, int dtype)
{
    size_t bytes = (size_t)n * (dtype == ZOQ_F32 ? 4u : 2u);
    void *w = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!w)
        exit(1);
    for (int64_t i = 0; i < n; i++) {
        float x = (float)(i % 1000) * 1e-3f;
        if (dtype == ZOQ_F32)
            ((float *)w)[i] = x;
        else /* 0 .. 1 in f16 or bf16, bits of about the right size */
            ((uint16_t *)w)[i] = dtype == ZOQ_F16 ? (uint16_t)(0x3000 + i % 1000)
                                                   : (uint16_t)(0x3C00 + i % 1000);
    }
    return w;
}

/* Measures every configuration of one buffer: both distributions, n = 1
 * and 4 (or only 1 when `full` is 0), 1 and 2 threads. */
static void measure(int64_t n, int dtype, int full, int reps)
{
    size_t bytes = (size_t)n * (dtype == ZOQ_F32 ? 4u : 2u);
    void *w = init_buffer(n, dtype);
    char sz[32];
    size_name(n, sz, sizeof sz);
    for (int threads = 1; threads <= (full ? 2 : 1); threads++) {
        double pass_cpu, pass = plain_pass(w, bytes, threads, reps, &pass_cpu);
        double pass_ns = 1e9 * pass / (double)n;
        printf("plain_rw_pass_%s_%s_t%d %.4f ns/param\n", sz, dtype_name[dtype], threads, pass_ns);
        if (threads == 1)
            printf("plain_rw_pass_%s_%s_t1_cpu %.4f ns/param\n", sz, dtype_name[dtype],
                   1e9 * pass_cpu / (double)n);
        for (int dist = 0; dist < 2; dist++) {
            for (int q = 1; q <= (full ? 4 : 1); q *= 4) {
                for (int fused = 0; fused < 2; fused++) {
                    cfg c = {n, dtype, dist, q, threads, NULL};
                    one_row(w, &c, fused, reps, sz, pass, pass_cpu);
                    /* the headline rows again on the AVX2 set: what AVX-512 adds, same run */
                    if (full && fused && threads == 1 && q == 1) {
                        c.isa = "avx2";
                        one_row(w, &c, fused, reps, sz, pass, pass_cpu);
                    }
                }
            }
        }
    }
    free(w);
}

/* Issue 20: the 16-bit Rademacher step against the f32 one, per parameter,
 * zoq_run central n = 1, 1 thread. The three buffers are timed in turn,
 * `reps` rounds of f32, f16, bf16 (each round the median of `reps` steps),
 * so that a change of load hits all three alike; the ratios are of the
 * medians over rounds, in wall time and in the thread's CPU time. Appends
 * one JSON object per line to bench/results/dtype.json. */
static void dtype_ratios(int64_t n, int reps)
{
    void *w[3];
    double wall[3][MAX_REPS], cpu[3][MAX_REPS];
    for (int d = ZOQ_F32; d <= ZOQ_BF16; d++)
        w[d] = init_buffer(n, d);
    for (int r = 0; r < reps; r++)
        for (int d = ZOQ_F32; d <= ZOQ_BF16; d++) {
            cfg c = {n, d, ZOQ_DIST_RADEMACHER, 1, 1, NULL};
            long long passes;
            wall[d][r] = 1e9 * step_time(w[d], &c, 1, reps, &cpu[d][r], &passes) / (double)n;
            cpu[d][r] *= 1e9 / (double)n;
        }
    double mw[3], mc[3];
    for (int d = ZOQ_F32; d <= ZOQ_BF16; d++) {
        mw[d] = median(wall[d], reps);
        mc[d] = median(cpu[d], reps);
        free(w[d]);
    }
    char sz[32];
    size_name(n, sz, sizeof sz);
    FILE *f = fopen("bench/results/dtype.json", "a");
    if (!f)
        exit(1);
    for (int d = ZOQ_F16; d <= ZOQ_BF16; d++) {
        printf("zoq_run_%s_%s_over_f32_rademacher_t1 %.2f x\n", sz, dtype_name[d], mw[d] / mw[0]);
        printf("zoq_run_%s_%s_over_f32_rademacher_t1_cpu %.2f x\n", sz, dtype_name[d],
               mc[d] / mc[0]);
        fprintf(f, "{\"numel\": %lld, \"dtype\": \"%s\", \"rounds\": %d, \"ns_per_param\": %.4f, "
                "\"f32_ns_per_param\": %.4f, \"cpu_ns_per_param\": %.4f, "
                "\"f32_cpu_ns_per_param\": %.4f}\n", (long long)n, dtype_name[d], reps, mw[d],
                mw[0], mc[d], mc[0]);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    int64_t max;
    int reps;
    if (!bench_args(argc, argv, 100000000, MAX_REPS, &max, &reps))
        return 2;
    if (getenv("ZOQ_CPU_ISA") && !(isa_env = strdup(getenv("ZOQ_CPU_ISA"))))
        return 1;
    js = fopen("bench/results/step.json", "w");
    if (!js)
        return 1;
    fprintf(js, "{\n  \"reps\": %d, \"results\": [\n", reps);
    /* the size sweep (f32, n = 1, 1 thread) for the plot, then the table */
    for (int64_t n = 100000; n < max / 10 && n < 10000000; n *= 10)
        measure(n, ZOQ_F32, 0, reps);
    int64_t big = max < 10000000 ? max : 10000000;
    for (int dtype = ZOQ_F32; dtype <= ZOQ_BF16; dtype++)
        measure(big, dtype, 1, reps);
    if (max > big)
        measure(max, ZOQ_F32, 1, reps);
    remove("bench/results/dtype.json");
    for (int64_t n = big; n <= max; n *= 10)
        dtype_ratios(n, reps);
    fprintf(js, "\n  ]\n}\n");
    fclose(js);
    free(isa_env);
    return 0;
}
