/* stats.c - held-out preference evaluation and the regression guard:
 * accuracy and margins of a set of pairs, the pooled two-proportion z-test,
 * the minimum detectable effect of an evaluation, and the deploy rule.
 * Formulas: docs/preference.md, "Evaluation and regression guard". */
#include <math.h>
#include <string.h>

#include "pref.h"

int zoq_pref_evaluate(const double *chosen_scores, const double *rejected_scores, int64_t n,
                      zoq_pref_eval_t *out)
{
    if (out == NULL)
        return zoq__pref_bad("zoq_pref_evaluate: out is NULL");
    if (n <= 0)
        return zoq__pref_bad("zoq_pref_evaluate: n = %lld pairs, must be > 0", (long long)n);
    ZOQ__PREF_TRY(zoq__sized_out_ok(NULL, "out", out, sizeof *out));
    ZOQ__PREF_TRY(zoq__pref_need("chosen_scores", chosen_scores, n, 0));
    ZOQ__PREF_TRY(zoq__pref_need("rejected_scores", rejected_scores, n, 0));

    int64_t correct = 0, ties = 0;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double c = chosen_scores[i], r = rejected_scores[i];
        correct += c > r;
        ties += c == r;
        s += c - r;
    }
    const double mean = s / (double)n;
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (chosen_scores[i] - rejected_scores[i]) - mean;
        ss += d * d;
    }
    const zoq_pref_eval_t e = {
        .size = sizeof e, .n = n, .correct = correct, .ties = ties,
        .accuracy = (double)correct / (double)n, .mean_margin = mean,
        .sd_margin = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0};
    zoq__sized_out(out, &e, sizeof e);
    return ZOQ_OK;
}

/* z and p of the pooled two-proportion test on validated counts. */
static void ztest(int64_t x1, int64_t n1, int64_t x2, int64_t n2, double *z, double *p)
{
    const double p1 = (double)x1 / (double)n1, p2 = (double)x2 / (double)n2;
    const double pool = (double)(x1 + x2) / (double)(n1 + n2);
    const double se = sqrt(pool * (1.0 - pool) * (1.0 / (double)n1 + 1.0 / (double)n2));
    if (x1 * n2 == x2 * n1 || !(se > 0.0)) {
        /* Equal proportions (including pooled 0 or 1, where se = 0). */
        *z = 0.0;
        *p = 1.0;
        return;
    }
    *z = (p2 - p1) / se;
    *p = zoq__norm_two_sided_p(*z);
}

/* ZOQ_OK when 0 <= x <= n and 0 < n <= 2^31 (so that x1*n2 and n1+n2
 * cannot overflow), else ZOQ_E_INVALID naming `what`. */
static int counts_ok(const char *what, int64_t x, int64_t n)
{
    if (!(n > 0 && n <= ((int64_t)1 << 31)))
        return zoq__pref_bad("%s: n = %lld must be in 1..2^31", what, (long long)n);
    if (!(x >= 0 && x <= n))
        return zoq__pref_bad("%s: count %lld must be in 0..n = %lld", what, (long long)x,
                             (long long)n);
    return ZOQ_OK;
}

int zoq_stats_ztest_2prop(int64_t x1, int64_t n1, int64_t x2, int64_t n2, double *z,
                          double *p_value)
{
    ZOQ__PREF_TRY(counts_ok("first proportion (x1, n1)", x1, n1));
    ZOQ__PREF_TRY(counts_ok("second proportion (x2, n2)", x2, n2));
    double zz, pp;
    ztest(x1, n1, x2, n2, &zz, &pp);
    if (z != NULL)
        *z = zz;
    if (p_value != NULL)
        *p_value = pp;
    return ZOQ_OK;
}

int zoq_stats_mde(int64_t n, double p0, double alpha, double power, int design, double *mde)
{
    if (mde == NULL)
        return zoq__pref_bad("zoq_stats_mde: mde is NULL");
    if (n <= 0)
        return zoq__pref_bad("zoq_stats_mde: n = %lld must be > 0", (long long)n);
    if (!(p0 > 0.0 && p0 < 1.0))
        return zoq__pref_bad("zoq_stats_mde: p0 = %g must be in (0, 1)", p0);
    if (!(alpha > 0.0 && alpha < 1.0))
        return zoq__pref_bad("zoq_stats_mde: alpha = %g must be in (0, 1)", alpha);
    if (!(power > 0.0 && power < 1.0))
        return zoq__pref_bad("zoq_stats_mde: power = %g must be in (0, 1)", power);
    if (design != ZOQ_MDE_TWO_SAMPLE && design != ZOQ_MDE_ONE_SAMPLE)
        return zoq__pref_bad("zoq_stats_mde: design = %d is not a zoq_mde_design_t", design);
    /* z_{1-α/2} as -Φ⁻¹(α/2) keeps full precision for small α. */
    const double za = -zoq__norm_ppf(0.5 * alpha);
    const double zb = zoq__norm_ppf(power);
    const double k = design == ZOQ_MDE_TWO_SAMPLE ? 2.0 : 1.0;
    *mde = (za + zb) * sqrt(k * p0 * (1.0 - p0) / (double)n);
    return ZOQ_OK;
}

