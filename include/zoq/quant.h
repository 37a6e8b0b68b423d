/*
 * zoq/quant.h - quantized weight formats and quantization-aware
 * training (docs/quantized.md). Part of the public API: include <zoq.h>, which includes every part.
 */
#ifndef ZOQ_H_QUANT
#define ZOQ_H_QUANT

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Quantized formats                                                        */
/* ------------------------------------------------------------------------ */

/* Integer weight formats for quantized models, and the forward pass over
 * them. Pure functions of caller-owned buffers: no context, thread-safe, no
 * allocation except the scratch tile of zoq_qmatrix_matmul. On any error
 * nothing is written. Layouts, rounding, error bounds and how to map GPTQ,
 * AWQ and GGUF checkpoints: docs/quantized.md. */

typedef enum zoq_qformat {
    ZOQ_QFORMAT_INT8_ROW = 0,   /* int8 codes in [-127, 127], one f32 scale per row:
                                   w = s_r·q; no zeros */
    ZOQ_QFORMAT_INT4_GROUP = 1  /* uint4 codes 0..15, two per byte (even column in the
                                   low nibble); per group of group_size columns of a
                                   row an f32 scale and a uint8 zero 0..15:
                                   w = s·(q − z) */
} zoq_qformat_t;

/* A quantized rows x cols matrix W (rows = output channels, cols = input
 * features), row-major. Zero-initialize, set size = sizeof(zoq_qmatrix_t),
 * fill the shape and point at caller-owned buffers of the sizes
 * zoq_qmatrix_sizes gives; zoq never keeps the pointers. */
typedef struct zoq_qmatrix {
    size_t size;
    int32_t format;             /* zoq_qformat_t */
    int32_t group_size;         /* INT4_GROUP: 32, 64 or 128, dividing cols; INT8_ROW: 0 */
    int64_t rows;               /* 1 .. 2^31 - 1 */
    int64_t cols;               /* 1 .. 2^31 - 1 */
    void *codes;                /* INT8_ROW: rows·cols int8_t; INT4_GROUP: rows·cols/2 bytes */
    float *scales;              /* INT8_ROW: rows; INT4_GROUP: rows·(cols/group_size), row-major */
    uint8_t *zeros;             /* INT4_GROUP: one byte per scale, 0..15; INT8_ROW: NULL */
} zoq_qmatrix_t;

/* Bytes of the codes, scales and zeros buffers of a rows x cols matrix in
 * `format` (any output may be NULL; zeros 0 for INT8_ROW). ZOQ_E_INVALID for
 * an unknown format, a bad shape or group size, or sizes that overflow size_t. */
ZOQ_API int zoq_qmatrix_sizes(int format, int64_t rows, int64_t cols, int32_t group_size,
                              size_t *codes_bytes, size_t *scales_bytes, size_t *zeros_bytes);
/* Quantizes the row-major rows x cols f32 matrix w into m's buffers by
 * round-to-nearest (ties to even) with min-max scales. ZOQ_E_INVALID for a
 * bad descriptor, NULL w or a non-finite element of w. */
ZOQ_API int zoq_qmatrix_quantize(const float *w, const zoq_qmatrix_t *m);
/* Writes the f32 matrix m represents (rows·cols floats, row-major) to w.
 * ZOQ_E_INVALID for a bad descriptor, NULL w, a non-finite scale or a zero > 15. */
ZOQ_API int zoq_qmatrix_dequantize(const zoq_qmatrix_t *m, float *w);
/* y = W x: x has cols floats, y receives rows floats (may not overlap x or
 * m's buffers). Errors as zoq_qmatrix_dequantize. */
ZOQ_API int zoq_qmatrix_matvec(const zoq_qmatrix_t *m, const float *x, float *y);
/* Y = X Wᵀ for a batch: X is batch x cols, Y receives batch x rows, both
 * row-major (Y may not overlap X or m's buffers). Errors as
 * zoq_qmatrix_dequantize, batch in 1 .. 2^31 - 1; ZOQ_E_NOMEM if the
 * dequantized tile cannot be allocated. */
ZOQ_API int zoq_qmatrix_matmul(const zoq_qmatrix_t *m, const float *x, int64_t batch,
                               float *y);
/* Packs n (even) 4-bit codes, one per byte, into n/2 bytes: codes[2i] in the
 * low nibble of packed[i], codes[2i+1] in the high. ZOQ_E_INVALID for NULL,
 * odd n or a code > 15. */
ZOQ_API int zoq_q4_pack(const uint8_t *codes, size_t n, uint8_t *packed);
/* Unpacks n (even) codes from n/2 packed bytes, one code per byte.
 * ZOQ_E_INVALID for NULL or odd n. */
ZOQ_API int zoq_q4_unpack(const uint8_t *packed, size_t n, uint8_t *codes);

/* QZO: registers m's scales (f32, rows x groups) in ctx as a trainable
 * ZOQ_PARAM_SCALE tensor named name (codes and zeros stay fixed); m's
 * buffers must outlive their use. Id to *id (may be NULL). Errors as
 * zoq_param_add_desc, ZOQ_E_INVALID for a bad descriptor. */
ZOQ_API int zoq_param_add_qscales(zoq_ctx *ctx, const char *name, const zoq_qmatrix_t *m,
                                  int32_t *id);
/* QuZO/ZOQO: registers the int8 codes of an INT8_ROW matrix m as a ZOQ_I8
 * tensor with range [-127, 127] and m's row scales. ZOQ_E_UNSUPPORTED for
 * INT4_GROUP (packed: unpack to int8 and use zoq_param_set_codes, range
 * [0, 15], group = group_size); otherwise errors as zoq_param_add_qscales. */
ZOQ_API int zoq_param_add_qcodes(zoq_ctx *ctx, const char *name, const zoq_qmatrix_t *m,
                                 int32_t *id);

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H_QUANT */
