/* step.c - the two ways to run a step. In place (zoq_step): walk the
 * parameters from point to point with one fused pass per move, calling the
 * objective at each; the last move restores and updates in the same pass, so
 * a central step costs 2n+1 passes and a forward one n+1. Ask/tell: the
 * parameters never move until tell, which applies the update in one pass. */
#include <math.h>
#include <string.h>

#include "core/strided.h"
#include "tech/tech.h"

/* Where the parameters sit: θ + coef·z_query (query -1: at θ). */
typedef struct displacement {
    int32_t query;
    double coef;
} displacement;

/* Checks what a step needs and that ctx is idle, and takes ctx
 * (zoq__enter): on ZOQ_OK the caller must zoq__leave it. */
static int step_ready(zoq_ctx *ctx, const zoq_report_t *report)
{
    int rc = zoq__enter(ctx, "starting a step");
    if (rc != ZOQ_OK)
        return rc;
    int64_t numel;
    zoq_param_enabled_numel(ctx, &numel);
    rc = zoq__check_no_pending(ctx, "starting a step");
    if (rc == ZOQ_OK && report)
        rc = zoq__sized_out_ok(ctx, "report", report, sizeof *report);
    if (rc == ZOQ_OK && numel == 0)
        rc = zoq__fail(ctx, ZOQ_E_STATE, "no enabled parameters to train");
    if (rc != ZOQ_OK)
        zoq__leave(ctx);
    return rc;
}

/* Moves the parameters from *at to point p in one pass (none if equal). */
static int move_to(zoq_ctx *ctx, displacement *at, const zoq_point_t *p)
{
    zoq__term *terms = ctx->plan.terms;
    int n = 0;
    const uint64_t t = ctx->step;
    if (at->query >= 0 && at->query == p->query) {
        terms[n++] = (zoq__term){t, (uint32_t)p->query, (float)(p->coef - at->coef)};
    } else {
        if (at->query >= 0 && at->coef != 0.0)
            terms[n++] = (zoq__term){t, (uint32_t)at->query, (float)-at->coef};
        if (p->query >= 0 && p->coef != 0.0)
            terms[n++] = (zoq__term){t, (uint32_t)p->query, (float)p->coef};
    }
    if (n == 0 || (n == 1 && terms[0].coef == 0.0f)) {
        *at = (displacement){p->query, p->coef};
        return ZOQ_OK;
    }
    int rc = zoq__apply_all(ctx, 1.0f, terms, n, NULL, zoq__move_hessian(ctx),
                            zoq__sparse_mask(ctx, !ctx->plan.moved), 0);
    if (rc == ZOQ_OK) {
        zoq__codes_move(ctx, p, ctx->plan.moved);
        *at = (displacement){p->query, p->coef};
        ctx->plan.passes_run++;
        ctx->plan.moved = 1;
    }
    return rc;
}

static void fill_report(const zoq_ctx *ctx, zoq_report_t *report, int failed_point,
                        int cb_status)
{
    if (!report)
        return;
    const zoq__plan *pl = &ctx->plan;
    double g2 = 0.0;
    for (int q = 0; q < pl->n_queries; q++)
        g2 += pl->grads[q] * pl->grads[q];
    zoq_report_t r = {
        .size = report->size, .step = ctx->step, .loss = pl->loss, .lr = pl->lr, .eps = pl->eps,
        .grad_norm = failed_point < 0 ? sqrt(g2 / pl->n_queries) : NAN,
        .n_points = pl->n_points, .n_queries = pl->n_queries, .losses = pl->losses,
        .proj_grads = pl->grads, .failed_point = failed_point, .callback_status = cb_status,
        .passes = pl->passes_run, .applied = pl->applied, .n_clipped = pl->n_clipped};
    zoq__sized_out(report, &r, sizeof r);
}

