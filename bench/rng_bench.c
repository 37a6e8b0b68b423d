/* rng_bench.c - the Gaussian generator of this build (RNG contract 3) against
 * contract 1's in one process: this build's libzoq.so and contract 1's (build/bench/v1/,
 * made by `make bench` from the last commit of contract 1, see the Makefile)
 * are both dlopen'ed, and their runs alternate, so a loaded machine slows
 * both alike and the ratio holds. Per library, under the ZOQ_CPU_ISA cap
 * the process was started with (`make bench` runs it once per cap):
 *   fill   zoq_noise_fill of 512-element tiles (as the CPU backend calls
 *          it), ns per draw
 *   axpy   y += c z over the same tiles, what a pass does with them, ns per
 *          draw: zoq_noise_axpy where the library has it (z never stored,
 *          as this build's passes do), else fill then add (contract 1's
 *          passes, which had no fused path)
 *   run    zoq_run, Gaussian, central, n = 1, f32, 1 and 2 threads, ns per
 *          parameter per step (a constant objective: only zoq's passes)
 * CPU time of the calling thread for fill, axpy and the 1-thread step (fair
 * on a shared machine: it does all their work), wall time for 2 threads;
 * minimum and median of `reps` rounds, each round timing both libraries.
 * Usage: rng_bench [numel] [reps]  (defaults 1e8 (ZOQ_BENCH_MAX caps it), 5).
 * Appends to bench/results/rng.json (one object per line, per cap). */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"
#include "zoq.h"

#define TILE 512
#define MAX_REPS 64
#define N_FILL (1u << 20) /* draws per fill round */

/* The entry points used, from one library. */
typedef struct lib {
    const char *name, *path;
    void *h;
    int (*noise_fill)(uint64_t, uint64_t, uint32_t, uint32_t, int, uint64_t, size_t, float *);
    int (*noise_axpy)(uint64_t, uint64_t, uint32_t, uint32_t, int, uint64_t, size_t, float,
                      float *); /* NULL before zoq_noise_axpy existed */
    int (*create)(zoq_ctx **);
    void (*destroy)(zoq_ctx *);
    int (*param_add)(zoq_ctx *, const char *, void *, int, int64_t, int32_t *);
    int (*set_int)(zoq_ctx *, int, int64_t);
    int (*set_double)(zoq_ctx *, int, double);
    int (*set_objective)(zoq_ctx *, zoq_objective_fn, void *);
    int (*run)(zoq_ctx *, int64_t, int64_t *, zoq_report_t *);
} lib;

static int open_lib(lib *l)
{
    l->h = dlopen(l->path, RTLD_NOW | RTLD_LOCAL);
    if (!l->h)
        return 0;
    *(void **)&l->noise_fill = dlsym(l->h, "zoq_noise_fill");
    *(void **)&l->noise_axpy = dlsym(l->h, "zoq_noise_axpy");
    *(void **)&l->create = dlsym(l->h, "zoq_create");
    *(void **)&l->destroy = dlsym(l->h, "zoq_destroy");
    *(void **)&l->param_add = dlsym(l->h, "zoq_param_add");
    *(void **)&l->set_int = dlsym(l->h, "zoq_set_int");
    *(void **)&l->set_double = dlsym(l->h, "zoq_set_double");
    *(void **)&l->set_objective = dlsym(l->h, "zoq_set_objective");
    *(void **)&l->run = dlsym(l->h, "zoq_run");
    return l->noise_fill && l->create && l->destroy && l->param_add && l->set_int &&
           l->set_double && l->set_objective && l->run;
}

static float sink;

/* ns per draw of one round of tile fills (axpy: each tile added into acc). */
static double fill_round(const lib *l, int axpy)
{
    static float z[TILE], acc[TILE];
    double c0 = cpu_now();
    for (uint64_t i = 0; i < N_FILL; i += TILE) {
        if (axpy && l->noise_axpy) {
            l->noise_axpy(0xC6D89249D5BE7411ull, 12, 3, 0, ZOQ_DIST_GAUSSIAN, i, TILE, 1e-3f, acc);
            continue;
        }
        l->noise_fill(0xC6D89249D5BE7411ull, 12, 3, 0, ZOQ_DIST_GAUSSIAN, i, TILE, z);
        if (axpy)
            for (int j = 0; j < TILE; j++)
                acc[j] = acc[j] + 1e-3f * z[j];
        else
            sink += z[i % TILE];
    }
    sink += acc[7];
    return 1e9 * (cpu_now() - c0) / N_FILL;
}

typedef struct clock_obj {
    double t[4], c[4];
    int n;
} clock_obj;

static int constant(void *user, const zoq_eval_t *ev, double *loss)
{
    clock_obj *c = user;
    if (ev->point == 0 && c->n < 4) {
        c->c[c->n] = cpu_now();
        c->t[c->n++] = now();
    }
    *loss = 1.0;
    return 0;
}

