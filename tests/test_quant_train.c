/* test_quant_train.c - training quantized weights (lib/quant/codes.c, QZO in
 * the float path): codes stay integers in range after every step and every
 * probe, exact restore and ask/tell equivalence, thread-count and resume
 * bit-identity, QZO's floor and default DDC, the Monte Carlo bias of seed
 * 003's Fig. 3a, and argument checking. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zoq.h"

#include "kat/quant_train_vectors.h"

#define N 96

/* A quantized least-squares problem: w_i = s_{i/group}·(q_i - zero) against
 * a target; f32 scales may be trained too (QZO). Each evaluation checks that
 * every code is in [lo, hi]. */
typedef struct problem {
    int8_t q[N];
    float scales[N];
    int64_t group;
    int lo, hi, zero;
    float target[N];
    int evals, out_of_range;
    int fail_at;                /* evaluation index to fail at, -1 none */
} problem;

static int loss_fn(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    problem *p = user;
    if (p->evals++ == p->fail_at)
        return 7;
    double s = 0.0;
    for (int i = 0; i < N; i++) {
        if (p->q[i] < p->lo || p->q[i] > p->hi)
            p->out_of_range++;
        double w = (double)p->scales[i / p->group] * (p->q[i] - p->zero);
        s += (w - p->target[i]) * (w - p->target[i]);
    }
    *loss = s;
    return 0;
}

/* int4-like problem: codes 0..15, zero 8, 4 groups of 24; codes start at the
 * edges and in the middle so probes clamp. */
static void problem_init(problem *p)
{
    memset(p, 0, sizeof *p);
    p->group = 24;
    p->lo = 0;
    p->hi = 15;
    p->zero = 8;
    p->fail_at = -1;
    for (int i = 0; i < N; i++) {
        p->q[i] = (int8_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 15 : 8);
        p->target[i] = 0.05f * (float)((i * 7) % 13 - 6);
    }
    for (int g = 0; g < N / 24; g++)
        p->scales[g] = 0.02f + 0.005f * (float)g;
}

static double problem_loss(problem *p)
{
    double l;
    int evals = p->evals;
    loss_fn(p, NULL, &l);
    p->evals = evals;
    return l;
}

static zoq_ctx *make_ctx(problem *p, int method, int with_scales, int threads)
{
    zoq_ctx *ctx;
    int32_t id;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "codes", p->q, ZOQ_I8, N, &id), ZOQ_OK);
    cr_assert_eq(zoq_param_set_codes(ctx, id, p->lo, p->hi, p->scales, p->group), ZOQ_OK);
    if (with_scales) {
        zoq_param_desc_t d = {.size = sizeof d, .name = "scales", .data = p->scales,
                              .dtype = ZOQ_F32, .numel = N / p->group, .flags = ZOQ_PARAM_SCALE};
        cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    }
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QMETHOD, method), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUZO_BITS, 4), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, 0.04), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, method == ZOQ_QMETHOD_ZOQO ? 0.02 : 0.004),
                 ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_THREADS, threads), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, 11), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, loss_fn, p), ZOQ_OK);
    return ctx;
}

static const int methods[] = {ZOQ_QMETHOD_QUZO, ZOQ_QMETHOD_QUZO_NAIVE, ZOQ_QMETHOD_ZOQO};

Test(quant_train, codes_stay_on_the_grid_and_the_loss_falls)
{
    for (int k = 0; k < 3; k++) {
        problem p;
        problem_init(&p);
        zoq_ctx *ctx = make_ctx(&p, methods[k], 0, 1);
        const double l0 = problem_loss(&p);
        for (int t = 0; t < 300; t++) {
            cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
            for (int i = 0; i < N; i++)
                cr_assert(p.q[i] >= 0 && p.q[i] <= 15, "method %d step %d code %d = %d",
                          methods[k], t, i, p.q[i]);
        }
        cr_assert_eq(p.out_of_range, 0, "a probe left [lo, hi]");
        const double l1 = problem_loss(&p);
        cr_assert(l1 < 0.5 * l0, "method %d: loss %g -> %g", methods[k], l0, l1);
        zoq_destroy(ctx);
    }
}

Test(quant_train, failed_step_restores_clamped_probes_exactly)
{
    for (int k = 0; k < 3; k++) {
        for (int at = 0; at < 2; at++) {
            problem p;
            problem_init(&p);
            zoq_ctx *ctx = make_ctx(&p, methods[k], 1, 1);
            cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK);
            int8_t before[N];
            float sb[N];
            memcpy(before, p.q, sizeof before);
            memcpy(sb, p.scales, sizeof sb);
            p.fail_at = p.evals + at;
            cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_CALLBACK);
            cr_assert_eq(memcmp(before, p.q, sizeof before), 0, "method %d point %d", methods[k],
                         at);
            zoq_destroy(ctx);
        }
    }
}