void zoq__eval_info(const zoq_ctx *ctx, int i, zoq_eval_t *ev)
{
    const zoq__plan *pl = &ctx->plan;
    *ev = (zoq_eval_t){.size = sizeof *ev, .step = ctx->step, .point = i,
                       .n_points = pl->n_points, .query = pl->points[i].query,
                       .coef = pl->points[i].coef, .lr = pl->lr, .eps = pl->eps};
}

/* Calls the objective at point i; ZOQ_OK with plan.losses[i] set, or why not. */
static int evaluate(zoq_ctx *ctx, int i, int *cb_status)
{
    zoq_eval_t ev;
    zoq__eval_info(ctx, i, &ev);
    double loss = NAN;
    int rc = ctx->objective(ctx->objective_user, &ev, &loss);
    *cb_status = rc;
    if (rc == ZOQ_CALLBACK_STOP)
        return zoq__fail(ctx, ZOQ_STOPPED, "objective asked to stop at point %d of step %llu", i,
                         (unsigned long long)ctx->step);
    if (rc != 0)
        return zoq__fail(ctx, ZOQ_E_CALLBACK, "objective returned %d at point %d of step %llu; "
                         "step abandoned, parameters restored", rc, i,
                         (unsigned long long)ctx->step);
    if (!isfinite(loss))
        return zoq__fail(ctx, ZOQ_E_NONFINITE, "loss %g at point %d of step %llu is not "
                         "finite; step abandoned, parameters restored", loss, i,
                         (unsigned long long)ctx->step);
    ctx->plan.losses[i] = loss;
    return ZOQ_OK;
}

/* Whether a step's final pass may also move to the next step's first
 * point, θ' + ε' z'_0: only where that point is displaced (central SPSA)
 * and no technique reads θ' itself when the next step is planned (tech.h:
 * ZOQ__NEEDS_THETA), nor does exact_restore (its copy is of θ, which a fused
 * pass never holds). */
static int can_chain(const zoq_ctx *ctx)
{
    return ctx->opts.estimator == ZOQ_EST_CENTRAL && !ctx->opts.exact_restore &&
           !zoq__tech_any(ctx, ZOQ__NEEDS_THETA);
}

/* One in-place step starting from *at (where the previous step's chained
 * pass left the parameters; query -1: at θ). With chain, the final pass also
 * moves to the next step's first point and *at says so; otherwise *at ends
 * at θ. On failure the parameters are back at θ. */
static int step_from(zoq_ctx *ctx, zoq_report_t *report, displacement *at, int chain)
{
    const zoq_point_t home = {.query = -1, .coef = 0.0};
    int rc = zoq__plan_make(ctx);
    if (rc == ZOQ_OK)
        rc = zoq__codes_prepare(ctx);
    if (rc == ZOQ_OK && ctx->opts.exact_restore)
        rc = zoq__restore_save(ctx); /* *at is θ: zoq_run does not chain then */
    if (rc != ZOQ_OK) {
        char why[ZOQ__ERRMSG_CAP];
        memcpy(why, ctx->err, sizeof why);
        if (move_to(ctx, at, &home) == ZOQ_OK) /* the last plan's buffers fit this move */
            memcpy(ctx->err, why, sizeof why);
        return rc;
    }
    zoq__plan *pl = &ctx->plan;
    pl->moved = at->query >= 0;
    for (int i = 0; i < pl->n_points; i++)
        pl->losses[i] = NAN;
    int cb_status = 0, i;
    for (i = 0; i < pl->n_points; i++) {
        if ((rc = move_to(ctx, at, &pl->points[i])) != ZOQ_OK)
            break;
        if ((rc = evaluate(ctx, i, &cb_status)) != ZOQ_OK)
            break;
    }
    if (rc != ZOQ_OK) {
        char why[ZOQ__ERRMSG_CAP];
        memcpy(why, ctx->err, sizeof why);
        if (ctx->opts.exact_restore) {
            zoq__restore_load(ctx);
            zoq__codes_move(ctx, &home, pl->moved); /* ZOQ_I8 tensors from their copy */
            *at = (displacement){-1, 0.0};
        } else if (move_to(ctx, at, &home) == ZOQ_OK) { /* cannot fail: buffers are sized */
            memcpy(ctx->err, why, sizeof why);
        }
        pl->loss = NAN;
        for (int q = 0; q < pl->n_queries; q++)
            pl->grads[q] = NAN;
        fill_report(ctx, report, i, cb_status);
        return rc;
    }
    zoq__plan_grads(ctx);
    /* the next step's first point: query 0 at +ε of step t+1 (zoq__plan_make) */
    double next_lr, next_eps;
    zoq__term next = {0};
    if (chain && zoq__schedule_values(ctx, ctx->step + 1, &next_lr, &next_eps) == ZOQ_OK)
        next = (zoq__term){.step = ctx->step + 1, .query = 0, .coef = (float)next_eps};
    else
        chain = 0;
    if ((rc = zoq__update_finish(ctx, at->query, at->coef, chain ? &next : NULL)) != ZOQ_OK)
        return rc; /* cannot happen: buffers are sized and the backend runs */
    *at = chain ? (displacement){0, next_eps} : (displacement){-1, 0.0};
    fill_report(ctx, report, -1, 0);
    ctx->step++;
    return ZOQ_OK;
}

