/* cls_train.c - cls_train.h. */
#define _POSIX_C_SOURCE 200809L
#include "cls_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zoq.h>

#include "classify.h"
#include "flags.h"
#include "hidden.h"
#include "label_bias.h"
#include "stats.h"
#include "target.h"

void cls_train_defaults(cls_train_opts *o)
{
    *o = (cls_train_opts){.steps = 100, .batch = 16, .queries = 1, .sign = 1, .first = 1,
                          .last = 29, .rank = 8, .probe_dirs = 4, .probe_batches = 4,
                          .lr = 2e-2, .eps = 1e-2, .alpha = 16, .seed = 1,
                          .modules = "attn_output,ffn_down", .loss = -1,
                          .matrices = "attn_output,ffn_down"};
}

int cls_train_parse(cls_train_opts *o, const char *a, const char *v)
{
    const flag flags[] = {
        FLAG_ONE("--steps", FLAG_INT, &o->steps),
        FLAG_ONE("--train-batch", FLAG_INT, &o->batch),
        FLAG_ONE("--queries", FLAG_INT, &o->queries),
        FLAG_ONE("--sign", FLAG_INT, &o->sign),
        FLAG_ONE("--rank", FLAG_INT, &o->rank),
        FLAG_ONE("--lr", FLAG_F64, &o->lr),
        FLAG_ONE("--eps", FLAG_F64, &o->eps),
        FLAG_ONE("--alpha", FLAG_F64, &o->alpha),
        FLAG_ONE("--seed", FLAG_U64, &o->seed),
        FLAG_ONE("--lora-modules", FLAG_STR, &o->modules),
        FLAG_ONE("--cache-below", FLAG_INT, &o->cache_below),
        FLAG_ONE("--matrices", FLAG_STR, &o->matrices),
        FLAG_TWO("--layers", &o->first, &o->last),
        FLAG_TWO("--probe", &o->probe_dirs, &o->probe_batches),
    };
    const int r = flag_set(flags, FLAGS_N(flags), a, v);
    if (r != 0)
        return r > 0 ? 0 : -1;
    if (strcmp(a, "--loss") == 0)
        return cls_train_loss(v, &o->loss);
    if (strcmp(a, "--label-bias") != 0)
        return -1;
    o->label_bias = strcmp(v, "fit") == 0 ? 2
                    : strcmp(v, "1") == 0 ? 1
                    : strcmp(v, "0") == 0 ? 0
                                          : -1;
    return 0;
}

int cls_train_loss(const char *name, int *loss)
{
    *loss = -1;
    return strcmp(name, "ce") == 0 || zoq_pref_loss_find(name, loss) == ZOQ_OK ? 0 : -1;
}

int cls_train_valid(const cls_train_opts *o)
{
    return o->steps >= 0 && o->batch > 0 && o->batch <= 128 && o->queries > 0 &&
           o->queries <= 64 && o->probe_dirs >= 0 && o->probe_dirs <= 64 &&
           (o->probe_dirs == 0 || o->probe_batches >= 2) && o->lr > 0 && o->eps > 0 &&
           o->cache_below >= 0 && o->label_bias >= 0 && (o->label_bias == 0 || o->loss < 0);
}

/* One training run's state: the minibatch the points are scored on; with a
 * preference loss, the objective and its items (training example i is pair
 * i, or KTO items 2i: the right word, 2i + 1: the other). */
typedef struct cls_run {
    lm_engine *e;
    lm_target *t;
    const cls_data *d;
    const size_t *order; /* shuffle of 0 .. n_train-1 */
    size_t ex[128];
    int32_t y[128];
    size_t n;
    double *lp;
    zoq_ctx *z;
    zoq_pref_objective_t *obj; /* NULL: cross-entropy */
    const float *bias;         /* the trained label bias (θ), or NULL */
    int32_t bias_id;
    int kto;
    int64_t items[256], seqs[256];
} cls_run;