/* Codes and their scales trained together: ask/tell with materialized points
 * must step where the in-place run steps (the step's offsets use θ's scales,
 * not the probe's: using the probe's would be off by about eps = 4 %). In
 * place, θ + eps·z − 2 eps·z reaches the second point only up to float
 * rounding, and these runs are unstable (losses up to 10^4 whose two points
 * can differ by 10^-4 of them, and g = (L+ - L-) / 2eps carries the loss's
 * rounding times (|L+| + |L-|) / |L+ - L-|): the drift would grow without
 * bound, so each step starts both from the in-place run's scales and must
 * agree on codes bit for bit, on scales to 1e-4 plus the binary32 rounding
 * of the losses (2^-23) times that conditioning, relative to the scale or to
 * the step's change of it, whichever is larger (an error of g is relative to
 * the update, which can nearly cancel the scale it is added to). */
Test(quant_train, ask_tell_equals_in_place_bit_for_bit)
{
    for (int k = 0; k < 3; k++) {
        problem a, b;
        problem_init(&a);
        problem_init(&b);
        zoq_ctx *ca = make_ctx(&a, methods[k], 1, 1), *cb = make_ctx(&b, methods[k], 1, 1);
        for (int t = 0; t < 40; t++) {
            float before[N];
            memcpy(before, a.scales, sizeof before);
            cr_assert_eq(zoq_step(ca, NULL), ZOQ_OK);
            const zoq_point_t *pts;
            int32_t n;
            cr_assert_eq(zoq_ask(cb, &pts, &n), ZOQ_OK);
            double losses[8];
            int8_t theta[N];
            memcpy(theta, b.q, sizeof theta);
            for (int i = 0; i < n; i++) {
                cr_assert_eq(zoq_materialize(cb, i, 0, b.q), ZOQ_E_INVALID); /* overlaps */
                int8_t pt[N];
                cr_assert_eq(zoq_materialize(cb, i, 0, pt), ZOQ_OK);
                float off[N];
                cr_assert_eq(zoq_point_noise(cb, i, 0, 0, N, off), ZOQ_OK);
                for (int j = 0; j < N; j++) { /* the point is clamp(θ ± u1) */
                    int sign = pts[i].coef > 0 ? 1 : -1, v = theta[j] + sign * (int)off[j];
                    cr_assert_eq(pt[j], v < 0 ? 0 : v > 15 ? 15 : v);
                }
                float sc[N], sc_theta[N];
                cr_assert_eq(zoq_materialize(cb, i, 1, sc), ZOQ_OK);
                memcpy(sc_theta, b.scales, sizeof sc_theta);
                memcpy(b.scales, sc, (size_t)(N / b.group) * sizeof *sc);
                memcpy(b.q, pt, sizeof pt);
                loss_fn(&b, NULL, &losses[i]);
                memcpy(b.q, theta, sizeof theta);
                memcpy(b.scales, sc_theta, sizeof sc_theta);
            }
            cr_assert_eq(zoq_tell(cb, losses, n, NULL), ZOQ_OK);
            cr_assert_eq(memcmp(a.q, b.q, sizeof a.q), 0, "method %d step %d", methods[k], t);
            cr_assert_eq(n, 2);
            const double tol =
                1e-4 + 0x1p-23 * (fabs(losses[0]) + fabs(losses[1])) / fabs(losses[0] - losses[1]);
            for (int g = 0; g < N / a.group; g++)
                cr_assert(fabsf(a.scales[g] - b.scales[g]) <=
                              tol * fmaxf(fabsf(b.scales[g]), fabsf(b.scales[g] - before[g])),
                          "method %d step %d scale %d: %.9g vs %.9g", methods[k], t, g,
                          a.scales[g], b.scales[g]);
            memcpy(b.scales, a.scales, sizeof b.scales);
        }
        zoq_destroy(ca);
        zoq_destroy(cb);
    }
}

