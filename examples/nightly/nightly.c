/* nightly.c - Morgan's (2026) nightly LoRA pipeline (§V-VI) on zoq's own small
 * model, one night per run:
 *
 *   1. rotation: tonight's two module types and loss (zoq_rotation_night;
 *      seed table III with the ORPO/KTO/CPO cycle, supercycle 21 nights);
 *   2. yesterday's adapter: the PEFT folder DIR/night-<t-1> (or the latest
 *      night before it; none: A Kaiming-uniform, B zero, i.e. the base model);
 *   3. tonight's pairs: the day's rows of the digits, pair = (true label,
 *      the base model's strongest wrong label), RAFT-filtered and ordered
 *      easy first (curriculum) by yesterday's adapter;
 *   4. ZO training of tonight's modules only (zoq_rotation_apply) through the
 *      preference objective;
 *   5. EMA merge into yesterday's adapter (alpha 0.3), held-out evaluation
 *      before/after, regression guard: deploy the merged adapter or keep
 *      yesterday's;
 *   6. write DIR/night-<t> (the adapter to serve), DIR/candidate-<t> (the
 *      merged candidate), DIR/best (best held-out margin so far) and the
 *      report DIR/night-<t>.json.
 *
 * The model (model.h): a residual MLP on the UCI digits whose seven linear
 * maps carry the seven LoRA targets q_proj .. down_proj (rank 8, alpha 16,
 * as the paper). Rows by index i: i mod 10 in {0,1,2} train the base (saved
 * once as DIR/base.safetensors), {3..7} are the "day's usage" (night t gets
 * the j-th such row when j mod 7 = t mod 7), {8,9} the held-out evaluation.
 *
 * Usage: nightly --dir DIR --night T [--data digits.csv.gz] [--steps S] [--lr LR]
 *                [--min-margin-gain G]   (the guard's threshold on the margin gain [0])
 * Guide: docs/pipeline.md. tests/nightly.sh runs seven nights and checks
 * the rotation and the guard independently. */
/* The rotation policy is experimental API (zoq/lora.h): opt in. */
#define ZOQ_EXPERIMENTAL
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "model.h"

#define RANK ZOQ_LORA_RANK_DEFAULT
#define ALPHA ZOQ_LORA_ALPHA_DEFAULT
#define DEFAULT_DATA "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
#define BATCH 16
#define MAX_FAILED 10
#define PATH_CAP 4096

