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
    ZOQ__PREF_TRY(zoq__pref_need("batch.chosen_logps", b->chosen_logps, n, 0));
    ZOQ__PREF_TRY(zoq__pref_need("batch.chosen_tokens", b->chosen_tokens, n, 1));
    ZOQ__PREF_TRY(zoq__pref_need("batch.rewards", b->rewards, n, 0));
    if (b->ref_chosen_logps != NULL)
        ZOQ__PREF_TRY(zoq__pref_need("batch.ref_chosen_logps", b->ref_chosen_logps, n, 0));
    else if (p->beta > 0.0)
        return zoq__pref_bad("%s: batch.ref_chosen_logps is NULL but params.beta = %g > 0 "
                             "needs the reference for its KL term",
                             zoq_pref_loss_name(p->loss), p->beta);
    if (b->old_logps != NULL)
        ZOQ__PREF_TRY(zoq__pref_need("batch.old_logps", b->old_logps, n, 0));
    return ZOQ_OK;
}

/* ---- moments without overflow ----------------------------------------------- */

/* A power of two s >= 1 with max |x| / s < 2: sums of x/s cannot overflow
 * while a sum of x (e.g. two rewards of 1e308) can. Dividing by a power of
 * two is exact (barring underflow), so moments of x/s are those of x scaled,
 * bit for bit, and s = 1 for |x| <= 1 changes nothing. */
static double pow2_scale_of(double mx)
{
    if (!(mx > 1.0))
        return 1.0;
    int e;
    frexp(mx, &e); /* mx < 2^e, and 2^(e-1) is finite for any finite mx */
    return ldexp(1.0, e - 1);
}

/* pow2_scale_of the largest |x[i]|. */
static double pow2_scale(const double *x, int64_t n)
{
    double mx = 0.0;
    for (int64_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(x[i]));
    return pow2_scale_of(mx);
}

/* Mean of x/s and sum of squared deviations of x/s from it. */
static void scaled_moments(const double *x, int64_t n, double s, double *mean, double *ss)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m += x[i] / s;
    m /= (double)n;
    double q = 0.0;
    for (int64_t i = 0; i < n; i++)
        q += (x[i] / s - m) * (x[i] / s - m);
    *mean = m;
    *ss = q;
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

/* Mean and mean squared deviation of n rewards, or ZOQ_E_INVALID when the
 * latter (a square of rewards) does not fit a double. */
static int mean_sq_dev(const double *rewards, int64_t n, double *mean, double *sq_dev)
{
    const double s = pow2_scale(rewards, n);
    double m, ss;
    scaled_moments(rewards, n, s, &m, &ss);
    const double v = ss / (double)n * s * s;
    if (!isfinite(v))
        return zoq__pref_bad("aero: the rewards' mean squared deviation overflows a double "
                             "(rewards up to %g); rescale the rewards", s * 2.0);
    *mean = m * s;
    *sq_dev = v;
    return ZOQ_OK;
}

