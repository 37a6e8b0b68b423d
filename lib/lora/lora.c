/* lora.c - LoRA pairs in the registry: A (rank x in) and B (out x rank)
 * registered together under the module's type as group, and PEFT's
 * initialization (A Kaiming-uniform from its own random stream, B zero or
 * warm-started). Equations and sources: docs/lora.md. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "lora/lora.h"
#include "rng/noise.h"

#define SUFFIX_A ".lora_A.weight"
#define SUFFIX_B ".lora_B.weight"
#define MODULE_MAX_LEN 4000

int zoq__lora_read(zoq_ctx *ctx, const zoq_lora_t *in, zoq_lora_t *l, int need_factors)
{
    *l = (zoq_lora_t){0};
    const int rc = zoq__sized_in(ctx, "lora", l, in, sizeof *l);
    if (rc != ZOQ_OK)
        return rc;
    if (l->rank < 1 || l->rank > ZOQ__LORA_RANK_MAX)
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora: rank %d outside 1..%d", (int)l->rank,
                         ZOQ__LORA_RANK_MAX);
    if (l->in_features < 1 || l->in_features > ZOQ__LORA_DIM_MAX || l->out_features < 1 ||
        l->out_features > ZOQ__LORA_DIM_MAX)
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora: features %lld x %lld outside 1..2^31-1",
                         (long long)l->out_features, (long long)l->in_features);
    if (!isfinite(l->alpha))
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora: alpha is not finite");
    if (need_factors && (!l->a || !l->b))
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora: factor %s is NULL", l->a ? "b" : "a");
    return ZOQ_OK;
}

int zoq_lora_add(zoq_ctx *ctx, const zoq_lora_t *in, int32_t *a_id, int32_t *b_id)
{
    zoq_lora_t pair, *l = &pair;
    int rc = zoq__check_idle(ctx, "changing the parameters");
    if (rc == ZOQ_OK)
        rc = zoq__lora_read(ctx, in, l, 1);
    if (rc != ZOQ_OK)
        return rc;
    if (!l->module || !l->module[0] || strlen(l->module) > MODULE_MAX_LEN)
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora: module must be a non-empty path of at "
                                             "most %d bytes", MODULE_MAX_LEN);
    if (l->flags & ~ZOQ_PARAM_DISABLED)
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora '%s': flags may only hold "
                                             "ZOQ_PARAM_DISABLED, got 0x%x", l->module,
                         (unsigned)l->flags);
    char name_a[MODULE_MAX_LEN + sizeof SUFFIX_A], name_b[MODULE_MAX_LEN + sizeof SUFFIX_B];
    snprintf(name_a, sizeof name_a, "%s" SUFFIX_A, l->module);
    snprintf(name_b, sizeof name_b, "%s" SUFFIX_B, l->module);
    if (zoq__param_index(ctx, name_b) >= 0)
        return zoq__fail(ctx, ZOQ_E_EXISTS, "a parameter named '%s' is already registered",
                         name_b);
    const zoq_param_desc_t da = {
        .size = sizeof da, .name = name_a, .data = l->a, .dtype = ZOQ_F32,
        .device = ZOQ_DEVICE_CPU, .numel = (int64_t)l->rank * l->in_features,
        .group = l->type, .flags = ZOQ_PARAM_LORA_A | l->flags, .rows = l->rank,
        .cols = l->in_features};
    zoq_param_desc_t db = da;
    db.name = name_b;
    db.data = l->b;
    db.numel = l->out_features * (int64_t)l->rank;
    db.flags = ZOQ_PARAM_LORA_B | l->flags;
    db.rows = l->out_features;
    db.cols = l->rank;
    int32_t ia, ib;
    if ((rc = zoq_param_add_desc(ctx, &da, &ia)) != ZOQ_OK)
        return rc;
    if ((rc = zoq_param_add_desc(ctx, &db, &ib)) != ZOQ_OK) {
        zoq__registry_pop(ctx); /* B failed (out of memory): nothing stays registered */
        return rc;
    }
    if (a_id)
        *a_id = ia;
    if (b_id)
        *b_id = ib;
    return ZOQ_OK;
}

/* A[i] = bound·(2u_i - 1), u_i = (w >> 8)·2^-24 from word i mod 4 of Philox
 * block i/4 of (key, step 0, query 0, stream ZOQ__STREAM_LORA_A): uniform on
 * [-bound, bound), one f32 rounding per element (docs/lora.md). */
static void fill_uniform(uint64_t key, float bound, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i += 4) {
        uint32_t w[4];
        zoq__noise_block(key, 0, 0, ZOQ__STREAM_LORA_A, (uint64_t)i / 4, w);
        for (int64_t j = 0; j < 4 && i + j < n; j++)
            out[i + j] = bound * ((float)(w[j] >> 8) * 0x1p-23f - 1.0f);
    }
}

int zoq_lora_init(zoq_ctx *ctx, int32_t a_id, int32_t b_id, double b_sigma)
{
    int rc = zoq__check_idle(ctx, "initializing a parameter");
    if (rc != ZOQ_OK)
        return rc;
    if (a_id < 0 || a_id >= ctx->n_params || b_id < 0 || b_id >= ctx->n_params)
        return zoq__fail(ctx, ZOQ_E_NOT_FOUND, "lora init: no parameter with id %d or %d",
                         a_id, b_id);
    const zoq__param *a = &ctx->params[a_id], *b = &ctx->params[b_id];
    if (!(a->flags & ZOQ_PARAM_LORA_A) || !(b->flags & ZOQ_PARAM_LORA_B) ||
        a->t.dtype != ZOQ_F32 || b->t.dtype != ZOQ_F32 || a->t.cols <= 0 || b->t.cols <= 0 ||
        a->t.numel / a->t.cols != b->t.cols)
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora init: '%s' and '%s' are not the f32 A "
                         "(r x in) and B (out x r) of one LoRA pair", a->name, b->name);
    if (!isfinite(b_sigma) || b_sigma < 0.0)
        return zoq__fail(ctx, ZOQ_E_INVALID, "lora init: b_sigma must be finite and >= 0, "
                                             "got %g", b_sigma);
    /* PEFT: kaiming_uniform_(A, a=sqrt(5)) gives bound sqrt(6/(1+5))/sqrt(in) */
    const float bound = (float)(1.0 / sqrt((double)a->t.cols));
    fill_uniform(a->t.key, bound, a->t.numel, a->t.data);
    if (b_sigma > 0.0)
        return zoq_param_init_normal(ctx, b_id, b_sigma);
    memset(b->t.data, 0, (size_t)b->t.numel * sizeof(float));
    return ZOQ_OK;
}
