/* test_estim.c - the update rules: DDC, sign, momentum, ZO-Adam, gradient
 * accumulation, weight decay, HiZOO and sparse masks against known answers from
 * tests/kat/gen_estim_kat.py (float64, from the equations), in both modes;
 * warm start; state round trips and thread-count identity per technique;
 * ZOQ_PARAM_NO_DECAY. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "core/internal.h"
#include "tech/tech.h"
#include "kat/estim_vectors.h"
#include "rng/noise.h"
#include "zoq.h"

#define N_CASES (sizeof kat_estim / sizeof kat_estim[0])

/* The options both known-answer tables share. */
static void configure_common(zoq_ctx *ctx, int queries, int optimizer, int accumulate, double lr,
                             double eps, double weight_decay, double clip, double momentum)
{
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, KAT_ESTIM_SEED), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUERIES, queries), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, optimizer), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, accumulate), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, lr), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, eps), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, weight_decay), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_CLIP, clip), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_MOMENTUM, momentum), ZOQ_OK);
}

static void configure(zoq_ctx *ctx, const kat_estim_t *k)
{
    configure_common(ctx, k->queries, k->optimizer, k->accumulate, k->lr, k->eps,
                     k->weight_decay, k->clip, k->momentum);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, k->estimator), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SIGN, k->sign), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_ADAM_BETA1, k->beta1), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_ADAM_BETA2, k->beta2), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_ADAM_EPS, k->adam_eps), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_HESSIAN, k->hessian), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_HESSIAN_ALPHA, k->hessian_alpha), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_HESSIAN_FLOOR, k->hessian_floor), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SPARSE, k->sparse), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SPARSE_KEEP, k->sparse_keep), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SPARSE_EVERY, k->sparse_every), ZOQ_OK);
}

/* The in-place objective of the KAT: the table's loss for (step, point). */
static int table_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    *loss = kat_estim_losses[ev->step][ev->point];
    return 0;
}

static void check_case(const kat_estim_t *k, int in_place)
{
    float w[KAT_ESTIM_N];
    memcpy(w, kat_estim_theta0, sizeof w);
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, KAT_ESTIM_NAME, w, ZOQ_F32, KAT_ESTIM_N, NULL), ZOQ_OK);
    configure(ctx, k);
    zoq_set_objective(ctx, table_objective, NULL);
    for (int t = 0; t < KAT_ESTIM_STEPS; t++) {
        zoq_report_t rep = {.size = sizeof rep};
        if (in_place) {
            cr_assert_eq(zoq_step(ctx, &rep), ZOQ_OK, "%s: %s", k->name, zoq_last_error(ctx));
        } else {
            const zoq_point_t *pts;
            int32_t np;
            cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
            cr_assert_eq(zoq_tell(ctx, kat_estim_losses[t], np, &rep), ZOQ_OK, "%s: %s",
                         k->name, zoq_last_error(ctx));
            /* one pass when the update applies, or when HiZOO updates its estimate */
            cr_assert_eq(rep.passes, k->applied[t] || k->hessian, "%s step %d: ask/tell passes",
                         k->name, t);
        }
        cr_assert_eq(rep.applied, k->applied[t], "%s step %d: applied", k->name, t);
        cr_assert_eq(rep.n_clipped, k->clipped[t], "%s step %d: clipped %d want %d", k->name, t,
                     rep.n_clipped, k->clipped[t]);
    }
    for (int i = 0; i < KAT_ESTIM_N; i++) {
        double want = k->theta[i], tol = 2e-5 * fabs(want) + 2e-6;
        cr_assert(fabs(w[i] - want) <= tol, "%s (%s) element %d: %.9g, want %.9g", k->name,
                  in_place ? "in place" : "ask/tell", i, w[i], want);
    }
    zoq_destroy(ctx);
}

Test(estim, update_rules_match_known_answers_ask_tell)
{
    for (size_t c = 0; c < N_CASES; c++)
        check_case(&kat_estim[c], 0);
}

Test(estim, update_rules_match_known_answers_in_place)
{
    for (size_t c = 0; c < N_CASES; c++)
        check_case(&kat_estim[c], 1);
}

