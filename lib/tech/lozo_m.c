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

#include "rng/lowrank.h"
#include "rng/noise.h"
#include "tech/tech.h"

static int active(const zoq_ctx *ctx)
{
    const zoq__opts *o = &ctx->opts;
    /* HiZOO's z/sqrt(Σ) and sparse masks make ĝ full rank: those keep b whole */
    return o->optimizer == ZOQ_OPTIM_MOMENTUM && o->lozo_rank > 0 && !o->hessian &&
           o->sparse == ZOQ_SPARSE_OFF;
}

#define TAG_LOZO 4u

/* A parameter's LOZO-M state: the factors the passes read, the spare the
 * next ones are built in (same size), and the V step before the last
 * advance (for undo). */
typedef struct lozom {
    zoq__lozo_factors f;
    float *spare;
    uint64_t vstep_prev;
} lozom;

static lozom *state_of(const zoq__param *p)
{
    return p->tech[ZOQ__TECH_lozo_m];
}

static void *stage_state(const zoq__param *p)
{
    return state_of(p) ? &state_of(p)->f : NULL;
}

/* Where the device runs the LOZO-M stage (the CPU does; a device without
 * it keeps a whole m). */
int zoq__lozom_applies(zoq_ctx *ctx, const zoq__param *p)
{
    int ok = 0;
    return active(ctx) && p->t.cols > 0 &&
           zoq__device_supports(ctx, p->device, ZOQ__STAGE_LOZO_M, &ok) == ZOQ_OK && ok;
}

static void discard(void *staged)
{
    lozom *s = staged;
    free(s->f.n);
    free(s->spare);
    free(s);
}

void zoq__lozom_free(zoq__param *p)
{
    if (state_of(p))
        discard(state_of(p));
    p->tech[ZOQ__TECH_lozo_m] = NULL;
}

static uint64_t v_step(const zoq_ctx *ctx, uint64_t step)
{
    return step - step % (uint64_t)ctx->opts.lozo_interval;
}

