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
#include "rng/lowrank.h"

#define STATE_MAGIC "ZOQSTATE"
#define STATE_VERSION 1u
#define HEADER_BYTES 24u        /* magic 8, version 4, flags 4, payload size 8 */
#define TRAILER_BYTES 8u        /* XXH64 (seed 0) of header and payload */
#define MAX_FILE_BYTES (1ull << 40)
/* Per-parameter buffers, tagged in the file by index + 1: m, v, sigma, each
 * numel values; then tag 4, LOZO-M's factors, with their own shape, and tag
 * 5, the open accumulation window's magnitude mask (1 bit per element). */
#define N_TAGS 3
#define TAG_LOZO 4u
#define TAG_BITS 5u

/* Appends the low n bytes of v, little-endian. */
static void put_le(zoq__buf *b, uint64_t v, int n)
{
    unsigned char x[8];
    for (int i = 0; i < n; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    zoq__buf_put(b, x, (size_t)n);
}

/* A bounds-checked reader over an untrusted byte range. */
typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    int bad;
} rbuf;

static const unsigned char *take(rbuf *r, size_t n)
{
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *s = r->p + r->at;
    r->at += n;
    return s;
}

/* Reads n little-endian bytes (0 and r->bad set past the end). */
static uint64_t get_le(rbuf *r, int n)
{
    const unsigned char *s = take(r, (size_t)n);
    uint64_t v = 0;
    for (int i = 0; s && i < n; i++)
        v |= (uint64_t)s[i] << (8 * i);
    return v;
}

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
        put_le(b, (uint32_t)p->tau_valid, 4);
        put_le(b, zoq__f32_bits(p->t.tau), 4);
        const float *bufs[N_TAGS] = {p->t.m, p->t.v, p->t.sigma};
        const int bits = zoq__sparse_window_bits(ctx) && p->enabled && p->t.bits;
        uint32_t nb = (p->t.lozo_n != NULL) + bits;
        for (int k = 0; k < N_TAGS; k++)
            nb += bufs[k] != NULL;
        put_le(b, nb, 4);
        for (int k = 0; k < N_TAGS; k++) {
            if (!bufs[k])
                continue;
            put_le(b, (uint32_t)k + 1, 4);
            for (int64_t j = 0; j < p->t.numel; j++)
                put_le(b, zoq__f32_bits(bufs[k][j]), 4);
        }
        if (p->t.lozo_n) {
            put_le(b, TAG_LOZO, 4);
            put_le(b, p->t.lozo_vstep, 8);
            put_le(b, (uint32_t)p->t.lozo_nq, 4);
            put_le(b, (uint32_t)p->lozo_rank, 4);
            int64_t count = p->t.numel / p->t.cols * p->lozo_rank * p->t.lozo_nq;
            for (int64_t j = 0; j < count; j++)
                put_le(b, zoq__f32_bits(p->t.lozo_n[j]), 4);
        }
        if (bits) {
            put_le(b, TAG_BITS, 4);
            zoq__buf_put(b, p->t.bits, ((size_t)p->t.numel + 7) / 8);
        }
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
        return ZOQ_E_INVALID;
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
    int rc = zoq__afile_open(&f, path, ctx->err, sizeof ctx->err);
    if (rc == ZOQ_OK) {
        zoq__afile_write(&f, b.p, b.n);
        rc = zoq__afile_commit(&f, ctx->err, sizeof ctx->err);
    }
    free(b.p);
    return rc;
}

/* Decoded option values, applied only once the whole file checked out. */
typedef struct opt_rec {
    uint32_t key, type;
    uint64_t bits;
} opt_rec;

/* LOZO-M factors of one parameter as the file holds them. */
typedef struct lozo_rec {
    float *n;                   /* NULL: none in the file */
    uint64_t vstep;
    int nq, rank;
} lozo_rec;

/* Everything a file holds, decoded and checked, before the context changes:
 * new buffers and accumulation store are allocated here, installed by
 * commit(), freed by discard(). */