static int run_batch(void *user, int m)
{
    cls_run *r = user;
    for (size_t k = 0; k < r->n; k++) {
        const size_t i = r->order[((size_t)m * r->n + k) % r->d->n_train];
        r->ex[k] = r->d->train0 + i;
        r->y[k] = r->d->y_train[i];
        r->items[r->kto ? 2 * k : k] = r->kto ? 2 * (int64_t)i : (int64_t)i;
        if (r->kto)
            r->items[2 * k + 1] = 2 * (int64_t)i + 1;
    }
    if (r->obj == NULL)
        return 0;
    const int64_t m_items = r->kto ? 2 * (int64_t)r->n : (int64_t)r->n;
    return zoq_pref_objective_set_batch(r->obj, r->items, m_items) == ZOQ_OK ? 0 : -1;
}

/* A policy evaluation is one decode of the minibatch, or a defect. */
static int one_decode(const lm_engine *e, int64_t d0)
{
    if (e->n_decodes - d0 == 1)
        return 0;
    fprintf(stderr, "cls_train: a minibatch took %lld decodes\n", (long long)(e->n_decodes - d0));
    return -1;
}

/* The preference objective's scorer: its sequence 2i + s (s = 0 the right
 * word of training example i) is the engine's sequence of word y or 1 - y. */
static int pref_scorer(void *user, const zoq_eval_t *ev, const int64_t *seqs, int64_t n,
                       double *logps, double *tokens)
{
    cls_run *r = user;
    if (n > 256 || (ev == NULL ? target_use_base(r->t) : target_use_point(r->t, ev->point)) != 0)
        return ZOQ_E_CALLBACK;
    for (int64_t k = 0; k < n; k++) {
        const size_t i = (size_t)(seqs[k] / 2);
        const int32_t word = seqs[k] % 2 == 0 ? r->d->y_train[i] : 1 - r->d->y_train[i];
        r->seqs[k] = 2 * (int64_t)(r->d->train0 + i) + word;
    }
    const int64_t d0 = r->e->n_decodes;
    if (lm_score(r->e, r->seqs, n, logps, tokens) != 0 || (ev != NULL && one_decode(r->e, d0) != 0))
        return ZOQ_E_CALLBACK;
    return 0;
}

/* Point `point` of the pending step: put into the engine (ask/tell), or
 * already there (QZO, in place); the label bias likewise. */
static int run_eval(void *user, int32_t point, double *loss)
{
    cls_run *r = user;
    if (r->obj != NULL)
        return zoq_pref_objective_eval_point(r->obj, r->z, point, loss) == ZOQ_OK ? 0 : -1;
    const int in_place = r->t->kind == TARGET_QZO;
    float b = r->bias != NULL ? *r->bias : 0.0f;
    if (r->bias != NULL && !in_place && zoq_materialize(r->z, point, r->bias_id, &b) != ZOQ_OK)
        return -1;
    int64_t c;
    const int64_t d0 = r->e->n_decodes;
    if ((!in_place && target_use_point(r->t, point) != 0) ||
        cls_score(r->e, r->ex, r->n, r->lp) != 0 || one_decode(r->e, d0) != 0)
        return -1;
    cls_eval(r->lp, r->y, r->n, b, loss, &c, NULL);
    return isfinite(*loss) ? 0 : -1;
}

/* zoq_step's objective (QZO, in place). */
static int run_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    return run_eval(user, ev->point, loss);
}

/* One step on the current minibatch; its mean loss into *mean. */
static int run_step(zoq_ctx *z, cls_run *r, double *losses, double *mean)
{
    zoq_report_t rep = {.size = sizeof rep};
    if (r->t->kind == TARGET_QZO) {
        if (zoq_set_objective(z, run_objective, r) != ZOQ_OK || zoq_step(z, &rep) != ZOQ_OK)
            return -1;
        *mean = rep.loss;
        return 0;
    }
    const zoq_point_t *pts;
    int32_t np;
    *mean = 0.0;
    if (zoq_ask(z, &pts, &np) != ZOQ_OK)
        return -1;
    for (int32_t i = 0; i < np; i++) {
        if (run_eval(r, i, &losses[i]) != 0) {
            zoq_cancel(z);
            return -1;
        }
        *mean += losses[i] / np;
    }
    return zoq_tell(z, losses, np, &rep) == ZOQ_OK &&
                   (r->obj == NULL || zoq_pref_objective_step_done(r->obj) == ZOQ_OK)
               ? 0
               : -1;
}