/* LoZO and LOZO-M on a 2-D "W" beside a 1-D "b", over V redraws. */
static void check_lozo_case(const kat_lozo_t *k, int in_place)
{
    float w[KAT_LOZO_ROWS * KAT_LOZO_COLS], b[KAT_LOZO_NB];
    memcpy(w, kat_lozo_w0, sizeof w);
    memcpy(b, kat_lozo_b0, sizeof b);
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "W", .data = w, .numel = KAT_LOZO_ROWS *
                          KAT_LOZO_COLS, .rows = KAT_LOZO_ROWS, .cols = KAT_LOZO_COLS};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "b", b, ZOQ_F32, KAT_LOZO_NB, NULL), ZOQ_OK);
    configure_common(ctx, k->queries, k->optimizer, k->accumulate, k->lr, k->eps,
                     k->weight_decay, k->clip, k->momentum);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, k->rank), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LOZO_INTERVAL, k->interval), ZOQ_OK);
    zoq_set_objective(ctx, table_objective, NULL);
    for (int t = 0; t < KAT_ESTIM_STEPS; t++) {
        if (in_place) {
            cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s: %s", k->name, zoq_last_error(ctx));
        } else {
            const zoq_point_t *pts;
            int32_t np;
            cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
            cr_assert_eq(zoq_tell(ctx, kat_estim_losses[t], np, NULL), ZOQ_OK, "%s: %s",
                         k->name, zoq_last_error(ctx));
        }
    }
    const char *mode = in_place ? "in place" : "ask/tell";
    for (int i = 0; i < KAT_LOZO_ROWS * KAT_LOZO_COLS; i++)
        cr_assert(fabs(w[i] - k->w[i]) <= 2e-5 * fabs(k->w[i]) + 2e-6,
                  "%s (%s) W[%d]: %.9g, want %.9g", k->name, mode, i, w[i], k->w[i]);
    for (int i = 0; i < KAT_LOZO_NB; i++)
        cr_assert(fabs(b[i] - k->b[i]) <= 2e-5 * fabs(k->b[i]) + 2e-6,
                  "%s (%s) b[%d]: %.9g, want %.9g", k->name, mode, i, b[i], k->b[i]);
    zoq_destroy(ctx);
}

Test(estim, lozo_and_lozo_m_match_known_answers)
{
    for (size_t c = 0; c < sizeof kat_lozo / sizeof kat_lozo[0]; c++) {
        check_lozo_case(&kat_lozo[c], 0);
        check_lozo_case(&kat_lozo[c], 1);
    }
}

Test(estim, accumulating_k_steps_equals_k_scaled_single_steps)
{
    /* With losses that do not depend on θ, K gathered steps at lr η equal K
     * applied steps at lr η/K, to rounding. */
    enum { N = 500, K = 4 };
    float a[N], b[N];
    for (int i = 0; i < N; i++)
        a[i] = b[i] = (float)cos(i);
    zoq_ctx *ca, *cb;
    zoq_create(&ca);
    zoq_create(&cb);
    zoq_param_add(ca, "w", a, ZOQ_F32, N, NULL);
    zoq_param_add(cb, "w", b, ZOQ_F32, N, NULL);
    zoq_set_int(ca, ZOQ_OPT_ACCUMULATE, K);
    zoq_set_double(ca, ZOQ_OPT_LR, 0.04);
    zoq_set_double(cb, ZOQ_OPT_LR, 0.04 / K);
    for (int t = 0; t < 2 * K; t++) {
        const zoq_point_t *pts;
        int32_t np;
        double L[2] = {1.0 + sin(t), 0.5 * cos(3.0 * t)};
        zoq_ask(ca, &pts, &np);
        zoq_ask(cb, &pts, &np);
        cr_assert_eq(zoq_tell(ca, L, 2, NULL), ZOQ_OK);
        cr_assert_eq(zoq_tell(cb, L, 2, NULL), ZOQ_OK);
        if (t % K == K - 1)
            for (int i = 0; i < N; i++)
                cr_assert(fabs(a[i] - b[i]) <= 1e-6 * (1.0 + fabs(b[i])), "t %d el %d", t, i);
    }
    zoq_destroy(ca);
    zoq_destroy(cb);
}

Test(estim, hizoo_needs_the_central_estimator)
{
    float w[8] = {0};
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", w, ZOQ_F32, 8, NULL);
    zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 1);
    zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, ZOQ_EST_FORWARD);
    const zoq_point_t *pts;
    int32_t np;
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_E_INVALID);
    cr_assert(strstr(zoq_last_error(ctx), "central"));
    zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, ZOQ_EST_CENTRAL);
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
    cr_assert_eq(np, 3, "HiZOO adds the unperturbed point");
    cr_assert_eq(pts[0].query, -1);
    zoq_destroy(ctx);
}

Test(estim, options_validate)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_HESSIAN_ALPHA, 1.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_HESSIAN_FLOOR, 0.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 2), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, 3), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_MOMENTUM, 1.0), ZOQ_E_INVALID);
    cr_assert(strstr(zoq_last_error(ctx), "< 1"));
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_MOMENTUM, -0.1), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_ADAM_BETA2, 1.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_ADAM_EPS, 0.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_CLIP, -1.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SIGN, 2), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 4097), ZOQ_E_INVALID);
    double d;
    zoq_get_double(ctx, ZOQ_OPT_MOMENTUM, &d);
    cr_assert_eq(d, 0.9);
    zoq_destroy(ctx);
}

