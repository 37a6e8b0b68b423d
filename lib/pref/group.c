/* group.c - GRPO and AERO: per-sequence policy-gradient surrogates whose
 * value (not just gradient) moves with the policy, as ZO needs; group-relative
 * advantages (GRPO) or an EMA baseline carried across calls (AERO).
 * Definitions: docs/preference.md. */
#include <math.h>
#include <stdlib.h>

#include "pref.h"

#define ADV_STD_EPS 1e-4 /* added to the std before dividing, as GRPO/TRL do */

struct zoq_pref_aero {
    double decay;     /* δ in [0, 1) */
    double baseline;  /* b: EMA of batch mean rewards */
    double sq_dev;    /* v: EMA of the mean squared deviation from b */
    int64_t count;    /* batches folded in; 0 = not initialized */
};

/* ---- validation ----------------------------------------------------------- */

int zoq__pref_group_check(const zoq_pref_params_t *p, const zoq_pref_batch_t *b)
{
    const int64_t n = b->n;
    if (b->chosen_logps == NULL || !zoq__pref_all_finite(b->chosen_logps, n, 0))
        return ZOQ_E_INVALID;
    if (b->chosen_tokens == NULL || !zoq__pref_all_finite(b->chosen_tokens, n, 1))
        return ZOQ_E_INVALID;
    if (b->rewards == NULL || !zoq__pref_all_finite(b->rewards, n, 0))
        return ZOQ_E_INVALID;
    if (b->ref_chosen_logps != NULL) {
        if (!zoq__pref_all_finite(b->ref_chosen_logps, n, 0))
            return ZOQ_E_INVALID;
    } else if (p->beta > 0.0) {
        return ZOQ_E_INVALID; /* the KL term needs the reference */
    }
    if (b->old_logps != NULL && !zoq__pref_all_finite(b->old_logps, n, 0))
        return ZOQ_E_INVALID;
    return ZOQ_OK;
}

/* ---- advantages ------------------------------------------------------------ */

/* End (exclusive) of the group starting at i: a maximal run of equal ids. */
static int64_t group_end(const zoq_pref_batch_t *b, int64_t i)
{
    if (b->group_ids == NULL)
        return b->n;
    int64_t j = i + 1;
    while (j < b->n && b->group_ids[j] == b->group_ids[i])
        j++;
    return j;
}

void zoq__pref_aero_base(const zoq_pref_aero_t *s, const double *rewards, int64_t n,
                         zoq__aero_base_t *out)
{
    if (s->count > 0) {
        out->baseline = s->baseline;
        out->sq_dev = s->sq_dev;
        return;
    }
    /* First batch: no past rewards yet, so the batch is its own baseline. */
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m += rewards[i];
    m /= (double)n;
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (rewards[i] - m) * (rewards[i] - m);
    out->baseline = m;
    out->sq_dev = ss / (double)n;
}

/* ---- evaluation --------------------------------------------------------------- */

/* Per-sequence surrogate value for advantage A. On-policy: -A·π̄ (π̄ = π/L),
 * whose gradient is the policy gradient. With old log-probs: the clipped
 * sequence-level ratio ρ = exp(π̄ - π̄_old), value -min(ρA, clip(ρ)A). */
static double surrogate(const zoq_pref_params_t *p, const zoq_pref_batch_t *b, int64_t i,
                        double A)
{
    const double L = b->chosen_tokens[i];
    const double pbar = b->chosen_logps[i] / L;
    if (b->old_logps == NULL)
        return -A * pbar;
    if (A == 0.0)
        return 0.0; /* avoids 0·inf when ρ overflows */
    const double rho = exp(pbar - b->old_logps[i] / L);
    double rc = rho;
    if (rc < 1.0 - p->clip_eps)
        rc = 1.0 - p->clip_eps;
    if (rc > 1.0 + p->clip_eps)
        rc = 1.0 + p->clip_eps;
    const double u = rho * A, c = rc * A;
    return -(u < c ? u : c);
}

/* k3 estimate of KL(π || π_ref) on the mean token log-ratio d = (r - π)/L:
 * e^d - d - 1 (>= 0; +inf once e^d overflows). */
static double kl_k3(const zoq_pref_batch_t *b, int64_t i)
{
    const double d = (b->ref_chosen_logps[i] - b->chosen_logps[i]) / b->chosen_tokens[i];
    return zoq__expm1mx(d);
}

