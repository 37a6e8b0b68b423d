/* matvec.c - the forward pass over a quantized matrix: y = W x by a fused
 * loop that decodes codes on the fly (one read of the codes, no f32 copy of
 * W), and Y = X Wᵀ for a batch either by that loop per row of X (small
 * batches) or by OpenBLAS sgemm on dequantized tiles of rows (measurements:
 * docs/quantized.md, bench/quant_bench.c). */
#include <cblas.h>
#include <stdlib.h>

#include "quant.h"

/* Batches at least this large go through sgemm on dequantized tiles. */
#define ZOQ__QM_GEMM_MIN_BATCH 4
/* Floats of a dequantized tile (1 MiB). */
#define ZOQ__QM_TILE_FLOATS ((size_t)1 << 18)
/* Codes are decoded to f32 a chunk at a time, on the stack; fixed trip
 * counts let the compiler vectorize at -O2. Group sizes are multiples of it. */
#define CHUNK 32
#define LANES 16

/* acc[k] += Σ t[j]·x[j] over one chunk, j ≡ k (mod LANES). */
static void dot_chunk(float acc[LANES], const float *t, const float *x)
{
    for (size_t j = 0; j < CHUNK; j += LANES)
        for (size_t k = 0; k < LANES; k++)
            acc[k] += t[j + k] * x[j + k];
}

/* Sum of the lanes, pairwise in a fixed order. */
static float lanes_sum(float acc[LANES])
{
    for (size_t w = LANES / 2; w > 0; w /= 2)
        for (size_t k = 0; k < w; k++)
            acc[k] += acc[k + w];
    return acc[0];
}

/* Row r of W times x: s_r·Σ q·x (INT8_ROW); Σ ŵ·x with ŵ = s·(q − z) rounded
 * to f32 as in zoq_qmatrix_dequantize (INT4_GROUP). */
static float row_dot(const zoq_qmatrix_t *m, const zoq__qm_shape_t *sh, size_t r,
                     const float *x)
{
    float t[CHUNK], acc[LANES] = {0};
    if (m->format == ZOQ_QFORMAT_INT8_ROW) {
        const int8_t *q = (const int8_t *)m->codes + r * sh->cols;
        size_t j = 0;
        for (; j + CHUNK <= sh->cols; j += CHUNK) {
            zoq__q8_decode(q + j, CHUNK, t);
            dot_chunk(acc, t, x + j);
        }
        for (size_t k = 0; j < sh->cols; j++, k++)
            acc[k] += (float)q[j] * x[j];
        return m->scales[r] * lanes_sum(acc);
    }
    const uint8_t *q = (const uint8_t *)m->codes + r * sh->row_bytes;
    for (size_t j = 0; j < sh->cols; j += CHUNK) {
        const size_t i = r * sh->groups + j / sh->group;
        zoq__q4_decode(q + j / 2, m->zeros[i], CHUNK, t);
        zoq__scale_by(t, CHUNK, m->scales[i]);
        dot_chunk(acc, t, x + j);
    }
    return lanes_sum(acc);
}

/* y = W x for a validated matrix. */
static void matvec(const zoq_qmatrix_t *m, const zoq__qm_shape_t *sh, const float *x,
                   float *y)
{
    for (size_t r = 0; r < sh->rows; r++)
        y[r] = row_dot(m, sh, r, x);
}

int zoq_qmatrix_matvec(const zoq_qmatrix_t *in, const float *x, float *y)
{
    zoq_qmatrix_t mat, *m = &mat;
    zoq__qm_shape_t sh;
    const int st = zoq__qm_check_read(in, m, &sh);
    if (st != ZOQ_OK)
        return st;
    if (x == NULL || y == NULL)
        return QBAD("zoq_qmatrix_matvec: x or y is NULL");
    matvec(m, &sh, x, y);
    return ZOQ_OK;
}

int zoq_qmatrix_matmul(const zoq_qmatrix_t *in, const float *x, int64_t batch, float *y)
{
    zoq_qmatrix_t mat, *m = &mat;
    zoq__qm_shape_t sh;
    const int st = zoq__qm_check_read(in, m, &sh);
    if (st != ZOQ_OK)
        return st;
    if (x == NULL || y == NULL || batch < 1 || batch > ZOQ__QM_DIM_MAX)
        return QBAD("zoq_qmatrix_matmul: x or y NULL, or batch %lld outside 1..2^31-1",
                    (long long)batch);
    const size_t nb = (size_t)batch;
    /* X and Y are the caller's arrays: their sizes must be addressable */
    if (sh.cols > SIZE_MAX / sizeof(float) / nb || sh.rows > SIZE_MAX / sizeof(float) / nb)
        return QBAD("zoq_qmatrix_matmul: batch %lld x %zu floats overflow size_t", (long long)batch,
                    sh.cols > sh.rows ? sh.cols : sh.rows);
    if (nb < ZOQ__QM_GEMM_MIN_BATCH) {
        for (size_t b = 0; b < nb; b++)
            matvec(m, &sh, x + b * sh.cols, y + b * sh.rows);
        return ZOQ_OK;
    }
    size_t tile = ZOQ__QM_TILE_FLOATS / sh.cols;
    tile = tile < 1 ? 1 : tile > sh.rows ? sh.rows : tile;
    float *buf = malloc(tile * sh.cols * sizeof *buf);
    if (buf == NULL)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "zoq_qmatrix_matmul: out of memory for the "
                         "dequantized tile");
    for (size_t r0 = 0; r0 < sh.rows; r0 += tile) {
        const size_t r1 = r0 + tile < sh.rows ? r0 + tile : sh.rows;
        zoq__qm_dequant_rows(m, &sh, r0, r1, buf);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)(r1 - r0),
                    (int)sh.cols, 1.0f, x, (int)sh.cols, buf, (int)sh.cols, 0.0f, y + r0,
                    (int)sh.rows);
    }
    free(buf);
    return ZOQ_OK;
}
