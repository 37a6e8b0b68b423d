/* test_io.c - safetensors files and PEFT adapter folders: round trips of
 * every dtype, the file layout the safetensors package writes, refusal of
 * each class of malformed file with its status, the strict JSON parser, and
 * adapter folders written atomically and read back. The cross-check against
 * the safetensors package itself is tests/io_crosscheck.py. */
#define _DEFAULT_SOURCE /* flock */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json.h"
#include "zoq.h"

/* Failures on demand. The Makefile links test_io with -Wl,--wrap= for these
 * functions, so the library's calls to them come here: the allocation with
 * index fail_alloc (counted from arming, malloc, calloc, realloc, strdup and
 * strndup together) fails, opendir fails with opendir_errno when that is
 * set, and fsync counts its calls (and fails on folders with fsync_dir_errno). */
static long fail_alloc = -1, allocs;
static int opendir_errno, fsync_dir_errno, fsyncs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
DIR *__real_opendir(const char *name);
int __real_fsync(int fd);

static void arm_alloc(long k)
{
    allocs = 0;
    fail_alloc = k;
}

static int alloc_fails(void)
{
    if (fail_alloc < 0 || allocs++ != fail_alloc)
        return 0;
    errno = ENOMEM;
    return 1;
}

void *__wrap_malloc(size_t n)
{
    return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return alloc_fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return alloc_fails() ? NULL : __real_strndup(s, n);
}

DIR *__wrap_opendir(const char *name)
{
    if (!opendir_errno)
        return __real_opendir(name);
    errno = opendir_errno;
    return NULL;
}

int __wrap_fsync(int fd)
{
    struct stat sb;
    fsyncs++;
    if (fsync_dir_errno && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        errno = fsync_dir_errno;
        return -1;
    }
    return __real_fsync(fd);
}

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/zoq-io-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

/* Removes dir and up to two levels below it (adapter folders). */
static void remove_tree(const char *d)
{
    DIR *h = opendir(d);
    struct dirent *e;
    char p[512];
    while (h && (e = readdir(h))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        if (unlink(p) != 0)
            remove_tree(p);
    }
    if (h)
        closedir(h);
    rmdir(d);
}

static void remove_dir(void)
{
    remove_tree(dir);
}

static int entries(const char *d)
{
    DIR *h = opendir(d);
    int n = 0;
    for (struct dirent *e; h && (e = readdir(h));)
        n += e->d_name[0] != '.';
    if (h)
        closedir(h);
    return n;
}

static char *path_in(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* A file: 8-byte length of header, header, data. */
typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

static blob make_blob(const char *header, const void *data, size_t n_data)
{
    size_t h = strlen(header);
    blob b = {malloc(8 + h + n_data + 1), 8 + h + n_data};
    cr_assert_not_null(b.p);
    for (int i = 0; i < 8; i++)
        b.p[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b.p + 8, header, h);
    if (n_data)
        memcpy(b.p + 8 + h, data, n_data);
    return b;
}

/* Opens the blob from memory and from a file; both must agree on status. */
static int open_blob(blob b, char *err, size_t cap)
{
    zoq_st *st = NULL, *sf = NULL;
    int rm = zoq_st_open_memory(b.p, b.n, &st, err, cap);
    FILE *f = fopen(path_in("blob.safetensors"), "wb");
    cr_assert_not_null(f);
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    char err2[256];
    int rf = zoq_st_open(path_in("blob.safetensors"), &sf, err2, sizeof err2);
    cr_assert_eq(rm, rf, "memory %d file %d (%s)", rm, rf, err2);
    cr_assert_eq(rm == ZOQ_OK, st != NULL);
    zoq_st_free(st);
    zoq_st_free(sf);
    free(b.p);
    return rm;
}

static void expect_refused(const char *header, const void *data, size_t n, int status,
                           const char *words)
{
    char err[256] = "";
    int rc = open_blob(make_blob(header, data, n), err, sizeof err);
    cr_assert_eq(rc, status, "header %s: got %d (%s), want %d", header, rc, err, status);
    cr_assert(strstr(err, words) != NULL, "message '%s' lacks '%s'", err, words);
}

TestSuite(io, .init = make_dir, .fini = remove_dir);

static const float F32V[6] = {1.5f, -2.0f, 0.25f, 1e-3f, 3e38f, -0.0f};
static const uint16_t F16V[4] = {0x3C00, 0xC000, 0x7BFF, 0x0001}; /* 1, -2, 65504, 2^-24 */
static const float F16F[4] = {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f};
static const uint16_t BF16V[3] = {0x3F80, 0xC0A0, 0x3DCD}; /* 1, -5, 0.10009765625 */
static const float BF16F[3] = {1.0f, -5.0f, 0.10009765625f};
static const int8_t I8V[4] = {-128, -1, 0, 127};
static const int32_t I32V[2] = {-2147483647 - 1, 16777216};

static zoq_st_writer *every_dtype_writer(void)
{
    zoq_st_writer *w;
    cr_assert_eq(zoq_st_writer_create(&w), ZOQ_OK);
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s13[2] = {1, 3}, s22[2] = {2, 2}, s2[1] = {2};
    int64_t s04[2] = {0, 4};
    cr_assert_eq(zoq_st_writer_add(w, "i8", 2, s22, I8V, ZOQ_ST_I8, ZOQ_ST_I8), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "f16", 1, s4, F16V, ZOQ_ST_F16, ZOQ_ST_F16), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "bf16", 2, s13, BF16V, ZOQ_ST_BF16, ZOQ_ST_BF16), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "f32", 2, s23, F32V, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "i32", 1, s2, I32V, ZOQ_ST_I32, ZOQ_ST_I32), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "scalar", 0, NULL, &F32V[0], ZOQ_ST_F32, ZOQ_ST_F32),
                 ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "empty", 2, s04, NULL, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_set_metadata(w, "format", "pt"), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_set_metadata(w, "note", "tab\there \"quoted\" é"), ZOQ_OK);
    return w;
}

static void check_tensor(zoq_st *st, const char *name, int dtype, int ndim, const int64_t *shape,
                         const void *raw, size_t nbytes, const float *f32)
{
    int64_t i;
    cr_assert_eq(zoq_st_find(st, name, &i), ZOQ_OK, "%s", name);
    zoq_st_info_t in = {.size = sizeof in};
    cr_assert_eq(zoq_st_info(st, i, &in), ZOQ_OK);
    cr_assert_str_eq(in.name, name);
    cr_assert_eq(in.dtype, dtype, "%s", name);
    cr_assert_eq(in.ndim, ndim, "%s", name);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        cr_assert_eq(in.shape[d], shape[d]);
        numel *= shape[d];
    }
    cr_assert_eq(in.numel, numel);
    cr_assert_eq(in.nbytes, nbytes);
    unsigned char got[64];
    float fl[16];
    cr_assert_eq(zoq_st_read(st, i, dtype, got, nbytes), ZOQ_OK);
    cr_assert(nbytes == 0 || memcmp(got, raw, nbytes) == 0, "%s: stored bytes differ", name);
    cr_assert_eq(zoq_st_read(st, i, ZOQ_ST_F32, fl, (size_t)numel * 4), ZOQ_OK);
    for (int64_t k = 0; k < numel; k++)
        cr_assert(memcmp(&fl[k], &f32[k], 4) == 0, "%s[%lld] = %g, want %g", name,
                  (long long)k, fl[k], f32[k]);
}

