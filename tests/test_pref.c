/* test_pref.c - preference losses, AERO state, evaluation statistics, the
 * regression guard and the data helpers (lib/pref), against known answers
 * generated independently by tests/kat/gen_pref_kat.py (mpmath, scipy). */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "zoq.h"

#include "kat/pref_vectors.h"

/* |got - want| <= rel·|want| + abs; NaN matches NaN. */
static int close_to(double got, double want, double rel, double abs_tol)
{
    if (isnan(want))
        return isnan(got);
    if (!isfinite(got))
        return got == want;
    return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

#define EXPECT_CLOSE(got, want, rel, abs_tol, what, name)                                  \
    cr_expect(close_to((got), (want), (rel), (abs_tol)), "%s: %s = %.17g, want %.17g", (name), \
              (what), (double)(got), (double)(want))

/* ---- building calls from a known-answer case ------------------------------ */

static void kat_params(const pref_kat *k, zoq_pref_params_t *p)
{
    cr_assert_eq(zoq_pref_params_default(k->loss_id, p), ZOQ_OK);
    p->beta = k->beta;
    p->label_smoothing = k->label_smoothing;
    p->gamma = k->gamma;
    p->alpha = k->alpha;
    p->lambda = k->lambda;
    p->desirable_weight = k->wd;
    p->undesirable_weight = k->wu;
    p->clip_eps = k->clip_eps;
    p->scale_rewards = k->scale_rewards;
}

static void kat_batch(const pref_kat *k, zoq_pref_batch_t *b)
{
    memset(b, 0, sizeof *b);
    b->size = sizeof *b;
    b->n = k->n;
    b->chosen_logps = k->pc;
    b->rejected_logps = k->pr;
    b->chosen_tokens = k->lc;
    b->rejected_tokens = k->lr;
    b->ref_chosen_logps = k->rc;
    b->ref_rejected_logps = k->rr;
    b->chosen_nll = k->nll;
    b->labels = k->labels;
    b->kl_logps = k->klp;
    b->kl_ref_logps = k->klr;
    b->n_kl = k->n_kl;
    b->kto_z0 = k->kto_z0;
    b->group_ids = k->groups;
    b->rewards = k->rewards;
    b->old_logps = k->old;
}

/* Evaluates case k with pc[0] replaced by pc0 (NAN: unchanged). */
static int kat_eval(const pref_kat *k, double pc0, zoq_pref_result_t *r, double *items,
                    double *adv)
{
    zoq_pref_params_t p;
    zoq_pref_batch_t b;
    double pc[64];
    kat_params(k, &p);
    kat_batch(k, &b);
    cr_assert(k->n <= 64);
    memcpy(pc, k->pc, (size_t)k->n * sizeof pc[0]);
    if (!isnan(pc0))
        pc[0] = pc0;
    b.chosen_logps = pc;
    zoq_pref_aero_t *s = NULL;
    if (k->loss_id == ZOQ_LOSS_AERO) {
        cr_assert_eq(zoq_pref_aero_create(0.9, &s), ZOQ_OK);
        cr_assert_eq(zoq_pref_aero_set(s, k->aero_b, k->aero_v, k->aero_count), ZOQ_OK);
    }
    memset(r, 0, sizeof *r);
    r->size = sizeof *r;
    r->item_losses = items;
    r->advantages = adv;
    const int st = zoq_pref_loss_eval(&p, &b, s, r);
    zoq_pref_aero_free(s);
    return st;
}

/* ---- known answers ------------------------------------------------------------ */

Test(pref_kat, every_loss_has_cases)
{
    int count[ZOQ_PREF_LOSS_COUNT] = {0};
    for (size_t i = 0; i < PREF_KAT_COUNT; i++)
        count[pref_kats[i].loss_id]++;
    for (int l = 0; l < ZOQ_PREF_LOSS_COUNT; l++)
        cr_expect(count[l] >= 2, "loss %s has %d known-answer cases", zoq_pref_loss_name(l),
                  count[l]);
}

Test(pref_kat, losses_and_diagnostics)
{
    for (size_t c = 0; c < PREF_KAT_COUNT; c++) {
        const pref_kat *k = &pref_kats[c];
        zoq_pref_result_t r;
        double items[64], adv[64];
        for (int i = 0; i < 64; i++)
            items[i] = adv[i] = -12345.0;
        cr_assert_eq(kat_eval(k, NAN, &r, items, adv), ZOQ_OK, "%s", k->name);

        /* Terms of a mean can cancel: the absolute part scales with them. */
        EXPECT_CLOSE(r.loss, k->loss, 1e-12, 2e-14 * k->loss_scale, "loss", k->name);
        EXPECT_CLOSE(r.reward_chosen, k->reward_chosen, 1e-12, 2e-14 * k->margin_scale,
                     "reward_chosen", k->name);
        EXPECT_CLOSE(r.reward_rejected, k->reward_rejected, 1e-12, 2e-14 * k->margin_scale,
                     "reward_rejected", k->name);
        EXPECT_CLOSE(r.margin, k->margin, 1e-12, 2e-14 * k->margin_scale, "margin", k->name);
        EXPECT_CLOSE(r.reward_accuracy, k->accuracy, 0.0, 0.0, "accuracy", k->name);
        EXPECT_CLOSE(r.kl, k->kl, 1e-12, 1e-300, "kl", k->name);
        EXPECT_CLOSE(r.nll, k->nll_mean, 1e-12, 1e-15, "nll", k->name);
        EXPECT_CLOSE(r.log_odds, k->log_odds, 1e-12, 1e-14, "log_odds", k->name);
        EXPECT_CLOSE(r.baseline, k->baseline, 1e-12, 1e-15, "baseline", k->name);
        cr_expect(r.item_losses == items && r.advantages == adv, "%s: pointers kept", k->name);
        double amax = 0.0;
        for (int64_t i = 0; k->advantages != NULL && i < k->n; i++)
            amax = fmax(amax, fabs(k->advantages[i]));
        for (int64_t i = 0; i < k->n; i++) {
            EXPECT_CLOSE(items[i], k->items[i], 1e-12, 1e-15 * k->loss_scale, "item", k->name);
            if (k->advantages != NULL)
                EXPECT_CLOSE(adv[i], k->advantages[i], 1e-12, 1e-14 * (1.0 + amax),
                             "advantage", k->name);
            else
                cr_expect(adv[i] == -12345.0, "%s: advantages untouched", k->name);
        }
        for (int64_t i = k->n; i < 64; i++)
            cr_expect(items[i] == -12345.0 && adv[i] == -12345.0, "%s: no overrun", k->name);
    }
}

Test(pref_kat, optional_arrays_may_be_null)
{
    for (size_t c = 0; c < PREF_KAT_COUNT; c++) {
        const pref_kat *k = &pref_kats[c];
        zoq_pref_result_t r;
        cr_assert_eq(kat_eval(k, NAN, &r, NULL, NULL), ZOQ_OK, "%s", k->name);
        EXPECT_CLOSE(r.loss, k->loss, 1e-12, 2e-14 * k->loss_scale, "loss", k->name);
    }
}

/* The loss moves the right way as the chosen log-prob rises, at the exact
 * rate: central differences against the mpmath derivative. */
Test(pref_kat, finite_differences_in_chosen_logprob)
{
    int checked = 0;
    for (size_t c = 0; c < PREF_KAT_COUNT; c++) {
        const pref_kat *k = &pref_kats[c];
        if (k->fd_sign == 0)
            continue;
        const double h = 1e-3, x = k->pc[0];
        zoq_pref_result_t up, down;
        cr_assert_eq(kat_eval(k, x + h, &up, NULL, NULL), ZOQ_OK, "%s", k->name);
        cr_assert_eq(kat_eval(k, x - h, &down, NULL, NULL), ZOQ_OK, "%s", k->name);
        const double fd = (up.loss - down.loss) / (2.0 * h);
        cr_expect((fd > 0.0 ? 1 : -1) == k->fd_sign, "%s: dL/dpc0 = %g has the wrong sign",
                  k->name, fd);
        EXPECT_CLOSE(fd, k->dloss_dpc0, 1e-5, 1e-9, "dL/dpc0", k->name);
        checked++;
    }
    cr_expect(checked >= 25, "only %d finite-difference checks", checked);
}

/* ---- numerics at the extremes ------------------------------------------------- */

static zoq_pref_result_t eval_simple(int loss, double beta, double pc, double pr, double rc,
                                     double rr, double lc, double lr)
{
    zoq_pref_params_t p;
    zoq_pref_params_default(loss, &p);
    p.beta = beta;
    zoq_pref_batch_t b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.n = 1;
    b.chosen_logps = &pc;
    b.rejected_logps = &pr;
    b.ref_chosen_logps = &rc;
    b.ref_rejected_logps = &rr;
    b.chosen_tokens = &lc;
    b.rejected_tokens = &lr;
    zoq_pref_result_t r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, NULL, &r), ZOQ_OK);
    return r;
}

