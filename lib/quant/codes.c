/* codes.c - integer-code (ZOQ_I8) tensors trained on their own grid, so
 * every value after every step is an integer code in [lo, hi]:
 *   QuZO (Zhou et al., arXiv:2502.12346): the probe offsets
 *     u1 = SR1(eps_c·z) and the update offsets u2 = SR2(eps_c·z) are two
 *     independent stochastic roundings of the same z (eq. 7/8), clamped to
 *     |u| <= 2^(b-1) - 1; the code update is the stochastic rounding of
 *     -(lr / (N·eps))·Σ_e w_e·u2_e (eq. 13), clamped to [lo, hi]. The naive
 *     variant (eq. 3) uses u1 for both.
 *   ZOQO (arXiv:2501.06736): offsets uniform on {-m..m} with
 *     m = max(floor(eps/s), 1); update -k·sign(Σ_e w_e·u_e) codes with
 *     k = max(floor(lr/s), 1) (0 when lr = 0), clamped to [lo, hi].
 * eps_c = eps/s is eps in code steps, s the element's scale (1 without
 * scales); an element whose scale is not a positive finite number is never
 * moved. Every random draw is a pure function of (key, step, query, stream,
 * element): streams 5, 6, 7 (docs/rng.md). Points are computed from θ, never
 * chained, so clamped probes restore exactly; the in-place step keeps θ's
 * codes in a copy for that. The loops run on the calling thread: results
 * cannot depend on the thread count. Spec: docs/quantized.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "rng/noise.h"

#define TILE 512
/* Largest ZOQO noise and lr multiple, in code steps (the int8 span). */
#define ZOQO_M_MAX 127
#define ZOQO_K_MAX 255

size_t zoq__dtype_size(int dtype)
{
    return dtype == ZOQ_F32 ? 4u : dtype == ZOQ_I8 ? 1u : 2u;
}

static int is_codes(const zoq__param *p)
{
    return p->enabled && p->t.dtype == ZOQ_I8;
}

int zoq__any_enabled_codes(const zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        if (is_codes(&ctx->params[i]))
            return 1;
    return 0;
}

int zoq__any_enabled_scales(const zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        if (ctx->params[i].enabled && (ctx->params[i].flags & ZOQ_PARAM_SCALE))
            return 1;
    return 0;
}

int zoq__codes_plan(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__codes *c = &ctx->params[i].codes;
        if (!is_codes(&ctx->params[i]) || !c->scales)
            continue;
        const size_t n = (size_t)(ctx->params[i].t.numel / c->group);
        float *s = realloc(c->plan_scales, n * sizeof *s); /* the group may have changed */
        if (!s)
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory copying the scales of '%s'",
                             ctx->params[i].name);
        memcpy(s, c->scales, n * sizeof *s);
        c->plan_scales = s;
    }
    return ZOQ_OK;
}

int zoq__codes_prepare(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (is_codes(p) && !p->codes.backup && !(p->codes.backup = malloc((size_t)p->t.numel)))
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory for the copy of the codes of '%s'",
                             p->name);
    }
    return ZOQ_OK;
}

/* Element i's scale as planned, 0 when it cannot be used (not a positive
 * finite number). */
static double elem_scale(const zoq__codes *c, int64_t i)
{
    if (!c->scales)
        return 1.0;
    const double s = c->plan_scales[i / c->group];
    return s > 0.0 && s <= 3.4e38 ? s : 0.0;
}

/* The Philox words of elements [b, b+n) of a stream: element i takes word
 * i % 4 of block i / 4 (docs/rng.md, "Rounding streams"). */
static void stream_words(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                         int64_t b, int n, uint32_t *w)
{
    uint32_t blk[4];
    for (int j = 0; j < n;) {
        const int64_t i = b + j;
        zoq__noise_block(key, step, query, stream, (uint64_t)i / 4, blk);
        for (int k = (int)(i % 4); k < 4 && j < n; k++)
            w[j++] = blk[k];
    }
}

