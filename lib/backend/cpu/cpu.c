/* cpu.c - the built-in CPU backend: fused noise passes, split into fixed
 * chunks and run on the thread pool, each tile through the pass's terms
 * and a table of stage functions (one call per tile per stage). Each element's result depends only on
 * its own index, so any thread count gives the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/convert.h"
#include "core/strided.h"
#include "pool.h"
#include "tile.h"
#include "rng/lowrank.h"
#include "rng/noise.h"
#include "zoq.h"

/* Elements per task (a multiple of every block size and of the tile). */
#define CHUNK 16384
#define TILE ZOQ__TILE
/* Below this many elements in a call, threads cost more than they save. */
#define PARALLEL_MIN 65536

typedef struct cpu_ctx {
    zoq__pool *pool;
    const zoq__tile_ops *ops;
    size_t *first;              /* task offsets per pass; grows, never shrinks */
    int cap_first;
} cpu_ctx;

/* A batch of passes cut into chunk tasks: pass p owns tasks [first[p],
 * first[p+1]); then[p] (when then is not NULL) follows it tile by tile. */
typedef struct batch {
    const zoq__pass *passes, *then;
    int n;
    size_t *first;
    const zoq__tile_ops *ops;
} batch;

/* One tile of a pass on its way through the stages: n elements at b, acc
 * their running values; what the direction stages set for every term's d
 * (lowrank, m, root); scratch for z and ĝ. */
typedef struct tile {
    const zoq__tile_ops *ops;
    const zoq__pass *ps;
    int64_t b;
    int n;
    float *acc;
    const zoq__lowrank *lowrank; /* NULL: d from z */
    uint8_t *m;                 /* NULL: no mask */
    float *root;                /* NULL: no preconditioning */
    float *z, *g, *root_buf;    /* TILE floats each */
    uint8_t *mask_buf;          /* TILE bytes */
} tile;

/* Scratch of a tile, never initialized (it is written before it is read).
 * Every tile buffer is 64-byte aligned, so no 64-byte vector access of one
 * splits a cache line (3 % of a step, tools/ab_step.sh). */
typedef struct scratch {
    _Alignas(64) float z[TILE];
    _Alignas(64) float g[TILE];
    _Alignas(64) float root[TILE];
    _Alignas(64) uint8_t mask[TILE];
} scratch;

/* A tile over the scratch sc. */
static tile tile_at(const zoq__tile_ops *ops, const zoq__pass *ps, scratch *sc)
{
    return (tile){.ops = ops, .ps = ps, .z = sc->z, .g = sc->g, .root_buf = sc->root,
                  .mask_buf = sc->mask};
}

/* The direction of a term over the tile: z (or U·Vᵀ/sqrt(r)), times the mask
 * m (NULL: none), divided by root[j] = sqrt(sigma[j]) (NULL: none), in z. */
static void direction(const tile *t, const zoq__term *term, const uint8_t *m, const float *root,
                      float *z)
{
    const zoq__tensor *src = t->ps->src;
    if (t->lowrank)
        zoq__lowrank_fill(src->key, term->step, term->query, t->lowrank->rank,
                          t->lowrank->interval, src->cols, (uint64_t)t->b, (size_t)t->n, z);
    else
        t->ops->noise(src->key, term->step, term->query, t->ps->stream, t->ps->dist,
                      (uint64_t)t->b, (size_t)t->n, z);
    if (m)
        t->ops->keep(m, t->n, z);
    if (root)
        t->ops->divide(root, t->n, z);
}

/* out[j] = out[j] + coef_k * d_k[j] for each term k in order. Plain
 * directions skip z where the set can: Rademacher ones over whole blocks
 * (c * (±1) is a sign flip of c: same bits unless c is NaN), Gaussian ones
 * added from the generator's registers. */
static void add_terms(tile *t, const zoq__term *terms, int n_terms, float *out)
{
    const zoq__tile_ops *ops = t->ops;
    const zoq__pass *ps = t->ps;
    const int plain = !t->m && !t->root && !t->lowrank;
    const int signs = plain && ops->rademacher_axpy && ps->dist == ZOQ_DIST_RADEMACHER &&
                      t->b % ZOQ__RADE_PER_BLOCK == 0 && t->n % ZOQ__RADE_PER_BLOCK == 0;
    const int gauss = plain && ops->gauss_axpy && ps->dist == ZOQ_DIST_GAUSSIAN;
    for (int k = 0; k < n_terms; k++) {
        const zoq__term *tm = &terms[k];
        if (signs && !isnan(tm->coef)) {
            ops->rademacher_axpy(ps->src->key, tm->step, tm->query, ps->stream, (uint64_t)t->b,
                                 (size_t)t->n, tm->coef, out);
            continue;
        }
        if (gauss) {
            ops->gauss_axpy(ps->src->key, tm->step, tm->query, ps->stream, (uint64_t)t->b,
                            (size_t)t->n, tm->coef, out);
            continue;
        }
        direction(t, tm, t->m, t->root, t->z);
        ops->axpy(tm->coef, t->z, t->n, out);
    }
}

