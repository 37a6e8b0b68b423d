/* test_step.c - the SPSA step: convergence, the exact update and gradient
 * formulas, both ways to supply losses, failure without loss, thread-count
 * independence, schedules and the number of passes. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/valgrind.h>

#include "core/convert.h"
#include "zoq.h"

#define DIM 1000
#define MAXN 8192 /* capacity of a quad */

/* L(θ) = ½ Σ λ_i (θ_i − t_i)², λ_i from 1 to 10 (condition number 10). */
typedef struct quad {
    float *theta;
    int64_t n;
    double lambda[MAXN], target[MAXN];
    int fail_at, fail_code;     /* point index to fail at, and how (0: never) */
    double fail_loss;           /* loss to report instead (NaN/Inf), if fail_code == 0 */
    int calls;
    float *snapshot;            /* parameters as the objective saw them at fail_at */
} quad;

static double quad_loss(const quad *q)
{
    double s = 0;
    for (int64_t i = 0; i < q->n; i++) {
        double d = q->theta[i] - q->target[i];
        s += 0.5 * q->lambda[i] * d * d;
    }
    return s;
}

static void quad_init(quad *q, float *theta, int64_t n)
{
    cr_assert(n <= MAXN);
    memset(q, 0, sizeof *q);
    q->theta = theta;
    q->n = n;
    q->fail_at = -1;
    for (int64_t i = 0; i < n; i++) {
        q->lambda[i] = 1.0 + 9.0 * (double)i / (double)(n - 1);
        q->target[i] = sin(0.37 * (double)i);
        theta[i] = 0.0f;
    }
}

static int quad_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    quad *q = user;
    q->calls++;
    cr_assert_eq(ev->size, sizeof *ev);
    if (ev->point == q->fail_at) {
        if (q->snapshot)
            memcpy(q->snapshot, q->theta, (size_t)q->n * sizeof(float));
        if (q->fail_code)
            return q->fail_code;
        *loss = q->fail_loss;
        return 0;
    }
    *loss = quad_loss(q);
    return 0;
}

static zoq_ctx *make_ctx(quad *q, float *theta, int64_t n, int est, int queries, double lr)
{
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    quad_init(q, theta, n);
    cr_assert_eq(zoq_param_add(ctx, "theta", theta, ZOQ_F32, n, NULL), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, est), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUERIES, queries), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, lr), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-3), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, 2024), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, quad_objective, q), ZOQ_OK);
    return ctx;
}

/* Runs until the loss is below 1e-3 of its start or the budget is spent. */
static int steps_to_converge(int est, int queries, int dist, int budget)
{
    static float theta[DIM];
    static quad q;
    /* stable step size for SPSA with n Gaussian queries: n / (λ_max (d + n + 1)) */
    double lr = (double)queries / (10.0 * (DIM + queries + 1));
    zoq_ctx *ctx = make_ctx(&q, theta, DIM, est, queries, lr);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_DIST, dist), ZOQ_OK);
    double start = quad_loss(&q);
    int t;
    for (t = 0; t < budget && quad_loss(&q) > 1e-3 * start; t++)
        cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    zoq_destroy(ctx);
    return t;
}

/* Budgets (steps) for loss < 1e-3 of start on the 1000-dim, condition-10 quadratic. */
Test(step, central_spsa_converges)
{
    int t = steps_to_converge(ZOQ_EST_CENTRAL, 1, ZOQ_DIST_GAUSSIAN, 25000);
    cr_assert_lt(t, 25000, "central n=1 did not converge in budget");
}

Test(step, forward_difference_converges)
{
    int t = steps_to_converge(ZOQ_EST_FORWARD, 1, ZOQ_DIST_GAUSSIAN, 25000);
    cr_assert_lt(t, 25000, "forward n=1 did not converge in budget");
}

Test(step, four_queries_converge_in_fewer_steps)
{
    int t4 = steps_to_converge(ZOQ_EST_CENTRAL, 4, ZOQ_DIST_GAUSSIAN, 6000);
    cr_assert_lt(t4, 6000, "central n=4 did not converge in budget");
    int t1 = steps_to_converge(ZOQ_EST_CENTRAL, 1, ZOQ_DIST_GAUSSIAN, 25000);
    cr_assert_lt(t4 * 2, t1, "n=4 took %d steps, n=1 %d: averaging did not help", t4, t1);
}

Test(step, rademacher_converges)
{
    int t = steps_to_converge(ZOQ_EST_CENTRAL, 1, ZOQ_DIST_RADEMACHER, 25000);
    cr_assert_lt(t, 25000, "Rademacher did not converge in budget");
}

/* Ask/tell with losses of a linear function: g_q must equal aᵀz_q, and the
 * update must be exactly θ + Σ float(−η g_q / n) z_q in binary32. */
Test(step, ask_tell_gradient_and_update_are_exact)
{
    enum { N = 777, Q = 3 };
    static float theta[N], before[N], z[Q][N];
    double a[N];
    for (int i = 0; i < N; i++) {
        theta[i] = before[i] = (float)cos(i * 0.1);
        a[i] = sin(i * 0.7);
    }
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "w", theta, ZOQ_F32, N, NULL), ZOQ_OK);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, Q);
    zoq_set_double(ctx, ZOQ_OPT_LR, 0.01);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 0.02);
    const zoq_point_t *pts;
    int32_t np;
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
    cr_assert_eq(np, 2 * Q);
    double losses[2 * Q], atz[Q];
    for (int q = 0; q < Q; q++) {
        cr_assert_eq(pts[2 * q].query, q);
        cr_assert_eq(pts[2 * q].coef, 0.02);
        cr_assert_eq(pts[2 * q + 1].coef, -0.02);
        cr_assert_eq(zoq_point_noise(ctx, 2 * q, 0, 0, N, z[q]), ZOQ_OK);
        atz[q] = 0;
        for (int i = 0; i < N; i++)
            atz[q] += a[i] * z[q][i];
    }
    for (int p = 0; p < np; p++) {
        double s = 0;
        for (int i = 0; i < N; i++)
            s += a[i] * ((double)theta[i] + pts[p].coef * z[pts[p].query][i]);
        losses[p] = s;
    }
    zoq_report_t rep = {.size = sizeof rep};
    cr_assert_eq(zoq_tell(ctx, losses, np, &rep), ZOQ_OK);
    cr_assert_eq(rep.n_queries, Q);
    cr_assert_eq(rep.passes, 1, "ask/tell applies the update in one pass");
    for (int q = 0; q < Q; q++)
        cr_assert(fabs(rep.proj_grads[q] - atz[q]) <= 1e-9 * (1 + fabs(atz[q])),
                  "g_%d = %.12g, aᵀz = %.12g", q, rep.proj_grads[q], atz[q]);
    for (int i = 0; i < N; i++) {
        float acc = before[i];
        for (int q = 0; q < Q; q++)
            acc = acc + (float)(-0.01 * rep.proj_grads[q] / Q) * z[q][i];
        cr_assert_eq(theta[i], acc, "element %d", i);
    }
    uint64_t step;
    zoq_get_step(ctx, &step);
    cr_assert_eq(step, 1);
    zoq_destroy(ctx);
}

