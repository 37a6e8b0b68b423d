/* losses.c - the preference losses over a batch of plain arrays: names,
 * hyperparameter defaults and bounds, validation, the pairwise losses (DPO,
 * IPO, SimPO, CPO, ORPO, RPO, SPPO), KTO, and the dispatch to GRPO/AERO
 * (group.c). Formulas: docs/preference.md. */
#include <math.h>
#include <string.h>

#include "pref.h"

static const char *const loss_names[ZOQ_PREF_LOSS_COUNT] = {
    "dpo", "ipo", "simpo", "cpo", "orpo", "kto", "rpo", "sppo", "grpo", "aero"};

const char *zoq_pref_loss_name(int loss)
{
    if (loss < 0 || loss >= ZOQ_PREF_LOSS_COUNT)
        return NULL;
    return loss_names[loss];
}

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int zoq_pref_loss_find(const char *name, int *loss)
{
    if (name == NULL || loss == NULL)
        return zoq__pref_bad("zoq_pref_loss_find: %s is NULL", name == NULL ? "name" : "loss");
    for (int i = 0; i < ZOQ_PREF_LOSS_COUNT; i++) {
        const char *a = name, *b = loss_names[i];
        while (*a != '\0' && *b != '\0' && ascii_lower((unsigned char)*a) == *b) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            *loss = i;
            return ZOQ_OK;
        }
    }
    return zoq__fail(NULL, ZOQ_E_NOT_FOUND, "no preference loss is named '%.64s'", name);
}

int zoq_pref_params_default(int loss, zoq_pref_params_t *out)
{
    if (out == NULL)
        return zoq__pref_bad("zoq_pref_params_default: out is NULL");
    if (loss < 0 || loss >= ZOQ_PREF_LOSS_COUNT)
        return zoq__pref_bad("loss %d is not a zoq_pref_loss_t (0..%d)", loss,
                             ZOQ_PREF_LOSS_COUNT - 1);
    zoq_pref_params_t p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.loss = loss;
    p.scale_rewards = 1;
    p.beta = 0.1;
    p.label_smoothing = 0.0;
    p.gamma = 1.375;
    p.alpha = 1.0;
    p.lambda = 0.1;
    p.desirable_weight = 1.0;
    p.undesirable_weight = 1.0;
    p.clip_eps = 0.2;
    if (loss == ZOQ_LOSS_SIMPO)
        p.beta = 2.5;
    if (loss == ZOQ_LOSS_GRPO || loss == ZOQ_LOSS_AERO)
        p.beta = 0.0;
    *out = p;
    return ZOQ_OK;
}

int zoq__pref_params_in(const zoq_pref_params_t *in, zoq_pref_params_t *p)
{
    zoq_pref_params_t d;
    zoq_pref_params_default(ZOQ_LOSS_DPO, &d);
    ZOQ__PREF_TRY(zoq__sized_in(NULL, "params", &d, in, sizeof d));
    if (d.loss != ZOQ_LOSS_DPO && d.loss >= 0 && d.loss < ZOQ_PREF_LOSS_COUNT) {
        /* the loss is read: default the fields past in's size by it */
        const int32_t loss = d.loss;
        zoq_pref_params_default(loss, &d);
        zoq__sized_peek(&d, in, sizeof d);
    }
    *p = d;
    return ZOQ_OK;
}