static void check_every_dtype(zoq_st *st)
{
    cr_assert_eq(zoq_st_count(st), 7);
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s13[2] = {1, 3}, s22[2] = {2, 2}, s2[1] = {2};
    int64_t s04[2] = {0, 4};
    float i8f[4] = {-128, -1, 0, 127}, i32f[2] = {-2147483648.0f, 16777216.0f};
    check_tensor(st, "f32", ZOQ_ST_F32, 2, s23, F32V, 24, F32V);
    check_tensor(st, "f16", ZOQ_ST_F16, 1, s4, F16V, 8, F16F);
    check_tensor(st, "bf16", ZOQ_ST_BF16, 2, s13, BF16V, 6, BF16F);
    check_tensor(st, "i8", ZOQ_ST_I8, 2, s22, I8V, 4, i8f);
    check_tensor(st, "i32", ZOQ_ST_I32, 1, s2, I32V, 8, i32f);
    check_tensor(st, "scalar", ZOQ_ST_F32, 0, NULL, F32V, 4, F32V);
    check_tensor(st, "empty", ZOQ_ST_F32, 2, s04, NULL, 0, NULL);
    const char *v, *k;
    cr_assert_eq(zoq_st_metadata_count(st), 2);
    cr_assert_eq(zoq_st_metadata_get(st, "note", &v), ZOQ_OK);
    cr_assert_str_eq(v, "tab\there \"quoted\" é");
    cr_assert_eq(zoq_st_metadata_at(st, 0, &k, &v), ZOQ_OK);
    cr_assert_str_eq(k, "format");
    cr_assert_str_eq(v, "pt");
    cr_assert_eq(zoq_st_metadata_get(st, "missing", &v), ZOQ_E_NOT_FOUND);
}

Test(io, every_dtype_round_trips_through_a_file_and_memory)
{
    zoq_st_writer *w = every_dtype_writer();
    cr_assert_eq(zoq_st_writer_write(w, path_in("all.safetensors")), ZOQ_OK, "%s",
                 zoq_st_writer_last_error(w));
    zoq_st_writer_free(w);
    char err[256];
    zoq_st *st;
    cr_assert_eq(zoq_st_open(path_in("all.safetensors"), &st, err, sizeof err), ZOQ_OK, "%s",
                 err);
    check_every_dtype(st);
    zoq_st_free(st);

    FILE *f = fopen(path_in("all.safetensors"), "rb");
    static unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_eq(zoq_st_open_memory(buf, n, &st, err, sizeof err), ZOQ_OK, "%s", err);
    check_every_dtype(st);
    zoq_st_free(st);
}

/* Buffers at odd addresses, both ways: converted writes and reads go
 * through memcpy (UBSan flagged the typed accesses, SANITIZE=1). */
Test(io, converts_from_and_into_buffers_at_odd_addresses)
{
    unsigned char in[1 + sizeof F32V], out[1 + sizeof F32V];
    memcpy(in + 1, F32V, sizeof F32V);
    int64_t s6[1] = {6};
    zoq_st_writer *w;
    zoq_st_writer_create(&w);
    cr_assert_eq(zoq_st_writer_add(w, "h", 1, s6, in + 1, ZOQ_ST_F32, ZOQ_ST_BF16), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_write(w, path_in("odd.safetensors")), ZOQ_OK);
    zoq_st_writer_free(w);
    zoq_st *st;
    cr_assert_eq(zoq_st_open(path_in("odd.safetensors"), &st, NULL, 0), ZOQ_OK);
    cr_assert_eq(zoq_st_read(st, 0, ZOQ_ST_F32, out + 1, sizeof F32V), ZOQ_OK);
    float got[6];
    memcpy(got, out + 1, sizeof got);
    for (int i = 0; i < 6; i++) /* bf16 keeps these to 8 bits */
        cr_assert(fabsf(got[i] - F32V[i]) <= fabsf(F32V[i]) / 128, "%d: %g", i, got[i]);
    uint16_t h[6], *odd = (uint16_t *)(void *)(out + 1);
    cr_assert_eq(zoq_st_read(st, 0, ZOQ_ST_F16, odd, sizeof h), ZOQ_OK);
    memcpy(h, out + 1, sizeof h);
    cr_assert_eq(h[0], 0x3E00); /* 1.5 */
    zoq_st_free(st);
}

Test(io, layout_is_the_safetensors_package_layout)
{
    zoq_st_writer *w = every_dtype_writer();
    cr_assert_eq(zoq_st_writer_write(w, path_in("all.safetensors")), ZOQ_OK);
    zoq_st_writer_free(w);
    FILE *f = fopen(path_in("all.safetensors"), "rb");
    static unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)buf[i] << (8 * i);
    cr_assert_eq(h % 8, 0, "header length %llu is not padded to 8", (unsigned long long)h);
    cr_assert_eq(buf[8], '{');
    /* the JSON ends at the last '}', then spaces only */
    size_t end = 8 + h;
    while (buf[end - 1] == ' ')
        end--;
    cr_assert_eq(buf[end - 1], '}');
    cr_assert_lt(8 + h - end, 8);
    const char *want = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"tab\\there \\\"quoted\\\" "
                       "é\"},\"empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[0,0]},"
                       "\"f32\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]},"
                       "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[28,36]},"
                       "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[36,42]},"
                       "\"f16\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[42,50]},"
                       "\"i8\":{\"dtype\":\"I8\",\"shape\":[2,2],\"data_offsets\":[50,54]}}";
    cr_assert_eq(end - 8, strlen(want));
    cr_assert(memcmp(buf + 8, want, strlen(want)) == 0, "header:\n%.*s", (int)(end - 8),
              buf + 8);
    cr_assert_eq(n, 8 + h + 54);
    cr_assert(memcmp(buf + 8 + h, F32V, 24) == 0);
}

Test(io, writer_converts_floats_round_to_nearest_even)
{
    zoq_st_writer *w;
    zoq_st_writer_create(&w);
    const float x[3] = {0.1f, 1.0f, -65520.0f};
    int64_t s[1] = {3};
    cr_assert_eq(zoq_st_writer_add(w, "h", 1, s, x, ZOQ_ST_F32, ZOQ_ST_F16), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "b", 1, s, x, ZOQ_ST_F32, ZOQ_ST_BF16), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "i", 1, s, x, ZOQ_ST_F32, ZOQ_ST_I8), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_write(w, path_in("c.safetensors")), ZOQ_OK);
    zoq_st_writer_free(w);
    zoq_st *st;
    cr_assert_eq(zoq_st_open(path_in("c.safetensors"), &st, NULL, 0), ZOQ_OK);
    uint16_t h[3], b[3];
    int64_t i;
    zoq_st_find(st, "h", &i);
    cr_assert_eq(zoq_st_read(st, i, ZOQ_ST_F16, h, sizeof h), ZOQ_OK);
    cr_assert_eq(h[0], 0x2E66); /* 0.1 -> 0.0999755859375 */
    cr_assert_eq(h[1], 0x3C00);
    cr_assert_eq(h[2], 0xFC00); /* -65520 rounds to -inf */
    zoq_st_find(st, "b", &i);
    cr_assert_eq(zoq_st_read(st, i, ZOQ_ST_BF16, b, sizeof b), ZOQ_OK);
    cr_assert_eq(b[0], 0x3DCD);
    cr_assert_eq(b[1], 0x3F80);
    /* reading F16 as BF16 goes through f32 */
    zoq_st_find(st, "h", &i);
    cr_assert_eq(zoq_st_read(st, i, ZOQ_ST_BF16, b, sizeof b), ZOQ_OK);
    cr_assert_eq(b[0], 0x3DCD); /* 0.0999755859375 = 0x3DCCC000 rounds up */
    cr_assert_eq(zoq_st_read(st, i, ZOQ_ST_I8, b, 3), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_read(st, i, ZOQ_ST_F32, b, 8), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_read(st, 5, ZOQ_ST_F32, b, 12), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_find(st, "nope", &i), ZOQ_E_NOT_FOUND);
    zoq_st_free(st);
}