/* The preference objective over the n_train training examples. 0 or -1. */
static int pref_create(cls_run *r, int loss)
{
    zoq_pref_params_t p;
    const int64_t n_items = (int64_t)r->d->n_train * (r->kto ? 2 : 1);
    int32_t *labels = r->kto ? malloc(sizeof *labels * (size_t)n_items) : NULL;
    if (zoq_pref_params_default(loss, &p) != ZOQ_OK || (r->kto && labels == NULL)) {
        free(labels);
        return -1;
    }
    for (int64_t j = 0; labels != NULL && j < n_items; j++)
        labels[j] = j % 2 == 0; /* the right word is desirable */
    zoq_pref_objective_desc_t desc = {.size = sizeof desc, .params = &p, .n_items = n_items,
                                      .scorer = pref_scorer, .scorer_user = r, .labels = labels};
    const int st = zoq_pref_objective_create(&desc, &r->obj);
    free(labels);
    return st == ZOQ_OK ? 0 : -1;
}

static void configure(zoq_ctx *z, const cls_train_opts *o)
{
    zoq_set_int(z, ZOQ_OPT_SEED, (int64_t)o->seed);
    zoq_set_int(z, ZOQ_OPT_QUERIES, o->queries);
    zoq_set_int(z, ZOQ_OPT_THREADS, 1);
    zoq_set_double(z, ZOQ_OPT_LR, o->lr);
    zoq_set_double(z, ZOQ_OPT_EPS, o->eps);
    zoq_set_int(z, ZOQ_OPT_SIGN, o->sign != 0);
}

