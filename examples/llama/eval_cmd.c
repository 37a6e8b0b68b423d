/* eval_cmd.c - zoq_llama eval: the accuracy of a saved adapter on any
 * labelled TSV (`sentence<TAB>label`, gzip'd or not), against the zero-shot
 * accuracy of the same prompt on the same rows, with an exact McNemar test on
 * the rows where the two disagree. docs/integrations/llama.md. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "classify.h"
#include "commands.h"
#include "flags.h"
#include "label_bias.h"
#include "sst2.h"
#include "stats.h"

static void usage(void)
{
    fputs("usage: zoq_llama eval --task sst2 --data FILE.tsv[.gz] [--load DIR] [--prompt NAME]\n"
          "  [--model GGUF] [--threads N] [--batch N] [--json FILE]\n"
          "  DIR: a folder with control_vector.gguf, adapter.gguf or (QZO) model.gguf, what\n"
          "  training saves; model.gguf replaces --model for the trained accuracy;\n"
          "  NAME: lmbff, demo or chat (default " SST2_PROMPT ")\n", stderr);
}

static void report(FILE *f, const char *data, const char *load, const char *prompt, int64_t n,
                   int64_t c0, int64_t c1, int64_t fixed, int64_t broken, double p)
{
    double lo0, hi0, lo1, hi1;
    wilson95(c0, n, &lo0, &hi0);
    wilson95(c1, n, &lo1, &hi1);
    if (f == stdout) {
        printf("n %lld; zero-shot accuracy %.4f [%.4f, %.4f] (prompt %s)\n", (long long)n,
               (double)c0 / (double)n, lo0, hi0, prompt);
        if (load != NULL)
            printf("accuracy %.4f [%.4f, %.4f] with %s; McNemar: %lld fixed, %lld broken, "
                   "exact p %.3g\n",
                   (double)c1 / (double)n, lo1, hi1, load, (long long)fixed, (long long)broken, p);
        return;
    }
    fprintf(f, "{\"data\": \"%s\", \"load\": %s%s%s, \"prompt\": \"%s\", \"n\": %lld,\n"
               " \"zero_shot\": {\"correct\": %lld, \"accuracy\": %.6f, \"ci95\": [%.6f, %.6f]}",
            data, load ? "\"" : "", load ? load : "null", load ? "\"" : "", prompt,
            (long long)n, (long long)c0, (double)c0 / (double)n, lo0, hi0);
    if (load != NULL)
        fprintf(f, ",\n \"trained\": {\"correct\": %lld, \"accuracy\": %.6f, \"ci95\": [%.6f, %.6f]},"
                   "\n \"mcnemar\": {\"fixed\": %lld, \"broken\": %lld, \"p\": %.6g}",
                (long long)c1, (double)c1 / (double)n, lo1, hi1, (long long)fixed,
                (long long)broken, p);
    fprintf(f, "}\n");
}

/* The label-word log-probs of s's rows under prompt p: the model at path,
 * with dir's adapter (artifact.h) when dir is not NULL. 0 or -1. */
static int score_rows(const char *path, const char *dir, const cls_prompt *p, const sst2_set *s,
                      int threads, int batch, double *lp)
{
    lm_engine e;
    artifact a = {0};
    size_t first = 0;
    int rc = lm_open(&e, path, threads, 2048, 2 * batch) != 0;
    if (rc == 0 && cls_add(&e, p, (const char *const *)s->text, s->n, 256, &first) != 0)
        rc = 1;
    if (rc == 0 && dir != NULL && (artifact_load(&a, &e, dir) != 0 || artifact_use(&a, 1) != 0))
        rc = 1;
    if (rc == 0 && cls_score_range(&e, first, s->n, (size_t)batch, lp) != 0)
        rc = 1;
    if (a.e != NULL)
        artifact_free(&a);
    if (e.ctx != NULL || e.model != NULL)
        lm_close(&e);
    return rc;
}

int eval_main(int argc, char **argv)
{
    const char *task = NULL, *data = NULL, *load = NULL, *json = NULL;
    const char *model = "build/llm/model.gguf", *prompt = SST2_PROMPT;
    int threads = 2, batch = 16;
    const flag flags[] = {
        FLAG_ONE("--task", FLAG_STR, &task),
        FLAG_ONE("--data", FLAG_STR, &data),
        FLAG_ONE("--load", FLAG_STR, &load),
        FLAG_ONE("--prompt", FLAG_STR, &prompt),
        FLAG_ONE("--model", FLAG_STR, &model),
        FLAG_ONE("--json", FLAG_STR, &json),
        FLAG_ONE("--threads", FLAG_INT, &threads),
        FLAG_ONE("--batch", FLAG_INT, &batch),
    };
    if (flags_parse(argc, argv, flags, FLAGS_N(flags), NULL, NULL) != 0)
        return usage(), 2;
    const cls_prompt *p = sst2_prompt(prompt);
    if (task == NULL || strcmp(task, "sst2") != 0 || data == NULL || p == NULL || threads < 1 ||
        batch < 1 || batch > 128)
        return usage(), 2;
    sst2_set s;
    size_t line;
    if (sst2_read(data, &s, &line) != 0) {
        fprintf(stderr, "zoq_llama eval: cannot read %s (line %zu)\n", data, line);
        return 1;
    }
    double *lp = malloc(sizeof *lp * 4 * s.n);
    uint8_t *right = malloc(2 * s.n);
    int64_t c0 = 0, c1 = 0, fixed = 0, broken = 0;
    double loss;
    /* a QZO folder holds a whole model (model.gguf) rather than an adapter */
    char tuned[1024] = "";
    if (load != NULL)
        snprintf(tuned, sizeof tuned, "%s/model.gguf", load);
    FILE *f_tuned = load != NULL ? fopen(tuned, "rb") : NULL;
    const int whole = f_tuned != NULL;
    if (f_tuned != NULL)
        fclose(f_tuned);
    double bias = 0.0; /* the label bias trained with the artifact, if any */
    int rc = lp == NULL || right == NULL || (load != NULL && label_bias_load(load, &bias) != 0) ||
             score_rows(model, NULL, p, &s, threads, batch, lp) != 0;
    if (rc == 0)
        cls_eval(lp, s.label, s.n, 0.0, &loss, &c0, right);
    if (rc == 0 && load != NULL &&
        score_rows(whole ? tuned : model, whole ? NULL : load, p, &s, threads, batch,
                   lp + 2 * s.n) != 0)
        rc = 1;
    if (rc == 0 && load != NULL) {
        cls_eval(lp + 2 * s.n, s.label, s.n, bias, &loss, &c1, right + s.n);
        if (bias != 0.0)
            printf("label bias %+.4f on the log-odds (from %s/label_bias.txt)\n", bias, load);
        for (size_t i = 0; i < s.n; i++) {
            fixed += right[s.n + i] && !right[i];
            broken += !right[s.n + i] && right[i];
        }
    }
    if (rc == 0) {
        const double pv = mcnemar_p(fixed, broken);
        report(stdout, data, load, prompt, (int64_t)s.n, c0, c1, fixed, broken, pv);
        FILE *f = json ? fopen(json, "w") : NULL;
        if (f != NULL) {
            report(f, data, load, prompt, (int64_t)s.n, c0, c1, fixed, broken, pv);
            fclose(f);
        }
    }
    free(lp);
    free(right);
    sst2_free(&s);
    return rc;
}
