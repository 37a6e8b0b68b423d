/* scales.c - QZO (Shang et al. 2025, arXiv:2505.13430): a ZOQ_PARAM_SCALE
 * tensor holds the quantization scales of a model whose codes stay fixed;
 * the update's pass keeps every scale >= scale_floor, and DDC clips by
 * default (ddc.c). Trained on the CPU only. */
#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_SCALE_FLOOR, 0};

static int active(const zoq_ctx *ctx)
{
    return zoq__any_enabled_scales(ctx);
}

static int claims(int dtype, uint32_t flags)
{
    (void)dtype;
    return (flags & ZOQ_PARAM_SCALE) != 0;
}

const zoq__tech zoq__tech_scales = {
    .name = "QZO scale tensors (ZOQ_PARAM_SCALE)",
    .keys = keys,
    .active = active,
    .claims = claims,
    .needs = ZOQ__NEEDS_HOST,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_FLOOR),
};
