/* momentum.c - ZO-SGD with momentum (ZO-SGD-MMT): b = mu·b + ĝ,
 * θ = θ − η·b, b kept per parameter as f32 on its device (the momentum
 * stage of backend.h; state-file tag 1). Under LOZO-M a 2-D tensor keeps b
 * as low-rank factors instead (lozo_m.c). A change of optimizer starts the
 * moments from zero: one optimizer's m is not another's. */
#include <stdlib.h>

#include "tech/tech.h"

#define TAG_M 1u

static const int keys[] = {ZOQ_OPT_MOMENTUM, 0};

static float **m_of(zoq__param *p)
{
    return (float **)&p->tech[ZOQ__TECH_momentum];
}

static void *stage_state(const zoq__param *p)
{
    return p->tech[ZOQ__TECH_momentum];
}

int zoq__moments_plan(zoq_ctx *ctx, int kind)
{
    if (ctx->buffers_kind != kind) { /* whichever optimizer's they were */
        zoq__tech_momentum.release(ctx);
        zoq__tech_adam.release(ctx);
    }
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
        zoq__param_release(ctx, p, *m_of(p));
        *m_of(p) = NULL;
        return ZOQ_OK;
    }
    return zoq__buffer_ensure(ctx, p, m_of(p));
}

/* Frees every parameter's b and LOZO-M factors (they are b too). */
static void release(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param_release(ctx, &ctx->params[i], *m_of(&ctx->params[i]));
        *m_of(&ctx->params[i]) = NULL;
        zoq__lozom_free(&ctx->params[i]);
    }
    if (ctx->buffers_kind == ZOQ_OPTIM_MOMENTUM)
        ctx->buffers_kind = ZOQ_OPTIM_SGD;
}

static void update(zoq_ctx *ctx, zoq__update *u)
{
    u->mu = (float)ctx->opts.momentum;
}

static uint32_t saved(const zoq_ctx *ctx, const zoq__param *p)
{
    (void)ctx;
    return p->tech[ZOQ__TECH_momentum] != NULL;
}

static void save(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b)
{
    (void)ctx;
    zoq__tech_save_f32(p, ZOQ__TECH_momentum, TAG_M, b);
}

static int load(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                void **staged)
{
    (void)tag;
    if (kind != ZOQ_OPTIM_MOMENTUM)
        return ZOQ_E_NOT_FOUND; /* Adam's m */
    return zoq__tech_load_f32(ctx, r, p, staged);
}

static void commit(zoq_ctx *ctx, void **staged)
{
    zoq__tech_commit_f32(ctx, ZOQ__TECH_momentum, staged);
}

const zoq__tech zoq__tech_momentum = {
    .name = "momentum",
    .keys = keys,
    .active = active,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_MOMENTUM),
    .stage_state = stage_state,
    .plan = plan,
    .prepare = prepare,
    .release = release,
    .update = update,
    .saved = saved,
    .save = save,
    .tags = 1u << TAG_M,
    .load = load,
    .commit = commit,
    .discard = free,
};
