/* st_read.c - safetensors reader for untrusted files (docs/formats.md).
 *
 * The file is 8 bytes N (u64 little-endian), N bytes of JSON header, then
 * the data buffer. Open reads and checks the whole header before anything
 * is handed out: N <= ZOQ_ST_MAX_HEADER_BYTES and within the file, strict
 * JSON starting with '{', every tensor {dtype, shape, data_offsets} with
 * nothing else, known dtype, dims and byte counts without overflow,
 * data_offsets[1] - data_offsets[0] = numel * element size, and the
 * ranges, sorted, tile the data buffer exactly from 0 to its end (no
 * overlap, no hole, no trailing bytes); names non-empty, unique and not
 * "__metadata__" twice; metadata an object of strings. Tensor data is read
 * on demand with pread (files) or from the borrowed buffer (memory). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/abi.h"
#include "io/file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "zoq.h"

#define CHUNK_BYTES 65536u      /* conversion buffer of file reads */

typedef struct st_tensor {
    const char *name;           /* in doc.strings */
    int32_t dtype, ndim;
    int64_t shape[ZOQ_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;        /* byte range in the data buffer */
} st_tensor;

struct zoq_st {
    int fd;                     /* -1 for a memory reader */
    const unsigned char *mem;   /* memory reader: the whole file */
    uint64_t data_start;        /* 8 + N */
    int64_t n;
    st_tensor *t;               /* sorted by name */
    int64_t n_meta;
    const char **meta;          /* key, value pairs sorted by key */
    zoq__json doc;              /* owns every string */
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_range(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One tensor entry: {"dtype": str, "shape": [uint...], "data_offsets": [b, e]}. */
static int parse_tensor(const zoq__json *doc, const zoq__json_node *v, st_tensor *t)
{
    const char *nm = t->name;
    if (v->kind != ZOQ__JSON_OBJECT)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': entry is not an object", nm);
    const zoq__json_node *dt = zoq__json_get(doc, v, "dtype");
    const zoq__json_node *sh = zoq__json_get(doc, v, "shape");
    const zoq__json_node *off = zoq__json_get(doc, v, "data_offsets");
    if (!dt || !sh || !off || v->count != 3)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': needs exactly dtype, shape and "
                         "data_offsets", nm);
    if (dt->kind != ZOQ__JSON_STRING)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': dtype is not a string", nm);
    t->dtype = zoq__st_dtype_parse(dt->str, dt->len);
    if (t->dtype == ZOQ__ST_UNSUPPORTED)
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "tensor '%.64s': dtype %.16s is not read "
                         "by zoq (F32, F16, BF16, I8, I32 are)", nm, dt->str);
    if (t->dtype < 0)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': unknown dtype '%.16s'", nm,
                         dt->str);
    if (sh->kind != ZOQ__JSON_ARRAY)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': shape is not an array", nm);
    if (sh->count > ZOQ_ST_MAX_DIMS)
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "tensor '%.64s': %d dimensions, zoq reads "
                         "at most %d", nm, sh->count, ZOQ_ST_MAX_DIMS);
    t->ndim = sh->count;
    uint64_t numel = 1;
    int32_t d = 0;
    for (const zoq__json_node *x = zoq__json_at(doc, sh->first); x;
         x = zoq__json_at(doc, x->next)) {
        uint64_t dim;
        if (!zoq__json_uint(x, INT64_MAX, &dim))
            return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': shape entry %d is not an "
                             "integer in [0, 2^63)", nm, d);
        if (dim && numel > (uint64_t)INT64_MAX / dim)
            return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': shape overflows", nm);
        numel *= dim;
        t->shape[d++] = (int64_t)dim;
    }
    uint64_t size = zoq__st_dtype_size(t->dtype);
    if (numel > UINT64_MAX / size)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': byte size overflows", nm);
    t->numel = (int64_t)numel;
    const zoq__json_node *b = zoq__json_at(doc, off->kind == ZOQ__JSON_ARRAY ? off->first : -1);
    const zoq__json_node *e = b ? zoq__json_at(doc, b->next) : NULL;
    if (off->kind != ZOQ__JSON_ARRAY || off->count != 2 || !zoq__json_uint(b, UINT64_MAX, &t->begin)
        || !zoq__json_uint(e, UINT64_MAX, &t->end))
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': data_offsets is not two "
                         "unsigned integers", nm);
    if (t->end < t->begin || t->end - t->begin != numel * size)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s': data_offsets [%llu, %llu] do "
                         "not hold %llu elements of %s", nm, (unsigned long long)t->begin,
                         (unsigned long long)t->end, (unsigned long long)numel,
                         zoq__st_dtype_name(t->dtype));
    return ZOQ_OK;
}

