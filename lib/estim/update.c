/* update.c - from projected gradients to one update pass. Each g_q is first
 * clipped to [-C, C] (DDC, Shang et al. 2025, arXiv:2505.13430) and/or
 * replaced by its sign (ZO-SGD-Sign, as ZOQO does), giving a weight w_q.
 * Directions are gathered for K steps
 * (gradient accumulation) as (step, query, w) triples — z is never stored —
 * and the last step of the window applies, in one pass,
 *   ĝ = (1/N) Σ_e w_e z_e   over the N gathered directions,
 *   SGD: θ ← (1 − η·wd)θ − η ĝ;  momentum and Adam: the backend's stage
 * (wd = 0 for ZOQ_PARAM_NO_DECAY tensors).
 * Under HiZOO every direction is d = z/√Σ, the pass first updates Σ from
 * the step's curvatures h_q, and ĝ uses the new Σ (backend.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* Buffers each optimizer keeps per parameter: none, m, or m and v. */
static int buffers_needed(int kind)
{
    return kind == ZOQ_OPTIM_ADAM ? 2 : kind == ZOQ_OPTIM_MOMENTUM ? 1 : 0;
}

/* Frees the optimizer's buffers (m, v) of every parameter. */
static void free_moments(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param_release(ctx, &ctx->params[i], ctx->params[i].t.m);
        zoq__param_release(ctx, &ctx->params[i], ctx->params[i].t.v);
        ctx->params[i].t.m = ctx->params[i].t.v = NULL;
        zoq__lozom_free(&ctx->params[i]);
    }
    ctx->buffers_kind = ZOQ_OPTIM_SGD;
}

static void free_sigma(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param_release(ctx, &ctx->params[i], ctx->params[i].t.sigma);
        ctx->params[i].t.sigma = NULL;
    }
}

void zoq__update_free_buffers(zoq_ctx *ctx)
{
    free_moments(ctx);
    free_sigma(ctx);
    free(ctx->lozo_scratch);
    ctx->lozo_scratch = NULL;
    ctx->cap_lozo_scratch = 0;
}

/* A zeroed f32 buffer of p's numel on p's device into *buf, unless it has one. */
static int ensure(zoq_ctx *ctx, const zoq__param *p, float **buf)
{
    void *b;
    if (*buf)
        return ZOQ_OK;
    int rc = zoq__param_alloc(ctx, p, (size_t)p->t.numel * sizeof **buf, &b);
    if (rc == ZOQ_OK)
        *buf = b;
    return rc;
}

/* HiZOO's estimate starts at 1 (no preconditioning). */
static int new_sigma(zoq_ctx *ctx, zoq__param *p)
{
    if (p->t.sigma)
        return ZOQ_OK;
    int rc = ensure(ctx, p, &p->t.sigma);
    if (rc == ZOQ_OK && (rc = zoq__param_fill(ctx, p, p->t.sigma, p->t.numel, 1.0f)) != ZOQ_OK) {
        zoq__param_release(ctx, p, p->t.sigma);
        p->t.sigma = NULL;
    }
    return rc;
}

const zoq__hessian *zoq__move_hessian(const zoq_ctx *ctx)
{
    return ctx->opts.hessian ? &ctx->plan.hs_move : NULL;
}

/* Zeroed buffers for every enabled parameter that lacks them. A change of
 * optimizer starts its buffers from zero: one kind's m is not another's.
 * HiZOO's sigma lives while the option is on. Under LOZO-M a 2-D tensor's
 * momentum is its factors instead of m (switching starts from zero too). */
static int prepare_buffers(zoq_ctx *ctx)
{
    int kind = (int)ctx->opts.optimizer, need = buffers_needed(kind);
    const int lozom = zoq__lozom_on(ctx);
    if (kind != ctx->buffers_kind)
        free_moments(ctx);
    ctx->buffers_kind = kind;
    if (!ctx->opts.hessian)
        free_sigma(ctx);
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (!p->enabled)
            continue;
        int rc = ctx->opts.hessian ? new_sigma(ctx, p) : ZOQ_OK;
        if (rc != ZOQ_OK)
            return rc;
        /* LOZO-M's factors and GEMMs live on the host: device tensors keep a whole m */
        if (lozom && p->t.cols > 0 && p->device == ZOQ_DEVICE_CPU) {
            zoq__param_release(ctx, p, p->t.m);
            p->t.m = NULL;
            rc = zoq__lozom_prepare(ctx, p);
            if (rc != ZOQ_OK)
                return rc;
            continue;
        }
        zoq__lozom_free(p);
        if (need > 0)
            rc = ensure(ctx, p, &p->t.m);
        if (rc == ZOQ_OK && need > 1)
            rc = ensure(ctx, p, &p->t.v);
        if (rc != ZOQ_OK)
            return rc;
    }
    return ZOQ_OK;
}

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
    pl->hs_move = (zoq__hessian){.keep = (float)(1.0 - ctx->opts.hessian_alpha),
                                 .floor = (float)ctx->opts.hessian_floor};
    int rc = prepare_buffers(ctx);
    return rc == ZOQ_OK ? zoq__sparse_prepare(ctx) : rc;
}

