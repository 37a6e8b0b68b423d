/* dequant.c - the reference decoding of a quantized matrix to f32:
 * w = s_r·q (INT8_ROW), w = s·(q − z) (INT4_GROUP), one f32 product each. */
#include "quant.h"

void zoq__qm_dequant_rows(const zoq_qmatrix_t *m, const zoq__qm_shape_t *sh, size_t r0,
                          size_t r1, float *out)
{
    for (size_t r = r0; r < r1; r++, out += sh->cols) {
        const uint8_t *q = (const uint8_t *)m->codes + r * sh->row_bytes;
        for (size_t g = 0; g < sh->groups; g++) {
            float *o = out + g * sh->group;
            if (m->format == ZOQ_QFORMAT_INT8_ROW)
                zoq__q8_decode((const int8_t *)q, sh->cols, o);
            else
                zoq__q4_decode(q + g * sh->group / 2, m->zeros[r * sh->groups + g], sh->group, o);
            zoq__scale_by(o, sh->group, m->scales[r * sh->groups + g]);
        }
    }
}

int zoq_qmatrix_dequantize(const zoq_qmatrix_t *in, float *w)
{
    zoq_qmatrix_t mat, *m = &mat;
    zoq__qm_shape_t sh;
    const int st = zoq__qm_check_read(in, m, &sh);
    if (st != ZOQ_OK)
        return st;
    if (w == NULL)
        return QBAD("zoq_qmatrix_dequantize: w is NULL");
    zoq__qm_dequant_rows(m, &sh, 0, sh.rows, w);
    return ZOQ_OK;
}