static int parse_metadata(zoq_st *st, const zoq__json_node *v)
{
    if (v->kind != ZOQ__JSON_OBJECT)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "__metadata__ is not an object");
    if (!(st->meta = malloc(((size_t)v->count + 1) * 2 * sizeof *st->meta)))
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    for (const zoq__json_node *k = zoq__json_at(&st->doc, v->first); k;) {
        const zoq__json_node *x = zoq__json_at(&st->doc, k->next);
        if (x->kind != ZOQ__JSON_STRING)
            return zoq__fail(NULL, ZOQ_E_FORMAT, "__metadata__ '%.64s' is not a string",
                             k->str);
        st->meta[2 * st->n_meta] = k->str;
        st->meta[2 * st->n_meta + 1] = x->str;
        st->n_meta++;
        k = zoq__json_at(&st->doc, x->next);
    }
    qsort(st->meta, (size_t)st->n_meta, 2 * sizeof *st->meta, cmp_meta);
    for (int64_t i = 1; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i - 2], st->meta[2 * i]) == 0)
            return zoq__fail(NULL, ZOQ_E_FORMAT, "__metadata__ key '%.64s' appears twice",
                             st->meta[2 * i]);
    return ZOQ_OK;
}

/* Sorted by range, the tensors must tile [0, data_bytes) exactly. */
static int check_layout(zoq_st *st, uint64_t data_bytes)
{
    st_tensor **by = malloc(((size_t)st->n + 1) * sizeof *by);
    if (!by)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < st->n; i++)
        by[i] = &st->t[i];
    qsort(by, (size_t)st->n, sizeof *by, cmp_range);
    uint64_t at = 0;
    int rc = ZOQ_OK;
    for (int64_t i = 0; i < st->n && rc == ZOQ_OK; i++) {
        if (by[i]->begin != at)
            rc = zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s' starts at %llu, expected %llu "
                           "(%s)", by[i]->name, (unsigned long long)by[i]->begin,
                           (unsigned long long)at, by[i]->begin < at ? "overlap" : "hole");
        at = by[i]->end;
    }
    free(by);
    if (rc == ZOQ_OK && at != data_bytes)
        rc = zoq__fail(NULL, ZOQ_E_FORMAT, "tensors cover %llu bytes, the data buffer has %llu",
                       (unsigned long long)at, (unsigned long long)data_bytes);
    return rc;
}

/* Checks header hdr[0 .. n) of a file whose data buffer has data_bytes. */
static int parse_header(zoq_st *st, const unsigned char *hdr, size_t n, uint64_t data_bytes)
{
    if (n == 0 || hdr[0] != '{')
        return zoq__fail(NULL, ZOQ_E_FORMAT, "header does not start with '{'");
    int rc = zoq__json_parse((const char *)hdr, n, &st->doc);
    if (rc != ZOQ_OK)
        return zoq__fail_wrap(NULL, rc, "header");
    const zoq__json_node *top = &st->doc.nodes[0];
    if (!(st->t = calloc((size_t)top->count + 1, sizeof *st->t)))
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    int seen_meta = 0;
    for (const zoq__json_node *k = zoq__json_at(&st->doc, top->first); k && rc == ZOQ_OK;) {
        const zoq__json_node *v = zoq__json_at(&st->doc, k->next);
        if (strcmp(k->str, "__metadata__") == 0) {
            rc = seen_meta++ ? zoq__fail(NULL, ZOQ_E_FORMAT, "__metadata__ appears twice")
                             : parse_metadata(st, v);
        } else if (k->len == 0) {
            rc = zoq__fail(NULL, ZOQ_E_FORMAT, "a tensor has an empty name");
        } else {
            st->t[st->n].name = k->str;
            rc = parse_tensor(&st->doc, v, &st->t[st->n]);
            st->n++;
        }
        k = zoq__json_at(&st->doc, v->next);
    }
    if (rc != ZOQ_OK)
        return rc;
    qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_name);
    for (int64_t i = 1; i < st->n; i++)
        if (strcmp(st->t[i - 1].name, st->t[i].name) == 0)
            return zoq__fail(NULL, ZOQ_E_FORMAT, "tensor '%.64s' appears twice", st->t[i].name);
    return check_layout(st, data_bytes);
}