/* The DDC threshold: clip, or when it is 0 and QZO scales are trained,
 * scale_clip (QZO clips by default); 0 = off. */
static double clip_threshold(const zoq_ctx *ctx)
{
    if (ctx->opts.clip > 0.0 || !zoq__any_enabled_scales(ctx))
        return ctx->opts.clip;
    return ctx->opts.scale_clip;
}

/* w_q from g_q: DDC clip at c, then sign. Counts the clipped ones. */
static double weight(const zoq_ctx *ctx, double c, double g, int *clipped)
{
    if (c > 0.0 && fabs(g) > c) {
        g = g > 0.0 ? c : -c;
        (*clipped)++;
    }
    if (ctx->opts.sign)
        return (double)((g > 0.0) - (g < 0.0));
    return g;
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

int zoq__update_finish(zoq_ctx *ctx, int32_t disp_query, double disp_coef,
                       const zoq__term *then)
{
    zoq__plan *pl = &ctx->plan;
    pl->n_clipped = 0;
    const double clip = clip_threshold(ctx);
    for (int q = 0; q < pl->n_queries; q++)
        ctx->accum[ctx->n_accum++] = (zoq__accum){
            .step = ctx->step, .query = (uint32_t)q,
            .w = weight(ctx, clip, pl->grads[q], &pl->n_clipped)};
    ctx->accum_steps++;
    pl->applied = ctx->accum_steps >= ctx->opts.accumulate;
    double s = pl->applied ? 1.0 - pl->lr * ctx->opts.weight_decay : 1.0;
    const int kind = (int)ctx->opts.optimizer, hessian = ctx->opts.hessian != 0;
    /* plain SGD's update is ordinary terms; under HiZOO it needs sigma_new: a stage */
    const int sgd = pl->applied && kind == ZOQ_OPTIM_SGD && !hessian;
    const int undo = disp_query >= 0 && disp_coef != 0.0;
    const int n = sgd_terms(ctx, sgd, undo, disp_query, disp_coef, s, pl->terms);
    /* ZOQ_PARAM_NO_DECAY tensors: scale 1, so their undo is unscaled */
    if (s != 1.0)
        sgd_terms(ctx, sgd, undo, disp_query, disp_coef, 1.0, pl->kept_terms);
    const zoq__update *upd = NULL;
    if (pl->applied && !sgd) {
        for (int e = 0; e < ctx->n_accum; e++)
            pl->grad[e] = (zoq__term){.step = ctx->accum[e].step, .query = ctx->accum[e].query,
                                      .coef = (float)(ctx->accum[e].w / ctx->n_accum)};
        double t = (double)(ctx->updates + 1);
        pl->upd = (zoq__update){
            .kind = kind, .n_grad = ctx->n_accum, .grad = pl->grad, .lr = (float)pl->lr,
            .mu = (float)ctx->opts.momentum, .beta1 = (float)ctx->opts.adam_beta1,
            .beta2 = (float)ctx->opts.adam_beta2, .eps = (float)ctx->opts.adam_eps,
            .bc1 = (float)(1.0 - pow(ctx->opts.adam_beta1, t)),
            .bc2 = (float)(1.0 - pow(ctx->opts.adam_beta2, t))};
        upd = &pl->upd;
    }
    const int lozom = upd && zoq__lozom_on(ctx); /* momentum: upd is set when applied */
    if (lozom)
        zoq__lozom_advance(ctx, pl->grad, ctx->n_accum);
    const zoq__hessian *hs = NULL;
    if (hessian) {
        for (int q = 0; q < pl->n_queries; q++)
            pl->curv_terms[q] = (zoq__term){
                .step = ctx->step, .query = (uint32_t)q,
                .coef = (float)(ctx->opts.hessian_alpha * pl->curv[q] / pl->n_queries)};
        pl->hs_final = pl->hs_move;
        pl->hs_final.n_curv = pl->n_queries;
        pl->hs_final.curv = pl->curv_terms;
        hs = &pl->hs_final;
    }
    if (n > 0 || upd || hs || s != 1.0 || then) {
        int rc = zoq__apply_chain(ctx, (float)s, pl->terms, s != 1.0 ? pl->kept_terms : pl->terms,
                                  n, upd, hs, zoq__sparse_mask(ctx, 0), 1, then);
        if (rc != ZOQ_OK) { /* only possible before anything moved (ask/tell) */
            if (lozom)
                zoq__lozom_rollback(ctx);
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
