/* options.c - options by key: the table of lib/core/options.def, defaults,
 * validated set/get, lookup by name. */
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
    int64_t idef;               /* default of an integer option */
    double ddef;                /* default of a real option */
} opt_info;

#define ZOQ__OPT_INT(K, n, lo, hi, def) \
    {ZOQ_OPT_##K, #n, ZOQ_OPT_INT, offsetof(zoq__opts, n), lo, hi, 0, 0, 0, 0, def, 0},
#define ZOQ__OPT_REAL(K, n, lo, lo_open, hi, hi_open, def) \
    {ZOQ_OPT_##K, #n, ZOQ_OPT_DOUBLE, offsetof(zoq__opts, n), 0, 0, lo, lo_open, hi, hi_open, 0, def},
static const opt_info options[] = {
#include "core/options.def"
};
#undef ZOQ__OPT_INT
#undef ZOQ__OPT_REAL

#define N_OPTIONS (sizeof options / sizeof options[0])

void zoq__opts_default(zoq__opts *o)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char *field = (char *)o + options[i].offset;
        if (options[i].type == ZOQ_OPT_INT)
            *(int64_t *)field = options[i].idef;
        else
            *(double *)field = options[i].ddef;
    }
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