int zoq_pref_guard_default(zoq_pref_guard_t *out)
{
    if (out == NULL)
        return zoq__pref_bad("zoq_pref_guard_default: out is NULL");
    zoq_pref_guard_t g;
    memset(&g, 0, sizeof g);
    g.size = sizeof g;
    g.alpha = 0.05;
    g.min_accuracy_gain = 0.0;
    g.min_margin_gain = 0.0;
    g.require_significant = 0;
    *out = g;
    return ZOQ_OK;
}

/* Reads the caller's evaluation `in` into *e (fields it is too old to have
 * as 0) and checks it. */
static int eval_in(const char *what, const zoq_pref_eval_t *in, zoq_pref_eval_t *e)
{
    if (in == NULL)
        return zoq__pref_bad("guard: %s is NULL", what);
    memset(e, 0, sizeof *e);
    ZOQ__PREF_TRY(zoq__sized_in(NULL, what, e, in, sizeof *e));
    ZOQ__PREF_TRY(counts_ok(what, e->correct, e->n));
    if (!isfinite(e->mean_margin))
        return zoq__pref_bad("guard: %s.mean_margin = %g is not finite", what, e->mean_margin);
    return ZOQ_OK;
}

int zoq_pref_guard_decide(const zoq_pref_guard_t *g_in, const zoq_pref_eval_t *before_in,
                          const zoq_pref_eval_t *after_in, int *deploy, double *p_value)
{
    if (g_in == NULL || deploy == NULL)
        return zoq__pref_bad("zoq_pref_guard_decide: %s is NULL",
                             g_in == NULL ? "g" : "deploy");
    zoq_pref_guard_t gv;
    zoq_pref_guard_default(&gv);
    ZOQ__PREF_TRY(zoq__sized_in(NULL, "guard", &gv, g_in, sizeof gv));
    const zoq_pref_guard_t *g = &gv;
    if (!(g->alpha > 0.0 && g->alpha < 1.0))
        return zoq__pref_bad("guard.alpha = %g must be in (0, 1)", g->alpha);
    if (!(g->min_accuracy_gain >= -1.0 && g->min_accuracy_gain <= 1.0))
        return zoq__pref_bad("guard.min_accuracy_gain = %g must be in [-1, 1]",
                             g->min_accuracy_gain);
    if (!isfinite(g->min_margin_gain))
        return zoq__pref_bad("guard.min_margin_gain = %g is not finite", g->min_margin_gain);
    if (g->require_significant != 0 && g->require_significant != 1)
        return zoq__pref_bad("guard.require_significant = %d must be 0 or 1",
                             (int)g->require_significant);
    if (g->reserved_ != 0)
        return zoq__pref_bad("guard.reserved_ = %d must be 0", (int)g->reserved_);
    zoq_pref_eval_t bv, av;
    ZOQ__PREF_TRY(eval_in("before", before_in, &bv));
    ZOQ__PREF_TRY(eval_in("after", after_in, &av));
    const zoq_pref_eval_t *before = &bv, *after = &av;

    double z, p;
    ztest(before->correct, before->n, after->correct, after->n, &z, &p);
    /* The accuracy gain c1/n1 - c0/n0 = (c1·n0 - c0·n1)/(n0·n1): an exact
     * integer numerator and one correctly rounded division (exact operands
     * while n0·n1 < 2^53), so 28/100 -> 35/100 gains exactly the double 0.07
     * and meets a min_accuracy_gain of 0.07, where acc1 - acc0 in floating
     * point gives 0.06999999999999995. */
    const int64_t num = after->correct * before->n - before->correct * after->n;
    const double dacc = (double)num / (double)(before->n * after->n);
    const double dmargin = after->mean_margin - before->mean_margin;

    int ok = dacc >= g->min_accuracy_gain && dmargin > g->min_margin_gain;
    if (g->require_significant)
        ok = ok && num > 0 && p < g->alpha;
    *deploy = ok;
    if (p_value != NULL)
        *p_value = p;
    return ZOQ_OK;
}
