/* pass.cuh - the fused pass of backend.h as one function of a group of 8
 * consecutive elements, for the CUDA kernels (one thread per group) and,
 * compiled by nvcc for the host, for tests/cuda/test_cuda_host.cu, which
 * checks it against the CPU backend on a machine without a GPU. Every float
 * operation is the one the CPU backend and the noise spec write, in their
 * order; the plugin is built with -fmad=false, so none is contracted. */
#ifndef ZOQ_BACKEND_CUDA_PASS_CUH
#define ZOQ_BACKEND_CUDA_PASS_CUH

#include <stdint.h>
#include <string.h>

#include "backend/backend.h"
#include "core/convert.h"
#include "rng/gauss.h"
#include "rng/lowrank.h"
#include "rng/noise.h"
#include "zoq.h"

/* Elements per group: a whole mask byte, two Gaussian blocks. */
#define ZOQ__GROUP 8

/* A pass flattened for a kernel: pointers are device memory (host memory
 * in the host tests), term lists included. */
typedef struct zoq__kpass {
    zoq__tensor t;
    void *dst;
    uint32_t stream;
    int dist;
    float scale;
    int n_terms;
    const zoq__term *terms;
    int has_upd, upd_kind, n_grad;
    const zoq__term *grad;
    float lr, mu, beta1, beta2, eps, bc1, bc2;
    int has_hs, n_curv;
    float keep, floor;
    const zoq__term *curv;
    int mask_kind;              /* 0: none */
    float mask_keep;
    uint64_t mask_step;
    int lozo_rank;
    uint64_t lozo_interval;
    float lozo_inv;             /* 1/sqrt(rank) as lowrank.c rounds it */
    float *m, *v, *sigma;       /* the stages' state */
    uint8_t *bits;
    float tau;
} zoq__kpass;

/* Whether the kernels run passes with a stage of this kind (LOZO-M's
 * factors and the QZO floor stay on the CPU). */
static inline int zoq__kpass_supports(int kind)
{
    return kind >= 0 && kind < ZOQ__STAGE_COUNT && kind != ZOQ__STAGE_LOZO_M &&
           kind != ZOQ__STAGE_FLOOR;
}

/* The kernel form of ps, its term lists at terms, grad and curv (ps's
 * stages: those zoq__kpass_supports). */
static inline zoq__kpass zoq__kpass_make(const zoq__pass *ps, const zoq__term *terms,
                                         const zoq__term *grad, const zoq__term *curv)
{
    zoq__kpass k;
    memset(&k, 0, sizeof k);
    k.t = *ps->src;
    k.dst = ps->dst;
    k.stream = ps->stream;
    k.dist = ps->dist;
    k.scale = ps->scale;
    k.n_terms = ps->n_terms;
    k.terms = terms;
    for (int s = 0; s < ps->n_stages; s++) {
        const zoq__stage *st = &ps->stages[s];
        if (st->kind == ZOQ__STAGE_LOWRANK && ps->src->cols > 0) {
            const zoq__lowrank *lr = (const zoq__lowrank *)st->arg;
            k.lozo_rank = lr->rank;
            k.lozo_interval = lr->interval;
            k.lozo_inv = (float)(1.0 / sqrt((double)lr->rank));
        } else if (st->kind == ZOQ__STAGE_MASK) {
            const zoq__mask *mk = (const zoq__mask *)st->arg;
            const zoq__mask_state *ms = (const zoq__mask_state *)st->state;
            k.mask_kind = mk->kind;
            k.mask_keep = mk->keep;
            k.mask_step = mk->step;
            k.bits = ms ? ms->bits : (uint8_t *)0;
            k.tau = ms ? ms->tau : 0.0f;
        } else if (st->kind == ZOQ__STAGE_PRECOND || st->kind == ZOQ__STAGE_CURV) {
            const zoq__hessian *hs = (const zoq__hessian *)st->arg;
            k.has_hs = 1;
            k.n_curv = st->kind == ZOQ__STAGE_CURV ? hs->n_curv : 0;
            k.keep = hs->keep;
            k.floor = hs->floor;
            k.curv = curv;
            k.sigma = (float *)st->state;
        } else if (st->kind >= ZOQ__STAGE_SGD && st->kind <= ZOQ__STAGE_ADAM) {
            const zoq__update *u = (const zoq__update *)st->arg;
            k.has_upd = 1;
            k.upd_kind = u->kind;
            k.n_grad = u->n_grad;
            k.grad = grad;
            k.lr = u->lr; k.mu = u->mu; k.beta1 = u->beta1; k.beta2 = u->beta2; k.eps = u->eps;
            k.bc1 = u->bc1; k.bc2 = u->bc2;
            if (st->kind == ZOQ__STAGE_MOMENTUM) {
                k.m = (float *)st->state;
            } else if (st->kind == ZOQ__STAGE_ADAM) {
                k.m = ((const zoq__moments *)st->state)->m;
                k.v = ((const zoq__moments *)st->state)->v;
            }
        }
    }
    return k;
}

