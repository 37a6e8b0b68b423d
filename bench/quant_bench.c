/* quant_bench.c - the forward pass over quantized matrices: the fused
 * decode-and-multiply loop of zoq_qmatrix_matvec against dequantizing W and
 * calling OpenBLAS (sgemv / sgemm), and, for reference, sgemv/sgemm on an f32
 * W dequantized once ahead of time. Microseconds per call, median of reps.
 * Usage: quant_bench [n] [reps] (an n x n matrix); writes bench/results/quant.json. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "timing.h"
#include "zoq.h"

#define MAX_REPS 64

typedef struct bench {
    const zoq_qmatrix_t *m;
    const float *x;
    float *y, *w;   /* w: rows x cols scratch (dequantized W) */
    int batch;
} bench;

typedef void (*method_fn)(const bench *b);

/* The fused loop, once per row of X. */
static void fused(const bench *b)
{
    const int64_t n = b->m->rows, k = b->m->cols;
    for (int i = 0; i < b->batch; i++)
        zoq_qmatrix_matvec(b->m, b->x + i * k, b->y + i * n);
}

static void blas_on(const bench *b)
{
    const int n = (int)b->m->rows, k = (int)b->m->cols;
    if (b->batch == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, b->w, k, b->x, 1, 0.0f, b->y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b->batch, n, k, 1.0f, b->x, k,
                    b->w, k, 0.0f, b->y, n);
}

/* Dequantize all of W, then BLAS. */
static void dequant_blas(const bench *b)
{
    zoq_qmatrix_dequantize(b->m, b->w);
    blas_on(b);
}

/* BLAS on an f32 W decoded ahead of time (not a quantized forward pass). */
static void f32_blas(const bench *b)
{
    blas_on(b);
}

/* What zoq_qmatrix_matmul chooses. */
static void library(const bench *b)
{
    zoq_qmatrix_matmul(b->m, b->x, b->batch, b->y);
}

static double time_us(method_fn f, const bench *b, int reps)
{
    double t[MAX_REPS];
    f(b); /* warm */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        f(b);
        t[r] = now() - t0;
    }
    return 1e6 * median(t, reps);
}

int main(int argc, char **argv)
{
    const int64_t n = argc > 1 ? atoll(argv[1]) : 1024;
    const int reps = argc > 2 ? atoi(argv[2]) : 21;
    const int max_batch = 64;
    if (n < 128 || n % 128 != 0 || reps < 1 || reps > MAX_REPS)
        return 2;
    const size_t nn = (size_t)(n * n);
    float *w0 = malloc(nn * sizeof *w0), *w = malloc(nn * sizeof *w);
    float *x = malloc((size_t)(max_batch * n) * sizeof *x);
    float *y = malloc((size_t)(max_batch * n) * sizeof *y);
    void *codes = malloc(nn);
    float *scales = malloc(nn / 32 * sizeof *scales);
    uint8_t *zeros = malloc(nn / 32);
    if (!w0 || !w || !x || !y || !codes || !scales || !zeros)
        return 1;
    srand(1);
    for (size_t i = 0; i < nn; i++)
        w0[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)(max_batch * n); i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    FILE *js = fopen("bench/results/quant.json", "w");
    if (js)
        fprintf(js, "{\n  \"rows\": %lld, \"cols\": %lld, \"reps\": %d, \"results\": [\n",
                (long long)n, (long long)n, reps);
    const struct { const char *name; int format, group; } fmts[] = {
        {"int8_row", ZOQ_QFORMAT_INT8_ROW, 0}, {"int4_g32", ZOQ_QFORMAT_INT4_GROUP, 32},
        {"int4_g128", ZOQ_QFORMAT_INT4_GROUP, 128}};
    const struct { const char *name; method_fn f; } methods[] = {
        {"fused", fused}, {"dequant_blas", dequant_blas}, {"zoq_matmul", library},
        {"f32_blas_predecoded", f32_blas}};
    const int batches[] = {1, 2, 4, 8, 64};
    int first = 1;
    for (size_t fi = 0; fi < sizeof fmts / sizeof *fmts; fi++) {
        zoq_qmatrix_t m = {.size = sizeof m, .format = fmts[fi].format,
                           .group_size = fmts[fi].group, .rows = n, .cols = n,
                           .codes = codes, .scales = scales,
                           .zeros = fmts[fi].group ? zeros : NULL};
        if (zoq_qmatrix_quantize(w0, &m) != ZOQ_OK || zoq_qmatrix_dequantize(&m, w) != ZOQ_OK)
            return 1;
        for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
            const bench b = {&m, x, y, w, batches[bi]};
            printf("%-10s batch %2d:", fmts[fi].name, b.batch);
            for (size_t mi = 0; mi < sizeof methods / sizeof *methods; mi++) {
                const double us = time_us(methods[mi].f, &b, reps);
                printf(" %s %.1f us", methods[mi].name, us);
                if (js)
                    fprintf(js, "%s    {\"format\": \"%s\", \"batch\": %d, \"method\": \"%s\", "
                            "\"us\": %.2f}", first ? "" : ",\n", fmts[fi].name, b.batch,
                            methods[mi].name, us);
                first = 0;
            }
            printf("\n");
        }
    }
    if (js) {
        fprintf(js, "\n  ]\n}\n");
        fclose(js);
    }
    free(w0), free(w), free(x), free(y), free(codes), free(scales), free(zeros);
    return 0;
}
