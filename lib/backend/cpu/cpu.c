/* cpu.c - the built-in CPU backend: fused noise passes, split into fixed
 * chunks and run on the thread pool. Each element's result depends only on
 * its own index, so any thread count gives the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/convert.h"
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

/* The sparse mask of the tile of n elements at b (m[j] = 1: perturbed);
 * vals are the tile's unperturbed values (magnitude modes). */
static void mask_tile(const zoq__pass *ps, int64_t b, int n, const float *vals, uint8_t *m)
{
    const zoq__mask *mk = ps->mask;
    zoq__tensor *t = (zoq__tensor *)ps->src; /* STORE writes the tensor's bits */
    switch (mk->kind) {
    case ZOQ__MASK_RANDOM:
        zoq__mask_fill(t->key, mk->step, mk->keep, (uint64_t)b, (size_t)n, m);
        return;
    case ZOQ__MASK_BITS:
        for (int j = 0; j < n; j++)
            m[j] = (t->bits[(b + j) >> 3] >> ((b + j) & 7)) & 1u;
        return;
    default:
        for (int j = 0; j < n; j++)
            m[j] = fabsf(vals[j]) <= t->tau;
        if (mk->kind == ZOQ__MASK_MAGNITUDE_STORE) /* b is a multiple of 8: whole bytes */
            for (int j = 0; j < n; j += 8) {
                uint8_t byte = 0;
                for (int k = 0; k < 8 && j + k < n; k++)
                    byte |= (uint8_t)(m[j + k] << k);
                t->bits[(b + j) >> 3] = byte;
            }
    }
}

/* The direction of a term over the tile of n elements at b: z, times the
 * mask m (NULL: none), divided by root[j] = sqrt(sigma[j]) under HiZOO. */
static void direction(const zoq__tile_ops *ops, const zoq__pass *ps, const zoq__term *term,
                      int64_t b, int n, const uint8_t *m, const float *root, float *z)
{
    const zoq__tensor *t = ps->src;
    if (ps->lozo_rank > 0 && t->cols > 0)
        zoq__lowrank_fill(t->key, term->step, term->query, ps->lozo_rank, ps->lozo_interval,
                          t->cols, (uint64_t)b, (size_t)n, z);
    else
        ops->noise(t->key, term->step, term->query, ps->stream, ps->dist, (uint64_t)b,
                   (size_t)n, z);
    if (m)
        ops->keep(m, n, z);
    if (root)
        ops->divide(root, n, z);
}

/* acc[j] = acc[j] + coef_k * d_k[j] for each term k in order (z: scratch).
 * Plain Rademacher directions over whole blocks skip z where the set can
 * (c * (±1) is a sign flip of c: same bits unless c is NaN). */
static void add_terms(const zoq__tile_ops *ops, const zoq__pass *ps, const zoq__term *terms,
                      int n_terms, int64_t b, int n, const uint8_t *m, const float *root,
                      float *acc, float *z)
{
    const zoq__tensor *t = ps->src;
    const int signs = ops->rademacher_axpy && ps->dist == ZOQ_DIST_RADEMACHER && !m && !root &&
                      !(ps->lozo_rank > 0 && t->cols > 0) && b % ZOQ__RADE_PER_BLOCK == 0 &&
                      n % ZOQ__RADE_PER_BLOCK == 0;
    for (int k = 0; k < n_terms; k++) {
        const zoq__term *tm = &terms[k];
        if (signs && !isnan(tm->coef)) {
            ops->rademacher_axpy(t->key, tm->step, tm->query, ps->stream, (uint64_t)b,
                                 (size_t)n, tm->coef, acc);
            continue;
        }
        direction(ops, ps, tm, b, n, m, root, z);
        ops->axpy(tm->coef, z, n, acc);
    }
}

/* HiZOO's sigma update of backend.h on one tile; root gets sqrt(new sigma).
 * Elements the sparse mask m leaves out were not probed: their sigma stays. */
static void hessian_stage(const zoq__tile_ops *ops, const zoq__pass *ps, int64_t b, int n,
                          const uint8_t *m, float *sig, float *root, float *z)
{
    const zoq__hessian *hs = ps->hs;
    float s[TILE];
    ops->scale(hs->keep, sig, n, s);
    for (int k = 0; k < hs->n_curv; k++) {
        direction(ops, ps, &hs->curv[k], b, n, NULL, NULL, z);
        ops->curv(hs->curv[k].coef, sig, z, n, s);
    }
    for (int j = 0; j < n; j++)
        if (!m || m[j])
            sig[j] = s[j] < hs->floor ? hs->floor : s[j];
    ops->root(sig, n, root);
}

/* The optimizer stage of backend.h on one tile: g is ĝ, m and v the
 * tensor's buffers at this tile. */
static void optimizer_stage(const zoq__tile_ops *ops, const zoq__update *u, const float *g,
                            float *m, float *v, float *acc, int n)
{
    if (u->kind == ZOQ_OPTIM_SGD)
        ops->axpy(-u->lr, g, n, acc);
    else if (u->kind == ZOQ_OPTIM_MOMENTUM)
        ops->momentum(u, g, m, acc, n);
    else
        ops->adam(u, g, m, v, acc, n);
}

