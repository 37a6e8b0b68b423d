/* dispatch.c - the context's CPU backend and the one operation the step
 * needs from the backends: a fused noise pass over every enabled parameter,
 * one batch per device. */
#include <stddef.h>
#include <unistd.h>

#include "core/internal.h"
#include "rng/noise.h"

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int zoq__ctx_backend(zoq_ctx *ctx, zoq__backend **out)
{
    if (ctx->auto_threads == 0) /* sysconf reads /sys: once per context, not per pass */
        ctx->auto_threads = default_threads();
    int want = ctx->opts.threads > 0 ? (int)ctx->opts.threads : ctx->auto_threads;
    if (ctx->backend && ctx->backend_threads != want) {
        ctx->backend->iface->destroy(ctx->backend);
        ctx->backend = NULL;
    }
    if (!ctx->backend) {
        int rc = zoq__cpu_backend_create(want, &ctx->backend);
        if (rc != ZOQ_OK)
            return zoq__fail(ctx, rc, "cannot start the CPU backend with %d threads: %s", want,
                             zoq_strerror(rc));
        ctx->backend_threads = want;
    }
    *out = ctx->backend;
    return ZOQ_OK;
}

zoq__pass zoq__pass_base(const zoq_ctx *ctx, const zoq__tensor *t, void *dst)
{
    return (zoq__pass){.src = t, .dst = dst, .stream = ZOQ__STREAM_PROBE,
                       .dist = (int)ctx->opts.dist, .scale = 1.0f,
                       .lozo_rank = (int)ctx->opts.lozo_rank,
                       .lozo_interval = (uint64_t)ctx->opts.lozo_interval};
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
            ps->upd = upd;
            ps->hs = hs;
            ps->mask = mask;
            ps->floor_on = final && (p->flags & ZOQ_PARAM_SCALE);
            ps->floor = (float)ctx->opts.scale_floor;
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
