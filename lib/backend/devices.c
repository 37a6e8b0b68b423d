/* devices.c - where a parameter's buffers live. CPU parameters are host
 * memory; a CUDA parameter's data and its optimizer buffers are memory of the
 * CUDA plugin, which the first CUDA parameter loads (plugin.c) and the
 * context keeps until it is destroyed. */
#include <stdlib.h>

#include "core/convert.h"
#include "core/internal.h"
#include "core/strided.h"

/* Floats staged through host memory per copy. */
#define STAGE 65536

int zoq__device_backend(zoq_ctx *ctx, int device, zoq__backend **out)
{
    if (device == ZOQ_DEVICE_CPU)
        return zoq__ctx_backend(ctx, out);
    if (!ctx->cuda) {
        int rc = zoq__plugin_load("cuda", &ctx->cuda);
        if (rc != ZOQ_OK)
            return zoq__fail_wrap(ctx, rc, "CUDA backend unavailable");
    }
    *out = ctx->cuda->be;
    return ZOQ_OK;
}

int zoq__device_supports(zoq_ctx *ctx, int device, int kind, int *ok)
{
    zoq__backend *be;
    int rc = zoq__device_backend(ctx, device, &be);
    if (rc == ZOQ_OK)
        *ok = ZOQ__BACKEND_HAS(be, supports_stage) && be->iface->supports_stage(be, kind) != 0;
    return rc;
}

const char *zoq__backend_error(zoq__backend *be)
{
    return be->iface->last_error ? be->iface->last_error(be) : "";
}

/* The plugin backend of p, NULL for a CPU parameter. */
static zoq__backend *plugin_of(const zoq_ctx *ctx, const zoq__param *p)
{
    return p->device == ZOQ_DEVICE_CPU ? NULL : ctx->cuda->be;
}

/* A plugin failure as a context error naming p and what was being done. */
static int plugin_fail(zoq_ctx *ctx, const zoq__param *p, int rc, const char *what)
{
    zoq__backend *be = plugin_of(ctx, p);
    return zoq__fail(ctx, rc, "%s backend: %s of '%s' failed: %s %s", be->iface->name, what,
                     p->name, zoq_strerror(rc), zoq__backend_error(be));
}

int zoq__param_alloc(zoq_ctx *ctx, const zoq__param *p, size_t bytes, void **out)
{
    zoq__backend *be = plugin_of(ctx, p);
    if (!be) {
        *out = calloc(1, bytes);
        return *out ? ZOQ_OK : zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for a buffer of "
                                         "'%s'", p->name);
    }
    int rc = be->iface->alloc(be, bytes, out);
    return rc == ZOQ_OK ? rc : plugin_fail(ctx, p, rc, "a buffer");
}

void zoq__param_release(zoq_ctx *ctx, const zoq__param *p, void *buf)
{
    zoq__backend *be = plugin_of(ctx, p);
    if (!be)
        free(buf);
    else if (buf)
        be->iface->release(be, buf);
}

int zoq__param_fill(zoq_ctx *ctx, const zoq__param *p, float *buf, int64_t n, float value)
{
    zoq__backend *be = plugin_of(ctx, p);
    if (!be) {
        for (int64_t i = 0; i < n; i++)
            buf[i] = value;
        return ZOQ_OK;
    }
    float *stage = malloc((size_t)(n < STAGE ? n : STAGE) * sizeof *stage);
    if (!stage)
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory staging a buffer of '%s'", p->name);
    for (int64_t i = 0; i < (n < STAGE ? n : STAGE); i++)
        stage[i] = value;
    int rc = ZOQ_OK;
    for (int64_t i = 0; i < n && rc == ZOQ_OK; i += STAGE)
        rc = be->iface->upload(be, buf + i, stage, (size_t)(n - i < STAGE ? n - i : STAGE) *
                                                       sizeof *stage);
    free(stage);
    return rc == ZOQ_OK ? rc : plugin_fail(ctx, p, rc, "filling a buffer");
}

int zoq__param_read(zoq_ctx *ctx, const zoq__param *p, int64_t offset, int64_t count,
                    float *out)
{
    zoq__backend *be = plugin_of(ctx, p);
    const zoq__tensor *t = &p->t;
    if (be && t->dtype == ZOQ_F32) {
        int rc = be->iface->download(be, out, (const float *)t->data + offset,
                                     (size_t)count * sizeof *out);
        return rc == ZOQ_OK ? rc : plugin_fail(ctx, p, rc, "reading the data");
    }
    if (be) { /* f16, bf16: staged, then widened */
        uint16_t *raw = malloc((size_t)count * sizeof *raw + 1);
        if (!raw)
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory reading '%s'", p->name);
        int rc = be->iface->download(be, raw, (const uint16_t *)t->data + offset,
                                     (size_t)count * sizeof *raw);
        for (int64_t i = 0; i < count && rc == ZOQ_OK; i++)
            out[i] = zoq__load_f32(raw, t->dtype, i);
        free(raw);
        return rc == ZOQ_OK ? rc : plugin_fail(ctx, p, rc, "reading the data");
    }
    const size_t step = zoq__step_bytes(zoq__dtype_size(t->dtype), t->stride);
    for (int64_t i = 0; i < count; i++)
        out[i] = zoq__load_f32_any((const char *)t->data + (size_t)(offset + i) * step, t->dtype, 0);
    return ZOQ_OK;
}

void zoq__devices_close(zoq_ctx *ctx)
{
    zoq__plugin_unload(ctx->cuda);
    ctx->cuda = NULL;
}