Test(step, materialize_writes_the_point_and_leaves_parameters)
{
    enum { N = 100003 };
    float *theta = malloc(N * sizeof *theta), *copy = malloc(N * sizeof *copy),
          *dst = malloc(N * sizeof *dst), *z = malloc(N * sizeof *z);
    for (int i = 0; i < N; i++)
        theta[i] = copy[i] = (float)i / N;
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", theta, ZOQ_F32, N, NULL);
    zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, ZOQ_EST_FORWARD);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 2);
    const zoq_point_t *pts;
    int32_t np;
    cr_assert_eq(zoq_materialize(ctx, 0, 0, dst), ZOQ_E_STATE, "materialize before ask");
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
    cr_assert_eq(np, 3);
    cr_assert_eq(pts[0].query, -1);
    cr_assert_eq(zoq_materialize(ctx, 0, 0, dst), ZOQ_OK);
    cr_assert(memcmp(dst, theta, N * sizeof *dst) == 0, "the base point is θ itself");
    cr_assert_eq(zoq_materialize(ctx, 2, 0, dst), ZOQ_OK);
    cr_assert_eq(zoq_point_noise(ctx, 2, 0, 0, N, z), ZOQ_OK);
    for (int i = 0; i < N; i++)
        cr_assert_eq(dst[i], theta[i] + (float)pts[2].coef * z[i], "element %d", i);
    cr_assert(memcmp(theta, copy, N * sizeof *theta) == 0, "parameters moved before tell");
    cr_assert_eq(zoq_materialize(ctx, 3, 0, dst), ZOQ_E_INVALID);
    cr_assert_eq(zoq_materialize(ctx, 1, 1, dst), ZOQ_E_NOT_FOUND);
    cr_assert_eq(zoq_materialize(ctx, 1, 0, theta + 5), ZOQ_E_INVALID, "overlap");
    cr_assert_eq(zoq_point_noise(ctx, 1, 0, N - 2, 3, z), ZOQ_E_INVALID);
    cr_assert_eq(zoq_point_noise(ctx, 0, 0, 0, 4, z), ZOQ_OK);
    cr_assert(z[0] == 0 && z[3] == 0, "the base point has no direction");
    zoq_destroy(ctx);
    free(theta); free(copy); free(dst); free(z);
}

/* Every evaluation of a step fails in turn; the parameters come back. */
static void inject_failures(int est, int queries, int code, double bad_loss, int want)
{
    enum { N = 5000 };
    static float theta[N], orig[N], seen[N];
    static quad q;
    zoq_ctx *ctx = make_ctx(&q, theta, N, est, queries, 1e-3);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 0.05);
    for (int i = 0; i < 3; i++) /* move off the all-zero start */
        cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK);
    memcpy(orig, theta, sizeof theta);
    int n_points = est == ZOQ_EST_CENTRAL ? 2 * queries : queries + 1;
    for (int at = 0; at < n_points; at++) {
        q.fail_at = at;
        q.fail_code = code;
        q.fail_loss = bad_loss;
        q.snapshot = seen;
        q.calls = 0;
        zoq_report_t rep = {.size = sizeof rep};
        int rc = zoq_step(ctx, &rep);
        cr_assert_eq(rc, want, "failure at point %d: status %d (%s)", at, rc, zoq_last_error(ctx));
        cr_assert_eq(q.calls, at + 1, "evaluations continued after the failure");
        cr_assert_eq(rep.failed_point, at);
        cr_assert_eq(rep.callback_status, code);
        cr_assert_eq(rep.step, 3, "step counter moved");
        cr_assert_neq(strlen(zoq_last_error(ctx)), 0);
        double max_err = 0, max_disp = 0;
        for (int i = 0; i < N; i++) {
            /* bound: one rounding per pass of |θ| + 2ε|z| (≤ 2·0.05·5.78) */
            double bound = (double)rep.passes * ldexp(fabs(orig[i]) + 0.58, -23);
            double err = fabs((double)theta[i] - orig[i]);
            cr_assert(err <= bound, "point %d element %d: restored %.9g vs %.9g", at, i,
                      theta[i], orig[i]);
            max_err = fmax(max_err, err);
            max_disp = fmax(max_disp, fabs((double)seen[i] - orig[i]));
        }
        if (est == ZOQ_EST_CENTRAL || at > 0)
            cr_assert_gt(max_disp, 1e-3, "the objective did not see perturbed parameters");
        memcpy(orig, theta, sizeof theta);
    }
    q.fail_at = -1;
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "a retried step runs normally");
    zoq_destroy(ctx);
}

Test(step, callback_error_restores_at_every_point)
{
    inject_failures(ZOQ_EST_CENTRAL, 3, -7, 0, ZOQ_E_CALLBACK);
    inject_failures(ZOQ_EST_FORWARD, 3, 42, 0, ZOQ_E_CALLBACK);
}

Test(step, nonfinite_loss_restores_at_every_point)
{
    inject_failures(ZOQ_EST_CENTRAL, 2, 0, NAN, ZOQ_E_NONFINITE);
    inject_failures(ZOQ_EST_FORWARD, 2, 0, INFINITY, ZOQ_E_NONFINITE);
    inject_failures(ZOQ_EST_CENTRAL, 1, 0, -INFINITY, ZOQ_E_NONFINITE);
}

