/* speed_cmd.c - zoq_llama speed: what one evaluation of the SST-2
 * classification loss costs (a ZO step with one query is two of them), for
 * each way of running it, measured in one process on the same minibatches
 * and interleaved round by round, so that a loaded machine slows all alike:
 *   per-seq:  one llama_decode per (example, label word) sequence;
 *   all-logits: one decode of the minibatch, logits at every token;
 *   batched:  one decode, logits only where a label-word token is scored
 *             (what zoq_llama sst2 trains with);
 *   top-L:    batched, on the truncated model over the hidden states
 *             entering layer L, captured once per example (hidden.h).
 * The training sample is zoq_llama sst2's (same --k, seeds, dev rules), the
 * prompt LM-BFF's. Times are CPU seconds of the process (one thread: the
 * decodes' own, however loaded the machine); the last round's scores are
 * compared with lm_reference_logp. docs/integrations/llama.md shows the
 * measured table. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "commands.h"
#include "flags.h"
#include "hidden.h"
#include "sst2.h"

enum { MAX_MODES = 8 };

typedef struct mode {
    char name[16];
    lm_engine *e;
    int per_seq, all_logits;
    int32_t below;
    double seconds, cpu, max_diff; /* wall and process CPU seconds */
    int64_t decodes, tokens;
} mode;

static void usage(void)
{
    fputs("usage: zoq_llama speed [--model GGUF] [--data train.tsv.gz] [--k K] [--train-seed S]\n"
          "  [--batch EXAMPLES] [--evals N] [--cache-below L1,L2,...] [--threads N] [--json FILE]\n"
          "  Seconds per evaluation of the SST-2 loss, tokens/s and ZO steps/min for one\n"
          "  decode per sequence, one decode with all logits, one decode with logits where\n"
          "  scored, and the truncated model on cached hidden states below layer L.\n", stderr);
}

/* One evaluation of minibatch seqs in mode m; scores into lp. 0 or -1. */
static int evaluate(mode *m, const int64_t *seqs, int64_t n, double *lp, double *tok)
{
    lm_engine *e = m->e;
    const int64_t d0 = e->n_decodes, t0 = e->n_tokens_decoded;
    const double s0 = lm_seconds(), c0 = lm_cpu_seconds();
    e->all_logits = m->all_logits;
    int rc = 0;
    for (int64_t k = 0; m->per_seq && rc == 0 && k < n; k++)
        rc = lm_score(e, seqs + k, 1, lp + k, tok + k);
    if (!m->per_seq)
        rc = lm_score(e, seqs, n, lp, tok);
    e->all_logits = 0;
    m->seconds += lm_seconds() - s0;
    m->cpu += lm_cpu_seconds() - c0;
    m->decodes += e->n_decodes - d0;
    m->tokens += e->n_tokens_decoded - t0;
    return rc;
}

