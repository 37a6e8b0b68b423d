/* hizoo.c - HiZOO (Zhao et al., arXiv:2402.15173): a diagonal Hessian
 * estimate Σ per parameter (f32 on its device, starting at 1) preconditions
 * every direction, d = z/√Σ, and the step's final pass updates it from the
 * curvatures h_q = |L+ + L− − 2L0| / (2ε²) of the central estimator's
 * points and the unperturbed one (estim/spsa.c):
 *   Σ ← max((1−α)Σ + α·(1/n)Σ_q h_q·Σ⊙z_q², floor).                     */
#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_HESSIAN, ZOQ_OPT_HESSIAN_ALPHA, ZOQ_OPT_HESSIAN_FLOOR, 0};

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
    if (p->t.sigma)
        return ZOQ_OK;
    int rc = zoq__buffer_ensure(ctx, p, &p->t.sigma);
    if (rc == ZOQ_OK && (rc = zoq__param_fill(ctx, p, p->t.sigma, p->t.numel, 1.0f)) != ZOQ_OK) {
        zoq__param_release(ctx, p, p->t.sigma);
        p->t.sigma = NULL;
    }
    return rc;
}

static void release(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param_release(ctx, &ctx->params[i], ctx->params[i].t.sigma);
        ctx->params[i].t.sigma = NULL;
    }
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
    .plan = plan,
    .prepare = prepare,
    .release = release,
};
