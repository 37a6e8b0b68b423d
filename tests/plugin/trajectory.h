/* trajectory.h - one training run, for comparing devices bit for bit: three
 * tensors (f32, f16, bf16 with a 2-D shape), a quadratic objective, 6
 * in-place steps then 2 ask/tell steps that materialize every point and read
 * some point noise, under a list of configurations that covers the
 * optimizers, HiZOO, both mask kinds, accumulation, LoZO and Rademacher.
 * Buffers come from a traj_mem (host memory for the mock plugin, cudaMalloc
 * for a GPU), so tests/test_plugin.c and tests/cuda/check_gpu.cu share it.
 * Header-only, C and C++. */
#ifndef ZOQ_TESTS_TRAJECTORY_H
#define ZOQ_TESTS_TRAJECTORY_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/convert.h"
#include "zoq.h"

#define TRAJ_NT 3
static const int64_t traj_numel[TRAJ_NT] = {1000, 517, 300};
static const int traj_dtype[TRAJ_NT] = {ZOQ_F32, ZOQ_F16, ZOQ_BF16};

/* Memory of one device: zeroed buffers, their release, a copy to the host. */
typedef struct traj_mem {
    void *(*alloc)(size_t bytes);
    void (*release)(void *p);
    void (*to_host)(void *dst, const void *src, size_t bytes);
} traj_mem;

typedef struct traj_config {
    int optimizer, dist, hessian, sparse, accumulate, lozo, queries;
} traj_config;

static const traj_config traj_configs[] = {
    {ZOQ_OPTIM_SGD, ZOQ_DIST_GAUSSIAN, 0, ZOQ_SPARSE_OFF, 1, 0, 1},
    {ZOQ_OPTIM_MOMENTUM, ZOQ_DIST_RADEMACHER, 0, ZOQ_SPARSE_OFF, 2, 0, 2},
    {ZOQ_OPTIM_ADAM, ZOQ_DIST_GAUSSIAN, 1, ZOQ_SPARSE_OFF, 1, 0, 2},
    {ZOQ_OPTIM_ADAM, ZOQ_DIST_GAUSSIAN, 0, ZOQ_SPARSE_MAGNITUDE, 1, 0, 1},
    {ZOQ_OPTIM_MOMENTUM, ZOQ_DIST_GAUSSIAN, 1, ZOQ_SPARSE_RANDOM, 2, 0, 3},
    {ZOQ_OPTIM_SGD, ZOQ_DIST_GAUSSIAN, 0, ZOQ_SPARSE_OFF, 1, 4, 2},
};
#define TRAJ_NCONFIGS (int)(sizeof traj_configs / sizeof *traj_configs)

/* A model: tensor t is data[t] on device[t], read through mem[t]. */
typedef struct traj_model {
    void *data[TRAJ_NT];
    int device[TRAJ_NT];
    const traj_mem *mem[TRAJ_NT];
} traj_model;

static size_t traj_bytes(int t)
{
    return (size_t)traj_numel[t] * (traj_dtype[t] == ZOQ_F32 ? 4u : 2u);
}

/* L = sum_t sum_i (1 + i % 7) (x_i - sin(0.1 i + t))^2 / 2 in double, over
 * tensors given by their buffers on m's devices. */
static double traj_loss_of(const traj_model *m, void *const data[TRAJ_NT])
{
    double s = 0;
    for (int t = 0; t < TRAJ_NT; t++) {
        void *h = malloc(traj_bytes(t));
        m->mem[t]->to_host(h, data[t], traj_bytes(t));
        for (int64_t i = 0; i < traj_numel[t]; i++) {
            double d = zoq__load_f32(h, traj_dtype[t], i) - sin(0.1 * (double)i + t);
            s += 0.5 * (double)(1 + i % 7) * d * d;
        }
        free(h);
    }
    return s;
}

static int traj_objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    const traj_model *m = (const traj_model *)user;
    *loss = traj_loss_of(m, m->data);
    return 0;
}

#define TRAJ_TRY(call)                                   \
    do {                                                 \
        int rc_ = (call);                                \
        if (rc_ != ZOQ_OK) {                             \
            snprintf(why, cap, "%s: %s", #call, zoq_last_error(ctx)); \
            return rc_;                                  \
        }                                                \
    } while (0)

/* A context training config c on model m (buffers allocated here). */
static int traj_ctx(const traj_config *c, traj_model *m, zoq_ctx **out, char *why, size_t cap)
{
    zoq_ctx *ctx = NULL;
    for (int t = 0; t < TRAJ_NT; t++)
        m->data[t] = NULL;
    if (zoq_create(&ctx) != ZOQ_OK)
        return ZOQ_E_NOMEM;
    *out = ctx;
    for (int t = 0; t < TRAJ_NT; t++) {
        m->data[t] = m->mem[t]->alloc(traj_bytes(t));
        char name[16];
        snprintf(name, sizeof name, "t%d", t);
        zoq_param_desc_t d;
        memset(&d, 0, sizeof d);
        d.size = sizeof d;
        d.name = name;
        d.data = m->data[t];
        d.dtype = traj_dtype[t];
        d.device = m->device[t];
        d.numel = traj_numel[t];
        d.rows = t == 2 ? 20 : 0;
        d.cols = t == 2 ? 15 : 0;
        TRAJ_TRY(zoq_param_add_desc(ctx, &d, NULL));
        TRAJ_TRY(zoq_param_init_normal(ctx, t, 0.5));
    }
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_SEED, 77));
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, c->optimizer));
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_DIST, c->dist));
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_HESSIAN, c->hessian));
    TRAJ_TRY(zoq_set_double(ctx, ZOQ_OPT_HESSIAN_ALPHA, 1e-3));
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_SPARSE, c->sparse));
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, c->accumulate));
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, c->lozo));
    TRAJ_TRY(zoq_set_int(ctx, ZOQ_OPT_QUERIES, c->queries));
    TRAJ_TRY(zoq_set_double(ctx, ZOQ_OPT_LR, 1e-3));
    TRAJ_TRY(zoq_set_objective(ctx, traj_objective, m));
    return ZOQ_OK;
}