int speed_main(int argc, char **argv)
{
    const char *model = "build/llm/model.gguf", *data = "../shared/data/sst2/train.tsv.gz";
    const char *json = "build/llm/speed.json", *below = "15,22";
    int k = 16, batch = 16, evals = 5, threads = 1;
    uint64_t train_seed = 13;
    const flag flags[] = {
        FLAG_ONE("--model", FLAG_STR, &model),
        FLAG_ONE("--data", FLAG_STR, &data),
        FLAG_ONE("--json", FLAG_STR, &json),
        FLAG_ONE("--cache-below", FLAG_STR, &below),
        FLAG_ONE("--k", FLAG_INT, &k),
        FLAG_ONE("--batch", FLAG_INT, &batch),
        FLAG_ONE("--evals", FLAG_INT, &evals),
        FLAG_ONE("--threads", FLAG_INT, &threads),
        FLAG_ONE("--train-seed", FLAG_U64, &train_seed),
    };
    if (flags_parse(argc, argv, flags, FLAGS_N(flags), NULL, NULL) != 0)
        return usage(), 2;
    if (k < 1 || batch < 1 || batch > 64 || batch > 2 * k || evals < 1 || threads < 1)
        return usage(), 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    sst2_set s;
    size_t line, first = 0;
    if (sst2_read(data, &s, &line) != 0) {
        fprintf(stderr, "zoq_llama speed: cannot read %s (line %zu)\n", data, line);
        return 1;
    }
    const char **txt = sst2_train_texts(&s, (size_t)k, train_seed);
    lm_engine e = {0};
    int rc = txt == NULL || lm_open(&e, model, threads, 2048, 2 * batch) != 0 ||
         cls_add(&e, sst2_prompt(SST2_PROMPT), txt, 2 * (size_t)k, 256, &first) != 0;
    mode m[MAX_MODES] = {{.name = "per-seq", .e = &e, .per_seq = 1},
                         {.name = "all-logits", .e = &e, .all_logits = 1},
                         {.name = "batched", .e = &e}};
    lm_hidden h[MAX_MODES - 3];
    double cap_cpu[MAX_MODES - 3] = {0};
    int n_modes = 3, n_h = 0;
    char list[128];
    snprintf(list, sizeof list, "%s", below);
    for (char *save = NULL, *it = strtok_r(list, ",", &save); rc == 0 && it != NULL;
         it = strtok_r(NULL, ",", &save)) {
        if (n_modes == MAX_MODES || hidden_open(&h[n_h], &e, model, atoi(it), threads) != 0) {
            rc = 1;
            break;
        }
        n_h++;
        const double c0 = lm_cpu_seconds();
        rc = hidden_capture(&h[n_h - 1], &e, first, 2 * (size_t)k) != 0;
        cap_cpu[n_h - 1] = lm_cpu_seconds() - c0;
        mode *q = &m[n_modes++];
        snprintf(q->name, sizeof q->name, "top-%d", atoi(it));
        q->e = &h[n_h - 1].top;
        q->below = atoi(it);
        printf("captured the states entering layer %d of %d examples: %.2f CPU s, %.2f s "
               "decoding (%lld tokens)\n",
               q->below, 2 * k, cap_cpu[n_h - 1], h[n_h - 1].capture_seconds,
               (long long)h[n_h - 1].capture_tokens);
    }
    int64_t seqs[128], unique = 0;
    double lp[MAX_MODES][128], tok[128], ref[128];
    /* one warm-up evaluation each, then rounds over all modes */
    for (int r = -1; rc == 0 && r < evals; r++) {
        for (int j = 0; j < 2 * batch; j++)
            seqs[j] = 2 * (int64_t)(first + (size_t)((r + 1) * batch + j / 2) % (2 * (size_t)k)) +
                      j % 2;
        if (r >= 0)
            unique += lm_tokens_needed(&e, seqs, 2 * batch);
        for (int i = 0; rc == 0 && i < n_modes; i++) {
            mode saved = m[i];
            rc = evaluate(&m[i], seqs, 2 * batch, lp[i], tok) != 0;
            if (r < 0)
                m[i] = saved; /* the warm-up does not count */
        }
    }
    /* the last round's scores against engine.c's independent reference */
    for (int j = 0; rc == 0 && j < 2 * batch; j++)
        rc = lm_reference_logp(&e, seqs[j], &ref[j]) != 0;
    for (int i = 0; rc == 0 && i < n_modes; i++)
        for (int j = 0; j < 2 * batch; j++)
            m[i].max_diff = fmax(m[i].max_diff, fabs(lp[i][j] - ref[j]));
    FILE *f = rc == 0 ? fopen(json, "w") : NULL;
    if (f != NULL)
        fprintf(f, "{\"model\": \"%s\", \"threads\": %d, \"k_per_class\": %d, \"train_seed\": "
                   "%llu, \"batch\": %d, \"evaluations\": %d, \"minibatch_tokens\": %.1f,\n"
                   " \"modes\": [\n",
                model, threads, k, (unsigned long long)train_seed, batch, evals,
                (double)unique / evals);
    if (rc == 0)
        printf("%d evaluations of %d examples (%.1f input tokens each, prompts shared); "
               "CPU seconds (wall in brackets):\n%-11s %16s %8s %12s %9s %10s %8s %10s\n",
               evals, batch, (double)unique / evals, "mode", "s/eval", "decodes",
               "tokens/eval", "tokens/s", "steps/min", "speedup", "max|dlp|");
    for (int i = 0; rc == 0 && i < n_modes; i++) {
        const double se = m[i].cpu / evals, wall = m[i].seconds / evals;
        const double tps = (double)unique / m[i].cpu, spm = 60.0 / (2.0 * se);
        const double speedup = m[0].cpu / m[i].cpu;
        printf("%-11s %7.3f (%6.2f) %8.1f %12.1f %9.1f %10.2f %8.2f %10.2e\n", m[i].name, se,
               wall, (double)m[i].decodes / evals, (double)m[i].tokens / evals, tps, spm,
               speedup, m[i].max_diff);
        if (f != NULL)
            fprintf(f, "  {\"mode\": \"%s\", \"cache_below\": %d, \"cpu_seconds_per_eval\": %.4f, "
                       "\"wall_seconds_per_eval\": %.4f, "
                       "\"decodes_per_eval\": %.1f, \"tokens_decoded_per_eval\": %.1f, "
                       "\"minibatch_tokens_per_second\": %.1f, \"zo_steps_per_minute\": %.2f, "
                       "\"speedup_vs_per_seq\": %.3f, \"speedup_vs_batched\": %.3f, "
                       "\"max_abs_logp_diff_vs_reference\": %.3g}%s\n",
                    m[i].name, m[i].below, se, wall, (double)m[i].decodes / evals,
                    (double)m[i].tokens / evals, tps, spm, speedup,
                    m[2].cpu / m[i].cpu, m[i].max_diff, i + 1 < n_modes ? "," : "");
    }
    if (f != NULL) {
        fprintf(f, " ],\n \"capture\": [");
        for (int i = 0; i < n_h; i++)
            fprintf(f, "%s{\"cache_below\": %d, \"cpu_seconds\": %.3f, \"wall_seconds\": %.3f, "
                       "\"tokens\": %lld}",
                    i ? ", " : "", (int)h[i].below, cap_cpu[i], h[i].capture_seconds,
                    (long long)h[i].capture_tokens);
        fprintf(f, "]}\n");
        fclose(f);
        printf("(tokens/s, steps/min and speedups from CPU seconds; steps/min: ZO-SGD with one\n"
               " query, two evaluations a step; max|dlp|: the last round's label-word log-probs\n"
               " against lm_reference_logp; results in %s)\n", json);
    }
    for (int i = 0; i < n_h; i++)
        hidden_close(&h[i]);
    if (e.ctx != NULL || e.model != NULL)
        lm_close(&e);
    free(txt);
    sst2_free(&s);
    return rc;
}
