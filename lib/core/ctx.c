/* ctx.c - context lifetime, versions, status strings and error messages. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tech/tech.h"

unsigned zoq_version_number(void)
{
    return ZOQ_VERSION_NUMBER;
}

const char *zoq_version(void)
{
    return ZOQ_VERSION_STRING;
}

const char *zoq_strerror(int status)
{
    switch (status) {
    case ZOQ_OK: return "ok";
    case ZOQ_STOPPED: return "stopped by the objective";
    case ZOQ_E_INVALID: return "invalid argument";
    case ZOQ_E_NOMEM: return "out of memory";
    case ZOQ_E_STATE: return "call not valid in the current state";
    case ZOQ_E_NOT_FOUND: return "not found";
    case ZOQ_E_EXISTS: return "already exists";
    case ZOQ_E_CALLBACK: return "objective returned an error";
    case ZOQ_E_NONFINITE: return "loss is not finite";
    case ZOQ_E_IO: return "input/output error";
    case ZOQ_E_FORMAT: return "malformed or truncated file";
    case ZOQ_E_CHECKSUM: return "checksum mismatch";
    case ZOQ_E_MISMATCH: return "file does not match the context";
    case ZOQ_E_UNSUPPORTED: return "not supported by this build";
    case ZOQ_E_VERSION: return "unknown version";
    case ZOQ_E_THREAD: return "could not start threads";
    default: return "unknown status";
    }
}

/* The message of the last failed call without a context, one per thread:
 * the library's only mutable state outside a context or object. */
static _Thread_local char no_ctx_err[ZOQ__ERRMSG_CAP];

int zoq__fail(zoq_ctx *ctx, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (ctx)
        vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    else
        vsnprintf(no_ctx_err, sizeof no_ctx_err, fmt, ap);
    va_end(ap);
    return status;
}

int zoq__fail_copy(int status, char *err, size_t cap)
{
    if (status < 0 && err && cap)
        snprintf(err, cap, "%s", no_ctx_err);
    return status;
}

int zoq__fail_wrap(zoq_ctx *ctx, int status, const char *prefix)
{
    char msg[ZOQ__ERRMSG_CAP];
    snprintf(msg, sizeof msg, "%s", no_ctx_err);
    return zoq__fail(ctx, status, "%s: %s", prefix, msg);
}

/* This thread's token for ctx->owner: the address of a byte of its own. */
static uintptr_t self(void)
{
    static _Thread_local char me;
    return (uintptr_t)&me;
}

/* The refusal while `owner` holds ctx. */
static int busy(zoq_ctx *ctx, uintptr_t owner, const char *what)
{
    if (owner != self())
        return ZOQ_E_STATE; /* ctx->err is the other thread's */
    return zoq__fail(ctx, ZOQ_E_STATE, "%s is not allowed inside the objective, while "
                     "zoq_step is running", what);
}

int zoq__check_idle(zoq_ctx *ctx, const char *what)
{
    if (!ctx)
        return zoq__fail(NULL, ZOQ_E_INVALID, "%s: the context is NULL", what);
    uintptr_t owner = atomic_load(&ctx->owner);
    if (owner)
        return busy(ctx, owner, what);
    return zoq__check_no_pending(ctx, what);
}

int zoq__check_no_pending(zoq_ctx *ctx, const char *what)
{
    if (ctx->pending)
        return zoq__fail(ctx, ZOQ_E_STATE, "%s is not allowed while an ask/tell step is "
                         "pending; tell or cancel it first", what);
    return ZOQ_OK;
}

int zoq__enter(zoq_ctx *ctx, const char *what)
{
    if (!ctx)
        return zoq__fail(NULL, ZOQ_E_INVALID, "%s: the context is NULL", what);
    uintptr_t owner = 0;
    if (!atomic_compare_exchange_strong(&ctx->owner, &owner, self()))
        return busy(ctx, owner, what);
    return ZOQ_OK;
}

void zoq__leave(zoq_ctx *ctx)
{
    atomic_store(&ctx->owner, 0);
}

int zoq_create(zoq_ctx **out)
{
    if (!out)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_create: out is NULL");
    zoq_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "zoq_create: out of memory");
    zoq__opts_default(&ctx->opts);
    ctx->mask_epoch = -1;
    *out = ctx;
    return ZOQ_OK;
}

void zoq_destroy(zoq_ctx *ctx)
{
    /* from the objective (or while another thread steps) freeing ctx would
     * pull it from under the step: refused, ctx stays valid */
    if (!ctx || zoq__enter(ctx, "zoq_destroy") != ZOQ_OK)
        return;
    zoq__tech_release_all(ctx);
    for (int32_t i = 0; i < ctx->n_params; i++) {
        free(ctx->params[i].name);
        free(ctx->params[i].group);
        free(ctx->params[i].codes.backup);
        free(ctx->params[i].codes.plan_scales);
        free(ctx->params[i].restore);
    }
    free(ctx->accum);
    free(ctx->params);
    free(ctx->plan.points);
    free(ctx->plan.losses);
    free(ctx->plan.grads);
    free(ctx->plan.terms);
    free(ctx->plan.kept_terms);
    free(ctx->plan.grad);
    free(ctx->plan.curv);
    free(ctx->plan.curv_terms);
    free(ctx->plan.passes);
    if (ctx->backend)
        ctx->backend->iface->destroy(ctx->backend);
    zoq__devices_close(ctx);
    free(ctx);
}

const char *zoq_last_error(const zoq_ctx *ctx)
{
    return ctx ? ctx->err : no_ctx_err;
}