Test(io, writer_refuses_bad_tensors_and_leaves_no_temporary)
{
    zoq_st_writer *w;
    zoq_st_writer_create(&w);
    float x[2] = {1, 2};
    int64_t s[9] = {2, 1, 1, 1, 1, 1, 1, 1, 1}, neg[1] = {-1};
    cr_assert_eq(zoq_st_writer_add(w, "a", 1, s, x, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "a", 1, s, x, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_E_EXISTS);
    cr_assert_eq(zoq_st_writer_add(w, "", 1, s, x, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_add(w, "__metadata__", 1, s, x, ZOQ_ST_F32, ZOQ_ST_F32),
                 ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_add(w, "\xC3\x28", 1, s, x, ZOQ_ST_F32, ZOQ_ST_F32),
                 ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_add(w, "b", 9, s, x, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_add(w, "b", 1, neg, x, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_add(w, "b", 1, s, NULL, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_add(w, "b", 1, s, x, 7, 7), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_writer_set_metadata(w, "k", "\xFF"), ZOQ_E_INVALID);
    cr_assert(strlen(zoq_st_writer_last_error(w)) > 0);
    cr_assert_eq(zoq_st_writer_write(w, path_in("no/such/dir.safetensors")), ZOQ_E_IO);
    cr_assert(strstr(zoq_st_writer_last_error(w), "no/such") != NULL);
    cr_assert_eq(entries(dir), 0);
    cr_assert_eq(zoq_st_writer_write(w, path_in("ok.safetensors")), ZOQ_OK);
    cr_assert_eq(entries(dir), 1);
    zoq_st_writer_free(w);
    zoq_st_writer_free(NULL);
    zoq_st_free(NULL);
    zoq_peft_free(NULL);
}

Test(io, rewrite_replaces_the_file_whole)
{
    float x[4] = {1, 2, 3, 4};
    int64_t s4[1] = {4}, s1[1] = {1};
    for (int round = 0; round < 2; round++) {
        zoq_st_writer *w;
        zoq_st_writer_create(&w);
        zoq_st_writer_add(w, round ? "second" : "first", 1, round ? s1 : s4, x, ZOQ_ST_F32,
                          ZOQ_ST_F32);
        cr_assert_eq(zoq_st_writer_write(w, path_in("r.safetensors")), ZOQ_OK);
        zoq_st_writer_free(w);
    }
    zoq_st *st;
    cr_assert_eq(zoq_st_open(path_in("r.safetensors"), &st, NULL, 0), ZOQ_OK);
    int64_t i;
    cr_assert_eq(zoq_st_count(st), 1);
    cr_assert_eq(zoq_st_find(st, "second", &i), ZOQ_OK);
    zoq_st_free(st);
    cr_assert_eq(entries(dir), 1);
}

/* ---- malformed files ----------------------------------------------------- */

static const unsigned char DATA8[8] = {0, 0, 0x80, 0x3F, 0, 0, 0, 0x40};
#define T1(dt, shape, b, e) "{\"t\":{\"dtype\":\"" dt "\",\"shape\":" shape \
                            ",\"data_offsets\":[" b "," e "]}}"

Test(io, accepts_an_unpadded_header_and_no_tensors)
{
    cr_assert_eq(open_blob(make_blob(T1("F32", "[2]", "0", "8"), DATA8, 8), NULL, 0), ZOQ_OK);
    cr_assert_eq(open_blob(make_blob("{}", NULL, 0), NULL, 0), ZOQ_OK);
    cr_assert_eq(open_blob(make_blob("{\"__metadata__\":{}}   \t\n", NULL, 0), NULL, 0), ZOQ_OK);
}

Test(io, refuses_truncated_files)
{
    char err[256];
    blob b = make_blob(T1("F32", "[2]", "0", "8"), DATA8, 8);
    b.n = 5;
    cr_assert_eq(open_blob(b, err, sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "too short"));
    b = make_blob(T1("F32", "[2]", "0", "8"), DATA8, 8);
    b.n = 8 + 10; /* inside the header */
    cr_assert_eq(open_blob(b, err, sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "past the end"), "%s", err);
    b = make_blob(T1("F32", "[2]", "0", "8"), DATA8, 8);
    b.n -= 3; /* inside the data */
    cr_assert_eq(open_blob(b, err, sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "cover 8 bytes, the data buffer has 5"), "%s", err);
}

Test(io, refuses_a_header_over_the_limit)
{
    unsigned char b[16] = {0};
    uint64_t h = ZOQ_ST_MAX_HEADER_BYTES + 1ull;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(h >> (8 * i));
    char err[256];
    zoq_st *st;
    cr_assert_eq(zoq_st_open_memory(b, sizeof b, &st, err, sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "exceeds the limit"), "%s", err);
    memset(b, 0xFF, 8);
    cr_assert_eq(zoq_st_open_memory(b, sizeof b, &st, err, sizeof err), ZOQ_E_FORMAT);
    cr_assert_null(st);
}

Test(io, refuses_bad_json)
{
    expect_refused("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],}}", DATA8,
                   8, ZOQ_E_FORMAT, "JSON");
    expect_refused("{\"t\":", NULL, 0, ZOQ_E_FORMAT, "unexpected end");
    expect_refused(" {}", NULL, 0, ZOQ_E_FORMAT, "start with '{'");
    expect_refused("[]", NULL, 0, ZOQ_E_FORMAT, "start with '{'");
    expect_refused("{\"\xC0\x80\":1}", NULL, 0, ZOQ_E_FORMAT, "UTF-8");
    expect_refused("{} x", NULL, 0, ZOQ_E_FORMAT, "trailing");
    expect_refused("{\"__metadata__\":{\"a\":1}}", NULL, 0, ZOQ_E_FORMAT, "not a string");
    expect_refused("{\"__metadata__\":[]}", NULL, 0, ZOQ_E_FORMAT, "not an object");
}

Test(io, refuses_overlaps_holes_and_out_of_bounds)
{
    expect_refused("{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                   "\"b\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
                   DATA8, 6, ZOQ_E_FORMAT, "overlap");
    expect_refused("{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                   "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[4,6]}}",
                   DATA8, 6, ZOQ_E_FORMAT, "hole");
    expect_refused(T1("I8", "[2]", "2", "4"), DATA8, 4, ZOQ_E_FORMAT, "hole");
    expect_refused(T1("F32", "[4]", "0", "16"), DATA8, 8, ZOQ_E_FORMAT, "cover 16");
    expect_refused(T1("F32", "[2]", "0", "8"), DATA8, 8 - 1, ZOQ_E_FORMAT, "cover 8");
    expect_refused(T1("I8", "[4]", "0", "4"), DATA8, 8, ZOQ_E_FORMAT,
                   "cover 4 bytes, the data buffer has 8"); /* trailing bytes */
    expect_refused(T1("I8", "[2]", "4", "2"), DATA8, 8, ZOQ_E_FORMAT, "do not hold");
    expect_refused(T1("I8", "[2]", "18446744073709551615", "18446744073709551617"), DATA8, 8,
                   ZOQ_E_FORMAT, "two unsigned integers");
}

Test(io, refuses_duplicate_and_empty_names)
{
    expect_refused("{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                   "\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                   DATA8, 2, ZOQ_E_FORMAT, "appears twice");
    expect_refused("{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0, ZOQ_E_FORMAT,
                   "appears twice");
    expect_refused("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", NULL, 0, ZOQ_E_FORMAT,
                   "appears twice");
    expect_refused(T1("I8", "[1]", "0", "1"), DATA8, 1, ZOQ_OK, ""); /* the control */
    expect_refused("{\"\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", DATA8, 1,
                   ZOQ_E_FORMAT, "empty name");
}

Test(io, refuses_bad_dtypes_shapes_and_entries)
{
    expect_refused(T1("Q7", "[1]", "0", "1"), DATA8, 1, ZOQ_E_FORMAT, "unknown dtype");
    expect_refused(T1("f32", "[2]", "0", "8"), DATA8, 8, ZOQ_E_FORMAT, "unknown dtype");
    expect_refused(T1("F64", "[1]", "0", "8"), DATA8, 8, ZOQ_E_UNSUPPORTED, "F64");
    expect_refused(T1("U8", "[1]", "0", "1"), DATA8, 1, ZOQ_E_UNSUPPORTED, "U8");
    expect_refused(T1("F16", "[4294967296,4294967296]", "0", "0"), NULL, 0, ZOQ_E_FORMAT,
                   "overflows");
    expect_refused(T1("F32", "[2305843009213693952]", "0", "0"), NULL, 0, ZOQ_E_FORMAT,
                   "do not hold");
    expect_refused(T1("I8", "[-1]", "0", "0"), NULL, 0, ZOQ_E_FORMAT, "shape entry 0");
    expect_refused(T1("I8", "[1.0]", "0", "1"), DATA8, 1, ZOQ_E_FORMAT, "shape entry 0");
    expect_refused(T1("I8", "[1,1,1,1,1,1,1,1,1]", "0", "1"), DATA8, 1, ZOQ_E_UNSUPPORTED,
                   "dimensions");
    expect_refused(T1("I8", "[1,1,1,1,1,1,1,1]", "0", "1"), DATA8, 1, ZOQ_OK, "");
    expect_refused(T1("I8", "2", "0", "2"), DATA8, 2, ZOQ_E_FORMAT, "not an array");
    expect_refused("{\"t\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":0}}",
                   DATA8, 1, ZOQ_E_FORMAT, "exactly");
    expect_refused("{\"t\":{\"dtype\":\"I8\",\"shape\":[1]}}", DATA8, 1, ZOQ_E_FORMAT,
                   "exactly");
    expect_refused("{\"t\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", DATA8,
                   1, ZOQ_E_FORMAT, "two unsigned");
    expect_refused("{\"t\":[]}", NULL, 0, ZOQ_E_FORMAT, "not an object");
}

Test(io, open_reports_io_errors_and_bad_arguments)
{
    char err[256];
    zoq_st *st = (zoq_st *)1;
    cr_assert_eq(zoq_st_open(path_in("absent"), &st, err, sizeof err), ZOQ_E_IO);
    cr_assert_null(st);
    cr_assert(strstr(err, "absent"));
    cr_assert_eq(zoq_st_open(dir, &st, err, sizeof err), ZOQ_E_IO);
    cr_assert_eq(zoq_st_open(NULL, &st, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_open_memory(NULL, 4, &st, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_st_count(NULL), 0);
    cr_assert_eq(zoq_st_metadata_count(NULL), 0);
    zoq_st_info_t in = {.size = 8};
    cr_assert_eq(zoq_st_info(NULL, 0, &in), ZOQ_E_INVALID);
}

/* ---- JSON ---------------------------------------------------------------- */

static int parses(const char *s)
{
    zoq__json doc;
    int rc = zoq__json_parse(s, strlen(s), &doc);
    zoq__json_free(&doc);
    return rc;
}

Test(io, json_is_strict)
{
    const char *good[] = {"{}", "[]", "0", "-0", "1.5e-3", "\"\\u00e9\\ud83d\\ude00\"",
                          " [1, [2, {\"a\": null}], true, false] ", "\"\\/\\b\\f\\n\\r\\t\"",
                          "\"\xF0\x9F\x98\x80\""};
    const char *bad[] = {"", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "1e", "+1", "NaN",
                         "nul", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
                         "\"\\u0000\"", "\"a\nb\"", "\"\xED\xA0\x80\"", "\"\xC1\xBF\"",
                         "\"\xF4\x90\x80\x80\"", "{1:2}", "[1 2]", "{} {}", "/* */{}",
                         "\"\\u12\"", "\"unterminated"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_assert_eq(parses(good[i]), ZOQ_OK, "refused %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(parses(bad[i]), ZOQ_E_FORMAT, "accepted %s", bad[i]);
    char deep[200] = "", ok[200] = "";
    for (int i = 0; i < 65; i++)
        strcat(deep, "[");
    for (int i = 0; i < 65; i++)
        strcat(deep, "]");
    cr_assert_eq(parses(deep), ZOQ_E_FORMAT);
    for (int i = 0; i < 64; i++)
        strcat(ok, "[");
    for (int i = 0; i < 64; i++)
        strcat(ok, "]");
    cr_assert_eq(parses(ok), ZOQ_OK);
}

Test(io, json_tree_and_numbers)
{
    const char *s = "{\"a\": [1, 2, 3], \"b\": {\"c\": \"\\u00e9\"}, \"n\": 18446744073709551615,"
                    " \"x\": -2.5e1}";
    zoq__json doc;
    cr_assert_eq(zoq__json_parse(s, strlen(s), &doc), ZOQ_OK);
    const zoq__json_node *top = &doc.nodes[0];
    cr_assert_eq(top->count, 4);
    const zoq__json_node *a = zoq__json_get(&doc, top, "a");
    cr_assert_eq(a->count, 3);
    uint64_t v;
    const zoq__json_node *second = zoq__json_at(&doc, zoq__json_at(&doc, a->first)->next);
    cr_assert(zoq__json_uint(zoq__json_at(&doc, second->next), 10, &v));
    cr_assert_eq(v, 3);
    cr_assert_str_eq(zoq__json_get(&doc, zoq__json_get(&doc, top, "b"), "c")->str, "\xC3\xA9");
    cr_assert(zoq__json_uint(zoq__json_get(&doc, top, "n"), UINT64_MAX, &v));
    cr_assert_eq(v, UINT64_MAX);
    cr_assert(!zoq__json_uint(zoq__json_get(&doc, top, "n"), UINT64_MAX - 1, &v));
    double x;
    cr_assert(zoq__json_double(zoq__json_get(&doc, top, "x"), &x));
    cr_assert_eq(x, -25.0);
    cr_assert(!zoq__json_uint(zoq__json_get(&doc, top, "x"), 100, &v));
    cr_assert_null(zoq__json_get(&doc, top, "zz"));
    zoq__json_free(&doc);
}

/* ---- PEFT adapter folders ------------------------------------------------ */

static float A0[2 * 3] = {1, 2, 3, 4, 5, 6}, B0[4 * 2] = {0.5f, -0.5f, 1, 2, 3, 4, 5, 6};
static float A1[1 * 3] = {-1, 0, 1}, B1[2 * 1] = {7, 8};

static void two_modules(zoq_peft_module_t m[2])
{
    memset(m, 0, 2 * sizeof *m);
    m[0] = (zoq_peft_module_t){.size = sizeof *m, .module = "model.layers.0.self_attn.q_proj",
                               .rank = 2, .dtype = ZOQ_ST_F32, .in_features = 3,
                               .out_features = 4, .alpha = 16, .a = A0, .b = B0};
    m[1] = (zoq_peft_module_t){.size = sizeof *m, .module = "model.layers.1.mlp.down_proj",
                               .rank = 1, .dtype = ZOQ_ST_F32, .in_features = 3,
                               .out_features = 2, .alpha = 4, .a = A1, .b = B1};
}

Test(io, peft_folder_round_trips)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    char err[256] = "";
    const char *ad = path_in("adapter");
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, err, sizeof err), ZOQ_OK, "%s", err);
    zoq_peft *p;
    cr_assert_eq(zoq_peft_open(ad, &p, err, sizeof err), ZOQ_OK, "%s", err);
    cr_assert_eq(zoq_peft_count(p), 2);
    int64_t i;
    cr_assert_eq(zoq_peft_find(p, "model.layers.1.mlp.down_proj", &i), ZOQ_OK);
    zoq_peft_module_t got = {.size = sizeof got};
    cr_assert_eq(zoq_peft_module_info(p, i, &got), ZOQ_OK);
    cr_assert_str_eq(got.module, "model.layers.1.mlp.down_proj");
    cr_assert_eq(got.rank, 1);
    cr_assert_eq(got.alpha, 4.0);
    cr_assert_eq(got.in_features, 3);
    cr_assert_eq(got.out_features, 2);
    float a[3], b[2];
    cr_assert_eq(zoq_peft_read(p, i, ZOQ_ST_F32, a, sizeof a, b, sizeof b), ZOQ_OK);
    cr_assert(memcmp(a, A1, sizeof a) == 0 && memcmp(b, B1, sizeof b) == 0);
    cr_assert_eq(zoq_peft_read(p, i, ZOQ_ST_F32, a, sizeof a, b, 4), ZOQ_E_INVALID);
    cr_assert_eq(zoq_peft_find(p, "model.layers.0.self_attn.q_proj", &i), ZOQ_OK);
    zoq_peft_module_info(p, i, &got);
    cr_assert_eq(got.rank, 2);
    cr_assert_eq(got.alpha, 16.0);
    cr_assert_eq(zoq_peft_find(p, "model.layers.0", &i), ZOQ_E_NOT_FOUND);
    zoq_peft_free(p);

    /* the tensor names PEFT, vLLM and SGLang look for */
    zoq_st *st;
    char wpath[300];
    snprintf(wpath, sizeof wpath, "%s/adapter_model.safetensors", ad);
    cr_assert_eq(zoq_st_open(wpath, &st, NULL, 0), ZOQ_OK);
    cr_assert_eq(zoq_st_count(st), 4);
    const char *names[4] = {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                            "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight",
                            "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"};
    for (int k = 0; k < 4; k++) {
        zoq_st_info_t in = {.size = sizeof in};
        zoq_st_info(st, k, &in);
        cr_assert_str_eq(in.name, names[k]);
    }
    zoq_st_free(st);
}

/* The config as JSON, for key checks. */
static void read_config(const char *ad, zoq__json *doc, char **text)
{
    char cpath[300];
    snprintf(cpath, sizeof cpath, "%s/adapter_config.json", ad);
    FILE *f = fopen(cpath, "rb");
    cr_assert_not_null(f);
    *text = calloc(1, 8192);
    size_t n = fread(*text, 1, 8191, f);
    fclose(f);
    cr_assert_eq(zoq__json_parse(*text, n, doc), ZOQ_OK);
}

Test(io, peft_config_has_the_keys_peft_reads)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    zoq_peft_config_t cfg = {.size = sizeof cfg, .base_model = "zoq/tiny-lm",
                             .file_dtype = ZOQ_ST_BF16};
    const char *ad = path_in("adapter");
    cr_assert_eq(zoq_peft_save(ad, &cfg, m, 2, NULL, 0), ZOQ_OK);
    zoq__json doc;
    char *text;
    read_config(ad, &doc, &text);
    const zoq__json_node *top = &doc.nodes[0];
    cr_assert_str_eq(zoq__json_get(&doc, top, "peft_type")->str, "LORA");
    cr_assert_str_eq(zoq__json_get(&doc, top, "task_type")->str, "CAUSAL_LM");
    cr_assert_str_eq(zoq__json_get(&doc, top, "base_model_name_or_path")->str, "zoq/tiny-lm");
    cr_assert_str_eq(zoq__json_get(&doc, top, "bias")->str, "none");
    uint64_t r;
    cr_assert(zoq__json_uint(zoq__json_get(&doc, top, "r"), 100, &r));
    cr_assert_eq(r, 2);
    double alpha;
    cr_assert(zoq__json_double(zoq__json_get(&doc, top, "lora_alpha"), &alpha));
    cr_assert_eq(alpha, 16.0);
    const zoq__json_node *tm = zoq__json_get(&doc, top, "target_modules");
    cr_assert_eq(tm->kind, ZOQ__JSON_ARRAY);
    cr_assert_eq(tm->count, 2);
    /* full paths, so PEFT wraps these modules only (not every q_proj) */
    cr_assert_str_eq(zoq__json_at(&doc, tm->first)->str, "model.layers.0.self_attn.q_proj");
    cr_assert_str_eq(zoq__json_at(&doc, zoq__json_at(&doc, tm->first)->next)->str,
                     "model.layers.1.mlp.down_proj");
    const zoq__json_node *rp = zoq__json_get(&doc, top, "rank_pattern");
    cr_assert(zoq__json_uint(zoq__json_get(&doc, rp, "model.layers.1.mlp.down_proj"), 9, &r));
    cr_assert_eq(r, 1);
    const zoq__json_node *ap = zoq__json_get(&doc, top, "alpha_pattern");
    cr_assert(zoq__json_double(zoq__json_get(&doc, ap, "model.layers.1.mlp.down_proj"),
                               &alpha));
    cr_assert_eq(alpha, 4.0);
    cr_assert_eq(zoq__json_get(&doc, top, "use_dora")->kind, ZOQ__JSON_FALSE);
    cr_assert_eq(zoq__json_get(&doc, top, "use_rslora")->kind, ZOQ__JSON_FALSE);
    cr_assert_eq(zoq__json_get(&doc, top, "inference_mode")->kind, ZOQ__JSON_TRUE);
    cr_assert(strstr(text, "\n  \"lora_alpha\": 16,\n"), "alpha not written as an integer");
    zoq__json_free(&doc);
    free(text);
    /* stored as BF16, read back through f32: 0.5 and -0.5 are exact */
    zoq_peft *p;
    cr_assert_eq(zoq_peft_open(ad, &p, NULL, 0), ZOQ_OK);
    zoq_peft_module_t got = {.size = sizeof got};
    zoq_peft_module_info(p, 0, &got);
    cr_assert_eq(got.dtype, ZOQ_ST_BF16);
    float a[6], b[8];
    cr_assert_eq(zoq_peft_read(p, 0, ZOQ_ST_F32, a, sizeof a, b, sizeof b), ZOQ_OK);
    cr_assert(memcmp(a, A0, sizeof a) == 0 && memcmp(b, B0, sizeof b) == 0);
    zoq_peft_free(p);
}

Test(io, peft_save_replaces_a_folder_whole_and_refuses_foreign_ones)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    const char *ad = path_in("adapter");
    umask(022);
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_OK);
    cr_assert_eq(zoq_peft_save(ad, NULL, m + 1, 1, NULL, 0), ZOQ_OK); /* tonight's: one module */
    zoq_peft *p;
    cr_assert_eq(zoq_peft_open(ad, &p, NULL, 0), ZOQ_OK);
    cr_assert_eq(zoq_peft_count(p), 1);
    zoq_peft_free(p);
    cr_assert_eq(entries(dir), 1, "a temporary or old folder was left behind");
    cr_assert_eq(entries(ad), 2);
    struct stat sb;
    cr_assert_eq(stat(ad, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0755);

    char extra[300], err[256];
    snprintf(extra, sizeof extra, "%s/README.md", ad);
    FILE *f = fopen(extra, "w");
    fputs("mine", f);
    fclose(f);
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, err, sizeof err), ZOQ_E_EXISTS);
    cr_assert(strstr(err, "README.md"), "%s", err);
    cr_assert_eq(entries(ad), 3);
    cr_assert_eq(zoq_peft_save(extra, NULL, m, 2, err, sizeof err), ZOQ_E_EXISTS);
    cr_assert_eq(entries(dir), 1);
}

