/* invariance_cmd.c - zoq_llama invariance: does a label-word log-prob depend
 * on the batch it is scored in, and what does it cost that it does not? For
 * each kernel setting of the engine (engine.h's flags), the 2k examples of
 * zoq_llama speed's training sample are scored in decodes of B examples
 * (cls_score_range) for each B, and compared with each sequence scored
 * alone (one lm_score of that sequence); max|dlp| is the largest difference
 * over all of them. Times: CPU seconds per example of the scoring at B (one
 * thread: the decodes' own however loaded the machine), the median of
 * --reps rounds that interleave settings and batch sizes, all in one
 * process. docs/integrations/llama.md shows the measured table. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "commands.h"
#include "flags.h"
#include "sst2.h"

enum { MAX_B = 8, MAX_REPS = 15 };

typedef struct setting {
    const char *name;
    int flags;
    const char *what;
} setting;

static const setting settings[] = {
    {"reference", 0, "flash attention, ggml-cpu's reference kernels (the default)"},
    {"fast", LM_FAST_KERNELS, "flash attention, ggml-cpu's own choice (tiled at >= 64 rows)"},
    {"no-fa", LM_NO_FLASH_ATTN | LM_FAST_KERNELS, "soft_max(KQ)V, ggml-cpu's own choice"},
    {"no-fa-ref", LM_NO_FLASH_ATTN, "soft_max(KQ)V, ggml-cpu's reference kernels"},
};
enum { N_SET = sizeof settings / sizeof *settings };

static void usage(void)
{
    fputs("usage: zoq_llama invariance [--model GGUF] [--data train.tsv.gz] [--k K]\n"
          "  [--train-seed S] [--batches B1,B2,...] [--settings S1,S2,...] [--reps N]\n"
          "  [--threads N] [--json FILE]\n"
          "  Largest |difference| between label-word log-probs scored in decodes of B\n"
          "  examples and each sequence scored alone, and CPU seconds per example, for\n"
          "  each kernel setting of the engine (reference, fast, no-fa, no-fa-ref).\n", stderr);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Each of the 2n sequences of examples first.. scored alone into lp. */
static int score_alone(lm_engine *e, size_t first, size_t n, double *lp)
{
    double tok;
    for (size_t j = 0; j < 2 * n; j++) {
        const int64_t seq = 2 * (int64_t)first + (int64_t)j;
        if (lm_score(e, &seq, 1, &lp[j], &tok) != 0)
            return -1;
    }
    return 0;
}

