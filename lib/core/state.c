/* state.c - optimizer state files (docs/formats.md): little-endian, magic,
 * version, payload size, XXH64 trailer; written to a temporary file in the
 * target folder and renamed over the path, so a reader never sees half a
 * file. Loading validates everything before it changes the context. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bits.h"
#include "internal.h"
#include "tech/tech.h"
#include "io/buf.h"
#include "io/file.h"

#define STATE_MAGIC "ZOQSTATE"
/* Version 3: the layout of versions 1 and 2, saved under RNG contract 3
 * (docs/rng.md). Versions 1 and 2 were saved under contracts 1 and 2, whose
 * Gaussian directions this library no longer draws: refused, never resumed
 * with other directions. */
#define STATE_VERSION 3u
#define HEADER_BYTES 24u        /* magic 8, version 4, flags 4, payload size 8 */
#define TRAILER_BYTES 8u        /* XXH64 (seed 0) of header and payload */
#define MAX_FILE_BYTES (1ull << 40)
/* Per parameter, after its record, the techniques' buffers, each under its
 * tag (lib/tech/: 1 and 2 the optimizer's moments, 3 HiZOO's Σ, 4 LOZO-M's
 * factors, 5 the open accumulation window's magnitude mask). */
#define MAX_TAGS 5u

typedef zoq__rbuf rbuf;
#define put_le zoq__buf_put_le
#define get_le zoq__rbuf_le
#define take zoq__rbuf_take

static uint32_t get_u32(rbuf *r)
{
    return (uint32_t)get_le(r, 4);
}

static void encode(const zoq_ctx *ctx, zoq__buf *b)
{
    zoq__buf_put(b, STATE_MAGIC, 8);
    put_le(b, STATE_VERSION, 4);
    put_le(b, 0, 4);
    put_le(b, 0, 8); /* payload size, patched below */
    size_t start = b->n;
    put_le(b, ctx->step, 8);
    put_le(b, ctx->updates, 8);
    put_le(b, (uint64_t)ctx->mask_epoch, 8);
    put_le(b, (uint32_t)ctx->buffers_kind, 4);
    put_le(b, (uint32_t)ctx->accum_steps, 4);
    put_le(b, (uint32_t)ctx->n_accum, 4);
    for (int e = 0; e < ctx->n_accum; e++) {
        uint64_t w;
        memcpy(&w, &ctx->accum[e].w, sizeof w);
        put_le(b, ctx->accum[e].step, 8);
        put_le(b, ctx->accum[e].query, 4);
        put_le(b, w, 8);
    }
    put_le(b, (uint32_t)zoq__opt_count(), 4);
    for (size_t i = 0; i < zoq__opt_count(); i++) {
        int type, key = zoq__opt_key_at(i, &type);
        uint64_t bits;
        if (type == ZOQ_OPT_INT) {
            int64_t v;
            zoq_get_int(ctx, key, &v);
            bits = (uint64_t)v;
        } else {
            double v;
            zoq_get_double(ctx, key, &v);
            memcpy(&bits, &v, sizeof bits);
        }
        put_le(b, (uint32_t)key, 4);
        put_le(b, (uint32_t)type, 4);
        put_le(b, bits, 8);
    }
    put_le(b, (uint32_t)ctx->n_params, 4);
    for (int32_t i = 0; i < ctx->n_params; i++) {
        const zoq__param *p = &ctx->params[i];
        size_t len = strlen(p->name);
        put_le(b, (uint32_t)len, 4);
        zoq__buf_put(b, p->name, len);
        put_le(b, (uint32_t)p->t.dtype, 4);
        put_le(b, (uint64_t)p->t.numel, 8);
        uint32_t tau_valid;
        float tau;
        zoq__sparse_threshold(p, &tau_valid, &tau);
        put_le(b, tau_valid, 4);
        put_le(b, zoq__f32_bits(tau), 4);
        put_le(b, zoq__tech_saved(ctx, p), 4);
        zoq__tech_save(ctx, p, b);
    }
    if (b->oom)
        return;
    uint64_t payload = b->n - start;
    for (int i = 0; i < 8; i++)
        b->p[16 + i] = (unsigned char)(payload >> (8 * i));
    put_le(b, XXH64(b->p, b->n, 0), 8);
}