/* u = float(w >> 8) * 2^-24, uniform on [0, 1) with 24 bits. */
static float unit(uint32_t w)
{
    return (float)(w >> 8) * 0x1p-24f;
}

/* floor(x) + [r < x - floor(x)] for |x| < 2^23: x rounded to an integer
 * neighbour with probability of its distance to the other (unbiased). */
static int stoch_round(float x, uint32_t w)
{
    const float fl = floorf(x);
    return (int)fl + (unit(w) < x - fl);
}

/* QuZO offsets of (step, query) from the rounding `stream`, elements [b, b+n). */
static void quzo_offsets(const zoq_ctx *ctx, const zoq__param *p, uint64_t step,
                         uint32_t query, uint32_t stream, int64_t b, int n, int32_t *u)
{
    float z[TILE];
    uint32_t w[TILE];
    const int lim = (1 << (ctx->opts.quzo_bits - 1)) - 1;
    const float flim = (float)(lim + 1);
    zoq__noise_fill(p->t.key, step, query, ZOQ__STREAM_PROBE, (int)ctx->opts.dist, (uint64_t)b,
                    (size_t)n, z);
    stream_words(p->t.key, step, query, stream, b, n, w);
    for (int j = 0; j < n; j++) {
        const double s = elem_scale(&p->codes, b + j);
        if (s == 0.0) {
            u[j] = 0;
            continue;
        }
        float x = (float)(ctx->plan.eps / s) * z[j];
        x = x < -flim ? -flim : x > flim ? flim : x;
        const int v = stoch_round(x, w[j]);
        u[j] = v < -lim ? -lim : v > lim ? lim : v;
    }
}

/* ZOQO offsets of (step, query), elements [b, b+n): uniform on {-m..m}. */
static void zoqo_offsets(const zoq_ctx *ctx, const zoq__param *p, uint64_t step, uint32_t query,
                         int64_t b, int n, int32_t *u)
{
    uint32_t w[TILE];
    stream_words(p->t.key, step, query, ZOQ__STREAM_PROBE, b, n, w);
    for (int j = 0; j < n; j++) {
        const double s = elem_scale(&p->codes, b + j);
        if (s == 0.0) {
            u[j] = 0;
            continue;
        }
        const double r = floor(ctx->plan.eps / s);
        const int m = r < 1.0 ? 1 : r > ZOQO_M_MAX ? ZOQO_M_MAX : (int)r;
        u[j] = (int)(((uint64_t)w[j] * (uint64_t)(2 * m + 1)) >> 32) - m;
    }
}

/* The offsets a probe uses (update = 0) or the update uses (update = 1). */
static void offsets(const zoq_ctx *ctx, const zoq__param *p, uint64_t step, uint32_t query,
                    int update, int64_t b, int n, int32_t *u)
{
    if (ctx->opts.qmethod == ZOQ_QMETHOD_ZOQO)
        zoqo_offsets(ctx, p, step, query, b, n, u);
    else
        quzo_offsets(ctx, p, step, query,
                     update && ctx->opts.qmethod == ZOQ_QMETHOD_QUZO ? ZOQ__STREAM_ROUND2
                                                                      : ZOQ__STREAM_ROUND1,
                     b, n, u);
}

static int8_t clamp_code(const zoq__codes *c, int v)
{
    return (int8_t)(v < c->lo ? c->lo : v > c->hi ? c->hi : v);
}

/* dst = clamp(src + k·u1) for the point pt (k = sign of its coef). */
static void point_from(const zoq_ctx *ctx, const zoq__param *p, const zoq_point_t *pt,
                       const int8_t *src, int8_t *dst)
{
    const int k = pt->query < 0 ? 0 : (pt->coef > 0.0) - (pt->coef < 0.0);
    if (k == 0) {
        if (dst != src)
            memcpy(dst, src, (size_t)p->t.numel);
        return;
    }
    int32_t u[TILE];
    for (int64_t b = 0; b < p->t.numel; b += TILE) {
        const int n = (int)(p->t.numel - b < TILE ? p->t.numel - b : TILE);
        offsets(ctx, p, ctx->step, (uint32_t)pt->query, 0, b, n, u);
        for (int j = 0; j < n; j++)
            dst[b + j] = clamp_code(&p->codes, src[b + j] + k * u[j]);
    }
}