/* Whether the params read by zoq__pref_params_in are valid for their loss. */
static int params_valid(const zoq_pref_params_t *p)
{
    if (p->loss < 0 || p->loss >= ZOQ_PREF_LOSS_COUNT)
        return zoq__pref_bad("params.loss %d is not a zoq_pref_loss_t (0..%d)", (int)p->loss,
                             ZOQ_PREF_LOSS_COUNT - 1);
    static const char *const names[] = {"beta",  "label_smoothing",  "gamma",
                                        "alpha", "lambda",           "desirable_weight",
                                        "undesirable_weight",        "clip_eps"};
    const double all[] = {p->beta,  p->label_smoothing,  p->gamma,
                          p->alpha, p->lambda,           p->desirable_weight,
                          p->undesirable_weight,         p->clip_eps};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!isfinite(all[i]))
            return zoq__pref_bad("params.%s = %g is not finite", names[i], all[i]);

    const int L = p->loss;
    const char *ln = loss_names[L];
    const int grp = L == ZOQ_LOSS_GRPO || L == ZOQ_LOSS_AERO;
    if (grp) {
        if (!(p->beta >= 0.0))
            return zoq__pref_bad("%s: params.beta = %g must be >= 0", ln, p->beta);
        if (!(p->clip_eps > 0.0 && p->clip_eps < 1.0))
            return zoq__pref_bad("%s: params.clip_eps = %g must be in (0, 1)", ln, p->clip_eps);
        if (p->scale_rewards != 0 && p->scale_rewards != 1)
            return zoq__pref_bad("%s: params.scale_rewards = %d must be 0 or 1", ln,
                                 (int)p->scale_rewards);
        return ZOQ_OK;
    }
    if (L != ZOQ_LOSS_ORPO && !(p->beta > 0.0))
        return zoq__pref_bad("%s: params.beta = %g must be > 0", ln, p->beta);
    if (L == ZOQ_LOSS_DPO || L == ZOQ_LOSS_RPO || L == ZOQ_LOSS_CPO || L == ZOQ_LOSS_SIMPO) {
        if (!(p->label_smoothing >= 0.0 && p->label_smoothing < 0.5))
            return zoq__pref_bad("%s: params.label_smoothing = %g must be in [0, 0.5)", ln,
                                 p->label_smoothing);
    }
    if (L == ZOQ_LOSS_SIMPO && !(p->gamma >= 0.0))
        return zoq__pref_bad("%s: params.gamma = %g must be >= 0", ln, p->gamma);
    if ((L == ZOQ_LOSS_CPO || L == ZOQ_LOSS_RPO) && !(p->alpha >= 0.0))
        return zoq__pref_bad("%s: params.alpha = %g must be >= 0", ln, p->alpha);
    if (L == ZOQ_LOSS_ORPO && !(p->lambda >= 0.0))
        return zoq__pref_bad("%s: params.lambda = %g must be >= 0", ln, p->lambda);
    if (L == ZOQ_LOSS_KTO && !(p->desirable_weight > 0.0 && p->undesirable_weight > 0.0))
        return zoq__pref_bad("%s: params.desirable_weight = %g and undesirable_weight = %g "
                             "must be > 0", ln, p->desirable_weight, p->undesirable_weight);
    return ZOQ_OK;
}

int zoq_pref_params_check(const zoq_pref_params_t *p)
{
    if (p == NULL)
        return zoq__pref_bad("the params are NULL");
    zoq_pref_params_t v;
    ZOQ__PREF_TRY(zoq__pref_params_in(p, &v));
    return params_valid(&v);
}

/* ---- validation of the batch ---------------------------------------------- */

/* Which arrays each pairwise loss reads. */
enum {
    USE_REF = 1,        /* ref_chosen_logps, ref_rejected_logps */
    USE_TOKENS = 2,     /* chosen_tokens, rejected_tokens */
    USE_NLL = 4         /* chosen_nll, or chosen_tokens to derive it */
};

static unsigned pair_uses(int loss)
{
    switch (loss) {
    case ZOQ_LOSS_DPO: return USE_REF;
    case ZOQ_LOSS_IPO: return USE_REF | USE_TOKENS;
    case ZOQ_LOSS_SIMPO: return USE_TOKENS;
    case ZOQ_LOSS_CPO: return USE_NLL;
    case ZOQ_LOSS_ORPO: return USE_TOKENS | USE_NLL;
    case ZOQ_LOSS_RPO: return USE_REF | USE_NLL;
    case ZOQ_LOSS_SPPO: return USE_REF;
    default: return 0;
    }
}