/* The argument of ps's optimizer stage, and of its CURV stage (NULL: none). */
static inline const zoq__update *zoq__pass_update(const zoq__pass *ps)
{
    for (int s = 0; s < ps->n_stages; s++)
        if (ps->stages[s].kind >= ZOQ__STAGE_SGD && ps->stages[s].kind <= ZOQ__STAGE_LOZO_M)
            return (const zoq__update *)ps->stages[s].arg;
    return (const zoq__update *)0;
}

static inline const zoq__hessian *zoq__pass_curv(const zoq__pass *ps)
{
    for (int s = 0; s < ps->n_stages; s++)
        if (ps->stages[s].kind == ZOQ__STAGE_CURV)
            return (const zoq__hessian *)ps->stages[s].arg;
    return (const zoq__hessian *)0;
}

/* Gaussian elements [first, first+n) of a stream (gauss.h, one at a time). */
static inline ZOQ__HD void zoq__k_gauss(uint64_t key, uint64_t step, uint32_t query,
                                        uint32_t stream, uint64_t first, int n, float *out)
{
    const uint64_t seed = zoq__gauss_seed(key, step, query, stream);
    for (int j = 0; j < n; j++)
        out[j] = zoq__gauss_at(seed, first + (uint64_t)j);
}

/* z of term for the group at i0 (a multiple of 8), before mask and HiZOO. */
static inline ZOQ__HD void zoq__k_noise(const zoq__kpass *k, const zoq__term *term, int64_t i0,
                                        float z[ZOQ__GROUP])
{
    const zoq__tensor *t = &k->t;
    if (k->lozo_rank > 0) { /* lowrank.h: Z[i][j] = (sum_k U[i][k] V[j][k]) * inv */
        const uint64_t r = (uint64_t)k->lozo_rank, cols = (uint64_t)t->cols;
        const uint64_t step_v = term->step - term->step % k->lozo_interval;
        float u[ZOQ__LOZO_MAX_RANK], v[ZOQ__LOZO_MAX_RANK];
        uint64_t row = UINT64_MAX;
        for (int j = 0; j < ZOQ__GROUP; j++) {
            uint64_t e = (uint64_t)i0 + (uint64_t)j, i = e / cols, c = e % cols;
            if (i != row) {
                zoq__k_gauss(t->key, term->step, term->query, ZOQ__STREAM_LOZO_U, i * r, (int)r,
                             u);
                row = i;
            }
            zoq__k_gauss(t->key, step_v, term->query, ZOQ__STREAM_LOZO_V, c * r, (int)r, v);
            float acc = 0.0f;
            for (uint64_t q = 0; q < r; q++)
                acc = acc + u[q] * v[q];
            z[j] = acc * k->lozo_inv;
        }
        return;
    }
    uint32_t w[4];
    if (k->dist == ZOQ_DIST_RADEMACHER) {
        uint64_t e = (uint64_t)i0;
        zoq__noise_block(t->key, term->step, term->query, k->stream, e / ZOQ__RADE_PER_BLOCK, w);
        uint32_t word = w[(e >> 5) & 3u] >> (e & 31u);
        for (int j = 0; j < ZOQ__GROUP; j++) /* bit set: -1.0f, else +1.0f */
            z[j] = zoq__f32_from_bits(0x3F800000u | (((word >> j) & 1u) << 31));
        return;
    }
    zoq__k_gauss(t->key, term->step, term->query, k->stream, (uint64_t)i0, ZOQ__GROUP, z);
}