Test(estim, warm_start_fills_lora_b_from_its_own_stream)
{
    enum { N = 1000 };
    float a[N], b[N], other[N], z[N];
    for (int i = 0; i < N; i++) {
        a[i] = 7.0f;
        b[i] = NAN; /* uninitialized memory must not leak through */
        other[i] = 3.0f;
    }
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_set_int(ctx, ZOQ_OPT_SEED, 11);
    zoq_param_desc_t d = {.size = sizeof d, .name = "l0.lora_A", .data = a, .numel = N,
                          .flags = ZOQ_PARAM_LORA_A};
    zoq_param_add_desc(ctx, &d, NULL);
    d = (zoq_param_desc_t){.size = sizeof d, .name = "l0.lora_B", .data = b, .numel = N,
                           .flags = ZOQ_PARAM_LORA_B};
    zoq_param_add_desc(ctx, &d, NULL);
    zoq_param_add(ctx, "other", other, ZOQ_F32, N, NULL);
    int32_t count = -1;
    cr_assert_eq(zoq_lora_b_warm_start(ctx, -1.0, &count), ZOQ_E_INVALID);
    cr_assert_eq(zoq_lora_b_warm_start(ctx, 1e-3, &count), ZOQ_OK);
    cr_assert_eq(count, 1);
    zoq_noise_fill(zoq_tensor_key(11, "l0.lora_B"), 0, 0, 1, ZOQ_DIST_GAUSSIAN, 0, N, z);
    double s2 = 0;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(b[i], 1e-3f * z[i], "element %d", i);
        cr_assert_eq(a[i], 7.0f);
        cr_assert_eq(other[i], 3.0f);
        s2 += (double)b[i] * b[i];
    }
    cr_assert(fabs(sqrt(s2 / N) - 1e-3) < 1.5e-4, "std %g", sqrt(s2 / N));
    cr_assert_eq(zoq_param_init_normal(ctx, 9, 1.0), ZOQ_E_NOT_FOUND);
    cr_assert_eq(zoq_param_init_normal(ctx, 0, NAN), ZOQ_E_INVALID);
    zoq_destroy(ctx);
}

/* Above the backend's parallel threshold, so 2 threads really split the work. */
#define TN 100000

static int smooth_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    const float *w = user;
    double s = 0;
    for (int i = 0; i < TN; i++)
        s += (w[i] - 0.1 * (i % 5)) * (w[i] - 0.1 * (i % 5));
    *loss = s;
    return 0;
}

/* 0 momentum, 1 Adam, 2 sign + accumulation, 3 Adam + accumulation,
 * 4 HiZOO + momentum + accumulation, 5 magnitude mask every 3 updates with
 * HiZOO, 6 random mask + Adam + accumulation, 7 LoZO rank 4 (V every 3 steps)
 * with momentum, i.e. LOZO-M's factors, and accumulation across V redraws,
 * 8 magnitude mask + accumulation: saved mid-window, the file carries the
 * window's mask (θ has many ties at τ, which in-place rounding would move
 * across it) (all with DDC). */
#define N_TECHNIQUES 9

static zoq_ctx *technique_ctx(float *w, int which, int threads)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_desc_t d = {.size = sizeof d, .name = "w", .data = w, .numel = TN, .rows = 250,
                          .cols = TN / 250};
    zoq_param_add_desc(ctx, &d, NULL);
    zoq_set_objective(ctx, smooth_objective, w);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, threads);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 2);
    zoq_set_double(ctx, ZOQ_OPT_LR, 1e-4);
    zoq_set_double(ctx, ZOQ_OPT_CLIP, 50.0);
    if (which == 0)
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM);
    if (which == 1)
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM);
    if (which == 2) {
        zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 3);
        zoq_set_int(ctx, ZOQ_OPT_SIGN, 1);
    }
    if (which == 3) {
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM);
        zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 2);
    }
    if (which == 4) {
        zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 1);
        zoq_set_double(ctx, ZOQ_OPT_HESSIAN_ALPHA, 1e-3);
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM);
        zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 2);
    }
    if (which == 5) {
        zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_MAGNITUDE);
        zoq_set_int(ctx, ZOQ_OPT_SPARSE_EVERY, 3);
        zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 1);
        zoq_set_double(ctx, ZOQ_OPT_HESSIAN_ALPHA, 1e-3);
    }
    if (which == 6) {
        zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_RANDOM);
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM);
        zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 2);
    }
    if (which == 8) {
        zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_MAGNITUDE);
        zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 2);
    }
    if (which == 7) {
        zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, 4);
        zoq_set_int(ctx, ZOQ_OPT_LOZO_INTERVAL, 3);
        zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM);
        zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 2);
    }
    return ctx;
}