void zoq__pref_group_eval(const zoq_pref_params_t *p, const zoq_pref_batch_t *b,
                          const zoq__aero_base_t *base, zoq_pref_result_t *out)
{
    const int64_t n = b->n;
    const double *r = b->rewards;
    double s_loss = 0.0, s_kl = 0.0, s_hi = 0.0, s_lo = 0.0;
    int64_t n_hi = 0, n_lo = 0, pairs = 0, right = 0;

    for (int64_t i = 0; i < n;) {
        const int64_t e = group_end(b, i), g = e - i;
        /* Group moments (GRPO): mean and std with Bessel's correction, as
         * torch.std in TRL; a group of one gets advantage 0. */
        double m = 0.0, sd = 0.0;
        if (base == NULL) {
            for (int64_t j = i; j < e; j++)
                m += r[j];
            m /= (double)g;
            double ss = 0.0;
            for (int64_t j = i; j < e; j++)
                ss += (r[j] - m) * (r[j] - m);
            sd = g > 1 ? sqrt(ss / (double)(g - 1)) : 0.0;
        }
        for (int64_t j = i; j < e; j++) {
            double A;
            if (base == NULL) {
                A = g > 1 ? r[j] - m : 0.0;
                if (p->scale_rewards)
                    A /= sd + ADV_STD_EPS;
            } else {
                A = r[j] - base->baseline;
                if (p->scale_rewards)
                    A /= sqrt(base->sq_dev) + ADV_STD_EPS;
            }
            double l = surrogate(p, b, j, A);
            if (b->ref_chosen_logps != NULL) {
                const double kl = kl_k3(b, j);
                s_kl += kl;
                if (p->beta > 0.0)
                    l += p->beta * kl;
            }
            if (out->advantages != NULL)
                out->advantages[j] = A;
            if (out->item_losses != NULL)
                out->item_losses[j] = l;
            s_loss += l;
            if (A > 0.0) {
                s_hi += r[j];
                n_hi++;
            } else if (A < 0.0) {
                s_lo += r[j];
                n_lo++;
            }
            /* Ranking accuracy: pairs of the group with different rewards
             * that the policy's mean log-prob orders the same way. */
            const double pj = b->chosen_logps[j] / b->chosen_tokens[j];
            for (int64_t k = j + 1; k < e; k++) {
                if (r[k] == r[j])
                    continue;
                const double pk = b->chosen_logps[k] / b->chosen_tokens[k];
                pairs++;
                right += (r[j] > r[k]) ? (pj > pk) : (pk > pj);
            }
        }
        i = e;
    }
    const double dn = (double)n;
    out->loss = s_loss / dn;
    out->reward_chosen = n_hi > 0 ? s_hi / (double)n_hi : 0.0;
    out->reward_rejected = n_lo > 0 ? s_lo / (double)n_lo : 0.0;
    out->margin = out->reward_chosen - out->reward_rejected;
    out->reward_accuracy = pairs > 0 ? (double)right / (double)pairs : NAN;
    out->kl = b->ref_chosen_logps != NULL ? s_kl / dn : 0.0;
    out->nll = 0.0;
    out->log_odds = 0.0;
    out->baseline = base != NULL ? base->baseline : 0.0;
}

/* ---- AERO state ------------------------------------------------------------------ */

int zoq_pref_aero_create(double decay, zoq_pref_aero_t **out)
{
    if (out == NULL || !(decay >= 0.0 && decay < 1.0))
        return ZOQ_E_INVALID;
    zoq_pref_aero_t *s = malloc(sizeof *s);
    if (s == NULL)
        return ZOQ_E_NOMEM;
    s->decay = decay;
    s->baseline = 0.0;
    s->sq_dev = 0.0;
    s->count = 0;
    *out = s;
    return ZOQ_OK;
}

void zoq_pref_aero_free(zoq_pref_aero_t *s)
{
    free(s);
}

int zoq_pref_aero_update(zoq_pref_aero_t *s, const double *rewards, int64_t n)
{
    if (s == NULL || rewards == NULL || n <= 0 || !zoq__pref_all_finite(rewards, n, 0))
        return ZOQ_E_INVALID;
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m += rewards[i];
    m /= (double)n;
    if (s->count == 0) {
        zoq__aero_base_t base;
        zoq__pref_aero_base(s, rewards, n, &base);
        s->baseline = base.baseline;
        s->sq_dev = base.sq_dev;
    } else {
        /* Squared deviation from the baseline the batch was scored against. */
        double ss = 0.0;
        for (int64_t i = 0; i < n; i++)
            ss += (rewards[i] - s->baseline) * (rewards[i] - s->baseline);
        const double d = s->decay;
        s->sq_dev = d * s->sq_dev + (1.0 - d) * (ss / (double)n);
        s->baseline = d * s->baseline + (1.0 - d) * m;
    }
    s->count++;
    return ZOQ_OK;
}

int zoq_pref_aero_get(const zoq_pref_aero_t *s, double *decay, double *baseline,
                      double *sq_dev, int64_t *count)
{
    if (s == NULL)
        return ZOQ_E_INVALID;
    if (decay != NULL)
        *decay = s->decay;
    if (baseline != NULL)
        *baseline = s->baseline;
    if (sq_dev != NULL)
        *sq_dev = s->sq_dev;
    if (count != NULL)
        *count = s->count;
    return ZOQ_OK;
}

int zoq_pref_aero_set(zoq_pref_aero_t *s, double baseline, double sq_dev, int64_t count)
{
    if (s == NULL || !isfinite(baseline) || !isfinite(sq_dev) || !(sq_dev >= 0.0) || count < 0)
        return ZOQ_E_INVALID;
    s->baseline = count > 0 ? baseline : 0.0;
    s->sq_dev = count > 0 ? sq_dev : 0.0;
    s->count = count;
    return ZOQ_OK;
}