Test(step, callback_can_stop_the_run)
{
    inject_failures(ZOQ_EST_CENTRAL, 2, ZOQ_CALLBACK_STOP, 0, ZOQ_STOPPED);
}

Test(step, ask_tell_failure_is_exact)
{
    enum { N = 64 };
    float theta[N], orig[N];
    for (int i = 0; i < N; i++)
        theta[i] = orig[i] = (float)i * 0.5f;
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", theta, ZOQ_F32, N, NULL);
    const zoq_point_t *pts;
    int32_t np;
    double losses[2] = {1.0, NAN};
    cr_assert_eq(zoq_tell(ctx, losses, 2, NULL), ZOQ_E_STATE, "tell without ask");
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_E_STATE, "ask twice");
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_STATE, "step while pending");
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, 0.1), ZOQ_E_STATE, "options while pending");
    cr_assert_eq(zoq_param_add(ctx, "v", orig, ZOQ_F32, N, NULL), ZOQ_E_STATE);
    cr_assert_eq(zoq_tell(ctx, losses, 3, NULL), ZOQ_E_INVALID, "wrong count");
    cr_assert_eq(zoq_tell(ctx, NULL, 2, NULL), ZOQ_E_INVALID);
    zoq_report_t rep = {.size = sizeof rep};
    cr_assert_eq(zoq_tell(ctx, losses, 2, &rep), ZOQ_E_NONFINITE, "still pending after E_INVALID");
    cr_assert_eq(rep.failed_point, 1);
    cr_assert(memcmp(theta, orig, sizeof theta) == 0, "ask/tell failure must be exact");
    uint64_t step;
    zoq_get_step(ctx, &step);
    cr_assert_eq(step, 0);
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK, "the abandoned step is no longer pending");
    cr_assert_eq(zoq_cancel(ctx), ZOQ_OK);
    cr_assert_eq(zoq_skip_step(ctx), ZOQ_OK);
    zoq_get_step(ctx, &step);
    cr_assert_eq(step, 1);
    cr_assert(memcmp(theta, orig, sizeof theta) == 0);
    zoq_destroy(ctx);
}

Test(step, refuses_to_run_without_what_it_needs)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_STATE, "no parameters");
    float w[4] = {0};
    zoq_param_add(ctx, "w", w, ZOQ_F32, 4, NULL);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_STATE, "no objective");
    cr_assert(strstr(zoq_last_error(ctx), "objective"));
    zoq_report_t bad = {.size = 2};
    zoq_set_objective(ctx, quad_objective, NULL);
    cr_assert_eq(zoq_step(ctx, &bad), ZOQ_E_INVALID, "report size");
    zoq_param_set_enabled(ctx, 0, 0);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_STATE, "all disabled");
    cr_assert_eq(zoq_step(NULL, NULL), ZOQ_E_INVALID);
    zoq_destroy(ctx);
}

static int constant_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    (void)ev;
    *loss = 3.0;
    return 0;
}

Test(step, passes_per_step_and_weight_decay)
{
    enum { N = 256 };
    float w[N], frozen[N];
    for (int i = 0; i < N; i++)
        w[i] = frozen[i] = 1.0f + (float)i;
    const struct { int est, queries; int64_t passes; } cases[] = {
        {ZOQ_EST_CENTRAL, 1, 3}, {ZOQ_EST_CENTRAL, 4, 9}, {ZOQ_EST_FORWARD, 1, 2},
        {ZOQ_EST_FORWARD, 4, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zoq_ctx *ctx;
        zoq_create(&ctx);
        zoq_param_add(ctx, "w", w, ZOQ_F32, N, NULL);
        zoq_param_desc_t d = {.size = sizeof d, .name = "frozen", .data = frozen, .numel = N,
                              .flags = ZOQ_PARAM_DISABLED};
        zoq_param_add_desc(ctx, &d, NULL);
        zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, cases[c].est);
        zoq_set_int(ctx, ZOQ_OPT_QUERIES, cases[c].queries);
        zoq_set_double(ctx, ZOQ_OPT_LR, 0.1);
        zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, 0.5);
        zoq_set_objective(ctx, constant_objective, NULL);
        float before[N];
        memcpy(before, w, sizeof w);
        zoq_report_t rep = {.size = sizeof rep};
        cr_assert_eq(zoq_step(ctx, &rep), ZOQ_OK);
        cr_assert_eq(rep.passes, cases[c].passes, "case %zu: %lld passes", c,
                     (long long)rep.passes);
        cr_assert_eq(rep.n_points, cases[c].est == ZOQ_EST_CENTRAL ? 2 * cases[c].queries
                                                                   : cases[c].queries + 1);
        cr_assert_eq(rep.loss, 3.0);
        cr_assert_eq(rep.grad_norm, 0.0);
        for (int i = 0; i < N; i++) { /* g = 0: only decay, θ ← 0.95 θ, up to restore rounding */
            cr_assert(fabs(w[i] - 0.95f * before[i]) <= 4e-6 * fabs(before[i]), "case %zu el %d",
                      c, i);
            cr_assert_eq(frozen[i], 1.0f + (float)i, "a disabled parameter moved");
        }
        zoq_destroy(ctx);
    }
}