Test(io, peft_save_refuses_bad_modules)
{
    zoq_peft_module_t m[2];
    char err[256];
    const char *ad = path_in("adapter");
    two_modules(m);
    m[1].module = m[0].module;
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, err, sizeof err), ZOQ_E_INVALID);
    cr_assert(strstr(err, "twice"), "%s", err);
    two_modules(m);
    m[0].rank = 0;
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_E_INVALID);
    two_modules(m);
    m[1].alpha = 0.0 / 0.0;
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_E_INVALID);
    two_modules(m);
    m[1].b = NULL;
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_E_INVALID);
    two_modules(m);
    m[0].dtype = ZOQ_ST_I8;
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_E_INVALID);
    two_modules(m);
    m[0].size = 8;
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_E_INVALID);
    two_modules(m);
    zoq_peft_config_t cfg = {.size = sizeof cfg, .file_dtype = ZOQ_ST_I32};
    cr_assert_eq(zoq_peft_save(ad, &cfg, m, 2, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 0, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_peft_save("", NULL, m, 2, NULL, 0), ZOQ_E_INVALID);
    cr_assert_eq(entries(dir), 0);
}

/* Saves modules m[0 .. n), replaces the config with text and opens the
 * folder into *p (NULL on failure). */
static int open_config(const zoq_peft_module_t *m, int n, const char *config, zoq_peft **p,
                       char *err, size_t cap)
{
    const char *ad = path_in("adapter");
    cr_assert_eq(zoq_peft_save(ad, NULL, m, n, NULL, 0), ZOQ_OK);
    char cpath[300];
    snprintf(cpath, sizeof cpath, "%s/adapter_config.json", ad);
    FILE *f = fopen(cpath, "w");
    fputs(config, f);
    fclose(f);
    *p = NULL;
    int rc = zoq_peft_open(ad, p, err, cap);
    cr_assert_eq(rc == ZOQ_OK, *p != NULL);
    return rc;
}

