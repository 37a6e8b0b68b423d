/* main.c - zoq_llama: ZO preference training of a 4-bit SmolLM2-135M inside
 * llama.cpp on HH-RLHF harmless pairs (make llm-demo; --quick: make check).
 *
 * Data: the first n - 300 pairs train, the last 300 are the dev split
 * (pairs_split); prompts keep their last --prompt-tokens tokens, completions
 * their first --completion-tokens. Dev accuracy: the fraction of dev pairs
 * whose chosen completion has the larger summed log-prob under the model.
 * For each target (control vector, LoRA) and loss, a fresh adapter is trained
 * with ask/tell steps through zoq's preference objective, then scored on
 * dev against the base model: z-test, exact McNemar, minimum detectable
 * effect. Before training, --probe measures how much of what one ZO step
 * sees is signal (probe_signal). Writes results.json, results.md and
 * loss.svg to --out.
 * docs/integrations/llama.md describes all of it. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zoq.h>

#include "classify.h"
#include "engine.h"
#include "flags.h"
#include "hidden.h"
#include "probe.h"
#include "qzo_check.h"
#include "sst2.h"
#include "stats.h"
#include "commands.h"
#include "support/pairs.h"
#include "target.h"

typedef struct opts {
    const char *model, *data, *out, *runs, *modules, *optimizer;
    int quick, sign, threads, steps, batch, queries, prompt_tokens, completion_tokens;
    int n_train, n_dev, cvec_first, cvec_last, lora_first, lora_last, rank;
    int probe_dirs, probe_batches; /* --probe K:M, 0:0 off */
    double lr_cvec, lr_lora, eps_cvec, eps_lora, alpha;
    uint64_t seed;
} opts;

typedef struct config_result {
    char target[8], loss[8];
    int64_t numel;
    zoq_pref_eval_t after;
    double p_value, p_mcnemar, z, seconds, sec_per_step, mean_g2, var_g_within;
    int64_t improved, worsened, margin_grew;
    gradient_signal sig; /* --probe */
    double *curve; /* loss per step */
    int steps;
} config_result;

static int fail(const char *what)
{
    fprintf(stderr, "zoq_llama: FAIL: %s\n", what);
    return 1;
}

/* ---- the scorer zoq's preference objective calls ------------------------- */

typedef struct run {
    lm_engine *e;
    lm_target *t;
    int64_t policy_calls, policy_decodes; /* one decode per evaluation: equal */
} run;

static int scorer(void *user, const zoq_eval_t *ev, const int64_t *seqs, int64_t n,
                  double *logps, double *tokens)
{
    run *r = user;
    if ((ev == NULL ? target_use_base(r->t) : target_use_point(r->t, ev->point)) != 0)
        return ZOQ_E_CALLBACK;
    const int64_t d0 = r->e->n_decodes;
    const int rc = lm_score(r->e, seqs, n, logps, tokens);
    if (ev != NULL) {
        r->policy_calls++;
        r->policy_decodes += r->e->n_decodes - d0;
    }
    return rc == 0 ? 0 : ZOQ_E_CALLBACK;
}

/* ---- dev evaluation ------------------------------------------------------ */

typedef struct dev_set {
    int64_t *seqs;        /* 2 n sequence ids: chosen, rejected of each dev pair */
    int64_t n;            /* pairs */
    double *lp, *tok;     /* scores of the last evaluation */
} dev_set;

static int dev_score(lm_engine *e, dev_set *d, double *chosen, double *rejected)
{
    if (lm_score(e, d->seqs, 2 * d->n, d->lp, d->tok) != 0)
        return -1;
    for (int64_t i = 0; i < d->n; i++) {
        chosen[i] = d->lp[2 * i];
        rejected[i] = d->lp[2 * i + 1];
    }
    return 0;
}

/* ---- checks of --quick (also run once in the full experiment) ------------ */

/* The scorer's log-probs against the reference path of engine.c, for the
 * first dev pair, with whatever adapter is loaded. */
static int check_reference(lm_engine *e, const dev_set *d)
{
    double lp[2], tok[2], ref[2];
    if (lm_score(e, d->seqs, 2, lp, tok) != 0)
        return fail("scoring the first dev pair");
    for (int s = 0; s < 2; s++) {
        if (lm_reference_logp(e, d->seqs[s], &ref[s]) != 0)
            return fail("reference decode");
        const double tol = 1e-4 * fmax(1.0, fabs(ref[s]));
        printf("check: seq %lld: scorer %.6f, full-logits reference %.6f, |diff| %.2e "
               "(tol %.1e), %g tokens\n",
               (long long)d->seqs[s], lp[s], ref[s], fabs(lp[s] - ref[s]), tol, tok[s]);
        if (!isfinite(lp[s]) || !(fabs(lp[s] - ref[s]) <= tol) || !(lp[s] < 0.0))
            return fail("scorer log-prob differs from llama.cpp's own");
    }
    return 0;
}

