/* update.c - from projected gradients to one update pass. Each g_q is
 * weighed by the techniques (lib/tech/: DDC clipping, then ZO-SGD-Sign),
 * giving w_q. Directions are gathered for K steps (gradient accumulation)
 * as (step, query, w) triples — z is never stored — and the last step of
 * the window applies, in one pass,
 *   ĝ = (1/N) Σ_e w_e z_e   over the N gathered directions,
 *   SGD: θ ← (1 − η·wd)θ − η ĝ;  otherwise the optimizer stage of the
 *   active technique (backend.h) on ĝ
 * (wd = 0 for ZOQ_PARAM_NO_DECAY tensors). Under HiZOO the pass also
 * updates Σ first, and ĝ uses the new Σ. */
#include "tech/tech.h"

int zoq__update_prepare(zoq_ctx *ctx)
{
    zoq__plan *pl = &ctx->plan;
    int n = ctx->n_accum + pl->n_queries;
    if (zoq__reserve((void **)&ctx->accum, &ctx->cap_accum, n, sizeof *ctx->accum) ||
        zoq__reserve((void **)&pl->terms, &pl->cap_terms, n + 2, sizeof *pl->terms) ||
        zoq__reserve((void **)&pl->kept_terms, &pl->cap_kept_terms, n + 1,
                     sizeof *pl->kept_terms) ||
        zoq__reserve((void **)&pl->grad, &pl->cap_grad, n, sizeof *pl->grad) ||
        zoq__reserve((void **)&pl->curv_terms, &pl->cap_curv_terms, pl->n_queries,
                     sizeof *pl->curv_terms))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory planning the update");
    int rc = zoq__tech_prepare(ctx);
    if (rc == ZOQ_OK)
        pl->moved = 0;
    return rc;
}

/* The plain-SGD update of the gathered directions (when sgd) and the undo of
 * the displacement disp_coef*z_{disp_query} (when undo) as terms of a pass
 * whose scale is s, into out; returns their number. */
static int sgd_terms(const zoq_ctx *ctx, int sgd, int undo, int32_t disp_query, double disp_coef,
                     double s, zoq__term *out)
{
    int n = 0, undone = 0;
    for (int e = 0; sgd && e < ctx->n_accum; e++) { /* the undo merges into its direction */
        const zoq__accum *a = &ctx->accum[e];
        double c = -ctx->plan.lr * a->w / ctx->n_accum;
        if (undo && a->step == ctx->step && a->query == (uint32_t)disp_query) {
            c -= s * disp_coef;
            undone = 1;
        }
        out[n++] = (zoq__term){.step = a->step, .query = a->query, .coef = (float)c};
    }
    if (undo && !undone)
        out[n++] = (zoq__term){.step = ctx->step, .query = (uint32_t)disp_query,
                               .coef = (float)(-s * disp_coef)};
    return n;
}

/* The optimizer stage of an applied update: ĝ's terms, then what the active
 * techniques add to it. */
static const zoq__update *optimizer_stage(zoq_ctx *ctx)
{
    zoq__plan *pl = &ctx->plan;
    for (int e = 0; e < ctx->n_accum; e++)
        pl->grad[e] = (zoq__term){.step = ctx->accum[e].step, .query = ctx->accum[e].query,
                                  .coef = (float)(ctx->accum[e].w / ctx->n_accum)};
    pl->upd = (zoq__update){.kind = (int)ctx->opts.optimizer, .n_grad = ctx->n_accum,
                            .grad = pl->grad, .lr = (float)pl->lr};
    zoq__tech_update(ctx, &pl->upd);
    return &pl->upd;
}

int zoq__update_finish(zoq_ctx *ctx, int32_t disp_query, double disp_coef,
                       const zoq__term *then)
{
    zoq__plan *pl = &ctx->plan;
    pl->n_clipped = 0;
    for (int q = 0; q < pl->n_queries; q++)
        ctx->accum[ctx->n_accum++] = (zoq__accum){
            .step = ctx->step, .query = (uint32_t)q, .w = zoq__tech_weigh(ctx, pl->grads[q])};
    ctx->accum_steps++;
    pl->applied = ctx->accum_steps >= ctx->opts.accumulate;
    double s = pl->applied ? 1.0 - pl->lr * ctx->opts.weight_decay : 1.0;
    /* plain SGD's update is ordinary terms; under HiZOO it needs sigma_new: a stage */
    const int sgd = pl->applied && ctx->opts.optimizer == ZOQ_OPTIM_SGD && !ctx->opts.hessian;
    const int undo = disp_query >= 0 && disp_coef != 0.0;
    const int n = sgd_terms(ctx, sgd, undo, disp_query, disp_coef, s, pl->terms);
    /* ZOQ_PARAM_NO_DECAY tensors: scale 1, so their undo is unscaled */
    if (s != 1.0)
        sgd_terms(ctx, sgd, undo, disp_query, disp_coef, 1.0, pl->kept_terms);
    const zoq__update *upd = pl->applied && !sgd ? optimizer_stage(ctx) : NULL;
    const zoq__hessian *hs = zoq__final_hessian(ctx);
    if (n > 0 || upd || hs || s != 1.0 || then) {
        int rc = zoq__apply_chain(ctx, (float)s, pl->terms, s != 1.0 ? pl->kept_terms : pl->terms,
                                  n, upd, hs, zoq__sparse_mask(ctx, 0), 1, then);
        if (rc != ZOQ_OK) { /* only possible before anything moved (ask/tell) */
            if (upd)
                zoq__tech_undo(ctx);
            ctx->n_accum -= pl->n_queries;
            ctx->accum_steps--;
            return rc;
        }
        pl->passes_run++;
    }
    zoq__codes_finish(ctx, pl->moved);
    if (pl->applied) {
        ctx->updates++;
        ctx->n_accum = 0;
        ctx->accum_steps = 0;
    }
    return ZOQ_OK;
}
