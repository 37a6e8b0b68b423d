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
    if (chosen_scores == NULL || rejected_scores == NULL || out == NULL || n <= 0)
        return ZOQ_E_INVALID;
    if (!zoq__pref_out_size_ok(out, sizeof *out))
        return ZOQ_E_INVALID;
    if (!zoq__pref_all_finite(chosen_scores, n, 0) ||
        !zoq__pref_all_finite(rejected_scores, n, 0))
        return ZOQ_E_INVALID;

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
    out->n = n;
    out->correct = correct;
    out->ties = ties;
    out->accuracy = (double)correct / (double)n;
    out->mean_margin = mean;
    out->sd_margin = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
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

static int counts_ok(int64_t x, int64_t n)
{
    /* n bounded so that x1*n2 and n1+n2 cannot overflow. */
    return n > 0 && n <= ((int64_t)1 << 31) && x >= 0 && x <= n;
}

int zoq_stats_ztest_2prop(int64_t x1, int64_t n1, int64_t x2, int64_t n2, double *z,
                          double *p_value)
{
    if (!counts_ok(x1, n1) || !counts_ok(x2, n2))
        return ZOQ_E_INVALID;
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
    if (mde == NULL || n <= 0)
        return ZOQ_E_INVALID;
    if (!(p0 > 0.0 && p0 < 1.0) || !(alpha > 0.0 && alpha < 1.0) ||
        !(power > 0.0 && power < 1.0))
        return ZOQ_E_INVALID;
    if (design != ZOQ_MDE_TWO_SAMPLE && design != ZOQ_MDE_ONE_SAMPLE)
        return ZOQ_E_INVALID;
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
        return ZOQ_E_INVALID;
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

static int eval_ok(const zoq_pref_eval_t *e)
{
    return e != NULL && zoq__pref_in_size_ok(e, sizeof *e) && counts_ok(e->correct, e->n) &&
           isfinite(e->mean_margin);
}

int zoq_pref_guard_decide(const zoq_pref_guard_t *g, const zoq_pref_eval_t *before,
                          const zoq_pref_eval_t *after, int *deploy, double *p_value)
{
    if (g == NULL || deploy == NULL || !zoq__pref_in_size_ok(g, sizeof *g))
        return ZOQ_E_INVALID;
    if (!(g->alpha > 0.0 && g->alpha < 1.0) ||
        !(g->min_accuracy_gain >= -1.0 && g->min_accuracy_gain <= 1.0) ||
        !isfinite(g->min_margin_gain) || (g->require_significant != 0 &&
                                          g->require_significant != 1) ||
        g->reserved_ != 0)
        return ZOQ_E_INVALID;
    if (!eval_ok(before) || !eval_ok(after))
        return ZOQ_E_INVALID;

    double z, p;
    ztest(before->correct, before->n, after->correct, after->n, &z, &p);
    const double acc0 = (double)before->correct / (double)before->n;
    const double acc1 = (double)after->correct / (double)after->n;
    const double dacc = acc1 - acc0;
    const double dmargin = after->mean_margin - before->mean_margin;

    int ok = dacc >= g->min_accuracy_gain && dmargin > g->min_margin_gain;
    if (g->require_significant)
        ok = ok && acc1 > acc0 && p < g->alpha;
    *deploy = ok;
    if (p_value != NULL)
        *p_value = p;
    return ZOQ_OK;
}