/* The direction of a term: z, times the mask m (NULL: none), over root. */
static inline ZOQ__HD void zoq__k_direction(const zoq__kpass *k, const zoq__term *term, int64_t i0,
                                            const uint8_t *m, const float *root,
                                            float z[ZOQ__GROUP])
{
    zoq__k_noise(k, term, i0, z);
    if (m)
        for (int j = 0; j < ZOQ__GROUP; j++)
            z[j] = m[j] ? z[j] : 0.0f;
    if (root)
        for (int j = 0; j < ZOQ__GROUP; j++)
            z[j] = z[j] / root[j];
}

/* The group's mask from its unperturbed values; `store` writes the byte. */
static inline ZOQ__HD void zoq__k_mask(const zoq__kpass *k, int64_t i0, int n, const float *vals,
                                       int store, uint8_t m[ZOQ__GROUP])
{
    const zoq__tensor *t = &k->t;
    if (k->mask_kind == ZOQ__MASK_RANDOM) {
        uint32_t w[4];
        for (int j = 0; j < ZOQ__GROUP; j += 4) {
            zoq__noise_block(t->key, k->mask_step, 0, ZOQ__STREAM_MASK, (uint64_t)(i0 + j) / 4, w);
            for (int q = 0; q < 4; q++)
                m[j + q] = (float)(w[q] >> 8) * 5.9604644775390625e-8f < k->mask_keep;
        }
    } else if (k->mask_kind == ZOQ__MASK_BITS) {
        uint8_t byte = k->bits[i0 >> 3];
        for (int j = 0; j < ZOQ__GROUP; j++)
            m[j] = (byte >> j) & 1u;
    } else {
        uint8_t byte = 0;
        for (int j = 0; j < ZOQ__GROUP; j++) {
            m[j] = j < n && fabsf(vals[j]) <= k->tau;
            byte |= (uint8_t)(m[j] << j);
        }
        if (store && k->mask_kind == ZOQ__MASK_MAGNITUDE_STORE)
            k->bits[i0 >> 3] = byte;
    }
}

static inline ZOQ__HD float zoq__k_load(const zoq__tensor *t, int64_t i)
{
    return zoq__load_f32(t->data, t->dtype, i);
}

/* Loads the group's n values of the tensor (the rest 0). */
static inline ZOQ__HD void zoq__k_load_group(const zoq__tensor *t, int64_t i0, int n, float *x)
{
    for (int j = 0; j < ZOQ__GROUP; j++)
        x[j] = j < n ? zoq__k_load(t, i0 + j) : 0.0f;
}