/* The stages of backend.h, one function per kind over one tile. */

static void stage_lowrank(tile *t, const zoq__stage *st)
{
    t->lowrank = t->ps->src->cols > 0 ? st->arg : NULL;
}

/* The mask from the tile's unperturbed values (magnitude modes), the
 * state's bits, or stream 2 (random). */
static void stage_mask(tile *t, const zoq__stage *st)
{
    const zoq__mask *mk = st->arg;
    zoq__mask_state *ms = st->state;
    const int64_t b = t->b;
    const int n = t->n;
    uint8_t *m = t->m = t->mask_buf;
    switch (mk->kind) {
    case ZOQ__MASK_RANDOM:
        zoq__mask_fill(t->ps->src->key, mk->step, mk->keep, (uint64_t)b, (size_t)n, m);
        return;
    case ZOQ__MASK_BITS:
        for (int j = 0; j < n; j++)
            m[j] = (ms->bits[(b + j) >> 3] >> ((b + j) & 7)) & 1u;
        return;
    default:
        for (int j = 0; j < n; j++)
            m[j] = fabsf(t->acc[j]) <= ms->tau;
        if (mk->kind == ZOQ__MASK_MAGNITUDE_STORE) /* b is a multiple of 8: whole bytes */
            for (int j = 0; j < n; j += 8) {
                uint8_t byte = 0;
                for (int k = 0; k < 8 && j + k < n; k++)
                    byte |= (uint8_t)(m[j + k] << k);
                ms->bits[(b + j) >> 3] = byte;
            }
    }
}

static void stage_precond(tile *t, const zoq__stage *st)
{
    t->root = t->root_buf;
    t->ops->root((const float *)st->state + t->b, t->n, t->root);
}

/* HiZOO's sigma update; root gets sqrt(new sigma). Elements the mask
 * leaves out were not probed: their sigma stays. */
static void stage_curv(tile *t, const zoq__stage *st)
{
    const zoq__hessian *hs = st->arg;
    const zoq__tile_ops *ops = t->ops;
    float *sig = (float *)st->state + t->b;
    _Alignas(64) float s[TILE];
    const int n = t->n;
    ops->scale(hs->keep, sig, n, s);
    for (int k = 0; k < hs->n_curv; k++) {
        direction(t, &hs->curv[k], NULL, NULL, t->z);
        ops->curv(hs->curv[k].coef, sig, t->z, n, s);
    }
    for (int j = 0; j < n; j++)
        if (!t->m || t->m[j])
            sig[j] = s[j] < hs->floor ? hs->floor : s[j];
    ops->root(sig, n, t->root);
}

/* ĝ of the update's terms into t->g. */
static const float *gradient(tile *t, const zoq__update *u)
{
    memset(t->g, 0, (size_t)t->n * sizeof *t->g);
    add_terms(t, u->grad, u->n_grad, t->g);
    return t->g;
}

static void stage_sgd(tile *t, const zoq__stage *st)
{
    const zoq__update *u = st->arg;
    t->ops->axpy(-u->lr, gradient(t, u), t->n, t->acc);
}

static void stage_momentum(tile *t, const zoq__stage *st)
{
    const zoq__update *u = st->arg;
    t->ops->momentum(u, gradient(t, u), (float *)st->state + t->b, t->acc, t->n);
}

static void stage_adam(tile *t, const zoq__stage *st)
{
    const zoq__update *u = st->arg;
    const zoq__moments *mv = st->state;
    t->ops->adam(u, gradient(t, u), mv->m + t->b, mv->v + t->b, t->acc, t->n);
}

static void stage_lozo_m(tile *t, const zoq__stage *st)
{
    const zoq__update *u = st->arg;
    const zoq__lozo_factors *f = st->state;
    const zoq__tensor *src = t->ps->src;
    zoq__lowrank_factor_fill(src->key, f->vstep, f->nq, f->rank, f->n, src->rows, src->cols,
                             (uint64_t)t->b, (size_t)t->n, t->g);
    t->ops->axpy(-u->lr, t->g, t->n, t->acc);
}

