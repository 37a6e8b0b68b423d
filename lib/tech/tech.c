/* tech.c - the walk over the technique descriptors (tech.h): the one
 * compatibility check of a step, and the state each technique keeps. */
#include <stdlib.h>

#include "core/bits.h"
#include "tech/tech.h"

_Static_assert(ZOQ__TECH_COUNT <= ZOQ__TECH_SLOTS, "zoq__param.tech has a slot per technique");

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

/* backend.h's stage kinds, as messages name them. */
static const char *const stage_names[ZOQ__STAGE_COUNT] = {
    "low-rank directions", "sparse mask", "HiZOO preconditioning", "HiZOO curvature update",
    "SGD", "momentum", "Adam", "LOZO-M", "QZO floor"};

/* Whether technique t applies to tensors of p's kind. */
static int applies(const zoq__tech *t, const zoq__param *p)
{
    return p->enabled && (!t->claims || t->claims(p->t.dtype, p->flags));
}

/* ZOQ_E_UNSUPPORTED if a device that t's tensors are on does not run a
 * stage t needs. */
static int check_stages(zoq_ctx *ctx, const zoq__tech *t)
{
    for (int device = ZOQ_DEVICE_CPU; t->stages && device <= ZOQ_DEVICE_CUDA; device++) {
        int32_t k = 0;
        while (k < ctx->n_params && !(applies(t, &ctx->params[k]) &&
                                      ctx->params[k].device == device))
            k++;
        if (k == ctx->n_params)
            continue;
        for (int kind = 0; kind < ZOQ__STAGE_COUNT; kind++) {
            int ok;
            if (!(t->stages >> kind & 1u))
                continue;
            int rc = zoq__device_supports(ctx, device, kind, &ok);
            if (rc != ZOQ_OK)
                return rc;
            if (!ok)
                return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "%s needs the %s stage in its "
                                 "passes, which the %s backend of parameter '%s' does not run",
                                 t->name, stage_names[kind],
                                 device == ZOQ_DEVICE_CPU ? "CPU" : "CUDA", ctx->params[k].name);
        }
    }
    return ZOQ_OK;
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
        int rc = check_stages(ctx, t);
        if (rc != ZOQ_OK)
            return rc;
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

void *zoq__tech_stage_state(const zoq__param *p, int kind)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->stage_state &&
            ((table[i]->stages | table[i]->optional_stages) >> kind & 1u))
            return table[i]->stage_state(p);
    return NULL;
}

uint32_t zoq__tech_saved(const zoq_ctx *ctx, const zoq__param *p)
{
    uint32_t n = 0;
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->saved)
            n += table[i]->saved(ctx, p);
    return n;
}

void zoq__tech_save(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b)
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->save)
            table[i]->save(ctx, p, b);
}

int zoq__tech_load(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                   void **staged[ZOQ__TECH_COUNT])
{
    const int32_t id = (int32_t)(p - ctx->params);
    for (int i = 0; tag < 32 && i < ZOQ__TECH_COUNT; i++) {
        if (!(table[i]->tags >> tag & 1u))
            continue;
        int rc = table[i]->load(ctx, r, tag, kind, p, &staged[i][id]);
        if (rc != ZOQ_E_NOT_FOUND)
            return rc;
    }
    return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': bad buffer tag %u", p->name, tag);
}

void zoq__tech_commit(zoq_ctx *ctx, void **staged[ZOQ__TECH_COUNT])
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        if (table[i]->commit)
            table[i]->commit(ctx, staged[i]);
}

void zoq__tech_discard(const zoq_ctx *ctx, void **staged[ZOQ__TECH_COUNT])
{
    for (int i = 0; i < ZOQ__TECH_COUNT; i++)
        for (int32_t k = 0; staged[i] && table[i]->discard && k < ctx->n_params; k++)
            if (staged[i][k])
                table[i]->discard(staged[i][k]);
}

void zoq__tech_put_f32(zoq__buf *b, const float *x, int64_t count)
{
    for (int64_t j = 0; j < count; j++)
        zoq__buf_put_le(b, zoq__f32_bits(x[j]), 4);
}

int zoq__tech_get_f32(zoq_ctx *ctx, zoq__rbuf *r, const zoq__param *p, int64_t count,
                      float **out)
{
    if ((uint64_t)(r->n - r->at) / 4 < (uint64_t)count)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': truncated buffer", p->name);
    float *x = malloc((size_t)(count ? count : 1) * sizeof *x);
    if (!x)
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading the state of '%s'", p->name);
    for (int64_t j = 0; j < count; j++)
        x[j] = zoq__f32_from_bits((uint32_t)zoq__rbuf_le(r, 4));
    *out = x;
    return ZOQ_OK;
}

void zoq__tech_save_f32(const zoq__param *p, int id, uint32_t tag, zoq__buf *b)
{
    if (!p->tech[id])
        return;
    zoq__buf_put_le(b, tag, 4);
    zoq__tech_put_f32(b, p->tech[id], p->t.numel);
}

int zoq__tech_load_f32(zoq_ctx *ctx, zoq__rbuf *r, const zoq__param *p, void **staged)
{
    if (*staged)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': repeated buffer tag", p->name);
    return zoq__tech_get_f32(ctx, r, p, p->t.numel, (float **)staged);
}

void zoq__tech_commit_f32(zoq_ctx *ctx, int id, void **staged)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param_release(ctx, &ctx->params[i], ctx->params[i].tech[id]);
        ctx->params[i].tech[id] = staged[i];
    }
}