/* The pass formula of backend.h on group g. */
static inline ZOQ__HD void zoq__k_pass_group(const zoq__kpass *k, int64_t g)
{
    const zoq__tensor *t = &k->t;
    const int64_t i0 = g * ZOQ__GROUP;
    const int n = t->numel - i0 < ZOQ__GROUP ? (int)(t->numel - i0) : ZOQ__GROUP;
    float acc[ZOQ__GROUP], z[ZOQ__GROUP], root_buf[ZOQ__GROUP], gr[ZOQ__GROUP];
    uint8_t mask_buf[ZOQ__GROUP];
    if (k->scale == 0.0f) /* a fresh value: even NaN or Inf in src is dropped */
        for (int j = 0; j < ZOQ__GROUP; j++)
            acc[j] = 0.0f;
    else
        zoq__k_load_group(t, i0, n, acc);
    uint8_t *m = k->mask_kind ? mask_buf : (uint8_t *)0;
    if (m)
        zoq__k_mask(k, i0, n, acc, 1, m);
    if (k->scale != 1.0f && k->scale != 0.0f)
        for (int j = 0; j < ZOQ__GROUP; j++)
            acc[j] = k->scale * acc[j];
    float *root = (float *)0;
    if (k->has_hs) {
        root = root_buf;
        for (int j = 0; j < ZOQ__GROUP; j++)
            root[j] = j < n ? sqrtf(k->sigma[i0 + j]) : 1.0f;
    }
    for (int q = 0; q < k->n_terms; q++) {
        const float c = k->terms[q].coef;
        zoq__k_direction(k, &k->terms[q], i0, m, root, z);
        for (int j = 0; j < ZOQ__GROUP; j++)
            acc[j] = acc[j] + c * z[j];
    }
    if (k->has_hs && k->n_curv > 0) { /* HiZOO's sigma update; root gets the new sqrt */
        float s[ZOQ__GROUP], sig[ZOQ__GROUP];
        for (int j = 0; j < ZOQ__GROUP; j++) {
            sig[j] = j < n ? k->sigma[i0 + j] : 1.0f;
            s[j] = k->keep * sig[j];
        }
        for (int q = 0; q < k->n_curv; q++) {
            const float c = k->curv[q].coef;
            zoq__k_direction(k, &k->curv[q], i0, (uint8_t *)0, (float *)0, z);
            for (int j = 0; j < ZOQ__GROUP; j++)
                s[j] = s[j] + (c * sig[j]) * (z[j] * z[j]);
        }
        for (int j = 0; j < n; j++) {
            if (!m || m[j])
                sig[j] = s[j] < k->floor ? k->floor : s[j];
            k->sigma[i0 + j] = sig[j];
            root[j] = sqrtf(sig[j]);
        }
    }
    if (k->has_upd) {
        for (int j = 0; j < ZOQ__GROUP; j++)
            gr[j] = 0.0f;
        for (int q = 0; q < k->n_grad; q++) {
            const float c = k->grad[q].coef;
            zoq__k_direction(k, &k->grad[q], i0, m, root, z);
            for (int j = 0; j < ZOQ__GROUP; j++)
                gr[j] = gr[j] + c * z[j];
        }
        const float neg_lr = -k->lr;
        for (int j = 0; j < n; j++) {
            const int64_t i = i0 + j;
            if (k->upd_kind == ZOQ_OPTIM_SGD) {
                acc[j] = acc[j] + neg_lr * gr[j];
            } else if (k->upd_kind == ZOQ_OPTIM_MOMENTUM) {
                float b = k->mu * k->m[i] + gr[j];
                k->m[i] = b;
                acc[j] = acc[j] + neg_lr * b;
            } else {
                const float a1 = 1.0f - k->beta1, a2 = 1.0f - k->beta2;
                float mm = k->beta1 * k->m[i] + a1 * gr[j];
                float vv = k->beta2 * k->v[i] + a2 * (gr[j] * gr[j]);
                k->m[i] = mm;
                k->v[i] = vv;
                float step = (mm / k->bc1) / (sqrtf(vv / k->bc2) + k->eps);
                acc[j] = acc[j] + neg_lr * step;
            }
        }
    }
    for (int j = 0; j < n; j++) {
        if (t->dtype == ZOQ_F32)
            ((float *)k->dst)[i0 + j] = acc[j];
        else if (t->dtype == ZOQ_F16)
            ((uint16_t *)k->dst)[i0 + j] = zoq__f32_to_f16(acc[j]);
        else
            ((uint16_t *)k->dst)[i0 + j] = zoq__f32_to_bf16(acc[j]);
    }
}

/* The direction of k's first term (zoq_point_noise) on group g, written to
 * out[i - offset] for the elements i of [offset, offset+count) in it. */
static inline ZOQ__HD void zoq__k_direction_group(const zoq__kpass *k, int64_t g, int64_t offset,
                                                  int64_t count, float *out)
{
    const zoq__tensor *t = &k->t;
    const int64_t i0 = g * ZOQ__GROUP;
    const int n = t->numel - i0 < ZOQ__GROUP ? (int)(t->numel - i0) : ZOQ__GROUP;
    float vals[ZOQ__GROUP], root_buf[ZOQ__GROUP], z[ZOQ__GROUP];
    uint8_t mask_buf[ZOQ__GROUP];
    uint8_t *m = (uint8_t *)0;
    if (k->mask_kind) {
        zoq__k_load_group(t, i0, n, vals);
        m = mask_buf;
        zoq__k_mask(k, i0, n, vals, 0, m);
    }
    float *root = (float *)0;
    if (k->has_hs) {
        root = root_buf;
        for (int j = 0; j < ZOQ__GROUP; j++)
            root[j] = j < n ? sqrtf(k->sigma[i0 + j]) : 1.0f;
    }
    zoq__k_direction(k, k->terms, i0, m, root, z);
    for (int j = 0; j < n; j++)
        if (i0 + j >= offset && i0 + j < offset + count)
            out[i0 + j - offset] = z[j];
}

#endif
