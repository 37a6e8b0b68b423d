/* options.c - the option table: names, types, bounds, defaults, set/get. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "rng/lowrank.h"

typedef struct opt_info {
    int key;
    const char *name;
    int type;                   /* zoq_opt_type_t */
    size_t offset;              /* of the int64_t or double in zoq__opts */
    int64_t imin, imax;         /* integer bounds, inclusive */
    double dmin;                /* real lower bound ... */
    int dmin_open;              /* ... exclusive when set */
    double dmax;                /* real upper bound (INFINITY: none) ... */
    int dmax_open;              /* ... exclusive when set */
} opt_info;

#define INT_OPT(k, n, f, lo, hi) {k, n, ZOQ_OPT_INT, offsetof(zoq__opts, f), lo, hi, 0, 0, 0, 0}
#define REAL_OPT(k, n, f, lo, lo_open, hi, hi_open) \
    {k, n, ZOQ_OPT_DOUBLE, offsetof(zoq__opts, f), 0, 0, lo, lo_open, hi, hi_open}

static const opt_info options[] = {
    INT_OPT(ZOQ_OPT_SEED, "seed", seed, INT64_MIN, INT64_MAX),
    INT_OPT(ZOQ_OPT_ESTIMATOR, "estimator", estimator, ZOQ_EST_CENTRAL, ZOQ_EST_FORWARD),
    INT_OPT(ZOQ_OPT_DIST, "dist", dist, ZOQ_DIST_GAUSSIAN, ZOQ_DIST_RADEMACHER),
    INT_OPT(ZOQ_OPT_QUERIES, "queries", queries, 1, 65536),
    REAL_OPT(ZOQ_OPT_LR, "lr", lr, 0.0, 0, INFINITY, 1),
    REAL_OPT(ZOQ_OPT_EPS, "eps", eps, 0.0, 1, INFINITY, 1),
    REAL_OPT(ZOQ_OPT_WEIGHT_DECAY, "weight_decay", weight_decay, 0.0, 0, INFINITY, 1),
    INT_OPT(ZOQ_OPT_TOTAL_STEPS, "total_steps", total_steps, 0, INT64_MAX),
    INT_OPT(ZOQ_OPT_LR_SCHEDULE, "lr_schedule", lr_schedule, ZOQ_SCHED_CONSTANT, ZOQ_SCHED_COSINE),
    INT_OPT(ZOQ_OPT_LR_WARMUP, "lr_warmup", lr_warmup, 0, INT64_MAX),
    REAL_OPT(ZOQ_OPT_LR_FINAL, "lr_final", lr_final, 0.0, 0, INFINITY, 1),
    INT_OPT(ZOQ_OPT_EPS_SCHEDULE, "eps_schedule", eps_schedule, ZOQ_SCHED_CONSTANT,
            ZOQ_SCHED_COSINE),
    REAL_OPT(ZOQ_OPT_EPS_FINAL, "eps_final", eps_final, 0.0, 0, INFINITY, 1),
    INT_OPT(ZOQ_OPT_THREADS, "threads", threads, 0, 1024),
    INT_OPT(ZOQ_OPT_OPTIMIZER, "optimizer", optimizer, ZOQ_OPTIM_SGD, ZOQ_OPTIM_ADAM),
    REAL_OPT(ZOQ_OPT_MOMENTUM, "momentum", momentum, 0.0, 0, 1.0, 1),
    REAL_OPT(ZOQ_OPT_ADAM_BETA1, "adam_beta1", adam_beta1, 0.0, 0, 1.0, 1),
    REAL_OPT(ZOQ_OPT_ADAM_BETA2, "adam_beta2", adam_beta2, 0.0, 0, 1.0, 1),
    REAL_OPT(ZOQ_OPT_ADAM_EPS, "adam_eps", adam_eps, 0.0, 1, INFINITY, 1),
    REAL_OPT(ZOQ_OPT_CLIP, "clip", clip, 0.0, 0, INFINITY, 1),
    INT_OPT(ZOQ_OPT_SIGN, "sign", sign, 0, 1),
    INT_OPT(ZOQ_OPT_ACCUMULATE, "accumulate", accumulate, 1, 4096),
    INT_OPT(ZOQ_OPT_HESSIAN, "hessian", hessian, 0, 1),
    REAL_OPT(ZOQ_OPT_HESSIAN_ALPHA, "hessian_alpha", hessian_alpha, 0.0, 0, 1.0, 1),
    REAL_OPT(ZOQ_OPT_HESSIAN_FLOOR, "hessian_floor", hessian_floor, 0.0, 1, INFINITY, 1),
    INT_OPT(ZOQ_OPT_SPARSE, "sparse", sparse, ZOQ_SPARSE_OFF, ZOQ_SPARSE_RANDOM),
    REAL_OPT(ZOQ_OPT_SPARSE_KEEP, "sparse_keep", sparse_keep, 0.0, 1, 1.0, 0),
    INT_OPT(ZOQ_OPT_SPARSE_EVERY, "sparse_every", sparse_every, 1, INT64_MAX),
    INT_OPT(ZOQ_OPT_LOZO_RANK, "lozo_rank", lozo_rank, 0, ZOQ__LOZO_MAX_RANK),
    INT_OPT(ZOQ_OPT_LOZO_INTERVAL, "lozo_interval", lozo_interval, 1, INT64_MAX),
    INT_OPT(ZOQ_OPT_QMETHOD, "qmethod", qmethod, ZOQ_QMETHOD_QUZO, ZOQ_QMETHOD_ZOQO),
    INT_OPT(ZOQ_OPT_QUZO_BITS, "quzo_bits", quzo_bits, 2, 8),
    REAL_OPT(ZOQ_OPT_SCALE_CLIP, "scale_clip", scale_clip, 0.0, 0, INFINITY, 1),
    REAL_OPT(ZOQ_OPT_SCALE_FLOOR, "scale_floor", scale_floor, 0.0, 0, INFINITY, 1),
    INT_OPT(ZOQ_OPT_EXACT_RESTORE, "exact_restore", exact_restore, 0, 1),
};

