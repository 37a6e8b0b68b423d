/* cpu.c - the built-in CPU backend: fused noise passes, split into fixed
 * chunks and run on the thread pool. Each element's result depends only on
 * its own index, so any thread count gives the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/convert.h"
#include "pool.h"
#include "rng/lowrank.h"
#include "rng/noise.h"
#include "zoq.h"

/* Elements per task (a multiple of every block size), elements per tile. */
#define CHUNK 16384
#define TILE 512
/* Below this many elements in a call, threads cost more than they save. */
#define PARALLEL_MIN 65536

typedef struct cpu_ctx {
    zoq__pool *pool;
    size_t *first;              /* task offsets per pass; grows, never shrinks */
    int cap_first;
} cpu_ctx;

/* A batch of passes cut into chunk tasks: pass p owns tasks [first[p], first[p+1]). */
typedef struct batch {
    const zoq__pass *passes;
    int n;
    size_t *first;
} batch;

static void load_tile(const void *src, int dtype, int64_t i0, int n, float *acc)
{
    if (dtype == ZOQ_F32) {
        const float *s = (const float *)src + i0;
        for (int j = 0; j < n; j++)
            acc[j] = s[j];
    } else if (dtype == ZOQ_F16) {
        const uint16_t *s = (const uint16_t *)src + i0;
        for (int j = 0; j < n; j++)
            acc[j] = zoq__f16_to_f32(s[j]);
    } else {
        const uint16_t *s = (const uint16_t *)src + i0;
        for (int j = 0; j < n; j++)
            acc[j] = zoq__bf16_to_f32(s[j]);
    }
}

static void store_tile(void *dst, int dtype, int64_t i0, int n, const float *acc)
{
    if (dtype == ZOQ_F32) {
        float *d = (float *)dst + i0;
        for (int j = 0; j < n; j++)
            d[j] = acc[j];
    } else if (dtype == ZOQ_F16) {
        uint16_t *d = (uint16_t *)dst + i0;
        for (int j = 0; j < n; j++)
            d[j] = zoq__f32_to_f16(acc[j]);
    } else {
        uint16_t *d = (uint16_t *)dst + i0;
        for (int j = 0; j < n; j++)
            d[j] = zoq__f32_to_bf16(acc[j]);
    }
}

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
static void direction(const zoq__pass *ps, const zoq__term *term, int64_t b, int n,
                      const uint8_t *m, const float *root, float *z)
{
    const zoq__tensor *t = ps->src;
    if (ps->lozo_rank > 0 && t->cols > 0)
        zoq__lowrank_fill(t->key, term->step, term->query, ps->lozo_rank, ps->lozo_interval,
                          t->cols, (uint64_t)b, (size_t)n, z);
    else
        zoq__noise_fill(t->key, term->step, term->query, ps->stream, ps->dist, (uint64_t)b,
                        (size_t)n, z);
    if (m)
        for (int j = 0; j < n; j++)
            z[j] = m[j] ? z[j] : 0.0f;
    if (root)
        for (int j = 0; j < n; j++)
            z[j] = z[j] / root[j];
}

/* acc[j] = acc[j] + coef_k * d_k[j] for each term k in order (z: scratch). */
static void add_terms(const zoq__pass *ps, const zoq__term *terms, int n_terms, int64_t b,
                      int n, const uint8_t *m, const float *root, float *acc, float *z)
{
    for (int k = 0; k < n_terms; k++) {
        const float c = terms[k].coef;
        direction(ps, &terms[k], b, n, m, root, z);
        for (int j = 0; j < n; j++)
            acc[j] = acc[j] + c * z[j];
    }
}

/* HiZOO's sigma update of backend.h on one tile; root gets sqrt(new sigma).
 * Elements the sparse mask m leaves out were not probed: their sigma stays. */
static void hessian_stage(const zoq__pass *ps, int64_t b, int n, const uint8_t *m, float *sig,
                          float *root, float *z)
{
    const zoq__hessian *hs = ps->hs;
    float s[TILE];
    for (int j = 0; j < n; j++)
        s[j] = hs->keep * sig[j];
    for (int k = 0; k < hs->n_curv; k++) {
        const float c = hs->curv[k].coef;
        direction(ps, &hs->curv[k], b, n, NULL, NULL, z);
        for (int j = 0; j < n; j++)
            s[j] = s[j] + (c * sig[j]) * (z[j] * z[j]);
    }
    for (int j = 0; j < n; j++) {
        if (!m || m[j])
            sig[j] = s[j] < hs->floor ? hs->floor : s[j];
        root[j] = sqrtf(sig[j]);
    }
}

/* The optimizer stage of backend.h on one tile: g is ĝ, m and v the
 * tensor's buffers at this tile. */