Test(pref_numerics, sigmoid_losses_do_not_overflow)
{
    const int losses[] = {ZOQ_LOSS_DPO, ZOQ_LOSS_RPO, ZOQ_LOSS_CPO, ZOQ_LOSS_SIMPO};
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
        /* β·h = ±1e6 and ±1000 (h = difference of the log-ratios). */
        for (int s = -1; s <= 1; s += 2) {
            const double h = s * 1e7;
            zoq_pref_result_t r = eval_simple(losses[i], 0.1, -1.0 + (s > 0 ? 0 : h),
                                              -1.0 - (s > 0 ? h : 0), 0.0, 0.0, 1.0, 1.0);
            cr_expect(isfinite(r.loss), "%s at βh = %g", zoq_pref_loss_name(losses[i]),
                      0.1 * h);
            if (losses[i] == ZOQ_LOSS_DPO)
                cr_expect(s > 0 ? r.loss == 0.0 : r.loss == 1e6, "dpo at βh = %g: %g",
                          0.1 * h, r.loss);
        }
    }
    /* -logσ(-1000) = 1000 + log1p(e^-1000) = 1000 exactly in double. */
    zoq_pref_result_t r = eval_simple(ZOQ_LOSS_DPO, 0.1, -10010.0, -10.0, -10.0, -10.0, 1, 1);
    cr_expect(r.loss == 1000.0);
    r = eval_simple(ZOQ_LOSS_DPO, 0.1, -10.0, -10010.0, -10.0, -10.0, 1, 1);
    cr_expect(r.loss == 0.0 && r.reward_accuracy == 1.0);
}

Test(pref_numerics, orpo_log1mexp_both_branches)
{
    /* ā just above and below -ln 2 select different formulas; the loss is
     * continuous across the switch. */
    const double ln2 = 0.6931471805599453;
    zoq_pref_result_t a = eval_simple(ZOQ_LOSS_ORPO, 0.1, -ln2 * (1 - 1e-15), -1.0, 0, 0, 1, 1);
    zoq_pref_result_t b = eval_simple(ZOQ_LOSS_ORPO, 0.1, -ln2 * (1 + 1e-15), -1.0, 0, 0, 1, 1);
    cr_expect(fabs(a.loss - b.loss) < 1e-13, "%.17g vs %.17g", a.loss, b.loss);
    /* ā = -1e-300: log(1 - e^ā) = log(1e-300) is finite, no cancellation. */
    zoq_pref_result_t c = eval_simple(ZOQ_LOSS_ORPO, 0.1, -1e-300, -1.0, 0, 0, 1, 1);
    cr_expect(isfinite(c.loss) && isfinite(c.log_odds));
    cr_expect(close_to(c.log_odds, 1.0 + log(-expm1(-1.0)) + 690.7755278982137, 1e-12, 0));
}

Test(pref_numerics, token_counts_tiny_and_huge)
{
    zoq_pref_result_t r = eval_simple(ZOQ_LOSS_SIMPO, 2.5, -3.0, -4.0e6, 0, 0, 1.0, 1e6);
    /* β(ā_c - ā_r) - γ = 2.5·(-3 + 4) - 1.375 = 1.125 */
    cr_expect(close_to(r.loss, log1p(exp(-1.125)), 1e-15, 0), "%.17g", r.loss);
    r = eval_simple(ZOQ_LOSS_IPO, 0.1, -2e9, -1e9, -1e9, -1e9, 1e9, 1e9);
    /* (-1 - 0 - 5)² = 36 */
    cr_expect(close_to(r.loss, 36.0, 1e-15, 0), "%.17g", r.loss);
}

/* ---- names and parameters ------------------------------------------------------- */

Test(pref_api, names_round_trip)
{
    const char *expect[] = {"dpo", "ipo", "simpo", "cpo", "orpo",
                            "kto", "rpo", "sppo", "grpo", "aero"};
    for (int l = 0; l < ZOQ_PREF_LOSS_COUNT; l++) {
        cr_expect_str_eq(zoq_pref_loss_name(l), expect[l]);
        int got = -1;
        cr_expect_eq(zoq_pref_loss_find(expect[l], &got), ZOQ_OK);
        cr_expect_eq(got, l);
    }
    int got = -1;
    cr_expect_eq(zoq_pref_loss_find("SimPO", &got), ZOQ_OK);
    cr_expect_eq(got, ZOQ_LOSS_SIMPO);
    cr_expect_eq(zoq_pref_loss_find("dpo2", &got), ZOQ_E_NOT_FOUND);
    cr_expect_eq(zoq_pref_loss_find("dp", &got), ZOQ_E_NOT_FOUND);
    cr_expect_eq(zoq_pref_loss_find("", &got), ZOQ_E_NOT_FOUND);
    cr_expect_eq(got, ZOQ_LOSS_SIMPO, "untouched on error");
    cr_expect_eq(zoq_pref_loss_find(NULL, &got), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_loss_find("dpo", NULL), ZOQ_E_INVALID);
    cr_expect_null(zoq_pref_loss_name(-1));
    cr_expect_null(zoq_pref_loss_name(ZOQ_PREF_LOSS_COUNT));
}

Test(pref_api, defaults_follow_design)
{
    zoq_pref_params_t p;
    for (int l = 0; l < ZOQ_PREF_LOSS_COUNT; l++) {
        memset(&p, 0xff, sizeof p);
        cr_assert_eq(zoq_pref_params_default(l, &p), ZOQ_OK);
        cr_expect_eq(p.size, sizeof p);
        cr_expect_eq(p.loss, l);
        cr_expect_eq(zoq_pref_params_check(&p), ZOQ_OK, "%s", zoq_pref_loss_name(l));
        const double beta = l == ZOQ_LOSS_SIMPO ? 2.5
                          : (l == ZOQ_LOSS_GRPO || l == ZOQ_LOSS_AERO) ? 0.0 : 0.1;
        cr_expect_eq(p.beta, beta, "%s beta", zoq_pref_loss_name(l));
        cr_expect(p.label_smoothing == 0.0 && p.gamma == 1.375 && p.alpha == 1.0 &&
                  p.lambda == 0.1 && p.desirable_weight == 1.0 &&
                  p.undesirable_weight == 1.0 && p.clip_eps == 0.2 && p.scale_rewards == 1);
    }
    memset(&p, 0x5a, sizeof p);
    zoq_pref_params_t q = p;
    cr_expect_eq(zoq_pref_params_default(-1, &p), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_params_default(ZOQ_PREF_LOSS_COUNT, &p), ZOQ_E_INVALID);
    cr_expect(memcmp(&p, &q, sizeof p) == 0, "untouched on error");
    cr_expect_eq(zoq_pref_params_default(ZOQ_LOSS_DPO, NULL), ZOQ_E_INVALID);
}

typedef struct bad_param {
    int loss;
    size_t field;  /* offsetof a double field */
    double value;
} bad_param;