/* The two modules under config text: the open's status. */
static int open_with_config(const char *config, char *err, size_t cap)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    zoq_peft *p;
    int rc = open_config(m, 2, config, &p, err, cap);
    zoq_peft_free(p);
    return rc;
}

#define PATTERNS "\"rank_pattern\":{\"down_proj\":1},\"alpha_pattern\":{}"

Test(io, peft_open_checks_the_config)
{
    char err[256];
    cr_assert_eq(open_with_config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":8," PATTERNS
                                  "}", err, sizeof err), ZOQ_OK, "%s", err);
    cr_assert_eq(open_with_config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":8}", err,
                                  sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "rank 1 in the weights, 2 in the config"), "%s", err);
    cr_assert_eq(open_with_config("{\"peft_type\":\"IA3\",\"r\":2,\"lora_alpha\":8}", err,
                                  sizeof err), ZOQ_E_UNSUPPORTED);
    cr_assert_eq(open_with_config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":8,"
                                  "\"use_dora\":true," PATTERNS "}", err, sizeof err),
                 ZOQ_E_UNSUPPORTED);
    cr_assert_eq(open_with_config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":8,"
                                  "\"bias\":\"all\"," PATTERNS "}", err, sizeof err),
                 ZOQ_E_UNSUPPORTED);
    cr_assert_eq(open_with_config("{\"peft_type\":\"LORA\",\"r\":0,\"lora_alpha\":8}", err,
                                  sizeof err), ZOQ_E_FORMAT);
    cr_assert_eq(open_with_config("{\"peft_type\":\"LORA\",\"r\":2}", err, sizeof err),
                 ZOQ_E_FORMAT);
    cr_assert_eq(open_with_config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":8,", err,
                                  sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "adapter_config.json"), "%s", err);
}