static void stage_floor(tile *t, const zoq__stage *st)
{
    const float floor = *(const float *)st->arg;
    for (int j = 0; j < t->n; j++)
        t->acc[j] = t->acc[j] < floor ? floor : t->acc[j];
}

static void (*const stage_fn[ZOQ__STAGE_COUNT])(tile *, const zoq__stage *) = {
    [ZOQ__STAGE_LOWRANK] = stage_lowrank,   [ZOQ__STAGE_MASK] = stage_mask,
    [ZOQ__STAGE_PRECOND] = stage_precond,   [ZOQ__STAGE_CURV] = stage_curv,
    [ZOQ__STAGE_SGD] = stage_sgd,           [ZOQ__STAGE_MOMENTUM] = stage_momentum,
    [ZOQ__STAGE_ADAM] = stage_adam,         [ZOQ__STAGE_LOZO_M] = stage_lozo_m,
    [ZOQ__STAGE_FLOOR] = stage_floor,
};

/* Runs the direction stages (those before ZOQ__STAGE_CURV) on t, whose acc
 * holds the unperturbed values; returns the index of the first other. */
static int direction_stages(tile *t)
{
    int s = 0;
    for (; s < t->ps->n_stages && t->ps->stages[s].kind < ZOQ__STAGE_CURV; s++)
        stage_fn[t->ps->stages[s].kind](t, &t->ps->stages[s]);
    return s;
}

/* The tile of n elements at b of buffer buf laid out as t (dense, or a
 * strided view of floats gathered into a dense tile first) into acc, and
 * back. */
static void tile_load(const zoq__tile_ops *ops, const zoq__tensor *t, const void *buf, int64_t b,
                      int n, float *acc)
{
    if (!t->stride) {
        ops->load(buf, t->dtype, b, n, acc);
        return;
    }
    _Alignas(64) float raw[TILE];
    zoq__gather(buf, t->dtype == ZOQ_F32 ? 4u : 2u, t->stride, b, n, raw);
    ops->load(raw, t->dtype, 0, n, acc);
}

static void tile_store(const zoq__tile_ops *ops, const zoq__tensor *t, void *buf, int64_t b,
                       int n, const float *acc)
{
    if (!t->stride) {
        ops->store(buf, t->dtype, b, n, acc);
        return;
    }
    _Alignas(64) float raw[TILE];
    ops->store(raw, t->dtype, 0, n, acc);
    zoq__scatter(buf, t->dtype == ZOQ_F32 ? 4u : 2u, t->stride, b, n, raw);
}

/* The pass formula of backend.h on the tile of n elements at b. */
static void pass_tile(const zoq__tile_ops *ops, const zoq__pass *ps, int64_t b, int n)
{
    _Alignas(64) float acc_buf[TILE];
    scratch sc;
    tile t = tile_at(ops, ps, &sc);
    t.b = b;
    t.n = n;
    const zoq__tensor *src = ps->src;
    /* f32 in place, aligned: the tile itself is the accumulator (no copy in
     * or out); a buffer at an odd address goes through load and store */
    const int direct = src->dtype == ZOQ_F32 && ps->dst == src->data && ps->scale != 0.0f &&
                       !src->stride && (uintptr_t)src->data % sizeof(float) == 0;
    t.acc = direct ? (float *)src->data + b : acc_buf;
    if (ps->scale == 0.0f) /* a fresh value: even NaN or Inf in src is dropped */
        memset(t.acc, 0, (size_t)n * sizeof *t.acc);
    else if (!direct)
        tile_load(ops, src, src->data, b, n, t.acc);
    int s = direction_stages(&t);
    if (ps->scale != 1.0f && ps->scale != 0.0f)
        ops->scale(ps->scale, t.acc, n, t.acc);
    add_terms(&t, ps->terms, ps->n_terms, t.acc);
    for (; s < ps->n_stages; s++)
        stage_fn[ps->stages[s].kind](&t, &ps->stages[s]);
    if (!direct)
        tile_store(ops, src, ps->dst, b, n, t.acc);
}

/* Terms a sign pass takes; a pass of more goes through pass_tile. */
#define SIGN_TERMS 16

/* Whether ops can run ps as a sign pass (tile.h's zoq__sign_pass): a plain
 * Rademacher pass over a dense tensor, no stage, 1 to SIGN_TERMS terms,
 * none with a NaN coef (c * (-1) is -c for every other c), scale neither 0
 * (a fresh value) nor NaN. */