int cls_train_run(lm_engine *e, const cls_train_opts *o, const char *model_path,
                  const char *target, const cls_data *d, const char *dir, cls_run_result *r)
{
    memset(r, 0, sizeof *r);
    r->o = *o;
    snprintf(r->target, sizeof r->target, "%s", target);
    snprintf(r->loss, sizeof r->loss, "%s", o->loss < 0 ? "ce" : zoq_pref_loss_name(o->loss));
    const int kind = strcmp(target, "lora") == 0   ? TARGET_LORA
                     : strcmp(target, "cvec") == 0 ? TARGET_CVEC
                     : strcmp(target, "qzo") == 0  ? TARGET_QZO
                                                   : -1;
    zoq_ctx *z = NULL;
    lm_target t;
    memset(&t, 0, sizeof t);
    size_t *order = malloc(sizeof *order * d->n_train);
    double *lp = malloc(sizeof *lp * 2 * (d->n_dev > 128 ? d->n_dev : 128));
    uint8_t *right = malloc(d->n_dev);
    double *losses = malloc(sizeof *losses * 2 * (size_t)o->queries);
    int rc = kind < 0 || order == NULL || lp == NULL || right == NULL || losses == NULL ||
             zoq_create(&z) != ZOQ_OK ? -1 : 0;
    /* --cache-below: the frozen bottom once per example, the top every time */
    lm_hidden h;
    memset(&h, 0, sizeof h);
    lm_engine *eng = e;
    if (rc == 0 && o->cache_below > 0 && kind == TARGET_QZO) {
        fprintf(stderr, "cls_train: QZO trains the full model's scales: no --cache-below\n");
        rc = -1;
    }
    if (rc == 0 && o->cache_below > 0) {
        rc = hidden_open(&h, e, model_path, o->cache_below, llama_n_threads(e->ctx)) != 0 ||
                     hidden_capture(&h, e, d->train0, d->n_train) != 0 ||
                     hidden_capture(&h, e, d->dev0, d->n_dev) != 0
                 ? -1
                 : 0;
        eng = &h.top;
        r->capture_seconds = h.capture_seconds;
        printf("cached the states entering layer %d of %zu examples: %.1f s\n", o->cache_below,
               d->n_train + d->n_dev, h.capture_seconds);
    }
    if (rc == 0) {
        configure(z, o);
        rc = kind == TARGET_CVEC  ? target_cvec_init(&t, eng, z, model_path, o->first, o->last)
             : kind == TARGET_QZO ? target_qzo_init(&t, eng, z, model_path, o->matrices,
                                                    o->first, o->last)
                                  : target_lora_init(&t, eng, z, model_path, o->modules, o->first,
                                                     o->last, o->rank, (float)o->alpha);
    }
    /* QZO's failed and probing steps put the engine's scales back bit for bit */
    if (rc == 0 && kind == TARGET_QZO && zoq_set_int(z, ZOQ_OPT_EXACT_RESTORE, 1) != ZOQ_OK)
        rc = -1;
    /* the label bias is one more parameter of the same context: every point
     * perturbs it with the target, zoq steps it with the target */
    float bias = o->label_bias == 2 ? (float)d->calib_bias : 0.0f;
    int32_t bias_id = -1;
    r->bias_from = o->label_bias == 2 ? (double)bias : 0.0;
    if (rc == 0 && o->label_bias &&
        zoq_param_add(z, "label_bias", &bias, ZOQ_F32, 1, &bias_id) != ZOQ_OK)
        rc = -1;
    r->numel = t.numel + (o->label_bias ? 1 : 0);
    /* minibatches walk a fixed shuffle of the training examples */
    uint64_t s = o->seed * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; order != NULL && i < d->n_train; i++)
        order[i] = i;
    for (size_t i = d->n_train; order != NULL && i > 1; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const size_t j = (size_t)((s >> 33) % i), tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    cls_run run = {.e = eng, .t = &t, .d = d, .order = order,
                   .n = (size_t)o->batch < d->n_train ? (size_t)o->batch : d->n_train, .lp = lp,
                   .z = z, .kto = o->loss == ZOQ_LOSS_KTO,
                   .bias = o->label_bias ? &bias : NULL, .bias_id = bias_id};
    if (rc == 0 && o->loss >= 0)
        rc = pref_create(&run, o->loss);
    printf("\n== sst2 %s / %s: %lld trained values, lr %g, eps %g%s, %d queries, %zu examples a "
           "minibatch, %d steps\n",
           target, r->loss, (long long)t.numel, o->lr, o->eps, o->sign ? ", ZO-SGD-Sign" : "", o->queries,
           run.n, o->steps);
    if (rc == 0 && o->probe_dirs > 0) {
        const probe_loss pl = {run_batch, run_eval, &run, kind == TARGET_QZO};
        rc = probe_run(z, o->probe_dirs, o->probe_batches, o->queries, t.numel, &pl, &r->sig);
    }
    const double t0 = lm_seconds(), dec0 = eng->decode_seconds, cpu0 = lm_cpu_seconds();
    const int64_t tok0 = eng->n_tokens_decoded;
    double last = 0.0;
    for (int step = 0; rc == 0 && step < o->steps; step++) {
        double mean = 0.0;
        rc = run_batch(&run, step) != 0 || run_step(z, &run, losses, &mean) != 0 ? -1 : 0;
        if (step == 0)
            r->loss_first = mean;
        if (step >= o->steps - 10)
            last += mean / (o->steps < 10 ? o->steps : 10);
        if (rc == 0 && (step % 10 == 9 || step == o->steps - 1))
            printf("step %d: minibatch loss %.4f (%.1f s/step)\n", step + 1, mean,
                   (lm_seconds() - t0) / (step + 1));
    }
    r->steps = o->steps;
    r->loss_last = last;
    if (eng->decode_seconds > dec0)
        r->train_tokens_per_s = (double)(eng->n_tokens_decoded - tok0) / (eng->decode_seconds - dec0);
    r->seconds = lm_seconds() - t0;
    r->sec_per_step = o->steps ? r->seconds / o->steps : 0.0;
    r->cpu_per_step = o->steps ? (lm_cpu_seconds() - cpu0) / o->steps : 0.0;
    if (rc == 0 && (target_use_theta(&t) != 0 ||
                    cls_score_range(eng, d->dev0, d->n_dev, d->batch, lp) != 0))
        rc = -1;
    if (rc == 0) {
        r->bias = bias;
        cls_eval(lp, d->y_dev, d->n_dev, r->bias, &r->dev_loss, &r->correct, right);
        for (size_t i = 0; i < d->n_dev; i++) {
            r->fixed += right[i] && !d->zero_shot_right[i];
            r->broken += !right[i] && d->zero_shot_right[i];
        }
        r->mcnemar_p = mcnemar_p(r->fixed, r->broken);
        double lo, hi;
        wilson95(r->correct, (int64_t)d->n_dev, &lo, &hi);
        printf("dev after %s: %.4f [%.3f, %.3f] (%lld/%zu, loss %.4f); McNemar vs zero-shot "
               "+%lld/-%lld, p %.3g; %.0f s training (%.2f CPU s/step, %.0f tokens/s decoding)\n",
               target, (double)r->correct / (double)d->n_dev, lo, hi, (long long)r->correct,
               d->n_dev, r->dev_loss, (long long)r->fixed, (long long)r->broken, r->mcnemar_p,
               r->seconds, r->cpu_per_step, r->train_tokens_per_s);
        if (o->label_bias)
            printf("trained label bias %+.4f (from %+.4f)\n", r->bias, r->bias_from);
        rc = target_save(&t, dir) != 0 || (o->label_bias && label_bias_save(dir, r->bias) != 0)
                 ? -1
                 : 0;
    }
    zoq_pref_objective_free(run.obj);
    if (t.e != NULL)
        target_free(&t);
    if (h.top.ctx != NULL)
        hidden_close(&h);
    zoq_destroy(z);
    free(order);
    free(lp);
    free(right);
    free(losses);
    return rc;
}