int zoq__pref_aero_base(const zoq_pref_aero_t *s, const double *rewards, int64_t n,
                        zoq__aero_base_t *out)
{
    if (s->count > 0) {
        out->baseline = s->baseline;
        out->sq_dev = s->sq_dev;
        return ZOQ_OK;
    }
    /* First batch: no past rewards yet, so the batch is its own baseline. */
    return mean_sq_dev(rewards, n, &out->baseline, &out->sq_dev);
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
    /* The reward means of the diagnostics are summed as r/S, S the batch's scale. */
    const double S = pow2_scale(r, n);
    double s_loss = 0.0, s_kl = 0.0, s_hi = 0.0, s_lo = 0.0;
    int64_t n_hi = 0, n_lo = 0, pairs = 0, right = 0;

    for (int64_t i = 0; i < n;) {
        const int64_t e = group_end(b, i), g = e - i;
        /* Group moments (GRPO): mean and std with Bessel's correction, as
         * torch.std in TRL; a group of one gets advantage 0. They are those
         * of r/s (sc = s): A = (r - m)/(sd + eps) = (r/s - m/s)/(sd/s + eps/s). */
        double m = 0.0, sd = 0.0, sc = 1.0;
        if (base == NULL) {
            double ss;
            sc = pow2_scale(r + i, g);
            scaled_moments(r + i, g, sc, &m, &ss);
            sd = g > 1 ? sqrt(ss / (double)(g - 1)) : 0.0;
        }
        for (int64_t j = i; j < e; j++) {
            double A;
            if (base == NULL) {
                A = g > 1 ? r[j] / sc - m : 0.0;
                if (p->scale_rewards)
                    A /= sd + ADV_STD_EPS / sc;
                else
                    A *= sc;
            } else {
                /* (r - b)/(sqrt(v) + eps), all over sc so that r - b cannot overflow */
                const double sc2 = pow2_scale_of(fmax(fabs(r[j]), fabs(base->baseline)));
                A = r[j] / sc2 - base->baseline / sc2;
                if (p->scale_rewards)
                    A /= sqrt(base->sq_dev) / sc2 + ADV_STD_EPS / sc2;
                else
                    A *= sc2;
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
                s_hi += r[j] / S;
                n_hi++;
            } else if (A < 0.0) {
                s_lo += r[j] / S;
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
    out->reward_chosen = n_hi > 0 ? s_hi / (double)n_hi * S : 0.0;
    out->reward_rejected = n_lo > 0 ? s_lo / (double)n_lo * S : 0.0;
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
    if (out == NULL)
        return zoq__pref_bad("zoq_pref_aero_create: out is NULL");
    if (!(decay >= 0.0 && decay < 1.0))
        return zoq__pref_bad("aero: decay = %g must be in [0, 1)", decay);
    zoq_pref_aero_t *s = malloc(sizeof *s);
    if (s == NULL)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "aero: out of memory");
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
    if (s == NULL)
        return zoq__pref_bad("zoq_pref_aero_update: the state is NULL");
    if (n <= 0)
        return zoq__pref_bad("aero: n = %lld rewards, must be > 0", (long long)n);
    ZOQ__PREF_TRY(zoq__pref_need("rewards", rewards, n, 0));
    double m, v;
    ZOQ__PREF_TRY(mean_sq_dev(rewards, n, &m, &v));
    if (s->count > 0) {
        /* Squared deviation from the baseline the batch was scored against,
         * summed as ((r - b)/sc)^2 so that r - b cannot overflow. */
        const double sc = fmax(pow2_scale(rewards, n), pow2_scale_of(fabs(s->baseline)));
        double ss = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const double dv = rewards[i] / sc - s->baseline / sc;
            ss += dv * dv;
        }
        const double d = s->decay;
        const double sq = d * s->sq_dev + (1.0 - d) * (ss / (double)n * sc * sc);
        if (!isfinite(sq))
            return zoq__pref_bad("aero: the squared deviation of the rewards from the baseline "
                                 "%g overflows a double; rescale the rewards", s->baseline);
        s->sq_dev = sq;
        s->baseline = d * s->baseline + (1.0 - d) * m;
    } else {
        s->baseline = m;
        s->sq_dev = v;
    }
    s->count++;
    return ZOQ_OK;
}

int zoq_pref_aero_get(const zoq_pref_aero_t *s, double *decay, double *baseline,
                      double *sq_dev, int64_t *count)
{
    if (s == NULL)
        return zoq__pref_bad("zoq_pref_aero_get: the state is NULL");
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
    if (s == NULL)
        return zoq__pref_bad("zoq_pref_aero_set: the state is NULL");
    if (!isfinite(baseline) || !isfinite(sq_dev) || !(sq_dev >= 0.0) || count < 0)
        return zoq__pref_bad("aero: baseline %g, sq_dev %g, count %lld: need finite values, "
                             "sq_dev >= 0 and count >= 0", baseline, sq_dev, (long long)count);
    s->baseline = count > 0 ? baseline : 0.0;
    s->sq_dev = count > 0 ? sq_dev : 0.0;
    s->count = count;
    return ZOQ_OK;
}
