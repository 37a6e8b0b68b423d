/* techniques.c - which ZO technique helps where. Each technique runs on three
 * problems, 5 seeds each, with its learning rate picked from a grid by the
 * median final loss (every technique gets the same tuning budget):
 *   quad      d = 200 quadratic, curvatures log-spaced 1 .. 1000 (condition 1e3)
 *   noisy     least squares, 60 features, 2000 samples, minibatch 16 per step
 *   heavy     d = 100 quadratic (condition 10) plus symmetric Pareto loss noise of
 *             tail index 1.5 (infinite variance), fresh at every evaluation
 * Prints one row per (problem, technique): final loss median / min / max,
 * steps to reach the problem's target (median; "-" if most runs never do),
 * diverged runs. Writes bench/results/techniques.json and .md.
 * Usage: techniques [steps] */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"
#include "zoq.h"

#define SEEDS 5
#define MAXD 200
#define NS 2000                 /* regression samples */
#define NF 60                   /* regression features */
#define BATCH 16

typedef struct problem {
    const char *name;
    int d;
    int regression;             /* least squares on X, Y (else a quadratic) */
    double lambda[MAXD], target[MAXD];
    double noise_scale;         /* heavy: scale of the Student-t noise */
    double goal;                /* "reached" when the clean loss falls below goal * start */
} problem;

typedef struct run {
    const problem *pb;
    float w[MAXD];
    unsigned long long rng;     /* loss noise and minibatches */
    int batch[BATCH];
} run;

static double X[NS][NF], Y[NS];