Test(step, schedules_follow_their_formulas)
{
    float w[8] = {0};
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", w, ZOQ_F32, 8, NULL);
    zoq_set_objective(ctx, constant_objective, NULL);
    zoq_set_double(ctx, ZOQ_OPT_LR, 0.1);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-2);
    zoq_set_int(ctx, ZOQ_OPT_LR_SCHEDULE, ZOQ_SCHED_LINEAR);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_INVALID, "linear schedule without total_steps");
    zoq_set_int(ctx, ZOQ_OPT_TOTAL_STEPS, 110);
    zoq_set_int(ctx, ZOQ_OPT_LR_WARMUP, 10);
    zoq_set_double(ctx, ZOQ_OPT_LR_FINAL, 0.02);
    zoq_set_int(ctx, ZOQ_OPT_EPS_SCHEDULE, ZOQ_SCHED_COSINE);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_INVALID, "eps schedule without eps_final");
    zoq_set_double(ctx, ZOQ_OPT_EPS_FINAL, 1e-4);
    const double pi = 3.14159265358979323846;
    for (int t = 0; t < 120; t++) {
        zoq_report_t rep = {.size = sizeof rep};
        cr_assert_eq(zoq_step(ctx, &rep), ZOQ_OK);
        double lr = t < 10 ? 0.1 * (t + 1) / 10.0
                           : 0.02 + 0.08 * (1.0 - fmin(1.0, (t - 10) / 100.0));
        double p = fmin(1.0, t / 110.0);
        double eps = 1e-4 + (1e-2 - 1e-4) * 0.5 * (1.0 + cos(pi * p));
        cr_assert(fabs(rep.lr - lr) < 1e-15, "t %d lr %.17g want %.17g", t, rep.lr, lr);
        cr_assert(fabs(rep.eps - eps) < 1e-15, "t %d eps %.17g want %.17g", t, rep.eps, eps);
    }
    zoq_destroy(ctx);
}

/* The same run on 1 and 2 threads, in place and ask/tell, gives the same bits. */
static void run_threads(int threads, int dtype, void *buf, int64_t n, int ask_tell)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, threads);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 2);
    zoq_set_int(ctx, ZOQ_OPT_SEED, 99);
    zoq_param_add(ctx, "big", buf, dtype, n, NULL);
    zoq_set_objective(ctx, constant_objective, NULL);
    zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, 0.1);
    for (int t = 0; t < 6; t++) {
        if (ask_tell) {
            const zoq_point_t *pts;
            int32_t np;
            zoq_ask(ctx, &pts, &np);
            double losses[4] = {1.0 + t, 0.5, 2.0, 1.5 * t};
            cr_assert_eq(zoq_tell(ctx, losses, np, NULL), ZOQ_OK);
        } else {
            cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK);
        }
    }
    zoq_destroy(ctx);
}

Test(step, thread_count_does_not_change_results)
{
    enum { N = 400037 };
    for (int dtype = ZOQ_F32; dtype <= ZOQ_BF16; dtype++) {
        size_t sz = dtype == ZOQ_F32 ? 4 : 2;
        for (int mode = 0; mode < 2; mode++) {
            unsigned char *a = malloc(N * sz), *b = malloc(N * sz);
            for (size_t i = 0; i < N * sz; i++)
                a[i] = b[i] = (unsigned char)(i % 7 == 0 ? 0x3c : 0x1f); /* finite values */
            run_threads(1, dtype, a, N, mode);
            run_threads(2, dtype, b, N, mode);
            cr_assert(memcmp(a, b, N * sz) == 0, "dtype %d mode %d differs across threads",
                      dtype, mode);
            free(a);
            free(b);
        }
    }
}

/* f16 and bf16 parameters train too (arithmetic in f32, stored rounded):
 * ask/tell, the objective decoding each materialized point. */
Test(step, half_precision_parameters_train)
{
    enum { N = 64 };
    static float shadow[N];
    static quad q;
    for (int dtype = ZOQ_F16; dtype <= ZOQ_BF16; dtype++) {
        uint16_t h[N], tmp[N];
        quad_init(&q, shadow, N);
        for (int i = 0; i < N; i++)
            h[i] = 0; /* +0 in both formats */
        zoq_ctx *ctx;
        zoq_create(&ctx);
        zoq_param_add(ctx, "h", h, dtype, N, NULL);
        zoq_set_double(ctx, ZOQ_OPT_LR, 1.0 / (10.0 * (N + 2)));
        zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-2);
        double start = quad_loss(&q);
        for (int t = 0; t < 4000; t++) {
            const zoq_point_t *pts;
            int32_t np;
            cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_OK);
            double losses[2];
            for (int p = 0; p < np; p++) {
                cr_assert_eq(zoq_materialize(ctx, p, 0, tmp), ZOQ_OK);
                for (int i = 0; i < N; i++)
                    shadow[i] = dtype == ZOQ_F16 ? zoq__f16_to_f32(tmp[i])
                                                 : zoq__bf16_to_f32(tmp[i]);
                losses[p] = quad_loss(&q);
            }
            cr_assert_eq(zoq_tell(ctx, losses, np, NULL), ZOQ_OK);
        }
        for (int i = 0; i < N; i++)
            shadow[i] = dtype == ZOQ_F16 ? zoq__f16_to_f32(h[i]) : zoq__bf16_to_f32(h[i]);
        double end = quad_loss(&q);
        /* the floor is the format's resolution: bf16 keeps 8 bits, f16 11 */
        cr_assert_lt(end, (dtype == ZOQ_F16 ? 1e-3 : 2e-2) * start, "dtype %d: %g -> %g", dtype,
                     start, end);
        zoq_destroy(ctx);
    }
}

/* An objective that tries to change what the restore depends on. */
static int meddling_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    zoq_ctx *ctx = user;
    float extra[4];
    const zoq_point_t *pts;
    int32_t np;
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, 5), ZOQ_E_STATE);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_DIST, ZOQ_DIST_RADEMACHER), ZOQ_E_STATE);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_THREADS, 1), ZOQ_E_STATE);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, 0.5), ZOQ_E_STATE);
    cr_assert_eq(zoq_param_add(ctx, "extra", extra, ZOQ_F32, 4, NULL), ZOQ_E_STATE);
    cr_assert_eq(zoq_param_set_enabled(ctx, 0, 0), ZOQ_E_STATE);
    cr_assert_eq(zoq_param_set_data(ctx, 0, extra), ZOQ_E_STATE);
    cr_assert_eq(zoq_group_set_enabled(ctx, "", 0, NULL), ZOQ_E_STATE);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_STATE);
    cr_assert_eq(zoq_ask(ctx, &pts, &np), ZOQ_E_STATE);
    cr_assert_eq(zoq_skip_step(ctx), ZOQ_E_STATE);
    cr_assert_eq(zoq_set_objective(ctx, constant_objective, NULL), ZOQ_E_STATE);
    cr_assert_eq(zoq_state_load(ctx, "/nonexistent"), ZOQ_E_STATE);
    cr_assert(strstr(zoq_last_error(ctx), "inside the objective"));
    *loss = (double)ev->point;
    return 0;
}