/* The run's trace: every reported loss and some point noise, in order. */
#define TRAJ_TRACE 64
typedef struct traj_trace {
    double v[TRAJ_TRACE];
    int n;
} traj_trace;

/* Runs config c on model m, recording the trace; leaves the parameters in
 * m->data and frees nothing (traj_free). */
static int traj_run(const traj_config *c, traj_model *m, traj_trace *tr, char *why, size_t cap)
{
    zoq_ctx *ctx = NULL;
    memset(tr, 0, sizeof *tr);
    int rc = traj_ctx(c, m, &ctx, why, cap);
    for (int s = 0; s < 6 && rc == ZOQ_OK; s++) {
        zoq_report_t r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        if ((rc = zoq_step(ctx, &r)) != ZOQ_OK)
            snprintf(why, cap, "zoq_step: %s", zoq_last_error(ctx));
        tr->v[tr->n++] = r.loss;
    }
    for (int s = 0; s < 2 && rc == ZOQ_OK; s++) {
        const zoq_point_t *pts;
        int32_t n;
        if ((rc = zoq_ask(ctx, &pts, &n)) != ZOQ_OK) {
            snprintf(why, cap, "zoq_ask: %s", zoq_last_error(ctx));
            break;
        }
        double losses[16];
        for (int i = 0; i < n && rc == ZOQ_OK; i++) { /* each point in a copy, as an engine would */
            void *at[TRAJ_NT];
            for (int t = 0; t < TRAJ_NT; t++) {
                at[t] = m->mem[t]->alloc(traj_bytes(t));
                if (rc == ZOQ_OK && (rc = zoq_materialize(ctx, i, t, at[t])) != ZOQ_OK)
                    snprintf(why, cap, "zoq_materialize: %s", zoq_last_error(ctx));
            }
            losses[i] = traj_loss_of(m, at);
            for (int t = 0; t < TRAJ_NT; t++)
                m->mem[t]->release(at[t]);
        }
        float d[8];
        for (int t = 0; t < TRAJ_NT && rc == ZOQ_OK; t++) {
            if ((rc = zoq_point_noise(ctx, 0, t, 100, 8, d)) != ZOQ_OK)
                snprintf(why, cap, "zoq_point_noise: %s", zoq_last_error(ctx));
            for (int k = 0; k < 8; k++)
                tr->v[tr->n++] = d[k];
        }
        zoq_report_t r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        if (rc == ZOQ_OK && (rc = zoq_tell(ctx, losses, n, &r)) != ZOQ_OK)
            snprintf(why, cap, "zoq_tell: %s", zoq_last_error(ctx));
        tr->v[tr->n++] = r.loss;
    }
    zoq_destroy(ctx);
    return rc;
}

static void traj_free(traj_model *m)
{
    for (int t = 0; t < TRAJ_NT; t++)
        m->mem[t]->release(m->data[t]);
}

/* Runs config c with tensors on `device` and on the CPU; ZOQ_OK and "" when
 * the traces and final parameters agree bit for bit, else a message. */
static int traj_compare(const traj_config *c, const int device[TRAJ_NT],
                        const traj_mem *dev_mem, const traj_mem *host_mem, char *why,
                        size_t cap)
{
    traj_model a, b;
    traj_trace ta, tb;
    for (int t = 0; t < TRAJ_NT; t++) {
        a.device[t] = ZOQ_DEVICE_CPU;
        a.mem[t] = host_mem;
        b.device[t] = device[t];
        b.mem[t] = device[t] == ZOQ_DEVICE_CPU ? host_mem : dev_mem;
    }
    why[0] = '\0';
    int rc = traj_run(c, &a, &ta, why, cap);
    if (rc == ZOQ_OK)
        rc = traj_run(c, &b, &tb, why, cap);
    if (rc == ZOQ_OK && (ta.n != tb.n || memcmp(ta.v, tb.v, (size_t)ta.n * sizeof *ta.v))) {
        rc = ZOQ_E_MISMATCH;
        snprintf(why, cap, "losses or point noise differ");
    }
    for (int t = 0; t < TRAJ_NT && rc == ZOQ_OK; t++) {
        void *ha = malloc(traj_bytes(t)), *hb = malloc(traj_bytes(t));
        a.mem[t]->to_host(ha, a.data[t], traj_bytes(t));
        b.mem[t]->to_host(hb, b.data[t], traj_bytes(t));
        if (memcmp(ha, hb, traj_bytes(t)) != 0) {
            rc = ZOQ_E_MISMATCH;
            snprintf(why, cap, "final values of tensor %d differ", t);
        }
        free(ha);
        free(hb);
    }
    traj_free(&a);
    traj_free(&b);
    return rc;
}

#endif
