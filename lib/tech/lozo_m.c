/* lozo_m.c - LOZO-M (Chen et al., ICLR 2025, arXiv:2410.07698):
 * under LoZO a 2-D tensor's ĝ = sum_e c_e U_e V_eᵀ/sqrt(r) is low rank, and
 * within one V period its momentum b = mu b + ĝ stays low rank too,
 *   b = sum_q N_q V_qᵀ,   N_q <- mu N_q + sum_{e of query q} (c_e/sqrt(r)) U_e,
 * so only the factors N_q (rows x r per query) are kept. When the update's V
 * (drawn at step - step % nu) differs from the one the factors pair with,
 * each factor is first reprojected, N_q <- N_q V_oldᵀ V_new / cols (the
 * least-squares fit of N_q V_oldᵀ by X V_newᵀ with V_newᵀV_new ~ cols·I), and
 * so is a gathered direction from an earlier period. The GEMMs go through
 * OpenBLAS; the update pass forms N·Vᵀ element by element (cpu.c). */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rng/noise.h"
#include "tech/tech.h"

static int active(const zoq_ctx *ctx)
{
    const zoq__opts *o = &ctx->opts;
    /* HiZOO's z/sqrt(Σ) and sparse masks make ĝ full rank: those keep b whole */
    return o->optimizer == ZOQ_OPTIM_MOMENTUM && o->lozo_rank > 0 && !o->hessian &&
           o->sparse == ZOQ_SPARSE_OFF;
}

/* LOZO-M's factors and GEMMs live on the host: device tensors keep a whole m. */
int zoq__lozom_applies(const zoq_ctx *ctx, const zoq__param *p)
{
    return active(ctx) && p->t.cols > 0 && p->device == ZOQ_DEVICE_CPU;
}

void zoq__lozom_free(zoq__param *p)
{
    free(p->t.lozo_n);
    free(p->lozo_spare);
    p->t.lozo_n = p->lozo_spare = NULL;
    p->t.lozo_nq = 0;
    p->lozo_rank = 0;
}

static uint64_t v_step(const zoq_ctx *ctx, uint64_t step)
{
    return step - step % (uint64_t)ctx->opts.lozo_interval;
}

static int prepare(zoq_ctx *ctx, zoq__param *p)
{
    zoq__tensor *t = &p->t;
    if (!zoq__lozom_applies(ctx, p)) {
        zoq__lozom_free(p);
        return ZOQ_OK;
    }
    const int r = (int)ctx->opts.lozo_rank, nq = (int)ctx->opts.queries;
    const size_t rows = (size_t)(t->numel / t->cols), cols = (size_t)t->cols;
    if (rows > INT_MAX || cols > INT_MAX) /* OpenBLAS takes int sizes */
        return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "LOZO-M: '%s' has more than 2^31-1 rows or "
                         "columns", p->name);
    if (rows > SIZE_MAX / sizeof(float) / (size_t)r / (size_t)nq)
        return zoq__fail(ctx, ZOQ_E_NOMEM, "LOZO-M factors of '%s' do not fit in memory",
                         p->name);
    const size_t n = rows * (size_t)r * (size_t)nq;
    if (t->lozo_n && (t->lozo_nq != nq || p->lozo_rank != r))
        zoq__lozom_free(p); /* another shape: the old factors mean nothing now */
    if (!t->lozo_n) {
        t->lozo_n = calloc(n, sizeof *t->lozo_n);
        if (!t->lozo_n)
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the LOZO-M factors of '%s'",
                             p->name);
        t->lozo_nq = nq;
        p->lozo_rank = r;
        t->lozo_vstep = v_step(ctx, ctx->step);
    }
    if (!p->lozo_spare && !(p->lozo_spare = malloc(n * sizeof *p->lozo_spare)))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the LOZO-M factors of '%s'",
                         p->name);
    size_t need = (rows + 2 * cols + (size_t)r) * (size_t)r;
    if (need > ctx->cap_lozo_scratch) {
        float *s = realloc(ctx->lozo_scratch, need * sizeof *s);
        if (!s)
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the LOZO-M scratch");
        ctx->lozo_scratch = s;
        ctx->cap_lozo_scratch = need;
    }
    return ZOQ_OK;
}

