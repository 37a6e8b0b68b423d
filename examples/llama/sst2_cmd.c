/* sst2_cmd.c - zoq_llama sst2: the SST-2 protocol of docs/integrations/llama.md
 * on the GLUE training split. Draws the dev split and the k-per-class
 * training sample (sst2_split), then for each prompt candidate: zero-shot
 * dev accuracy, and the calibration baseline (one bias on the label words'
 * log-odds fitted on the training sample, applied on dev). With --runs, ZO
 * training with the prompt of the best zero-shot dev accuracy follows
 * (cls_train.c): each run is TARGET or TARGET:LOSS (cvec:dpo), the loss
 * "ce" (--loss, default) or a preference loss on the label words as pairs. Writes OUT/sst2.json and the split as OUT/dev.tsv,
 * OUT/train.tsv (what zoq_llama eval reads). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "classify.h"
#include "cls_train.h"
#include "commands.h"
#include "flags.h"
#include "sst2.h"
#include "stats.h"

typedef struct sst2_opts {
    const char *model, *data, *out, *prompts, *runs;
    int threads, batch, n_dev, k, min_words;
    uint64_t dev_seed, train_seed;
    cls_train_opts tr;
} sst2_opts;

static void usage(void)
{
    fputs("usage: zoq_llama sst2 [--data train.tsv.gz] [--model GGUF] [--out DIR]\n"
          "  [--dev N] [--min-words W] [--dev-seed S] [--k K] [--train-seed S]\n"
          "  [--prompts lmbff,demo,chat] [--threads N] [--batch N]\n"
          "  [--runs TARGET[:LOSS],...] [--loss ce|dpo|simpo|orpo|kto|...] [--steps N]\n"
          "  [--lr X] [--eps X] [--sign 0|1] [--seed S] [--layers A:B] [--lora-modules m1,m2]\n"
          "  [--rank R] [--matrices m1,m2] [--probe K:M] [--cache-below L] [--label-bias 0|1|fit]\n"
          "  Zero-shot and calibrated dev accuracy of each prompt; with --runs, ZO training\n"
          "  of the best zero-shot prompt's classification loss (TARGET cvec, lora or qzo; LOSS\n"
          "  ce or a preference loss, label words as pairs), saved under OUT/TARGET[-LOSS]/.\n",
          stderr);
}

/* cls_train_parse for flags_parse's other flags. */
static int train_flag(void *tr, const char *a, const char *v)
{
    return cls_train_parse(tr, a, v);
}

static int parse(sst2_opts *o, int argc, char **argv)
{
    const flag flags[] = {
        FLAG_ONE("--model", FLAG_STR, &o->model),
        FLAG_ONE("--data", FLAG_STR, &o->data),
        FLAG_ONE("--out", FLAG_STR, &o->out),
        FLAG_ONE("--prompts", FLAG_STR, &o->prompts),
        FLAG_ONE("--runs", FLAG_STR, &o->runs),
        FLAG_ONE("--threads", FLAG_INT, &o->threads),
        FLAG_ONE("--batch", FLAG_INT, &o->batch),
        FLAG_ONE("--dev", FLAG_INT, &o->n_dev),
        FLAG_ONE("--k", FLAG_INT, &o->k),
        FLAG_ONE("--min-words", FLAG_INT, &o->min_words),
        FLAG_ONE("--dev-seed", FLAG_U64, &o->dev_seed),
        FLAG_ONE("--train-seed", FLAG_U64, &o->train_seed),
    };
    if (flags_parse(argc, argv, flags, FLAGS_N(flags), train_flag, &o->tr) != 0)
        return -1;
    return o->threads > 0 && o->batch > 0 && o->batch <= 128 && o->n_dev > 0 && o->k > 0 &&
                   cls_train_valid(&o->tr)
               ? 0
               : -1;
}

/* Zero-shot and calibrated accuracy of one prompt; its dev and train
 * examples start at pair ids dev0, train0 of e. */
typedef struct prompt_result {
    const cls_prompt *p;
    size_t dev0, train0;
    int64_t correct, correct_cal;
    double loss, loss_cal, bias, train_loss, seconds;
    uint8_t *right; /* per dev example, zero-shot */
} prompt_result;

