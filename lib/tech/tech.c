/* tech.c - the walk over the technique descriptors (tech.h): the one
 * compatibility check of a step, and the state each technique keeps. */
#include "tech/tech.h"

static const zoq__tech *const table[ZOQ__TECH_COUNT] = {
#define ZOQ__TECH(name) &zoq__tech_##name,
#include "tech/list.h"
#undef ZOQ__TECH
};

/* The bits of the active techniques. */
static uint32_t active_set(const zoq_ctx *ctx)
{
    uint32_t on = 0;
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->active(ctx))
            on |= 1u << i;
    return on;
}

int zoq__tech_check(zoq_ctx *ctx)
{
    const uint32_t on = active_set(ctx);
    for (int i = 0; i < ZOQ__TECH_COUNT; i++) {
        const zoq__tech *t = table[i];
        if (!(on >> i & 1u))
            continue;
        for (int j = 0; j < ZOQ__TECH_COUNT; j++)
            if (j != i && (on >> j & 1u) && ((t->conflicts >> j | table[j]->conflicts >> i) & 1u))
                return zoq__fail(ctx, ZOQ_E_INVALID, "%s cannot be combined with %s: turn one "
                                 "of them off", t->name, table[j]->name);
        if ((t->needs & ZOQ__NEEDS_CENTRAL) && ctx->opts.estimator != ZOQ_EST_CENTRAL)
            return zoq__fail(ctx, ZOQ_E_INVALID, "%s needs the central estimator", t->name);
    }
    return ZOQ_OK;
}

int zoq__tech_prepare(zoq_ctx *ctx)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++) {
        const zoq__tech *t = table[i];
        if (!t->active(ctx)) {
            if (t->release)
                t->release(ctx);
            continue;
        }
        int rc = t->plan ? t->plan(ctx) : ZOQ_OK;
        for (int32_t k = 0; rc == ZOQ_OK && t->prepare && k < ctx->n_params; k++)
            if (ctx->params[k].enabled)
                rc = t->prepare(ctx, &ctx->params[k]);
        if (rc != ZOQ_OK)
            return rc;
    }
    return ZOQ_OK;
}

void zoq__tech_release_all(zoq_ctx *ctx)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->release)
            table[i]->release(ctx);
}

double zoq__tech_weigh(zoq_ctx *ctx, double g)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->weigh)
            g = table[i]->weigh(ctx, g);
    return g;
}

void zoq__tech_update(zoq_ctx *ctx, zoq__update *u)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->update && table[i]->active(ctx))
            table[i]->update(ctx, u);
}

void zoq__tech_undo(zoq_ctx *ctx)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->undo && table[i]->active(ctx))
            table[i]->undo(ctx);
}

int zoq__tech_any(const zoq_ctx *ctx, uint32_t needs)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if ((table[i]->needs & needs) == needs && table[i]->active(ctx))
            return 1;
    return 0;
}

int zoq__tech_check_param(zoq_ctx *ctx, const char *name, int dtype, uint32_t flags,
                          int device)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++) {
        const zoq__tech *t = table[i];
        if (device != ZOQ_DEVICE_CPU && (t->needs & ZOQ__NEEDS_HOST) && t->claims &&
            t->claims(dtype, flags))
            return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "param '%s': %s are trained on the CPU "
                             "only", name, t->name);
    }
    return ZOQ_OK;
}