Test(estim, every_technique_resumes_bit_for_bit)
{
    char path[] = "/tmp/zoq-estim-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    static float a[TN], b[TN];
    for (int which = 0; which < N_TECHNIQUES; which++) {
        for (int i = 0; i < TN; i++)
            a[i] = b[i] = 0.01f * (float)(i % 17);
        zoq_ctx *ca = technique_ctx(a, which, 1);
        for (int t = 0; t < 14; t++)
            cr_assert_eq(zoq_step(ca, NULL), ZOQ_OK);
        zoq_ctx *cb = technique_ctx(b, which, 1);
        for (int t = 0; t < 7; t++) /* 7: mid-window for accumulate 2 and 3 */
            cr_assert_eq(zoq_step(cb, NULL), ZOQ_OK);
        cr_assert_eq(zoq_state_save(cb, path), ZOQ_OK, "%s", zoq_last_error(cb));
        zoq_destroy(cb);
        zoq_create(&cb); /* fresh: default options, no buffers */
        zoq_param_desc_t d = {.size = sizeof d, .name = "w", .data = b, .numel = TN, .rows = 250,
                              .cols = TN / 250};
        zoq_param_add_desc(cb, &d, NULL);
        zoq_set_objective(cb, smooth_objective, b);
        cr_assert_eq(zoq_state_load(cb, path), ZOQ_OK, "%s", zoq_last_error(cb));
        for (int t = 0; t < 7; t++)
            cr_assert_eq(zoq_step(cb, NULL), ZOQ_OK);
        cr_assert(memcmp(a, b, sizeof a) == 0, "technique %d: resumed run differs", which);
        zoq_destroy(ca);
        zoq_destroy(cb);
    }
    unlink(path);
}

Test(estim, every_technique_is_thread_count_independent)
{
    static float a[TN], b[TN];
    for (int which = 0; which < N_TECHNIQUES; which++) {
        for (int i = 0; i < TN; i++)
            a[i] = b[i] = 0.01f * (float)(i % 17);
        zoq_ctx *ca = technique_ctx(a, which, 1), *cb = technique_ctx(b, which, 2);
        for (int t = 0; t < 9; t++) {
            cr_assert_eq(zoq_step(ca, NULL), ZOQ_OK);
            cr_assert_eq(zoq_step(cb, NULL), ZOQ_OK);
        }
        cr_assert(memcmp(a, b, sizeof a) == 0, "technique %d differs across threads", which);
        zoq_destroy(ca);
        zoq_destroy(cb);
    }
}

static int cmp_abs(const void *a, const void *b)
{
    float x = fabsf(*(const float *)a), y = fabsf(*(const float *)b);
    return (x > y) - (x < y);
}

/* Parameters as the objective saw them at point 0 of each step. */
static float seen[4096];
static int snapshot_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    const float *w = user;
    if (ev->point == 0)
        memcpy(seen, w, sizeof seen);
    *loss = 1.0 + 0.01 * ev->point * ev->point; /* g != 0: the update moves θ */
    return 0;
}

Test(estim, magnitude_mask_perturbs_exactly_the_smallest)
{
    enum { N = 4096 };
    static float w[N], before[N], sorted[N], z[N];
    for (int i = 0; i < N; i++)
        w[i] = (float)sin(1.7 * i) * (1.0f + (float)(i % 7)); /* distinct magnitudes */
    memcpy(sorted, w, sizeof w);
    qsort(sorted, N, sizeof *sorted, cmp_abs);
    const double keep = 0.3;
    const float tau = fabsf(sorted[(int)ceil(keep * N) - 1]); /* independent: sort */
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", w, ZOQ_F32, N, NULL);
    zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_MAGNITUDE);
    zoq_set_double(ctx, ZOQ_OPT_SPARSE_KEEP, keep);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 0.1);
    /* ask/tell: the direction is zero exactly where |θ| > tau */
    const zoq_point_t *pts;
    int32_t np;
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
    cr_assert_eq(zoq_point_noise(ctx, 0, 0, 0, N, z), ZOQ_OK);
    int kept = 0;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(z[i] != 0.0f, fabsf(w[i]) <= tau, "element %d", i);
        kept += z[i] != 0.0f;
    }
    cr_assert_eq(kept, (int)ceil(keep * N));
    zoq_cancel(ctx);
    /* in place: the objective sees exactly those elements moved, and only they update */
    memcpy(before, w, sizeof w);
    zoq_set_objective(ctx, snapshot_objective, w);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    for (int i = 0; i < N; i++) {
        int in_mask = fabsf(before[i]) <= tau;
        cr_assert_eq(seen[i] != before[i], in_mask, "perturbed element %d", i);
        if (!in_mask)
            cr_assert_eq(w[i], before[i], "an unmasked element %d moved", i);
    }
    zoq_destroy(ctx);
}

/* Tensors a and b (tensor 1) of n elements 0.01·(i+1) under magnitude
 * masks, with the int option key set to value. */
static zoq_ctx *two_tensor_magnitude_ctx(float *a, float *b, int n, int key, int64_t value)
{
    for (int i = 0; i < n; i++)
        a[i] = b[i] = 0.01f * (float)(i + 1);
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "a", a, ZOQ_F32, n, NULL);
    zoq_param_add(ctx, "b", b, ZOQ_F32, n, NULL);
    zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_MAGNITUDE);
    cr_assert_eq(zoq_set_int(ctx, key, value), ZOQ_OK);
    return ctx;
}