Test(pref_api, hyperparameter_bounds)
{
    const bad_param bad[] = {
        {ZOQ_LOSS_DPO, offsetof(zoq_pref_params_t, beta), 0.0},
        {ZOQ_LOSS_DPO, offsetof(zoq_pref_params_t, beta), -0.1},
        {ZOQ_LOSS_DPO, offsetof(zoq_pref_params_t, beta), NAN},
        {ZOQ_LOSS_DPO, offsetof(zoq_pref_params_t, beta), INFINITY},
        {ZOQ_LOSS_DPO, offsetof(zoq_pref_params_t, label_smoothing), 0.5},
        {ZOQ_LOSS_DPO, offsetof(zoq_pref_params_t, label_smoothing), -1e-9},
        {ZOQ_LOSS_IPO, offsetof(zoq_pref_params_t, beta), 0.0},
        {ZOQ_LOSS_SIMPO, offsetof(zoq_pref_params_t, gamma), -0.5},
        {ZOQ_LOSS_SIMPO, offsetof(zoq_pref_params_t, label_smoothing), 0.7},
        {ZOQ_LOSS_CPO, offsetof(zoq_pref_params_t, alpha), -1.0},
        {ZOQ_LOSS_ORPO, offsetof(zoq_pref_params_t, lambda), -0.1},
        {ZOQ_LOSS_ORPO, offsetof(zoq_pref_params_t, gamma), NAN},
        {ZOQ_LOSS_KTO, offsetof(zoq_pref_params_t, desirable_weight), 0.0},
        {ZOQ_LOSS_KTO, offsetof(zoq_pref_params_t, undesirable_weight), -1.0},
        {ZOQ_LOSS_KTO, offsetof(zoq_pref_params_t, beta), 0.0},
        {ZOQ_LOSS_RPO, offsetof(zoq_pref_params_t, alpha), -2.0},
        {ZOQ_LOSS_SPPO, offsetof(zoq_pref_params_t, beta), -1.0},
        {ZOQ_LOSS_GRPO, offsetof(zoq_pref_params_t, beta), -0.01},
        {ZOQ_LOSS_GRPO, offsetof(zoq_pref_params_t, clip_eps), 0.0},
        {ZOQ_LOSS_AERO, offsetof(zoq_pref_params_t, clip_eps), 1.0},
        {ZOQ_LOSS_AERO, offsetof(zoq_pref_params_t, alpha), INFINITY},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zoq_pref_params_t p;
        zoq_pref_params_default(bad[i].loss, &p);
        memcpy((char *)&p + bad[i].field, &bad[i].value, sizeof(double));
        cr_expect_eq(zoq_pref_params_check(&p), ZOQ_E_INVALID, "case %zu", i);
    }
    /* fields a loss does not use are not range-checked (but must be finite) */
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_ORPO, &p);
    p.beta = 0.0;
    p.alpha = -3.0;
    cr_expect_eq(zoq_pref_params_check(&p), ZOQ_OK);
    zoq_pref_params_default(ZOQ_LOSS_GRPO, &p);
    p.scale_rewards = 2;
    cr_expect_eq(zoq_pref_params_check(&p), ZOQ_E_INVALID);
    zoq_pref_params_default(ZOQ_LOSS_DPO, &p);
    p.loss = ZOQ_PREF_LOSS_COUNT;
    cr_expect_eq(zoq_pref_params_check(&p), ZOQ_E_INVALID);
    zoq_pref_params_default(ZOQ_LOSS_DPO, &p);
    p.size = sizeof p - 1;
    cr_expect_eq(zoq_pref_params_check(&p), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_params_check(NULL), ZOQ_E_INVALID);
}

/* lib/core/abi.h's rule: an older, smaller params struct is read as far as
 * it reaches and its missing fields take the defaults of its loss; an older
 * result struct is written as far as it reaches, and its caller's pointers
 * past that (garbage here) are never followed. */
Test(pref_api, older_structs_read_with_defaults_and_written_as_far_as_they_reach)
{
    zoq_pref_params_t old;
    memset(&old, 0xff, sizeof old); /* NaN doubles past the older size */
    old.size = offsetof(zoq_pref_params_t, label_smoothing);
    old.loss = ZOQ_LOSS_SIMPO;
    old.scale_rewards = 1;
    old.beta = 2.0;
    cr_expect_eq(zoq_pref_params_check(&old), ZOQ_OK);
    zoq_pref_params_t full;
    zoq_pref_params_default(ZOQ_LOSS_SIMPO, &full);
    full.beta = 2.0; /* gamma 1.375, label smoothing 0 from SimPO's defaults */

    const double pc[2] = {-12.0, -30.0}, pr[2] = {-15.0, -22.0}, lc[2] = {10, 11},
                 lr[2] = {12, 13};
    zoq_pref_batch_t b = {.size = sizeof b, .n = 2, .chosen_logps = pc,
                          .rejected_logps = pr, .chosen_tokens = lc, .rejected_tokens = lr};
    zoq_pref_result_t want = {.size = sizeof want}, got;
    cr_assert_eq(zoq_pref_loss_eval(&full, &b, NULL, &want), ZOQ_OK);
    memset(&got, 0x5a, sizeof got); /* item_losses/advantages: wild pointers */
    got.size = offsetof(zoq_pref_result_t, reward_accuracy);
    cr_assert_eq(zoq_pref_loss_eval(&old, &b, NULL, &got), ZOQ_OK);
    cr_expect(got.loss == want.loss && got.reward_chosen == want.reward_chosen &&
              got.reward_rejected == want.reward_rejected, "%.17g vs %.17g", got.loss,
              want.loss);
    const unsigned char *tail = (const unsigned char *)&got + got.size;
    for (size_t i = 0; i < sizeof got - got.size; i++)
        cr_expect_eq(tail[i], 0x5a, "byte %zu past the caller's result written", i);

    /* a batch too old to have old_logps reads it as NULL (on-policy) */
    zoq_pref_params_t grpo;
    zoq_pref_params_default(ZOQ_LOSS_GRPO, &grpo);
    const double rew[2] = {0.0, 1.0};
    zoq_pref_batch_t g = {.size = sizeof g, .n = 2, .chosen_logps = pc, .chosen_tokens = lc,
                          .ref_chosen_logps = pc, .rewards = rew};
    zoq_pref_batch_t gold;
    memset(&gold, 0xff, sizeof gold);
    memcpy(&gold, &g, offsetof(zoq_pref_batch_t, old_logps));
    gold.size = offsetof(zoq_pref_batch_t, old_logps);
    zoq_pref_result_t r1 = {.size = sizeof r1}, r2 = {.size = sizeof r2};
    cr_assert_eq(zoq_pref_loss_eval(&grpo, &g, NULL, &r1), ZOQ_OK);
    cr_assert_eq(zoq_pref_loss_eval(&grpo, &gold, NULL, &r2), ZOQ_OK);
    cr_expect(r1.loss == r2.loss);
}

/* The guard's rule and both evaluations follow the same rule. */
Test(pref_api, older_guard_and_evals_take_defaults)
{
    zoq_pref_guard_t g;
    memset(&g, 0xff, sizeof g);
    g.size = offsetof(zoq_pref_guard_t, min_margin_gain); /* alpha, min_accuracy_gain */
    g.alpha = 0.05;
    g.min_accuracy_gain = 0.0;
    zoq_pref_eval_t before = {.size = sizeof before, .n = 55, .correct = 33,
                              .accuracy = 33.0 / 55, .mean_margin = 1.1365};
    zoq_pref_eval_t after = before;
    after.mean_margin = 1.1399;
    int d = -1;
    /* min_margin_gain defaults to 0: a better margin deploys */
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &after, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 1);
    /* an evaluation too old to have the margins reads mean_margin 0 */
    zoq_pref_eval_t old_after = after;
    old_after.size = offsetof(zoq_pref_eval_t, mean_margin);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &old_after, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 0, "margin 0 < 1.1365 is no improvement");
    g.size = 4;
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &after, &d, NULL), ZOQ_E_INVALID);
    cr_expect(strstr(zoq_last_error(NULL), "guard") != NULL, "%s", zoq_last_error(NULL));
}

Test(pref_api, larger_structs_need_zero_tail)
{
    struct {
        zoq_pref_params_t p;
        double future;
    } big;
    memset(&big, 0, sizeof big);
    zoq_pref_params_default(ZOQ_LOSS_DPO, &big.p);
    big.p.size = sizeof big;
    cr_expect_eq(zoq_pref_params_check(&big.p), ZOQ_OK);
    big.future = 1.0;
    cr_expect_eq(zoq_pref_params_check(&big.p), ZOQ_E_INVALID);
}

/* ---- errors leave every output untouched ------------------------------------------ */

typedef struct err_fixture {
    zoq_pref_params_t p;
    zoq_pref_batch_t b;
    zoq_pref_result_t r, r0;
    double items[8];
    double pc[2], pr[2], lc[2], lr[2], rc[2], rr[2], rew[2];
    int32_t labels[2];
} err_fixture;

static void err_setup(err_fixture *f, int loss)
{
    memset(f, 0, sizeof *f);
    zoq_pref_params_default(loss, &f->p);
    const double pc[2] = {-12.0, -30.0}, pr[2] = {-15.0, -22.0};
    for (int i = 0; i < 2; i++) {
        f->pc[i] = pc[i];
        f->pr[i] = pr[i];
        f->lc[i] = 10.0 + i;
        f->lr[i] = 12.0 + i;
        f->rc[i] = pc[i] - 1.0;
        f->rr[i] = pr[i] + 0.5;
        f->rew[i] = (double)i;
        f->labels[i] = i;
    }
    f->b.size = sizeof f->b;
    f->b.n = 2;
    f->b.chosen_logps = f->pc;
    f->b.rejected_logps = f->pr;
    f->b.chosen_tokens = f->lc;
    f->b.rejected_tokens = f->lr;
    f->b.ref_chosen_logps = f->rc;
    f->b.ref_rejected_logps = f->rr;
    f->b.rewards = f->rew;
    f->b.labels = f->labels;
    memset(&f->r, 0xa5, sizeof f->r);
    f->r.size = sizeof f->r;
    f->r.item_losses = f->items;
    f->r.advantages = NULL;
    for (int i = 0; i < 8; i++)
        f->items[i] = 777.0;
    f->r0 = f->r;
}

