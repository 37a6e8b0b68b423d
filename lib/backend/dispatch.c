/* dispatch.c - the context's backend and the one operation the step needs
 * from it: a fused noise pass over every enabled parameter. */
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
                   const zoq__update *upd, const zoq__hessian *hs, const zoq__mask *mask)
{
    return zoq__apply_chain(ctx, scale, terms, n_terms, upd, hs, mask, NULL);
}

int zoq__apply_chain(zoq_ctx *ctx, float scale, const zoq__term *terms, int n_terms,
                     const zoq__update *upd, const zoq__hessian *hs, const zoq__mask *mask,
                     const zoq__term *then)
{
    zoq__backend *be;
    int rc = zoq__ctx_backend(ctx, &be);
    if (rc != ZOQ_OK)
        return rc;
    /* sized by zoq__plan_make, two per parameter: no allocation here */
    zoq__pass *passes = ctx->plan.passes, *next = passes + ctx->n_params;
    int n = 0;
    for (int32_t i = 0; i < ctx->n_params; i++) {
        if (!ctx->params[i].enabled)
            continue;
        zoq__pass *ps = &passes[n];
        *ps = zoq__pass_base(ctx, &ctx->params[i].t, ctx->params[i].t.data);
        ps->scale = scale;
        ps->n_terms = n_terms;
        ps->terms = terms;
        ps->upd = upd;
        ps->hs = hs;
        ps->mask = mask;
        if (then) {
            next[n] = zoq__pass_base(ctx, &ctx->params[i].t, ctx->params[i].t.data);
            next[n].n_terms = 1;
            next[n].terms = then;
        }
        n++;
    }
    if (!then)
        rc = be->iface->run_passes(be, passes, n);
    else if (ZOQ__BACKEND_HAS(be, run_chained))
        rc = be->iface->run_chained(be, passes, next, n);
    else if ((rc = be->iface->run_passes(be, passes, n)) == ZOQ_OK)
        rc = be->iface->run_passes(be, next, n);
    return rc == ZOQ_OK ? rc : zoq__fail(ctx, rc, "backend pass failed: %s", zoq_strerror(rc));
}