static double uniform(unsigned long long *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(unsigned long long *s)
{
    return sqrt(-2.0 * log(uniform(s))) * cos(6.283185307179586 * uniform(s));
}

/* Symmetric Pareto noise, P(|x| > t) = (1 + t)^-1.5: infinite variance. */
static double heavy_noise(unsigned long long *s)
{
    double mag = pow(uniform(s), -1.0 / 1.5) - 1.0;
    return uniform(s) < 0.5 ? -mag : mag;
}

static double clean_loss(const run *r)
{
    const problem *pb = r->pb;
    double s = 0.0;
    if (pb->regression) {
        for (int n = 0; n < NS; n++) {
            double e = -Y[n];
            for (int j = 0; j < NF; j++)
                e += X[n][j] * r->w[j];
            s += e * e;
        }
        return s / NS;
    }
    for (int i = 0; i < pb->d; i++) {
        double e = r->w[i] - pb->target[i];
        s += 0.5 * pb->lambda[i] * e * e;
    }
    return s;
}

static int objective(void *user, const zoq_eval_t *ev, double *loss)
{
    run *r = user;
    const problem *pb = r->pb;
    if (ev->point == 0) /* every point of a step sees the same minibatch */
        for (int b = 0; b < BATCH; b++)
            r->batch[b] = (int)(uniform(&r->rng) * NS);
    if (pb->regression) {
        double s = 0.0;
        for (int b = 0; b < BATCH; b++) {
            const int n = r->batch[b];
            double e = -Y[n];
            for (int j = 0; j < NF; j++)
                e += X[n][j] * r->w[j];
            s += e * e;
        }
        *loss = s / BATCH;
        return 0;
    }
    *loss = clean_loss(r) + (pb->noise_scale > 0 ? pb->noise_scale * heavy_noise(&r->rng) : 0.0);
    return 0;
}

typedef struct technique {
    const char *name;
    int queries, estimator, optimizer, sign, accumulate, hessian, cosine_eps, sparse, warmup;
    double clip, hessian_alpha;
} technique;

/* HiZOO's estimate starts at 1, so the step sizes its preconditioning allows
 * need a warmup while it grows; the stack is seed 000's eight techniques
 * that apply here (sparse, HiZOO + its lr adaptation, cosine eps, momentum,
 * accumulation; curriculum and warm start need data order and LoRA). */
static const technique techniques[] = {
    {"spsa", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 0, 0},
    {"forward", 1, ZOQ_EST_FORWARD, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 0, 0},
    {"queries4", 4, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 0, 0},
    {"momentum", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_MOMENTUM, 0, 1, 0, 0, 0, 0, 0, 0},
    {"adam", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_ADAM, 0, 1, 0, 0, 0, 0, 0, 0},
    {"sign", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 1, 1, 0, 0, 0, 0, 0, 0},
    {"ddc", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 100, 0},
    {"accumulate4", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 4, 0, 0, 0, 0, 0, 0},
    {"sparse", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, ZOQ_SPARSE_MAGNITUDE, 0, 0, 0},
    {"hizoo", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 1, 0, 0, 300, 0, 1e-2},
    {"cosine_eps", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 1, 0, 0, 0, 0},
    {"stack", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_MOMENTUM, 0, 2, 1, 1, ZOQ_SPARSE_MAGNITUDE, 300,
     100, 1e-2},
};
#define N_TECH (sizeof techniques / sizeof techniques[0])

typedef struct outcome {
    double final;               /* clean loss at the end (INFINITY if diverged) */
    int reached;                /* first step with clean loss < goal*start, -1 never */
} outcome;

static outcome run_one(const problem *pb, const technique *tq, double lr, int seed, int steps)
{
    run r = {.pb = pb, .rng = 0x9E3779B97F4A7C15ull * (unsigned long long)(seed + 1)};
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", r.w, ZOQ_F32, pb->d, NULL);
    zoq_set_int(ctx, ZOQ_OPT_SEED, seed);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, 1);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, tq->queries);
    zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, tq->estimator);
    zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, tq->optimizer);
    zoq_set_int(ctx, ZOQ_OPT_SIGN, tq->sign);
    zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, tq->accumulate);
    zoq_set_int(ctx, ZOQ_OPT_HESSIAN, tq->hessian);
    zoq_set_double(ctx, ZOQ_OPT_HESSIAN_ALPHA, tq->hessian_alpha > 0 ? tq->hessian_alpha : 1e-8);
    zoq_set_double(ctx, ZOQ_OPT_CLIP, tq->clip);
    zoq_set_double(ctx, ZOQ_OPT_LR, lr);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-2);
    zoq_set_int(ctx, ZOQ_OPT_TOTAL_STEPS, steps);
    zoq_set_int(ctx, ZOQ_OPT_SPARSE, tq->sparse);
    zoq_set_int(ctx, ZOQ_OPT_LR_WARMUP, tq->warmup);
    if (tq->cosine_eps) { /* seed 000: eps 1e-2 -> 1e-4 by cosine */
        zoq_set_int(ctx, ZOQ_OPT_EPS_SCHEDULE, ZOQ_SCHED_COSINE);
        zoq_set_double(ctx, ZOQ_OPT_EPS_FINAL, 1e-4);
    }
    zoq_set_objective(ctx, objective, &r);
    double start = clean_loss(&r);
    outcome o = {0, -1};
    for (int t = 0; t < steps; t++) {
        if (zoq_step(ctx, NULL) != ZOQ_OK)
            break;
        if ((t + 1) % 10 != 0 && t + 1 != steps)
            continue; /* the clean loss is checked every 10 steps */
        double l = clean_loss(&r);
        if (!isfinite(l) || l > 1e6 * start) {
            o.final = INFINITY;
            break;
        }
        if (o.reached < 0 && l < pb->goal * start)
            o.reached = t + 1;
        o.final = l;
    }
    zoq_destroy(ctx);
    return o;
}