static const char *const weekday[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* The adapter: one LoRA pair per layer, module path blocks.0.<attn|mlp>.<type>. */
typedef struct adapter {
    float a[N_LAYERS][RANK * N_WIDE];
    float b[N_LAYERS][N_HID * RANK];
    char path[N_LAYERS][64];
    zoq_lora_t lora[N_LAYERS];
} adapter;

static void adapter_setup(adapter *ad, const zoq_rotation_t *rot)
{
    for (int l = 0; l < N_LAYERS; l++) {
        snprintf(ad->path[l], sizeof ad->path[l], "blocks.0.%s.%s",
                 rot->ffn_mask >> l & 1 ? "mlp" : "attn", rot->modules[l]);
        zoq_lora_t *q = &ad->lora[l];
        memset(q, 0, sizeof *q);
        q->size = sizeof *q;
        q->module = ad->path[l];
        q->type = rot->modules[l];
        q->in_features = layer_in(l);
        q->out_features = layer_out(l);
        q->rank = RANK;
        q->alpha = ALPHA;
        q->a = ad->a[l];
        q->b = ad->b[l];
    }
}

static void adapter_copy(adapter *dst, const adapter *src)
{
    memcpy(dst->a, src->a, sizeof dst->a);
    memcpy(dst->b, src->b, sizeof dst->b);
}

static size_t a_count(int l)
{
    return (size_t)RANK * (size_t)layer_in(l);
}

static size_t b_count(int l)
{
    return (size_t)layer_out(l) * RANK;
}

static int adapter_save(const adapter *ad, const char *dir)
{
    zoq_peft_module_t mods[N_LAYERS];
    for (int l = 0; l < N_LAYERS; l++) {
        const zoq_lora_t *q = &ad->lora[l];
        mods[l] = (zoq_peft_module_t){.size = sizeof mods[l], .module = q->module,
                                      .rank = RANK, .dtype = ZOQ_F32,
                                      .in_features = q->in_features,
                                      .out_features = q->out_features, .alpha = ALPHA,
                                      .a = ad->a[l], .b = ad->b[l]};
    }
    const zoq_peft_config_t cfg = {.size = sizeof cfg,
                                   .base_model = "zoq examples/nightly digits MLP"};
    char err[256];
    const int rc = zoq_peft_save(dir, &cfg, mods, N_LAYERS, err, sizeof err);
    if (rc != ZOQ_OK)
        fprintf(stderr, "nightly: writing %s: %s\n", dir, err);
    return rc;
}

static int adapter_load(adapter *ad, const char *dir)
{
    zoq_peft *p;
    char err[256];
    int rc = zoq_peft_open(dir, &p, err, sizeof err);
    if (rc != ZOQ_OK) {
        fprintf(stderr, "nightly: reading %s: %s\n", dir, err);
        return rc;
    }
    for (int l = 0; l < N_LAYERS && rc == ZOQ_OK; l++) {
        int64_t i;
        zoq_peft_module_t info = {.size = sizeof info};
        rc = zoq_peft_find(p, ad->path[l], &i);
        if (rc == ZOQ_OK)
            rc = zoq_peft_module_info(p, i, &info);
        if (rc == ZOQ_OK && (info.rank != RANK || info.in_features != layer_in(l) ||
                             info.out_features != layer_out(l) || info.alpha != ALPHA))
            rc = ZOQ_E_MISMATCH;
        if (rc == ZOQ_OK)
            rc = zoq_peft_read(p, i, ZOQ_F32, ad->a[l], a_count(l) * sizeof(float), ad->b[l],
                               b_count(l) * sizeof(float));
        if (rc != ZOQ_OK)
            fprintf(stderr, "nightly: %s: module %s: %s\n", dir, ad->path[l], zoq_strerror(rc));
    }
    zoq_peft_free(p);
    return rc;
}

/* ---- the base model, trained once and kept as DIR/base.safetensors ---------- */

static int base_load(model *m, const char *path)
{
    zoq_st *st;
    if (zoq_st_open(path, &st, NULL, 0) != ZOQ_OK)
        return -1;
    int rc = 0;
    for (int l = 0; l < N_LAYERS && !rc; l++) {
        char name[32];
        int64_t i;
        const size_t nw = (size_t)layer_in(l) * (size_t)layer_out(l);
        snprintf(name, sizeof name, "layers.%d.weight", l);
        rc = zoq_st_find(st, name, &i) || zoq_st_read(st, i, ZOQ_ST_F32, m->w[l], nw * 4);
        snprintf(name, sizeof name, "layers.%d.bias", l);
        rc = rc || zoq_st_find(st, name, &i) ||
             zoq_st_read(st, i, ZOQ_ST_F32, m->b[l], (size_t)layer_out(l) * 4);
    }
    zoq_st_free(st);
    return rc ? -1 : 0;
}

static int base_save(const model *m, const char *path)
{
    zoq_st_writer *w;
    if (zoq_st_writer_create(&w) != ZOQ_OK)
        return -1;
    int rc = 0;
    char names[2 * N_LAYERS][32];
    for (int l = 0; l < N_LAYERS && !rc; l++) {
        const int64_t ws[2] = {layer_out(l), layer_in(l)}, bs[1] = {layer_out(l)};
        snprintf(names[2 * l], sizeof names[0], "layers.%d.weight", l);
        snprintf(names[2 * l + 1], sizeof names[0], "layers.%d.bias", l);
        rc = zoq_st_writer_add(w, names[2 * l], 2, ws, m->w[l], ZOQ_ST_F32, ZOQ_ST_F32) ||
             zoq_st_writer_add(w, names[2 * l + 1], 1, bs, m->b[l], ZOQ_ST_F32, ZOQ_ST_F32);
    }
    rc = rc || zoq_st_writer_write(w, path);
    if (rc)
        fprintf(stderr, "nightly: writing %s: %s\n", path, zoq_st_writer_last_error(w));
    zoq_st_writer_free(w);
    return rc ? -1 : 0;
}

/* ---- data: splits and pairs ------------------------------------------------- */

typedef struct data {
    digits d;
    int base[N_ROWS_MAX], n_base;
    int day[N_ROWS_MAX], n_day;         /* tonight's rows */
    int held[N_ROWS_MAX], n_held;
    int rejected[N_ROWS_MAX];           /* per row: the base model's strongest wrong label */
} data;

static void split(data *D, int64_t night)
{
    D->n_base = D->n_day = D->n_held = 0;
    for (int i = 0, j = 0; i < D->d.n; i++) {
        const int c = i % 10;
        if (c < 3)
            D->base[D->n_base++] = i;
        else if (c < 8 && j++ % 7 == night % 7)
            D->day[D->n_day++] = i;
        else if (c >= 8)
            D->held[D->n_held++] = i;
    }
}

static int find_rejected(data *D, const model *m)
{
    int all[N_ROWS_MAX];
    float *logits = malloc((size_t)D->d.n * N_OUT * sizeof *logits);
    for (int i = 0; i < D->d.n; i++)
        all[i] = i;
    if (!logits || model_logits(m, NULL, &D->d, all, D->d.n, logits))
        return free(logits), -1;
    for (int i = 0; i < D->d.n; i++) {
        int best = -1;
        for (int j = 0; j < N_OUT; j++)
            if (j != D->d.y[i] && (best < 0 || logits[i * N_OUT + j] > logits[i * N_OUT + best]))
                best = j;
        D->rejected[i] = best;
    }
    free(logits);
    return 0;
}

/* log p(chosen), log p(rejected) of rows[0..n) under the adapter (NULL: base). */
static int pair_logps(const model *m, const zoq_lora_t *lora, const data *D, const int *rows,
                      int n, double *lc, double *lr)
{
    float *logits = malloc((size_t)n * N_OUT * sizeof *logits);
    if (!logits || model_logits(m, lora, &D->d, rows, n, logits))
        return free(logits), -1;
    for (int k = 0; k < n; k++) {
        lc[k] = log_prob(logits + k * N_OUT, D->d.y[rows[k]]);
        lr[k] = log_prob(logits + k * N_OUT, D->rejected[rows[k]]);
    }
    free(logits);
    return 0;
}

/* Held-out accuracy and margin of log p(chosen) - log p(rejected): 0, or 1
 * when the adapter makes a score non-finite, or -1 out of memory. */
static int evaluate(const model *m, const zoq_lora_t *lora, const data *D, zoq_pref_eval_t *ev)
{
    double lc[N_ROWS_MAX], lr[N_ROWS_MAX];
    ev->size = sizeof *ev;
    if (pair_logps(m, lora, D, D->held, D->n_held, lc, lr))
        return -1;
    return zoq_pref_evaluate(lc, lr, D->n_held, ev) == ZOQ_OK ? 0 : 1;
}

/* ---- the scorer the preference objective calls ------------------------------ */

typedef struct scorer_user {
    const model *m;
    const adapter *ad;      /* the registered buffers zoq perturbs in place */
    const data *D;
} scorer_user;

/* Sequence 2i is pair i's chosen label, 2i+1 its rejected one (KTO: item =
 * sequence, the same ids). One forward over the rows of the n sequences. */
static int score(void *user, const zoq_eval_t *ev, const int64_t *seqs, int64_t n,
                 double *logps, double *tokens)
{
    const scorer_user *u = user;
    int rows[2 * N_ROWS_MAX];
    if (n > 2 * N_ROWS_MAX)
        return ZOQ_E_INVALID;
    float *logits = malloc((size_t)n * N_OUT * sizeof *logits);
    if (!logits)
        return ZOQ_E_NOMEM;
    for (int64_t k = 0; k < n; k++)
        rows[k] = u->D->day[seqs[k] / 2];
    if (model_logits(u->m, ev ? u->ad->lora : NULL, &u->D->d, rows, (int)n, logits))
        return free(logits), ZOQ_E_NOMEM;
    for (int64_t k = 0; k < n; k++) {
        const int r = rows[k];
        logps[k] = log_prob(logits + k * N_OUT, seqs[k] % 2 ? u->D->rejected[r] : u->D->d.y[r]);
        tokens[k] = 1.0;
    }
    free(logits);
    return 0;
}

/* ---- the night ---------------------------------------------------------------- */

typedef struct options {
    const char *dir, *data;
    int64_t night;
    int steps;
    double lr;
    double min_margin_gain; /* the guard's margin threshold */
} options;

typedef struct night_result {
    uint64_t modules;
    int32_t loss;
    int64_t from_night;     /* the night whose adapter was loaded, -1: initialized */
    int n_pairs, n_kept, steps_done, steps_failed, deployed, candidate_ok, best_improved;
    double loss_first, loss_last; /* mean loss of the first and the last pass */
    int n_first, n_last;
    double p_value, delta_norm[N_LAYERS], seconds;
    zoq_pref_eval_t before, after;
    zoq_lora_best_t best;
} night_result;

/* Trains the enabled modules of ad (registered in ctx) on tonight's pairs. */
static int train(zoq_ctx *ctx, const model *m, adapter *ad, const data *D, int32_t loss,
                 int steps, night_result *res)
{
    /* RAFT on yesterday's confidence: score(chosen) = p(y), score(rejected) =
     * 1 - p(w); both > 0.8 is solved already, both < 0.2 confidently wrong */
    double lc[N_ROWS_MAX], lr[N_ROWS_MAX], sc[N_ROWS_MAX], sr[N_ROWS_MAX];
    if (pair_logps(m, ad->lora, D, D->day, D->n_day, lc, lr))
        return ZOQ_E_NOMEM;
    for (int k = 0; k < D->n_day; k++) {
        sc[k] = exp(lc[k]);
        sr[k] = 1.0 - exp(lr[k]);
    }
    int64_t keep[N_ROWS_MAX], n_keep = 0;
    int rc = zoq_pref_raft_filter(sc, sr, D->n_day, ZOQ_RAFT_HIGH_DEFAULT, ZOQ_RAFT_LOW_DEFAULT,
                                  keep, &n_keep);
    /* curriculum: easy first by the log-prob margin */
    if (rc == ZOQ_OK)
        rc = zoq_pref_curriculum_sort(lc, lr, D->n_day, keep, n_keep);
    res->n_pairs = D->n_day;
    res->n_kept = (int)n_keep;
    if (rc != ZOQ_OK || n_keep == 0)
        return rc;

    zoq_pref_params_t p;
    zoq_pref_params_default(loss, &p);
    const int kto = loss == ZOQ_LOSS_KTO;
    int32_t labels[2 * N_ROWS_MAX];
    for (int s = 0; s < 2 * D->n_day; s++)
        labels[s] = s % 2 == 0; /* KTO: chosen desirable, rejected not */
    scorer_user user = {.m = m, .ad = ad, .D = D};
    zoq_pref_objective_desc_t desc = {.size = sizeof desc, .params = &p,
                                      .n_items = kto ? 2 * D->n_day : D->n_day,
                                      .scorer = score, .scorer_user = &user,
                                      .labels = kto ? labels : NULL};
    zoq_pref_objective_t *obj;
    if ((rc = zoq_pref_objective_create(&desc, &obj)) != ZOQ_OK)
        return rc;
    zoq_set_objective(ctx, zoq_pref_objective_eval, obj);
    const int bs = n_keep < BATCH ? (int)n_keep : BATCH;
    const int epoch = (int)((n_keep + bs - 1) / bs) < steps ? (int)((n_keep + bs - 1) / bs) : steps;
    int failed_run = 0;
    for (int t = 0; t < steps && rc == ZOQ_OK; t++) {
        int64_t items[2 * BATCH];
        int m_items = 0;
        for (int k = 0; k < bs; k++) {
            const int64_t pair = keep[((int64_t)t * bs + k) % n_keep];
            if (kto) {
                items[m_items++] = ZOQ_PREF_CHOSEN_SEQ(pair);
                items[m_items++] = ZOQ_PREF_REJECTED_SEQ(pair);
            } else {
                items[m_items++] = pair;
            }
        }
        zoq_report_t rep = {.size = sizeof rep};
        rc = zoq_pref_objective_set_batch(obj, items, m_items);
        if (rc == ZOQ_OK) {
            rc = zoq_step(ctx, &rep);
            /* a point the model cannot score (overflow: lr too large) abandons
             * the step with the parameters restored: move past it, and give
             * up after MAX_FAILED in a row; the guard judges what is left */
            if (rc == ZOQ_E_CALLBACK || rc == ZOQ_E_NONFINITE) {
                res->steps_failed++;
                rc = ++failed_run == MAX_FAILED ? ZOQ_OK : zoq_skip_step(ctx);
                if (failed_run == MAX_FAILED)
                    break;
                continue;
            }
            failed_run = 0;
        }
        if (rc == ZOQ_OK)
            rc = zoq_pref_objective_step_done(obj);
        if (rc == ZOQ_OK) {
            if (t < epoch)
                res->loss_first += rep.loss, res->n_first++;
            if (t >= steps - epoch)
                res->loss_last += rep.loss, res->n_last++;
            res->steps_done++;
        }
    }
    res->loss_first = res->n_first ? res->loss_first / res->n_first : NAN;
    res->loss_last = res->n_last ? res->loss_last / res->n_last : NAN;
    if (rc != ZOQ_OK)
        fprintf(stderr, "nightly: step %d: %s\n", res->steps_done, zoq_last_error(ctx));
    zoq_set_objective(ctx, NULL, NULL);
    zoq_pref_objective_free(obj);
    return rc;
}

static int exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0;
}