typedef struct loaded {
    uint64_t step, updates;
    int64_t mask_epoch;
    int *tau_valid;             /* per parameter id */
    float *tau;
    uint32_t buffers_kind, accum_steps, n_accum, n_opts;
    zoq__accum *accum;
    opt_rec *opts;
    float **buf[N_TAGS];        /* [tag][parameter id]; NULL: not in the file */
    lozo_rec *lozo;             /* per parameter id */
    uint8_t **bits;             /* per parameter id: the window's mask; NULL: not in the file */
} loaded;

static void discard(loaded *ld, int32_t n_params)
{
    for (int k = 0; k < N_TAGS; k++) {
        for (int32_t i = 0; ld->buf[k] && i < n_params; i++)
            free(ld->buf[k][i]);
        free(ld->buf[k]);
    }
    for (int32_t i = 0; ld->lozo && i < n_params; i++)
        free(ld->lozo[i].n);
    free(ld->lozo);
    for (int32_t i = 0; ld->bits && i < n_params; i++)
        free(ld->bits[i]);
    free(ld->bits);
    free(ld->accum);
    free(ld->opts);
    free(ld->tau_valid);
    free(ld->tau);
}

/* Reads count f32 values into a new array (NULL on allocation failure). */
static float *read_buffer(rbuf *r, int64_t count)
{
    float *x = malloc((size_t)count * sizeof *x);
    for (int64_t j = 0; x && j < count; j++)
        x[j] = zoq__f32_from_bits(get_u32(r));
    return x;
}

/* The LOZO-M factors after their tag: V step, count of factors, rank, values. */
static int read_lozo(zoq_ctx *ctx, rbuf *r, const zoq__param *p, lozo_rec *rec,
                     const char *path)
{
    uint64_t vstep = get_le(r, 8);
    uint32_t nq = get_u32(r), rank = get_u32(r);
    if (r->bad || rec->n || p->t.cols <= 0 || nq < 1 || nq > 65536 || rank < 1 ||
        rank > ZOQ__LOZO_MAX_RANK ||
        (uint64_t)(r->n - r->at) / 4 / nq / rank < (uint64_t)(p->t.numel / p->t.cols))
        return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': bad, repeated or truncated "
                         "LOZO-M factors", p->name);
    if (!(rec->n = read_buffer(r, p->t.numel / p->t.cols * (int64_t)nq * (int64_t)rank)))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    rec->vstep = vstep;
    rec->nq = (int)nq;
    rec->rank = (int)rank;
    return ZOQ_OK;
}

/* The mask bits after their tag: (numel + 7) / 8 bytes. */
static int read_bits(zoq_ctx *ctx, rbuf *r, const zoq__param *p, uint8_t **bits,
                     const char *path)
{
    size_t n = ((size_t)p->t.numel + 7) / 8;
    const unsigned char *s = *bits ? NULL : take(r, n);
    if (!s)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': repeated or truncated sparse "
                         "mask", p->name);
    if (!(*bits = malloc(n)))
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    memcpy(*bits, s, n);
    return ZOQ_OK;
}

