/* registry.c - the parameters a context trains: caller-owned buffers with a
 * name (which keys their random stream), dtype, size, group and flags. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "strided.h"
#include "tech/tech.h"

#define KNOWN_FLAGS                                                                               \
    (ZOQ_PARAM_DISABLED | ZOQ_PARAM_LORA_A | ZOQ_PARAM_LORA_B | ZOQ_PARAM_SCALE | ZOQ_PARAM_NO_DECAY)
#define NAME_MAX_LEN 4096

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A CPU buffer as the overlap check sees it: element i spans
 * [lo + i*step, + esize). */
typedef struct view {
    uintptr_t lo;
    size_t step, esize;
    int64_t n;
} view;

static view view_of(const void *data, int dtype, int64_t numel, int64_t stride)
{
    const size_t e = zoq__dtype_size(dtype);
    return (view){(uintptr_t)data, zoq__step_bytes(e, stride), e, numel};
}

static uintptr_t view_end(const view *v)
{
    return v->lo + zoq__span_bytes(v->esize, (int64_t)v->step, v->n);
}

/* Whether some byte belongs to an element of a and to one of b: a's elements
 * inside b's span are each tested against the b elements they could meet. */
static int views_overlap(const view *a, const view *b)
{
    const uintptr_t a_end = view_end(a), b_end = view_end(b);
    if (!(a->lo < b_end && b->lo < a_end))
        return 0;
    int64_t i = b->lo > a->lo + a->esize ? (int64_t)((b->lo - a->lo - a->esize) / a->step) : 0;
    for (; i < a->n; i++) {
        const uintptr_t x = a->lo + (uintptr_t)i * a->step, x_end = x + a->esize;
        if (x >= b_end)
            break;
        if (x_end <= b->lo)
            continue;
        /* b's elements j with b.lo + j*step + esize > x and b.lo + j*step < x_end */
        const int64_t j_lo = x + 1 > b->lo + b->esize
                                 ? (int64_t)((x + 1 - b->lo - b->esize + b->step - 1) / b->step)
                                 : 0;
        int64_t j_hi = (int64_t)((x_end - 1 - b->lo) / b->step);
        if (j_hi >= b->n)
            j_hi = b->n - 1;
        if (j_lo <= j_hi)
            return 1;
    }
    return 0;
}

/* Refuses a CPU buffer whose elements' bytes overlap those of a registered
 * CPU parameter other than `self`: zoq would perturb and update the shared
 * elements twice per step (and restore them wrongly). */
static int check_overlap(zoq_ctx *ctx, int32_t self, const char *name, int device,
                         const void *data, int dtype, int64_t numel, int64_t stride)
{
    if (device != ZOQ_DEVICE_CPU)
        return ZOQ_OK;
    const view v = view_of(data, dtype, numel, stride);
    for (int32_t i = 0; i < ctx->n_params; i++) {
        const zoq__param *p = &ctx->params[i];
        if (i == self || p->device != ZOQ_DEVICE_CPU)
            continue;
        const view pv = view_of(p->t.data, p->t.dtype, p->t.numel, p->t.stride);
        if (views_overlap(&v, &pv))
            return zoq__fail(ctx, ZOQ_E_EXISTS, "param '%s': its memory [%p, +%zu bytes) "
                             "overlaps parameter '%s' (id %d, [%p, +%zu bytes)): a buffer "
                             "may be registered once, and registered views may not overlap",
                             name, data, (size_t)(view_end(&v) - v.lo), p->name, i, p->t.data,
                             (size_t)(view_end(&pv) - pv.lo));
    }
    return ZOQ_OK;
}

/* The stride of d: 0, or at least the element size, on the CPU, float dtype,
 * and the view's span addressable. */
static int check_stride(zoq_ctx *ctx, const zoq_param_desc_t *d)
{
    const int64_t s = d->stride;
    if (s == 0)
        return ZOQ_OK;
    if (d->device != ZOQ_DEVICE_CPU || d->dtype == ZOQ_I8)
        return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "param '%s': strided views are f32/f16/bf16 "
                                                 "on the CPU only", d->name);
    if (s < (int64_t)zoq__dtype_size(d->dtype) || s > (INT64_MAX >> 4) / d->numel)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': stride %lld is below the element "
                         "size %zu or too large", d->name, (long long)s,
                         zoq__dtype_size(d->dtype));
    if ((uintptr_t)d->data > UINTPTR_MAX - zoq__span_bytes(zoq__dtype_size(d->dtype), s, d->numel))
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': the view's span wraps the address "
                         "space", d->name);
    return ZOQ_OK;
}