/* A tensor turned off and on again takes a threshold of its own values
 * now, not the one of an epoch it sat out (every 2 updates, ask/tell: b is
 * off at the epoch change, then scaled up 10x; the old threshold would
 * perturb 3 of its elements, a fresh one perturbs 32 of 64). */
Test(estim, reenabled_tensor_takes_a_fresh_magnitude_threshold)
{
    enum { N = 64 };
    float a[N], b[N], z[N];
    zoq_ctx *ctx = two_tensor_magnitude_ctx(a, b, N, ZOQ_OPT_SPARSE_EVERY, 2);
    for (int t = 0; t < 4; t++) {
        if (t == 1)
            cr_assert_eq(zoq_param_set_enabled(ctx, 1, 0), ZOQ_OK);
        if (t == 3) {
            for (int i = 0; i < N; i++)
                b[i] *= 10.0f;
            cr_assert_eq(zoq_param_set_enabled(ctx, 1, 1), ZOQ_OK);
        }
        const zoq_point_t *pts;
        int32_t np;
        cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK, "%s", zoq_last_error(ctx));
        if (t == 3) {
            cr_assert_eq(zoq_point_noise(ctx, 0, 1, 0, N, z), ZOQ_OK);
            for (int i = 0; i < N; i++)
                cr_assert_eq(z[i] != 0.0f, i < N / 2, "element %d", i);
        }
        double losses[2] = {1.0, 1.0};
        cr_assert_eq(zoq_tell(ctx, losses, np, NULL), ZOQ_OK);
    }
    zoq_destroy(ctx);
}

/* Point 0's values of a 64-element tensor, for the test below. */
static float seen64[64];
static int snapshot64_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    if (ev->point == 0)
        memcpy(seen64, user, sizeof seen64);
    *loss = 1.0 + 0.01 * ev->point * ev->point;
    return 0;
}

/* In place under accumulation, a tensor turned on inside a window does not
 * read the mask bits it stored in an earlier window: b is off when window 1
 * opens (step 2), then its magnitudes are reversed and it is turned on for
 * step 3, whose first point must perturb its now smallest half. */
Test(estim, reenabled_tensor_does_not_reuse_an_old_windows_mask)
{
    enum { N = 64 };
    float a[N], b[N], before[N];
    zoq_ctx *ctx = two_tensor_magnitude_ctx(a, b, N, ZOQ_OPT_ACCUMULATE, 2);
    zoq_set_objective(ctx, snapshot64_objective, b);
    for (int t = 0; t < 3; t++) {
        if (t == 2)
            cr_assert_eq(zoq_param_set_enabled(ctx, 1, 0), ZOQ_OK);
        cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    }
    for (int i = 0; i < N; i++)
        b[i] = 0.01f * (float)(N - i);
    memcpy(before, b, sizeof before);
    cr_assert_eq(zoq_param_set_enabled(ctx, 1, 1), ZOQ_OK);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    for (int i = 0; i < N; i++)
        cr_assert_eq(seen64[i] != before[i], i >= N / 2, "element %d", i);
    zoq_destroy(ctx);
}

Test(estim, random_mask_keeps_its_fraction_within_a_window)
{
    enum { N = 100000 };
    static float w[N], z0[N], z1[N];
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", w, ZOQ_F32, N, NULL);
    zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_RANDOM);
    zoq_set_double(ctx, ZOQ_OPT_SPARSE_KEEP, 0.25);
    zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, 2);
    const zoq_point_t *pts;
    int32_t np;
    double L[2] = {1.0, 2.0};
    zoq_ask(ctx, &pts, &np);
    zoq_point_noise(ctx, 0, 0, 0, N, z0);
    zoq_tell(ctx, L, 2, NULL); /* first step of the window */
    zoq_ask(ctx, &pts, &np);
    zoq_point_noise(ctx, 0, 0, 0, N, z1);
    long kept = 0, same = 0;
    for (int i = 0; i < N; i++) {
        kept += z0[i] != 0.0f;
        same += (z0[i] != 0.0f) == (z1[i] != 0.0f);
    }
    cr_assert(labs(kept - N / 4) < 5 * 137, "kept %ld of %d", kept, N); /* 5 sigma */
    cr_assert_eq(same, N, "the mask changed inside an accumulation window");
    zoq_tell(ctx, L, 2, NULL); /* applies; the next window draws a new mask */
    zoq_ask(ctx, &pts, &np);
    zoq_point_noise(ctx, 0, 0, 0, N, z1);
    same = 0;
    for (int i = 0; i < N; i++)
        same += (z0[i] != 0.0f) == (z1[i] != 0.0f);
    cr_assert(same < N * 7 / 10, "a new window kept the old mask (%ld of %d alike)", same, N);
    zoq_destroy(ctx);
}