/* State files hold the buffers as host arrays; device ones are not copied yet. */
static int host_only(zoq_ctx *ctx, const char *what)
{
    for (int32_t i = 0; i < ctx->n_params; i++)
        if (ctx->params[i].device != ZOQ_DEVICE_CPU)
            return zoq__fail(ctx, ZOQ_E_UNSUPPORTED, "%s: parameter '%s' lives on a CUDA "
                             "device, and state files of device buffers are not supported yet",
                             what, ctx->params[i].name);
    return ZOQ_OK;
}

int zoq_state_save(zoq_ctx *ctx, const char *path)
{
    if (!ctx)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_state_save: the context is NULL");
    if (!path || !path[0])
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_state_save: empty path");
    if (host_only(ctx, "zoq_state_save") != ZOQ_OK)
        return ZOQ_E_UNSUPPORTED;
    zoq__buf b = {0};
    encode(ctx, &b);
    if (b.oom) {
        free(b.p);
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory encoding the state");
    }
    zoq__afile f;
    int rc = zoq__afile_open(&f, path);
    if (rc == ZOQ_OK) {
        zoq__afile_write(&f, b.p, b.n);
        rc = zoq__afile_commit(&f);
    }
    free(b.p);
    return zoq__fail_copy(rc, ctx->err, sizeof ctx->err); /* lib/io's message is ctx's */
}

/* Decoded option values, applied only once the whole file checked out. */
typedef struct opt_rec {
    uint32_t key, type;
    uint64_t bits;
} opt_rec;

/* Everything a file holds, decoded and checked, before the context changes:
 * new buffers and accumulation store are allocated here, installed by
 * commit(), freed by discard(). */
typedef struct loaded {
    uint64_t step, updates;
    int64_t mask_epoch;
    uint32_t buffers_kind, accum_steps, n_accum, n_opts;
    zoq__accum *accum;
    opt_rec *opts;
    void **staged[ZOQ__TECH_COUNT]; /* [technique id][parameter id] (lib/tech/tech.h) */
} loaded;

static void discard(const zoq_ctx *ctx, loaded *ld)
{
    zoq__tech_discard(ctx, ld->staged);
    for (int k = 0; k < ZOQ__TECH_COUNT; k++)
        free(ld->staged[k]);
    free(ld->accum);
    free(ld->opts);
}

static int read_params(zoq_ctx *ctx, rbuf *r, loaded *ld, const char *path)
{
    uint32_t n = get_u32(r);
    if (!r->bad && n != (uint32_t)ctx->n_params)
        return zoq__fail(ctx, ZOQ_E_MISMATCH, "'%s' holds %u parameters, the context has %d",
                         path, n, ctx->n_params);
    for (int k = 0; k < ZOQ__TECH_COUNT; k++)
        if (!(ld->staged[k] = calloc((size_t)ctx->n_params + 1, sizeof *ld->staged[k])))
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    char *seen = calloc((size_t)ctx->n_params + 1, 1);
    if (!seen)
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    int rc = ZOQ_OK;
    for (uint32_t i = 0; i < n && !r->bad && rc == ZOQ_OK; i++) {
        uint32_t len = get_u32(r);
        const unsigned char *name = take(r, len);
        uint32_t dtype = get_u32(r);
        uint64_t numel = get_le(r, 8);
        uint32_t tau_valid = get_u32(r);
        float tau = zoq__f32_from_bits(get_u32(r));
        uint32_t n_buffers = get_u32(r);
        if (r->bad)
            break;
        int32_t id = -1;
        for (int32_t j = 0; j < ctx->n_params && id < 0; j++)
            if (strlen(ctx->params[j].name) == len && memcmp(ctx->params[j].name, name, len) == 0)
                id = j;
        if (id < 0) {
            rc = zoq__fail(ctx, ZOQ_E_MISMATCH, "'%s' has parameter '%.*s' the context lacks",
                           path, (int)(len > 200 ? 200 : len), (const char *)name);
            break;
        }
        const zoq__param *p = &ctx->params[id];
        if (dtype != (uint32_t)p->t.dtype || numel != (uint64_t)p->t.numel) {
            rc = zoq__fail(ctx, ZOQ_E_MISMATCH, "parameter '%s': file has dtype %u numel %llu, "
                           "context dtype %d numel %lld", p->name, dtype,
                           (unsigned long long)numel, p->t.dtype, (long long)p->t.numel);
            break;
        }
        if (seen[id] || n_buffers > MAX_TAGS || n_buffers > (r->n - r->at) / 4) {
            rc = zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': listed twice, or %u buffers "
                           "(truncated?)", p->name, n_buffers);
            break;
        }
        seen[id] = 1;
        if (tau_valid > 1 || !(tau >= 0.0f)) {
            rc = zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': bad sparse threshold", p->name);
            break;
        }
        rc = zoq__sparse_stage_threshold(ctx, &ld->staged[ZOQ__TECH_sparse][id], tau_valid, tau);
        for (uint32_t k = 0; k < n_buffers && rc == ZOQ_OK && !r->bad; k++) {
            uint32_t tag = get_u32(r);
            if (!r->bad) /* a read past the end: the payload check says so */
                rc = zoq__tech_load(ctx, r, tag, (int)ld->buffers_kind, p, ld->staged);
        }
    }
    free(seen);
    return rc;
}

