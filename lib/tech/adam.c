/* adam.c - ZO-Adam: Adam (Kingma & Ba 2015, arXiv:1412.6980) on ĝ, its
 * moments m and v kept per parameter as f32 on its device, bias-corrected
 * with the count of updates applied (the optimizer stage of backend.h). */
#include <math.h>

#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_ADAM_BETA1, ZOQ_OPT_ADAM_BETA2, ZOQ_OPT_ADAM_EPS, 0};

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
    int rc = zoq__buffer_ensure(ctx, p, &p->t.m);
    return rc == ZOQ_OK ? zoq__buffer_ensure(ctx, p, &p->t.v) : rc;
}

static void release(zoq_ctx *ctx)
{
    if (ctx->buffers_kind == ZOQ_OPTIM_ADAM)
        zoq__moments_free(ctx);
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

const zoq__tech zoq__tech_adam = {
    .name = "Adam",
    .keys = keys,
    .active = active,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_ADAM),
    .plan = plan,
    .prepare = prepare,
    .release = release,
    .update = update,
};