int invariance_main(int argc, char **argv)
{
    const char *model = "build/llm/model.gguf", *data = "../shared/data/sst2/train.tsv.gz";
    const char *json = "build/llm/invariance.json", *batches = "1,2,4,8,16";
    const char *which = "reference,fast,no-fa,no-fa-ref";
    int k = 16, reps = 3, threads = 1, nb = 0, bs[MAX_B], max_b = 0;
    uint64_t train_seed = 13;
    const flag flags[] = {
        FLAG_ONE("--model", FLAG_STR, &model),
        FLAG_ONE("--data", FLAG_STR, &data),
        FLAG_ONE("--json", FLAG_STR, &json),
        FLAG_ONE("--batches", FLAG_STR, &batches),
        FLAG_ONE("--settings", FLAG_STR, &which),
        FLAG_ONE("--k", FLAG_INT, &k),
        FLAG_ONE("--reps", FLAG_INT, &reps),
        FLAG_ONE("--threads", FLAG_INT, &threads),
        FLAG_ONE("--train-seed", FLAG_U64, &train_seed),
    };
    if (flags_parse(argc, argv, flags, FLAGS_N(flags), NULL, NULL) != 0)
        return usage(), 2;
    char list[128];
    snprintf(list, sizeof list, "%s", batches);
    for (char *save = NULL, *it = strtok_r(list, ",", &save); it != NULL;
         it = strtok_r(NULL, ",", &save)) {
        if (nb == MAX_B)
            return usage(), 2;
        bs[nb] = atoi(it);
        max_b = bs[nb] > max_b ? bs[nb] : max_b;
        if (bs[nb++] < 1)
            return usage(), 2;
    }
    const setting *use[N_SET];
    int ns = 0;
    snprintf(list, sizeof list, "%s", which);
    for (char *save = NULL, *it = strtok_r(list, ",", &save); it != NULL;
         it = strtok_r(NULL, ",", &save)) {
        int m = 0;
        while (m < N_SET && strcmp(settings[m].name, it) != 0)
            m++;
        if (m == N_SET || ns == N_SET)
            return usage(), 2;
        use[ns++] = &settings[m];
    }
    if (k < 1 || nb == 0 || max_b > 2 * k || max_b > 64 || reps < 1 || reps > MAX_REPS ||
        threads < 1)
        return usage(), 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    sst2_set s;
    size_t line, first = 0;
    if (sst2_read(data, &s, &line) != 0) {
        fprintf(stderr, "zoq_llama invariance: cannot read %s (line %zu)\n", data, line);
        return 1;
    }
    const size_t n = 2 * (size_t)k;
    const char **txt = sst2_train_texts(&s, (size_t)k, train_seed);
    lm_engine e[N_SET];
    memset(e, 0, sizeof e);
    double *alone = malloc(sizeof *alone * 2 * n * N_SET), *lp = malloc(sizeof *lp * 2 * n);
    static double secs[N_SET][MAX_B][MAX_REPS];
    double diff[N_SET][MAX_B] = {{0}};
    int rc = txt == NULL || alone == NULL || lp == NULL;
    for (int m = 0; rc == 0 && m < ns; m++)
        rc = lm_open_weights(&e[m], model, threads, 2048, 2 * max_b, use[m]->flags) != 0 ||
             cls_add(&e[m], sst2_prompt(SST2_PROMPT), txt, n, 256, &first) != 0 ||
             score_alone(&e[m], first, n, alone + 2 * n * (size_t)m) != 0;
    /* rounds: every batch size of every setting once per round */
    for (int r = 0; rc == 0 && r < reps; r++)
        for (int b = 0; rc == 0 && b < nb; b++)
            for (int m = 0; rc == 0 && m < ns; m++) {
                const double c0 = lm_cpu_seconds();
                rc = cls_score_range(&e[m], first, n, (size_t)bs[b], lp) != 0;
                secs[m][b][r] = (lm_cpu_seconds() - c0) / (double)n;
                for (size_t j = 0; rc == 0 && j < 2 * n; j++)
                    diff[m][b] = fmax(diff[m][b], fabs(lp[j] - alone[2 * n * (size_t)m + j]));
            }
    FILE *f = rc == 0 ? fopen(json, "w") : NULL;
    if (rc == 0) {
        printf("%zu examples (k = %d, train seed %llu, prompt %s), %d thread(s), %d rounds;\n"
               "max|dlp| against each sequence scored alone, then CPU s per example "
               "(median):\n%-10s", n, k, (unsigned long long)train_seed, SST2_PROMPT, threads,
               reps, "setting");
        for (int b = 0; b < nb; b++)
            printf("  B=%-7d", bs[b]);
        for (int b = 0; b < nb; b++)
            printf("  s@B=%-4d", bs[b]);
        printf("\n");
    }
    if (f != NULL)
        fprintf(f, "{\"model\": \"%s\", \"threads\": %d, \"k_per_class\": %d, \"train_seed\": "
                   "%llu, \"examples\": %zu, \"rounds\": %d, \"settings\": [\n",
                model, threads, k, (unsigned long long)train_seed, n, reps);
    for (int m = 0; rc == 0 && m < ns; m++) {
        printf("%-10s", use[m]->name);
        for (int b = 0; b < nb; b++)
            printf("  %9.2e", diff[m][b]);
        double med[MAX_B];
        for (int b = 0; b < nb; b++)
            printf("  %9.4f", med[b] = median(secs[m][b], reps));
        printf("\n");
        for (int b = 0; f != NULL && b < nb; b++)
            fprintf(f, "  {\"setting\": \"%s\", \"what\": \"%s\", \"batch\": %d, "
                       "\"max_abs_logp_diff_vs_alone\": %.3g, \"cpu_seconds_per_example\": "
                       "%.5f}%s\n",
                    use[m]->name, use[m]->what, bs[b], diff[m][b], med[b],
                    m + 1 < ns || b + 1 < nb ? "," : "");
    }
    if (f != NULL) {
        fprintf(f, "]}\n");
        fclose(f);
    }
    for (int m = 0; rc == 0 && m < ns; m++)
        printf("  %-10s %s\n", use[m]->name, use[m]->what);
    if (rc == 0)
        printf("(results in %s)\n", json);
    for (int m = 0; m < ns; m++)
        if (e[m].ctx != NULL || e[m].model != NULL)
            lm_close(&e[m]);
    free(alone);
    free(lp);
    free(txt);
    sst2_free(&s);
    return rc;
}