Test(quant_train, thread_count_and_resume_do_not_change_results)
{
    char path[] = "/tmp/zoq_qtrain_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    for (int k = 0; k < 3; k++) {
        problem a, b;
        problem_init(&a);
        problem_init(&b);
        zoq_ctx *ca = make_ctx(&a, methods[k], 1, 1), *cb = make_ctx(&b, methods[k], 1, 2);
        for (int t = 0; t < 60; t++) {
            cr_assert_eq(zoq_step(ca, NULL), ZOQ_OK);
            cr_assert_eq(zoq_step(cb, NULL), ZOQ_OK);
            if (t == 29) { /* b resumes in a fresh context from a saved state */
                cr_assert_eq(zoq_state_save(cb, path), ZOQ_OK);
                zoq_destroy(cb);
                cb = make_ctx(&b, ZOQ_QMETHOD_QUZO, 1, 2);
                cr_assert_eq(zoq_state_load(cb, path), ZOQ_OK, "%s", zoq_last_error(cb));
            }
        }
        cr_assert_eq(memcmp(a.q, b.q, sizeof a.q), 0, "method %d codes", methods[k]);
        cr_assert_eq(memcmp(a.scales, b.scales, sizeof a.scales), 0, "method %d scales",
                     methods[k]);
        zoq_destroy(ca);
        zoq_destroy(cb);
    }
    unlink(path);
}

/* QZO: scales are the only trainable tensor; DDC is on by default for them
 * and the floor holds after every update. */
static int scale_loss(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    const float *s = user;
    *loss = 1e4 * (double)(s[0] + s[1] + s[2] + s[3]); /* pushes every scale down, hard */
    return 0;
}

Test(quant_train, qzo_scales_floor_and_default_ddc)
{
    float s[4] = {0.5f, 0.25f, 0.125f, 1.0f};
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "s", .data = s, .dtype = ZOQ_F32,
                          .numel = 4, .flags = ZOQ_PARAM_SCALE};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, scale_loss, s), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SCALE_FLOOR, 0.01), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, 1e-4), ZOQ_OK);
    zoq_report_t r = {.size = sizeof r};
    int clipped = 0, at_floor = 0;
    for (int t = 0; t < 200; t++) {
        cr_assert_eq(zoq_step(ctx, &r), ZOQ_OK);
        clipped += r.n_clipped;
        for (int i = 0; i < 4; i++) {
            cr_assert(s[i] >= 0.01f, "scale %d = %g below the floor", i, s[i]);
            at_floor += s[i] == 0.01f;
        }
    }
    cr_assert(at_floor > 50, "the floor was reached %d times", at_floor);
    /* |g| = 1e4·|Σz| is above C = 100 unless |Σz| < 0.01 (p ~ 0.004) */
    cr_assert(clipped >= 195, "%d of 200 steps clipped", clipped);
    cr_assert(s[3] < 0.5f && s[0] < 0.05f, "s = %g %g %g %g", s[0], s[1], s[2], s[3]);
    /* scale_clip = 0 turns the default off; an explicit clip wins */
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SCALE_CLIP, 0.0), ZOQ_OK);
    cr_assert_eq(zoq_step(ctx, &r), ZOQ_OK);
    cr_assert_eq(r.n_clipped, 0);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_CLIP, 1e9), ZOQ_OK);
    cr_assert_eq(zoq_step(ctx, &r), ZOQ_OK);
    cr_assert_eq(r.n_clipped, 0);
    zoq_destroy(ctx);
}

/* Seed 003, Fig. 3a, end to end through zoq_step: on a linear loss the
 * central difference is exact, so each step's code update is
 *   Δq = SR(-(lr/eps²)·(gᵀu1)·u2)   (naive: u2 = u1),
 * and with the codes reset to 0 before each step, the mean of Δq over many
 * steps estimates E[estimator]. The full-precision estimate on the same z
 * (zoq_noise_fill) is -lr·(gᵀz)·z. eps (in code steps) maps 4σ of z onto the
 * b-bit range, as a per-tensor min-max scale would. */
#define MC_D 16
#define MC_STEPS 20000

static double g_lin[MC_D];

static int linear_loss(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    const int8_t *q = user;
    double s = 0.0;
    for (int i = 0; i < MC_D; i++)
        s += g_lin[i] * q[i];
    *loss = s;
    return 0;
}