void zoq__codes_point(const zoq_ctx *ctx, const zoq__param *p, const zoq_point_t *pt,
                      int8_t *dst)
{
    const zoq_point_t home = {.query = -1, .coef = 0.0};
    point_from(ctx, p, p->enabled ? pt : &home, p->t.data, dst);
}

void zoq__codes_offsets(const zoq_ctx *ctx, const zoq__param *p, uint32_t query, int64_t off,
                        int64_t n, float *out)
{
    int32_t u[TILE];
    for (int64_t b = off; b < off + n; b += TILE) {
        const int m = (int)(off + n - b < TILE ? off + n - b : TILE);
        offsets(ctx, p, ctx->step, query, 0, b, m, u);
        for (int j = 0; j < m; j++)
            out[b - off + j] = (float)u[j];
    }
}

void zoq__codes_move(zoq_ctx *ctx, const zoq_point_t *pt, int moved)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (!is_codes(p))
            continue;
        if (!moved)
            memcpy(p->codes.backup, p->t.data, (size_t)p->t.numel);
        point_from(ctx, p, pt, p->codes.backup, p->t.data);
    }
}

/* The code update over elements [b, b+n): src + Δ into dst (see the top). */
static void update_range(const zoq_ctx *ctx, const zoq__param *p, const int8_t *src,
                         int8_t *dst, int64_t b, int n)
{
    float acc[TILE];
    int32_t u[TILE];
    uint32_t w[TILE];
    const int zoqo = ctx->opts.qmethod == ZOQ_QMETHOD_ZOQO;
    const double lr = ctx->plan.lr, eps = ctx->plan.eps;
    const int n_acc = ctx->n_accum;
    memset(acc, 0, sizeof acc);
    for (int e = 0; e < n_acc; e++) {
        const zoq__accum *a = &ctx->accum[e];
        const float coef = zoqo ? (float)a->w : (float)(-lr * a->w / (n_acc * eps));
        offsets(ctx, p, a->step, a->query, 1, b, n, u);
        for (int j = 0; j < n; j++)
            acc[j] = acc[j] + coef * (float)u[j];
    }
    if (!zoqo)
        stream_words(p->t.key, ctx->step, 0, ZOQ__STREAM_ROUND_UPDATE, b, n, w);
    for (int j = 0; j < n; j++) {
        int d;
        if (zoqo) {
            const double s = elem_scale(&p->codes, b + j), r = s > 0.0 ? floor(lr / s) : 0.0;
            const int k = lr == 0.0 || s == 0.0 ? 0 : r < 1.0 ? 1 : r > ZOQO_K_MAX ? ZOQO_K_MAX
                                                                                   : (int)r;
            d = acc[j] > 0.0f ? -k : acc[j] < 0.0f ? k : 0;
        } else {
            const float x = acc[j] < -512.0f ? -512.0f : acc[j] > 512.0f ? 512.0f : acc[j];
            d = stoch_round(x, w[j]);
        }
        dst[b + j] = clamp_code(&p->codes, src[b + j] + d);
    }
}

void zoq__codes_finish(zoq_ctx *ctx, int moved)
{
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (!is_codes(p))
            continue;
        const int8_t *src = moved ? p->codes.backup : p->t.data;
        if (!ctx->plan.applied) {
            if (moved)
                memcpy(p->t.data, src, (size_t)p->t.numel);
            continue;
        }
        for (int64_t b = 0; b < p->t.numel; b += TILE)
            update_range(ctx, p, src, p->t.data, b,
                         (int)(p->t.numel - b < TILE ? p->t.numel - b : TILE));
    }
}