/* The alphas (or ranks) the two modules get under config text (q_proj
 * first): the expected values come from Python's re.match(r"(.*\.)?(K)$")
 * on each key K in order, PEFT's rule, run separately. */
static void patterns_give(const char *config, double want_q, double want_down)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    zoq_peft *p;
    char err[256] = "";
    cr_assert_eq(open_config(m, 2, config, &p, err, sizeof err), ZOQ_OK, "%s: %s", config, err);
    zoq_peft_module_t q = {.size = sizeof q}, down = {.size = sizeof down};
    int64_t i;
    cr_assert_eq(zoq_peft_find(p, "model.layers.0.self_attn.q_proj", &i), ZOQ_OK);
    zoq_peft_module_info(p, i, &q);
    cr_assert_eq(zoq_peft_find(p, "model.layers.1.mlp.down_proj", &i), ZOQ_OK);
    zoq_peft_module_info(p, i, &down);
    cr_assert_eq(q.alpha, want_q, "%s: q_proj alpha %g", config, q.alpha);
    cr_assert_eq(down.alpha, want_down, "%s: down_proj alpha %g", config, down.alpha);
    zoq_peft_free(p);
}

#define HEAD "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":8,"
#define DOWN_RANK "\"rank_pattern\":{\"layers\\\\.1\\\\..*_proj\":1},"

Test(io, peft_open_matches_pattern_keys_as_peft)
{
    /* the case: regex keys were read as alpha 8 with status OK */
    patterns_give(HEAD DOWN_RANK "\"alpha_pattern\":{\"layers.1.*proj\":3,"
                  "\"model\\\\.layers\\\\.0\\\\.self_attn\\\\.q_proj\":2}}", 2, 3);
    /* the first key in file order that matches wins */
    patterns_give(HEAD DOWN_RANK "\"alpha_pattern\":{\"layers.1.*proj\":3,\".*_proj\":5}}", 5, 3);
    patterns_give(HEAD DOWN_RANK "\"alpha_pattern\":{\".*_proj\":5,\"layers.1.*proj\":3}}", 5, 5);
    /* anchored at the end, and at a dot or the start */
    patterns_give(HEAD DOWN_RANK "\"alpha_pattern\":{\"layers.1\":7,\"_proj\":7,\"q_proj\":6}}",
                  6, 8);
    /* full paths as zoq writes them; alternation stays inside the key */
    patterns_give(HEAD "\"rank_pattern\":{\"model.layers.1.mlp.down_proj\":1},"
                  "\"alpha_pattern\":{\"q_proj|down_proj\":0.5}}", 0.5, 0.5);
    /* lazy repeats match as greedy ones; a '{' that is no repeat is a letter */
    patterns_give(HEAD DOWN_RANK "\"alpha_pattern\":{\"mlp.*?_pro{1}j\":4,\"x{\":9}}", 8, 4);

    char err[256];
    cr_assert_eq(open_with_config(HEAD "\"rank_pattern\":{\"layers\\\\.0\\\\..*\":2}}", err,
                                  sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "rank 1 in the weights, 2 in the config (r; no rank_pattern key"),
              "%s", err);
}

Test(io, peft_open_refuses_pattern_keys_it_would_misread)
{
    const char *keys[] = {"layers\\\\d+", "(?=q)_proj", "q_proj*+", "[[:alpha:]]+_proj",
                          "[\\\\w]+", "q_proj)", "(q_proj", "*_proj", "q_pro{300}j", "[q_proj"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        char config[300], err[256] = "";
        snprintf(config, sizeof config, HEAD DOWN_RANK "\"alpha_pattern\":{\"%s\":3}}",
                 keys[k]);
        cr_assert_eq(open_with_config(config, err, sizeof err), ZOQ_E_UNSUPPORTED, "%s: %s",
                     keys[k], err);
        cr_assert(strstr(err, "alpha_pattern: key"), "%s", err);
    }
    char err0[256];
    open_with_config(HEAD DOWN_RANK "\"alpha_pattern\":{\"layers\\\\d+\":3}}", err0, sizeof err0);
    cr_assert(strstr(err0, "byte 7: an escape"), "the message points at \\d: %s", err0);
    char err[256];
    cr_assert_eq(open_with_config(HEAD "\"rank_pattern\":{\"down_proj\":1,\"down_proj\":2}}",
                                  err, sizeof err), ZOQ_E_FORMAT);
    cr_assert(strstr(err, "given twice"), "%s", err);
}

Test(io, peft_open_matches_code_points_not_bytes)
{
    /* "." is one code point in Python: it must take all of "é" (2 bytes) */
    zoq_peft_module_t m[2];
    two_modules(m);
    m[1].module = "model.\xC3\xA9";
    zoq_peft *p;
    char err[256] = "";
    cr_assert_eq(open_config(m, 2, HEAD "\"rank_pattern\":{\"model\\\\..\":1}}", &p, err,
                             sizeof err), ZOQ_OK, "%s", err);
    zoq_peft_free(p);
    /* Python's '.' and '$' treat a newline specially, POSIX's do not */
    m[1].module = "model.x\n";
    cr_assert_eq(open_config(m, 2, HEAD "\"rank_pattern\":{\"model\\\\..\":1}}", &p, err,
                             sizeof err), ZOQ_E_UNSUPPORTED, "%s", err);
    cr_assert(strstr(err, "newline"), "%s", err);
}

Test(io, peft_open_falls_back_to_a_key_equal_to_the_path)
{
    /* as a regex "m.a+b" does not match the path "m.a+b"; PEFT then looks
     * the path itself up in the pattern (Python: re.match -> None) */
    zoq_peft_module_t m[2];
    two_modules(m);
    m[1].module = "m.a+b";
    zoq_peft *p;
    char err[256] = "";
    cr_assert_eq(open_config(m, 2, HEAD "\"rank_pattern\":{\"m.a+b\":1}}", &p, err, sizeof err),
                 ZOQ_OK, "%s", err);
    zoq_peft_free(p);
}