/* ℓ2 distance of mean Δq from the mean full-precision update, relative to its norm. */
static double mc_error(int method, int bits)
{
    int8_t q[MC_D] = {0};
    zoq_ctx *ctx;
    const double eps = ((1 << (bits - 1)) - 1) / 4.0, lr = 6.0;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "w", q, ZOQ_I8, MC_D, NULL), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QMETHOD, method), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUZO_BITS, bits), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, eps), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, lr), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, linear_loss, q), ZOQ_OK);
    const uint64_t key = zoq_tensor_key(0, "w");
    double mq[MC_D] = {0}, mfp[MC_D] = {0};
    for (int t = 0; t < MC_STEPS; t++) {
        memset(q, 0, sizeof q);
        float z[MC_D];
        cr_assert_eq(zoq_noise_fill(key, (uint64_t)t, 0, 0, ZOQ_DIST_GAUSSIAN, 0, MC_D, z),
                     ZOQ_OK);
        cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK);
        double gz = 0.0;
        for (int i = 0; i < MC_D; i++)
            gz += g_lin[i] * z[i];
        for (int i = 0; i < MC_D; i++) {
            mq[i] += q[i];
            mfp[i] += -lr * gz * z[i];
        }
    }
    double num = 0.0, den = 0.0;
    for (int i = 0; i < MC_D; i++) {
        num += (mq[i] - mfp[i]) * (mq[i] - mfp[i]);
        den += mfp[i] * mfp[i];
    }
    zoq_destroy(ctx);
    return sqrt(num / den);
}

Test(quant_train, monte_carlo_two_roundings_are_unbiased_naive_is_not)
{
    for (int i = 0; i < MC_D; i++)
        g_lin[i] = 0.25 * cos(1.0 + i); /* |g| ~ 0.7 */
    const int bits[3] = {8, 4, 3};
    double quzo[3], naive[3];
    for (int b = 0; b < 3; b++) {
        quzo[b] = mc_error(ZOQ_QMETHOD_QUZO, bits[b]);
        naive[b] = mc_error(ZOQ_QMETHOD_QUZO_NAIVE, bits[b]);
        fprintf(stderr, "monte carlo (%d steps): INT%d  two roundings %.4f  naive %.4f\n",
                MC_STEPS, bits[b], quzo[b], naive[b]);
    }
    for (int b = 0; b < 3; b++)
        cr_assert(quzo[b] < 0.04, "INT%d two-rounding error %g", bits[b], quzo[b]);
    cr_assert(naive[2] > naive[1] && naive[1] > naive[0], "naive %g %g %g", naive[0], naive[1],
              naive[2]);
    cr_assert(naive[2] > 0.15 && naive[2] > 5 * quzo[2]);
    cr_assert(naive[1] > 2 * quzo[1]);
}

Test(quant_train, arguments_are_checked)
{
    zoq_ctx *ctx;
    float f[64];
    int8_t c[64] = {0};
    int32_t fid, cid;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "f", f, ZOQ_F32, 64, &fid), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "c", c, ZOQ_I8, 64, &cid), ZOQ_OK);
    cr_assert_eq(zoq_param_set_codes(ctx, fid, 0, 15, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_set_codes(ctx, cid, 0, 200, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_set_codes(ctx, cid, 5, 5, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_set_codes(ctx, cid, 0, 15, f, 7), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_set_codes(ctx, cid, 0, 15, f, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_set_codes(ctx, 9, 0, 15, NULL, 0), ZOQ_E_NOT_FOUND);
    cr_assert_eq(zoq_param_set_codes(ctx, cid, -8, 7, NULL, 0), ZOQ_OK);
    cr_assert_eq(zoq_param_init_normal(ctx, cid, 1.0), ZOQ_E_INVALID);
    zoq_param_desc_t d = {.size = sizeof d, .name = "s", .data = c, .dtype = ZOQ_I8,
                          .numel = 4, .flags = ZOQ_PARAM_SCALE};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QMETHOD, 3), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUZO_BITS, 1), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUZO_BITS, 9), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SCALE_FLOOR, -1.0), ZOQ_E_INVALID);
    /* integer codes refuse what they cannot do, before anything moves */
    problem p;
    problem_init(&p);
    cr_assert_eq(zoq_set_objective(ctx, loss_fn, &p), ZOQ_OK);
    const int64_t keys[4][2] = {{ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM}, {ZOQ_OPT_HESSIAN, 1},
                                {ZOQ_OPT_SPARSE, ZOQ_SPARSE_RANDOM}, {ZOQ_OPT_LOZO_RANK, 2}};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(zoq_set_int(ctx, (int)keys[k][0], keys[k][1]), ZOQ_OK);
        cr_assert_eq(zoq_step(ctx, NULL), ZOQ_E_INVALID);
        cr_assert_eq(zoq_set_int(ctx, (int)keys[k][0], 0), ZOQ_OK);
    }
    cr_assert_eq(zoq_param_set_enabled(ctx, cid, 0), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM), ZOQ_OK);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK); /* disabled codes do not block the rest */
    zoq_destroy(ctx);

    /* the qmatrix helpers */
    int8_t q8[4 * 32];
    uint8_t q4[4 * 16], zeros[4];
    float s8[4];
    zoq_qmatrix_t m8 = {.size = sizeof m8, .format = ZOQ_QFORMAT_INT8_ROW, .rows = 4,
                        .cols = 32, .codes = q8, .scales = s8};
    zoq_qmatrix_t m4 = {.size = sizeof m4, .format = ZOQ_QFORMAT_INT4_GROUP, .group_size = 32,
                        .rows = 4, .cols = 32, .codes = q4, .scales = s8, .zeros = zeros};
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    int32_t id;
    cr_assert_eq(zoq_param_add_qcodes(ctx, "w8", &m8, &id), ZOQ_OK);
    cr_assert_eq(zoq_param_add_qcodes(ctx, "w4", &m4, NULL), ZOQ_E_UNSUPPORTED);
    cr_assert_eq(zoq_param_add_qscales(ctx, "s4", &m4, &id), ZOQ_OK);
    cr_assert_eq(id, 1);
    cr_assert_eq(zoq_param_add_qscales(ctx, "s4", &m4, NULL), ZOQ_E_EXISTS);
    m4.group_size = 48;
    cr_assert_eq(zoq_param_add_qscales(ctx, "bad", &m4, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_add_qscales(NULL, "x", &m8, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_count(ctx), 2);
    zoq_destroy(ctx);
}

/* Known answers from tests/kat/gen_quant_train_kat.py (written from the docs). */
static int kat_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    *loss = kat_qt_losses[ev->step][ev->point];
    return 0;
}

