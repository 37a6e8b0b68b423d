/* techniques.c - which ZO technique helps where. Each technique runs on the
 * problems it applies to, 5 seeds each, with its learning rate picked from a
 * grid by the median final loss, and every run gets the same budget of
 * function evaluations, 2·steps (plain SPSA's `steps` steps; HiZOO, 3
 * evaluations a step, gets 2/3 of the steps; 4 queries a quarter):
 *   quad      d = 200 quadratic, curvatures log-spaced 1 .. 1000 (condition 1e3)
 *   quad20    the same with d = 20 (HiZOO's estimate needs ~d² steps to settle)
 *   noisy     least squares, 60 features, 2000 samples, minibatch 16 per step
 *   heavy     d = 100 quadratic (condition 10) plus symmetric Pareto loss noise of
 *             tail index 1.5 (infinite variance), fresh at every evaluation
 *   lowrank   a 16 x 24 matrix W fitted to y = W* x + noise from minibatches of
 *             16, starting from W* minus a rank-2 shift (LoZO, LOZO-M)
 *   finetune  "pretrained" weights w0 with |w0| >= 0.1 of tail index 1.5, the
 *             curvature of each |w0|/0.1 (large weights are the sensitive
 *             ones), shifted to w0 + δ, small as fine-tuning shifts are (sd
 *             0.03), on the small-|w0| half (the large half moves 10x less):
 *             Sparse MeZO's premise; finetune_dense spreads the same shift
 *             evenly
 * Prints one row per (problem, technique): final loss median / min / max,
 * evaluations to reach the problem's target (median; "-" if most runs never
 * do), the median loss after a tenth of the budget, diverged runs. Writes bench/results/techniques.json and .md.
 * Usage: techniques [steps [problem]]   (steps: plain SPSA's, default 3000) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"
#include "zoq.h"

#define SEEDS 5
#define MAXD 384
#define MROWS 16                /* lowrank: W is MROWS x MCOLS */
#define MCOLS 24
#define NS 2000                 /* regression samples */
#define NF 60                   /* regression features */
#define BATCH 16

enum { QUADRATIC, REGRESSION, MATRIX };

typedef struct problem {
    const char *name;
    int d;
    int kind;
    int rows, cols;             /* MATRIX: W is rows x cols, registered 2-D */
    double lambda[MAXD], target[MAXD], start[MAXD];
    double noise_scale;         /* heavy: scale of the Pareto noise; MATRIX: of y */
    double goal;                /* "reached" when the clean loss falls below goal * start */
    const char *only;           /* the techniques that run here; NULL: the generic ones */
} problem;

typedef struct run {
    const problem *pb;
    float w[MAXD];
    unsigned long long rng;     /* loss noise and minibatches */
    int batch[BATCH];
    double bx[BATCH][MCOLS], by[BATCH][MROWS]; /* MATRIX: the step's minibatch */
} run;