Test(step, objective_cannot_change_what_restore_needs)
{
    enum { N = 100 };
    float w[N], orig[N];
    for (int i = 0; i < N; i++)
        w[i] = orig[i] = (float)i;
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", w, ZOQ_F32, N, NULL);
    zoq_set_double(ctx, ZOQ_OPT_LR, 0.0);
    zoq_set_objective(ctx, meddling_objective, ctx);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    for (int i = 0; i < N; i++) /* lr 0: only the +εz −2εz +εz round trip */
        cr_assert(fabs(w[i] - orig[i]) <= 3 * ldexp(fabs(orig[i]) + 0.012, -23));
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, 5), ZOQ_OK, "allowed again after the step");
    zoq_destroy(ctx);
}

/* An objective that destroys its context at point 1. */
static int destroying_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    zoq_ctx *ctx = user;
    if (ev->point == 1) {
        zoq_destroy(ctx); /* freed here, the step would go on in freed memory */
        cr_assert(strstr(zoq_last_error(ctx), "inside the objective"), "%s",
                  zoq_last_error(ctx));
    }
    *loss = (double)ev->point;
    return 0;
}

Test(step, destroy_inside_the_objective_is_refused)
{
    float w[64] = {0};
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", w, ZOQ_F32, 64, NULL);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 2);
    zoq_set_objective(ctx, destroying_objective, ctx);
    for (int run = 0; run < 2; run++) /* zoq_step, then zoq_run */
        cr_assert_eq(run ? zoq_run(ctx, 2, NULL, NULL) : zoq_step(ctx, NULL), ZOQ_OK, "%s",
                     zoq_last_error(ctx));
    uint64_t step;
    zoq_get_step(ctx, &step);
    cr_assert_eq(step, 3);
    zoq_destroy(ctx); /* outside the objective: destroyed (ASan and valgrind see no leak) */
}

/* Two threads stepping one context (a misuse): the guard is one atomic
 * compare-and-swap, so every call either runs alone or is refused. */
typedef struct shared_ctx {
    zoq_ctx *ctx;
    float w[1 << 16];
    atomic_int inside, overlaps, ok, refused, other;
} shared_ctx;

static int counting_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    shared_ctx *s = user;
    if (atomic_fetch_add(&s->inside, 1) != 0)
        atomic_fetch_add(&s->overlaps, 1);
    double l = 0;
    for (int i = 0; i < 64; i++) /* cheap next to the passes the old guard left out */
        l += (s->w[i] - 1.0) * (s->w[i] - 1.0);
    atomic_fetch_sub(&s->inside, 1);
    *loss = l + 0 * ev->point;
    return 0;
}

/* Steps per thread: valgrind runs threads one at a time, and slowly, so
 * there it checks the memory of a short run (the race is TSan's to see). */
static int stepper_steps(void)
{
    return RUNNING_ON_VALGRIND ? 40 : 500;
}

static void *stepper(void *arg)
{
    shared_ctx *s = arg;
    for (int k = 0; k < stepper_steps(); k++) {
        int rc = zoq_step(s->ctx, NULL);
        atomic_fetch_add(rc == ZOQ_OK ? &s->ok : rc == ZOQ_E_STATE ? &s->refused : &s->other, 1);
    }
    return NULL;
}

static zoq_ctx *shared_make(shared_ctx *s)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_param_add(ctx, "w", s->w, ZOQ_F32, 1 << 16, NULL);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 2);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, 1);
    zoq_set_double(ctx, ZOQ_OPT_LR, 1e-3);
    zoq_set_objective(ctx, counting_objective, s);
    return ctx;
}

Test(step, one_context_from_two_threads_is_refused_never_raced)
{
    static shared_ctx s, seq;
    s.ctx = shared_make(&s);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, stepper, &s), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    int ok = atomic_load(&s.ok);
    cr_assert_eq(atomic_load(&s.overlaps), 0, "two objectives ran at once");
    cr_assert_eq(atomic_load(&s.other), 0, "a status other than OK or ZOQ_E_STATE");
    cr_assert_eq(ok + atomic_load(&s.refused), 2 * stepper_steps());
    uint64_t steps;
    zoq_get_step(s.ctx, &steps);
    cr_assert_eq(steps, (uint64_t)ok);
    /* the steps that ran are the steps one thread runs, bit for bit */
    seq.ctx = shared_make(&seq);
    for (int k = 0; k < ok; k++)
        cr_assert_eq(zoq_step(seq.ctx, NULL), ZOQ_OK);
    cr_assert(memcmp(s.w, seq.w, sizeof s.w) == 0, "the parameters of %d steps differ", ok);
    zoq_destroy(s.ctx);
    zoq_destroy(seq.ctx);
}

/* zoq_run against zoq_step: a quadratic on f32/f16/bf16 storage whose
 * objective logs every loss it returns (a function of every bit of the
 * point it sees), and fails on the call numbered fail_call if asked. */
typedef struct traj {
    void *data;
    int dtype;
    int64_t n;
    double log[4096];
    int calls, fail_call, fail_code;
    const unsigned char *view;  /* a strided parameter, gathered into data first */
    int64_t stride;
} traj;

static int traj_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    traj *t = user;
    (void)ev;
    const size_t es = t->dtype == ZOQ_F32 ? 4 : 2;
    for (int64_t i = 0; t->view && i < t->n; i++)
        memcpy((char *)t->data + (size_t)i * es, t->view + (size_t)i * (size_t)t->stride, es);
    int call = t->calls++;
    double s = 0;
    for (int64_t i = 0; i < t->n; i++) {
        double d = zoq__load_f32(t->data, t->dtype, i) - sin(0.37 * (double)i);
        s += 0.5 * (1.0 + (double)(i % 10)) * d * d;
    }
    if (call == t->fail_call) {
        if (t->fail_code)
            return t->fail_code;
        s = NAN;
    }
    if (call < 4096)
        t->log[call] = s;
    *loss = s;
    return 0;
}