/* Best score so far from DIR/best.txt ("score night"), if any. */
static void best_read(const char *dir, zoq_lora_best_t *best)
{
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/best.txt", dir);
    FILE *f = fopen(path, "r");
    long long tag;
    if (f && fscanf(f, "%lf %lld", &best->score, &tag) == 2) {
        best->valid = 1;
        best->tag = tag;
    }
    if (f)
        fclose(f);
}

static int write_text(const char *path, const char *text)
{
    char tmp[PATH_CAP + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "nightly: writing %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The report is appended to a fixed buffer; snprintf truncates, never overruns. */
typedef struct report_text {
    char buf[8192];
    size_t n;
} report_text;

static void put(report_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (t->n < sizeof t->buf) {
        const int k = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
        t->n += k > 0 ? (size_t)k : 0;
    }
    va_end(ap);
}

/* "key": value, with null for a number JSON cannot hold */
static void put_num(report_text *t, const char *key, double v)
{
    if (isfinite(v))
        put(t, "  \"%s\": %.17g,\n", key, v);
    else
        put(t, "  \"%s\": null,\n", key);
}

static void put_eval(report_text *t, const char *key, const zoq_pref_eval_t *e)
{
    if (e)
        put(t, "  \"%s\": {\"n\": %lld, \"correct\": %lld, \"accuracy\": %.17g, "
               "\"margin\": %.17g},\n", key, (long long)e->n, (long long)e->correct,
            e->accuracy, e->mean_margin);
    else
        put(t, "  \"%s\": null,\n", key);
}

static int write_report(const options *o, const zoq_rotation_t *rot, const night_result *r)
{
    static report_text t;
    t.n = 0;
    put(&t, "{\n  \"night\": %lld,\n  \"weekday\": \"%s\",\n  \"from_night\": %lld,\n"
            "  \"modules\": [", (long long)o->night, weekday[o->night % 7],
        (long long)r->from_night);
    for (int m = 0, first = 1; m < rot->n_modules; m++)
        if (r->modules >> m & 1) {
            put(&t, "%s\"%s\"", first ? "" : ", ", rot->modules[m]);
            first = 0;
        }
    put(&t, "],\n  \"loss\": \"%s\",\n  \"pairs\": %d,\n  \"pairs_after_raft\": %d,\n"
            "  \"steps\": %d,\n  \"steps_failed\": %d,\n", zoq_pref_loss_name(r->loss),
        r->n_pairs, r->n_kept, r->steps_done, r->steps_failed);
    put_num(&t, "train_loss_first_pass", r->loss_first);
    put_num(&t, "train_loss_last_pass", r->loss_last);
    put_eval(&t, "before", &r->before);
    put_eval(&t, "candidate", r->candidate_ok ? &r->after : NULL);
    put_eval(&t, "served", r->deployed ? &r->after : &r->before);
    put_num(&t, "p_value", r->candidate_ok ? r->p_value : NAN);
    put(&t, "  \"deployed\": %s,\n", r->deployed ? "true" : "false");
    put_num(&t, "ema_alpha", ZOQ_LORA_EMA_ALPHA_DEFAULT);
    put_num(&t, "min_margin_gain", o->min_margin_gain);
    if (r->best.valid)
        put(&t, "  \"best\": {\"margin\": %.17g, \"night\": %lld, \"improved\": %s},\n",
            r->best.score, (long long)r->best.tag, r->best_improved ? "true" : "false");
    else
        put(&t, "  \"best\": null,\n");
    put(&t, "  \"delta_w_norm\": {");
    for (int l = 0; l < N_LAYERS; l++)
        put(&t, "%s\"%s\": %.9g", l ? ", " : "", rot->modules[l], r->delta_norm[l]);
    put(&t, "},\n  \"seconds\": %.3f\n}\n", r->seconds);
    if (t.n >= sizeof t.buf)
        return fprintf(stderr, "nightly: report too long\n"), -1;
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/night-%lld.json", o->dir, (long long)o->night);
    return write_text(path, t.buf);
}

static int run_night(const options *o, data *D, night_result *res)
{
    char path[PATH_CAP];
    zoq_rotation_t rot;
    zoq_rotation_default(&rot);
    zoq_rotation_night(&rot, o->night, &res->modules, &res->loss);

    /* the base model: trained when DIR has none yet, then read back */
    static model m;
    split(D, o->night);
    snprintf(path, sizeof path, "%s/base.safetensors", o->dir);
    if (base_load(&m, path) != 0) {
        model_train(&m, &D->d, D->base, D->n_base, 2, 0.02);
        if (base_save(&m, path) != 0)
            return 1;
    }
    if (find_rejected(D, &m))
        return 1;

    /* yesterday's adapter, or the initialization (B = 0: the base model) */
    static adapter served, trained;
    adapter_setup(&served, &rot);
    adapter_setup(&trained, &rot);
    zoq_ctx *ctx;
    if (zoq_create(&ctx) != ZOQ_OK)
        return fprintf(stderr, "nightly: out of memory\n"), 1;
    int rc = zoq_set_int(ctx, ZOQ_OPT_SEED, 1000 + o->night);
    int32_t ids[N_LAYERS][2];
    for (int l = 0; l < N_LAYERS && rc == ZOQ_OK; l++)
        rc = zoq_lora_add(ctx, &trained.lora[l], &ids[l][0], &ids[l][1]);
    /* the latest served adapter (a failed night leaves none: go further back) */
    for (res->from_night = o->night - 1; res->from_night >= 0; res->from_night--) {
        snprintf(path, sizeof path, "%s/night-%lld", o->dir, (long long)res->from_night);
        if (exists(path))
            break;
    }
    if (rc == ZOQ_OK && res->from_night < 0) {
        for (int l = 0; l < N_LAYERS && rc == ZOQ_OK; l++)
            rc = zoq_lora_init(ctx, ids[l][0], ids[l][1], 0.0);
    } else if (rc == ZOQ_OK) {
        rc = adapter_load(&trained, path);
    }
    adapter_copy(&served, &trained);

    /* tonight's modules only, ZO through the preference objective */
    if (rc == ZOQ_OK)
        rc = zoq_rotation_apply(ctx, &rot, o->night, NULL);
    zoq_set_double(ctx, ZOQ_OPT_LR, o->lr);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-2);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 4);
    zoq_set_int(ctx, ZOQ_OPT_TOTAL_STEPS, o->steps);
    zoq_set_int(ctx, ZOQ_OPT_EPS_SCHEDULE, ZOQ_SCHED_COSINE); /* Morgan 2026: 1e-2 -> 1e-4 */
    zoq_set_double(ctx, ZOQ_OPT_EPS_FINAL, 1e-4);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, 1); /* tensors of a few hundred floats */
    if (rc == ZOQ_OK && evaluate(&m, served.lora, D, &res->before))
        rc = ZOQ_E_INVALID; /* yesterday's adapter cannot be scored */
    if (rc == ZOQ_OK)
        rc = train(ctx, &m, &trained, D, res->loss, o->steps, res);
    if (rc != ZOQ_OK)
        fprintf(stderr, "nightly: night %lld failed: %s (%s)\n", (long long)o->night,
                zoq_strerror(rc), zoq_last_error(ctx));
    zoq_destroy(ctx);
    if (rc != ZOQ_OK)
        return 1;

    /* EMA merge of tonight's modules into yesterday's adapter (seed eq. 1) */
    static adapter cand;
    adapter_setup(&cand, &rot);
    adapter_copy(&cand, &served);
    for (int l = 0; l < N_LAYERS; l++)
        if (res->modules >> l & 1) {
            zoq_lora_ema(cand.a[l], trained.a[l], (int64_t)a_count(l), ZOQ_LORA_EMA_ALPHA_DEFAULT);
            zoq_lora_ema(cand.b[l], trained.b[l], (int64_t)b_count(l), ZOQ_LORA_EMA_ALPHA_DEFAULT);
        }
    const int ev = evaluate(&m, cand.lora, D, &res->after);
    if (ev < 0)
        return 1;
    res->candidate_ok = ev == 0;

    /* regression guard: serve the candidate only if it is not worse (a
     * candidate that cannot even be scored is not served) */
    zoq_pref_guard_t guard;
    zoq_pref_guard_default(&guard);
    guard.min_margin_gain = o->min_margin_gain;
    if (res->candidate_ok && zoq_pref_guard_decide(&guard, &res->before, &res->after,
                                                   &res->deployed, &res->p_value) != ZOQ_OK)
        return 1;
    const adapter *serve = res->deployed ? &cand : &served;
    snprintf(path, sizeof path, "%s/candidate-%lld", o->dir, (long long)o->night);
    if (adapter_save(&cand, path) != ZOQ_OK)
        return 1;
    snprintf(path, sizeof path, "%s/night-%lld", o->dir, (long long)o->night);
    if (adapter_save(serve, path) != ZOQ_OK)
        return 1;

    /* best adapter by held-out margin, kept apart from the served one */
    res->best.size = sizeof res->best;
    best_read(o->dir, &res->best);
    if (res->candidate_ok)
        zoq_lora_best_offer(&res->best, res->after.mean_margin, o->night, &res->best_improved);
    if (res->best_improved) {
        char text[64];
        snprintf(path, sizeof path, "%s/best", o->dir);
        if (adapter_save(&cand, path) != ZOQ_OK)
            return 1;
        snprintf(text, sizeof text, "%.17g %lld\n", res->best.score, (long long)o->night);
        snprintf(path, sizeof path, "%s/best.txt", o->dir);
        if (write_text(path, text))
            return 1;
    }

    /* what serving merges into each base weight: |ΔW|_F = |(alpha/r) B A|_F */
    static float dw[N_HID * N_WIDE];
    for (int l = 0; l < N_LAYERS; l++) {
        const size_t n = (size_t)layer_in(l) * (size_t)layer_out(l);
        memset(dw, 0, n * sizeof *dw);
        if (zoq_lora_merge(&serve->lora[l], 1.0, dw) != ZOQ_OK)
            return 1;
        double s = 0.0;
        for (size_t k = 0; k < n; k++)
            s += (double)dw[k] * dw[k];
        res->delta_norm[l] = sqrt(s);
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: nightly --dir DIR --night T [--data digits.csv.gz] [--steps S] [--lr LR]\n"
                    "               [--min-margin-gain G]\n");
    return 2;
}

