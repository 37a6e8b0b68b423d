/* hizoo.c - HiZOO (Zhao et al., arXiv:2402.15173): a diagonal Hessian
 * estimate Σ per parameter (f32 on its device, starting at 1) preconditions
 * every direction, d = z/√Σ, and the step's final pass updates it from the
 * curvatures h_q = |L+ + L− − 2L0| / (2ε²) of the central estimator's
 * points and the unperturbed one (estim/spsa.c):
 *   Σ ← max((1−α)Σ + α·(1/n)Σ_q h_q·Σ⊙z_q², floor).                     */
#include <stdlib.h>

#include "tech/tech.h"

#define TAG_SIGMA 3u

static const int keys[] = {ZOQ_OPT_HESSIAN, ZOQ_OPT_HESSIAN_ALPHA, ZOQ_OPT_HESSIAN_FLOOR, 0};

static float **sigma_of(zoq__param *p)
{
    return (float **)&p->tech[ZOQ__TECH_hizoo];
}

static void *stage_state(const zoq__param *p)
{
    return p->tech[ZOQ__TECH_hizoo];
}

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.hessian != 0;
}

static int plan(zoq_ctx *ctx)
{
    ctx->plan.hs_move = (zoq__hessian){.keep = (float)(1.0 - ctx->opts.hessian_alpha),
                                       .floor = (float)ctx->opts.hessian_floor};
    return ZOQ_OK;
}

/* Σ starts at 1 (no preconditioning). */
static int prepare(zoq_ctx *ctx, zoq__param *p)
{
    float **sigma = sigma_of(p);
    if (*sigma)
        return ZOQ_OK;
    int rc = zoq__buffer_ensure(ctx, p, sigma);
    if (rc == ZOQ_OK && (rc = zoq__param_fill(ctx, p, *sigma, p->t.numel, 1.0f)) != ZOQ_OK) {
        zoq__param_release(ctx, p, *sigma);
        *sigma = NULL;
    }
    return rc;
}

static void release(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param_release(ctx, &ctx->params[i], *sigma_of(&ctx->params[i]));
        *sigma_of(&ctx->params[i]) = NULL;
    }
}

static uint32_t saved(const zoq_ctx *ctx, const zoq__param *p)
{
    (void)ctx;
    return p->tech[ZOQ__TECH_hizoo] != NULL;
}

static void save(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b)
{
    (void)ctx;
    zoq__tech_save_f32(p, ZOQ__TECH_hizoo, TAG_SIGMA, b);
}

static int load(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                void **staged)
{
    (void)tag;
    (void)kind;
    return zoq__tech_load_f32(ctx, r, p, staged);
}

static void commit(zoq_ctx *ctx, void **staged)
{
    zoq__tech_commit_f32(ctx, ZOQ__TECH_hizoo, staged);
}

const zoq__hessian *zoq__move_hessian(const zoq_ctx *ctx)
{
    return ctx->opts.hessian ? &ctx->plan.hs_move : NULL;
}

const zoq__hessian *zoq__final_hessian(zoq_ctx *ctx)
{
    zoq__plan *pl = &ctx->plan;
    if (!ctx->opts.hessian)
        return NULL;
    for (int q = 0; q < pl->n_queries; q++)
        pl->curv_terms[q] = (zoq__term){
            .step = ctx->step, .query = (uint32_t)q,
            .coef = (float)(ctx->opts.hessian_alpha * pl->curv[q] / pl->n_queries)};
    pl->hs_final = pl->hs_move;
    pl->hs_final.n_curv = pl->n_queries;
    pl->hs_final.curv = pl->curv_terms;
    return &pl->hs_final;
}

const zoq__tech zoq__tech_hizoo = {
    .name = "HiZOO (hessian = 1)",
    .keys = keys,
    .active = active,
    .needs = ZOQ__NEEDS_CENTRAL | ZOQ__NEEDS_THETA,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_PRECOND) | ZOQ__STAGE_BIT(ZOQ__STAGE_CURV) |
              ZOQ__STAGE_BIT(ZOQ__STAGE_SGD),
    .stage_state = stage_state,
    .plan = plan,
    .prepare = prepare,
    .release = release,
    .saved = saved,
    .save = save,
    .tags = 1u << TAG_SIGMA,
    .load = load,
    .commit = commit,
    .discard = free,
};
