/* codes.c - integer-code (ZOQ_I8) tensors trained on their own grid with
 * QuZO (arXiv:2502.12346) or ZOQO (arXiv:2501.06736). They move on the
 * calling thread beside the passes (lib/quant/codes.c), from a copy of θ
 * that a chained move would not have, and only with plain SGD updates. */
#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_QMETHOD, ZOQ_OPT_QUZO_BITS, 0};

static int active(const zoq_ctx *ctx)
{
    return zoq__any_enabled_codes(ctx);
}

static int claims(int dtype, uint32_t flags)
{
    (void)flags;
    return dtype == ZOQ_I8;
}

const zoq__tech zoq__tech_codes = {
    .name = "integer-code (ZOQ_I8) tensors",
    .keys = keys,
    .active = active,
    .claims = claims,
    .conflicts = ZOQ__TECH_BIT(momentum) | ZOQ__TECH_BIT(adam) | ZOQ__TECH_BIT(hizoo) |
                 ZOQ__TECH_BIT(sparse) | ZOQ__TECH_BIT(lozo),
    .needs = ZOQ__NEEDS_HOST | ZOQ__NEEDS_THETA,
    .plan = zoq__codes_plan,
};
