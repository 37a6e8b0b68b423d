/* spsa.c - the SPSA estimators (Spall 1992; MeZO, Malladi et al. 2023):
 * which points a step evaluates, the projected gradients from their losses,
 * and the buffers a step needs (the update itself: update.c).
 *   central: points θ ± ε z_q,  g_q = (L(θ+εz_q) − L(θ−εz_q)) / 2ε
 *   forward: points θ, θ + ε z_q,  g_q = (L(θ+εz_q) − L(θ)) / ε
 *   HiZOO (Zhao et al., arXiv:2402.15173): central on d_q = z_q/√Σ plus the
 *   point θ first; h_q = |L(θ+εd_q) + L(θ−εd_q) − 2L(θ)| / (2ε²).        */
#include <math.h>
#include <stdlib.h>

#include "tech/tech.h"

int zoq__reserve(void **buf, int *cap, int n, size_t sz)
{
    if (n <= *cap)
        return ZOQ_OK;
    void *p = realloc(*buf, (size_t)n * sz);
    if (!p)
        return ZOQ_E_NOMEM;
    *buf = p;
    *cap = n;
    return ZOQ_OK;
}

int zoq__plan_make(zoq_ctx *ctx)
{
    zoq__plan *pl = &ctx->plan;
    int rc = zoq__schedule_values(ctx, ctx->step, &pl->lr, &pl->eps);
    if (rc != ZOQ_OK)
        return rc;
    if ((rc = zoq__tech_check(ctx)) != ZOQ_OK)
        return rc;
    int nq = (int)ctx->opts.queries;
    int central = ctx->opts.estimator == ZOQ_EST_CENTRAL, hessian = ctx->opts.hessian != 0;
    int np = central ? 2 * nq + hessian : nq + 1;
    if (zoq__reserve((void **)&pl->points, &pl->cap_points, np, sizeof *pl->points) ||
        zoq__reserve((void **)&pl->losses, &pl->cap_losses, np, sizeof *pl->losses) ||
        zoq__reserve((void **)&pl->grads, &pl->cap_grads, nq, sizeof *pl->grads) ||
        zoq__reserve((void **)&pl->curv, &pl->cap_curv, nq, sizeof *pl->curv) ||
        zoq__reserve((void **)&pl->passes, &pl->cap_passes, 2 * ctx->n_params,
                     sizeof *pl->passes))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory planning a step");
    pl->n_points = np;
    pl->n_queries = nq;
    pl->passes_run = 0;
    pl->applied = 0;
    pl->n_clipped = 0;
    if ((rc = zoq__update_prepare(ctx)) != ZOQ_OK)
        return rc;
    int k = 0;
    if (!central || hessian)
        pl->points[k++] = (zoq_point_t){.query = -1, .coef = 0.0};
    for (int q = 0; q < nq; q++) {
        pl->points[k++] = (zoq_point_t){.query = q, .coef = pl->eps};
        if (central)
            pl->points[k++] = (zoq_point_t){.query = q, .coef = -pl->eps};
    }
    return ZOQ_OK;
}

void zoq__plan_grads(zoq_ctx *ctx)
{
    zoq__plan *pl = &ctx->plan;
    const double *L = pl->losses;
    double sum = 0.0;
    if (ctx->opts.hessian) {
        const double L0 = L[0];
        for (int q = 0; q < pl->n_queries; q++) {
            const double lp = L[1 + 2 * q], lm = L[2 + 2 * q];
            pl->grads[q] = (lp - lm) / (2.0 * pl->eps);
            pl->curv[q] = fabs(lp + lm - 2.0 * L0) / (2.0 * pl->eps * pl->eps);
        }
        pl->loss = L0;
    } else if (ctx->opts.estimator == ZOQ_EST_CENTRAL) {
        for (int q = 0; q < pl->n_queries; q++) {
            pl->grads[q] = (L[2 * q] - L[2 * q + 1]) / (2.0 * pl->eps);
            sum += 0.5 * (L[2 * q] + L[2 * q + 1]);
        }
        pl->loss = sum / pl->n_queries;
    } else {
        for (int q = 0; q < pl->n_queries; q++)
            pl->grads[q] = (L[q + 1] - L[0]) / pl->eps;
        pl->loss = L[0];
    }
}