#define N_OPTIONS (sizeof options / sizeof options[0])

void zoq__opts_default(zoq__opts *o)
{
    memset(o, 0, sizeof *o);
    o->estimator = ZOQ_EST_CENTRAL;
    o->dist = ZOQ_DIST_GAUSSIAN;
    o->queries = 1;
    o->lr = 1e-3;
    o->eps = 1e-3;
    o->optimizer = ZOQ_OPTIM_SGD;
    o->momentum = 0.9;
    o->adam_beta1 = 0.9;
    o->adam_beta2 = 0.999;
    o->adam_eps = 1e-8;
    o->accumulate = 1;
    o->hessian_alpha = 1e-8;
    o->hessian_floor = 1e-8;
    o->sparse_keep = 0.5;
    o->sparse_every = 1;
    o->lozo_interval = 50;
    o->qmethod = ZOQ_QMETHOD_QUZO;
    o->quzo_bits = 8;
    o->scale_clip = 100.0;
}

static const opt_info *find_key(int key)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].key == key)
            return &options[i];
    return NULL;
}

/* The option's info if key exists and has `type`; else a failure status. */
static int lookup(const zoq_ctx *ctx, int key, int type, const opt_info **out)
{
    const opt_info *oi = find_key(key);
    zoq_ctx *mctx = (zoq_ctx *)ctx; /* only its error buffer is written */
    if (!oi)
        return zoq__fail(mctx, ZOQ_E_NOT_FOUND, "unknown option key %d", key);
    if (oi->type != type)
        return zoq__fail(mctx, ZOQ_E_INVALID, "option '%s' is %s (zoq_set_%s, zoq_get_%s)",
                         oi->name, oi->type == ZOQ_OPT_INT ? "an integer" : "real",
                         oi->type == ZOQ_OPT_INT ? "int" : "double",
                         oi->type == ZOQ_OPT_INT ? "int" : "double");
    *out = oi;
    return ZOQ_OK;
}