/* One ask, every point evaluated (the engine moved to each), cancel, θ back:
 * the scores at θ must be the same bits as before, and a point must differ. */
static int check_restore(lm_engine *e, lm_target *t, zoq_ctx *z, zoq_pref_objective_t *obj,
                         const dev_set *d)
{
    const int64_t n = 2 * d->n;
    double *s = malloc(sizeof *s * (size_t)(4 * n));
    if (s == NULL)
        return fail("out of memory");
    double *tok = s + n, *s1 = s + 2 * n, *sp = s + 3 * n;
    const zoq_point_t *pts;
    int32_t np;
    int rc = 0;
    if (target_use_theta(t) != 0 || lm_score(e, d->seqs, n, s, tok) != 0 ||
        zoq_ask(z, &pts, &np) != ZOQ_OK)
        rc = fail("restore check: setup");
    for (int32_t i = 0; rc == 0 && i < np; i++) {
        double loss;
        if (zoq_pref_objective_eval_point(obj, z, i, &loss) != ZOQ_OK || !isfinite(loss))
            rc = fail("restore check: evaluating a point");
    }
    if (rc == 0 && (target_use_point(t, 0) != 0 || lm_score(e, d->seqs, n, sp, tok) != 0))
        rc = fail("restore check: scoring a point");
    zoq_cancel(z);
    if (rc == 0 && (target_use_theta(t) != 0 || lm_score(e, d->seqs, n, s1, tok) != 0))
        rc = fail("restore check: rescoring θ");
    int same = 1, moved = 0;
    for (int64_t k = 0; rc == 0 && k < n; k++) {
        same &= memcmp(&s[k], &s1[k], sizeof s[k]) == 0;
        moved |= sp[k] != s[k];
    }
    if (rc == 0 && !same)
        rc = fail("scores at θ changed after evaluating a step's points");
    if (rc == 0 && !moved)
        rc = fail("a perturbed point scored exactly as θ (the target has no effect)");
    if (rc == 0)
        printf("check: %s: θ scores identical before and after %d perturbed points\n",
               t->kind == TARGET_CVEC ? "cvec" : "lora", (int)np);
    free(s);
    return rc;
}

/* ---- one configuration: target x loss ------------------------------------ */

/* Items of minibatch `index` of the fixed shuffle `order` (batch pairs; KTO:
 * both sides of each pair as separate items) into items; returns their count. */
static int64_t fill_batch(const int64_t *order, int64_t n_train, int64_t index, int batch,
                          int kto, int64_t *items)
{
    int64_t m = 0;
    for (int k = 0; k < batch; k++) {
        const int64_t pair = order[(index * batch + k) % n_train];
        if (kto) {
            items[m++] = 2 * pair;
            items[m++] = 2 * pair + 1;
        } else {
            items[m++] = pair;
        }
    }
    return m;
}

/* The probe's view of the preference loss (probe.h): minibatch m of the
 * fixed shuffle, points evaluated through the objective. */
typedef struct pref_probe {
    const opts *o;
    zoq_ctx *z;
    zoq_pref_objective_t *obj;
    const int64_t *order;
    int64_t n_train, *items;
    int kto;
} pref_probe;

static int pref_probe_batch(void *user, int m)
{
    pref_probe *p = user;
    const int64_t n = fill_batch(p->order, p->n_train, m, p->o->batch, p->kto, p->items);
    return zoq_pref_objective_set_batch(p->obj, p->items, n) == ZOQ_OK ? 0 : -1;
}

static int pref_probe_eval(void *user, int32_t point, double *loss)
{
    pref_probe *p = user;
    return zoq_pref_objective_eval_point(p->obj, p->z, point, loss) == ZOQ_OK ? 0 : -1;
}

static int probe_signal(const opts *o, zoq_ctx *z, zoq_pref_objective_t *obj,
                        const int64_t *order, int64_t n_train, int kto, int64_t d,
                        int64_t *items, gradient_signal *sig)
{
    pref_probe p = {o, z, obj, order, n_train, items, kto};
    const probe_loss loss = {pref_probe_batch, pref_probe_eval, &p, 0};
    return probe_run(z, o->probe_dirs, o->probe_batches, o->queries, d, &loss, sig) == 0
               ? 0
               : fail("probe");
}