static void setup(problem *pb)
{
    unsigned long long s = 12345;
    pb[0] = (problem){.name = "quad", .d = 200, .goal = 1e-2};
    for (int i = 0; i < 200; i++) {
        pb[0].lambda[i] = pow(1000.0, (double)i / 199.0);
        pb[0].target[i] = gauss(&s);
    }
    pb[1] = (problem){.name = "noisy", .d = NF, .regression = 1, .goal = 0.05};
    double wtrue[NF];
    for (int j = 0; j < NF; j++)
        wtrue[j] = gauss(&s);
    for (int n = 0; n < NS; n++) {
        Y[n] = 0.3 * gauss(&s);
        for (int j = 0; j < NF; j++) {
            X[n][j] = gauss(&s) * (1.0 + 2.0 * (j % 3 == 0));
            Y[n] += X[n][j] * wtrue[j];
        }
    }
    pb[2] = (problem){.name = "heavy", .d = 100, .noise_scale = 0.5, .goal = 1e-2};
    for (int i = 0; i < 100; i++) {
        pb[2].lambda[i] = 1.0 + 9.0 * i / 99.0;
        pb[2].target[i] = gauss(&s);
    }
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 3000;
    static problem pb[3];
    setup(pb);
    const double grid[] = {1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3,
                           1e-2, 3e-2, 1e-1, 3e-1};
    const int ng = (int)(sizeof grid / sizeof grid[0]);
    FILE *js = fopen("bench/results/techniques.json", "w");
    FILE *md = fopen("bench/results/techniques.md", "w");
    if (js)
        fprintf(js, "{\"steps\": %d, \"seeds\": %d, \"rows\": [\n", steps, SEEDS);
    if (md)
        fprintf(md, "| problem | technique | lr | final loss median | min | max | steps to "
                    "target (median) | diverged |\n|---|---|---|---|---|---|---|---|\n");
    int first = 1;
    for (int p = 0; p < 3; p++) {
        for (size_t k = 0; k < N_TECH; k++) {
            double best_med = INFINITY, best_lr = grid[0];
            outcome best[SEEDS];
            for (int g = 0; g < ng; g++) {
                outcome o[SEEDS];
                double f[SEEDS];
                for (int s = 0; s < SEEDS; s++) {
                    o[s] = run_one(&pb[p], &techniques[k], grid[g], s, steps);
                    f[s] = o[s].final;
                }
                qsort(f, SEEDS, sizeof f[0], cmp_double);
                if (g == 0 || f[SEEDS / 2] < best_med) { /* g == 0: even if all diverge */
                    best_med = f[SEEDS / 2];
                    best_lr = grid[g];
                    memcpy(best, o, sizeof best);
                }
            }
            double f[SEEDS], rs[SEEDS];
            int diverged = 0, nreach = 0;
            for (int s = 0; s < SEEDS; s++) {
                f[s] = best[s].final;
                diverged += !isfinite(f[s]);
                rs[s] = best[s].reached < 0 ? INFINITY : best[s].reached;
                nreach += best[s].reached >= 0;
            }
            qsort(f, SEEDS, sizeof f[0], cmp_double);
            qsort(rs, SEEDS, sizeof rs[0], cmp_double);
            char reach[32];
            if (isfinite(rs[SEEDS / 2]))
                snprintf(reach, sizeof reach, "%.0f", rs[SEEDS / 2]);
            else
                snprintf(reach, sizeof reach, "-");
            printf("techniques_%s_%s final_median %.4g min %.4g max %.4g lr %g steps_to_target %s "
                   "diverged %d\n", pb[p].name, techniques[k].name, f[SEEDS / 2], f[0],
                   f[SEEDS - 1], best_lr, reach, diverged);
            fflush(stdout);
            if (md)
                fprintf(md, "| %s | %s | %g | %.4g | %.4g | %.4g | %s | %d/%d |\n", pb[p].name,
                        techniques[k].name, best_lr, f[SEEDS / 2], f[0], f[SEEDS - 1], reach,
                        diverged, SEEDS);
            if (js)
                fprintf(js, "%s  {\"problem\": \"%s\", \"technique\": \"%s\", \"lr\": %g, "
                        "\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"reached\": %d, "
                        "\"diverged\": %d}", first ? "" : ",\n", pb[p].name,
                        techniques[k].name, best_lr, isfinite(f[SEEDS / 2]) ? f[SEEDS / 2] : -1,
                        isfinite(f[0]) ? f[0] : -1, isfinite(f[SEEDS - 1]) ? f[SEEDS - 1] : -1,
                        nreach, diverged);
            first = 0;
        }
    }
    /* DDC's claim at a common step size: divergences of plain SPSA and DDC on
     * the heavy-tailed problem, at each step size of the grid. */
    const technique *spsa = &techniques[0], *ddc = &techniques[6];
    for (int g = 0; g < ng; g++) {
        int dv[2] = {0, 0};
        for (int s = 0; s < SEEDS; s++) {
            dv[0] += !isfinite(run_one(&pb[2], spsa, grid[g], s, steps).final);
            dv[1] += !isfinite(run_one(&pb[2], ddc, grid[g], s, steps).final);
        }
        printf("techniques_heavy_same_lr lr %g spsa_diverged %d ddc_diverged %d of %d\n",
               grid[g], dv[0], dv[1], SEEDS);
        if (md)
            fprintf(md, "%s| heavy, same lr | %g | spsa diverged %d/%d | ddc diverged %d/%d |\n",
                    g == 0 ? "\n| check | lr | plain | with DDC |\n|---|---|---|---|\n" : "",
                    grid[g], dv[0], SEEDS, dv[1], SEEDS);
        if (dv[0] == SEEDS && dv[1] == SEEDS)
            break;
    }
    if (js) {
        fprintf(js, "\n]}\n");
        fclose(js);
    }
    if (md)
        fclose(md);
    return 0;
}