/* step_ready and an objective; takes ctx as step_ready does. */
static int run_ready(zoq_ctx *ctx, const zoq_report_t *report)
{
    int rc = step_ready(ctx, report);
    if (rc == ZOQ_OK && !ctx->objective) {
        rc = zoq__fail(ctx, ZOQ_E_STATE, "no objective set (zoq_set_objective)");
        zoq__leave(ctx);
    }
    return rc;
}

int zoq_step(zoq_ctx *ctx, zoq_report_t *report)
{
    int rc = run_ready(ctx, report);
    if (rc != ZOQ_OK)
        return rc;
    displacement at = {-1, 0.0};
    rc = step_from(ctx, report, &at, 0);
    zoq__leave(ctx);
    return rc;
}

/* zoq_run's steps, ctx taken. */
static int run_steps(zoq_ctx *ctx, int64_t steps, int64_t *done, zoq_report_t *report)
{
    if (steps < 0)
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_run: steps must be >= 0, got %lld",
                         (long long)steps);
    if (done)
        *done = 0;
    displacement at = {-1, 0.0};
    const int chain = can_chain(ctx); /* options cannot change while it runs */
    for (int64_t k = 0; k < steps; k++) {
        int rc = step_from(ctx, report, &at, chain && k + 1 < steps);
        if (rc != ZOQ_OK)
            return rc;
        if (done)
            *done = k + 1;
    }
    return ZOQ_OK;
}

int zoq_run(zoq_ctx *ctx, int64_t steps, int64_t *done, zoq_report_t *report)
{
    int rc = run_ready(ctx, report);
    if (rc != ZOQ_OK)
        return rc;
    rc = run_steps(ctx, steps, done, report);
    zoq__leave(ctx);
    return rc;
}

int zoq_set_objective(zoq_ctx *ctx, zoq_objective_fn fn, void *user)
{
    int rc = zoq__check_idle(ctx, "changing the objective");
    if (rc != ZOQ_OK)
        return rc;
    ctx->objective = fn;
    ctx->objective_user = fn ? user : NULL;
    return ZOQ_OK;
}

int zoq_ask(zoq_ctx *ctx, const zoq_point_t **points, int32_t *n)
{
    int rc = step_ready(ctx, NULL);
    if (rc != ZOQ_OK)
        return rc;
    if (!points || !n)
        rc = zoq__fail(ctx, ZOQ_E_INVALID, "zoq_ask: points and n must not be NULL");
    else if ((rc = zoq__plan_make(ctx)) == ZOQ_OK) {
        *points = ctx->plan.points;
        *n = ctx->plan.n_points;
        ctx->pending = 1;
    }
    zoq__leave(ctx);
    return rc;
}