static int train_one(const opts *o, lm_engine *e, int kind, int loss, int64_t n_train,
                     dev_set *d, const zoq_pref_eval_t *before, const double *base_c,
                     const double *base_r, config_result *res)
{
    zoq_ctx *z = NULL;
    lm_target t;
    zoq_pref_objective_t *obj = NULL;
    const int kto = loss == ZOQ_LOSS_KTO;
    const int64_t n_items = kto ? 2 * n_train : n_train;
    int32_t *labels = NULL;
    int64_t *items = malloc(sizeof *items * (size_t)(2 * o->batch));
    double *ch = malloc(sizeof *ch * (size_t)(2 * d->n));
    res->curve = calloc((size_t)o->steps, sizeof *res->curve);
    int rc = items == NULL || ch == NULL || res->curve == NULL ? 1 : 0;
    double *rj = rc == 0 ? ch + d->n : NULL;
    snprintf(res->target, sizeof res->target, "%s", kind == TARGET_CVEC ? "cvec" : "lora");
    snprintf(res->loss, sizeof res->loss, "%s", zoq_pref_loss_name(loss));
    if (rc == 0 && zoq_create(&z) != ZOQ_OK)
        rc = 1;
    const double lr = kind == TARGET_CVEC ? o->lr_cvec : o->lr_lora;
    const double eps = kind == TARGET_CVEC ? o->eps_cvec : o->eps_lora;
    if (rc == 0) {
        zoq_set_int(z, ZOQ_OPT_SEED, (int64_t)o->seed);
        zoq_set_int(z, ZOQ_OPT_QUERIES, o->queries);
        zoq_set_int(z, ZOQ_OPT_THREADS, 1);
        zoq_set_double(z, ZOQ_OPT_LR, lr);
        zoq_set_double(z, ZOQ_OPT_EPS, eps);
        zoq_set_int(z, ZOQ_OPT_SIGN, o->sign != 0);
        zoq_set_int(z, ZOQ_OPT_OPTIMIZER,
                    strcmp(o->optimizer, "adam") == 0 ? ZOQ_OPTIM_ADAM : ZOQ_OPTIM_SGD);
        rc = kind == TARGET_CVEC
                 ? target_cvec_init(&t, e, z, o->model, o->cvec_first, o->cvec_last)
                 : target_lora_init(&t, e, z, o->model, o->modules, o->lora_first,
                                    o->lora_last, o->rank, (float)o->alpha);
    } else {
        memset(&t, 0, sizeof t);
    }
    res->numel = t.numel;
    zoq_pref_params_t p;
    zoq_pref_params_default(loss, &p);
    if (rc == 0 && kto) {
        labels = malloc(sizeof *labels * (size_t)n_items);
        for (int64_t i = 0; labels != NULL && i < n_items; i++)
            labels[i] = i % 2 == 0; /* the chosen completion is desirable */
        rc = labels == NULL;
    }
    run r = {e, &t, 0, 0};
    zoq_pref_objective_desc_t desc = {.size = sizeof desc, .params = &p, .n_items = n_items,
                                      .scorer = scorer, .scorer_user = &r, .labels = labels};
    if (rc == 0 && zoq_pref_objective_create(&desc, &obj) != ZOQ_OK)
        rc = 1;
    printf("\n== %s / %s: %lld trained values, lr %g, eps %g%s, %d queries, batch %d pairs, "
           "%d steps\n",
           res->target, res->loss, (long long)t.numel, lr, eps, o->sign ? ", ZO-SGD-Sign" : "",
           o->queries, o->batch, o->steps);
    /* Minibatches walk a fixed shuffle of the training pairs. */
    int64_t *order = malloc(sizeof *order * (size_t)n_train);
    for (int64_t i = 0; order != NULL && i < n_train; i++)
        order[i] = i;
    uint64_t s = o->seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = n_train - 1; order != NULL && i > 0; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const int64_t j = (int64_t)((s >> 33) % (uint64_t)(i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    rc |= order == NULL;
    if (rc == 0 && o->probe_dirs > 0)
        rc = probe_signal(o, z, obj, order, n_train, kto, t.numel, items, &res->sig);
    double sum_g2 = 0.0, sum_var = 0.0;
    int64_t n_g = 0, n_var = 0;
    const double t0 = lm_seconds();
    for (int step = 0; rc == 0 && step < o->steps; step++) {
        const int64_t m = fill_batch(order, n_train, step, o->batch, kto, items);
        if (zoq_pref_objective_set_batch(obj, items, m) != ZOQ_OK) {
            rc = fail("set_batch");
            break;
        }
        if (o->quick && step == 0 && check_restore(e, &t, z, obj, d) != 0) {
            rc = 1;
            break;
        }
        const zoq_point_t *pts;
        int32_t np;
        double losses[2 * 64 + 1];
        if (zoq_ask(z, &pts, &np) != ZOQ_OK || np > (int32_t)(sizeof losses / sizeof *losses)) {
            rc = fail(zoq_last_error(z));
            break;
        }
        for (int32_t i = 0; rc == 0 && i < np; i++)
            if (zoq_pref_objective_eval_point(obj, z, i, &losses[i]) != ZOQ_OK)
                rc = fail("evaluating a point");
        zoq_report_t rep = {.size = sizeof rep};
        if (rc != 0 || zoq_tell(z, losses, np, &rep) != ZOQ_OK ||
            zoq_pref_objective_step_done(obj) != ZOQ_OK) {
            zoq_cancel(z);
            rc = rc ? rc : fail(zoq_last_error(z));
            break;
        }
        res->curve[step] = rep.loss;
        double mg = 0.0;
        for (int32_t q = 0; q < rep.n_queries; q++) {
            sum_g2 += rep.proj_grads[q] * rep.proj_grads[q];
            mg += rep.proj_grads[q] / rep.n_queries;
            n_g++;
        }
        if (rep.n_queries > 1) {
            for (int32_t q = 0; q < rep.n_queries; q++)
                sum_var += (rep.proj_grads[q] - mg) * (rep.proj_grads[q] - mg) /
                           (rep.n_queries - 1);
            n_var++;
        }
        if (o->quick || step % 10 == 0 || step == o->steps - 1)
            printf("step %4d  loss %.5f  |g| %.3e  %.2f s\n", step, rep.loss, rep.grad_norm,
                   lm_seconds() - t0);
    }
    res->steps = o->steps;
    res->seconds = lm_seconds() - t0;
    res->sec_per_step = res->seconds / o->steps;
    res->mean_g2 = n_g ? sum_g2 / (double)n_g : 0.0;
    res->var_g_within = n_var ? sum_var / (double)n_var : 0.0;
    if (rc == 0 && r.policy_decodes != r.policy_calls)
        rc = fail("an evaluation took more than one llama_decode");
    if (rc == 0 && (target_use_theta(&t) != 0 || dev_score(e, d, ch, rj) != 0))
        rc = fail("dev scoring after training");
    if (rc == 0) {
        res->after.size = sizeof res->after;
        zoq_pref_evaluate(ch, rj, d->n, &res->after);
        zoq_stats_ztest_2prop(before->correct, before->n, res->after.correct, res->after.n,
                              &res->z, &res->p_value);
        res->improved = res->worsened = res->margin_grew = 0;
        for (int64_t i = 0; i < d->n; i++) {
            const int was = base_c[i] > base_r[i], is = ch[i] > rj[i];
            res->improved += !was && is;
            res->worsened += was && !is;
            res->margin_grew += ch[i] - rj[i] > base_c[i] - base_r[i];
        }
        res->p_mcnemar = mcnemar_p(res->improved, res->worsened);
        printf("dev: accuracy %.4f -> %.4f (z %.2f, p %.3g; McNemar +%lld/-%lld p %.3g), "
               "margin %.4f -> %.4f, %lld/%lld margins grew; %.1f s/step\n",
               before->accuracy, res->after.accuracy, res->z, res->p_value,
               (long long)res->improved, (long long)res->worsened, res->p_mcnemar,
               before->mean_margin, res->after.mean_margin, (long long)res->margin_grew,
               (long long)d->n, res->sec_per_step);
        char dir[512];
        const int n_dir = snprintf(dir, sizeof dir, "%s/%s-%s", o->out, res->target, res->loss);
        const int64_t n_check = d->n < 4 ? 2 * d->n : 8;
        if (n_dir < 0 || (size_t)n_dir >= sizeof dir)
            rc = fail("--out is too long");
        else if (target_save(&t, dir) != 0)
            rc = fail("writing the adapter");
        else if (target_check_saved(&t, dir, d->seqs, n_check) != 0)
            rc = fail("adapter files do not load back with the same values");
        else
            printf("check: %s written and read back bit for bit\n", dir);
    }
    zoq_pref_objective_free(obj);
    target_free(&t);
    zoq_destroy(z);
    free(order);
    free(labels);
    free(items);
    free(ch);
    return rc;
}

/* ---- report -------------------------------------------------------------- */

static void write_svg(const opts *o, const config_result *r, int n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/loss.svg", o->out);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    const double W = 720, H = 420, L = 60, R = 170, T = 30, B = 50;
    static const char *const col[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
    /* Each curve: running mean (window 10) of the step loss, over its first value. */
    double lo = 1e300, hi = -1e300;
    int steps = 1;
    double *sm = calloc((size_t)(n * (r[0].steps + 1)), sizeof *sm);
    for (int c = 0; sm != NULL && c < n; c++) {
        steps = r[c].steps > steps ? r[c].steps : steps;
        for (int s = 0; s < r[c].steps; s++) {
            double acc = 0.0;
            int k = 0;
            for (int j = s; j >= 0 && j > s - 10; j--, k++)
                acc += r[c].curve[j];
            sm[c * (r[0].steps + 1) + s] = acc / k / fabs(r[c].curve[0]);
            lo = fmin(lo, sm[c * (r[0].steps + 1) + s]);
            hi = fmax(hi, sm[c * (r[0].steps + 1) + s]);
        }
    }
    if (!(hi > lo))
        hi = lo + 1e-3;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' "
               "font-family='sans-serif' font-size='12'>\n<rect width='100%%' height='100%%' "
               "fill='white'/>\n", W, H);
    fprintf(f, "<text x='%g' y='18'>Training loss / first step's loss (running mean of 10 "
               "steps), SmolLM2-135M Q4_1</text>\n", L);
    fprintf(f, "<rect x='%g' y='%g' width='%g' height='%g' fill='none' stroke='black'/>\n", L,
            T, W - L - R, H - T - B);
    for (int k = 0; k <= 4; k++) {
        const double v = lo + (hi - lo) * k / 4, y = H - B - (H - T - B) * k / 4;
        fprintf(f, "<text x='4' y='%g'>%.4f</text>\n", y + 4, v);
        fprintf(f, "<text x='%g' y='%g'>%d</text>\n", L + (W - L - R) * k / 4 - 6, H - B + 16,
                (steps - 1) * k / 4);
    }
    fprintf(f, "<text x='%g' y='%g'>ZO step</text>\n", L + (W - L - R) / 2 - 20, H - 12);
    for (int c = 0; sm != NULL && c < n; c++) {
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", col[c % 8]);
        for (int s = 0; s < r[c].steps; s++)
            fprintf(f, "%.1f,%.1f ",
                    L + (W - L - R) * s / (steps > 1 ? steps - 1 : 1),
                    H - B - (H - T - B) * (sm[c * (r[0].steps + 1) + s] - lo) / (hi - lo));
        fprintf(f, "'/>\n<text x='%g' y='%g' fill='%s'>%s / %s</text>\n", W - R + 10,
                T + 16 * (c + 1), col[c % 8], r[c].target, r[c].loss);
    }
    fprintf(f, "</svg>\n");
    free(sm);
    fclose(f);
}

/* Mean of the last k (at most n) values of x[0..n). */
static double mean_last(const double *x, int n, int k)
{
    double s = 0.0;
    int m = 0;
    for (int i = n - 1; i >= 0 && m < k; i--, m++)
        s += x[i];
    return m ? s / m : 0.0;
}

static void write_reports(const opts *o, const lm_engine *e, const zoq_pref_eval_t *before,
                          double mde, const config_result *r, int n, double total_s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/results.json", o->out);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    const double tps = e->n_tokens_decoded / e->decode_seconds;
    fprintf(f, "{\n  \"model\": \"%s\", \"quick\": %d, \"threads\": %d,\n", o->model, o->quick,
            o->threads);
    fprintf(f, "  \"split\": \"last %lld pairs dev, first %d of the rest train\",\n",
            (long long)before->n, o->n_train);
    fprintf(f, "  \"prompt_tokens\": %d, \"completion_tokens\": %d, \"batch_pairs\": %d, "
               "\"queries\": %d, \"steps\": %d, \"optimizer\": \"%s\", \"sign\": %d,\n",
            o->prompt_tokens, o->completion_tokens, o->batch, o->queries, o->steps,
            o->optimizer, o->sign);
    fprintf(f, "  \"dev_before\": {\"n\": %lld, \"correct\": %lld, \"accuracy\": %.6f, "
               "\"mean_margin\": %.6f},\n  \"mde_two_sample_80pct\": %.6f,\n",
            (long long)before->n, (long long)before->correct, before->accuracy,
            before->mean_margin, mde);
    fprintf(f, "  \"tokens_per_second\": %.1f, \"decodes\": %lld, \"tokens_decoded\": %lld, "
               "\"total_seconds\": %.1f,\n  \"configs\": [\n",
            tps, (long long)e->n_decodes, (long long)e->n_tokens_decoded, total_s);
    for (int c = 0; c < n; c++) {
        fprintf(f, "    {\"target\": \"%s\", \"loss\": \"%s\", \"trained_values\": %lld, "
                   "\"dev_correct\": %lld, \"dev_accuracy\": %.6f, \"dev_mean_margin\": %.6f, "
                   "\"z\": %.4f, \"p_value\": %.6g, \"mcnemar_fixed\": %lld, "
                   "\"mcnemar_broken\": %lld, \"mcnemar_p\": %.6g, \"margins_grew\": %lld, "
                   "\"seconds\": %.1f, \"seconds_per_step\": %.3f, \"mean_g2\": %.6g, "
                   "\"var_g_within_step\": %.6g, \"loss_first\": %.6f, \"loss_last10\": %.6f, "
                   "\"probe\": ",
                r[c].target, r[c].loss, (long long)r[c].numel, (long long)r[c].after.correct,
                r[c].after.accuracy, r[c].after.mean_margin, r[c].z, r[c].p_value,
                (long long)r[c].improved, (long long)r[c].worsened, r[c].p_mcnemar,
                (long long)r[c].margin_grew, r[c].seconds, r[c].sec_per_step, r[c].mean_g2,
                r[c].var_g_within, r[c].curve[0],
                mean_last(r[c].curve, r[c].steps, 10));
        probe_json(f, &r[c].sig);
        fprintf(f, "}%s\n", c + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/results.md", o->out);
    f = fopen(path, "w");
    if (f == NULL)
        return;
    fprintf(f, "Dev: %lld pairs, base accuracy %.4f (%lld correct), mean margin %.4f; "
               "MDE (two-sample z-test, alpha 0.05, power 0.8) %.1f points. "
               "%.0f tokens/s over %lld decodes.\n\n",
            (long long)before->n, before->accuracy, (long long)before->correct,
            before->mean_margin, 100 * mde, tps, (long long)e->n_decodes);
    fprintf(f, "| target | loss | values | dev acc. after | z-test p | McNemar +/− (p) | "
               "margin after | margins grew | s/step | E[g²] |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < n; c++)
        fprintf(f, "| %s | %s | %lld | %.4f | %.3g | +%lld/−%lld (%.3g) | %.4f | %lld | %.2f | %.3g |\n",
                r[c].target, r[c].loss, (long long)r[c].numel, r[c].after.accuracy,
                r[c].p_value, (long long)r[c].improved, (long long)r[c].worsened,
                r[c].p_mcnemar, r[c].after.mean_margin, (long long)r[c].margin_grew,
                r[c].sec_per_step, r[c].mean_g2);
    if (o->probe_dirs > 0) {
        fprintf(f, "\nGradient signal before training (--probe %d:%d): E[g²] is what one "
                   "step measures, ‖G‖² the squared gradient of the loss over all pairs, T* "
                   "the ZO-SGD steps at which the summed update's signal equals its noise.\n\n"
                   "| target | loss | values | E[g²] | minibatch var. | ‖G‖² ± SE | T* |\n"
                   "|---|---|---|---|---|---|---|\n",
                o->probe_dirs, o->probe_batches);
        for (int c = 0; c < n; c++) {
            const gradient_signal *g = &r[c].sig;
            fprintf(f, "| %s | %s | %lld | %.3g | %.3g | %.3g ± %.2g | %s%.3g |\n", r[c].target,
                    r[c].loss, (long long)r[c].numel, g->eg2, g->var_b, g->g2, g->g2_se,
                    g->g2 > 2.0 * g->g2_se ? "" : "≥ ", g->steps_snr1);
        }
    }
    fclose(f);
}

/* ---- command line -------------------------------------------------------- */

static void usage(void)
{
    fputs("usage: zoq_llama [--quick] [--model GGUF] [--data pairs.jsonl.gz] [--out DIR]\n"
          "  [--runs TARGET:LOSS,...] [--steps N] [--batch PAIRS]\n"
          "  [--queries Q] [--sign 0|1] [--optimizer sgd|adam] [--lr-cvec X] [--lr-lora X] [--eps-cvec X]\n"
          "  [--eps-lora X] [--prompt-tokens N] [--completion-tokens N] [--train N] [--dev N]\n"
          "  [--cvec-layers A:B] [--lora-layers A:B] [--lora-modules m1,m2] [--rank R]\n"
          "  [--alpha A] [--threads N] [--seed S] [--probe DIRECTIONS:MINIBATCHES]\n"
          "       zoq_llama sst2 ...   the SST-2 experiment (zoq_llama sst2 --help)\n"
          "       zoq_llama eval ...   an adapter's accuracy on a labelled TSV\n"
          "       zoq_llama speed ...  seconds per SST-2 evaluation, per way of running it\n"
          "       zoq_llama invariance ...  label-word scores against their batch, per kernel\n",
          stderr);
}

static int parse(opts *o, int argc, char **argv)
{
    const flag flags[] = {
        FLAG_ONE("--quick", FLAG_ON, &o->quick),
        FLAG_ONE("--model", FLAG_STR, &o->model),
        FLAG_ONE("--data", FLAG_STR, &o->data),
        FLAG_ONE("--out", FLAG_STR, &o->out),
        FLAG_ONE("--runs", FLAG_STR, &o->runs),
        FLAG_ONE("--optimizer", FLAG_STR, &o->optimizer),
        FLAG_ONE("--lora-modules", FLAG_STR, &o->modules),
        FLAG_ONE("--steps", FLAG_INT, &o->steps),
        FLAG_ONE("--sign", FLAG_INT, &o->sign),
        FLAG_ONE("--batch", FLAG_INT, &o->batch),
        FLAG_ONE("--queries", FLAG_INT, &o->queries),
        FLAG_ONE("--threads", FLAG_INT, &o->threads),
        FLAG_ONE("--prompt-tokens", FLAG_INT, &o->prompt_tokens),
        FLAG_ONE("--completion-tokens", FLAG_INT, &o->completion_tokens),
        FLAG_ONE("--train", FLAG_INT, &o->n_train),
        FLAG_ONE("--dev", FLAG_INT, &o->n_dev),
        FLAG_ONE("--rank", FLAG_INT, &o->rank),
        FLAG_ONE("--lr-cvec", FLAG_F64, &o->lr_cvec),
        FLAG_ONE("--lr-lora", FLAG_F64, &o->lr_lora),
        FLAG_ONE("--eps-cvec", FLAG_F64, &o->eps_cvec),
        FLAG_ONE("--eps-lora", FLAG_F64, &o->eps_lora),
        FLAG_ONE("--alpha", FLAG_F64, &o->alpha),
        FLAG_ONE("--seed", FLAG_U64, &o->seed),
        FLAG_TWO("--cvec-layers", &o->cvec_first, &o->cvec_last),
        FLAG_TWO("--probe", &o->probe_dirs, &o->probe_batches),
        FLAG_TWO("--lora-layers", &o->lora_first, &o->lora_last),
    };
    if (flags_parse(argc - 1, argv + 1, flags, FLAGS_N(flags), NULL, NULL) != 0)
        return -1;
    return o->steps > 0 && o->batch > 0 && o->batch <= 128 && o->queries > 0 &&
                   o->queries <= 64 && o->threads > 0 && o->prompt_tokens >= 2 &&
                   o->completion_tokens >= 1 && o->n_train > 0 && o->n_dev > 0 &&
                   o->probe_dirs >= 0 && o->probe_dirs <= 64 &&
                   (o->probe_dirs == 0 || o->probe_batches >= 2)
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "sst2") == 0)
        return sst2_main(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "eval") == 0)
        return eval_main(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "speed") == 0)
        return speed_main(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "invariance") == 0)
        return invariance_main(argc - 2, argv + 2);
    /* Defaults: the full experiment of docs/integrations/llama.md. */
    opts o = {.model = "build/llm/model.gguf",
              .data = "../shared/data/hh-rlhf-harmless/pairs.jsonl.gz",
              .out = "build/llm/demo",
              .runs = "cvec:dpo,cvec:simpo,cvec:orpo,cvec:kto,lora:dpo",
              .modules = "attn_output,ffn_down", .optimizer = "sgd", .sign = 1,
              .threads = 2, .steps = 40, .batch = 4, .queries = 1, .prompt_tokens = 24,
              .completion_tokens = 12, .n_train = 1500, .n_dev = 300, .cvec_first = 1,
              .cvec_last = 29, .lora_first = 0, .lora_last = 29, .rank = 8, .alpha = 16,
              .probe_dirs = 4, .probe_batches = 8,
              .lr_cvec = 2e-2, .lr_lora = 1e-3, .eps_cvec = 1e-2, .eps_lora = 1e-2,
              .seed = 1};
    int quick = 0;
    for (int i = 1; i < argc; i++)
        quick |= strcmp(argv[i], "--quick") == 0;
    if (quick) { /* the smoke configuration make check runs */
        o.out = "build/llm/quick";
        o.steps = 2;
        o.batch = 2;
        o.prompt_tokens = 16;
        o.completion_tokens = 6;
        o.n_train = 4;
        o.n_dev = 3;
        o.runs = "cvec:dpo,lora:kto"; /* both targets, pairs and unpaired items */
        o.probe_dirs = 2; /* the probe path: its asks are cancelled, θ and the step stay */
        o.probe_batches = 2;
        o.cvec_first = 10;
        o.cvec_last = 12;
        o.lora_first = 10;
        o.lora_last = 11;
    }
    if (parse(&o, argc, argv) != 0) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows as it happens */
    const double t_start = lm_seconds();
    pair_set set;
    pair_view train, dev;
    size_t line = 0;
    if (pairs_read(o.data, &set, &line) != PAIRS_OK) {
        fprintf(stderr, "zoq_llama: cannot read %s (line %zu)\n", o.data, line);
        return 1;
    }
    if (pairs_split(&set, 300, &train, &dev) != 0 || (size_t)o.n_train > train.n ||
        (size_t)o.n_dev > dev.n) {
        pairs_free(&set);
        return fail("--train must be <= n - 300 and --dev <= 300");
    }
    mkdir(o.out, 0755);
    /* One decode holds a whole training evaluation: batch pairs of both sides. */
    lm_engine e;
    const int32_t max_tokens = o.batch * (o.prompt_tokens + 2 * o.completion_tokens);
    int rc = lm_open(&e, o.model, o.threads, max_tokens, 2 * o.batch);
    const size_t n_all = (size_t)(o.n_train + o.n_dev);
    const char **txt = malloc(sizeof *txt * 3 * n_all);
    for (size_t i = 0; rc == 0 && txt != NULL && i < n_all; i++) {
        const pair_text *pt = i < (size_t)o.n_train ? &train.pairs[i]
                                                     : &dev.pairs[i - (size_t)o.n_train];
        txt[i] = pt->prompt;
        txt[n_all + i] = pt->chosen;
        txt[2 * n_all + i] = pt->rejected;
    }
    if (rc == 0 && (txt == NULL || lm_add_pairs(&e, txt, txt + n_all, txt + 2 * n_all, n_all,
                                                o.prompt_tokens, o.completion_tokens) != 0))
        rc = fail("tokenizing the pairs");
    free(txt);
    char desc[128] = "";
    if (rc == 0) {
        llama_model_desc(e.model, desc, sizeof desc);
        printf("model: %s, %llu parameters, %d layers, n_embd %d; %d threads; "
               "one decode holds %d tokens of %d sequences\n",
               desc, (unsigned long long)llama_model_n_params(e.model), e.n_layer, e.n_embd,
               o.threads, max_tokens, 2 * o.batch);
        char feats[512];
        lm_cpu_features(feats, sizeof feats);
        printf("ggml CPU features: %s\n", feats[0] ? feats : "(none reported)");
        printf("data: %d train pairs (first of %zu), %d dev pairs (first of the last 300); "
               "prompt <= %d tokens, completion <= %d\n",
               o.n_train, train.n, o.n_dev, o.prompt_tokens, o.completion_tokens);
    }
    /* Dev: sequence ids of the dev pairs, after the train pairs. */
    dev_set d = {.n = o.n_dev};
    d.seqs = malloc(sizeof *d.seqs * (size_t)(2 * o.n_dev));
    d.lp = malloc(sizeof *d.lp * (size_t)(4 * o.n_dev));
    double *base = malloc(sizeof *base * (size_t)(2 * o.n_dev));
    if (d.seqs == NULL || d.lp == NULL || base == NULL)
        rc = 1;
    for (int64_t i = 0; rc == 0 && i < d.n; i++) {
        d.seqs[2 * i] = 2 * (o.n_train + i);
        d.seqs[2 * i + 1] = 2 * (o.n_train + i) + 1;
    }
    d.tok = d.lp + 2 * o.n_dev;
    zoq_pref_eval_t before = {.size = sizeof before};
    double mde = 0.0;
    if (rc == 0)
        rc = check_reference(&e, &d);
    if (rc == 0 && cls_check(o.model, o.threads, sst2_prompt(SST2_PROMPT)) != 0)
        rc = fail("label-word scorer");
    /* the truncated model on cached states scores as the full one (hidden.h) */
    if (rc == 0 && o.quick && hidden_check(&e, o.model, o.cvec_first, (size_t)o.n_train, 3) != 0)
        rc = fail("top of the model on cached hidden states");
    if (rc == 0 && dev_score(&e, &d, base, base + d.n) != 0)
        rc = fail("dev scoring of the base model");
    if (rc == 0) {
        zoq_pref_evaluate(base, base + d.n, d.n, &before);
        zoq_stats_mde(d.n, before.accuracy > 0 && before.accuracy < 1 ? before.accuracy : 0.5,
                      0.05, 0.8, ZOQ_MDE_TWO_SAMPLE, &mde);
        printf("dev (base model): accuracy %.4f (%lld/%lld), mean margin %.4f; "
               "MDE at 80%% power %.1f points\n",
               before.accuracy, (long long)before.correct, (long long)before.n,
               before.mean_margin, 100 * mde);
    }
    config_result res[16];
    int n_res = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", o.runs);
    for (char *save = NULL, *item = strtok_r(list, ",", &save); rc == 0 && item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        int loss = -1;
        const int kind = colon == NULL                      ? -1
                         : strncmp(item, "lora:", 5) == 0 ? TARGET_LORA
                         : strncmp(item, "cvec:", 5) == 0 ? TARGET_CVEC : -1;
        if (kind < 0 || zoq_pref_loss_find(colon + 1, &loss) != ZOQ_OK || n_res == 16) {
            rc = fail("--runs takes up to 16 of cvec:LOSS and lora:LOSS");
            break;
        }
        memset(&res[n_res], 0, sizeof res[n_res]);
        rc = train_one(&o, &e, kind, loss, o.n_train, &d, &before, base, base + d.n,
                       &res[n_res]);
        n_res++;
    }
    if (rc == 0 && n_res > 0) {
        const double total = lm_seconds() - t_start;
        write_reports(&o, &e, &before, mde, res, n_res, total);
        write_svg(&o, res, n_res);
        printf("\n%.0f tokens/s over %lld decodes (%lld tokens); total %.1f s; "
               "results in %s/results.{json,md}, loss curve %s/loss.svg\n",
               e.n_tokens_decoded / e.decode_seconds, (long long)e.n_decodes,
               (long long)e.n_tokens_decoded, total, o.out, o.out);
    }
    for (int c = 0; c < n_res; c++)
        free(res[c].curve);
    free(base);
    free(d.seqs);
    free(d.lp);
    lm_close(&e);
    llama_backend_free();
    pairs_free(&set);
    if (o.quick && rc == 0)
        rc = qzo_check(o.model, o.out, o.threads);
    if (o.quick && rc == 0)
        printf("zoq_llama --quick: all checks passed\n");
    return rc;
}
