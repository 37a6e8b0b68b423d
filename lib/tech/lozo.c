/* lozo.c - LoZO (Chen et al., ICLR 2025, arXiv:2410.07698): a 2-D tensor's
 * directions are U·Vᵀ/sqrt(r), U fresh each step, V redrawn every nu steps
 * (rng/lowrank.h); other tensors keep z. A stage of the pass's directions. */
#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_LOZO_RANK, ZOQ_OPT_LOZO_INTERVAL, 0};

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.lozo_rank > 0;
}

/* The LOWRANK stage's argument for the step's passes. */
static int plan(zoq_ctx *ctx)
{
    ctx->plan.lowrank = (zoq__lowrank){.rank = (int)ctx->opts.lozo_rank,
                                       .interval = (uint64_t)ctx->opts.lozo_interval};
    return ZOQ_OK;
}

static void release(zoq_ctx *ctx)
{
    ctx->plan.lowrank = (zoq__lowrank){0};
}

const zoq__tech zoq__tech_lozo = {
    .name = "LoZO",
    .keys = keys,
    .active = active,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_LOWRANK),
    .plan = plan,
    .release = release,
};
