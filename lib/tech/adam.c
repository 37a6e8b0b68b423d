/* adam.c - ZO-Adam: Adam (Kingma & Ba 2015, arXiv:1412.6980) on ĝ, its
 * moments m and v kept per parameter as f32 on its device (state-file tags
 * 1 and 2), bias-corrected with the count of updates applied (the Adam
 * stage of backend.h). */
#include <math.h>
#include <stdlib.h>

#include "tech/tech.h"

#define TAG_M 1u
#define TAG_V 2u

static const int keys[] = {ZOQ_OPT_ADAM_BETA1, ZOQ_OPT_ADAM_BETA2, ZOQ_OPT_ADAM_EPS, 0};

static zoq__moments *moments(const zoq__param *p)
{
    return p->tech[ZOQ__TECH_adam];
}

static void *stage_state(const zoq__param *p)
{
    return moments(p);
}

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.optimizer == ZOQ_OPTIM_ADAM;
}

static int plan(zoq_ctx *ctx)
{
    return zoq__moments_plan(ctx, ZOQ_OPTIM_ADAM);
}

static int prepare(zoq_ctx *ctx, zoq__param *p)
{
    if (!moments(p) && !(p->tech[ZOQ__TECH_adam] = calloc(1, sizeof(zoq__moments))))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the Adam state of '%s'", p->name);
    int rc = zoq__buffer_ensure(ctx, p, &moments(p)->m);
    return rc == ZOQ_OK ? zoq__buffer_ensure(ctx, p, &moments(p)->v) : rc;
}

/* Frees p's moments: numel floats each, on p's device. */
static void free_moments(zoq_ctx *ctx, zoq__param *p)
{
    zoq__moments *mv = moments(p);
    if (!mv)
        return;
    zoq__param_release(ctx, p, mv->m);
    zoq__param_release(ctx, p, mv->v);
    free(mv);
    p->tech[ZOQ__TECH_adam] = NULL;
}

static void release(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        free_moments(ctx, &ctx->params[i]);
    if (ctx->buffers_kind == ZOQ_OPTIM_ADAM)
        ctx->buffers_kind = ZOQ_OPTIM_SGD;
}

static void update(zoq_ctx *ctx, zoq__update *u)
{
    const double t = (double)(ctx->updates + 1);
    u->beta1 = (float)ctx->opts.adam_beta1;
    u->beta2 = (float)ctx->opts.adam_beta2;
    u->eps = (float)ctx->opts.adam_eps;
    u->bc1 = (float)(1.0 - pow(ctx->opts.adam_beta1, t));
    u->bc2 = (float)(1.0 - pow(ctx->opts.adam_beta2, t));
}

static uint32_t saved(const zoq_ctx *ctx, const zoq__param *p)
{
    (void)ctx;
    return moments(p) ? (moments(p)->m != NULL) + (moments(p)->v != NULL) : 0;
}

static void save(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b)
{
    (void)ctx;
    const zoq__moments *mv = moments(p);
    const float *bufs[2] = {mv ? mv->m : NULL, mv ? mv->v : NULL};
    for (uint32_t k = 0; k < 2; k++) {
        if (!bufs[k])
            continue;
        zoq__buf_put_le(b, TAG_M + k, 4);
        zoq__tech_put_f32(b, bufs[k], p->t.numel);
    }
}

static void discard(void *staged)
{
    zoq__moments *mv = staged;
    free(mv->m);
    free(mv->v);
    free(mv);
}

static int load(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                void **staged)
{
    if (kind != ZOQ_OPTIM_ADAM)
        return ZOQ_E_NOT_FOUND; /* momentum's m */
    if (!*staged && !(*staged = calloc(1, sizeof(zoq__moments))))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading the state of '%s'", p->name);
    zoq__moments *mv = *staged;
    float **dst = tag == TAG_M ? &mv->m : &mv->v;
    if (*dst)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': Adam buffer %u given twice",
                         p->name, tag);
    return zoq__tech_get_f32(ctx, r, p, p->t.numel, dst);
}

static void commit(zoq_ctx *ctx, void **staged)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        free_moments(ctx, &ctx->params[i]);
        ctx->params[i].tech[ZOQ__TECH_adam] = staged[i];
    }
}

const zoq__tech zoq__tech_adam = {
    .name = "Adam",
    .keys = keys,
    .active = active,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_ADAM),
    .stage_state = stage_state,
    .plan = plan,
    .prepare = prepare,
    .release = release,
    .update = update,
    .saved = saved,
    .save = save,
    .tags = 1u << TAG_M | 1u << TAG_V,
    .load = load,
    .commit = commit,
    .discard = discard,
};