/* Issue 19: what zoq_peft_save would refuse to write is refused on read. */
Test(io, peft_open_refuses_alphas_save_refuses)
{
    const char *configs[] = {
        "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":-8," PATTERNS "}",
        "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":0," PATTERNS "}",
        "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":5e-324," PATTERNS "}",
        "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":1e999," PATTERNS "}",
        HEAD DOWN_RANK "\"alpha_pattern\":{\"nothing_matches_this\":-1}}",
        HEAD DOWN_RANK "\"alpha_pattern\":{\"q_proj\":2.2e-308}}",
        HEAD "\"rank_pattern\":{\"down_proj\":1,\"q_proj\":0}}",
    };
    for (size_t k = 0; k < sizeof configs / sizeof *configs; k++) {
        char err[256] = "";
        cr_assert_eq(open_with_config(configs[k], err, sizeof err), ZOQ_E_FORMAT, "%s: %s",
                     configs[k], err);
    }
    patterns_give(HEAD DOWN_RANK "\"alpha_pattern\":{\"q_proj\":2.3e-308}}", 2.3e-308, 8);
    zoq_peft_module_t m[2];
    two_modules(m);
    m[1].alpha = 5e-324;
    cr_assert_eq(zoq_peft_save(path_in("adapter"), NULL, m, 2, NULL, 0), ZOQ_E_INVALID);
}

Test(io, peft_save_uniform_refuses_mixed_rank_or_alpha)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    zoq_peft_config_t cfg = {.size = sizeof cfg, .flags = ZOQ_PEFT_UNIFORM};
    char err[256] = "";
    const char *ad = path_in("adapter");
    cr_assert_eq(zoq_peft_save(ad, &cfg, m, 2, err, sizeof err), ZOQ_E_INVALID);
    cr_assert(strstr(err, "SGLang"), "%s", err);
    m[1].rank = 2; /* same rank, other alpha */
    m[1].a = A0;
    m[1].b = B0;
    m[1].out_features = 4;
    cr_assert_eq(zoq_peft_save(ad, &cfg, m, 2, err, sizeof err), ZOQ_E_INVALID);
    m[1].alpha = m[0].alpha;
    cr_assert_eq(zoq_peft_save(ad, &cfg, m, 2, err, sizeof err), ZOQ_OK, "%s", err);
    cr_assert_eq(entries(dir), 1, "only the adapter, nothing left by the refusals");
    cfg.flags = 2;
    cr_assert_eq(zoq_peft_save(ad, &cfg, m, 2, NULL, 0), ZOQ_E_INVALID);
    /* a caller built before flags existed */
    zoq_peft_config_t old = {.size = offsetof(zoq_peft_config_t, flags)};
    two_modules(m);
    cr_assert_eq(zoq_peft_save(ad, &old, m, 2, err, sizeof err), ZOQ_OK, "%s", err);
    old.size = offsetof(zoq_peft_config_t, flags) - 1;
    cr_assert_eq(zoq_peft_save(ad, &old, m, 2, NULL, 0), ZOQ_E_INVALID);
}

Test(io, peft_open_pairs_factors)
{
    const char *ad = path_in("bad");
    mkdir(ad, 0755);
    char cpath[300], wpath[300], err[256];
    snprintf(cpath, sizeof cpath, "%s/adapter_config.json", ad);
    snprintf(wpath, sizeof wpath, "%s/adapter_model.safetensors", ad);
    FILE *f = fopen(cpath, "w");
    fputs("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":8}", f);
    fclose(f);
    float x[12] = {0};
    int64_t a23[2] = {2, 3}, b42[2] = {4, 2}, b43[2] = {4, 3};
    struct {
        const char *name;
        const int64_t *shape;
        int status;
        const char *words;
    } cases[] = {
        {"base_model.model.q.lora_B.weight", b42, ZOQ_E_FORMAT, "0 lora_A"},
        {"base_model.model.q.lora_B.weight", b43, ZOQ_E_FORMAT, "r x in"},
        {"base_model.model.q.bias", b42, ZOQ_E_UNSUPPORTED, "not a LoRA factor"},
        {"base_model.model.k.lora_B.weight", b42, ZOQ_E_FORMAT, "has no lora_B"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        zoq_st_writer *w;
        zoq_st_writer_create(&w);
        if (c != 0)
            zoq_st_writer_add(w, "base_model.model.q.lora_A.weight", 2, a23, x, ZOQ_ST_F32,
                              ZOQ_ST_F32);
        zoq_st_writer_add(w, cases[c].name, 2, cases[c].shape, x, ZOQ_ST_F32, ZOQ_ST_F32);
        cr_assert_eq(zoq_st_writer_write(w, wpath), ZOQ_OK);
        zoq_st_writer_free(w);
        zoq_peft *p = NULL;
        cr_assert_eq(zoq_peft_open(ad, &p, err, sizeof err), cases[c].status, "case %zu: %s", c,
                     err);
        cr_assert(strstr(err, cases[c].words), "case %zu: %s", c, err);
        cr_assert_null(p);
    }
}

/* ---- files on disk: FIFOs, modes, killed writers, failures --------------- */

/* A safetensors file of one small tensor at path. */
static int write_st(const char *path)
{
    float x[2] = {1, 2};
    int64_t s2[1] = {2};
    zoq_st_writer *w = NULL;
    int rc = zoq_st_writer_create(&w);
    if (rc == ZOQ_OK)
        rc = zoq_st_writer_add(w, "x", 1, s2, x, ZOQ_ST_F32, ZOQ_ST_F32);
    if (rc == ZOQ_OK)
        rc = zoq_st_writer_write(w, path);
    zoq_st_writer_free(w);
    return rc;
}

/* A context of one f32 parameter, saved to path. */
static int write_state(const char *path)
{
    static float w[3];
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "w", w, ZOQ_F32, 3, NULL), ZOQ_OK);
    int rc = zoq_state_save(ctx, path);
    zoq_destroy(ctx);
    return rc;
}

static int mode_of(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "%s", path);
    return (int)(sb.st_mode & 0777);
}

/* Without O_NONBLOCK, open(2) of a FIFO waits for a writer: the timeout fails it. */
Test(io, readers_refuse_a_fifo_at_once, .timeout = 20)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    const char *fifo = path_in("fifo"), *ad = path_in("ad");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char err[256] = "";
    zoq_st *st = NULL;
    cr_assert_eq(zoq_st_open(fifo, &st, err, sizeof err), ZOQ_E_IO);
    cr_assert(strstr(err, "not a regular file"), "%s", err);
    cr_assert_null(st);
    zoq_ctx *ctx;
    zoq_create(&ctx);
    cr_assert_eq(zoq_state_load(ctx, fifo), ZOQ_E_IO);
    cr_assert(strstr(zoq_last_error(ctx), "not a regular file"), "%s", zoq_last_error(ctx));
    zoq_destroy(ctx);
    const char *files[2] = {"adapter_model.safetensors", "adapter_config.json"};
    for (int k = 0; k < 2; k++) { /* each file of an adapter folder as a FIFO */
        cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_OK);
        char f[300];
        snprintf(f, sizeof f, "%s/%s", ad, files[k]);
        cr_assert_eq(unlink(f), 0);
        cr_assert_eq(mkfifo(f, 0600), 0);
        zoq_peft *p = NULL;
        cr_assert_eq(zoq_peft_open(ad, &p, err, sizeof err), ZOQ_E_IO, "%s: %s", files[k], err);
        cr_assert(strstr(err, "not a regular file"), "%s", err);
        cr_assert_null(p);
        remove_tree(ad);
    }
}

Test(io, new_files_take_the_umask_and_replaced_ones_keep_their_mode)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    const char *st = path_in("w.safetensors"), *state = path_in("run.zoqstate"),
               *ad = path_in("ad");
    umask(077); /* criterion runs each test in a process of its own */
    cr_assert_eq(write_st(st), ZOQ_OK);
    cr_assert_eq(write_state(state), ZOQ_OK);
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_OK);
    cr_assert_eq(mode_of(st), 0600);
    cr_assert_eq(mode_of(state), 0600);
    cr_assert_eq(mode_of(ad), 0700);
    cr_assert_eq(mode_of(path_in("ad/adapter_model.safetensors")), 0600);
    cr_assert_eq(mode_of(path_in("ad/adapter_config.json")), 0600);
    umask(022);
    cr_assert_eq(chmod(st, 0640), 0);
    cr_assert_eq(write_st(st), ZOQ_OK);
    cr_assert_eq(mode_of(st), 0640, "a rewrite keeps the mode of the file it replaces");
    cr_assert_eq(write_st(path_in("new.safetensors")), ZOQ_OK);
    cr_assert_eq(mode_of(path_in("new.safetensors")), 0644);
}

