/* step_bench.c - parameter-side cost of a zoq step, ns per parameter, next to
 * the cost of one plain read-write pass over the same buffer measured in the
 * same process (bound_ratio = step / pass). The objective is a constant, so
 * only zoq's passes are timed. Medians of repeated runs.
 * Usage: step_bench [numel] [reps]; writes bench/results/step.json. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"
#include "zoq.h"

typedef struct slice {
    float *w;
    size_t n;
} slice;

static void *rw_pass(void *arg)
{
    slice *s = arg;
    for (size_t i = 0; i < s->n; i++)
        s->w[i] = s->w[i] * 0.999999f + 1e-7f;
    return NULL;
}

/* One read-write pass over w with `threads` threads, seconds (median). */
static double plain_pass(float *w, size_t n, int threads, int reps)
{
    double t[64];
    for (int r = 0; r < reps; r++) {
        pthread_t th[8];
        slice s[8];
        double t0 = now();
        for (int k = 0; k < threads; k++) {
            s[k] = (slice){w + n * (size_t)k / (size_t)threads,
                           n * (size_t)(k + 1) / (size_t)threads - n * (size_t)k / (size_t)threads};
            if (k)
                pthread_create(&th[k], NULL, rw_pass, &s[k]);
        }
        rw_pass(&s[0]);
        for (int k = 1; k < threads; k++)
            pthread_join(th[k], NULL);
        t[r] = now() - t0;
    }
    return median(t, reps);
}

static int constant(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    (void)ev;
    *loss = 1.0;
    return 0;
}

/* One zoq_step's time, seconds (median), and its pass count. */
static double step_time(float *w, size_t n, int threads, int queries, int dist, int reps,
                        long long *passes)
{
    zoq_ctx *ctx;
    double t[64];
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", w, ZOQ_F32, (int64_t)n, NULL);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, threads);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, queries);
    zoq_set_int(ctx, ZOQ_OPT_DIST, dist);
    zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, 1e-4); /* g = 0: make the update pass real */
    zoq_set_objective(ctx, constant, NULL);
    zoq_report_t rep = {.size = sizeof rep};
    zoq_step(ctx, &rep); /* warm: threads started, pages touched */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (zoq_step(ctx, &rep) != ZOQ_OK) {
            fprintf(stderr, "step failed: %s\n", zoq_last_error(ctx));
            exit(1);
        }
        t[r] = now() - t0;
    }
    *passes = rep.passes;
    zoq_destroy(ctx);
    return median(t, reps);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atoll(argv[1]) : 10000000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (reps < 1 || reps > 64 || n == 0)
        return 2;
    float *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(i % 1000) * 1e-3f;
    FILE *js = fopen("bench/results/step.json", "w");
    if (js)
        fprintf(js, "{\n  \"numel\": %zu, \"reps\": %d, \"results\": [\n", n, reps);
    const char *dist_name[2] = {"gaussian", "rademacher"};
    int first = 1;
    for (int threads = 1; threads <= 2; threads++) {
        double pass = plain_pass(w, n, threads, reps);
        printf("plain_rw_pass_t%d %.4f ns/param\n", threads, 1e9 * pass / (double)n);
        for (int dist = 0; dist < 2; dist++) {
            for (int q = 1; q <= 4; q *= 4) {
                long long passes;
                double s = step_time(w, n, threads, q, dist, reps, &passes);
                double ns = 1e9 * s / (double)n;
                printf("step_central_n%d_%s_t%d %.3f ns/param (passes %lld, bound_ratio %.1f, "
                       "per_pass_ratio %.2f)\n", q, dist_name[dist], threads, ns, passes,
                       s / pass, s / pass / (double)passes);
                if (js)
                    fprintf(js, "%s    {\"queries\": %d, \"dist\": \"%s\", \"threads\": %d, "
                            "\"ns_per_param\": %.4f, \"passes\": %lld, \"pass_ns_per_param\": "
                            "%.4f, \"bound_ratio\": %.3f}", first ? "" : ",\n", q,
                            dist_name[dist], threads, ns, passes, 1e9 * pass / (double)n,
                            s / pass);
                first = 0;
            }
        }
    }
    if (js) {
        fprintf(js, "\n  ]\n}\n");
        fclose(js);
    }
    free(w);
    return 0;
}