static int pair_check(const zoq_pref_params_t *p, const zoq_pref_batch_t *b)
{
    const int64_t n = b->n;
    const unsigned use = pair_uses(p->loss);
    ZOQ__PREF_TRY(zoq__pref_need("batch.chosen_logps", b->chosen_logps, n, 0));
    ZOQ__PREF_TRY(zoq__pref_need("batch.rejected_logps", b->rejected_logps, n, 0));
    if (use & USE_REF) {
        ZOQ__PREF_TRY(zoq__pref_need("batch.ref_chosen_logps", b->ref_chosen_logps, n, 0));
        ZOQ__PREF_TRY(zoq__pref_need("batch.ref_rejected_logps", b->ref_rejected_logps, n, 0));
    }
    if (use & USE_TOKENS) {
        ZOQ__PREF_TRY(zoq__pref_need("batch.chosen_tokens", b->chosen_tokens, n, 1));
        ZOQ__PREF_TRY(zoq__pref_need("batch.rejected_tokens", b->rejected_tokens, n, 1));
    }
    if (use & USE_NLL) {
        if (b->chosen_nll != NULL)
            ZOQ__PREF_TRY(zoq__pref_need("batch.chosen_nll", b->chosen_nll, n, 0));
        else
            ZOQ__PREF_TRY(zoq__pref_need("batch.chosen_tokens (for the chosen NLL: "
                                         "batch.chosen_nll is NULL)", b->chosen_tokens, n, 1));
    }
    if (p->loss == ZOQ_LOSS_ORPO) {
        /* The odds π/(1-π) of the mean token probability need π < 1. */
        for (int64_t i = 0; i < n; i++) {
            const double ac = b->chosen_logps[i] / b->chosen_tokens[i];
            const double ar = b->rejected_logps[i] / b->rejected_tokens[i];
            if (!(ac < 0.0) || !(ar < 0.0))
                return zoq__pref_bad("orpo: pair %lld's mean %s log-prob %g must be < 0",
                                     (long long)i, ac < 0.0 ? "rejected" : "chosen",
                                     ac < 0.0 ? ar : ac);
        }
    }
    return ZOQ_OK;
}

static int kto_check(const zoq_pref_batch_t *b)
{
    const int64_t n = b->n;
    ZOQ__PREF_TRY(zoq__pref_need("batch.chosen_logps", b->chosen_logps, n, 0));
    ZOQ__PREF_TRY(zoq__pref_need("batch.ref_chosen_logps", b->ref_chosen_logps, n, 0));
    if (b->labels == NULL)
        return zoq__pref_bad("kto: batch.labels is NULL");
    for (int64_t i = 0; i < n; i++)
        if (b->labels[i] != 0 && b->labels[i] != 1)
            return zoq__pref_bad("kto: batch.labels[%lld] = %d must be 0 or 1", (long long)i,
                                 (int)b->labels[i]);
    if (b->kl_logps != NULL) {
        if (b->n_kl <= 0)
            return zoq__pref_bad("kto: batch.n_kl = %lld must be > 0 with batch.kl_logps",
                                 (long long)b->n_kl);
        ZOQ__PREF_TRY(zoq__pref_need("batch.kl_logps", b->kl_logps, b->n_kl, 0));
        ZOQ__PREF_TRY(zoq__pref_need("batch.kl_ref_logps", b->kl_ref_logps, b->n_kl, 0));
    } else if (!isfinite(b->kto_z0)) {
        return zoq__pref_bad("kto: batch.kto_z0 = %g is not finite", b->kto_z0);
    }
    return ZOQ_OK;
}

/* ---- pairwise losses -------------------------------------------------------- */

/* -(1-ls)·logσ(u) - ls·logσ(-u); exact for ls = 0 (no 0·inf). */
static double sigmoid_loss(double u, double ls)
{
    double v = -zoq__log_sigmoid(u);
    if (ls > 0.0)
        v = (1.0 - ls) * v - ls * zoq__log_sigmoid(-u);
    return v;
}

static double chosen_nll(const zoq_pref_batch_t *b, int64_t i)
{
    if (b->chosen_nll != NULL)
        return b->chosen_nll[i];
    return -(b->chosen_logps[i] / b->chosen_tokens[i]);
}