/* A file (or, with dir, a folder holding an adapter file) at path. */
static void make_debris(const char *path, int folder)
{
    char f[300];
    if (folder) {
        cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
        snprintf(f, sizeof f, "%s/adapter_config.json", path);
        path = f;
    }
    FILE *h = fopen(path, "w");
    cr_assert_not_null(h, "%s", path);
    fputs("{}", h);
    fclose(h);
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

Test(io, saves_remove_what_killed_writers_left_of_their_target_only)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    /* stale: zoq's pattern, unlocked; kept: other names, other targets, a live (locked) one */
    const char *stale[] = {"w.st.tmp.AbC123", "w.st.tmp.zzzzzz", "ad.tmp.Qwe456"};
    const char *kept[] = {"w.st.tmp.AbC12", "w.st.tmp.AbC1234", "w.st.tmp.AbC-12",
                          "w.st.tmp.Locked", "v.st.tmp.AbC123", "w.st.old.AbC123",
                          "ad.tmp.Foreig"};
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++)
        make_debris(path_in(stale[i]), stale[i][0] == 'a');
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        make_debris(path_in(kept[i]), kept[i][0] == 'a');
    make_debris(path_in("ad.tmp.Foreig/notes.txt"), 0); /* a folder zoq did not fill */
    /* killed while writing a file of the folder: that file's own temporary */
    make_debris(path_in("ad.tmp.Qwe456/adapter_model.safetensors.tmp.Zx81Qa"), 0);
    int live = open(path_in("w.st.tmp.Locked"), O_RDONLY);
    cr_assert(live >= 0 && flock(live, LOCK_EX | LOCK_NB) == 0);
    cr_assert_eq(write_st(path_in("w.st")), ZOQ_OK);
    cr_assert_eq(zoq_peft_save(path_in("ad"), NULL, m, 2, NULL, 0), ZOQ_OK);
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++)
        cr_assert(!exists(path_in(stale[i])), "%s was left", stale[i]);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        cr_assert(exists(path_in(kept[i])), "%s was removed", kept[i]);
    cr_assert(exists(path_in("ad.tmp.Foreig/notes.txt")));
    close(live);
    cr_assert_eq(write_state(path_in("w.st")), ZOQ_OK); /* state files clean up the same way */
    cr_assert(!exists(path_in("w.st.tmp.Locked")), "no longer locked: stale");
}

/* Runs save() with allocation k failing for k = 0, 1, ... until a run makes
 * fewer allocations than k + 1; after each, the folder holds `expect`
 * entries (no temporary left), and an OK save synced file and folder. */
static void every_allocation_fails(int (*save)(void), int expect)
{
    long k;
    for (k = 0;; k++) {
        fsyncs = 0;
        arm_alloc(k);
        int rc = save();
        long made = allocs;
        arm_alloc(-1);
        cr_assert(rc == ZOQ_OK || rc == ZOQ_E_NOMEM, "allocation %ld: status %d", k, rc);
        cr_assert_eq(entries(dir), expect, "allocation %ld failed: status %d, %d entries", k, rc,
                     entries(dir));
        if (rc == ZOQ_OK)
            cr_assert_geq(fsyncs, 2, "allocation %ld failed: OK without syncing the folder", k);
        if (made <= k)
            break;
    }
    cr_assert_gt(k, 3, "the loop ran out of allocations to fail after %ld", k);
}

static int save_st(void)
{
    return write_st(path_in("w.safetensors"));
}

static int save_adapter(void)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    return zoq_peft_save(path_in("ad"), NULL, m, 2, NULL, 0);
}

Test(io, a_failed_allocation_is_an_error_never_debris_nor_a_skipped_sync)
{
    cr_assert_eq(save_st(), ZOQ_OK); /* replacing a file */
    every_allocation_fails(save_st, 1);
    zoq_peft_module_t m[2];
    two_modules(m);
    cr_assert_eq(zoq_peft_save(path_in("ad"), NULL, m, 2, NULL, 0), ZOQ_OK);
    every_allocation_fails(save_adapter, 2); /* replacing an adapter */
    zoq_peft *p;
    cr_assert_eq(zoq_peft_open(path_in("ad"), &p, NULL, 0), ZOQ_OK);
    zoq_peft_free(p);
}

Test(io, system_failures_are_reported_with_their_status)
{
    zoq_peft_module_t m[2];
    two_modules(m);
    const char *ad = path_in("ad");
    char err[256] = "";
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, NULL, 0), ZOQ_OK);
    opendir_errno = ENOMEM; /* listing the folder it would replace */
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, err, sizeof err), ZOQ_E_NOMEM, "%s", err);
    opendir_errno = EACCES;
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, err, sizeof err), ZOQ_E_IO, "%s", err);
    opendir_errno = 0;
    fsync_dir_errno = EIO; /* the folder cannot be synced: said, not skipped */
    cr_assert_eq(write_st(path_in("w.safetensors")), ZOQ_E_IO);
    cr_assert_eq(write_state(path_in("run.zoqstate")), ZOQ_E_IO);
    cr_assert_eq(zoq_peft_save(ad, NULL, m, 2, err, sizeof err), ZOQ_E_IO);
    cr_assert(strstr(err, "could not be synced"), "%s", err);
    fsync_dir_errno = EINVAL; /* a file system without folder sync: nothing to make durable */
    cr_assert_eq(write_st(path_in("w.safetensors")), ZOQ_OK);
    fsync_dir_errno = 0;
}

/* One error channel: every failing context-free call leaves its message for
 * zoq_last_error(NULL); a message buffer, where a call takes one, and the
 * writer's own last error hold the same text. */
Test(io, failures_leave_their_message_on_the_thread)
{
    char err[256] = "untouched";
    zoq_st *st = NULL;
    cr_assert_eq(zoq_st_open(path_in("missing.safetensors"), &st, err, sizeof err), ZOQ_E_IO);
    cr_expect(strstr(err, "missing.safetensors") != NULL, "%s", err);
    cr_expect_str_eq(zoq_last_error(NULL), err);
    static const unsigned char junk[16] = {4, 0, 0, 0, 0, 0, 0, 0, '[', ']', ' ', ' '};
    cr_assert_eq(zoq_st_open_memory(junk, 12, &st, NULL, 0), ZOQ_E_FORMAT);
    cr_expect(strstr(zoq_last_error(NULL), "'{'") != NULL, "%s", zoq_last_error(NULL));

    zoq_st_writer *w;
    cr_assert_eq(zoq_st_writer_create(&w), ZOQ_OK);
    const float x[2] = {1, 2};
    const int64_t shape[1] = {2};
    cr_assert_eq(zoq_st_writer_add(w, "x", 1, shape, x, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_OK);
    cr_assert_eq(zoq_st_writer_add(w, "x", 1, shape, x, ZOQ_ST_F32, ZOQ_ST_F32), ZOQ_E_EXISTS);
    cr_expect(strstr(zoq_last_error(NULL), "'x'") != NULL, "%s", zoq_last_error(NULL));
    cr_expect_str_eq(zoq_st_writer_last_error(w), zoq_last_error(NULL));
    cr_assert_eq(zoq_st_writer_write(w, path_in("a.safetensors")), ZOQ_OK);
    cr_assert_eq(zoq_st_open(path_in("a.safetensors"), &st, NULL, 0), ZOQ_OK);
    int64_t i;
    cr_expect_eq(zoq_st_find(st, "nope", &i), ZOQ_E_NOT_FOUND);
    cr_expect_str_eq(zoq_last_error(NULL), "no tensor 'nope' in the file");
    float y[3];
    cr_expect_eq(zoq_st_read(st, 0, ZOQ_ST_F32, y, sizeof y), ZOQ_E_INVALID);
    cr_expect(strstr(zoq_last_error(NULL), "needs 8 bytes") != NULL, "%s", zoq_last_error(NULL));
    zoq_st_info_t small = {.size = 3};
    cr_expect_eq(zoq_st_info(st, 0, &small), ZOQ_E_INVALID);
    cr_expect(strstr(zoq_last_error(NULL), "size 3") != NULL, "%s", zoq_last_error(NULL));
    zoq_st_free(st);
    zoq_st_writer_free(w);
}