static void expect_untouched(const err_fixture *f, const char *what)
{
    cr_expect(memcmp(&f->r, &f->r0, sizeof f->r) == 0, "%s: result written on error", what);
    for (int i = 0; i < 8; i++)
        cr_expect(f->items[i] == 777.0, "%s: item losses written on error", what);
}

static int run(err_fixture *f, const zoq_pref_aero_t *s)
{
    return zoq_pref_loss_eval(&f->p, &f->b, s, &f->r);
}

Test(pref_errors, every_loss_baseline_is_valid)
{
    zoq_pref_aero_t *s;
    cr_assert_eq(zoq_pref_aero_create(0.9, &s), ZOQ_OK);
    for (int l = 0; l < ZOQ_PREF_LOSS_COUNT; l++) {
        err_fixture f;
        err_setup(&f, l);
        cr_expect_eq(run(&f, s), ZOQ_OK, "%s", zoq_pref_loss_name(l));
        cr_expect(isfinite(f.r.loss));
    }
    zoq_pref_aero_free(s);
}

Test(pref_errors, null_size_and_count)
{
    zoq_pref_aero_t *s;
    cr_assert_eq(zoq_pref_aero_create(0.9, &s), ZOQ_OK);
    for (int l = 0; l < ZOQ_PREF_LOSS_COUNT; l++) {
        const char *nm = zoq_pref_loss_name(l);
        err_fixture f;
        err_setup(&f, l);
        cr_expect_eq(zoq_pref_loss_eval(NULL, &f.b, s, &f.r), ZOQ_E_INVALID, "%s", nm);
        cr_expect_eq(zoq_pref_loss_eval(&f.p, NULL, s, &f.r), ZOQ_E_INVALID, "%s", nm);
        cr_expect_eq(zoq_pref_loss_eval(&f.p, &f.b, s, NULL), ZOQ_E_INVALID, "%s", nm);
        f.b.n = 0;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s n = 0", nm);
        f.b.n = -3;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s n < 0", nm);
        f.b.n = 2;
        f.b.size = sizeof f.b - 4; /* the sizeof of no version */
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s batch size", nm);
        f.b.size = sizeof f.b;
        f.p.size = 0;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s params size", nm);
        f.p.size = sizeof f.p;
        if (l == ZOQ_LOSS_ORPO)
            f.p.lambda = -1.0; /* ORPO has no β */
        else
            f.p.beta = -1.0;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s beta", nm);
        zoq_pref_params_default(l, &f.p);
        f.r.size = sizeof f.r - 1;
        f.r0.size = f.r.size;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s result size", nm);
        f.r.size = f.r0.size = sizeof f.r;
        f.b.chosen_logps = NULL;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s no chosen", nm);
        f.b.chosen_logps = f.pc;
        f.pc[1] = NAN;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s NaN log-prob", nm);
        f.pc[1] = -INFINITY;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s -inf log-prob", nm);
        expect_untouched(&f, nm);
    }
    zoq_pref_aero_free(s);
}

Test(pref_errors, zero_token_counts)
{
    /* every loss that reads token counts (directly or for the NLL) */
    const int use[] = {ZOQ_LOSS_IPO, ZOQ_LOSS_SIMPO, ZOQ_LOSS_CPO, ZOQ_LOSS_ORPO,
                       ZOQ_LOSS_RPO, ZOQ_LOSS_GRPO, ZOQ_LOSS_AERO};
    zoq_pref_aero_t *s;
    cr_assert_eq(zoq_pref_aero_create(0.9, &s), ZOQ_OK);
    for (size_t i = 0; i < sizeof use / sizeof use[0]; i++) {
        const char *nm = zoq_pref_loss_name(use[i]);
        err_fixture f;
        err_setup(&f, use[i]);
        f.lc[1] = 0.0;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s L_c = 0", nm);
        f.lc[1] = -4.0;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s L_c < 0", nm);
        f.lc[1] = 11.0;
        if (use[i] == ZOQ_LOSS_IPO || use[i] == ZOQ_LOSS_SIMPO || use[i] == ZOQ_LOSS_ORPO) {
            f.lr[0] = 0.0;
            cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s L_r = 0", nm);
            f.lr[0] = 12.0;
        }
        f.b.chosen_tokens = NULL;
        cr_expect_eq(run(&f, s), ZOQ_E_INVALID, "%s no tokens", nm);
        expect_untouched(&f, nm);
    }
    /* With an explicit NLL, CPO and RPO need no token counts at all. */
    err_fixture f;
    err_setup(&f, ZOQ_LOSS_CPO);
    const double nll[2] = {1.0, 2.0};
    f.b.chosen_nll = nll;
    f.b.chosen_tokens = NULL;
    cr_expect_eq(run(&f, s), ZOQ_OK);
    zoq_pref_aero_free(s);
}

Test(pref_errors, loss_specific)
{
    err_fixture f;
    /* DPO needs the reference */
    err_setup(&f, ZOQ_LOSS_DPO);
    f.b.ref_rejected_logps = NULL;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    expect_untouched(&f, "dpo ref");
    /* ORPO: mean log-prob must be < 0 */
    err_setup(&f, ZOQ_LOSS_ORPO);
    f.pr[1] = 0.0;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    f.pr[1] = -22.0;
    f.pc[0] = 1e-9;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    expect_untouched(&f, "orpo");
    /* KTO: labels, KL arrays */
    err_setup(&f, ZOQ_LOSS_KTO);
    f.labels[0] = 2;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    f.labels[0] = 1;
    f.b.labels = NULL;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    f.b.labels = f.labels;
    const double klp[2] = {-3.0, -4.0};
    f.b.kl_logps = klp;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID, "kl ref missing");
    f.b.kl_ref_logps = klp;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID, "n_kl = 0");
    f.b.kl_logps = NULL;
    f.b.kto_z0 = NAN;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID, "z0 NaN");
    expect_untouched(&f, "kto");
    /* GRPO: KL weight without reference; rewards; old log-probs */
    err_setup(&f, ZOQ_LOSS_GRPO);
    f.p.beta = 0.04;
    f.b.ref_chosen_logps = NULL;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    f.p.beta = 0.0;
    cr_expect_eq(run(&f, NULL), ZOQ_OK, "reference-free GRPO");
    f.r = f.r0;
    f.items[0] = f.items[1] = 777.0;
    f.b.rewards = NULL;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    f.b.rewards = f.rew;
    const double old[2] = {-1.0, NAN};
    f.b.old_logps = old;
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    expect_untouched(&f, "grpo");
    /* AERO needs its state */
    err_setup(&f, ZOQ_LOSS_AERO);
    cr_expect_eq(run(&f, NULL), ZOQ_E_INVALID);
    expect_untouched(&f, "aero");
}

/* ---- GRPO groups --------------------------------------------------------------- */

Test(pref_group, groups_are_runs_of_equal_ids)
{
    const double pc[6] = {-10, -12, -9, -20, -15, -11}, lc[6] = {10, 11, 9, 18, 14, 12};
    const double rew[6] = {1, 0, 0.5, 0.25, 1, 0};
    const int64_t g1[6] = {4, 4, 9, 9, 4, 4}, g2[6] = {1, 1, 2, 2, 3, 3};
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_GRPO, &p);
    zoq_pref_batch_t b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.n = 6;
    b.chosen_logps = pc;
    b.chosen_tokens = lc;
    b.rewards = rew;
    double a1[6], a2[6];
    zoq_pref_result_t r1 = {.size = sizeof r1, .advantages = a1};
    zoq_pref_result_t r2 = {.size = sizeof r2, .advantages = a2};
    b.group_ids = g1;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, NULL, &r1), ZOQ_OK);
    b.group_ids = g2;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, NULL, &r2), ZOQ_OK);
    cr_expect(r1.loss == r2.loss);
    cr_expect(memcmp(a1, a2, sizeof a1) == 0);
    /* each pair group {x, y} has advantages ±(|x - y|/2) / (|x - y|/√2 + 1e-4)
     * (sample std with Bessel's correction) */
    cr_expect(close_to(a1[0], 0.5 / (sqrt(0.5) + 1e-4), 1e-15, 0), "a = %.17g", a1[0]);
    cr_expect(close_to(a1[1], -0.5 / (sqrt(0.5) + 1e-4), 1e-12, 0));
}