int main(int argc, char **argv)
{
    options o = {.data = DEFAULT_DATA, .night = -1, .steps = 300, .lr = 1e-2};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir"))
            o.dir = argv[i + 1];
        else if (!strcmp(argv[i], "--night"))
            o.night = strtoll(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--data"))
            o.data = argv[i + 1];
        else if (!strcmp(argv[i], "--steps"))
            o.steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lr"))
            o.lr = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--min-margin-gain"))
            o.min_margin_gain = strtod(argv[i + 1], NULL);
        else
            return usage();
    }
    if (argc % 2 == 0 || !o.dir || o.night < 0 || o.steps < 1 || !(o.lr >= 0) || !isfinite(o.min_margin_gain) || strlen(o.dir) > 1024)
        return usage();
    static data D;
    if (digits_load(o.data, &D.d) != 0) {
        fprintf(stderr, "nightly: cannot read the digits from %s (--data)\n", o.data);
        return 1;
    }
    if (mkdir(o.dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "nightly: mkdir %s: %s\n", o.dir, strerror(errno));
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    static night_result res;
    if (run_night(&o, &D, &res) != 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res.seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    zoq_rotation_t rot;
    zoq_rotation_default(&rot);
    if (write_report(&o, &rot, &res) != 0)
        return 1;
    printf("night %lld (%s): ", (long long)o.night, weekday[o.night % 7]);
    for (int m = 0; m < rot.n_modules; m++)
        if (res.modules >> m & 1)
            printf("%s ", rot.modules[m]);
    printf("%s, %d/%d pairs after RAFT, loss %.4f -> %.4f; held-out acc %.4f, margin %.4f",
           zoq_pref_loss_name(res.loss), res.n_kept, res.n_pairs, res.loss_first, res.loss_last,
           res.before.accuracy, res.before.mean_margin);
    if (res.candidate_ok)
        printf(" -> acc %.4f, margin %.4f", res.after.accuracy, res.after.mean_margin);
    else
        printf(" -> a candidate that cannot be scored");
    printf(": %s\n", res.deployed ? "deployed" : "kept yesterday's adapter");
    return 0;
}