int zoq__check_pending_point(zoq_ctx *ctx, int32_t point)
{
    if (!ctx)
        return zoq__fail(NULL, ZOQ_E_INVALID, "the context is NULL");
    if (!ctx->pending)
        return zoq__fail(ctx, ZOQ_E_STATE, "no step pending: call zoq_ask first");
    if (point < 0 || point >= ctx->plan.n_points)
        return zoq__fail(ctx, ZOQ_E_INVALID, "point %d out of range [0, %d)", point,
                         ctx->plan.n_points);
    return ZOQ_OK;
}

/* Checks that a step is pending and that point and id exist. */
static int check_point(zoq_ctx *ctx, int32_t point, int32_t id)
{
    int rc = zoq__check_pending_point(ctx, point);
    if (rc != ZOQ_OK)
        return rc;
    if (id < 0 || id >= ctx->n_params)
        return zoq__fail(ctx, ZOQ_E_NOT_FOUND, "no parameter with id %d", id);
    return ZOQ_OK;
}

/* The pass that writes point `point` of parameter p into dst: θ + coef·d,
 * d with the step's mask, HiZOO and LoZO stages. A disabled parameter (which
 * the in-place step never moves, and which holds no HiZOO estimate) gets no
 * direction, nor does the unperturbed point: its pass is a plain copy. */
static zoq__pass point_pass(const zoq_ctx *ctx, int32_t point, const zoq__param *p, void *dst,
                            zoq__term *term)
{
    const zoq_point_t *pt = &ctx->plan.points[point];
    *term = (zoq__term){ctx->step, (uint32_t)(pt->query < 0 ? 0 : pt->query), (float)pt->coef};
    zoq__pass pass = zoq__pass_base(ctx, &p->t, dst);
    pass.n_terms = pt->query >= 0 && p->enabled;
    pass.terms = term;
    if (pass.n_terms > 0) /* else a plain copy */
        zoq__pass_stages(ctx, p, &pass, NULL, zoq__move_hessian(ctx), zoq__sparse_mask(ctx, 0),
                         0);
    return pass;
}

int zoq_materialize(zoq_ctx *ctx, int32_t point, int32_t id, void *dst)
{
    int rc = check_point(ctx, point, id);
    if (rc != ZOQ_OK)
        return rc;
    const zoq__param *p = &ctx->params[id];
    if (!dst)
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_materialize: dst is NULL");
    size_t bytes = zoq__span_bytes(zoq__dtype_size(p->t.dtype), p->t.stride, p->t.numel);
    const char *a = p->t.data, *b = dst;
    if (b < a + bytes && a < b + bytes)
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_materialize: dst overlaps parameter '%s'",
                         p->name);
    if (p->t.dtype == ZOQ_I8) {
        zoq__codes_point(ctx, p, &ctx->plan.points[point], dst);
        return ZOQ_OK;
    }
    zoq__backend *be;
    if ((rc = zoq__device_backend(ctx, p->device, &be)) != ZOQ_OK)
        return rc;
    zoq__term term;
    const zoq__pass pass = point_pass(ctx, point, p, dst, &term);
    rc = be->iface->run_passes(be, &pass, 1);
    return rc == ZOQ_OK ? rc : zoq__fail(ctx, rc, "materialize failed: %s %s", zoq_strerror(rc),
                                         zoq__backend_error(be));
}

