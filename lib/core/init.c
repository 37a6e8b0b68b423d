/* init.c - initial values from the noise generator: θ = σ·z on stream 1,
 * a pure function of (seed, name), e.g. LoRA's warm-started B factor. */
#include <math.h>

#include "internal.h"
#include "rng/noise.h"

int zoq_param_init_normal(zoq_ctx *ctx, int32_t id, double sigma)
{
    int rc = zoq__check_idle(ctx, "initializing a parameter");
    if (rc != ZOQ_OK)
        return rc;
    if (id < 0 || id >= ctx->n_params)
        return zoq__fail(ctx, ZOQ_E_NOT_FOUND, "no parameter with id %d", id);
    if (!isfinite(sigma) || sigma < 0.0)
        return zoq__fail(ctx, ZOQ_E_INVALID, "sigma must be finite and >= 0, got %g", sigma);
    if (ctx->params[id].t.dtype == ZOQ_I8)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s' holds integer codes: no normal "
                         "initialization", ctx->params[id].name);
    zoq__backend *be;
    if ((rc = zoq__device_backend(ctx, ctx->params[id].device, &be)) != ZOQ_OK)
        return rc;
    const zoq__tensor *t = &ctx->params[id].t;
    const zoq__term term = {.step = 0, .query = 0, .coef = (float)sigma};
    const zoq__pass pass = {.src = t, .dst = t->data, .stream = ZOQ__STREAM_INIT,
                            .dist = ZOQ_DIST_GAUSSIAN, .scale = 0.0f, .n_terms = 1,
                            .terms = &term};
    rc = be->iface->run_passes(be, &pass, 1);
    return rc == ZOQ_OK ? rc : zoq__fail(ctx, rc, "initialization failed: %s %s",
                                         zoq_strerror(rc), zoq__backend_error(be));
}

int zoq_lora_b_warm_start(zoq_ctx *ctx, double sigma, int32_t *count)
{
    int rc = zoq__check_idle(ctx, "initializing a parameter");
    if (rc != ZOQ_OK)
        return rc;
    if (!isfinite(sigma) || sigma < 0.0)
        return zoq__fail(ctx, ZOQ_E_INVALID, "sigma must be finite and >= 0, got %g", sigma);
    int32_t n = 0;
    for (int32_t i = 0; i < ctx->n_params && rc == ZOQ_OK; i++) {
        if (ctx->params[i].flags & ZOQ_PARAM_LORA_B) {
            rc = zoq_param_init_normal(ctx, i, sigma);
            n += rc == ZOQ_OK;
        }
    }
    if (count)
        *count = n;
    return rc;
}
