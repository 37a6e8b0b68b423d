/* probe.c - probe.h. */
#define _POSIX_C_SOURCE 200809L
#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"

/* The figures of probe.h from g[k * M + m]. */
static void probe_stats(const double *g, int K, int M, int64_t d, gradient_signal *sig)
{
    double eg2 = 0.0, var_b = 0.0, g2 = 0.0, g2_sq = 0.0;
    for (int k = 0; k < K; k++) {
        double mean = 0.0, ss = 0.0;
        for (int m = 0; m < M; m++) {
            mean += g[k * M + m] / M;
            eg2 += g[k * M + m] * g[k * M + m] / (K * M);
        }
        for (int m = 0; m < M; m++)
            ss += (g[k * M + m] - mean) * (g[k * M + m] - mean);
        const double s2 = ss / (M - 1), a = mean * mean - s2 / M;
        var_b += s2 / K;
        g2 += a / K;
        g2_sq += a * a / K;
    }
    *sig = (gradient_signal){.dirs = K, .batches = M, .eg2 = eg2, .var_b = var_b, .g2 = g2};
    sig->g2_se = K > 1 ? sqrt(fmax(0.0, g2_sq - g2 * g2) / (K - 1)) : 0.0;
    /* The upper confidence bound g2 + 2 SE; if even that is <= 0 (the SE over K
     * directions that share M minibatches is itself rough), 2 SE. */
    double upper = g2 > 2.0 * sig->g2_se ? g2 : g2 + 2.0 * sig->g2_se;
    if (upper <= 0.0)
        upper = 2.0 * sig->g2_se;
    sig->steps_snr1 = upper > 0.0 ? (double)(d + 2) * eg2 / upper : INFINITY;
}

/* The losses of one step's points with their queries and coefficients. */
typedef struct points {
    const probe_loss *loss;
    int32_t n, query[2 * 64];
    double coef[2 * 64], value[2 * 64];
    int failed;
} points;

/* zoq_step's objective for in_place: records each point, stops at the last. */
static int record(void *user, const zoq_eval_t *ev, double *loss)
{
    points *p = user;
    if (ev->point >= 2 * 64 || p->loss->eval(p->loss->user, ev->point, loss) != 0) {
        p->failed = 1;
        return -1;
    }
    p->query[ev->point] = ev->query;
    p->coef[ev->point] = ev->coef;
    p->value[ev->point] = *loss;
    p->n = ev->point + 1;
    return ev->point + 1 == ev->n_points ? ZOQ_CALLBACK_STOP : 0;
}

/* The points of the next step on the current minibatch, θ left as it was. */
static int measure(zoq_ctx *z, points *p)
{
    p->n = 0;
    p->failed = 0;
    if (p->loss->in_place) {
        return zoq_set_objective(z, record, p) == ZOQ_OK && zoq_step(z, NULL) == ZOQ_STOPPED &&
                       !p->failed && zoq_set_objective(z, NULL, NULL) == ZOQ_OK
                   ? 0
                   : -1;
    }
    const zoq_point_t *pts;
    int32_t np;
    if (zoq_ask(z, &pts, &np) != ZOQ_OK || np > 2 * 64)
        return -1;
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < np; i++) {
        p->query[i] = pts[i].query;
        p->coef[i] = pts[i].coef;
        rc = p->loss->eval(p->loss->user, i, &p->value[i]);
    }
    p->n = np;
    zoq_cancel(z);
    return rc;
}

int probe_run(zoq_ctx *z, int K, int M, int queries, int64_t d, const probe_loss *loss,
              gradient_signal *sig)
{
    double *g = K > 0 && K <= 64 && M >= 2 ? malloc(sizeof *g * (size_t)(K * M)) : NULL;
    points p = {.loss = loss};
    uint64_t step0 = 0, step1 = 1;
    int rc = g == NULL || zoq_get_step(z, &step0) != ZOQ_OK ||
             zoq_set_int(z, ZOQ_OPT_QUERIES, K) != ZOQ_OK;
    const char *why = rc ? "setup" : NULL;
    const double t0 = lm_seconds();
    for (int m = 0; rc == 0 && m < M; m++) {
        if (loss->batch(loss->user, m) != 0 || measure(z, &p) != 0 || p.n != 2 * K) {
            rc = 1;
            why = "evaluating the points";
            break;
        }
        /* g_q = sum_i L_i c_i / sum_i c_i^2 over the points of query q: with
         * central points (+eps, -eps) that is (L+ - L-) / 2 eps, in any order */
        double num[64] = {0}, den[64] = {0};
        for (int32_t i = 0; i < p.n; i++)
            if (p.query[i] >= 0) {
                num[p.query[i]] += p.value[i] * p.coef[i];
                den[p.query[i]] += p.coef[i] * p.coef[i];
            }
        for (int k = 0; k < K; k++)
            g[k * M + m] = num[k] / den[k];
    }
    if (rc == 0 && zoq_set_int(z, ZOQ_OPT_QUERIES, queries) != ZOQ_OK) {
        rc = 1;
        why = "restoring the query count";
    }
    if (rc == 0 && (zoq_get_step(z, &step1) != ZOQ_OK || step1 != step0)) {
        rc = 1;
        why = "the cancelled asks moved the step counter";
    }
    if (rc != 0) {
        fprintf(stderr, "probe: FAIL: %s\n", why);
        free(g);
        return -1;
    }
    probe_stats(g, K, M, d, sig);
    free(g);
    printf("probe: %d directions x %d minibatches (%.0f s): E[g^2] %.4g, minibatch variance "
           "%.4g, |G|^2 %.4g +- %.2g (SE); ZO-SGD steps for signal = noise %s%.3g\n",
           K, M, lm_seconds() - t0, sig->eg2, sig->var_b, sig->g2, sig->g2_se,
           sig->g2 > 2.0 * sig->g2_se ? "~" : ">= ", sig->steps_snr1);
    return 0;
}

void probe_json(FILE *f, const gradient_signal *g)
{
    if (g->dirs == 0) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"directions\": %d, \"minibatches\": %d, \"mean_g2\": %.6g, "
               "\"var_minibatch\": %.6g, \"grad_norm2\": %.6g, \"grad_norm2_se\": %.6g, "
               "\"steps_signal_eq_noise\": %.6g, \"steps_is_lower_bound\": %d}",
            g->dirs, g->batches, g->eg2, g->var_b, g->g2, g->g2_se,
            isfinite(g->steps_snr1) ? g->steps_snr1 : -1.0, !(g->g2 > 2.0 * g->g2_se));
}