/* R = V_qᵀ(at step a) · V_q(at step b) / cols, r x r; va, vb: cols x r scratch. */
static void reprojection(const zoq__tensor *t, uint32_t q, int r, uint64_t a, uint64_t b,
                         float *va, float *vb, float *R)
{
    const size_t n = (size_t)t->cols * (size_t)r;
    zoq__noise_fill(t->key, a, q, ZOQ__STREAM_LOZO_V, ZOQ_DIST_GAUSSIAN, 0, n, va);
    zoq__noise_fill(t->key, b, q, ZOQ__STREAM_LOZO_V, ZOQ_DIST_GAUSSIAN, 0, n, vb);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, r, (int)t->cols,
                (float)(1.0 / (double)t->cols), va, r, vb, r, 0.0f, R, r);
}

/* The next factors of p into p->lozo_spare, for the update at V step vcur. */
static void advance_param(zoq_ctx *ctx, zoq__param *p, const zoq__term *grad, int n_grad,
                          uint64_t vcur)
{
    const zoq__tensor *t = &p->t;
    const int r = p->lozo_rank;
    const int rows = (int)(t->numel / t->cols);
    const size_t fsize = (size_t)rows * (size_t)r;
    float *u = ctx->lozo_scratch, *va = u + fsize, *vb = va + (size_t)t->cols * (size_t)r,
          *R = vb + (size_t)t->cols * (size_t)r;
    const float mu = (float)ctx->opts.momentum;
    const double inv_sqrt_r = 1.0 / sqrt((double)r);
    for (int q = 0; q < t->lozo_nq; q++) {
        const float *old = t->lozo_n + (size_t)q * fsize;
        float *nw = p->lozo_spare + (size_t)q * fsize;
        if (t->lozo_vstep != vcur) { /* N_q <- mu N_q V_oldᵀV_new / cols */
            reprojection(t, (uint32_t)q, r, t->lozo_vstep, vcur, va, vb, R);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, r, r, mu, old, r, R,
                        r, 0.0f, nw, r);
        } else {
            for (size_t i = 0; i < fsize; i++)
                nw[i] = mu * old[i];
        }
        for (int e = 0; e < n_grad; e++) { /* + (c_e/sqrt(r)) U_e, in gathered order */
            if (grad[e].query != (uint32_t)q)
                continue;
            const float a = (float)((double)grad[e].coef * inv_sqrt_r);
            const uint64_t ve = v_step(ctx, grad[e].step);
            zoq__noise_fill(t->key, grad[e].step, (uint32_t)q, ZOQ__STREAM_LOZO_U,
                            ZOQ_DIST_GAUSSIAN, 0, fsize, u);
            if (ve == vcur) {
                for (size_t i = 0; i < fsize; i++)
                    nw[i] = nw[i] + a * u[i];
            } else { /* gathered in an earlier V period: reprojected like N */
                reprojection(t, (uint32_t)q, r, ve, vcur, va, vb, R);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, r, r, a, u, r, R,
                            r, 1.0f, nw, r);
            }
        }
    }
}

/* Builds every factored parameter's factors for the update whose ĝ terms
 * are u->grad into its spare and swaps them in; undo swaps them back if the
 * update pass then fails. */
static void update(zoq_ctx *ctx, zoq__update *u)
{
    const uint64_t vcur = v_step(ctx, ctx->step);
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (!p->enabled || !p->t.lozo_n)
            continue;
        advance_param(ctx, p, u->grad, u->n_grad, vcur);
        float *f = p->t.lozo_n;
        p->t.lozo_n = p->lozo_spare;
        p->lozo_spare = f;
        p->lozo_vstep_prev = p->t.lozo_vstep;
        p->t.lozo_vstep = vcur;
    }
}

static void undo(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (!p->enabled || !p->t.lozo_n)
            continue;
        float *f = p->t.lozo_n;
        p->t.lozo_n = p->lozo_spare;
        p->lozo_spare = f;
        p->t.lozo_vstep = p->lozo_vstep_prev;
    }
}

static void release(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        zoq__lozom_free(&ctx->params[i]);
    free(ctx->lozo_scratch);
    ctx->lozo_scratch = NULL;
    ctx->cap_lozo_scratch = 0;
}

static const int no_keys[] = {0}; /* it is momentum under LoZO */

/* Runs with momentum, after it (list.h); HiZOO's z/sqrt(Σ) and sparse masks
 * make ĝ full rank, so with those the momentum stays whole. */
const zoq__tech zoq__tech_lozo_m = {
    .name = "LOZO-M",
    .keys = no_keys,
    .active = active,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_LOZO_M),
    .prepare = prepare,
    .release = release,
    .update = update,
    .undo = undo,
};