/* GRPO's group mean and std of rewards near the largest double: summed as
 * they are, two rewards of 1e308 overflow to inf and the loss came out NaN
 * with ZOQ_OK. Expected values from the formula in 40-digit arithmetic
 * (mpmath): A_i = (r_i - mean)/(std + 1e-4), loss = mean(-A_i·π_i/L_i). */
Test(pref_group, huge_rewards_do_not_overflow)
{
    const double pc[3] = {-2, -4, -1}, lc[3] = {2, 2, 2}; /* π̄ = -1, -2, -0.5 */
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_GRPO, &p);
    zoq_pref_batch_t b = {.size = sizeof b, .n = 2, .chosen_logps = pc, .chosen_tokens = lc};
    double adv[3];
    zoq_pref_result_t r = {.size = sizeof r, .advantages = adv};

    const double same[2] = {1e308, 1e308};
    b.rewards = same;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, NULL, &r), ZOQ_OK);
    cr_expect(r.loss == 0.0 && adv[0] == 0.0 && adv[1] == 0.0, "loss %g, A %g %g", r.loss,
              adv[0], adv[1]);

    const double opposite[2] = {1e308, -1e308}; /* std 1.414e308, A = ±1/√2 */
    b.rewards = opposite;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, NULL, &r), ZOQ_OK);
    EXPECT_CLOSE(adv[0], 0.7071067811865475244, 1e-15, 0, "A0", "opposite");
    EXPECT_CLOSE(adv[1], -0.7071067811865475244, 1e-15, 0, "A1", "opposite");
    EXPECT_CLOSE(r.loss, -0.3535533905932737622, 1e-15, 0, "loss", "opposite");

    /* mean 0.5e308; deviations 1e308 and -2e308 (itself beyond a double) */
    const double three[3] = {1.5e308, -1.5e308, 1.5e308};
    b.n = 3;
    b.rewards = three;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, NULL, &r), ZOQ_OK);
    EXPECT_CLOSE(adv[0], 0.57735026918962576451, 1e-15, 0, "A0", "three");
    EXPECT_CLOSE(adv[1], -1.154700538379251529, 1e-15, 0, "A1", "three");
    EXPECT_CLOSE(adv[2], 0.57735026918962576451, 1e-15, 0, "A2", "three");
    EXPECT_CLOSE(r.loss, -0.48112522432468813709, 1e-15, 0, "loss", "three");
    EXPECT_CLOSE(r.reward_chosen, 1.5e308, 1e-15, 0, "reward_chosen", "three");
    EXPECT_CLOSE(r.reward_rejected, -1.5e308, 1e-15, 0, "reward_rejected", "three");

    /* unscaled advantages are r - mean: 1.5e308 - (-1e308) has no double */
    const double far[2] = {1.5e308, -1.5e308};
    p.scale_rewards = 0;
    b.n = 2;
    b.rewards = far;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, NULL, &r), ZOQ_OK);
    cr_expect(adv[0] == 1.5e308 && adv[1] == -1.5e308);
    /* mean -0.567e308: A = (inf, -1.13e308, -1.13e308), π̄ = (-1, -0.5, -0.5) */
    const double wide[3] = {1.7e308, -1.7e308, -1.7e308}, half_pc[3] = {-2, -1, -1};
    b.n = 3;
    b.rewards = wide;
    b.chosen_logps = half_pc;
    double loss_before = r.loss;
    cr_expect_eq(zoq_pref_loss_eval(&p, &b, NULL, &r), ZOQ_OK, "inf advantages, finite π̄");
    cr_expect(isinf(r.loss));
    const double zero_pc[3] = {0, -1, -1}; /* π̄_0 = 0: inf·0 */
    b.chosen_logps = zero_pc;
    loss_before = r.loss;
    cr_expect_eq(zoq_pref_loss_eval(&p, &b, NULL, &r), ZOQ_E_INVALID, "a NaN loss is an error");
    cr_expect(strstr(zoq_last_error(NULL), "NaN") != NULL, "%s", zoq_last_error(NULL));
    cr_expect(r.loss == loss_before, "*out unwritten");
}

/* AERO keeps the rewards' mean squared deviation: when it does not fit a
 * double the call fails and says so; when it does, huge rewards are fine. */
Test(pref_aero, huge_rewards)
{
    const double pc[2] = {-2, -4}, lc[2] = {2, 2};
    const double same[2] = {1e308, 1e308}, opposite[2] = {1e308, -1e308};
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_AERO, &p);
    zoq_pref_aero_t *s;
    cr_assert_eq(zoq_pref_aero_create(0.9, &s), ZOQ_OK);
    zoq_pref_batch_t b = {.size = sizeof b, .n = 2, .chosen_logps = pc, .chosen_tokens = lc,
                          .rewards = opposite};
    zoq_pref_result_t r = {.size = sizeof r};
    cr_expect_eq(zoq_pref_loss_eval(&p, &b, s, &r), ZOQ_E_INVALID);
    cr_expect(strstr(zoq_last_error(NULL), "overflows") != NULL, "%s", zoq_last_error(NULL));
    cr_expect_eq(zoq_pref_aero_update(s, opposite, 2), ZOQ_E_INVALID);
    b.rewards = same;
    cr_assert_eq(zoq_pref_loss_eval(&p, &b, s, &r), ZOQ_OK);
    cr_expect(r.loss == 0.0 && r.baseline == 1e308);
    cr_assert_eq(zoq_pref_aero_update(s, same, 2), ZOQ_OK);
    double base, sq;
    int64_t count;
    zoq_pref_aero_get(s, NULL, &base, &sq, &count);
    cr_expect(base == 1e308 && sq == 0.0 && count == 1);
    /* second batch: deviation from b = 1e308 of a reward -1e308 is 2e308 */
    cr_expect_eq(zoq_pref_aero_update(s, opposite, 2), ZOQ_E_INVALID);
    zoq_pref_aero_get(s, NULL, &base, &sq, &count);
    cr_expect(base == 1e308 && sq == 0.0 && count == 1, "state unchanged");
    zoq_pref_aero_free(s);
}

/* ---- AERO ----------------------------------------------------------------------- */

Test(pref_aero, state_across_calls)
{
    zoq_pref_aero_t *s;
    cr_assert_eq(zoq_pref_aero_create(AERO_SEQ_DECAY, &s), ZOQ_OK);
    double decay, b, v;
    int64_t count;
    cr_assert_eq(zoq_pref_aero_get(s, &decay, &b, &v, &count), ZOQ_OK);
    cr_expect(decay == AERO_SEQ_DECAY && b == 0.0 && v == 0.0 && count == 0);

    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_AERO, &p);
    const size_t n_seq = sizeof aero_seq / sizeof aero_seq[0];
    for (size_t k = 0; k < n_seq; k++) {
        const int64_t n = aero_seq[k].n;
        double pc[8], lc[8], adv[8], adv2[8];
        for (int64_t i = 0; i < n; i++) {
            pc[i] = -10.0 - (double)i;
            lc[i] = 10.0;
        }
        zoq_pref_batch_t bt;
        memset(&bt, 0, sizeof bt);
        bt.size = sizeof bt;
        bt.n = n;
        bt.chosen_logps = pc;
        bt.chosen_tokens = lc;
        bt.rewards = aero_seq[k].r;
        zoq_pref_result_t r = {.size = sizeof r, .advantages = adv};
        cr_assert_eq(zoq_pref_loss_eval(&p, &bt, s, &r), ZOQ_OK);
        /* evaluation reads the state, never changes it: same answer twice */
        zoq_pref_result_t r2 = {.size = sizeof r2, .advantages = adv2};
        cr_assert_eq(zoq_pref_loss_eval(&p, &bt, s, &r2), ZOQ_OK);
        cr_expect(r.loss == r2.loss && memcmp(adv, adv2, (size_t)n * sizeof adv[0]) == 0);
        for (int64_t i = 0; i < n; i++)
            EXPECT_CLOSE(adv[i], aero_seq[k].adv[i], 1e-12, 1e-13, "aero advantage", "seq");
        cr_assert_eq(zoq_pref_aero_update(s, aero_seq[k].r, n), ZOQ_OK);
        cr_assert_eq(zoq_pref_aero_get(s, NULL, &b, &v, &count), ZOQ_OK);
        EXPECT_CLOSE(b, aero_seq[k].b, 1e-14, 0, "baseline", "seq");
        EXPECT_CLOSE(v, aero_seq[k].v, 1e-13, 0, "sq_dev", "seq");
        cr_expect_eq(count, (int64_t)k + 1);
    }
    zoq_pref_aero_free(s);
}