static double X[NS][NF], Y[NS];
static double XtX[NF][NF], XtY[NF], YtY; /* over NS: the clean loss in NF² operations */

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
    if (pb->kind == MATRIX) { /* E ||(W - W*) x||² for x ~ N(0, I) */
        for (int i = 0; i < pb->d; i++)
            s += (r->w[i] - pb->target[i]) * (r->w[i] - pb->target[i]);
        return s;
    }
    if (pb->kind == REGRESSION) { /* (wᵀXᵀXw − 2wᵀXᵀY + YᵀY) / NS */
        for (int j = 0; j < NF; j++) {
            double row = 0.0;
            for (int k = 0; k < NF; k++)
                row += XtX[j][k] * r->w[k];
            s += r->w[j] * (row - 2.0 * XtY[j]);
        }
        return (s + YtY) / NS;
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
    if (ev->point == 0 && pb->kind == MATRIX) /* one minibatch for all points of a step */
        for (int b = 0; b < BATCH; b++) {
            for (int j = 0; j < pb->cols; j++)
                r->bx[b][j] = gauss(&r->rng);
            for (int i = 0; i < pb->rows; i++) {
                double y = pb->noise_scale * gauss(&r->rng);
                for (int j = 0; j < pb->cols; j++)
                    y += pb->target[i * pb->cols + j] * r->bx[b][j];
                r->by[b][i] = y;
            }
        }
    else if (ev->point == 0)
        for (int b = 0; b < BATCH; b++)
            r->batch[b] = (int)(uniform(&r->rng) * NS);
    if (pb->kind == MATRIX) {
        double s = 0.0;
        for (int b = 0; b < BATCH; b++)
            for (int i = 0; i < pb->rows; i++) {
                double e = -r->by[b][i];
                for (int j = 0; j < pb->cols; j++)
                    e += r->w[i * pb->cols + j] * r->bx[b][j];
                s += e * e;
            }
        *loss = s / BATCH;
        return 0;
    }
    if (pb->kind == REGRESSION) {
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
    int lozo_rank;              /* > 0: LoZO on 2-D tensors (MATRIX problems only) */
} technique;

/* HiZOO's estimate starts at 1, so the step sizes its preconditioning allows
 * need a warmup while it grows; the stack is Morgan's (2026) eight techniques
 * that apply here (sparse, HiZOO + its lr adaptation, cosine eps, momentum,
 * accumulation; curriculum and warm start need data order and LoRA). LoZO
 * runs at rank 2 with V redrawn every 50 steps (the LoZO paper's default
 * interval); lozo_m is LoZO with momentum, which keeps LOZO-M's factors. */
#define HIZOO_ALPHA 3e-2
#define HIZOO_WARMUP 100
static const technique techniques[] = {
    {"spsa", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 0, 0, 0},
    {"forward", 1, ZOQ_EST_FORWARD, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 0, 0, 0},
    {"queries4", 4, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 0, 0, 0},
    {"momentum", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_MOMENTUM, 0, 1, 0, 0, 0, 0, 0, 0, 0},
    {"adam", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_ADAM, 0, 1, 0, 0, 0, 0, 0, 0, 0},
    {"sign", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 1, 1, 0, 0, 0, 0, 0, 0, 0},
    {"ddc", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 100, 0, 0},
    {"accumulate4", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 4, 0, 0, 0, 0, 0, 0, 0},
    {"sparse", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, ZOQ_SPARSE_MAGNITUDE, 0, 0, 0, 0},
    {"hizoo", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 1, 0, 0, HIZOO_WARMUP, 0, HIZOO_ALPHA,
     0},
    {"cosine_eps", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 1, 0, 0, 0, 0, 0},
    {"stack", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_MOMENTUM, 0, 2, 1, 1, ZOQ_SPARSE_MAGNITUDE,
     HIZOO_WARMUP, 100, HIZOO_ALPHA, 0},
    /* not generic: named by the problems they apply to */
    {"sparse_random", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, ZOQ_SPARSE_RANDOM, 0, 0, 0,
     0},
    {"lozo", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_SGD, 0, 1, 0, 0, 0, 0, 0, 0, 2},
    {"lozo_m", 1, ZOQ_EST_CENTRAL, ZOQ_OPTIM_MOMENTUM, 0, 1, 0, 0, 0, 0, 0, 0, 2},
};
#define N_GENERIC 12
#define N_TECH (sizeof techniques / sizeof techniques[0])
#define N_PROBLEMS 7

typedef struct outcome {
    double final;               /* clean loss at the end (INFINITY if diverged) */
    double early;               /* clean loss after a tenth of the budget */
    int reached;                /* evaluations until clean loss < goal*start, -1 never */
} outcome;

/* Function evaluations one step of tq costs. */
static int evals_per_step(const technique *tq)
{
    return tq->estimator == ZOQ_EST_FORWARD ? tq->queries + 1 : 2 * tq->queries + tq->hessian;
}

/* Runs tq for the steps that spend 2·steps evaluations. */
static outcome run_one(const problem *pb, const technique *tq, double lr, int seed, int budget)
{
    const int per = evals_per_step(tq), steps = 2 * budget / per;
    run r = {.pb = pb, .rng = 0x9E3779B97F4A7C15ull * (unsigned long long)(seed + 1)};
    for (int i = 0; i < pb->d; i++)
        r.w[i] = (float)pb->start[i];
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_desc_t desc = {.size = sizeof desc, .name = "w", .data = r.w, .numel = pb->d,
                             .rows = pb->rows, .cols = pb->cols};
    zoq_param_add_desc(ctx, &desc, NULL);
    zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, tq->lozo_rank);
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
    if (tq->cosine_eps) { /* Morgan 2026: eps 1e-2 -> 1e-4 by cosine */
        zoq_set_int(ctx, ZOQ_OPT_EPS_SCHEDULE, ZOQ_SCHED_COSINE);
        zoq_set_double(ctx, ZOQ_OPT_EPS_FINAL, 1e-4);
    }
    zoq_set_objective(ctx, objective, &r);
    double start = clean_loss(&r);
    outcome o = {0, INFINITY, -1};
    for (int t = 0; t < steps; t++) {
        if (zoq_step(ctx, NULL) != ZOQ_OK)
            break;
        if ((t + 1) % 10 != 0 && t + 1 != steps)
            continue; /* the clean loss is checked every 10 steps */
        double l = clean_loss(&r);
        if (!isfinite(l) || l > 1e6 * start) {
            o.final = o.early = INFINITY;
            break;
        }
        if (t + 1 >= steps / 10 && !isfinite(o.early))
            o.early = l;
        if (o.reached < 0 && l < pb->goal * start)
            o.reached = (t + 1) * per;
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
    pb[1] = (problem){.name = "noisy", .d = NF, .kind = REGRESSION, .goal = 0.05};
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
    for (int n = 0; n < NS; n++) {
        for (int j = 0; j < NF; j++) {
            for (int k = 0; k < NF; k++)
                XtX[j][k] += X[n][j] * X[n][k];
            XtY[j] += X[n][j] * Y[n];
        }
        YtY += Y[n] * Y[n];
    }
    pb[2] = (problem){.name = "heavy", .d = 100, .noise_scale = 0.5, .goal = 1e-2};
    for (int i = 0; i < 100; i++) {
        pb[2].lambda[i] = 1.0 + 9.0 * i / 99.0;
        pb[2].target[i] = gauss(&s);
    }
    pb[3] = (problem){.name = "quad20", .d = 20, .goal = 1e-2, .only = "spsa adam hizoo"};
    for (int i = 0; i < 20; i++) {
        pb[3].lambda[i] = pow(1000.0, (double)i / 19.0);
        pb[3].target[i] = gauss(&s);
    }
    /* W* x with W* ~ N(0, 1/cols); the run starts from W* minus a rank-2 shift */
    pb[4] = (problem){.name = "lowrank", .d = MROWS * MCOLS, .kind = MATRIX, .rows = MROWS,
                      .cols = MCOLS, .noise_scale = 0.1, .goal = 0.05,
                      .only = "spsa momentum lozo lozo_m"};
    for (int i = 0; i < MROWS * MCOLS; i++)
        pb[4].target[i] = pb[4].start[i] = gauss(&s) / sqrt((double)MCOLS);
    for (int k = 0; k < 2; k++) {
        double a[MROWS], b[MCOLS];
        for (int i = 0; i < MROWS; i++)
            a[i] = gauss(&s);
        for (int j = 0; j < MCOLS; j++)
            b[j] = gauss(&s) / sqrt((double)MCOLS);
        for (int i = 0; i < MROWS; i++)
            for (int j = 0; j < MCOLS; j++)
                pb[4].start[i * MCOLS + j] -= a[i] * b[j];
    }
    /* pretrained weights of tail index 1.5; the task moves the small half */
    pb[5] = (problem){.name = "finetune", .d = 200, .goal = 1e-2,
                      .only = "spsa sparse sparse_random"};
    double mags[200];
    for (int i = 0; i < 200; i++) {
        double w0 = 0.1 * pow(uniform(&s), -1.0 / 1.5);
        pb[5].lambda[i] = w0 / 0.1; /* the large weights are the sensitive ones */
        pb[5].start[i] = uniform(&s) < 0.5 ? -w0 : w0;
        mags[i] = w0;
    }
    qsort(mags, 200, sizeof mags[0], cmp_double);
    pb[6] = pb[5];
    pb[6].name = "finetune_dense";
    for (int i = 0; i < 200; i++) {
        const double g = gauss(&s), small = fabs(pb[5].start[i]) <= mags[99];
        pb[5].target[i] = pb[5].start[i] + (small ? 0.03 : 0.003) * g;
        pb[6].target[i] = pb[6].start[i] + 0.0213 * g; /* the same mean squared shift */
    }
}

/* Whether technique k runs on problem pb (a name in pb->only, or generic). */
static int applies(const problem *pb, size_t k)
{
    if (!pb->only)
        return k < N_GENERIC;
    const char *name = techniques[k].name, *at = pb->only;
    const size_t n = strlen(name);
    while ((at = strstr(at, name)) != NULL) {
        if ((at == pb->only || at[-1] == ' ') && (at[n] == ' ' || at[n] == '\0'))
            return 1;
        at += n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 3000;
    const char *only = argc > 2 ? argv[2] : NULL;
    static problem pb[N_PROBLEMS];
    setup(pb);
    const double grid[] = {1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3,
                           1e-2, 3e-2, 1e-1, 3e-1, 1, 3};
    const int ng = (int)(sizeof grid / sizeof grid[0]);
    FILE *js = fopen("bench/results/techniques.json", "w");
    FILE *md = fopen("bench/results/techniques.md", "w");
    if (js)
        fprintf(js, "{\"steps\": %d, \"evaluations\": %d, \"seeds\": %d, \"rows\": [\n",
                steps, 2 * steps, SEEDS);
    if (md)
        fprintf(md, "| problem | technique | lr | final loss median | min | max | evaluations "
                    "to target (median) | loss at 1/10 (median) | diverged |\n"
                    "|---|---|---|---|---|---|---|---|---|\n");
    int first = 1;
    for (int p = 0; p < N_PROBLEMS; p++) {
        if (only && strcmp(only, pb[p].name) != 0)
            continue;
        for (size_t k = 0; k < N_TECH; k++) {
            if (!applies(&pb[p], k))
                continue;
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
                if (isfinite(best_med) && !isfinite(f[0]))
                    break; /* every seed diverged: larger rates will too */
            }
            double f[SEEDS], rs[SEEDS], early[SEEDS];
            int diverged = 0, nreach = 0;
            for (int s = 0; s < SEEDS; s++) {
                early[s] = best[s].early;
                f[s] = best[s].final;
                diverged += !isfinite(f[s]);
                rs[s] = best[s].reached < 0 ? INFINITY : best[s].reached;
                nreach += best[s].reached >= 0;
            }
            qsort(f, SEEDS, sizeof f[0], cmp_double);
            qsort(rs, SEEDS, sizeof rs[0], cmp_double);
            qsort(early, SEEDS, sizeof early[0], cmp_double);
            char reach[32];
            if (isfinite(rs[SEEDS / 2]))
                snprintf(reach, sizeof reach, "%.0f", rs[SEEDS / 2]);
            else
                snprintf(reach, sizeof reach, "-");
            printf("techniques_%s_%s final_median %.4g min %.4g max %.4g lr %g evals_to_target %s "
                   "early_median %.4g diverged %d\n", pb[p].name, techniques[k].name,
                   f[SEEDS / 2], f[0], f[SEEDS - 1], best_lr, reach, early[SEEDS / 2], diverged);
            fflush(stdout);
            if (md)
                fprintf(md, "| %s | %s | %g | %.4g | %.4g | %.4g | %s | %.4g | %d/%d |\n",
                        pb[p].name, techniques[k].name, best_lr, f[SEEDS / 2], f[0],
                        f[SEEDS - 1], reach, early[SEEDS / 2], diverged, SEEDS);
            if (js)
                fprintf(js, "%s  {\"problem\": \"%s\", \"technique\": \"%s\", \"lr\": %g, "
                        "\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"reached\": %d, "
                        "\"early_median\": %.6g, \"diverged\": %d}", first ? "" : ",\n",
                        pb[p].name, techniques[k].name, best_lr,
                        isfinite(f[SEEDS / 2]) ? f[SEEDS / 2] : -1, isfinite(f[0]) ? f[0] : -1,
                        isfinite(f[SEEDS - 1]) ? f[SEEDS - 1] : -1, nreach,
                        isfinite(early[SEEDS / 2]) ? early[SEEDS / 2] : -1, diverged);
            first = 0;
        }
    }
    /* DDC's claim at a common step size: divergences of plain SPSA and DDC on
     * the heavy-tailed problem, at each step size of the grid. */
    const technique *spsa = &techniques[0], *ddc = &techniques[6];
    for (int g = 0; g < ng && (!only || strcmp(only, "heavy") == 0); g++) {
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