static zoq_st *new_reader(void)
{
    zoq_st *st = calloc(1, sizeof *st);
    if (st)
        st->fd = -1;
    return st;
}

/* Reads the 8-byte length N of a file of file_bytes; checks it. */
static int header_length(const unsigned char *p8, uint64_t file_bytes, uint64_t *n)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p8[i] << (8 * i);
    if (v > ZOQ_ST_MAX_HEADER_BYTES)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "header length %llu exceeds the limit of %u bytes",
                         (unsigned long long)v, ZOQ_ST_MAX_HEADER_BYTES);
    if (v > file_bytes - 8)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "header length %llu runs past the end of the "
                         "%llu-byte file (truncated?)", (unsigned long long)v,
                         (unsigned long long)file_bytes);
    *n = v;
    return ZOQ_OK;
}

static int open_memory(const void *data, size_t n, zoq_st **out)
{
    if (!out || (!data && n))
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_open_memory: NULL argument");
    *out = NULL;
    if (n < 8)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "%zu bytes: too short for a safetensors file",
                         n);
    uint64_t hlen;
    int rc = header_length(data, n, &hlen);
    if (rc != ZOQ_OK)
        return rc;
    zoq_st *st = new_reader();
    if (!st)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    st->mem = data;
    st->data_start = 8 + hlen;
    rc = parse_header(st, st->mem + 8, (size_t)hlen, n - st->data_start);
    if (rc != ZOQ_OK) {
        zoq_st_free(st);
        return rc;
    }
    *out = st;
    return ZOQ_OK;
}

int zoq_st_open_memory(const void *data, size_t n, zoq_st **out, char *err, size_t err_cap)
{
    return zoq__fail_copy(open_memory(data, n, out), err, err_cap);
}

/* pread of exactly n bytes at off. */
static int read_at(int fd, void *dst, size_t n, uint64_t off)
{
    unsigned char *p = dst;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int open_file(const char *path, zoq_st **out)
{
    if (!out || !path)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_open: NULL argument");
    *out = NULL;
    zoq_st *st = new_reader();
    if (!st)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    unsigned char len8[8], *hdr = NULL;
    uint64_t hlen = 0, size = 0;
    int rc = zoq__open_regular(path, &st->fd, &size);
    if (rc == ZOQ_OK && size < 8)
        rc = zoq__fail(NULL, ZOQ_E_FORMAT, "'%s': %llu bytes, too short for a safetensors "
                       "file", path, (unsigned long long)size);
    else if (rc == ZOQ_OK && read_at(st->fd, len8, 8, 0) != 0)
        rc = zoq__fail(NULL, ZOQ_E_IO, "cannot read '%s'", path);
    else if (rc == ZOQ_OK)
        rc = header_length(len8, size, &hlen);
    if (rc == ZOQ_OK && !(hdr = malloc(hlen ? hlen : 1)))
        rc = zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    if (rc == ZOQ_OK && read_at(st->fd, hdr, hlen, 8) != 0)
        rc = zoq__fail(NULL, ZOQ_E_IO, "cannot read the header of '%s'", path);
    if (rc == ZOQ_OK) {
        st->data_start = 8 + hlen;
        rc = parse_header(st, hdr, hlen, size - st->data_start);
    }
    free(hdr);
    if (rc != ZOQ_OK) {
        zoq_st_free(st);
        return rc;
    }
    *out = st;
    return ZOQ_OK;
}

int zoq_st_open(const char *path, zoq_st **out, char *err, size_t err_cap)
{
    return zoq__fail_copy(open_file(path, out), err, err_cap);
}

void zoq_st_free(zoq_st *st)
{
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd);
    zoq__json_free(&st->doc);
    free(st->t);
    free(st->meta);
    free(st);
}

int64_t zoq_st_count(const zoq_st *st)
{
    return st ? st->n : 0;
}

