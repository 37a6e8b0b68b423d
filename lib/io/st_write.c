/* st_write.c - safetensors writer: collects borrowed tensors and metadata,
 * then writes the file atomically (io/file.h). Tensors are ordered as the
 * safetensors package orders them (dtype F32, I32, BF16, F16, I8, then name)
 * so that each starts aligned to its element size once the header is padded
 * with spaces to a multiple of 8 bytes. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "core/error.h"

#define CHUNK_ELEMS 16384u
#define ERR_CAP 256
/* A failure: the message goes to zoq_last_error(NULL), and the public entry
 * points copy it as the writer's last error (zoq_st_writer_last_error). */
#define WFAIL(w, ...) zoq__fail(NULL, __VA_ARGS__)

typedef struct wt_tensor {
    char *name;
    int32_t ndim, data_dtype, file_dtype;
    int64_t shape[ZOQ_ST_MAX_DIMS];
    uint64_t numel;
    const void *data;
} wt_tensor;

struct zoq_st_writer {
    wt_tensor *t;
    int64_t n, cap;
    char **meta;                /* key, value pairs */
    int64_t n_meta, cap_meta;
    char err[ERR_CAP];
};

int zoq_st_writer_create(zoq_st_writer **out)
{
    if (!out)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_writer_create: out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? ZOQ_OK : zoq__fail(NULL, ZOQ_E_NOMEM, "zoq_st_writer_create: out of memory");
}

void zoq_st_writer_free(zoq_st_writer *w)
{
    if (!w)
        return;
    for (int64_t i = 0; i < w->n; i++)
        free(w->t[i].name);
    for (int64_t i = 0; i < 2 * w->n_meta; i++)
        free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

const char *zoq_st_writer_last_error(const zoq_st_writer *w)
{
    return w ? w->err : "no writer";
}

/* Grows *p (elements of sz) to hold one more than n. */
static int grow(void **p, int64_t *cap, int64_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    int64_t c = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, (size_t)c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int valid_text(const char *s)
{
    return zoq__utf8_valid((const unsigned char *)s, strlen(s));
}

static int writer_add(zoq_st_writer *w, const char *name, int32_t ndim, const int64_t *shape,
                      const void *data, int data_dtype, int file_dtype)
{
    if (!w)
        return zoq__fail(NULL, ZOQ_E_INVALID, "safetensors writer is NULL");
    if (!name || !name[0] || !valid_text(name) || strcmp(name, "__metadata__") == 0)
        return WFAIL(w, ZOQ_E_INVALID, "tensor name must be non-empty UTF-8, not __metadata__");
    if (ndim < 0 || ndim > ZOQ_ST_MAX_DIMS || (ndim && !shape))
        return WFAIL(w, ZOQ_E_INVALID, "tensor '%.64s': ndim %d outside 0..%d", name, ndim,
                     ZOQ_ST_MAX_DIMS);
    if (data_dtype != file_dtype && !(zoq__st_convertible(data_dtype, file_dtype) &&
                                      zoq__st_convertible(file_dtype, data_dtype)))
        return WFAIL(w, ZOQ_E_INVALID, "tensor '%.64s': cannot store dtype %d as %d", name,
                     data_dtype, file_dtype);
    if (!zoq__st_dtype_size(file_dtype))
        return WFAIL(w, ZOQ_E_INVALID, "tensor '%.64s': unknown dtype %d", name, file_dtype);
    uint64_t numel = 1;
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] && numel > (uint64_t)INT64_MAX / 8 / (uint64_t)shape[d]))
            return WFAIL(w, ZOQ_E_INVALID, "tensor '%.64s': bad or too large shape", name);
        numel *= (uint64_t)shape[d];
    }
    if (numel && !data)
        return WFAIL(w, ZOQ_E_INVALID, "tensor '%.64s': data is NULL", name);
    for (int64_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return WFAIL(w, ZOQ_E_EXISTS, "tensor '%.64s' was already added", name);
    char *copy = strdup(name);
    if (!copy || grow((void **)&w->t, &w->cap, w->n, sizeof *w->t)) {
        free(copy);
        return WFAIL(w, ZOQ_E_NOMEM, "out of memory");
    }
    wt_tensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    t->name = copy;
    t->ndim = ndim;
    t->data_dtype = data_dtype;
    t->file_dtype = file_dtype;
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    t->data = data;
    return ZOQ_OK;
}

static int writer_set_metadata(zoq_st_writer *w, const char *key, const char *value)
{
    if (!w)
        return zoq__fail(NULL, ZOQ_E_INVALID, "safetensors writer is NULL");
    if (!key || !value || !valid_text(key) || !valid_text(value))
        return WFAIL(w, ZOQ_E_INVALID, "metadata key and value must be UTF-8 strings");
    char *v = strdup(value);
    if (!v)
        return WFAIL(w, ZOQ_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[2 * i], key) == 0) {
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return ZOQ_OK;
        }
    char *k = strdup(key);
    if (!k || grow((void **)&w->meta, &w->cap_meta, 2 * w->n_meta + 1, sizeof *w->meta)) {
        free(k);
        free(v);
        return WFAIL(w, ZOQ_E_NOMEM, "out of memory");
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return ZOQ_OK;
}

/* The safetensors package's dtype order, descending. */
static int dtype_rank(int dtype)
{
    static const int rank[ZOQ__ST_N_DTYPES] = {4, 1, 2, 0, 3}; /* F32 F16 BF16 I8 I32 */
    return rank[dtype];
}