typedef struct run_cfg {
    int dtype, dist, queries, optimizer, threads, estimator, hessian, sparse, lozo;
    unsigned char *view;        /* non-NULL: the parameter is n elements `stride` bytes apart
                                   there (zeroed; the bytes between left as they are), and
                                   the data given to traj_ctx is the objective's scratch */
    int64_t stride;
} run_cfg;

static zoq_ctx *traj_ctx(const run_cfg *c, traj *t, void *data, int64_t n)
{
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    *t = (traj){.data = data, .dtype = c->dtype, .n = n, .fail_call = -1, .view = c->view,
                .stride = c->stride};
    size_t es = c->dtype == ZOQ_F32 ? 4 : 2;
    memset(data, 0, (size_t)n * es);
    for (int64_t i = 0; c->view && i < n; i++)
        memset(c->view + (size_t)i * (size_t)c->stride, 0, es);
    const zoq_param_desc_t d = {.size = sizeof d, .name = "w", .data = c->view ? (void *)c->view
                                                                               : data,
                                .dtype = c->dtype, .numel = n, .rows = c->lozo ? n / 100 : 0,
                                .cols = c->lozo ? 100 : 0, .stride = c->stride};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    zoq_set_int(ctx, ZOQ_OPT_SEED, 11);
    zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, c->lozo ? 4 : 0);
    zoq_set_int(ctx, ZOQ_OPT_LOZO_INTERVAL, 3); /* V redrawn within the run */
    zoq_set_int(ctx, ZOQ_OPT_DIST, c->dist);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, c->queries);
    zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, c->optimizer);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, c->threads);
    zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, c->estimator);
    zoq_set_int(ctx, ZOQ_OPT_HESSIAN, c->hessian);
    zoq_set_int(ctx, ZOQ_OPT_SPARSE, c->sparse);
    zoq_set_double(ctx, ZOQ_OPT_LR, c->optimizer == ZOQ_OPTIM_ADAM ? 1e-2 : 2e-3);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-2);
    zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, 0.01);
    zoq_set_int(ctx, ZOQ_OPT_TOTAL_STEPS, 40);
    zoq_set_int(ctx, ZOQ_OPT_LR_SCHEDULE, ZOQ_SCHED_COSINE);
    zoq_set_int(ctx, ZOQ_OPT_EPS_SCHEDULE, ZOQ_SCHED_LINEAR);
    zoq_set_double(ctx, ZOQ_OPT_EPS_FINAL, 1e-3);
    cr_assert_eq(zoq_set_objective(ctx, traj_objective, t), ZOQ_OK);
    return ctx;
}

/* Runs `steps` both ways, the objective failing at call fail_call (-1:
 * never) with fail_code (0: a NaN loss); asserts equal statuses, step
 * counts, losses seen and final bits. */
static void run_equals_steps(const run_cfg *c, int64_t n, int steps, int fail_call, int fail_code)
{
    size_t es = c->dtype == ZOQ_F32 ? 4 : 2;
    void *a = malloc((size_t)n * es), *b = malloc((size_t)n * es);
    traj *ta = malloc(sizeof *ta), *tb = malloc(sizeof *tb);
    zoq_ctx *ca = traj_ctx(c, ta, a, n), *cb = traj_ctx(c, tb, b, n);
    ta->fail_call = tb->fail_call = fail_call;
    ta->fail_code = tb->fail_code = fail_code;
    int rc_a = ZOQ_OK, done_a = 0;
    zoq_report_t ra = {.size = sizeof ra}, rb = {.size = sizeof rb};
    for (; done_a < steps && (rc_a = zoq_step(ca, &ra)) == ZOQ_OK; done_a++)
        ;
    int64_t done_b = -1;
    int rc_b = zoq_run(cb, steps, &done_b, &rb);
    cr_assert_eq(rc_b, rc_a, "status %d, zoq_step gave %d", rc_b, rc_a);
    cr_assert_eq(done_b, done_a);
    uint64_t sa, sb;
    zoq_get_step(ca, &sa);
    zoq_get_step(cb, &sb);
    cr_assert_eq(sa, sb);
    cr_assert_eq(ta->calls, tb->calls);
    for (int i = 0; i < ta->calls && i < 4096; i++)
        cr_assert(memcmp(&ta->log[i], &tb->log[i], sizeof(double)) == 0,
                  "loss %d: %.17g vs %.17g (dtype %d opt %d)", i, ta->log[i], tb->log[i],
                  c->dtype, c->optimizer);
    cr_assert(memcmp(a, b, (size_t)n * es) == 0, "final parameters differ");
    cr_assert_eq(ra.failed_point, rb.failed_point);
    cr_assert(memcmp(&ra.loss, &rb.loss, sizeof ra.loss) == 0);
    zoq_destroy(ca);
    zoq_destroy(cb);
    free(a); free(b); free(ta); free(tb);
}

/* A step of f32/f16/bf16 parameters failing at each point in turn, from the
 * same θ: with exact_restore the parameters come back bit for bit and the
 * retried step is the uninterrupted one; without it they come back within
 * the documented bound (docs/inplace.md), one ulp of |θ| + 6ε per pass. */