Test(estim, sparse_options_validate)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SPARSE, 3), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SPARSE_KEEP, 0.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SPARSE_KEEP, 1.5), ZOQ_E_INVALID);
    cr_assert(strstr(zoq_last_error(ctx), "<= 1"));
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SPARSE_KEEP, 1.0), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SPARSE_EVERY, 0), ZOQ_E_INVALID);
    zoq_destroy(ctx);
}

/* LoZO: point directions equal U·Vᵀ/sqrt(r), U from (step, query) on stream
 * 3 and V from the step rounded down to nu on stream 4, formed here with
 * OpenBLAS from the public noise function. */
static void lozo_reference(uint64_t key, uint64_t step, int r, uint64_t nu, int rows, int cols,
                           float *out)
{
    float *u = malloc((size_t)rows * r * sizeof *u), *v = malloc((size_t)cols * r * sizeof *v);
    zoq_noise_fill(key, step, 0, 3, ZOQ_DIST_GAUSSIAN, 0, (size_t)rows * r, u);
    zoq_noise_fill(key, step - step % nu, 0, 4, ZOQ_DIST_GAUSSIAN, 0, (size_t)cols * r, v);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, r,
                (float)(1.0 / sqrt((double)r)), u, r, v, r, 0.0f, out, cols);
    free(u);
    free(v);
}

/* optimizer: SGD, or LOZO-M with mu = 0, whose update is -lr·g·(its own
 * factor N = g·U/sqrt(r))·Vᵀ: the probe's direction, up to rounding. */
static void check_lozo_update_direction(int optimizer)
{
    enum { ROWS = 37, COLS = 300, R = 4, NU = 3 };
    static float w[ROWS * COLS], z[ROWS * COLS], ref[ROWS * COLS], before[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = (float)sin(i);
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_desc_t d = {.size = sizeof d, .name = "W", .data = w, .numel = ROWS * COLS,
                          .rows = ROWS, .cols = COLS};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, R);
    zoq_set_int(ctx, ZOQ_OPT_LOZO_INTERVAL, NU);
    zoq_set_double(ctx, ZOQ_OPT_LR, 0.01);
    zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, optimizer);
    zoq_set_double(ctx, ZOQ_OPT_MOMENTUM, 0.0);
    const uint64_t key = zoq_tensor_key(0, "W");
    for (uint64_t t = 0; t < 2 * NU + 1; t++) {
        const zoq_point_t *pts;
        int32_t np;
        cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
        cr_assert_eq(zoq_point_noise(ctx, 0, 0, 0, ROWS * COLS, z), ZOQ_OK);
        lozo_reference(key, t, R, NU, ROWS, COLS, ref);
        for (int i = 0; i < ROWS * COLS; i++)
            cr_assert(fabsf(z[i] - ref[i]) <= 1e-5f * (1.0f + fabsf(ref[i])),
                      "step %llu element %d: %g vs %g", (unsigned long long)t, i, z[i], ref[i]);
        /* the update regenerates the probe's own U, also on V-resample steps */
        memcpy(before, w, sizeof w);
        double L[2] = {1.0 + 0.1 * (double)t, 0.5};
        zoq_report_t rep = {.size = sizeof rep};
        cr_assert_eq(zoq_tell(ctx, L, np, &rep), ZOQ_OK);
        const float c = (float)(-0.01 * rep.proj_grads[0]);
        for (int i = 0; i < ROWS * COLS; i++) {
            const float want = before[i] + c * z[i];
            if (optimizer == ZOQ_OPTIM_SGD)
                cr_assert_eq(w[i], want, "step %llu element %d", (unsigned long long)t, i);
            else
                /* LOZO-M rounds its own product order: a few ulps of c·z and of w */
                cr_assert(fabsf(w[i] - want) <= 1e-6f * (1.0f + fabsf(c * z[i]) + fabsf(want)),
                          "LOZO-M step %llu element %d: %.9g, want %.9g",
                          (unsigned long long)t, i, w[i], want);
        }
    }
    zoq_destroy(ctx);
}

Test(estim, lozo_directions_are_low_rank_products)
{
    check_lozo_update_direction(ZOQ_OPTIM_SGD);
    check_lozo_update_direction(ZOQ_OPTIM_MOMENTUM);
}