Test(pref_aero, first_call_is_its_own_baseline)
{
    /* With no history the baseline is the batch mean: AERO on a fresh state
     * equals unscaled GRPO with one group up to the std normalization. */
    zoq_pref_aero_t *s;
    cr_assert_eq(zoq_pref_aero_create(0.5, &s), ZOQ_OK);
    const double pc[4] = {-10, -12, -9, -20}, lc[4] = {10, 11, 9, 18}, rew[4] = {1, 0, 0.5, 2};
    zoq_pref_params_t pa, pg;
    zoq_pref_params_default(ZOQ_LOSS_AERO, &pa);
    zoq_pref_params_default(ZOQ_LOSS_GRPO, &pg);
    pa.scale_rewards = pg.scale_rewards = 0;
    zoq_pref_batch_t b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.n = 4;
    b.chosen_logps = pc;
    b.chosen_tokens = lc;
    b.rewards = rew;
    double aa[4], ag[4];
    zoq_pref_result_t ra = {.size = sizeof ra, .advantages = aa};
    zoq_pref_result_t rg = {.size = sizeof rg, .advantages = ag};
    cr_assert_eq(zoq_pref_loss_eval(&pa, &b, s, &ra), ZOQ_OK);
    cr_assert_eq(zoq_pref_loss_eval(&pg, &b, NULL, &rg), ZOQ_OK);
    for (int i = 0; i < 4; i++)
        cr_expect(close_to(aa[i], ag[i], 1e-15, 1e-16));
    cr_expect(close_to(ra.baseline, 0.875, 1e-15, 0));
    cr_expect(close_to(ra.loss, rg.loss, 1e-14, 1e-16));
    zoq_pref_aero_free(s);
}

Test(pref_aero, api_errors)
{
    zoq_pref_aero_t *s = (zoq_pref_aero_t *)0x1;
    cr_expect_eq(zoq_pref_aero_create(1.0, &s), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_create(-0.1, &s), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_create(NAN, &s), ZOQ_E_INVALID);
    cr_expect(s == (zoq_pref_aero_t *)0x1, "out untouched");
    cr_expect_eq(zoq_pref_aero_create(0.9, NULL), ZOQ_E_INVALID);
    zoq_pref_aero_free(NULL);

    cr_assert_eq(zoq_pref_aero_create(0.0, &s), ZOQ_OK);
    const double r[3] = {1.0, 2.0, 3.0}, bad[2] = {1.0, NAN};
    cr_expect_eq(zoq_pref_aero_update(s, r, 3), ZOQ_OK);
    cr_expect_eq(zoq_pref_aero_update(s, bad, 2), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_update(s, r, 0), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_update(s, NULL, 3), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_update(NULL, r, 3), ZOQ_E_INVALID);
    double b, v;
    int64_t c;
    cr_assert_eq(zoq_pref_aero_get(s, NULL, &b, &v, &c), ZOQ_OK);
    cr_expect(b == 2.0 && close_to(v, 2.0 / 3.0, 1e-15, 0) && c == 1, "unchanged by errors");
    /* decay 0: the baseline is the last batch's mean */
    const double r2[2] = {5.0, 7.0};
    cr_expect_eq(zoq_pref_aero_update(s, r2, 2), ZOQ_OK);
    cr_assert_eq(zoq_pref_aero_get(s, NULL, &b, &v, &c), ZOQ_OK);
    cr_expect(b == 6.0 && v == 17.0 && c == 2, "b %g v %g", b, v); /* (9 + 25)/2 */

    cr_expect_eq(zoq_pref_aero_set(s, 0.5, -1.0, 3), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_set(s, NAN, 1.0, 3), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_set(s, 0.5, 1.0, -1), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_set(NULL, 0.5, 1.0, 1), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_get(NULL, NULL, NULL, NULL, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_aero_set(s, 0.5, 0.25, 4), ZOQ_OK);
    cr_assert_eq(zoq_pref_aero_get(s, NULL, &b, &v, &c), ZOQ_OK);
    cr_expect(b == 0.5 && v == 0.25 && c == 4);
    cr_expect_eq(zoq_pref_aero_set(s, 0.5, 0.25, 0), ZOQ_OK);
    cr_assert_eq(zoq_pref_aero_get(s, NULL, &b, &v, &c), ZOQ_OK);
    cr_expect(b == 0.0 && v == 0.0 && c == 0, "count 0 resets");
    zoq_pref_aero_free(s);
}

/* ---- evaluation statistics ------------------------------------------------------ */

Test(pref_stats, ztest_known_answers)
{
    for (size_t i = 0; i < sizeof ztest_kats / sizeof ztest_kats[0]; i++) {
        double z = -1, p = -1;
        cr_assert_eq(zoq_stats_ztest_2prop(ztest_kats[i].x1, ztest_kats[i].n1, ztest_kats[i].x2,
                                           ztest_kats[i].n2, &z, &p),
                     ZOQ_OK);
        EXPECT_CLOSE(z, ztest_kats[i].z, 1e-13, 0, "z", "ztest");
        EXPECT_CLOSE(p, ztest_kats[i].p, 1e-12, 0, "p", "ztest");
        /* swapping the samples flips z, keeps p */
        double z2, p2;
        cr_assert_eq(zoq_stats_ztest_2prop(ztest_kats[i].x2, ztest_kats[i].n2, ztest_kats[i].x1,
                                           ztest_kats[i].n1, &z2, &p2),
                     ZOQ_OK);
        cr_expect(z2 == -z && p2 == p);
    }
    cr_expect_eq(zoq_stats_ztest_2prop(1, 10, 2, 10, NULL, NULL), ZOQ_OK);
}

Test(pref_stats, ztest_errors)
{
    double z = 42, p = 42;
    cr_expect_eq(zoq_stats_ztest_2prop(1, 0, 1, 10, &z, &p), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_ztest_2prop(11, 10, 1, 10, &z, &p), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_ztest_2prop(-1, 10, 1, 10, &z, &p), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_ztest_2prop(1, 10, 1, -10, &z, &p), ZOQ_E_INVALID);
    cr_expect(z == 42 && p == 42);
}

Test(pref_stats, mde_known_answers)
{
    for (size_t i = 0; i < sizeof mde_kats / sizeof mde_kats[0]; i++) {
        double m = -1;
        cr_assert_eq(zoq_stats_mde(mde_kats[i].n, mde_kats[i].p0, mde_kats[i].alpha,
                                   mde_kats[i].power, mde_kats[i].design, &m),
                     ZOQ_OK);
        EXPECT_CLOSE(m, mde_kats[i].mde, 1e-13, 0, "mde", "mde");
    }
}

/* Seed 000 says ~14 points for 55 pairs at alpha 0.05, power 0.8; with the
 * two-proportion z-test it names, the standard formula gives ~26.7 points
 * (docs/preference.md discusses where 14 could come from). */
Test(pref_stats, seed000_mde_claim)
{
    double two, one, at200;
    cr_assert_eq(zoq_stats_mde(55, 0.5, 0.05, 0.8, ZOQ_MDE_TWO_SAMPLE, &two), ZOQ_OK);
    cr_assert_eq(zoq_stats_mde(55, 0.5, 0.05, 0.8, ZOQ_MDE_ONE_SAMPLE, &one), ZOQ_OK);
    cr_assert_eq(zoq_stats_mde(200, 0.5, 0.05, 0.8, ZOQ_MDE_TWO_SAMPLE, &at200), ZOQ_OK);
    cr_expect(two > 0.26 && two < 0.27, "two-sample %g", two);
    cr_expect(one > 0.18 && one < 0.19, "one-sample %g", one);
    cr_expect(at200 > 0.139 && at200 < 0.141, "two-sample n=200 %g", at200);
}

Test(pref_stats, mde_errors)
{
    double m = 42;
    cr_expect_eq(zoq_stats_mde(0, 0.5, 0.05, 0.8, 0, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_mde(55, 0.0, 0.05, 0.8, 0, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_mde(55, 1.0, 0.05, 0.8, 0, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_mde(55, 0.5, 0.0, 0.8, 0, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_mde(55, 0.5, 0.05, 1.0, 0, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_mde(55, 0.5, NAN, 0.8, 0, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_mde(55, 0.5, 0.05, 0.8, 2, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_stats_mde(55, 0.5, 0.05, 0.8, 0, NULL), ZOQ_E_INVALID);
    cr_expect(m == 42);
}

Test(pref_stats, evaluate_pairs)
{
    zoq_pref_eval_t e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    cr_assert_eq(zoq_pref_evaluate(eval_c, eval_r, EVAL_N, &e), ZOQ_OK);
    cr_expect_eq(e.n, EVAL_N);
    cr_expect_eq(e.correct, EVAL_CORRECT);
    cr_expect_eq(e.ties, EVAL_TIES);
    cr_expect(e.accuracy == EVAL_ACC);
    EXPECT_CLOSE(e.mean_margin, EVAL_MEAN, 1e-12, 4e-15 * EVAL_SCALE, "mean", "eval");
    EXPECT_CLOSE(e.sd_margin, EVAL_SD, 1e-12, 4e-15 * EVAL_SCALE, "sd", "eval");

    zoq_pref_eval_t e0 = e;
    const double bad[2] = {1.0, NAN};
    cr_expect_eq(zoq_pref_evaluate(bad, eval_r, 2, &e), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_evaluate(eval_c, eval_r, 0, &e), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_evaluate(NULL, eval_r, 2, &e), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_evaluate(eval_c, eval_r, 2, NULL), ZOQ_E_INVALID);
    e.size = 12; /* the sizeof of no version */
    cr_expect_eq(zoq_pref_evaluate(eval_c, eval_r, 2, &e), ZOQ_E_INVALID);
    e.size = e0.size;
    cr_expect(memcmp(&e, &e0, sizeof e) == 0, "untouched on error");
}

/* An older caller's zoq_pref_eval_t, one that ends before the margins, gets
 * the fields it has; the bytes past its size are not its and stay. */
Test(pref_stats, evaluate_writes_an_older_struct_as_far_as_it_reaches)
{
    zoq_pref_eval_t full = {.size = sizeof full}, old;
    cr_assert_eq(zoq_pref_evaluate(eval_c, eval_r, EVAL_N, &full), ZOQ_OK);
    memset(&old, 0x5a, sizeof old);
    old.size = offsetof(zoq_pref_eval_t, mean_margin);
    cr_assert_eq(zoq_pref_evaluate(eval_c, eval_r, EVAL_N, &old), ZOQ_OK);
    cr_expect(old.size == offsetof(zoq_pref_eval_t, mean_margin), "size kept");
    cr_expect(old.n == full.n && old.correct == full.correct && old.ties == full.ties &&
              old.accuracy == full.accuracy);
    const unsigned char *tail = (const unsigned char *)&old + old.size;
    for (size_t i = 0; i < sizeof old - old.size; i++)
        cr_expect_eq(tail[i], 0x5a, "byte %zu past the caller's struct written", i);
}

static zoq_pref_eval_t ev(int64_t correct, int64_t n, double margin)
{
    zoq_pref_eval_t e;
    memset(&e, 0, sizeof e);
    e.size = sizeof e;
    e.n = n;
    e.correct = correct;
    e.accuracy = (double)correct / (double)n;
    e.mean_margin = margin;
    return e;
}

Test(pref_stats, guard_decisions)
{
    zoq_pref_guard_t g;
    cr_assert_eq(zoq_pref_guard_default(&g), ZOQ_OK);
    cr_expect(g.size == sizeof g && g.alpha == 0.05 && g.min_accuracy_gain == 0.0 &&
              g.min_margin_gain == 0.0 && g.require_significant == 0);
    int d = -1;
    double p = -1;
    zoq_pref_eval_t before = ev(33, 55, 1.1365);
    /* seed 000, table VII: accuracy stays 33/55, the margin decides */
    zoq_pref_eval_t up = ev(33, 55, 1.1399), down = ev(33, 55, 1.1346), same = before;
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &up, &d, &p), ZOQ_OK);
    cr_expect(d == 1 && p == 1.0);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &down, &d, &p), ZOQ_OK);
    cr_expect_eq(d, 0);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &same, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 0, "no change is not an improvement");
    /* a better margin does not excuse a lower accuracy */
    zoq_pref_eval_t worse = ev(30, 55, 2.0);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &worse, &d, &p), ZOQ_OK);
    cr_expect_eq(d, 0);
    double pz;
    zoq_stats_ztest_2prop(33, 55, 30, 55, NULL, &pz);
    cr_expect(p == pz, "p is the z-test of the accuracies");
    /* requiring significance: 40/55 vs 33/55 is not significant at 0.05 */
    g.require_significant = 1;
    zoq_pref_eval_t better = ev(40, 55, 1.5);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &better, &d, &p), ZOQ_OK);
    cr_expect(d == 0 && p > 0.05);
    zoq_pref_eval_t much = ev(50, 55, 1.5);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &much, &d, &p), ZOQ_OK);
    cr_expect(d == 1 && p < 0.05);
    g.require_significant = 0;
    g.min_accuracy_gain = 0.1;
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &better, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 1);
    g.min_margin_gain = 0.5;
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &better, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 0);
}