void cls_run_json(FILE *f, const cls_run_result *r, int64_t n_dev)
{
    double lo, hi;
    char bias_txt[48] = "null";
    if (r->o.label_bias)
        snprintf(bias_txt, sizeof bias_txt, "[%.6f, %.6f]", r->bias_from, r->bias);
    wilson95(r->correct, n_dev, &lo, &hi);
    fprintf(f, "    {\"target\": \"%s\", \"loss\": \"%s\", \"trained_values\": %lld, \"steps\": %d, "
               "\"batch\": %d, \"queries\": %d, \"lr\": %g, \"eps\": %g, \"sign\": %d, "
               "\"layers\": [%d, %d], \"seed\": %llu, \"dev_correct\": %lld, "
               "\"dev_accuracy\": %.6f, \"ci95\": [%.6f, %.6f], \"dev_loss\": %.6f, "
               "\"mcnemar_fixed\": %lld, \"mcnemar_broken\": %lld, \"mcnemar_p\": %.6g, "
               "\"loss_first\": %.6f, \"loss_last10\": %.6f, \"seconds\": %.1f, "
               "\"seconds_per_step\": %.2f, \"cpu_seconds_per_step\": %.3f, "
               "\"train_tokens_per_second\": %.1f, "
               "\"cache_below\": %d, \"capture_seconds\": %.1f, \"label_bias\": %s, ",
            r->target, r->loss, (long long)r->numel, r->steps, r->o.batch, r->o.queries, r->o.lr,
            r->o.eps, r->o.sign, r->o.first, r->o.last, (unsigned long long)r->o.seed,
            (long long)r->correct, (double)r->correct / (double)n_dev, lo, hi, r->dev_loss,
            (long long)r->fixed, (long long)r->broken, r->mcnemar_p, r->loss_first,
            r->loss_last, r->seconds, r->sec_per_step, r->cpu_per_step, r->train_tokens_per_s, r->o.cache_below,
            r->capture_seconds, bias_txt);
    if (strcmp(r->target, "qzo") == 0)
        fprintf(f, "\"matrices\": \"%s\", ", r->o.matrices);
    fprintf(f, "\"probe\": ");
    probe_json(f, &r->sig);
    fputc('}', f);
}