int zoq_set_int(zoq_ctx *ctx, int key, int64_t value)
{
    const opt_info *oi = NULL;
    int rc = zoq__check_idle(ctx, "changing an option");
    if (rc == ZOQ_OK)
        rc = lookup(ctx, key, ZOQ_OPT_INT, &oi);
    if (rc != ZOQ_OK)
        return rc;
    if (value < oi->imin || value > oi->imax)
        return zoq__fail(ctx, ZOQ_E_INVALID, "option '%s' must be in [%lld, %lld], got %lld",
                         oi->name, (long long)oi->imin, (long long)oi->imax, (long long)value);
    int64_t *field = (int64_t *)((char *)&ctx->opts + oi->offset);
    int rekey = key == ZOQ_OPT_SEED && *field != value;
    *field = value;
    if (rekey)
        zoq__registry_rekey(ctx);
    return ZOQ_OK;
}

int zoq_set_double(zoq_ctx *ctx, int key, double value)
{
    const opt_info *oi = NULL;
    int rc = zoq__check_idle(ctx, "changing an option");
    if (rc == ZOQ_OK)
        rc = lookup(ctx, key, ZOQ_OPT_DOUBLE, &oi);
    if (rc != ZOQ_OK)
        return rc;
    if (!isfinite(value) || value < oi->dmin || (oi->dmin_open && value == oi->dmin) ||
        value > oi->dmax || (oi->dmax_open && value == oi->dmax))
    {
        char upper[40] = "";
        if (isfinite(oi->dmax))
            snprintf(upper, sizeof upper, " and %s %g", oi->dmax_open ? "<" : "<=", oi->dmax);
        return zoq__fail(ctx, ZOQ_E_INVALID, "option '%s' must be finite, %s %g%s, got %g",
                         oi->name, oi->dmin_open ? ">" : ">=", oi->dmin, upper, value);
    }
    *(double *)((char *)&ctx->opts + oi->offset) = value;
    return ZOQ_OK;
}

int zoq_get_int(const zoq_ctx *ctx, int key, int64_t *out)
{
    const opt_info *oi = NULL;
    if (!ctx || !out)
        return zoq__fail((zoq_ctx *)ctx, ZOQ_E_INVALID, "zoq_get_int: NULL argument");
    int rc = lookup(ctx, key, ZOQ_OPT_INT, &oi);
    if (rc == ZOQ_OK)
        *out = *(const int64_t *)((const char *)&ctx->opts + oi->offset);
    return rc;
}

int zoq_get_double(const zoq_ctx *ctx, int key, double *out)
{
    const opt_info *oi = NULL;
    if (!ctx || !out)
        return zoq__fail((zoq_ctx *)ctx, ZOQ_E_INVALID, "zoq_get_double: NULL argument");
    int rc = lookup(ctx, key, ZOQ_OPT_DOUBLE, &oi);
    if (rc == ZOQ_OK)
        *out = *(const double *)((const char *)&ctx->opts + oi->offset);
    return rc;
}

int zoq_opt_find(const char *name, int *key, int *type)
{
    if (!name)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_opt_find: name is NULL");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (strcmp(options[i].name, name) == 0) {
            if (key)
                *key = options[i].key;
            if (type)
                *type = options[i].type;
            return ZOQ_OK;
        }
    }
    return zoq__fail(NULL, ZOQ_E_NOT_FOUND, "no option named '%.64s'", name);
}

const char *zoq_opt_name(int key)
{
    const opt_info *oi = find_key(key);
    return oi ? oi->name : NULL;
}

size_t zoq__opt_count(void)
{
    return N_OPTIONS;
}

int zoq__opt_key_at(size_t i, int *type)
{
    *type = options[i].type;
    return options[i].key;
}