static int read_run(zoq_ctx *ctx, rbuf *r, loaded *ld, const char *path)
{
    ld->step = get_le(r, 8);
    ld->updates = get_le(r, 8);
    ld->mask_epoch = (int64_t)get_le(r, 8);
    ld->buffers_kind = get_u32(r);
    ld->accum_steps = get_u32(r);
    ld->n_accum = get_u32(r);
    /* updates past INT64_MAX would overflow the sparse mask epoch (int64_t) */
    if (r->bad || ld->buffers_kind > ZOQ_OPTIM_ADAM || ld->accum_steps > 4096 ||
        ld->updates > (uint64_t)INT64_MAX || ld->mask_epoch < -1 ||
        ld->n_accum > (r->n - r->at) / 20 || (ld->n_accum == 0) != (ld->accum_steps == 0))
        return zoq__fail(ctx, ZOQ_E_FORMAT, "'%s': bad run state", path);
    if (!(ld->accum = malloc((ld->n_accum ? ld->n_accum : 1) * sizeof *ld->accum)))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    for (uint32_t e = 0; e < ld->n_accum; e++) {
        ld->accum[e].step = get_le(r, 8);
        ld->accum[e].query = get_u32(r);
        uint64_t w = get_le(r, 8);
        memcpy(&ld->accum[e].w, &w, sizeof w);
        if (!isfinite(ld->accum[e].w) || ld->accum[e].query >= (1u << 24))
            return zoq__fail(ctx, ZOQ_E_FORMAT, "'%s': bad accumulated direction", path);
    }
    ld->n_opts = get_u32(r);
    if (r->bad || ld->n_opts > (r->n - r->at) / 16)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "'%s': bad option count", path);
    if (!(ld->opts = malloc((ld->n_opts ? ld->n_opts : 1) * sizeof *ld->opts)))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    for (uint32_t i = 0; i < ld->n_opts; i++) {
        ld->opts[i].key = get_u32(r);
        ld->opts[i].type = get_u32(r);
        ld->opts[i].bits = get_le(r, 8);
    }
    return ZOQ_OK;
}

/* Sets the options of the file; on any refusal restores the previous ones. */
static int apply_options(zoq_ctx *ctx, const opt_rec *recs, uint32_t n, const char *path)
{
    zoq__opts saved = ctx->opts;
    for (uint32_t i = 0; i < n; i++) {
        int rc;
        if (recs[i].key == ZOQ_OPT_THREADS)
            continue; /* a property of the machine, not of the run */
        if (recs[i].type == ZOQ_OPT_INT) {
            rc = zoq_set_int(ctx, (int)recs[i].key, (int64_t)recs[i].bits);
        } else {
            double v;
            memcpy(&v, &recs[i].bits, sizeof v);
            rc = zoq_set_double(ctx, (int)recs[i].key, v);
        }
        if (rc != ZOQ_OK) {
            char why[ZOQ__ERRMSG_CAP];
            memcpy(why, ctx->err, sizeof why);
            ctx->opts = saved;
            zoq__registry_rekey(ctx);
            return zoq__fail(ctx, rc == ZOQ_E_NOT_FOUND ? ZOQ_E_VERSION : ZOQ_E_FORMAT,
                             "'%s': option %u refused (%s)", path, recs[i].key, why);
        }
    }
    return ZOQ_OK;
}