static void retry_every_point(int dtype, int est, int queries, int exact)
{
    enum { N = 3000, STEPS = 3 };
    const size_t es = dtype == ZOQ_F32 ? 4 : 2, bytes = N * es;
    const double eps = 1e-2;
    unsigned char *a = malloc(bytes), *b = malloc(bytes), *theta = malloc(bytes);
    traj *ta = malloc(sizeof *ta), *tb = malloc(sizeof *tb);
    run_cfg c = {.dtype = dtype, .queries = queries, .estimator = est, .threads = 1,
                 .optimizer = ZOQ_OPTIM_MOMENTUM};
    zoq_ctx *ca = traj_ctx(&c, ta, a, N), *cb = traj_ctx(&c, tb, b, N);
    cr_assert_eq(zoq_set_double(cb, ZOQ_OPT_EPS, eps), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ca, ZOQ_OPT_EPS, eps), ZOQ_OK);
    cr_assert_eq(zoq_set_int(cb, ZOQ_OPT_EXACT_RESTORE, exact), ZOQ_OK);
    const int n_points = est == ZOQ_EST_CENTRAL ? 2 * queries : queries + 1;
    const int mant = dtype == ZOQ_F32 ? 23 : dtype == ZOQ_F16 ? 10 : 7;
    for (int s = 0; s < STEPS; s++) {
        memcpy(theta, b, bytes);
        for (int at = 0; at < n_points; at++) {
            tb->calls = 0;
            tb->fail_call = at;
            tb->fail_code = 7;
            zoq_report_t rep = {.size = sizeof rep};
            cr_assert_eq(zoq_step(cb, &rep), ZOQ_E_CALLBACK);
            for (int64_t i = 0; i < N && !exact; i++) {
                double x = zoq__load_f32(theta, dtype, i), y = zoq__load_f32(b, dtype, i);
                double ulp = fmax(ldexp(1.0, ilogb(fabs(x) + 6 * eps) - mant), ldexp(1.0, -24));
                cr_assert(fabs(x - y) <= (double)rep.passes * ulp, "dtype %d est %d n %d point "
                          "%d element %lld: %.9g back as %.9g (%lld passes)", dtype, est,
                          queries, at, (long long)i, x, y, (long long)rep.passes);
            }
            if (exact)
                cr_assert(memcmp(b, theta, bytes) == 0, "dtype %d est %d n %d: failing at "
                          "point %d did not restore θ bit for bit", dtype, est, queries, at);
            memcpy(b, theta, bytes);
        }
        tb->fail_call = -1;
        cr_assert_eq(s % 2 ? zoq_run(cb, 1, NULL, NULL) : zoq_step(cb, NULL), ZOQ_OK);
        cr_assert_eq(zoq_step(ca, NULL), ZOQ_OK);
        cr_assert(memcmp(a, b, bytes) == 0, "dtype %d est %d n %d: step %d after the retries "
                  "differs from the uninterrupted one", dtype, est, queries, s);
    }
    cr_assert_eq(zoq_run(cb, 3, NULL, NULL), ZOQ_OK); /* unfused, same bits as steps */
    cr_assert_eq(zoq_run(ca, 3, NULL, NULL), ZOQ_OK);
    cr_assert(memcmp(a, b, bytes) == 0);
    zoq_destroy(ca);
    zoq_destroy(cb);
    free(a); free(b); free(theta); free(ta); free(tb);
}

Test(step, exact_restore_retries_reproduce_the_uninterrupted_step)
{
    for (int dtype = ZOQ_F32; dtype <= ZOQ_BF16; dtype++)
        for (int est = ZOQ_EST_CENTRAL; est <= ZOQ_EST_FORWARD; est++)
            for (int n = 1; n <= 4; n += 3)
                retry_every_point(dtype, est, n, 1);
}

Test(step, restore_without_a_copy_is_within_one_ulp_per_pass)
{
    for (int dtype = ZOQ_F32; dtype <= ZOQ_BF16; dtype++)
        for (int est = ZOQ_EST_CENTRAL; est <= ZOQ_EST_FORWARD; est++)
            retry_every_point(dtype, est, 4, 0);
}

Test(run, trajectory_equals_zoq_step_bit_for_bit)
{
    for (int dtype = ZOQ_F32; dtype <= ZOQ_BF16; dtype++)
        for (int opt = ZOQ_OPTIM_SGD; opt <= ZOQ_OPTIM_ADAM; opt++)
            for (int dist = 0; dist < 2; dist++) {
                run_cfg c = {.dtype = dtype, .dist = dist, .queries = 1 + 2 * dist,
                             .optimizer = opt, .threads = 1 + (opt + dtype) % 2};
                run_equals_steps(&c, 70001, 6, -1, 0);
            }
    /* LoZO fuses (its directions depend on the step only); estimators and
     * techniques that cannot fuse take the plain path */
    const run_cfg plain[] = {{.lozo = 1, .queries = 2, .optimizer = ZOQ_OPTIM_ADAM},
                             {.estimator = ZOQ_EST_FORWARD, .queries = 2},
                             {.hessian = 1, .queries = 1},
                             {.sparse = ZOQ_SPARSE_MAGNITUDE, .queries = 1}};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        run_equals_steps(&plain[i], 3000, 5, -1, 0);
}

Test(run, failure_mid_run_restores_the_last_applied_step)
{
    /* central n=2: 4 calls a step; call 8 is the first point of step 2,
     * reached by the fused pass of step 1; call 13 the second of step 3 */
    const int calls[] = {0, 3, 8, 13};
    const int codes[] = {0, 7, ZOQ_CALLBACK_STOP};
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++)
        for (size_t k = 0; k < sizeof codes / sizeof *codes; k++) {
            run_cfg c = {.dtype = (int)(i % 3), .queries = 2, .optimizer = ZOQ_OPTIM_MOMENTUM,
                         .threads = 1};
            run_equals_steps(&c, 5000, 10, calls[i], codes[k]);
        }
}

Test(run, two_passes_a_step_and_arguments)
{
    run_cfg c = {.dtype = ZOQ_F32, .queries = 1, .threads = 1};
    float *w = malloc(1000 * sizeof *w);
    traj *t = malloc(sizeof *t);
    zoq_ctx *ctx = traj_ctx(&c, t, w, 1000);
    zoq_report_t r = {.size = sizeof r};
    int64_t done = -1;
    cr_assert_eq(zoq_run(ctx, 1, &done, &r), ZOQ_OK);
    cr_assert_eq(r.passes, 3); /* one step alone: nothing to fuse with */
    cr_assert_eq(zoq_run(ctx, 4, &done, &r), ZOQ_OK);
    cr_assert_eq(done, 4);
    cr_assert_eq(r.passes, 2); /* its first move came with the previous update */
    cr_assert_eq(zoq_run(ctx, 0, &done, NULL), ZOQ_OK);
    cr_assert_eq(done, 0);
    cr_assert_eq(zoq_run(ctx, -1, &done, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_run(NULL, 1, &done, NULL), ZOQ_E_INVALID);
    zoq_set_objective(ctx, NULL, NULL);
    cr_assert_eq(zoq_run(ctx, 1, NULL, NULL), ZOQ_E_STATE);
    uint64_t step;
    zoq_get_step(ctx, &step);
    cr_assert_eq(step, 5);
    zoq_destroy(ctx);
    free(w);
    free(t);
}

/* ---- strided views (zoq_param_desc_t.stride) ------------------------------ */

#define STRIDE 18   /* a Q4_0 block: the f16 scale, then 16 bytes of codes */
#define FILL 0xA5   /* what the bytes between the elements hold, and keep */

/* The view's elements equal the dense parameter's bytes, and the bytes
 * between them still hold FILL. */
static void assert_view_is(const unsigned char *view, const void *dense, size_t es, int64_t n,
                           const char *when)
{
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *e = view + (size_t)i * STRIDE;
        cr_assert(memcmp(e, (const char *)dense + (size_t)i * es, es) == 0,
                  "%s: element %lld differs from the dense run's", when, (long long)i);
        for (size_t k = es; k < STRIDE; k++)
            cr_assert_eq(e[k], FILL, "%s: byte %zu after element %lld was written", when, k,
                         (long long)i);
    }
}