static int check_desc(zoq_ctx *ctx, const zoq_param_desc_t *d)
{
    if (!d->name || !d->name[0] || strlen(d->name) > NAME_MAX_LEN)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param name must be a non-empty string of at most "
                                             "%d bytes", NAME_MAX_LEN);
    if (!d->data)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': data is NULL", d->name);
    if (d->dtype != ZOQ_F32 && d->dtype != ZOQ_F16 && d->dtype != ZOQ_BF16 &&
        d->dtype != ZOQ_I8)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': unknown dtype %d", d->name, d->dtype);
    if (d->dtype == ZOQ_I8 && (d->flags & ZOQ_PARAM_SCALE))
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': ZOQ_PARAM_SCALE needs a float dtype "
                                             "(scales are trained as real numbers)", d->name);
    if (d->device != ZOQ_DEVICE_CPU && d->device != ZOQ_DEVICE_CUDA)
        return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "param '%s': device %d is not known to this "
                                                 "build", d->name, d->device);
    int rc = zoq__tech_check_param(ctx, d->name, d->dtype, d->flags, d->device);
    if (rc != ZOQ_OK)
        return rc;
    if (d->numel <= 0 || d->numel > (INT64_MAX >> 4))
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': numel %lld out of range", d->name,
                         (long long)d->numel);
    if (d->flags & ~KNOWN_FLAGS)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': unknown flag bits 0x%x", d->name,
                         (unsigned)(d->flags & ~KNOWN_FLAGS));
    if (d->reserved_)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': reserved_ must be 0", d->name);
    int64_t rows = d->rows, cols = d->cols;
    if ((rows || cols) && (rows <= 0 || cols <= 0 || rows > d->numel / cols ||
                           rows * cols != d->numel))
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': shape %lld x %lld does not match numel "
                         "%lld", d->name, (long long)rows, (long long)cols, (long long)d->numel);
    rc = check_stride(ctx, d);
    if (rc != ZOQ_OK)
        return rc;
    if (d->group && strlen(d->group) > NAME_MAX_LEN)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': group name too long", d->name);
    const int32_t dup = zoq__param_index(ctx, d->name);
    if (dup >= 0)
        return zoq__fail(ctx, ZOQ_E_EXISTS, "a parameter named '%s' is already registered (id "
                                            "%d)", d->name, dup);
    rc = check_overlap(ctx, -1, d->name, d->device, d->data, d->dtype, d->numel, d->stride);
    if (rc != ZOQ_OK)
        return rc;
    zoq__backend *be; /* the first CUDA parameter loads the plugin */
    return d->device == ZOQ_DEVICE_CPU ? ZOQ_OK : zoq__device_backend(ctx, d->device, &be);
}

int zoq_param_add_desc(zoq_ctx *ctx, const zoq_param_desc_t *in, int32_t *id)
{
    zoq_param_desc_t d = {0}, *desc = &d; /* an older caller's struct: no shape */
    int rc = zoq__check_idle(ctx, "changing the parameters");
    if (rc == ZOQ_OK)
        rc = zoq__sized_in(ctx, "param desc", &d, in, sizeof d);
    if (rc == ZOQ_OK)
        rc = check_desc(ctx, desc);
    if (rc != ZOQ_OK)
        return rc;
    if (ctx->n_params == INT32_MAX)
        return zoq__fail(ctx, ZOQ_E_INVALID, "too many parameters");
    if (ctx->n_params == ctx->cap_params) {
        int32_t cap = ctx->cap_params ? ctx->cap_params * 2 : 16;
        zoq__param *p = realloc(ctx->params, (size_t)cap * sizeof *p);
        if (!p)
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory growing the registry");
        ctx->params = p;
        ctx->cap_params = cap;
    }
    zoq__param *p = &ctx->params[ctx->n_params];
    memset(p, 0, sizeof *p);
    p->name = dup_str(desc->name);
    p->group = dup_str(desc->group ? desc->group : "");
    if (!p->name || !p->group) {
        free(p->name);
        free(p->group);
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory copying names");
    }
    p->t.data = desc->data;
    p->t.dtype = desc->dtype;
    p->t.numel = desc->numel;
    p->t.rows = desc->rows;
    p->t.cols = desc->cols;
    p->t.stride = desc->stride;
    p->t.key = zoq_tensor_key((uint64_t)ctx->opts.seed, p->name);
    p->flags = desc->flags;
    p->device = desc->device;
    p->enabled = !(desc->flags & ZOQ_PARAM_DISABLED);
    p->codes = (zoq__codes){.lo = -127, .hi = 127, .group = desc->numel};
    if (id)
        *id = ctx->n_params;
    ctx->n_params++;
    return ZOQ_OK;
}

int zoq_param_add(zoq_ctx *ctx, const char *name, void *data, int dtype, int64_t numel,
                  int32_t *id)
{
    zoq_param_desc_t d = {.size = sizeof d, .name = name, .data = data, .dtype = dtype,
                          .device = ZOQ_DEVICE_CPU, .numel = numel};
    return zoq_param_add_desc(ctx, &d, id);
}

int32_t zoq_param_count(const zoq_ctx *ctx)
{
    return ctx ? ctx->n_params : 0;
}