static void tell_one(zoq_ctx *ctx)
{
    const zoq_point_t *pts;
    int32_t np;
    double L[5] = {1.0, 0.5, 0.8, 0.9, 0.7};
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK, "%s", zoq_last_error(ctx));
    cr_assert_eq(zoq_tell(ctx, L, np, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
}

/* LOZO-M keeps queries x rows x r floats for a 2-D tensor, never a full
 * buffer; 1-D tensors, and 2-D ones under HiZOO or a mask (ĝ no longer low
 * rank), keep the full momentum. Factors only load into a 2-D tensor. */
/* A tensor's momentum buffer and LOZO-M factors, as the passes' stages see them. */
#define M_OF(p) zoq__tech_stage_state(p, ZOQ__STAGE_MOMENTUM)
#define FACTORS_OF(p) ((const zoq__lozo_factors *)zoq__tech_stage_state(p, ZOQ__STAGE_LOZO_M))

Test(estim, lozo_m_keeps_factors_not_full_buffers)
{
    enum { ROWS = 20, COLS = 50 };
    static float w[ROWS * COLS], b[7];
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_desc_t d = {.size = sizeof d, .name = "W", .data = w, .numel = ROWS * COLS,
                          .rows = ROWS, .cols = COLS};
    zoq_param_add_desc(ctx, &d, NULL);
    zoq_param_add(ctx, "b", b, ZOQ_F32, 7, NULL);
    zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM);
    zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, 3);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 2);
    tell_one(ctx);
    const zoq__param *W = &ctx->params[0], *B = &ctx->params[1];
    cr_assert_null(M_OF(W), "a full buffer for a LOZO-M tensor");
    const zoq__lozo_factors *f = FACTORS_OF(W);
    cr_assert(f && f->n);
    cr_assert_eq(f->nq, 2);
    cr_assert_eq(f->rank, 3);
    cr_assert_not_null(M_OF(B));
    cr_assert_null(FACTORS_OF(B));
    /* the factors load only where the tensor is 2-D */
    char path[] = "/tmp/zoq-lozom-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(zoq_state_save(ctx, path), ZOQ_OK, "%s", zoq_last_error(ctx));
    zoq_ctx *flat;
    zoq_create(&flat);
    zoq_param_add(flat, "W", w, ZOQ_F32, ROWS * COLS, NULL);
    zoq_param_add(flat, "b", b, ZOQ_F32, 7, NULL);
    cr_assert_eq(zoq_state_load(flat, path), ZOQ_E_FORMAT);
    cr_assert(strstr(zoq_last_error(flat), "LOZO-M"), "%s", zoq_last_error(flat));
    uint64_t step;
    zoq_get_step(flat, &step);
    cr_assert_eq(step, 0, "a refused file changed the context");
    zoq_destroy(flat);
    unlink(path);
    /* HiZOO, then a mask: the 2-D tensor's momentum is full size again */
    zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 1);
    tell_one(ctx);
    cr_assert_not_null(M_OF(W));
    cr_assert_null(FACTORS_OF(W));
    zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 0);
    tell_one(ctx);
    cr_assert_null(M_OF(W));
    cr_assert_not_null(FACTORS_OF(W));
    zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_RANDOM);
    tell_one(ctx);
    cr_assert_not_null(M_OF(W));
    cr_assert_null(FACTORS_OF(W));
    zoq_destroy(ctx);
}

Test(estim, lozo_leaves_one_dimensional_tensors_gaussian)
{
    float w[64] = {0}, z[64], ref[64];
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "bias", w, ZOQ_F32, 64, NULL);
    zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, 8);
    const zoq_point_t *pts;
    int32_t np;
    zoq_ask(ctx, &pts, &np);
    zoq_point_noise(ctx, 0, 0, 0, 64, z);
    zoq_noise_fill(zoq_tensor_key(0, "bias"), 0, 0, 0, ZOQ_DIST_GAUSSIAN, 0, 64, ref);
    cr_assert(memcmp(z, ref, sizeof z) == 0);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, 33), ZOQ_E_STATE, "pending");
    zoq_cancel(ctx);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, 33), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LOZO_INTERVAL, 0), ZOQ_E_INVALID);
    zoq_destroy(ctx);
}

/* A disabled parameter is never perturbed in place, so ask/tell gives it no
 * direction either; under HiZOO it has no estimate, which must not be read. */
Test(estim, disabled_parameters_have_no_direction)
{
    float on[64], off[64], dst[64], z[64];
    for (int i = 0; i < 64; i++)
        on[i] = off[i] = (float)i;
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "on", on, ZOQ_F32, 64, NULL);
    zoq_param_desc_t d = {.size = sizeof d, .name = "off", .data = off, .numel = 64,
                          .flags = ZOQ_PARAM_DISABLED};
    zoq_param_add_desc(ctx, &d, NULL);
    zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 1);
    zoq_set_int(ctx, ZOQ_OPT_SPARSE, ZOQ_SPARSE_MAGNITUDE);
    const zoq_point_t *pts;
    int32_t np;
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
    cr_assert_eq(zoq_materialize(ctx, 1, 1, dst), ZOQ_OK);
    cr_assert(memcmp(dst, off, sizeof dst) == 0, "a disabled parameter was perturbed");
    cr_assert_eq(zoq_point_noise(ctx, 1, 1, 0, 64, z), ZOQ_OK);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(z[i], 0.0f);
    cr_assert_eq(zoq_point_noise(ctx, 1, 0, 0, 64, z), ZOQ_OK);
    int moved = 0;
    for (int i = 0; i < 64; i++)
        moved += z[i] != 0.0f;
    cr_assert_gt(moved, 0, "the enabled parameter lost its direction");
    zoq_destroy(ctx);
}