/* Installs a checked file into ctx; cannot fail. Takes ld's allocations. */
static void commit(zoq_ctx *ctx, loaded *ld)
{
    free(ctx->accum);
    ctx->accum = ld->accum;
    ctx->cap_accum = (int)(ld->n_accum ? ld->n_accum : 1);
    ctx->n_accum = (int)ld->n_accum;
    ld->accum = NULL;
    ctx->accum_steps = (int)ld->accum_steps;
    ctx->buffers_kind = (int)ld->buffers_kind;
    ctx->updates = ld->updates;
    ctx->mask_epoch = ld->mask_epoch;
    ctx->step = ld->step;
    zoq__tech_commit(ctx, ld->staged);
    for (int k = 0; k < ZOQ__TECH_COUNT; k++) {
        free(ld->staged[k]);
        ld->staged[k] = NULL;
    }
}

int zoq__state_decode(zoq_ctx *ctx, const unsigned char *data, size_t n, const char *path)
{
    if (n < HEADER_BYTES + TRAILER_BYTES || memcmp(data, STATE_MAGIC, 8) != 0)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "'%s' is not a zoq state file", path);
    rbuf r = {data, n, 8, 0};
    uint32_t version = get_u32(&r), flags = get_u32(&r);
    uint64_t payload = get_le(&r, 8);
    if (version >= 1 && version < STATE_VERSION && flags == 0)
        return zoq__fail(ctx, ZOQ_E_VERSION, "'%s' was saved under RNG contract %u, whose "
                         "Gaussian directions this library no longer draws (contract %u, "
                         "docs/rng.md): resuming would change every direction from here on. "
                         "Finish the run with the zoq that wrote it, or start a new one", path,
                         version, STATE_VERSION);
    if (version != STATE_VERSION || flags != 0)
        return zoq__fail(ctx, ZOQ_E_VERSION, "'%s': state version %u flags %u; this library "
                         "reads version %u", path, version, flags, STATE_VERSION);
    if (payload != n - HEADER_BYTES - TRAILER_BYTES)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "'%s' is truncated or has trailing bytes (payload "
                         "%llu, file %zu)", path, (unsigned long long)payload, n);
    rbuf tr = {data, n, n - TRAILER_BYTES, 0};
    if (get_le(&tr, 8) != XXH64(data, n - TRAILER_BYTES, 0))
        return zoq__fail(ctx, ZOQ_E_CHECKSUM, "'%s': checksum mismatch, file is corrupt", path);
    r.n = n - TRAILER_BYTES;
    loaded ld = {0};
    int rc = read_run(ctx, &r, &ld, path);
    if (rc == ZOQ_OK)
        rc = read_params(ctx, &r, &ld, path);
    if (rc == ZOQ_OK && (r.bad || r.at != r.n))
        rc = zoq__fail(ctx, ZOQ_E_FORMAT, "'%s': malformed payload", path);
    if (rc == ZOQ_OK)
        rc = apply_options(ctx, ld.opts, ld.n_opts, path);
    if (rc == ZOQ_OK)
        commit(ctx, &ld);
    discard(ctx, &ld);
    return rc;
}

int zoq_state_load(zoq_ctx *ctx, const char *path)
{
    if (!ctx)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_state_load: the context is NULL");
    if (!path)
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_state_load: path is NULL");
    int rc = zoq__check_idle(ctx, "loading a state");
    if (rc == ZOQ_OK)
        rc = host_only(ctx, "zoq_state_load");
    if (rc != ZOQ_OK)
        return rc;
    unsigned char *data = NULL;
    size_t n = 0;
    rc = zoq__file_read_all(path, MAX_FILE_BYTES, &data, &n);
    if (rc != ZOQ_OK)
        return zoq__fail_copy(rc, ctx->err, sizeof ctx->err); /* lib/io's message is ctx's */
    rc = zoq__state_decode(ctx, data, n, path);
    free(data);
    return rc;
}
