/* lora_bench.c - what a LoRA pair costs next to its base layer: the base
 * forward Y = X Wᵀ (one OpenBLAS sgemm), the unmerged adapter zoq_lora_apply
 * (Y += s·(X Aᵀ)Bᵀ) at the same batch, and the merge zoq_lora_merge
 * (W += s·B A). Microseconds per call, median of reps, n x n layer.
 * Usage: lora_bench [n] [rank] [reps]; writes bench/results/lora.json. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "timing.h"
#include "zoq.h"

#define MAX_REPS 64

static void fill(float *v, size_t n, unsigned s)
{
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = (float)((s >> 9) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

int main(int argc, char **argv)
{
    const int n = argc > 1 ? atoi(argv[1]) : 2048;
    const int rank = argc > 2 ? atoi(argv[2]) : 8;
    int reps = argc > 3 ? atoi(argv[3]) : 15;
    if (n < 1 || rank < 1 || rank > n || reps < 1)
        return fprintf(stderr, "usage: lora_bench [n] [rank] [reps]\n"), 2;
    reps = reps > MAX_REPS ? MAX_REPS : reps;
    static const int batches[] = {1, 16, 128};
    const int max_batch = 128;
    float *w = malloc((size_t)n * n * sizeof *w), *a = malloc((size_t)rank * n * sizeof *a);
    float *b = malloc((size_t)n * rank * sizeof *b), *x = malloc((size_t)max_batch * n * 4);
    float *y = malloc((size_t)max_batch * n * sizeof *y);
    if (!w || !a || !b || !x || !y)
        return fprintf(stderr, "lora_bench: out of memory\n"), 1;
    fill(w, (size_t)n * n, 1);
    fill(a, (size_t)rank * n, 2);
    fill(b, (size_t)n * rank, 3);
    fill(x, (size_t)max_batch * n, 4);
    const zoq_lora_t l = {.size = sizeof l, .in_features = n, .out_features = n, .rank = rank,
                          .alpha = 2.0 * rank, .a = a, .b = b};
    FILE *out = fopen("bench/results/lora.json", "w");
    if (!out)
        return fprintf(stderr, "lora_bench: cannot write bench/results/lora.json\n"), 1;
    fprintf(out, "{\n  \"n\": %d, \"rank\": %d, \"reps\": %d, \"unit\": \"microseconds\",\n"
                 "  \"forward\": [\n", n, rank, reps);
    printf("n = %d, rank %d: microseconds, median of %d\n", n, rank, reps);
    printf("%6s %14s %14s %8s\n", "batch", "base sgemm", "lora_apply", "ratio");
    double t[MAX_REPS];
    for (size_t k = 0; k < sizeof batches / sizeof *batches; k++) {
        const int m = batches[k];
        for (int r = 0; r < reps; r++) {
            const double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, n, 1.0f, x, n, w, n,
                        0.0f, y, n);
            t[r] = now() - t0;
        }
        const double base = 1e6 * median(t, reps);
        for (int r = 0; r < reps; r++) {
            const double t0 = now();
            if (zoq_lora_apply(&l, x, m, y) != ZOQ_OK)
                return fprintf(stderr, "lora_bench: apply failed\n"), 1;
            t[r] = now() - t0;
        }
        const double lora = 1e6 * median(t, reps);
        printf("%6d %14.1f %14.1f %8.3f\n", m, base, lora, lora / base);
        fprintf(out, "    {\"batch\": %d, \"base_sgemm\": %.2f, \"lora_apply\": %.2f}%s\n", m,
                base, lora, k + 1 < sizeof batches / sizeof *batches ? "," : "");
    }
    for (int r = 0; r < reps; r++) {
        const double t0 = now();
        if (zoq_lora_merge(&l, 1.0, w) != ZOQ_OK)
            return fprintf(stderr, "lora_bench: merge failed\n"), 1;
        t[r] = now() - t0;
    }
    const double merge = 1e6 * median(t, reps);
    printf("merge W += s·B A: %.1f us\n", merge);
    fprintf(out, "  ],\n  \"merge\": %.2f\n}\n", merge);
    fclose(out);
    free(w), free(a), free(b), free(x), free(y);
    return 0;
}
