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

#define TAG_BITS 5u

static const int keys[] = {ZOQ_OPT_SPARSE, ZOQ_OPT_SPARSE_KEEP, ZOQ_OPT_SPARSE_EVERY, 0};

/* A parameter's mask bits (on its device) and magnitude threshold, and
 * whether tau is this epoch's. */
typedef struct sparse_state {
    zoq__mask_state ms;
    int tau_valid;
} sparse_state;

static sparse_state *state_of(const zoq__param *p)
{
    return p->tech[ZOQ__TECH_sparse];
}

static void *stage_state(const zoq__param *p)
{
    return state_of(p) ? &state_of(p)->ms : NULL;
}

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.sparse != ZOQ_SPARSE_OFF;
}

static void free_state(zoq_ctx *ctx, zoq__param *p)
{
    if (!state_of(p))
        return;
    zoq__param_release(ctx, p, state_of(p)->ms.bits);
    free(state_of(p));
    p->tech[ZOQ__TECH_sparse] = NULL;
}

static void release(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        free_state(ctx, &ctx->params[i]);
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
        if (!state_of(p) && !(p->tech[ZOQ__TECH_sparse] = calloc(1, sizeof(sparse_state)))) {
            rc = zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the sparse mask of '%s'",
                           p->name);
            break;
        }
        sparse_state *st = state_of(p);
        if (!st->ms.bits &&
            (rc = zoq__param_alloc(ctx, p, ((size_t)p->t.numel + 7) / 8, &bits)) == ZOQ_OK) {
            st->ms.bits = bits;
            pl->window_bits = 0; /* a tensor new to the window: every mask anew */
        }
        if (p->reenabled) { /* its threshold and bits date from before it was turned off */
            st->tau_valid = 0;
            pl->window_bits = 0;
        }
        p->reenabled = 0;
        if (rc != ZOQ_OK || (st->tau_valid && epoch == ctx->mask_epoch))
            continue;
        if ((!hist && !(hist = malloc(BINS * sizeof *hist))) ||
            (!x && !(x = malloc(SLICE * sizeof *x)))) {
            rc = zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory computing sparse thresholds");
            break;
        }
        int64_t k = (int64_t)ceil(ctx->opts.sparse_keep * (double)p->t.numel) - 1;
        if ((rc = kth_abs(ctx, p, k < 0 ? 0 : k, hist, x, &st->ms.tau)) == ZOQ_OK)
            st->tau_valid = 1;
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

void zoq__sparse_threshold(const zoq__param *p, uint32_t *valid, float *tau)
{
    *valid = state_of(p) ? (uint32_t)state_of(p)->tau_valid : 0;
    *tau = state_of(p) ? state_of(p)->ms.tau : 0.0f;
}

/* The state file holds the bits of the open accumulation window's mask. */
static int saves_bits(const zoq_ctx *ctx, const zoq__param *p)
{
    return zoq__sparse_window_bits(ctx) && p->enabled && state_of(p) && state_of(p)->ms.bits;
}

static uint32_t saved(const zoq_ctx *ctx, const zoq__param *p)
{
    return (uint32_t)saves_bits(ctx, p);
}

/* Tag 5: (numel + 7) / 8 bytes of mask. */
static void save(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b)
{
    if (!saves_bits(ctx, p))
        return;
    zoq__buf_put_le(b, TAG_BITS, 4);
    zoq__buf_put(b, state_of(p)->ms.bits, ((size_t)p->t.numel + 7) / 8);
}

static void discard(void *staged)
{
    sparse_state *st = staged;
    free(st->ms.bits);
    free(st);
}

/* The staged state of p, made if new. */
static sparse_state *staged_state(zoq_ctx *ctx, void **staged)
{
    if (!*staged && !(*staged = calloc(1, sizeof(sparse_state))))
        zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading a sparse mask");
    return *staged;
}

int zoq__sparse_stage_threshold(zoq_ctx *ctx, void **staged, uint32_t valid, float tau)
{
    sparse_state *st = staged_state(ctx, staged);
    if (!st)
        return ZOQ_E_NOMEM;
    st->tau_valid = (int)valid;
    st->ms.tau = tau;
    return ZOQ_OK;
}

static int load(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                void **staged)
{
    (void)tag;
    (void)kind;
    sparse_state *st = staged_state(ctx, staged);
    if (!st)
        return ZOQ_E_NOMEM;
    const size_t n = ((size_t)p->t.numel + 7) / 8;
    const unsigned char *s = st->ms.bits ? NULL : zoq__rbuf_take(r, n);
    if (!s)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': repeated or truncated sparse "
                         "mask", p->name);
    if (!(st->ms.bits = malloc(n)))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading the sparse mask of '%s'",
                         p->name);
    memcpy(st->ms.bits, s, n);
    return ZOQ_OK;
}

/* The window's stored mask counts only if every enabled tensor has one. */
static void commit(zoq_ctx *ctx, void **staged)
{
    int window_bits = ctx->accum_steps > 0;
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        sparse_state *st = staged[i];
        if (st && st->ms.bits) {
            free_state(ctx, p);
        } else {
            window_bits &= !p->enabled;
            if (st && state_of(p)) { /* keep p's bits, take the file's threshold */
                state_of(p)->tau_valid = st->tau_valid;
                state_of(p)->ms.tau = st->ms.tau;
                free(st);
                continue;
            }
            free_state(ctx, p);
        }
        p->tech[ZOQ__TECH_sparse] = st;
    }
    ctx->plan.window_bits = window_bits;
    ctx->plan.moved = 0;
}

/* Last in list.h: its threshold reads θ after the other techniques are
 * ready, as a step's first move does. */
const zoq__tech zoq__tech_sparse = {
    .name = "sparse perturbation",
    .keys = keys,
    .active = active,
    .needs = ZOQ__NEEDS_THETA,
    .stages = ZOQ__STAGE_BIT(ZOQ__STAGE_MASK),
    .stage_state = stage_state,
    .plan = plan,
    .release = release,
    .saved = saved,
    .save = save,
    .tags = 1u << TAG_BITS,
    .load = load,
    .commit = commit,
    .discard = discard,
};
