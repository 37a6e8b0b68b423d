/* ab_step.c - one timing of zoq_step for tools/ab_step.sh: registers N f32
 * parameters, sets one technique mix, and prints the median over R rounds of
 * the CPU time per parameter of one step (4 steps a round, 1 thread, the
 * objective a constant so only zoq's own work is timed). Built against each
 * revision's libzoq.so in turn, so it uses only API both revisions have.
 * Usage: ab_step sgd|momentum|adam|hizoo|sparse [N] [R] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zoq.h"

static int constant(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    (void)ev;
    *loss = 1.0;
    return 0;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *mix = argc > 1 ? argv[1] : "sgd";
    const int64_t n = argc > 2 ? atoll(argv[2]) : (int64_t)1 << 22;
    const int rounds = argc > 3 ? atoi(argv[3]) : 9;
    if (n < 1 || rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: ab_step sgd|momentum|adam|hizoo|sparse [N >= 1] [R in 1..99]\n");
        return 2;
    }
    float *w = calloc((size_t)n, sizeof *w);
    zoq_ctx *ctx = NULL;
    if (!w || zoq_create(&ctx) != ZOQ_OK ||
        zoq_param_add(ctx, "w", w, ZOQ_F32, n, NULL) != ZOQ_OK)
        return 1;
    zoq_set_int(ctx, ZOQ_OPT_THREADS, 1);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 1);
    zoq_set_objective(ctx, constant, NULL);
    if (!strcmp(mix, "momentum"))
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM);
    else if (!strcmp(mix, "adam"))
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM);
    else if (!strcmp(mix, "hizoo"))
        zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 1);
    else if (!strcmp(mix, "sparse"))
        zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_RANDOM);
    else if (strcmp(mix, "sgd")) {
        fprintf(stderr, "ab_step: unknown mix '%s'\n", mix);
        return 2;
    }
    double t[99];
    for (int r = 0; r < rounds; r++) {
        const double t0 = cpu_seconds();
        for (int k = 0; k < 4; k++)
            if (zoq_step(ctx, NULL) != ZOQ_OK) {
                fprintf(stderr, "ab_step: %s\n", zoq_last_error(ctx));
                return 1;
            }
        t[r] = (cpu_seconds() - t0) / 4;
    }
    qsort(t, (size_t)rounds, sizeof *t, by_value);
    printf("%s %.4f\n", mix, t[rounds / 2] * 1e9 / (double)n);
    zoq_destroy(ctx);
    free(w);
    return 0;
}