static int sign_pass_fits(const zoq__tile_ops *ops, const zoq__pass *ps)
{
    if (!ops->sign_passes || ps->dist != ZOQ_DIST_RADEMACHER || ps->n_stages > 0 ||
        ps->src->stride || ps->n_terms < 1 || ps->n_terms > SIGN_TERMS || ps->scale == 0.0f ||
        isnan(ps->scale))
        return 0;
    for (int k = 0; k < ps->n_terms; k++)
        if (isnan(ps->terms[k].coef))
            return 0;
    return 1;
}

/* Elements whose Rademacher words one call per term makes: 16 blocks, one
 * Philox call of the AVX-512 generator. */
#define SPAN (4 * TILE)

/* The m elements at b (whole Rademacher blocks, at most SPAN) through ps
 * and, when then is not NULL, the chained then, tile by tile, each tile in
 * one or a few sweeps. */
static void sign_span(const zoq__tile_ops *ops, const zoq__pass *ps, const zoq__pass *then,
                      int64_t b, int m)
{
    const zoq__pass *pass[2] = {ps, then};
    const int nb = m / ZOQ__RADE_PER_BLOCK, n_pass = then ? 2 : 1;
    _Alignas(64) uint32_t words[2][SIGN_TERMS * SPAN / 32];
    float coef[2][SIGN_TERMS];
    zoq__sign_pass sp[2];
    for (int p = 0; p < n_pass; p++) {
        const zoq__pass *q = pass[p];
        for (int k = 0; k < q->n_terms; k++) {
            const zoq__term *tm = &q->terms[k];
            ops->rademacher_words(q->src->key, tm->step, tm->query, q->stream,
                                  (uint64_t)b / ZOQ__RADE_PER_BLOCK, (size_t)nb,
                                  words[p] + k * 4 * nb);
            coef[p][k] = tm->coef;
        }
        sp[p] = (zoq__sign_pass){q->scale, q->n_terms, coef[p], words[p], nb};
    }
    for (int t = 0; t < m; t += TILE) {
        zoq__sign_pass tp[2];
        for (int p = 0; p < n_pass; p++) {
            tp[p] = sp[p];
            tp[p].words += t / ZOQ__RADE_PER_BLOCK; /* the tile's first block */
        }
        ops->sign_passes(ps->src->data, ps->dst, ps->src->dtype, b + t,
                         m - t < TILE ? m - t : TILE, tp, n_pass);
    }
}

/* The m elements at b through ps, tile by tile. */
static void pass_tiles(const zoq__tile_ops *ops, const zoq__pass *ps, int64_t b, int64_t m)
{
    for (int64_t t = 0; t < m; t += TILE)
        pass_tile(ops, ps, b + t, (int)(m - t < TILE ? m - t : TILE));
}

static int cpu_direction(zoq__backend *be, const zoq__pass *ps, int64_t offset, int64_t count,
                         float *out)
{
    _Alignas(64) float vals[TILE];
    scratch sc;
    tile t = tile_at(((const cpu_ctx *)be->context)->ops, ps, &sc);
    t.acc = vals;
    int masked = 0;
    for (int s = 0; s < ps->n_stages; s++)
        masked |= ps->stages[s].kind == ZOQ__STAGE_MASK;
    for (int64_t b = offset; b < offset + count; b += TILE) {
        t.b = b;
        t.n = (int)(offset + count - b < TILE ? offset + count - b : TILE);
        if (masked) /* a magnitude mask reads θ */
            tile_load(t.ops, ps->src, ps->src->data, b, t.n, vals);
        direction_stages(&t);
        direction(&t, ps->terms, t.m, t.root, out + (b - offset));
    }
    return ZOQ_OK;
}

/* One chunk: its tiles in order, each through the pass and then, while the
 * tile is still in L1, through the chained pass (which reads what the first
 * stored, so it sees the storage rounding a separate pass would). Sign
 * passes go a span of tiles at a time, over whole Rademacher blocks; a
 * chained pair of them over the same memory in the same sweeps. */