/* The gain is compared from the counts: acc1 - acc0 in doubles is
 * 0.35 - 0.28 = 0.06999999999999995 < 0.07, which refused this candidate. */
Test(pref_stats, guard_gain_from_counts)
{
    cr_assert(35.0 / 100 - 28.0 / 100 < 0.07, "the floating-point difference falls short");
    zoq_pref_guard_t g;
    zoq_pref_guard_default(&g);
    g.min_accuracy_gain = 0.07;
    int d = -1;
    zoq_pref_eval_t before = ev(28, 100, 1.0), after = ev(35, 100, 1.5);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &after, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 1, "28/100 -> 35/100 gains 0.07");
    zoq_pref_eval_t short_of = ev(34, 100, 1.5);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &short_of, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 0, "28/100 -> 34/100 gains 0.06");
    zoq_pref_eval_t other_n = ev(70, 200, 1.5); /* 0.35 on another n */
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &other_n, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 1, "28/100 -> 70/200 gains 0.07");
    zoq_pref_eval_t just_short = ev(69, 200, 1.5);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &just_short, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 0, "28/100 -> 69/200 gains 0.065");
    g.min_accuracy_gain = -0.07; /* a tolerated loss, symmetric */
    zoq_pref_eval_t lost = ev(21, 100, 1.5);
    cr_expect_eq(zoq_pref_guard_decide(&g, &before, &lost, &d, NULL), ZOQ_OK);
    cr_expect_eq(d, 1, "28/100 -> 21/100 loses exactly 0.07");
}

Test(pref_stats, guard_errors)
{
    zoq_pref_guard_t g;
    zoq_pref_guard_default(&g);
    zoq_pref_eval_t a = ev(33, 55, 1.0), b = ev(34, 55, 1.1);
    int d = 7;
    double p = 7;
    cr_expect_eq(zoq_pref_guard_decide(NULL, &a, &b, &d, &p), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_guard_decide(&g, NULL, &b, &d, &p), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_guard_decide(&g, &a, &b, NULL, &p), ZOQ_E_INVALID);
    zoq_pref_eval_t bad = ev(56, 55, 1.0);
    cr_expect_eq(zoq_pref_guard_decide(&g, &a, &bad, &d, &p), ZOQ_E_INVALID);
    bad = ev(3, 55, NAN);
    cr_expect_eq(zoq_pref_guard_decide(&g, &a, &bad, &d, &p), ZOQ_E_INVALID);
    g.alpha = 1.0;
    cr_expect_eq(zoq_pref_guard_decide(&g, &a, &b, &d, &p), ZOQ_E_INVALID);
    zoq_pref_guard_default(&g);
    g.reserved_ = 1;
    cr_expect_eq(zoq_pref_guard_decide(&g, &a, &b, &d, &p), ZOQ_E_INVALID);
    zoq_pref_guard_default(&g);
    g.require_significant = 3;
    cr_expect_eq(zoq_pref_guard_decide(&g, &a, &b, &d, &p), ZOQ_E_INVALID);
    cr_expect(d == 7 && p == 7);
    cr_expect_eq(zoq_pref_guard_default(NULL), ZOQ_E_INVALID);
}

/* ---- error messages: zoq_last_error(NULL), per thread ----------------------- */