static void kat_run(const kat_qt_t *k, int in_place, int8_t *codes)
{
    float scales[KAT_QT_N / KAT_QT_GROUP];
    memcpy(scales, kat_qt_scales, sizeof scales);
    memcpy(codes, kat_qt_codes0, KAT_QT_N);
    zoq_ctx *ctx;
    int32_t id;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, KAT_QT_NAME, codes, ZOQ_I8, KAT_QT_N, &id), ZOQ_OK);
    cr_assert_eq(zoq_param_set_codes(ctx, id, KAT_QT_LO, KAT_QT_HI, k->scales ? scales : NULL,
                                     KAT_QT_GROUP), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, KAT_QT_SEED), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QMETHOD, k->qmethod), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, k->estimator), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUERIES, k->queries), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUZO_BITS, k->bits), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, k->accumulate), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, k->lr), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, k->eps), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_CLIP, k->clip), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SIGN, k->sign), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, kat_objective, NULL), ZOQ_OK);
    for (int t = 0; t < KAT_QT_STEPS; t++) {
        if (in_place) {
            cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK);
            continue;
        }
        const zoq_point_t *pts;
        int32_t n;
        cr_assert_eq(zoq_ask(ctx, &pts, &n), ZOQ_OK);
        cr_assert_eq(zoq_tell(ctx, kat_qt_losses[t], n, NULL), ZOQ_OK);
    }
    zoq_destroy(ctx);
}

Test(quant_train, known_answers_of_quzo_naive_and_zoqo)
{
    for (size_t c = 0; c < sizeof kat_qt / sizeof kat_qt[0]; c++) {
        for (int in_place = 0; in_place < 2; in_place++) {
            int8_t codes[KAT_QT_N];
            kat_run(&kat_qt[c], in_place, codes);
            for (int i = 0; i < KAT_QT_N; i++)
                cr_assert_eq(codes[i], kat_qt[c].codes[i], "%s (%s) code %d: %d, expected %d",
                             kat_qt[c].name, in_place ? "in place" : "ask/tell", i, codes[i],
                             kat_qt[c].codes[i]);
        }
    }
}

Test(quant_train, known_answer_of_qzo)
{
    float s[KAT_QZO_N];
    memcpy(s, kat_qzo_scales0, sizeof s);
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "scales", .data = s, .dtype = ZOQ_F32,
                          .numel = KAT_QZO_N, .flags = ZOQ_PARAM_SCALE};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, KAT_QT_SEED), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_SCALE_FLOOR, KAT_QZO_FLOOR), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, kat_objective, NULL), ZOQ_OK);
    zoq_report_t r = {.size = sizeof r};
    for (int t = 0; t < KAT_QT_STEPS; t++) {
        cr_assert_eq(zoq_step(ctx, &r), ZOQ_OK);
        cr_assert_eq(r.n_clipped, kat_qzo_clipped[t], "step %d", t);
    }
    for (int i = 0; i < KAT_QZO_N; i++)
        cr_assert(fabs(s[i] - kat_qzo_scales[i]) <= 1e-6 * kat_qzo_scales[i], "scale %d: %.9g, "
                  "expected %.9g", i, s[i], kat_qzo_scales[i]);
    zoq_destroy(ctx);
}