static int score_prompt(const sst2_opts *o, lm_engine *e, const sst2_set *s, const size_t *dev,
                        const size_t *train, prompt_result *r)
{
    const size_t nd = (size_t)o->n_dev, nt = 2 * (size_t)o->k;
    const char **txt = malloc(sizeof *txt * (nd + nt));
    int32_t *y = malloc(sizeof *y * (nd + nt));
    double *lp = malloc(sizeof *lp * 2 * (nd + nt));
    r->right = malloc(nd);
    int rc = txt == NULL || y == NULL || lp == NULL || r->right == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < nd + nt; i++) {
        const size_t row = i < nd ? dev[i] : train[i - nd];
        txt[i] = s->text[row];
        y[i] = s->label[row];
    }
    const double t0 = lm_seconds();
    if (rc == 0 && cls_add(e, r->p, txt, nd + nt, 256, &r->dev0) != 0)
        rc = -1;
    r->train0 = r->dev0 + nd;
    if (rc == 0 && cls_score_range(e, r->dev0, nd + nt, (size_t)o->batch, lp) != 0)
        rc = -1;
    if (rc == 0) {
        int64_t c;
        cls_eval(lp + 2 * nd, y + nd, nt, 0.0, &r->train_loss, &c, NULL);
        r->bias = cls_fit_bias(lp + 2 * nd, y + nd, nt);
        cls_eval(lp, y, nd, 0.0, &r->loss, &r->correct, r->right);
        cls_eval(lp, y, nd, r->bias, &r->loss_cal, &r->correct_cal, NULL);
        r->seconds = lm_seconds() - t0;
        double lo, hi, lo2, hi2;
        wilson95(r->correct, (int64_t)nd, &lo, &hi);
        wilson95(r->correct_cal, (int64_t)nd, &lo2, &hi2);
        printf("prompt %-5s: zero-shot dev %.4f [%.3f, %.3f] (%lld/%zu, loss %.4f); "
               "calibrated (bias %+.3f on '%s') %.4f [%.3f, %.3f]; train loss %.4f; %.0f s\n",
               r->p->name, (double)r->correct / (double)nd, lo, hi, (long long)r->correct, nd,
               r->loss, r->bias, r->p->word[1], (double)r->correct_cal / (double)nd, lo2, hi2,
               r->train_loss, r->seconds);
    }
    free(txt);
    free(y);
    free(lp);
    return rc;
}

/* rows of s as a TSV with a header, the format zoq_llama eval reads */
static int write_tsv(const char *dir, const char *name, const sst2_set *s, const size_t *rows,
                     size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "sentence\tlabel\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\t%d\n", s->text[rows[i]], (int)s->label[rows[i]]);
    return fclose(f) == 0 ? 0 : -1;
}