static void run_task(void *arg, size_t task)
{
    const batch *bt = arg;
    const zoq__tile_ops *ops = bt->ops;
    int p = 0;
    while (task >= bt->first[p + 1])
        p++;
    const zoq__pass *ps = &bt->passes[p], *then = bt->then ? &bt->then[p] : NULL;
    const int sign_ps = sign_pass_fits(ops, ps), sign_then = then && sign_pass_fits(ops, then);
    const int fused = sign_ps && sign_then && ps->dst == ps->src->data &&
                      then->src->data == ps->dst && then->dst == ps->dst &&
                      then->src->dtype == ps->src->dtype;
    int64_t i0 = (int64_t)(task - bt->first[p]) * CHUNK;
    int64_t i1 = i0 + CHUNK < ps->src->numel ? i0 + CHUNK : ps->src->numel;
    if (!sign_ps && !sign_then) {
        for (int64_t b = i0; b < i1; b += TILE) {
            int n = (int)(i1 - b < TILE ? i1 - b : TILE);
            pass_tile(ops, ps, b, n);
            if (then)
                pass_tile(ops, then, b, n);
        }
        return;
    }
    for (int64_t b = i0; b < i1; b += SPAN) {
        const int m = (int)(i1 - b < SPAN ? i1 - b : SPAN);
        const int whole = m - m % ZOQ__RADE_PER_BLOCK; /* all but a tensor's ragged end */
        if (fused) {
            sign_span(ops, ps, then, b, whole);
        } else {
            if (sign_ps)
                sign_span(ops, ps, NULL, b, whole);
            else
                pass_tiles(ops, ps, b, whole);
            if (then && sign_then)
                sign_span(ops, then, NULL, b, whole);
            else if (then)
                pass_tiles(ops, then, b, whole);
        }
        if (whole < m) {
            pass_tile(ops, ps, b + whole, m - whole);
            if (then)
                pass_tile(ops, then, b + whole, m - whole);
        }
    }
}

static int run_batch(zoq__backend *be, const zoq__pass *passes, const zoq__pass *then, int n)
{
    cpu_ctx *cc = be->context;
    if (n + 1 > cc->cap_first) { /* only when the parameter count grew: first pass of a step */
        size_t *f = realloc(cc->first, ((size_t)n + 1) * sizeof *f);
        if (!f)
            return ZOQ_E_NOMEM;
        cc->first = f;
        cc->cap_first = n + 1;
    }
    size_t *first = cc->first;
    int64_t total = 0;
    first[0] = 0;
    for (int p = 0; p < n; p++) {
        total += passes[p].src->numel;
        first[p + 1] = first[p] + (size_t)((passes[p].src->numel + CHUNK - 1) / CHUNK);
    }
    batch bt = {passes, then, n, first, cc->ops};
    if (total < PARALLEL_MIN || zoq__pool_threads(cc->pool) == 1) {
        for (size_t t = 0; t < first[n]; t++)
            run_task(&bt, t);
    } else {
        zoq__pool_run(cc->pool, run_task, &bt, first[n]);
    }
    return ZOQ_OK;
}

static int cpu_run_passes(zoq__backend *be, const zoq__pass *passes, int n)
{
    return run_batch(be, passes, NULL, n);
}

static int cpu_run_chained(zoq__backend *be, const zoq__pass *first, const zoq__pass *then,
                           int n)
{
    return run_batch(be, first, then, n);
}

static void cpu_destroy(zoq__backend *be)
{
    if (!be)
        return;
    cpu_ctx *cc = be->context;
    if (cc) {
        zoq__pool_destroy(cc->pool);
        free(cc->first);
    }
    free(cc);
    free(be);
}

static int cpu_supports_stage(zoq__backend *be, int kind)
{
    (void)be;
    return kind >= 0 && kind < ZOQ__STAGE_COUNT;
}

static const zoq__backend_iface cpu_iface = {
    .size = sizeof(zoq__backend_iface),
    .abi = ZOQ__BACKEND_ABI,
    .name = "cpu",
    .run_passes = cpu_run_passes,
    .direction = cpu_direction,
    .destroy = cpu_destroy,
    .run_chained = cpu_run_chained,
    .supports_stage = cpu_supports_stage,
};

int zoq__cpu_backend_create_isa(int n_threads, int isa, zoq__backend **out)
{
    const zoq__tile_ops *ops = zoq__tile_ops_get(isa);
    if (!ops)
        return ZOQ_E_UNSUPPORTED;
    zoq__backend *be = calloc(1, sizeof *be);
    cpu_ctx *cc = calloc(1, sizeof *cc);
    if (!be || !cc) {
        free(be);
        free(cc);
        return ZOQ_E_NOMEM;
    }
    int rc = zoq__pool_create(n_threads, &cc->pool);
    if (rc != ZOQ_OK) {
        free(be);
        free(cc);
        return rc;
    }
    cc->ops = ops;
    be->iface = &cpu_iface;
    be->context = cc;
    *out = be;
    return ZOQ_OK;
}

int zoq__cpu_backend_create(int n_threads, zoq__backend **out)
{
    return zoq__cpu_backend_create_isa(n_threads, zoq__tile_isa_from_env(), out);
}