static void pair_eval(const zoq_pref_params_t *p, const zoq_pref_batch_t *b,
                      zoq_pref_result_t *out)
{
    const int64_t n = b->n;
    const double beta = p->beta, ls = p->label_smoothing;
    double s_loss = 0.0, s_rc = 0.0, s_rr = 0.0, s_margin = 0.0, s_nll = 0.0, s_lo = 0.0;
    int64_t right = 0;

    for (int64_t i = 0; i < n; i++) {
        const double pc = b->chosen_logps[i], pr = b->rejected_logps[i];
        double l = 0.0, rc = 0.0, rr = 0.0, nll = 0.0;
        switch (p->loss) {
        case ZOQ_LOSS_DPO:
        case ZOQ_LOSS_RPO: {
            const double a = pc - b->ref_chosen_logps[i];
            const double c = pr - b->ref_rejected_logps[i];
            l = sigmoid_loss(beta * (a - c), ls);
            if (p->loss == ZOQ_LOSS_RPO) {
                nll = chosen_nll(b, i);
                l += p->alpha * nll;
            }
            rc = beta * a;
            rr = beta * c;
            break;
        }
        case ZOQ_LOSS_IPO: {
            const double a = (pc - b->ref_chosen_logps[i]) / b->chosen_tokens[i];
            const double c = (pr - b->ref_rejected_logps[i]) / b->rejected_tokens[i];
            const double d = (a - c) - 1.0 / (2.0 * beta);
            l = d * d;
            rc = beta * a;
            rr = beta * c;
            break;
        }
        case ZOQ_LOSS_SPPO: {
            const double a = pc - b->ref_chosen_logps[i];
            const double c = pr - b->ref_rejected_logps[i];
            const double t = 1.0 / (2.0 * beta);
            l = (a - t) * (a - t) + (c + t) * (c + t);
            rc = beta * a;
            rr = beta * c;
            break;
        }
        case ZOQ_LOSS_SIMPO: {
            const double ac = pc / b->chosen_tokens[i], ar = pr / b->rejected_tokens[i];
            l = sigmoid_loss(beta * (ac - ar) - p->gamma, ls);
            rc = beta * ac;
            rr = beta * ar;
            break;
        }
        case ZOQ_LOSS_CPO:
            nll = chosen_nll(b, i);
            l = sigmoid_loss(beta * (pc - pr), ls) + p->alpha * nll;
            rc = beta * pc;
            rr = beta * pr;
            break;
        case ZOQ_LOSS_ORPO: {
            const double ac = pc / b->chosen_tokens[i], ar = pr / b->rejected_tokens[i];
            const double lo = (ac - ar) - (zoq__log1mexp(ac) - zoq__log1mexp(ar));
            nll = chosen_nll(b, i);
            l = nll - p->lambda * zoq__log_sigmoid(lo);
            rc = p->lambda * ac;
            rr = p->lambda * ar;
            s_lo += lo;
            break;
        }
        default:
            break;
        }
        if (out->item_losses != NULL)
            out->item_losses[i] = l;
        s_loss += l;
        s_rc += rc;
        s_rr += rr;
        s_margin += rc - rr;
        s_nll += nll;
        right += rc > rr;
    }
    const double dn = (double)n;
    out->loss = s_loss / dn;
    out->reward_chosen = s_rc / dn;
    out->reward_rejected = s_rr / dn;
    out->reward_accuracy = (double)right / dn;
    out->margin = s_margin / dn;
    out->kl = 0.0;
    out->nll = (pair_uses(p->loss) & USE_NLL) ? s_nll / dn : 0.0;
    out->log_odds = p->loss == ZOQ_LOSS_ORPO ? s_lo / dn : 0.0;
    out->baseline = 0.0;
}

/* ---- KTO ---------------------------------------------------------------------- */

