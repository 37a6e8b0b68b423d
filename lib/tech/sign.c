/* sign.c - ZO-SGD-Sign (as ZOQO, arXiv:2501.06736, updates): a direction
 * is weighed by sign(g_q) instead of g_q, after DDC. */
#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_SIGN, 0};

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.sign != 0;
}

static double weigh(zoq_ctx *ctx, double g)
{
    return ctx->opts.sign ? (double)((g > 0.0) - (g < 0.0)) : g;
}

const zoq__tech zoq__tech_sign = {
    .name = "ZO-SGD-Sign",
    .keys = keys,
    .active = active,
    .weigh = weigh,
};