int zoq_point_noise(zoq_ctx *ctx, int32_t point, int32_t id, int64_t offset, int64_t count,
                    float *out)
{
    int rc = check_point(ctx, point, id);
    if (rc != ZOQ_OK)
        return rc;
    const zoq__param *p = &ctx->params[id];
    if (offset < 0 || count < 0 || offset > p->t.numel || count > p->t.numel - offset ||
        (count > 0 && !out))
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_point_noise: slice [%lld, +%lld) outside "
                         "parameter '%s' of %lld elements, or out is NULL", (long long)offset,
                         (long long)count, p->name, (long long)p->t.numel);
    zoq__term term;
    const zoq__pass pass = point_pass(ctx, point, p, NULL, &term);
    if (pass.n_terms == 0) { /* no direction */
        memset(out, 0, (size_t)count * sizeof *out);
        return ZOQ_OK;
    }
    if (p->t.dtype == ZOQ_I8) {
        zoq__codes_offsets(ctx, p, term.query, offset, count, out);
        return ZOQ_OK;
    }
    zoq__backend *be;
    if ((rc = zoq__device_backend(ctx, p->device, &be)) != ZOQ_OK)
        return rc;
    rc = be->iface->direction(be, &pass, offset, count, out);
    return rc == ZOQ_OK ? rc : zoq__fail(ctx, rc, "point noise failed: %s %s", zoq_strerror(rc),
                                         zoq__backend_error(be));
}

/* zoq_tell, ctx taken. */
static int tell(zoq_ctx *ctx, const double *losses, int32_t n, zoq_report_t *report)
{
    if (!ctx->pending)
        return zoq__fail(ctx, ZOQ_E_STATE, "no step pending: call zoq_ask first");
    zoq__plan *pl = &ctx->plan;
    if (!losses || n != pl->n_points)
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_tell needs %d losses, got %d%s", pl->n_points,
                         n, losses ? "" : " (NULL)");
    if (report && zoq__sized_out_ok(ctx, "report", report, sizeof *report) != ZOQ_OK)
        return ZOQ_E_INVALID;
    memcpy(pl->losses, losses, (size_t)n * sizeof *losses);
    for (int i = 0; i < n; i++) {
        if (!isfinite(losses[i])) {
            ctx->pending = 0;
            pl->loss = NAN;
            for (int q = 0; q < pl->n_queries; q++)
                pl->grads[q] = NAN;
            fill_report(ctx, report, i, 0);
            return zoq__fail(ctx, ZOQ_E_NONFINITE, "loss %g of point %d is not finite; step "
                             "abandoned, parameters untouched", losses[i], i);
        }
    }
    zoq__plan_grads(ctx);
    int rc = zoq__update_finish(ctx, -1, 0.0, NULL);
    if (rc != ZOQ_OK)
        return rc; /* still pending: nothing was modified (first pass of the step) */
    ctx->pending = 0;
    fill_report(ctx, report, -1, 0);
    ctx->step++;
    return ZOQ_OK;
}

int zoq_tell(zoq_ctx *ctx, const double *losses, int32_t n, zoq_report_t *report)
{
    int rc = zoq__enter(ctx, "zoq_tell");
    if (rc != ZOQ_OK)
        return rc;
    rc = tell(ctx, losses, n, report);
    zoq__leave(ctx);
    return rc;
}

int zoq_cancel(zoq_ctx *ctx)
{
    int rc = zoq__enter(ctx, "zoq_cancel");
    if (rc != ZOQ_OK)
        return rc;
    ctx->pending = 0;
    zoq__leave(ctx);
    return ZOQ_OK;
}

int zoq_get_step(const zoq_ctx *ctx, uint64_t *out)
{
    if (!ctx || !out)
        return zoq__fail((zoq_ctx *)ctx, ZOQ_E_INVALID, "zoq_get_step: NULL argument");
    *out = ctx->step;
    return ZOQ_OK;
}

int zoq_skip_step(zoq_ctx *ctx)
{
    int rc = zoq__enter(ctx, "skipping a step");
    if (rc != ZOQ_OK)
        return rc;
    rc = zoq__check_no_pending(ctx, "skipping a step");
    if (rc == ZOQ_OK)
        ctx->step++;
    zoq__leave(ctx);
    return rc;
}
