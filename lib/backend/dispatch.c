/* dispatch.c - the context's CPU backend, (re)made for the thread option. */
#include <stddef.h>
#include <unistd.h>

#include "core/internal.h"

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