static void kto_eval(const zoq_pref_params_t *p, const zoq_pref_batch_t *b,
                     zoq_pref_result_t *out)
{
    const int64_t n = b->n;
    const double beta = p->beta;
    double z0;
    if (b->kl_logps != NULL) {
        double s = 0.0;
        for (int64_t i = 0; i < b->n_kl; i++)
            s += b->kl_logps[i] - b->kl_ref_logps[i];
        z0 = s / (double)b->n_kl;
    } else {
        z0 = b->kto_z0;
    }
    if (!(z0 > 0.0))
        z0 = 0.0;

    double s_loss = 0.0, s_d = 0.0, s_u = 0.0;
    int64_t n_d = 0, n_u = 0, right = 0;
    for (int64_t i = 0; i < n; i++) {
        const double a = b->chosen_logps[i] - b->ref_chosen_logps[i];
        double l;
        if (b->labels[i] == 1) {
            /* λ_D (1 - σ(β(a - z0))) = λ_D σ(-β(a - z0)) */
            l = p->desirable_weight * zoq__sigmoid(-beta * (a - z0));
            s_d += beta * a;
            n_d++;
            right += a > z0;
        } else {
            l = p->undesirable_weight * zoq__sigmoid(-beta * (z0 - a));
            s_u += beta * a;
            n_u++;
            right += a < z0;
        }
        if (out->item_losses != NULL)
            out->item_losses[i] = l;
        s_loss += l;
    }
    const double dn = (double)n;
    out->loss = s_loss / dn;
    out->reward_chosen = n_d > 0 ? s_d / (double)n_d : 0.0;
    out->reward_rejected = n_u > 0 ? s_u / (double)n_u : 0.0;
    out->reward_accuracy = (double)right / dn;
    out->margin = out->reward_chosen - out->reward_rejected;
    out->kl = z0;
    out->nll = 0.0;
    out->log_odds = 0.0;
    out->baseline = 0.0;
}

/* ---- dispatch ------------------------------------------------------------------ */

int zoq_pref_loss_eval(const zoq_pref_params_t *p_in, const zoq_pref_batch_t *b_in,
                       const zoq_pref_aero_t *aero, zoq_pref_result_t *out)
{
    if (p_in == NULL || b_in == NULL || out == NULL)
        return zoq__pref_bad("zoq_pref_loss_eval: %s is NULL",
                             p_in == NULL ? "params" : b_in == NULL ? "batch" : "out");
    zoq_pref_params_t pv;
    zoq_pref_batch_t bv = {0};
    ZOQ__PREF_TRY(zoq__pref_params_in(p_in, &pv));
    ZOQ__PREF_TRY(params_valid(&pv));
    ZOQ__PREF_TRY(zoq__sized_in(NULL, "batch", &bv, b_in, sizeof bv));
    ZOQ__PREF_TRY(zoq__sized_out_ok(NULL, "out", out, sizeof *out));
    const zoq_pref_params_t *p = &pv;
    const zoq_pref_batch_t *b = &bv;
    int st;
    if (b->n <= 0)
        return zoq__pref_bad("batch.n = %lld must be > 0", (long long)b->n);

    /* Validate everything first: on error nothing is written. */
    zoq__aero_base_t base;
    switch (p->loss) {
    case ZOQ_LOSS_KTO:
        st = kto_check(b);
        break;
    case ZOQ_LOSS_GRPO:
        st = zoq__pref_group_check(p, b);
        break;
    case ZOQ_LOSS_AERO:
        st = aero == NULL ? zoq__pref_bad("aero: the AERO state is NULL")
                          : zoq__pref_group_check(p, b);
        if (st == ZOQ_OK)
            st = zoq__pref_aero_base(aero, b->rewards, b->n, &base);
        break;
    default:
        st = pair_check(p, b);
        break;
    }
    if (st != ZOQ_OK)
        return st;

    /* Compute into a copy so that the caller's struct is written once, whole;
     * the caller's array pointers are the ones its struct's version has. */
    zoq_pref_result_t r = {.size = sizeof r};
    zoq__sized_peek(&r, out, sizeof r);
    switch (p->loss) {
    case ZOQ_LOSS_KTO:
        kto_eval(p, b, &r);
        break;
    case ZOQ_LOSS_GRPO:
        zoq__pref_group_eval(p, b, NULL, &r);
        break;
    case ZOQ_LOSS_AERO:
        zoq__pref_group_eval(p, b, &base, &r);
        break;
    default:
        pair_eval(p, b, &r);
        break;
    }
    if (isnan(r.loss))
        return zoq__pref_bad("%s: the loss is NaN: the inputs are beyond what a double holds "
                             "(e.g. advantages or log-prob ratios that overflow)",
                             loss_names[p->loss]);
    zoq__sized_out(out, &r, sizeof r);
    return ZOQ_OK;
}
