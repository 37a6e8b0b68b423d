/* sparse.c - Sparse MeZO (Liu et al. 2024, arXiv:2402.15751):
 * perturb only a fraction `keep` of each tensor. Magnitude mode perturbs the
 * elements with |θ| <= τ, τ the exact keep-quantile of |θ| over the tensor,
 * recomputed at the start of every `sparse_every`-th update (two read passes:
 * a radix select on the bits of |θ|); random mode draws the mask from stream
 * 2. The mask is constant within an accumulation window and, in magnitude
 * mode, always taken from the unperturbed θ: the first in-place move stores
 * it as 1 bit per element for the rest of the step and of its accumulation
 * window (in place, θ comes back from a step only to within rounding, and an
 * element at τ would leave the mask if later steps compared again). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/convert.h"
#include "tech/tech.h"

#define BINS 65536
/* Elements read per call (device tensors are copied to the host in these). */
#define SLICE 65536

/* One histogram pass over |θ| of p (read in slices into x): with top < 0
 * counts bits >> 16, else the low 16 bits of those whose top half is top. */
static int histogram(zoq_ctx *ctx, const zoq__param *p, int64_t top, uint64_t *hist, float *x)
{
    memset(hist, 0, BINS * sizeof *hist);
    for (int64_t s = 0; s < p->t.numel; s += SLICE) {
        int64_t n = p->t.numel - s < SLICE ? p->t.numel - s : SLICE;
        int rc = zoq__param_read(ctx, p, s, n, x);
        if (rc != ZOQ_OK)
            return rc;
        for (int64_t i = 0; i < n; i++) {
            uint32_t b = zoq__f32_bits(x[i]) & 0x7FFFFFFFu;
            if (top < 0)
                hist[b >> 16]++;
            else if (b >> 16 == (uint32_t)top)
                hist[b & 0xFFFFu]++;
        }
    }
    return ZOQ_OK;
}

/* Exact k-th smallest |θ| (0-based) by two 16-bit histogram passes over the
 * bit patterns of |θ| (ordered like the values for non-negative floats). */
static int kth_abs(zoq_ctx *ctx, const zoq__param *p, int64_t k, uint64_t *hist, float *x,
                   float *tau)
{
    int rc = histogram(ctx, p, -1, hist, x);
    uint32_t hi = 0;
    uint64_t below = 0;
    while (rc == ZOQ_OK && below + hist[hi] <= (uint64_t)k)
        below += hist[hi++];
    if (rc == ZOQ_OK)
        rc = histogram(ctx, p, hi, hist, x);
    uint32_t lo = 0;
    while (rc == ZOQ_OK && below + hist[lo] <= (uint64_t)k)
        below += hist[lo++];
    if (rc == ZOQ_OK)
        *tau = zoq__f32_from_bits(hi << 16 | lo);
    return rc;
}

static const int keys[] = {ZOQ_OPT_SPARSE, ZOQ_OPT_SPARSE_KEEP, ZOQ_OPT_SPARSE_EVERY, 0};

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.sparse != ZOQ_SPARSE_OFF;
}

static void release(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param_release(ctx, &ctx->params[i], ctx->params[i].t.bits);
        ctx->params[i].t.bits = NULL;
        ctx->params[i].tau_valid = 0;
    }
    ctx->mask_epoch = -1;
    ctx->plan.window_bits = 0;
}

int zoq__sparse_window_bits(const zoq_ctx *ctx)
{
    return ctx->opts.sparse == ZOQ_SPARSE_MAGNITUDE && ctx->accum_steps > 0 &&
           (ctx->plan.window_bits || ctx->plan.moved);
}

/* Mask bits and, at the start of a mask epoch, each tensor's magnitude
 * threshold. */
static int plan(zoq_ctx *ctx)
{
    zoq__plan *pl = &ctx->plan;
    pl->window_bits = zoq__sparse_window_bits(ctx);
    pl->moved = 0;
    /* the mask changes only between accumulation windows */
    int64_t epoch = ctx->accum_steps == 0 ? (int64_t)(ctx->updates / (uint64_t)ctx->opts.sparse_every)
                                          : ctx->mask_epoch;
    if (epoch < 0)
        epoch = (int64_t)(ctx->updates / (uint64_t)ctx->opts.sparse_every);
    const float keep = (float)ctx->opts.sparse_keep;
    pl->mask_random = (zoq__mask){.kind = ZOQ__MASK_RANDOM, .keep = keep, .step = (uint64_t)epoch};
    pl->mask_store = (zoq__mask){.kind = ZOQ__MASK_MAGNITUDE_STORE};
    pl->mask_bits = (zoq__mask){.kind = ZOQ__MASK_BITS};
    pl->mask_calc = (zoq__mask){.kind = ZOQ__MASK_MAGNITUDE};
    if (ctx->opts.sparse == ZOQ_SPARSE_RANDOM) {
        ctx->mask_epoch = epoch;
        return ZOQ_OK;
    }
    uint64_t *hist = NULL;
    float *x = NULL;
    int rc = ZOQ_OK;
    for (int32_t i = 0; i < ctx->n_params && rc == ZOQ_OK; i++) {
        zoq__param *p = &ctx->params[i];
        if (!p->enabled)
            continue;
        void *bits;
        if (!p->t.bits &&
            (rc = zoq__param_alloc(ctx, p, ((size_t)p->t.numel + 7) / 8, &bits)) == ZOQ_OK) {
            p->t.bits = bits;
            pl->window_bits = 0; /* a tensor new to the window: every mask anew */
        }
        if (p->reenabled) { /* its threshold and bits date from before it was turned off */
            p->tau_valid = 0;
            pl->window_bits = 0;
        }
        p->reenabled = 0;
        if (rc != ZOQ_OK || (p->tau_valid && epoch == ctx->mask_epoch))
            continue;
        if ((!hist && !(hist = malloc(BINS * sizeof *hist))) ||
            (!x && !(x = malloc(SLICE * sizeof *x)))) {
            rc = zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory computing sparse thresholds");
            break;
        }
        int64_t k = (int64_t)ceil(ctx->opts.sparse_keep * (double)p->t.numel) - 1;
        if ((rc = kth_abs(ctx, p, k < 0 ? 0 : k, hist, x, &p->t.tau)) == ZOQ_OK)
            p->tau_valid = 1;
    }
    free(hist);
    free(x);
    if (rc == ZOQ_OK)
        ctx->mask_epoch = epoch;
    return rc;
}

const zoq__mask *zoq__sparse_mask(const zoq_ctx *ctx, int store)
{
    const zoq__plan *pl = &ctx->plan;
    switch (ctx->opts.sparse) {
    case ZOQ_SPARSE_RANDOM: return &pl->mask_random;
    case ZOQ_SPARSE_MAGNITUDE:
        if (pl->window_bits)
            return &pl->mask_bits;
        return store ? &pl->mask_store : pl->moved ? &pl->mask_bits : &pl->mask_calc;
    default: return NULL;
    }
}

/* Last in list.h: its threshold reads θ after the other techniques are
 * ready, as a step's first move does. */
const zoq__tech zoq__tech_sparse = {
    .name = "sparse perturbation",
    .keys = keys,
    .active = active,
    .needs = ZOQ__NEEDS_THETA,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_MASK),
    .plan = plan,
    .release = release,
};
