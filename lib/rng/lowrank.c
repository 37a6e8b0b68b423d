/* lowrank.c - LoZO directions as specified in lowrank.h. */
#include "lowrank.h"

#include <math.h>

#include "noise.h"
#include "zoq.h"

#define COLS_PER_BATCH 256

/* The run of elements from e (< end) that stays in one row, at most a batch
 * of columns: its row *i, first column *j and length (returned). */
static uint64_t row_run(uint64_t e, uint64_t end, int64_t cols, uint64_t *i, uint64_t *j)
{
    *i = e / (uint64_t)cols;
    *j = e % (uint64_t)cols;
    uint64_t n = (uint64_t)cols - *j;
    if (n > end - e)
        n = end - e;
    return n > COLS_PER_BATCH ? COLS_PER_BATCH : n;
}

void zoq__lowrank_fill(uint64_t key, uint64_t step, uint32_t query, int rank, uint64_t interval,
                       int64_t cols, uint64_t offset, size_t count, float *out)
{
    float u[ZOQ__LOZO_MAX_RANK], v[COLS_PER_BATCH * ZOQ__LOZO_MAX_RANK];
    const float inv = (float)(1.0 / sqrt((double)rank));
    const uint64_t step_v = step - step % interval, r = (uint64_t)rank;
    uint64_t e = offset, end = offset + count;
    while (e < end) {
        uint64_t i, j, n = row_run(e, end, cols, &i, &j);
        zoq__noise_fill(key, step, query, ZOQ__STREAM_LOZO_U, ZOQ_DIST_GAUSSIAN, i * r, r, u);
        zoq__noise_fill(key, step_v, query, ZOQ__STREAM_LOZO_V, ZOQ_DIST_GAUSSIAN, j * r, n * r,
                        v);
        for (uint64_t c = 0; c < n; c++) {
            float acc = 0.0f;
            for (uint64_t k = 0; k < r; k++)
                acc = acc + u[k] * v[c * r + k];
            out[e - offset + c] = acc * inv;
        }
        e += n;
    }
}

void zoq__lowrank_factor_fill(uint64_t key, uint64_t v_step, int n_factors, int rank,
                              const float *factors, int64_t rows, int64_t cols, uint64_t offset,
                              size_t count, float *out)
{
    float v[COLS_PER_BATCH * ZOQ__LOZO_MAX_RANK];
    const uint64_t r = (uint64_t)rank, stride = (uint64_t)rows * r;
    uint64_t e = offset, end = offset + count;
    while (e < end) {
        uint64_t i, j, n = row_run(e, end, cols, &i, &j);
        float *o = out + (e - offset);
        for (uint64_t c = 0; c < n; c++)
            o[c] = 0.0f;
        for (int q = 0; q < n_factors; q++) {
            const float *nrow = factors + (uint64_t)q * stride + i * r;
            zoq__noise_fill(key, v_step, (uint32_t)q, ZOQ__STREAM_LOZO_V, ZOQ_DIST_GAUSSIAN,
                            j * r, n * r, v);
            for (uint64_t c = 0; c < n; c++) {
                float acc = o[c];
                for (uint64_t k = 0; k < r; k++)
                    acc = acc + nrow[k] * v[c * r + k];
                o[c] = acc;
            }
        }
        e += n;
    }
}
