/* register.c - a quantized matrix's buffers as trainable parameters: its
 * scales for QZO (Shang et al. 2025, arXiv:2505.13430), its int8 codes for
 * QuZO (arXiv:2502.12346) and ZOQO (arXiv:2501.06736). */
#include "core/internal.h"
#include "quant.h"

/* ZOQ_OK with m's shape in *sh, or why not (message naming `fn`). */
static int check_matrix(zoq_ctx *ctx, const zoq_qmatrix_t *in, zoq_qmatrix_t *m,
                        zoq__qm_shape_t *sh, const char *fn)
{
    if (!ctx)
        return zoq__fail(NULL, ZOQ_E_INVALID, "%s: the context is NULL", fn);
    if (zoq__qm_check(in, m, sh) != ZOQ_OK)
        return zoq__fail_wrap(ctx, ZOQ_E_INVALID, fn);
    return ZOQ_OK;
}

int zoq_param_add_qscales(zoq_ctx *ctx, const char *name, const zoq_qmatrix_t *in, int32_t *id)
{
    zoq_qmatrix_t mat, *m = &mat;
    zoq__qm_shape_t sh;
    int rc = check_matrix(ctx, in, m, &sh, "zoq_param_add_qscales");
    if (rc != ZOQ_OK)
        return rc;
    zoq_param_desc_t d = {.size = sizeof d, .name = name, .data = m->scales,
                          .dtype = ZOQ_F32, .device = ZOQ_DEVICE_CPU,
                          .numel = (int64_t)(sh.rows * sh.groups), .flags = ZOQ_PARAM_SCALE,
                          .rows = (int64_t)sh.rows, .cols = (int64_t)sh.groups};
    return zoq_param_add_desc(ctx, &d, id);
}

int zoq_param_add_qcodes(zoq_ctx *ctx, const char *name, const zoq_qmatrix_t *in, int32_t *id)
{
    zoq_qmatrix_t mat, *m = &mat;
    zoq__qm_shape_t sh;
    int rc = check_matrix(ctx, in, m, &sh, "zoq_param_add_qcodes");
    if (rc != ZOQ_OK)
        return rc;
    if (m->format != ZOQ_QFORMAT_INT8_ROW)
        return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "zoq_param_add_qcodes: packed int4 codes cannot "
                         "be trained in place; unpack them to int8 (zoq_q4_unpack) and register "
                         "those with zoq_param_set_codes(0, 15, scales, group_size)");
    zoq_param_desc_t d = {.size = sizeof d, .name = name, .data = m->codes, .dtype = ZOQ_I8,
                          .device = ZOQ_DEVICE_CPU, .numel = (int64_t)(sh.rows * sh.cols),
                          .rows = (int64_t)sh.rows, .cols = (int64_t)sh.cols};
    int32_t k;
    rc = zoq_param_add_desc(ctx, &d, &k);
    if (rc == ZOQ_OK)
        rc = zoq_param_set_codes(ctx, k, -127, 127, m->scales, (int64_t)sh.cols);
    if (rc == ZOQ_OK && id)
        *id = k;
    return rc;
}
