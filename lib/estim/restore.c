/* restore.c - ZOQ_OPT_EXACT_RESTORE: an in-place step copies θ of the
 * enabled float parameters before it moves them, and a failed step copies it
 * back, so the parameters return bit for bit (the moves alone return them to
 * the rounding of the passes: docs/inplace.md). ZOQ_I8 tensors return exactly
 * either way (quant/codes.c keeps a copy of their codes). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/strided.h"

static int kept(const zoq__param *p)
{
    return p->enabled && p->t.dtype != ZOQ_I8;
}

static size_t bytes_of(const zoq__param *p)
{
    return (size_t)p->t.numel * zoq__dtype_size(p->t.dtype);
}

/* The copy is dense; a strided view's elements are gathered and scattered
 * (the bytes between them are not the step's to write). */
static void save(const zoq__param *p)
{
    zoq__gather(p->t.data, zoq__dtype_size(p->t.dtype), p->t.stride, 0, p->t.numel, p->restore);
}

static void load(const zoq__param *p)
{
    zoq__scatter(p->t.data, zoq__dtype_size(p->t.dtype), p->t.stride, 0, p->t.numel, p->restore);
}

int zoq__restore_save(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (!kept(p))
            continue;
        if (p->device != ZOQ_DEVICE_CPU)
            return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "exact_restore: parameter '%s' is on a "
                             "CUDA device; exact restores copy CPU parameters only", p->name);
        if (!p->restore && !(p->restore = malloc(bytes_of(p))))
            return zoq__fail(ctx, ZOQ_E_NOMEM, "exact_restore: out of memory for a copy of "
                             "'%s'", p->name);
    }
    for (int32_t i = 0; i < ctx->n_params; i++)
        if (kept(&ctx->params[i]))
            save(&ctx->params[i]);
    return ZOQ_OK;
}

void zoq__restore_load(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        if (kept(&ctx->params[i]))
            load(&ctx->params[i]);
}
