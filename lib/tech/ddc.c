/* ddc.c - DDC, directional-derivative clipping (Shang et al. 2025,
 * arXiv:2505.13430): each projected gradient g_q is clipped to [-C, C]
 * before it weighs its direction. QZO scale tensors clip by default: while
 * one trains and clip is 0, C is scale_clip. */
#include <math.h>

#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_CLIP, ZOQ_OPT_SCALE_CLIP, 0};

/* C, or 0 when off. */
static double threshold(const zoq_ctx *ctx)
{
    if (ctx->opts.clip > 0.0 || !zoq__any_enabled_scales(ctx))
        return ctx->opts.clip;
    return ctx->opts.scale_clip;
}

static int active(const zoq_ctx *ctx)
{
    return threshold(ctx) > 0.0;
}

/* g clipped, counted in plan.n_clipped when it was. */
static double weigh(zoq_ctx *ctx, double g)
{
    const double c = threshold(ctx);
    if (c > 0.0 && fabs(g) > c) {
        ctx->plan.n_clipped++;
        return g > 0.0 ? c : -c;
    }
    return g;
}

const zoq__tech zoq__tech_ddc = {
    .name = "DDC clipping",
    .keys = keys,
    .active = active,
    .weigh = weigh,
};