static int flat_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    (void)ev;
    *loss = 2.0;
    return 0;
}

/* A context training w and b (flags b_flags) with weight decay wd, the given
 * optimizer and HiZOO setting, and a constant loss: g = 0, so only the decay
 * and the in-place moves and restores change the parameters. */
static zoq_ctx *decay_ctx(float *w, float *b, int n, uint32_t b_flags, double wd, int optimizer,
                          int hessian)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    cr_assert_eq(zoq_param_add(ctx, "w", w, ZOQ_F32, n, NULL), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "b", .data = b, .numel = n, .flags = b_flags};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 2);
    zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, optimizer);
    zoq_set_int(ctx, ZOQ_OPT_HESSIAN, hessian);
    zoq_set_double(ctx, ZOQ_OPT_LR, 0.1);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-2);
    zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, wd);
    zoq_set_objective(ctx, flat_objective, NULL);
    return ctx;
}

/* Under decay-only updates (ask/tell, so nothing else moves) a
 * ZOQ_PARAM_NO_DECAY tensor keeps its bits and the others are multiplied by
 * exactly the binary32 factor 1 - lr·wd, whatever the optimizer. */
Test(estim, no_decay_tensor_keeps_its_value_under_decay)
{
    enum { N = 97 };
    const int optimizers[] = {ZOQ_OPTIM_SGD, ZOQ_OPTIM_MOMENTUM, ZOQ_OPTIM_ADAM};
    const float s = (float)(1.0 - 0.1 * 0.5);
    for (size_t o = 0; o < sizeof optimizers / sizeof optimizers[0]; o++) {
        float w[N], b[N], w0[N], b0[N];
        for (int i = 0; i < N; i++)
            w[i] = b[i] = 0.25f * (float)(i - 40);
        zoq_ctx *ctx = decay_ctx(w, b, N, ZOQ_PARAM_NO_DECAY, 0.5, optimizers[o], 0);
        for (int t = 0; t < 3; t++) {
            memcpy(w0, w, sizeof w);
            memcpy(b0, b, sizeof b);
            const zoq_point_t *pts;
            int32_t np;
            cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
            double losses[4] = {2.0, 2.0, 2.0, 2.0};
            cr_assert_eq(zoq_tell(ctx, losses, np, NULL), ZOQ_OK);
            cr_assert(memcmp(b, b0, sizeof b) == 0, "optimizer %d step %d: b decayed",
                      optimizers[o], t);
            for (int i = 0; i < N; i++)
                cr_assert_eq(w[i], s * w0[i], "optimizer %d step %d el %d: %.9g, want %.9g",
                             optimizers[o], t, i, w[i], s * w0[i]);
        }
        cr_assert_neq(w[0], b[0], "w did not decay");
        zoq_destroy(ctx);
    }
}

/* In place (zoq_step and zoq_run's fused passes) the restore of a flagged
 * tensor is not scaled by the decay either: it ends where a run without
 * decay leaves it, bit for bit, while the other tensor ends where a run with
 * decay on every tensor leaves it. */
Test(estim, no_decay_tensor_follows_the_undecayed_run_in_place)
{
    enum { N = 130, STEPS = 4 };
    const struct { int optimizer, hessian, run; } cases[] = {
        {ZOQ_OPTIM_SGD, 0, 0}, {ZOQ_OPTIM_SGD, 0, 1}, {ZOQ_OPTIM_MOMENTUM, 0, 0},
        {ZOQ_OPTIM_MOMENTUM, 0, 1}, {ZOQ_OPTIM_SGD, 1, 0}, {ZOQ_OPTIM_ADAM, 1, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float w[3][N], b[3][N];
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < N; i++)
                w[k][i] = b[k][i] = 1.0f + 0.125f * (float)i;
        /* 0: b flagged, 1: decay everywhere, 2: no decay */
        const uint32_t flags[3] = {ZOQ_PARAM_NO_DECAY, 0, 0};
        const double wd[3] = {0.5, 0.5, 0.0};
        for (int k = 0; k < 3; k++) {
            zoq_ctx *ctx = decay_ctx(w[k], b[k], N, flags[k], wd[k], cases[c].optimizer,
                                     cases[c].hessian);
            int64_t done = 0;
            if (cases[c].run)
                cr_assert_eq(zoq_run(ctx, STEPS, &done, NULL), ZOQ_OK);
            for (int t = 0; !cases[c].run && t < STEPS; t++)
                cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK);
            zoq_destroy(ctx);
        }
        cr_assert(memcmp(b[0], b[2], sizeof b[0]) == 0, "case %zu: flagged b is not undecayed",
                  c);
        cr_assert(memcmp(w[0], w[1], sizeof w[0]) == 0, "case %zu: w is not decayed", c);
        cr_assert(memcmp(b[0], b[1], sizeof b[0]) != 0, "case %zu: the flag changed nothing", c);
    }
}
