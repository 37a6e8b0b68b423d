/* passes.c - the one operation a step needs from the backends: a fused
 * pass (backend.h) over every enabled parameter, one batch per device. A
 * pass's stages come from the step (what its shared arguments are) and the
 * techniques (lib/tech/: each tensor's state a stage reads). */
#include "rng/noise.h"
#include "tech/tech.h"

zoq__pass zoq__pass_base(const zoq_ctx *ctx, const zoq__tensor *t, void *dst)
{
    zoq__pass ps = {.src = t, .dst = dst, .stream = ZOQ__STREAM_PROBE,
                    .dist = (int)ctx->opts.dist, .scale = 1.0f};
    if (ctx->plan.lowrank.rank > 0)
        zoq__pass_stage(&ps, ZOQ__STAGE_LOWRANK, &ctx->plan.lowrank, NULL);
    return ps;
}

void zoq__pass_stages(const zoq_ctx *ctx, const zoq__param *p, zoq__pass *ps,
                      const zoq__update *upd, const zoq__hessian *hs, const zoq__mask *mask,
                      int final)
{
    if (mask)
        zoq__pass_stage(ps, ZOQ__STAGE_MASK, mask, zoq__tech_stage_state(p, ZOQ__STAGE_MASK));
    if (hs) {
        void *sigma = zoq__tech_stage_state(p, ZOQ__STAGE_PRECOND);
        zoq__pass_stage(ps, ZOQ__STAGE_PRECOND, hs, sigma);
        if (hs->n_curv > 0)
            zoq__pass_stage(ps, ZOQ__STAGE_CURV, hs, sigma);
    }
    if (upd) {
        int kind = upd->kind == ZOQ_OPTIM_ADAM       ? ZOQ__STAGE_ADAM
                   : upd->kind == ZOQ_OPTIM_MOMENTUM ? ZOQ__STAGE_MOMENTUM
                                                     : ZOQ__STAGE_SGD;
        void *factors = kind == ZOQ__STAGE_MOMENTUM
                            ? zoq__tech_stage_state(p, ZOQ__STAGE_LOZO_M) : NULL;
        if (factors) /* LOZO-M keeps this tensor's momentum */
            zoq__pass_stage(ps, ZOQ__STAGE_LOZO_M, upd, factors);
        else
            zoq__pass_stage(ps, kind, upd,
                            kind == ZOQ__STAGE_SGD ? NULL : zoq__tech_stage_state(p, kind));
    }
    if (final && (p->flags & ZOQ_PARAM_SCALE))
        zoq__pass_stage(ps, ZOQ__STAGE_FLOOR, &ctx->plan.floor, NULL);
}

int zoq__apply_all(zoq_ctx *ctx, float scale, const zoq__term *terms, int n_terms,
                   const zoq__update *upd, const zoq__hessian *hs, const zoq__mask *mask,
                   int final)
{
    return zoq__apply_chain(ctx, scale, terms, terms, n_terms, upd, hs, mask, final, NULL);
}

/* One device's passes (and the chained moves when then is set). */
static int run_device(zoq_ctx *ctx, int device, zoq__pass *passes, zoq__pass *next, int n,
                      const zoq__term *then)
{
    zoq__backend *be;
    int rc = zoq__device_backend(ctx, device, &be);
    if (rc != ZOQ_OK)
        return rc;
    if (!then)
        rc = be->iface->run_passes(be, passes, n);
    else if (ZOQ__BACKEND_HAS(be, run_chained))
        rc = be->iface->run_chained(be, passes, next, n);
    else if ((rc = be->iface->run_passes(be, passes, n)) == ZOQ_OK)
        rc = be->iface->run_passes(be, next, n);
    return rc == ZOQ_OK ? rc : zoq__fail(ctx, rc, "%s backend pass failed: %s %s",
                                         be->iface->name, zoq_strerror(rc),
                                         zoq__backend_error(be));
}

int zoq__apply_chain(zoq_ctx *ctx, float scale, const zoq__term *terms, const zoq__term *kept,
                     int n_terms, const zoq__update *upd, const zoq__hessian *hs,
                     const zoq__mask *mask, int final, const zoq__term *then)
{
    /* sized by zoq__plan_make, two per parameter: no allocation here */
    zoq__pass *passes = ctx->plan.passes, *next = passes + ctx->n_params;
    ctx->plan.floor = (float)ctx->opts.scale_floor;
    for (int device = ZOQ_DEVICE_CPU; device <= ZOQ_DEVICE_CUDA; device++) {
        int n = 0;
        for (int32_t i = 0; i < ctx->n_params; i++) {
            const zoq__param *p = &ctx->params[i];
            if (!p->enabled || p->device != device || p->t.dtype == ZOQ_I8) /* quant/codes.c */
                continue;
            zoq__pass *ps = &passes[n];
            *ps = zoq__pass_base(ctx, &p->t, p->t.data);
            const int no_decay = (p->flags & ZOQ_PARAM_NO_DECAY) != 0;
            ps->scale = no_decay ? 1.0f : scale;
            ps->n_terms = n_terms;
            ps->terms = no_decay ? kept : terms;
            zoq__pass_stages(ctx, p, ps, upd, hs, mask, final);
            if (then) {
                next[n] = zoq__pass_base(ctx, &p->t, p->t.data);
                next[n].n_terms = 1;
                next[n].terms = then;
            }
            n++;
        }
        int rc = n > 0 ? run_device(ctx, device, passes, next, n, then) : ZOQ_OK;
        if (rc != ZOQ_OK)
            return rc;
    }
    return ZOQ_OK;
}
