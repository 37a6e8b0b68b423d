/* quant.h - internal helpers shared by the quantized-format sources
 * (lib/quant): descriptor checks, the shape they derive, rounding and
 * code decoding. Nothing here is exported. */
#ifndef ZOQ_QUANT_QUANT_H
#define ZOQ_QUANT_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Largest rows, cols and batch: they must fit a BLAS int. */
#define ZOQ__QM_DIM_MAX INT64_C(2147483647)
#define ZOQ__Q4_MAX 15

/* ZOQ_E_INVALID with a message for zoq_last_error(NULL). */
#define QBAD(...) zoq__fail(NULL, ZOQ_E_INVALID, __VA_ARGS__)

/* What a valid descriptor describes, in size_t. */
typedef struct zoq__qm_shape {
    size_t rows, cols;
    size_t group;           /* columns per scale: cols for INT8_ROW */
    size_t groups;          /* scales per row: 1 for INT8_ROW */
    size_t row_bytes;       /* bytes of codes per row */
} zoq__qm_shape_t;

/* Shape of a (format, rows, cols, group_size) into *out, or ZOQ_E_INVALID
 * when any is out of range or rows·cols·sizeof(float) overflows size_t. */
int zoq__qm_shape(int format, int64_t rows, int64_t cols, int32_t group_size,
                  zoq__qm_shape_t *out);
/* Reads the caller's descriptor in into *m (lib/core/abi.h's growth rule)
 * and checks its shape and buffer pointers; ZOQ_E_INVALID with a message for
 * zoq_last_error(NULL) otherwise. */
int zoq__qm_check(const zoq_qmatrix_t *in, zoq_qmatrix_t *m, zoq__qm_shape_t *out);
/* As zoq__qm_check, then that every scale is finite and every zero <= 15:
 * what reading the matrix (dequantize, matvec, matmul) needs. */
int zoq__qm_check_read(const zoq_qmatrix_t *in, zoq_qmatrix_t *m, zoq__qm_shape_t *out);

/* Writes rows [r0, r1) of the matrix as f32, (r1 - r0)·cols floats. */
void zoq__qm_dequant_rows(const zoq_qmatrix_t *m, const zoq__qm_shape_t *sh, size_t r0,
                          size_t r1, float *out);

/* Nearest integer to t, ties to even, independent of the FPU rounding mode.
 * Caller keeps |t| < 2^52. */
static inline double zoq__round_even(double t)
{
    double f = (double)(int64_t)t; /* truncation */
    if (f > t)
        f -= 1.0;                  /* floor */
    const double d = t - f;        /* exact: t with its integer part removed */
    if (d > 0.5 || (d == 0.5 && ((int64_t)f & 1)))
        return f + 1.0;
    return f;
}

/* out[j] = q[j] as f32 for n int8 codes (exact). */
static inline void zoq__q8_decode(const int8_t *q, size_t n, float *out)
{
    for (size_t j = 0; j < n; j++)
        out[j] = (float)q[j];
}

/* out[j] = q_j − z as f32 for n (even) packed 4-bit codes (exact). */
static inline void zoq__q4_decode(const uint8_t *p, int z, size_t n, float *out)
{
    for (size_t i = 0; i < n / 2; i++) {
        out[2 * i] = (float)((p[i] & 0xF) - z);
        out[2 * i + 1] = (float)((p[i] >> 4) - z);
    }
}

/* out[j] = s·out[j] for n floats: the one f32 rounding of a decoded weight. */
static inline void zoq__scale_by(float *out, size_t n, float s)
{
    for (size_t j = 0; j < n; j++)
        out[j] = s * out[j];
}

#endif /* ZOQ_QUANT_QUANT_H */
