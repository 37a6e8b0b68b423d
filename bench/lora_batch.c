/* lora_batch.c - batched evaluation of a ZO step's points (Li & Ding 2026,
 * arXiv:2605.28760, "LLM Zeroth-Order Fine-Tuning is an Inference
 * Workload": the 2n perturbed
 * points of a step are forward passes of one model under nearby adapter
 * states, so they can run as one batch). A stack of LAYERS linear layers
 * d x d with LoRA adapters of rank R,
 *   y = x W^T + s (x A_p^T) B_p^T,   x <- relu(y),
 * where point p has its own adapters (A_p, B_p) and the frozen W is shared.
 * Separate: 2n forwards of `rows` rows each (the step's minibatch, the same
 * for every point). Batched: one forward of the 2n
 * points' rows stacked, the base GEMM shared (W streamed once per layer,
 * OpenBLAS on a 2n*rows-row matrix), the low-rank deltas per point.
 * Both compute the same sums; the outputs are checked to agree. OpenBLAS
 * runs on one thread so the comparison is of the work, not of the threads.
 * The gain is the frozen weights' memory traffic and GEMM packing shared
 * across points, so it is largest for few rows per point: reported for 4, 8,
 * 16 and 64 rows; the headline lora_batch_speedup_nK lines are at 8.
 * Usage: lora_batch [reps]; prints `name value unit` lines and writes
 * bench/results/lora_batch.json. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

#define LAYERS 8
#define D 1024
#define R 8
#define MAX_ROWS 64
#define MAX_POINTS 32
#define SCALE 2.0f /* LoRA alpha / r */

static float *W[LAYERS];                    /* D x D each, row-major */
static float *A[MAX_POINTS][LAYERS];        /* R x D */
static float *B[MAX_POINTS][LAYERS];        /* D x R */

static int per_point = 8; /* rows of the minibatch each point evaluates */

static float *alloc_rand(size_t n, float amp, unsigned *seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = amp * ((float)(*seed >> 8) * 5.9604644775390625e-8f - 0.5f);
    }
    return p;
}

/* y[rows x D] += SCALE * (x A_p^T) B_p^T for `rows` rows of point p. */
static void lora_delta(int p, int l, const float *x, float *y, int rows, float *u)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, R, D, 1.0f, x, D, A[p][l], D,
                0.0f, u, R);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, D, R, SCALE, u, R, B[p][l], R,
                1.0f, y, D);
}

static void relu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* The forward of `points` points, one point at a time. x0: per_point x D input,
 * out: points x per_point x D. */
static void forward_separate(int points, const float *x0, float *out, float *buf, float *u)
{
    for (int p = 0; p < points; p++) {
        float *x = out + (size_t)p * per_point * D;
        memcpy(x, x0, (size_t)per_point * D * sizeof *x);
        for (int l = 0; l < LAYERS; l++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, per_point, D, D, 1.0f, x, D, W[l],
                        D, 0.0f, buf, D);
            lora_delta(p, l, x, buf, per_point, u);
            relu(buf, (size_t)per_point * D);
            memcpy(x, buf, (size_t)per_point * D * sizeof *x);
        }
    }
}

/* The same points as one batch: the base GEMM over all rows at once. */
static void forward_batched(int points, const float *x0, float *out, float *buf, float *u)
{
    const size_t rows = (size_t)points * per_point;
    for (int p = 0; p < points; p++)
        memcpy(out + (size_t)p * per_point * D, x0, (size_t)per_point * D * sizeof *out);
    for (int l = 0; l < LAYERS; l++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, D, D, 1.0f, out, D, W[l],
                    D, 0.0f, buf, D);
        for (int p = 0; p < points; p++)
            lora_delta(p, l, out + (size_t)p * per_point * D, buf + (size_t)p * per_point * D, per_point,
                       u);
        relu(buf, rows * D);
        memcpy(out, buf, rows * D * sizeof *out);
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 64)
        return 2;
    openblas_set_num_threads(1);
    unsigned seed = 12345;
    for (int l = 0; l < LAYERS; l++)
        W[l] = alloc_rand((size_t)D * D, 2.0f * sqrtf(3.0f / D), &seed);
    for (int p = 0; p < MAX_POINTS; p++)
        for (int l = 0; l < LAYERS; l++) {
            A[p][l] = alloc_rand((size_t)R * D, 0.05f, &seed);
            B[p][l] = alloc_rand((size_t)D * R, 0.05f, &seed);
        }
    float *x0 = alloc_rand((size_t)MAX_ROWS * D, 1.0f, &seed);
    size_t cap = (size_t)MAX_POINTS * MAX_ROWS * D;
    float *o1 = malloc(cap * sizeof *o1), *o2 = malloc(cap * sizeof *o2);
    float *buf = malloc(cap * sizeof *buf), *u = malloc((size_t)MAX_POINTS * MAX_ROWS * R * 4);
    FILE *js = fopen("bench/results/lora_batch.json", "w");
    if (!o1 || !o2 || !buf || !u || !js)
        return 1;
    fprintf(js, "{\n  \"layers\": %d, \"d\": %d, \"rank\": %d, "
            "\"reps\": %d, \"blas_threads\": 1, \"results\": [\n", LAYERS, D, R, reps);
    const int ns[3] = {1, 4, 16}, rows[4] = {8, 4, 16, 64};
    for (int k = 0; k < 12; k++) {
        per_point = rows[k / 3];
        const int q = ns[k % 3];
        int points = 2 * q;
        double ts[64], tb[64];
        for (int r = 0; r <= reps; r++) { /* r = 0 warms up */
            double t0 = now();
            forward_separate(points, x0, o1, buf, u);
            double t1 = now();
            forward_batched(points, x0, o2, buf, u);
            double t2 = now();
            if (r > 0) {
                ts[r - 1] = t1 - t0;
                tb[r - 1] = t2 - t1;
            }
        }
        double worst = 0.0, scale = 0.0;
        for (size_t i = 0; i < (size_t)points * per_point * D; i++) {
            worst = fmax(worst, fabs((double)o1[i] - o2[i]));
            scale = fmax(scale, fabs((double)o1[i]));
        }
        if (worst > 1e-4 * scale) {
            fprintf(stderr, "lora_batch: batched and separate outputs differ by %g\n", worst);
            return 1;
        }
        double s = median(ts, reps), b = median(tb, reps);
        char tag[32] = "";
        if (per_point != 8)
            snprintf(tag, sizeof tag, "_rows%d", per_point);
        printf("lora_separate_n%d%s %.3f ms/step\n", q, tag, 1e3 * s);
        printf("lora_batched_n%d%s %.3f ms/step\n", q, tag, 1e3 * b);
        printf("lora_batch_speedup_n%d%s %.2f x\n", q, tag, s / b);
        fflush(stdout);
        fprintf(js, "%s    {\"queries\": %d, \"points\": %d, \"rows_per_point\": %d, "
                "\"separate_ms\": %.4f, \"batched_ms\": %.4f, \"speedup\": %.3f}",
                k ? ",\n" : "", q, points, per_point, 1e3 * s, 1e3 * b, s / b);
    }
    fprintf(js, "\n  ]\n}\n");
    fclose(js);
    return 0;
}