/* root[j] = sqrt(sigma) of the tile under HiZOO; NULL when off. */
static float *tile_root(const zoq__tile_ops *ops, const zoq__pass *ps, int64_t b, int n,
                        float *root)
{
    if (!ps->hs)
        return NULL;
    ops->root(ps->src->sigma + b, n, root);
    return root;
}

/* The pass formula of backend.h on the tile of n elements at b. */
static void pass_tile(const zoq__tile_ops *ops, const zoq__pass *ps, int64_t b, int n)
{
    float acc_buf[TILE], z[TILE], g[TILE], root_buf[TILE];
    uint8_t mask_buf[TILE];
    const zoq__tensor *t = ps->src;
    uint8_t *m = ps->mask ? mask_buf : NULL;
    /* f32 in place, aligned: the tile itself is the accumulator (no copy in
     * or out); a buffer at an odd address goes through load and store */
    const int direct = t->dtype == ZOQ_F32 && ps->dst == t->data && ps->scale != 0.0f &&
                       (uintptr_t)t->data % sizeof(float) == 0;
    float *acc = direct ? (float *)t->data + b : acc_buf;
    if (ps->scale == 0.0f) /* a fresh value: even NaN or Inf in src is dropped */
        memset(acc, 0, (size_t)n * sizeof *acc);
    else if (!direct)
        ops->load(t->data, t->dtype, b, n, acc);
    if (m)
        mask_tile(ps, b, n, acc, m);
    if (ps->scale != 1.0f && ps->scale != 0.0f)
        ops->scale(ps->scale, acc, n, acc);
    float *root = tile_root(ops, ps, b, n, root_buf);
    add_terms(ops, ps, ps->terms, ps->n_terms, b, n, m, root, acc, z);
    if (ps->hs && ps->hs->n_curv > 0)
        hessian_stage(ops, ps, b, n, m, t->sigma + b, root, z);
    if (ps->upd && ps->upd->kind == ZOQ_OPTIM_MOMENTUM && t->lozo_n) {
        zoq__lowrank_factor_fill(t->key, t->lozo_vstep, t->lozo_nq, ps->lozo_rank, t->lozo_n,
                                 t->numel / t->cols, t->cols, (uint64_t)b, (size_t)n, g);
        const float neg_lr = -ps->upd->lr;
        for (int j = 0; j < n; j++)
            acc[j] = acc[j] + neg_lr * g[j];
    } else if (ps->upd) {
        memset(g, 0, (size_t)n * sizeof *g);
        add_terms(ops, ps, ps->upd->grad, ps->upd->n_grad, b, n, m, root, g, z);
        optimizer_stage(ops, ps->upd, g, t->m ? t->m + b : NULL, t->v ? t->v + b : NULL, acc,
                        n);
    }
    if (ps->floor_on) {
        for (int j = 0; j < n; j++)
            acc[j] = acc[j] < ps->floor ? ps->floor : acc[j];
    }
    if (!direct)
        ops->store(ps->dst, t->dtype, b, n, acc);
}

static int cpu_direction(zoq__backend *be, const zoq__pass *ps, int64_t offset, int64_t count,
                         float *out)
{
    const zoq__tile_ops *ops = ((const cpu_ctx *)be->context)->ops;
    float vals[TILE], root_buf[TILE];
    uint8_t mask_buf[TILE];
    for (int64_t b = offset; b < offset + count; b += TILE) {
        int n = (int)(offset + count - b < TILE ? offset + count - b : TILE);
        uint8_t *m = NULL;
        if (ps->mask) {
            ops->load(ps->src->data, ps->src->dtype, b, n, vals);
            m = mask_buf;
            mask_tile(ps, b, n, vals, m);
        }
        direction(ops, ps, ps->terms, b, n, m, tile_root(ops, ps, b, n, root_buf),
                  out + (b - offset));
    }
    return ZOQ_OK;
}

/* One chunk: its tiles in order, each through the pass and then, while the
 * tile is still in L1, through the chained pass (which reads what the first
 * stored, so it sees the storage rounding a separate pass would). */
static void run_task(void *arg, size_t task)
{
    const batch *bt = arg;
    int p = 0;
    while (task >= bt->first[p + 1])
        p++;
    const zoq__pass *ps = &bt->passes[p], *then = bt->then ? &bt->then[p] : NULL;
    int64_t i0 = (int64_t)(task - bt->first[p]) * CHUNK;
    int64_t i1 = i0 + CHUNK < ps->src->numel ? i0 + CHUNK : ps->src->numel;
    for (int64_t b = i0; b < i1; b += TILE) {
        int n = (int)(i1 - b < TILE ? i1 - b : TILE);
        pass_tile(bt->ops, ps, b, n);
        if (then)
            pass_tile(bt->ops, then, b, n);
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

static const zoq__backend_iface cpu_iface = {
    .size = sizeof(zoq__backend_iface),
    .abi = ZOQ__BACKEND_ABI,
    .name = "cpu",
    .run_passes = cpu_run_passes,
    .direction = cpu_direction,
    .destroy = cpu_destroy,
    .run_chained = cpu_run_chained,
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