static int read_params(zoq_ctx *ctx, rbuf *r, loaded *ld, const char *path)
{
    uint32_t n = get_u32(r);
    if (!r->bad && n != (uint32_t)ctx->n_params)
        return zoq__fail(ctx, ZOQ_E_MISMATCH, "'%s' holds %u parameters, the context has %d",
                         path, n, ctx->n_params);
    for (int k = 0; k < N_TAGS; k++)
        if (!(ld->buf[k] = calloc((size_t)ctx->n_params + 1, sizeof *ld->buf[k])))
            return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    char *seen = calloc((size_t)ctx->n_params + 1, 1);
    ld->tau_valid = calloc((size_t)ctx->n_params + 1, sizeof *ld->tau_valid);
    ld->tau = calloc((size_t)ctx->n_params + 1, sizeof *ld->tau);
    ld->lozo = calloc((size_t)ctx->n_params + 1, sizeof *ld->lozo);
    ld->bits = calloc((size_t)ctx->n_params + 1, sizeof *ld->bits);
    if (!seen || !ld->tau_valid || !ld->tau || !ld->lozo || !ld->bits) {
        free(seen);
        return zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
    }
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
        if (seen[id] || n_buffers > N_TAGS + 2 || n_buffers > (r->n - r->at) / 4) {
            rc = zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': listed twice, or %u buffers "
                           "(truncated?)", p->name, n_buffers);
            break;
        }
        seen[id] = 1;
        if (tau_valid > 1 || !(tau >= 0.0f)) {
            rc = zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': bad sparse threshold", p->name);
            break;
        }
        ld->tau_valid[id] = (int)tau_valid;
        ld->tau[id] = tau;
        for (uint32_t k = 0; k < n_buffers && rc == ZOQ_OK; k++) {
            uint32_t tag = get_u32(r);
            if (tag == TAG_LOZO)
                rc = read_lozo(ctx, r, p, &ld->lozo[id], path);
            else if (tag == TAG_BITS)
                rc = read_bits(ctx, r, p, &ld->bits[id], path);
            else if (tag < 1 || tag > N_TAGS || ld->buf[tag - 1][id] ||
                (uint64_t)(r->n - r->at) / 4 < numel)
                rc = zoq__fail(ctx, ZOQ_E_FORMAT, "parameter '%s': bad or repeated buffer tag "
                               "%u, or truncated", p->name, tag);
            else if (!(ld->buf[tag - 1][id] = read_buffer(r, p->t.numel)))
                rc = zoq__fail(ctx, ZOQ_E_NOMEM, "out of memory loading '%s'", path);
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

/* Installs a checked file into ctx; cannot fail. Takes ld's allocations.
 * The window's stored mask counts only if every enabled tensor has one. */
static void commit(zoq_ctx *ctx, loaded *ld)
{
    int window_bits = ld->accum_steps > 0;
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__param *p = &ctx->params[i];
        if (ld->bits[i]) {
            free(p->t.bits);
            p->t.bits = ld->bits[i];
            ld->bits[i] = NULL;
        } else if (p->enabled) {
            window_bits = 0;
        }
    }
    ctx->plan.window_bits = window_bits;
    ctx->plan.moved = 0;
    for (int32_t i = 0; i < ctx->n_params; i++) {
        zoq__tensor *t = &ctx->params[i].t;
        t->tau = ld->tau[i];
        ctx->params[i].tau_valid = ld->tau_valid[i];
        float **dst[N_TAGS] = {&t->m, &t->v, &t->sigma};
        for (int k = 0; k < N_TAGS; k++) {
            free(*dst[k]);
            *dst[k] = ld->buf[k][i];
            ld->buf[k][i] = NULL;
        }
        zoq__lozom_free(&ctx->params[i]); /* the spare is regrown by the next step */
        t->lozo_n = ld->lozo[i].n;
        t->lozo_nq = ld->lozo[i].nq;
        t->lozo_vstep = ld->lozo[i].vstep;
        ctx->params[i].lozo_rank = ld->lozo[i].rank;
        ld->lozo[i].n = NULL;
    }
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
}

int zoq__state_decode(zoq_ctx *ctx, const unsigned char *data, size_t n, const char *path)
{
    if (n < HEADER_BYTES + TRAILER_BYTES || memcmp(data, STATE_MAGIC, 8) != 0)
        return zoq__fail(ctx, ZOQ_E_FORMAT, "'%s' is not a zoq state file", path);
    rbuf r = {data, n, 8, 0};
    uint32_t version = get_u32(&r), flags = get_u32(&r);
    uint64_t payload = get_le(&r, 8);
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
    discard(&ld, ctx->n_params);
    return rc;
}

int zoq_state_load(zoq_ctx *ctx, const char *path)
{
    if (!ctx)
        return ZOQ_E_INVALID;
    if (!path)
        return zoq__fail(ctx, ZOQ_E_INVALID, "zoq_state_load: path is NULL");
    int rc = zoq__check_idle(ctx, "loading a state");
    if (rc == ZOQ_OK)
        rc = host_only(ctx, "zoq_state_load");
    if (rc != ZOQ_OK)
        return rc;
    unsigned char *data = NULL;
    size_t n = 0;
    rc = zoq__file_read_all(path, MAX_FILE_BYTES, &data, &n, ctx->err, sizeof ctx->err);
    if (rc != ZOQ_OK)
        return rc;
    rc = zoq__state_decode(ctx, data, n, path);
    free(data);
    return rc;
}