static int prepare(zoq_ctx *ctx, zoq__param *p)
{
    const zoq__tensor *t = &p->t;
    if (!zoq__lozom_applies(ctx, p)) {
        zoq__lozom_free(p);
        return ZOQ_OK;
    }
    const int r = (int)ctx->opts.lozo_rank, nq = (int)ctx->opts.queries;
    const size_t rows = (size_t)t->rows, cols = (size_t)t->cols;
    if (rows > INT_MAX || cols > INT_MAX) /* OpenBLAS takes int sizes */
        return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "LOZO-M: '%s' has more than 2^31-1 rows or "
                         "columns", p->name);
    if (rows > SIZE_MAX / sizeof(float) / (size_t)r / (size_t)nq)
        return zoq__fail(ctx, ZOQ_E_NOMEM, "LOZO-M factors of '%s' do not fit in memory",
                         p->name);
    const size_t n = rows * (size_t)r * (size_t)nq;
    if (state_of(p) && (state_of(p)->f.nq != nq || state_of(p)->f.rank != r))
        zoq__lozom_free(p); /* another shape: the old factors mean nothing now */
    lozom *s = state_of(p);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)) || !(s->f.n = calloc(n, sizeof *s->f.n))) {
            free(s);
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the LOZO-M factors of '%s'",
                             p->name);
        }
        s->f.nq = nq;
        s->f.rank = r;
        s->f.vstep = v_step(ctx, ctx->step);
        p->tech[ZOQ__TECH_lozo_m] = s;
    }
    if (!s->spare && !(s->spare = malloc(n * sizeof *s->spare)))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the LOZO-M factors of '%s'",
                         p->name);
    size_t need = (rows + 2 * cols + (size_t)r) * (size_t)r;
    if (need > ctx->cap_lozo_scratch) {
        float *x = realloc(ctx->lozo_scratch, need * sizeof *x);
        if (!x)
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the LOZO-M scratch");
        ctx->lozo_scratch = x;
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

/* The next factors of p into its spare, for the update at V step vcur. */
static void advance_param(zoq_ctx *ctx, zoq__param *p, const zoq__term *grad, int n_grad,
                          uint64_t vcur)
{
    const zoq__tensor *t = &p->t;
    lozom *s = state_of(p);
    const int r = s->f.rank;
    const int rows = (int)t->rows;
    const size_t fsize = (size_t)rows * (size_t)r;
    float *u = ctx->lozo_scratch, *va = u + fsize, *vb = va + (size_t)t->cols * (size_t)r,
          *R = vb + (size_t)t->cols * (size_t)r;
    const float mu = (float)ctx->opts.momentum;
    const double inv_sqrt_r = 1.0 / sqrt((double)r);
    for (int q = 0; q < s->f.nq; q++) {
        const float *old = s->f.n + (size_t)q * fsize;
        float *nw = s->spare + (size_t)q * fsize;
        if (s->f.vstep != vcur) { /* N_q <- mu N_q V_oldᵀV_new / cols */
            reprojection(t, (uint32_t)q, r, s->f.vstep, vcur, va, vb, R);
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
        lozom *s = state_of(p);
        if (!p->enabled || !s)
            continue;
        advance_param(ctx, p, u->grad, u->n_grad, vcur);
        float *f = s->f.n;
        s->f.n = s->spare;
        s->spare = f;
        s->vstep_prev = s->f.vstep;
        s->f.vstep = vcur;
    }
}

static void undo(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        lozom *s = state_of(&ctx->params[i]);
        if (!ctx->params[i].enabled || !s)
            continue;
        float *f = s->f.n;
        s->f.n = s->spare;
        s->spare = f;
        s->f.vstep = s->vstep_prev;
    }
}

/* Floats in p's factors. */
static int64_t factor_count(const zoq__param *p, int nq, int rank)
{
    return p->t.rows * (int64_t)rank * (int64_t)nq;
}

static uint32_t saved(const zoq_ctx *ctx, const zoq__param *p)
{
    (void)ctx;
    return state_of(p) != NULL;
}

/* Tag 4: V step, count of factors, rank, values. */
static void save(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b)
{
    (void)ctx;
    const lozom *s = state_of(p);
    if (!s)
        return;
    zoq__buf_put_le(b, TAG_LOZO, 4);
    zoq__buf_put_le(b, s->f.vstep, 8);
    zoq__buf_put_le(b, (uint32_t)s->f.nq, 4);
    zoq__buf_put_le(b, (uint32_t)s->f.rank, 4);
    zoq__tech_put_f32(b, s->f.n, factor_count(p, s->f.nq, s->f.rank));
}

static int load(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                void **staged)
{
    (void)tag;
    (void)kind;
    uint64_t vstep = zoq__rbuf_le(r, 8);
    uint32_t nq = (uint32_t)zoq__rbuf_le(r, 4), rank = (uint32_t)zoq__rbuf_le(r, 4);
    if (r->bad || *staged || p->t.cols <= 0 || nq < 1 || nq > 65536 || rank < 1 ||
        rank > ZOQ__LOZO_MAX_RANK || (uint64_t)(r->n - r->at) / 4 / nq / rank < (uint64_t)p->t.rows)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': bad, repeated or truncated "
                         "LOZO-M factors", p->name);
    lozom *s = calloc(1, sizeof *s);
    if (!s)
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading the state of '%s'", p->name);
    s->f = (zoq__lozo_factors){.nq = (int)nq, .rank = (int)rank, .vstep = vstep};
    *staged = s;
    return zoq__tech_get_f32(ctx, r, p, factor_count(p, (int)nq, (int)rank), &s->f.n);
}

/* The spare is regrown by the next step. */
static void commit(zoq_ctx *ctx, void **staged)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__lozom_free(&ctx->params[i]);
        ctx->params[i].tech[ZOQ__TECH_lozo_m] = staged[i];
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
    .optional_stages = ZOQ__STAGE_BIT(ZOQ__STAGE_LOZO_M),
    .stage_state = stage_state,
    .prepare = prepare,
    .release = release,
    .update = update,
    .undo = undo,
    .saved = saved,
    .save = save,
    .tags = 1u << TAG_LOZO,
    .load = load,
    .commit = commit,
    .discard = discard,
};