static void write_json(const sst2_opts *o, const lm_engine *e, const prompt_result *r, int n,
                       const cls_run_result *runs, int n_runs, double total)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sst2.json", o->out);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    fprintf(f, "{\n  \"model\": \"%s\", \"data\": \"%s\", \"threads\": %d,\n", o->model, o->data,
            o->threads);
    fprintf(f, "  \"split\": {\"dev\": %d, \"min_words\": %d, \"dev_seed\": %llu, "
               "\"k_per_class\": %d, \"train_seed\": %llu},\n",
            o->n_dev, o->min_words, (unsigned long long)o->dev_seed, o->k,
            (unsigned long long)o->train_seed);
    fprintf(f, "  \"tokens_per_second\": %.1f, \"decodes\": %lld, \"total_seconds\": %.1f,\n",
            e->n_tokens_decoded / e->decode_seconds, (long long)e->n_decodes, total);
    fprintf(f, "  \"prompts\": [\n");
    for (int i = 0; i < n; i++) {
        double lo, hi, lo2, hi2;
        wilson95(r[i].correct, o->n_dev, &lo, &hi);
        wilson95(r[i].correct_cal, o->n_dev, &lo2, &hi2);
        fprintf(f, "    {\"name\": \"%s\", \"zero_shot\": {\"correct\": %lld, \"accuracy\": %.6f, "
                   "\"ci95\": [%.6f, %.6f], \"loss\": %.6f}, \"calibrated\": {\"bias\": %.6f, "
                   "\"correct\": %lld, \"accuracy\": %.6f, \"ci95\": [%.6f, %.6f], "
                   "\"loss\": %.6f}, \"train_loss\": %.6f, \"seconds\": %.1f}%s\n",
                r[i].p->name, (long long)r[i].correct, (double)r[i].correct / o->n_dev, lo, hi,
                r[i].loss, r[i].bias, (long long)r[i].correct_cal,
                (double)r[i].correct_cal / o->n_dev, lo2, hi2, r[i].loss_cal, r[i].train_loss,
                r[i].seconds, i + 1 < n ? "," : "");
    }
    fprintf(f, "  ],\n  \"runs\": [\n");
    for (int i = 0; i < n_runs; i++) {
        cls_run_json(f, &runs[i], o->n_dev);
        fprintf(f, "%s\n", i + 1 < n_runs ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
}

int sst2_main(int argc, char **argv)
{
    sst2_opts o = {.model = "build/llm/model.gguf", .data = "../shared/data/sst2/train.tsv.gz",
                   .out = "build/llm/sst2", .prompts = "lmbff,demo,chat", .runs = "",
                   .threads = 2, .batch = 16, .n_dev = 500, .k = 16, .min_words = 10,
                   .dev_seed = 1, .train_seed = 13};
    cls_train_defaults(&o.tr);
    if (parse(&o, argc, argv) != 0)
        return usage(), 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const double t_start = lm_seconds();
    sst2_set s;
    size_t line, *dev = NULL, *train = NULL;
    if (sst2_read(o.data, &s, &line) != 0) {
        fprintf(stderr, "zoq_llama sst2: cannot read %s (line %zu)\n", o.data, line);
        return 1;
    }
    if (sst2_split(&s, o.min_words, (size_t)o.n_dev, o.dev_seed, (size_t)o.k, o.train_seed, &dev,
                   &train) != 0) {
        sst2_free(&s);
        fprintf(stderr, "zoq_llama sst2: too few rows for --dev %d --k %d\n", o.n_dev, o.k);
        return 1;
    }
    int64_t pos = 0;
    for (int i = 0; i < o.n_dev; i++)
        pos += s.label[dev[i]];
    printf("data: %zu rows; dev %d full sentences of >= %d words (seed %llu, %lld positive); "
           "train %d per class (seed %llu)\n",
           s.n, o.n_dev, o.min_words, (unsigned long long)o.dev_seed, (long long)pos, o.k,
           (unsigned long long)o.train_seed);
    mkdir(o.out, 0755);
    if (write_tsv(o.out, "dev.tsv", &s, dev, (size_t)o.n_dev) != 0 ||
        write_tsv(o.out, "train.tsv", &s, train, 2 * (size_t)o.k) != 0)
        fprintf(stderr, "zoq_llama sst2: cannot write the split into %s\n", o.out);
    lm_engine e = {0};
    /* QZO trains the engine's own weights: they must be writable host buffers */
    const int writable = strstr(o.runs, "qzo") != NULL;
    int rc = lm_open_weights(&e, o.model, o.threads, 2048, 2 * o.batch,
                             writable ? LM_WRITABLE : 0) != 0;
    prompt_result pr[8];
    cls_run_result runs[8];
    int n_pr = 0, n_runs = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", o.prompts);
    for (char *save = NULL, *item = strtok_r(list, ",", &save); rc == 0 && item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        memset(&pr[n_pr], 0, sizeof pr[n_pr]);
        pr[n_pr].p = sst2_prompt(item);
        if (pr[n_pr].p == NULL || n_pr == 8) {
            fprintf(stderr, "zoq_llama sst2: unknown prompt %s\n", item);
            rc = 1;
            break;
        }
        rc = score_prompt(&o, &e, &s, dev, train, &pr[n_pr]) != 0;
        n_pr++;
        if (rc == 0) /* each result on disk as soon as it is measured */
            write_json(&o, &e, pr, n_pr, runs, n_runs, lm_seconds() - t_start);
    }
    /* Training uses the prompt of the best zero-shot dev accuracy. */
    int best = 0;
    for (int i = 1; i < n_pr; i++)
        best = pr[i].correct > pr[best].correct ? i : best;
    if (rc == 0 && n_pr > 0 && o.runs[0] != '\0')
        printf("training with prompt %s (best zero-shot dev accuracy)\n", pr[best].p->name);
    snprintf(list, sizeof list, "%s", o.runs);
    for (char *save = NULL, *item = strtok_r(list, ",", &save); rc == 0 && item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        if (n_runs == 8 || n_pr == 0) {
            rc = 1;
            break;
        }
        int32_t *y = malloc(sizeof *y * (size_t)(o.n_dev + 2 * o.k));
        for (int i = 0; y != NULL && i < o.n_dev + 2 * o.k; i++)
            y[i] = s.label[i < o.n_dev ? dev[i] : train[i - o.n_dev]];
        const cls_data d = {.dev0 = pr[best].dev0, .n_dev = (size_t)o.n_dev, .train0 = pr[best].train0,
                            .n_train = 2 * (size_t)o.k, .y_dev = y, .y_train = y ? y + o.n_dev : NULL,
                            .zero_shot_right = pr[best].right, .batch = (size_t)o.batch,
                            .calib_bias = pr[best].bias};
        /* TARGET[:LOSS]: the loss of this run, --loss's otherwise */
        cls_train_opts tr = o.tr;
        char *colon = strchr(item, ':'), dir[512];
        if (colon != NULL) {
            *colon = '\0';
            if (cls_train_loss(colon + 1, &tr.loss) != 0) {
                fprintf(stderr, "zoq_llama sst2: unknown loss %s\n", colon + 1);
                free(y);
                rc = 1;
                break;
            }
            snprintf(dir, sizeof dir, "%s/%s-%s", o.out, item, colon + 1);
        } else {
            snprintf(dir, sizeof dir, "%s/%s", o.out, item);
        }
        rc = y == NULL || cls_train_run(&e, &tr, o.model, item, &d, dir, &runs[n_runs]) != 0;
        n_runs += rc == 0;
        free(y);
        if (rc == 0)
            write_json(&o, &e, pr, n_pr, runs, n_runs, lm_seconds() - t_start);
    }
    if (rc == 0 && e.n_decodes > 0)
        printf("%.0f tokens/s over %lld decodes; total %.0f s; results in %s/sst2.json\n",
               e.n_tokens_decoded / e.decode_seconds, (long long)e.n_decodes, lm_seconds() - t_start,
               o.out);
    for (int i = 0; i < n_pr; i++)
        free(pr[i].right);
    if (e.ctx != NULL || e.model != NULL)
        lm_close(&e);
    free(dev);
    free(train);
    sst2_free(&s);
    return rc;
}