int zoq_st_info(const zoq_st *st, int64_t index, zoq_st_info_t *out)
{
    const int rc = zoq__sized_out_ok(NULL, "zoq_st_info: out", out, sizeof *out);
    if (rc != ZOQ_OK)
        return rc;
    if (!st || index < 0 || index >= st->n)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_info: no reader, or index %lld outside "
                         "0..%lld", (long long)index, (long long)(st ? st->n - 1 : -1));
    const st_tensor *t = &st->t[index];
    zoq_st_info_t info = {.size = sizeof info, .name = t->name, .dtype = t->dtype,
                          .ndim = t->ndim, .numel = t->numel, .nbytes = t->end - t->begin,
                          .offset = t->begin};
    memcpy(info.shape, t->shape, sizeof info.shape);
    zoq__sized_out(out, &info, sizeof info);
    return ZOQ_OK;
}

int zoq_st_find(const zoq_st *st, const char *name, int64_t *index)
{
    if (!st || !name || !index)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_find: NULL argument");
    int64_t lo = 0, hi = st->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (c == 0) {
            *index = mid;
            return ZOQ_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return zoq__fail(NULL, ZOQ_E_NOT_FOUND, "no tensor '%.64s' in the file", name);
}

/* ZOQ_E_IO with a message naming the tensor a read of failed. */
static int read_failed(const st_tensor *t)
{
    return zoq__fail(NULL, ZOQ_E_IO, "zoq_st_read: cannot read tensor '%.64s' (file changed or "
                     "truncated?)", t->name);
}

int zoq_st_read(const zoq_st *st, int64_t index, int dtype, void *dst, size_t dst_bytes)
{
    if (!st || !dst || index < 0 || index >= st->n)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_read: NULL argument or index %lld outside "
                         "0..%lld", (long long)index, (long long)(st ? st->n - 1 : -1));
    const st_tensor *t = &st->t[index];
    if (!zoq__st_convertible(t->dtype, dtype))
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_read: tensor '%.64s' of dtype %d cannot be "
                         "read as dtype %d", t->name, (int)t->dtype, dtype);
    if ((uint64_t)t->numel > SIZE_MAX / zoq__st_dtype_size(dtype) ||
        dst_bytes != (size_t)t->numel * zoq__st_dtype_size(dtype))
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_read: tensor '%.64s' needs %llu bytes as "
                         "dtype %d, dst_bytes is %zu", t->name,
                         (unsigned long long)t->numel * zoq__st_dtype_size(dtype), dtype,
                         dst_bytes);
    size_t n = (size_t)t->numel, es = zoq__st_dtype_size(t->dtype), ds = zoq__st_dtype_size(dtype);
    uint64_t at = st->data_start + t->begin;
    if (st->mem) {
        zoq__st_decode(st->mem + at, t->dtype, dst, dtype, n);
        return ZOQ_OK;
    }
    if (t->dtype == dtype && ds == 1)
        return read_at(st->fd, dst, n, at) == 0 ? ZOQ_OK : read_failed(t);
    unsigned char *buf = malloc(CHUNK_BYTES);
    if (!buf)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "zoq_st_read: out of memory for the conversion "
                         "buffer");
    int rc = ZOQ_OK;
    for (size_t i = 0, step = CHUNK_BYTES / es; i < n && rc == ZOQ_OK; i += step) {
        size_t k = n - i < step ? n - i : step;
        if (read_at(st->fd, buf, k * es, at + (uint64_t)(i * es)) != 0)
            rc = read_failed(t);
        else
            zoq__st_decode(buf, t->dtype, (unsigned char *)dst + i * ds, dtype, k);
    }
    free(buf);
    return rc;
}

int64_t zoq_st_metadata_count(const zoq_st *st)
{
    return st ? st->n_meta : 0;
}

int zoq_st_metadata_at(const zoq_st *st, int64_t i, const char **key, const char **value)
{
    if (!st || i < 0 || i >= st->n_meta)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_metadata_at: no reader, or index %lld "
                         "outside 0..%lld", (long long)i, (long long)(st ? st->n_meta - 1 : -1));
    if (key)
        *key = st->meta[2 * i];
    if (value)
        *value = st->meta[2 * i + 1];
    return ZOQ_OK;
}

int zoq_st_metadata_get(const zoq_st *st, const char *key, const char **value)
{
    if (!st || !key || !value)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_st_metadata_get: NULL argument");
    for (int64_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0) {
            *value = st->meta[2 * i + 1];
            return ZOQ_OK;
        }
    return zoq__fail(NULL, ZOQ_E_NOT_FOUND, "no metadata key '%.64s' in the file", key);
}