static int cmp_file_order(const void *a, const void *b)
{
    const wt_tensor *x = *(const wt_tensor *const *)a, *y = *(const wt_tensor *const *)b;
    int rx = dtype_rank(x->file_dtype), ry = dtype_rank(y->file_dtype);
    if (rx != ry)
        return ry - rx;
    return strcmp(x->name, y->name);
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The header JSON, padded with spaces to a multiple of 8 bytes. */
static void encode_header(zoq_st_writer *w, wt_tensor **order, zoq__buf *b)
{
    zoq__buf_puts(b, "{");
    if (w->n_meta) {
        qsort(w->meta, (size_t)w->n_meta, 2 * sizeof *w->meta, cmp_pair);
        zoq__buf_puts(b, "\"__metadata__\":{");
        for (int64_t i = 0; i < w->n_meta; i++) {
            zoq__buf_puts(b, i ? "," : "");
            zoq__buf_json_string(b, w->meta[2 * i]);
            zoq__buf_puts(b, ":");
            zoq__buf_json_string(b, w->meta[2 * i + 1]);
        }
        zoq__buf_puts(b, w->n ? "}," : "}");
    }
    uint64_t at = 0;
    for (int64_t i = 0; i < w->n; i++) {
        const wt_tensor *t = order[i];
        uint64_t bytes = t->numel * zoq__st_dtype_size(t->file_dtype);
        zoq__buf_puts(b, i ? "," : "");
        zoq__buf_json_string(b, t->name);
        zoq__buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", zoq__st_dtype_name(t->file_dtype));
        for (int32_t d = 0; d < t->ndim; d++)
            zoq__buf_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        zoq__buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                        (unsigned long long)(at + bytes));
        at += bytes;
    }
    zoq__buf_puts(b, "}");
    while (b->n % 8)
        zoq__buf_puts(b, " ");
}

/* Streams the tensor's elements as file bytes, CHUNK_ELEMS at a time. */
static void write_tensor(zoq__afile *f, const wt_tensor *t, unsigned char *chunk)
{
    size_t ds = zoq__st_dtype_size(t->data_dtype), fs = zoq__st_dtype_size(t->file_dtype);
    for (uint64_t i = 0; i < t->numel; i += CHUNK_ELEMS) {
        size_t k = t->numel - i < CHUNK_ELEMS ? (size_t)(t->numel - i) : CHUNK_ELEMS;
        zoq__st_encode((const unsigned char *)t->data + i * ds, t->data_dtype, chunk,
                       t->file_dtype, k);
        zoq__afile_write(f, chunk, k * fs);
    }
}

static int writer_write(zoq_st_writer *w, const char *path)
{
    if (!w)
        return zoq__fail(NULL, ZOQ_E_INVALID, "safetensors writer is NULL");
    if (!path || !path[0])
        return WFAIL(w, ZOQ_E_INVALID, "zoq_st_writer_write: empty path");
    wt_tensor **order = malloc(((size_t)w->n + 1) * sizeof *order);
    unsigned char *chunk = malloc(CHUNK_ELEMS * 4);
    zoq__buf hdr = {0};
    int rc = ZOQ_OK;
    if (order && chunk) {
        for (int64_t i = 0; i < w->n; i++)
            order[i] = &w->t[i];
        qsort(order, (size_t)w->n, sizeof *order, cmp_file_order);
        encode_header(w, order, &hdr);
    }
    if (!order || !chunk || hdr.oom) {
        rc = WFAIL(w, ZOQ_E_NOMEM, "out of memory");
    } else if (hdr.n > ZOQ_ST_MAX_HEADER_BYTES) {
        rc = WFAIL(w, ZOQ_E_INVALID, "header of %zu bytes exceeds the %u-byte limit readers "
                   "accept", hdr.n, ZOQ_ST_MAX_HEADER_BYTES);
    } else {
        zoq__afile f;
        rc = zoq__afile_open(&f, path);
        if (rc == ZOQ_OK) {
            unsigned char len8[8];
            for (int i = 0; i < 8; i++)
                len8[i] = (unsigned char)((uint64_t)hdr.n >> (8 * i));
            zoq__afile_write(&f, len8, 8);
            zoq__afile_write(&f, hdr.p, hdr.n);
            for (int64_t i = 0; i < w->n; i++)
                write_tensor(&f, order[i], chunk);
            rc = zoq__afile_commit(&f);
        }
    }
    free(hdr.p);
    free(chunk);
    free(order);
    return rc;
}

/* The writer's entry points: a failure's message is also the writer's. */
static int keep(zoq_st_writer *w, int rc)
{
    return w ? zoq__fail_copy(rc, w->err, sizeof w->err) : rc;
}

int zoq_st_writer_add(zoq_st_writer *w, const char *name, int32_t ndim, const int64_t *shape,
                      const void *data, int data_dtype, int file_dtype)
{
    return keep(w, writer_add(w, name, ndim, shape, data, data_dtype, file_dtype));
}

int zoq_st_writer_set_metadata(zoq_st_writer *w, const char *key, const char *value)
{
    return keep(w, writer_set_metadata(w, key, value));
}

int zoq_st_writer_write(zoq_st_writer *w, const char *path)
{
    return keep(w, writer_write(w, path));
}
