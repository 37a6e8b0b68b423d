/* layout.c - shapes and buffer sizes of the quantized formats, descriptor
 * validation, and 4-bit packing (docs/quantized.md). */
#include <math.h>

#include "core/internal.h"
#include "quant.h"

int zoq__qm_shape(int format, int64_t rows, int64_t cols, int32_t group_size,
                  zoq__qm_shape_t *out)
{
    if (rows < 1 || rows > ZOQ__QM_DIM_MAX || cols < 1 || cols > ZOQ__QM_DIM_MAX)
        return QBAD("quantized matrix: shape %lld x %lld outside 1..2^31-1", (long long)rows,
                         (long long)cols);
    zoq__qm_shape_t sh = {(size_t)rows, (size_t)cols, 0, 0, 0};
    if (format == ZOQ_QFORMAT_INT8_ROW) {
        if (group_size != 0)
            return QBAD("quantized matrix: INT8_ROW needs group_size 0, got %d", (int)group_size);
        sh.group = sh.cols;
        sh.groups = 1;
        sh.row_bytes = sh.cols;
    } else if (format == ZOQ_QFORMAT_INT4_GROUP) {
        if ((group_size != 32 && group_size != 64 && group_size != 128) ||
            cols % group_size != 0)
            return QBAD("quantized matrix: INT4_GROUP needs group_size 32, 64 or 128 dividing cols %lld, "
                    "got %d", (long long)cols, (int)group_size);
        sh.group = (size_t)group_size;
        sh.groups = sh.cols / sh.group;
        sh.row_bytes = sh.cols / 2;
    } else {
        return QBAD("quantized matrix: unknown format %d", format);
    }
    /* every buffer, the dequantized f32 matrix included, is at most
     * rows·cols·sizeof(float) bytes */
    if (sh.cols > SIZE_MAX / sizeof(float) / sh.rows)
        return QBAD("quantized matrix: %lld x %lld floats overflow size_t", (long long)rows,
                    (long long)cols);
    *out = sh;
    return ZOQ_OK;
}

int zoq_qmatrix_sizes(int format, int64_t rows, int64_t cols, int32_t group_size,
                      size_t *codes_bytes, size_t *scales_bytes, size_t *zeros_bytes)
{
    zoq__qm_shape_t sh;
    const int st = zoq__qm_shape(format, rows, cols, group_size, &sh);
    if (st != ZOQ_OK)
        return st;
    const size_t n_scales = sh.rows * sh.groups;
    if (codes_bytes)
        *codes_bytes = sh.rows * sh.row_bytes;
    if (scales_bytes)
        *scales_bytes = n_scales * sizeof(float);
    if (zeros_bytes)
        *zeros_bytes = format == ZOQ_QFORMAT_INT4_GROUP ? n_scales : 0;
    return ZOQ_OK;
}

int zoq__qm_check(const zoq_qmatrix_t *in, zoq_qmatrix_t *m, zoq__qm_shape_t *out)
{
    *m = (zoq_qmatrix_t){0};
    const int rc = zoq__sized_in(NULL, "quantized matrix", m, in, sizeof *m);
    if (rc != ZOQ_OK)
        return rc;
    const int st = zoq__qm_shape(m->format, m->rows, m->cols, m->group_size, out);
    if (st != ZOQ_OK)
        return st;
    if (m->codes == NULL || m->scales == NULL)
        return QBAD("quantized matrix: codes or scales is NULL");
    if ((m->format == ZOQ_QFORMAT_INT4_GROUP) != (m->zeros != NULL))
        return QBAD("quantized matrix: zeros must be set for INT4_GROUP and NULL for INT8_ROW");
    return ZOQ_OK;
}

int zoq__qm_check_read(const zoq_qmatrix_t *in, zoq_qmatrix_t *m, zoq__qm_shape_t *out)
{
    const int st = zoq__qm_check(in, m, out);
    if (st != ZOQ_OK)
        return st;
    const size_t n = out->rows * out->groups;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(m->scales[i]))
            return QBAD("quantized matrix: scale %zu is not finite", i);
        if (m->zeros && m->zeros[i] > ZOQ__Q4_MAX)
            return QBAD("quantized matrix: zero %zu is %d, above 15", i, (int)m->zeros[i]);
    }
    return ZOQ_OK;
}

int zoq_q4_pack(const uint8_t *codes, size_t n, uint8_t *packed)
{
    if (codes == NULL || packed == NULL || n % 2 != 0)
        return QBAD("zoq_q4_pack: NULL buffer or odd n %zu", n);
    for (size_t i = 0; i < n; i++)
        if (codes[i] > ZOQ__Q4_MAX)
            return QBAD("zoq_q4_pack: code %zu is %d, above 15", i, (int)codes[i]);
    for (size_t i = 0; i < n / 2; i++)
        packed[i] = (uint8_t)(codes[2 * i] | (codes[2 * i + 1] << 4));
    return ZOQ_OK;
}

int zoq_q4_unpack(const uint8_t *packed, size_t n, uint8_t *codes)
{
    if (packed == NULL || codes == NULL || n % 2 != 0)
        return QBAD("zoq_q4_unpack: NULL buffer or odd n %zu", n);
    for (size_t i = 0; i < n / 2; i++) {
        codes[2 * i] = packed[i] & 0xF;
        codes[2 * i + 1] = packed[i] >> 4;
    }
    return ZOQ_OK;
}
