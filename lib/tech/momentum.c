/* momentum.c - ZO-SGD with momentum (ZO-SGD-MMT): b = mu·b + ĝ,
 * θ = θ − η·b, b kept per parameter as f32 on its device (the optimizer
 * stage of backend.h). Under LOZO-M a 2-D tensor keeps b as low-rank
 * factors instead (lozo_m.c). Also the moment buffers momentum and Adam
 * share: a change of optimizer starts them from zero. */
#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_MOMENTUM, 0};

void zoq__moments_free(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        zoq__param_release(ctx, p, p->t.m);
        zoq__param_release(ctx, p, p->t.v);
        p->t.m = p->t.v = NULL;
        zoq__lozom_free(p);
    }
    ctx->buffers_kind = ZOQ_OPTIM_SGD;
}

int zoq__moments_plan(zoq_ctx *ctx, int kind)
{
    if (ctx->buffers_kind != kind)
        zoq__moments_free(ctx); /* one optimizer's m is not another's */
    ctx->buffers_kind = kind;
    return ZOQ_OK;
}

int zoq__buffer_ensure(zoq_ctx *ctx, const zoq__param *p, float **buf)
{
    void *b;
    if (*buf)
        return ZOQ_OK;
    int rc = zoq__param_alloc(ctx, p, (size_t)p->t.numel * sizeof **buf, &b);
    if (rc == ZOQ_OK)
        *buf = b;
    return rc;
}

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.optimizer == ZOQ_OPTIM_MOMENTUM;
}

static int plan(zoq_ctx *ctx)
{
    return zoq__moments_plan(ctx, ZOQ_OPTIM_MOMENTUM);
}

static int prepare(zoq_ctx *ctx, zoq__param *p)
{
    if (zoq__lozom_applies(ctx, p)) { /* its momentum is the factors */
        zoq__param_release(ctx, p, p->t.m);
        p->t.m = NULL;
        return ZOQ_OK;
    }
    return zoq__buffer_ensure(ctx, p, &p->t.m);
}

static void release(zoq_ctx *ctx)
{
    if (ctx->buffers_kind == ZOQ_OPTIM_MOMENTUM)
        zoq__moments_free(ctx);
}

static void update(zoq_ctx *ctx, zoq__update *u)
{
    u->mu = (float)ctx->opts.momentum;
}

const zoq__tech zoq__tech_momentum = {
    .name = "momentum",
    .keys = keys,
    .active = active,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_MOMENTUM),
    .plan = plan,
    .prepare = prepare,
    .release = release,
    .update = update,
};