/* c's run on a dense buffer and on a strided view, step by step (a failing
 * call every third step, then zoq_run's fused steps): the same statuses,
 * losses and parameter bits. */
static void strided_equals_dense(run_cfg c, int64_t n)
{
    const size_t es = c.dtype == ZOQ_F32 ? 4 : 2;
    void *dense = malloc((size_t)n * es), *scratch = malloc((size_t)n * es);
    unsigned char *raw = malloc((size_t)n * STRIDE + 1);
    traj *ta = malloc(sizeof *ta), *tb = malloc(sizeof *tb);
    memset(raw, FILL, (size_t)n * STRIDE + 1);
    zoq_ctx *ca = traj_ctx(&c, ta, dense, n);
    c.view = raw + 1; /* odd address: no element is aligned */
    c.stride = STRIDE;
    zoq_ctx *cb = traj_ctx(&c, tb, scratch, n);
    zoq_set_int(ca, ZOQ_OPT_EXACT_RESTORE, 1);
    zoq_set_int(cb, ZOQ_OPT_EXACT_RESTORE, 1);
    for (int s = 0; s < 6; s++) {
        ta->fail_call = tb->fail_call = s % 3 == 2 ? ta->calls + 1 : -1;
        ta->fail_code = tb->fail_code = 9;
        const int rc_a = zoq_step(ca, NULL), rc_b = zoq_step(cb, NULL);
        cr_assert_eq(rc_b, rc_a, "dtype %d step %d: %d vs %d", c.dtype, s, rc_b, rc_a);
        cr_assert_eq(rc_a, s % 3 == 2 ? ZOQ_E_CALLBACK : ZOQ_OK);
        assert_view_is(raw + 1, dense, es, n, "after a step");
    }
    ta->fail_call = tb->fail_call = -1;
    cr_assert_eq(zoq_run(ca, 3, NULL, NULL), ZOQ_OK);
    cr_assert_eq(zoq_run(cb, 3, NULL, NULL), ZOQ_OK);
    assert_view_is(raw + 1, dense, es, n, "after zoq_run");
    cr_assert_eq(tb->calls, ta->calls);
    for (int i = 0; i < ta->calls && i < 4096; i++)
        cr_assert(memcmp(&ta->log[i], &tb->log[i], sizeof(double)) == 0, "loss %d", i);
    cr_assert_eq(raw[0], FILL);
    zoq_destroy(ca);
    zoq_destroy(cb);
    free(dense); free(scratch); free(raw); free(ta); free(tb);
}

Test(step, strided_view_trains_as_the_dense_buffer_bit_for_bit)
{
    for (int dtype = ZOQ_F32; dtype <= ZOQ_BF16; dtype++) {
        strided_equals_dense((run_cfg){.dtype = dtype, .queries = 2, .threads = 1}, 3000);
        /* threads, momentum, HiZOO and a magnitude mask (read through the view) */
        strided_equals_dense((run_cfg){.dtype = dtype, .queries = 1, .threads = 2,
                                       .optimizer = ZOQ_OPTIM_MOMENTUM, .hessian = 1,
                                       .sparse = ZOQ_SPARSE_MAGNITUDE}, 70000);
    }
}

/* zoq_materialize writes a strided parameter's point in the parameter's
 * layout: the same values as the dense parameter's, the bytes between the
 * elements of dst untouched; a dst inside the view's span is refused. */
Test(step, strided_materialize_keeps_the_bytes_between)
{
    enum { N = 500 };
    for (int dtype = ZOQ_F16; dtype <= ZOQ_BF16; dtype++) {
        uint16_t dense[N], scratch[N], want[N];
        static unsigned char view[N * STRIDE], dst[N * STRIDE];
        traj *ta = malloc(sizeof *ta), *tb = malloc(sizeof *tb);
        memset(view, FILL, sizeof view);
        memset(dst, FILL, sizeof dst);
        run_cfg c = {.dtype = dtype, .queries = 1, .threads = 1};
        zoq_ctx *ca = traj_ctx(&c, ta, dense, N);
        c.view = view;
        c.stride = STRIDE;
        zoq_ctx *cb = traj_ctx(&c, tb, scratch, N);
        cr_assert_eq(zoq_step(ca, NULL), ZOQ_OK);
        cr_assert_eq(zoq_step(cb, NULL), ZOQ_OK);
        const zoq_point_t *pts;
        int32_t np;
        cr_assert_eq(zoq_ask(ca, &pts, &np), ZOQ_OK);
        cr_assert_eq(zoq_ask(cb, &pts, &np), ZOQ_OK);
        cr_assert_eq(zoq_materialize(ca, 1, 0, want), ZOQ_OK);
        cr_assert_eq(zoq_materialize(cb, 1, 0, dst), ZOQ_OK, "%s", zoq_last_error(cb));
        assert_view_is(dst, want, 2, N, "materialized");
        cr_assert_eq(zoq_materialize(cb, 1, 0, view + (N - 1) * STRIDE), ZOQ_E_INVALID,
                     "dst starting in the view's last block");
        assert_view_is(view, dense, 2, N, "the parameter after materialize");
        zoq_cancel(ca);
        zoq_cancel(cb);
        zoq_destroy(ca);
        zoq_destroy(cb);
        free(ta);
        free(tb);
    }
}
