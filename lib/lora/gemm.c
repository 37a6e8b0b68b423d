/* gemm.c - the adapter's arithmetic through OpenBLAS: the unmerged forward
 * Y += s·(X Aᵀ) Bᵀ of a batch, and the merge W += c·s·B A, s = alpha/rank
 * (docs/lora.md). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "lora/lora.h"

int zoq_lora_apply(const zoq_lora_t *pair, const float *x, int64_t batch, float *y)
{
    zoq_lora_t lora, *l = &lora;
    const int rc = zoq__lora_read(NULL, pair, l, 1);
    if (rc != ZOQ_OK)
        return rc;
    if (!x || !y || batch < 1 || batch > ZOQ__LORA_DIM_MAX)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_lora_apply: x or y NULL, or batch %lld "
                         "outside 1..2^31-1", (long long)batch);
    const int m = (int)batch, r = l->rank, in = (int)l->in_features, out = (int)l->out_features;
    float *t = malloc((size_t)m * (size_t)r * sizeof *t);
    if (!t)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "zoq_lora_apply: out of memory for the %d x %d "
                         "scratch", m, r);
    const float s = (float)(l->alpha / l->rank);
    /* T = X Aᵀ (batch x r), then Y += s·T Bᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r, in, 1.0f, x, in, l->a, in, 0.0f,
                t, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, out, r, s, t, r, l->b, r, 1.0f, y,
                out);
    free(t);
    return ZOQ_OK;
}

int zoq_lora_merge(const zoq_lora_t *pair, double coef, float *w)
{
    zoq_lora_t lora, *l = &lora;
    const int rc = zoq__lora_read(NULL, pair, l, 1);
    if (rc != ZOQ_OK)
        return rc;
    if (!w || !isfinite(coef))
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_lora_merge: w NULL or coef not finite");
    const int r = l->rank, in = (int)l->in_features, out = (int)l->out_features;
    const float s = (float)(coef * l->alpha / l->rank);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in, r, s, l->b, r, l->a, in,
                1.0f, w, in);
    return ZOQ_OK;
}