/* Runs `call`, expects ZOQ_E_INVALID and a message containing `want`. */
#define EXPECT_MESSAGE(call, want)                                                        \
    do {                                                                                  \
        cr_expect_eq((call), ZOQ_E_INVALID, "%s", #call);                                 \
        cr_expect(strstr(zoq_last_error(NULL), (want)) != NULL, "%s: \"%s\" lacks \"%s\"", \
                  #call, zoq_last_error(NULL), (want));                                   \
    } while (0)

Test(pref_errors, messages_name_the_argument)
{
    const double c[3] = {1, 2, 3}, r[3] = {0, NAN, 1}, tok[3] = {4, 0, 4};
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_SIMPO, &p);
    zoq_pref_batch_t b = {.size = sizeof b, .n = 3, .chosen_logps = c, .rejected_logps = c,
                          .chosen_tokens = tok, .rejected_tokens = tok};
    zoq_pref_result_t res = {.size = sizeof res};
    EXPECT_MESSAGE(zoq_pref_loss_eval(&p, &b, NULL, &res), "batch.chosen_tokens[1] = 0");
    b.rejected_logps = r;
    EXPECT_MESSAGE(zoq_pref_loss_eval(&p, &b, NULL, &res), "batch.rejected_logps[1]");
    p.gamma = -1;
    EXPECT_MESSAGE(zoq_pref_loss_eval(&p, &b, NULL, &res), "params.gamma = -1");
    zoq_pref_params_default(ZOQ_LOSS_DPO, &p);
    b.rejected_logps = c;
    EXPECT_MESSAGE(zoq_pref_loss_eval(&p, &b, NULL, &res), "batch.ref_chosen_logps is NULL");
    b.n = 0;
    EXPECT_MESSAGE(zoq_pref_loss_eval(&p, &b, NULL, &res), "batch.n = 0");
    zoq_pref_eval_t e = {.size = sizeof e};
    EXPECT_MESSAGE(zoq_pref_evaluate(c, r, 3, &e), "rejected_scores[1]");
    EXPECT_MESSAGE(zoq_stats_ztest_2prop(3, 10, 11, 10, NULL, NULL), "second proportion");
    EXPECT_MESSAGE(zoq_stats_mde(100, 0.5, 0.05, 1.5, ZOQ_MDE_TWO_SAMPLE, &p.beta),
                   "power = 1.5");
    int64_t idx[2] = {0, 7}, keep[3], nk;
    EXPECT_MESSAGE(zoq_pref_curriculum_sort(c, c, 3, idx, 2), "idx[1] = 7");
    EXPECT_MESSAGE(zoq_pref_raft_filter(c, c, 3, 0.2, 0.8, keep, &nk), "low <= high");
    zoq_pref_guard_t g;
    zoq_pref_guard_default(&g);
    zoq_pref_eval_t e0 = ev(3, 10, 1), e1 = ev(12, 10, 1);
    int d;
    EXPECT_MESSAGE(zoq_pref_guard_decide(&g, &e0, &e1, &d, NULL), "after: count 12");
    EXPECT_MESSAGE(zoq_pref_aero_create(1.0, NULL), "out is NULL");
    /* a failure with a context leaves this thread's message alone */
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_expect_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, -1.0), ZOQ_E_INVALID);
    cr_expect(strstr(zoq_last_error(NULL), "out is NULL") != NULL);
    cr_expect(strstr(zoq_last_error(ctx), "out is NULL") == NULL);
    zoq_destroy(ctx);
}

static void *fail_in_thread(void *arg)
{
    char *seen = arg;
    /* a fresh thread has no message, whatever the main thread's */
    strncpy(seen, zoq_last_error(NULL), 63);
    seen[63] = '\0';
    int out;
    (void)zoq_pref_loss_find(NULL, &out);
    return NULL;
}

Test(pref_errors, message_is_per_thread)
{
    double mde;
    EXPECT_MESSAGE(zoq_stats_mde(0, 0.5, 0.05, 0.8, ZOQ_MDE_TWO_SAMPLE, &mde), "n = 0");
    char seen[64] = "untouched";
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fail_in_thread, seen), 0);
    pthread_join(t, NULL);
    cr_expect_str_eq(seen, "");
    cr_expect(strstr(zoq_last_error(NULL), "zoq_stats_mde: n = 0") != NULL,
              "the other thread's failure did not overwrite ours: %s", zoq_last_error(NULL));
}

/* ---- data helpers ---------------------------------------------------------------- */

Test(pref_data, raft_filter_known_answer)
{
    int64_t keep[DATA_N], nk = -1;
    for (int i = 0; i < DATA_N; i++)
        keep[i] = -1;
    cr_assert_eq(zoq_pref_raft_filter(data_c, data_r, DATA_N, ZOQ_RAFT_HIGH_DEFAULT,
                                      ZOQ_RAFT_LOW_DEFAULT, keep, &nk),
                 ZOQ_OK);
    cr_assert_eq(nk, DATA_N_KEEP);
    cr_expect(DATA_N_KEEP < DATA_N, "the case drops something");
    for (int64_t i = 0; i < nk; i++)
        cr_expect_eq(keep[i], data_keep[i]);
    /* thresholds at the extremes keep everything */
    cr_assert_eq(zoq_pref_raft_filter(data_c, data_r, DATA_N, 1.0, 0.0, keep, &nk), ZOQ_OK);
    cr_expect_eq(nk, DATA_N);
    /* equal thresholds: drop when both sides are on the same side of t */
    const double c[4] = {0.9, 0.5, 0.1, 0.5}, r[4] = {0.7, 0.5, 0.2, 0.6};
    cr_assert_eq(zoq_pref_raft_filter(c, r, 4, 0.5, 0.5, keep, &nk), ZOQ_OK);
    cr_expect(nk == 2 && keep[0] == 1 && keep[1] == 3, "n_keep %lld", (long long)nk);
}

Test(pref_data, raft_errors)
{
    int64_t keep[4] = {9, 9, 9, 9}, nk = 9;
    const double c[4] = {0.9, 0.5, 0.1, 0.5}, r[4] = {0.7, 0.5, NAN, 0.6};
    cr_expect_eq(zoq_pref_raft_filter(c, r, 4, 0.8, 0.2, keep, &nk), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_raft_filter(c, c, 4, 0.2, 0.8, keep, &nk), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_raft_filter(c, c, 4, NAN, 0.2, keep, &nk), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_raft_filter(c, c, 0, 0.8, 0.2, keep, &nk), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_raft_filter(c, c, 4, 0.8, 0.2, NULL, &nk), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_raft_filter(c, c, 4, 0.8, 0.2, keep, NULL), ZOQ_E_INVALID);
    cr_expect(nk == 9 && keep[0] == 9 && keep[3] == 9);
}

Test(pref_data, curriculum_known_answer)
{
    int64_t idx[DATA_N];
    memcpy(idx, data_keep, sizeof data_keep);
    cr_assert_eq(zoq_pref_curriculum_sort(data_c, data_r, DATA_N, idx, DATA_N_KEEP), ZOQ_OK);
    for (int64_t i = 0; i < DATA_N_KEEP; i++)
        cr_expect_eq(idx[i], data_order[i], "position %lld", (long long)i);
    /* the order is total: any permutation of the input sorts the same */
    for (int64_t i = 0; i < DATA_N_KEEP; i++)
        idx[i] = data_keep[DATA_N_KEEP - 1 - i];
    cr_assert_eq(zoq_pref_curriculum_sort(data_c, data_r, DATA_N, idx, DATA_N_KEEP), ZOQ_OK);
    for (int64_t i = 0; i < DATA_N_KEEP; i++)
        cr_expect_eq(idx[i], data_order[i]);
    /* gaps decrease along the order, ties by index */
    for (int64_t i = 1; i < DATA_N_KEEP; i++) {
        const double g0 = data_c[idx[i - 1]] - data_r[idx[i - 1]];
        const double g1 = data_c[idx[i]] - data_r[idx[i]];
        cr_expect(g0 > g1 || (g0 == g1 && idx[i - 1] < idx[i]));
    }
    cr_expect_eq(zoq_pref_curriculum_sort(data_c, data_r, DATA_N, NULL, 0), ZOQ_OK);
}

Test(pref_data, curriculum_errors_keep_idx)
{
    const double c[3] = {0.1, 0.9, 0.5}, r[3] = {0.2, 0.1, 0.5};
    int64_t idx[3] = {2, 3, 0};
    cr_expect_eq(zoq_pref_curriculum_sort(c, r, 3, idx, 3), ZOQ_E_INVALID);
    cr_expect(idx[0] == 2 && idx[1] == 3 && idx[2] == 0);
    idx[1] = -1;
    cr_expect_eq(zoq_pref_curriculum_sort(c, r, 3, idx, 3), ZOQ_E_INVALID);
    idx[1] = 1;
    const double bad[3] = {0.1, INFINITY, 0.5};
    cr_expect_eq(zoq_pref_curriculum_sort(bad, r, 3, idx, 3), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_curriculum_sort(c, r, 0, idx, 0), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_curriculum_sort(c, r, 3, idx, -1), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_curriculum_sort(c, r, 3, NULL, 2), ZOQ_E_INVALID);
    cr_expect(idx[0] == 2 && idx[1] == 1 && idx[2] == 0);
    cr_expect_eq(zoq_pref_curriculum_sort(c, r, 3, idx, 3), ZOQ_OK);
    cr_expect(idx[0] == 1 && idx[1] == 2 && idx[2] == 0, "gaps .8, 0, -.1");
}