static void optimizer_stage(const zoq__update *u, const float *g, float *m, float *v,
                            float *acc, int n)
{
    const float neg_lr = -u->lr;
    if (u->kind == ZOQ_OPTIM_SGD) {
        for (int j = 0; j < n; j++)
            acc[j] = acc[j] + neg_lr * g[j];
        return;
    }
    if (u->kind == ZOQ_OPTIM_MOMENTUM) {
        for (int j = 0; j < n; j++) {
            m[j] = u->mu * m[j] + g[j];
            acc[j] = acc[j] + neg_lr * m[j];
        }
        return;
    }
    const float a1 = 1.0f - u->beta1, a2 = 1.0f - u->beta2;
    for (int j = 0; j < n; j++) {
        m[j] = u->beta1 * m[j] + a1 * g[j];
        v[j] = u->beta2 * v[j] + a2 * (g[j] * g[j]);
        float step = (m[j] / u->bc1) / (sqrtf(v[j] / u->bc2) + u->eps);
        acc[j] = acc[j] + neg_lr * step;
    }
}

/* root[j] = sqrt(sigma) of the tile under HiZOO; NULL when off. */
static float *tile_root(const zoq__pass *ps, int64_t b, int n, float *root)
{
    if (!ps->hs)
        return NULL;
    for (int j = 0; j < n; j++)
        root[j] = sqrtf(ps->src->sigma[b + j]);
    return root;
}

/* The pass formula of backend.h over elements [i0, i1). */
static void pass_range(const zoq__pass *ps, int64_t i0, int64_t i1)
{
    float acc[TILE], z[TILE], g[TILE], root_buf[TILE];
    uint8_t mask_buf[TILE];
    const zoq__tensor *t = ps->src;
    uint8_t *m = ps->mask ? mask_buf : NULL;
    for (int64_t b = i0; b < i1; b += TILE) {
        int n = (int)(i1 - b < TILE ? i1 - b : TILE);
        if (ps->scale == 0.0f) /* a fresh value: even NaN or Inf in src is dropped */
            memset(acc, 0, (size_t)n * sizeof *acc);
        else
            load_tile(t->data, t->dtype, b, n, acc);
        if (m)
            mask_tile(ps, b, n, acc, m);
        if (ps->scale != 1.0f && ps->scale != 0.0f)
            for (int j = 0; j < n; j++)
                acc[j] = ps->scale * acc[j];
        float *root = tile_root(ps, b, n, root_buf);
        add_terms(ps, ps->terms, ps->n_terms, b, n, m, root, acc, z);
        if (ps->hs && ps->hs->n_curv > 0)
            hessian_stage(ps, b, n, m, t->sigma + b, root, z);
        if (ps->upd && ps->upd->kind == ZOQ_OPTIM_MOMENTUM && t->lozo_n) {
            zoq__lowrank_factor_fill(t->key, t->lozo_vstep, t->lozo_nq, ps->lozo_rank,
                                     t->lozo_n, t->numel / t->cols, t->cols, (uint64_t)b,
                                     (size_t)n, g);
            const float neg_lr = -ps->upd->lr;
            for (int j = 0; j < n; j++)
                acc[j] = acc[j] + neg_lr * g[j];
        } else if (ps->upd) {
            for (int j = 0; j < n; j++)
                g[j] = 0.0f;
            add_terms(ps, ps->upd->grad, ps->upd->n_grad, b, n, m, root, g, z);
            optimizer_stage(ps->upd, g, t->m ? t->m + b : NULL, t->v ? t->v + b : NULL, acc,
                            n);
        }
        if (ps->floor_on)
            for (int j = 0; j < n; j++)
                acc[j] = acc[j] < ps->floor ? ps->floor : acc[j];
        store_tile(ps->dst, t->dtype, b, n, acc);
    }
}

static int cpu_direction(zoq__backend *be, const zoq__pass *ps, int64_t offset, int64_t count,
                         float *out)
{
    (void)be;
    float vals[TILE], root_buf[TILE];
    uint8_t mask_buf[TILE];
    for (int64_t b = offset; b < offset + count; b += TILE) {
        int n = (int)(offset + count - b < TILE ? offset + count - b : TILE);
        uint8_t *m = NULL;
        if (ps->mask) {
            load_tile(ps->src->data, ps->src->dtype, b, n, vals);
            m = mask_buf;
            mask_tile(ps, b, n, vals, m);
        }
        direction(ps, ps->terms, b, n, m, tile_root(ps, b, n, root_buf), out + (b - offset));
    }
    return ZOQ_OK;
}

static void run_task(void *arg, size_t task)
{
    const batch *bt = arg;
    int p = 0;
    while (task >= bt->first[p + 1])
        p++;
    const zoq__pass *ps = &bt->passes[p];
    int64_t i0 = (int64_t)(task - bt->first[p]) * CHUNK;
    int64_t i1 = i0 + CHUNK < ps->src->numel ? i0 + CHUNK : ps->src->numel;
    pass_range(ps, i0, i1);
}

static int cpu_run_passes(zoq__backend *be, const zoq__pass *passes, int n)
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
    batch bt = {passes, n, first};
    if (total < PARALLEL_MIN || zoq__pool_threads(cc->pool) == 1) {
        for (size_t t = 0; t < first[n]; t++)
            run_task(&bt, t);
    } else {
        zoq__pool_run(cc->pool, run_task, &bt, first[n]);
    }
    return ZOQ_OK;
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
};

int zoq__cpu_backend_create(int n_threads, zoq__backend **out)
{
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
    be->iface = &cpu_iface;
    be->context = cc;
    *out = be;
    return ZOQ_OK;
}