/* ns per parameter of one zoq_run step (the third of three, between the
 * first evaluations of steps 1 and 2), with step_bench's zoq_run settings
 * (Gaussian, central, n = 1, weight decay): wall time, or with one thread
 * the calling thread's CPU time, which does all the work. */
static double run_step(const lib *l, float *w, int64_t n, int threads)
{
    zoq_ctx *ctx;
    clock_obj clk = {.n = 0};
    if (l->create(&ctx) != ZOQ_OK || l->param_add(ctx, "w", w, ZOQ_F32, n, NULL) != ZOQ_OK)
        exit(1);
    l->set_int(ctx, ZOQ_OPT_THREADS, threads);
    l->set_int(ctx, ZOQ_OPT_DIST, ZOQ_DIST_GAUSSIAN);
    l->set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, 1e-4);
    l->set_double(ctx, ZOQ_OPT_LR, 1e-6);
    l->set_objective(ctx, constant, &clk);
    zoq_report_t rep = {.size = sizeof rep};
    if (l->run(ctx, 3, NULL, &rep) != ZOQ_OK || clk.n != 3)
        exit(1);
    l->destroy(ctx);
    return 1e9 * (threads == 1 ? clk.c[2] - clk.c[1] : clk.t[2] - clk.t[1]) / (double)n;
}

static double min_of(const double *t, int n)
{
    double m = t[0];
    for (int i = 1; i < n; i++)
        m = t[i] < m ? t[i] : m;
    return m;
}

int main(int argc, char **argv)
{
    int64_t n;
    int reps;
    if (!bench_args(argc, argv, 100000000, MAX_REPS, &n, &reps))
        return 2;
    const char *dir = getenv("ZOQ_BENCH_BUILD") ? getenv("ZOQ_BENCH_BUILD") : "build";
    char p2[512], p1[512];
    snprintf(p2, sizeof p2, "%s/libzoq.so", dir);
    snprintf(p1, sizeof p1, "%s/bench/v1/libzoq.so", dir);
    lib libs[2] = {{.name = "contract1", .path = p1}, {.name = "contract3", .path = p2}};
    if (!open_lib(&libs[1])) {
        fprintf(stderr, "rng_bench: cannot load %s: %s\n", p2, dlerror());
        return 1;
    }
    const int have_v1 = open_lib(&libs[0]);
    if (!have_v1)
        printf("rng_bench: %s not found (make bench builds it from git): contract 3 alone\n", p1);
    const char *isa = getenv("ZOQ_CPU_ISA") ? getenv("ZOQ_CPU_ISA") : "best";
    double t[2][3][MAX_REPS]; /* [lib][fill, axpy, 1 thread run][rep] */
    double run2[2][MAX_REPS];
    float *w = aligned_alloc(64, (size_t)n * sizeof *w);
    if (!w)
        return 1;
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)(i % 1000) * 1e-3f;
    for (int r = 0; r < reps; r++) /* alternate: each round times both libraries */
        for (int k = !have_v1; k < 2; k++)
            for (int a = 0; a < 2; a++)
                t[k][a][r] = fill_round(&libs[k], a);
    for (int r = 0; r < reps; r++)
        for (int k = !have_v1; k < 2; k++) {
            t[k][2][r] = run_step(&libs[k], w, n, 1);
            run2[k][r] = run_step(&libs[k], w, n, 2);
        }
    FILE *js = fopen("bench/results/rng.json", "a");
    static const char *what[3] = {"fill", "axpy", "run_t1"};
    for (int k = !have_v1; k < 2; k++) {
        double *rows[4] = {t[k][0], t[k][1], t[k][2], run2[k]};
        for (int a = 0; a < 4; a++) {
            const char *label = a < 3 ? what[a] : "run_t2";
            double mid = median(rows[a], reps), lo = min_of(rows[a], reps);
            printf("rng_%s_%s_%s %.4f %s\n", libs[k].name, label, isa, mid,
                   a < 2 ? "ns/draw" : "ns/param");
            printf("rng_%s_%s_%s_min %.4f %s\n", libs[k].name, label, isa, lo,
                   a < 2 ? "ns/draw" : "ns/param");
            if (js)
                fprintf(js, "{\"contract\": %d, \"isa\": \"%s\", \"what\": \"%s\", \"numel\": %lld, "
                        "\"reps\": %d, \"median\": %.4f, \"min\": %.4f, \"unit\": \"%s\"}\n",
                        k ? 3 : 1, isa, label, a < 2 ? (long long)N_FILL : (long long)n, reps, mid,
                        lo, a < 2 ? "ns/draw" : "ns/param");
        }
    }
    if (have_v1)
        for (int a = 0; a < 4; a++) {
            double *o = a < 3 ? t[0][a] : run2[0], *v = a < 3 ? t[1][a] : run2[1];
            printf("rng_speedup_%s_%s %.2f x\n", a < 3 ? what[a] : "run_t2", isa,
                   median(o, reps) / median(v, reps));
        }
    if (js)
        fclose(js);
    free(w);
    return sink == 12345.0f;
}