int32_t zoq__param_index(const zoq_ctx *ctx, const char *name)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        if (strcmp(ctx->params[i].name, name) == 0)
            return i;
    return -1;
}

int zoq_param_find(const zoq_ctx *ctx, const char *name, int32_t *id)
{
    zoq_ctx *mut = (zoq_ctx *)ctx; /* a const call may still leave its message */
    if (!ctx || !name)
        return zoq__fail(mut, ZOQ_E_INVALID, "zoq_param_find: NULL argument");
    const int32_t i = zoq__param_index(ctx, name);
    if (i < 0)
        return zoq__fail(mut, ZOQ_E_NOT_FOUND, "no parameter named '%.64s'", name);
    if (id)
        *id = i;
    return ZOQ_OK;
}

static int check_id(zoq_ctx *ctx, int32_t id)
{
    int rc = zoq__check_idle(ctx, "changing the parameters");
    if (rc == ZOQ_OK && (id < 0 || id >= ctx->n_params))
        rc = zoq__fail(ctx, ZOQ_E_NOT_FOUND, "no parameter with id %d (%d registered)", id,
                       ctx->n_params);
    return rc;
}

int zoq_param_set_data(zoq_ctx *ctx, int32_t id, void *data)
{
    int rc = check_id(ctx, id);
    if (rc != ZOQ_OK)
        return rc;
    if (!data)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': data is NULL", ctx->params[id].name);
    zoq__param *p = &ctx->params[id];
    rc = check_overlap(ctx, id, p->name, p->device, data, p->t.dtype, p->t.numel, p->t.stride);
    if (rc != ZOQ_OK)
        return rc;
    p->t.data = data;
    return ZOQ_OK;
}

int zoq_param_set_codes(zoq_ctx *ctx, int32_t id, int32_t lo, int32_t hi,
                        const float *scales, int64_t group)
{
    int rc = check_id(ctx, id);
    if (rc != ZOQ_OK)
        return rc;
    zoq__param *p = &ctx->params[id];
    if (p->t.dtype != ZOQ_I8)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s' is not ZOQ_I8: it has no code range",
                         p->name);
    if (lo < -128 || hi > 127 || lo >= hi)
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': code range [%d, %d] is not within "
                         "[-128, 127] with lo < hi", p->name, lo, hi);
    if (scales && (group <= 0 || p->t.numel % group != 0))
        return zoq__fail(ctx, ZOQ_E_INVALID, "param '%s': scale group %lld does not divide "
                         "numel %lld", p->name, (long long)group, (long long)p->t.numel);
    p->codes.lo = lo;
    p->codes.hi = hi;
    p->codes.scales = scales;
    p->codes.group = scales ? group : p->t.numel;
    return ZOQ_OK;
}

/* Turns p on or off; a tensor turned back on gets a fresh sparse threshold
 * and mask at the next plan (lib/tech/sparse.c). */
static void set_enabled(zoq__param *p, int on)
{
    p->reenabled |= on && !p->enabled;
    p->enabled = on != 0;
}

int zoq_param_set_enabled(zoq_ctx *ctx, int32_t id, int on)
{
    int rc = check_id(ctx, id);
    if (rc == ZOQ_OK)
        set_enabled(&ctx->params[id], on);
    return rc;
}

int zoq_group_set_enabled(zoq_ctx *ctx, const char *group, int on, int32_t *count)
{
    int rc = zoq__check_idle(ctx, "changing the parameters");
    if (rc != ZOQ_OK)
        return rc;
    if (!group)
        return zoq__fail(ctx, ZOQ_E_INVALID, "group is NULL");
    int32_t n = 0;
    for (int32_t i = 0; i < ctx->n_params; i++) {
        if (strcmp(ctx->params[i].group, group) == 0) {
            set_enabled(&ctx->params[i], on);
            n++;
        }
    }
    if (count)
        *count = n;
    if (n == 0)
        return zoq__fail(ctx, ZOQ_E_NOT_FOUND, "no parameter in group '%s'", group);
    return ZOQ_OK;
}

int zoq_param_enabled_numel(const zoq_ctx *ctx, int64_t *out)
{
    if (!ctx || !out)
        return zoq__fail((zoq_ctx *)ctx, ZOQ_E_INVALID, "zoq_param_enabled_numel: NULL argument");
    int64_t n = 0;
    for (int32_t i = 0; i < ctx->n_params; i++)
        if (ctx->params[i].enabled)
            n += ctx->params[i].t.numel;
    *out = n;
    return ZOQ_OK;
}

void zoq__registry_rekey(zoq_ctx *ctx)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        ctx->params[i].t.key = zoq_tensor_key((uint64_t)ctx->opts.seed, ctx->params[i].name);
}

void zoq__registry_pop(zoq_ctx *ctx)
{
    zoq__param *p = &ctx->params[--ctx->n_params];
    free(p->name);
    free(p->group);
}
