/* test_state.c - optimizer state files: resume equality bit for bit, atomic
 * writes, and refusal of corrupt, truncated or mismatched files with the
 * context left unchanged. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "zoq.h"

#define N 2048

typedef struct model {
    float w[N];
} model;

/* A non-trivial smooth loss: Σ (w_i − sin i)² + 0.1 Σ w_i⁴ */
static int objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    const model *m = user;
    double s = 0;
    for (int i = 0; i < N; i++) {
        double d = m->w[i] - sin((double)i);
        s += d * d + 0.1 * (double)m->w[i] * m->w[i] * m->w[i] * m->w[i];
    }
    *loss = s;
    return 0;
}

static zoq_ctx *configured(model *m)
{
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "w", m->w, ZOQ_F32, N, NULL), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, objective, m), ZOQ_OK);
    return ctx;
}

static void set_run_options(zoq_ctx *ctx)
{
    zoq_set_int(ctx, ZOQ_OPT_SEED, 31337);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 3);
    zoq_set_double(ctx, ZOQ_OPT_LR, 2e-4);
    zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-2);
    zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, 0.01);
    zoq_set_int(ctx, ZOQ_OPT_TOTAL_STEPS, 40);
    zoq_set_int(ctx, ZOQ_OPT_LR_SCHEDULE, ZOQ_SCHED_COSINE);
    zoq_set_int(ctx, ZOQ_OPT_LR_WARMUP, 5);
    zoq_set_int(ctx, ZOQ_OPT_EPS_SCHEDULE, ZOQ_SCHED_LINEAR);
    zoq_set_double(ctx, ZOQ_OPT_EPS_FINAL, 1e-3);
}

static char dir[64];
static char path[96];

static void make_dir(void)
{
    strcpy(dir, "/tmp/zoq-state-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/opt.zoqstate", dir);
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

TestSuite(state, .init = make_dir, .fini = remove_dir);

Test(state, resume_equals_an_uninterrupted_run_bit_for_bit)
{
    static model a, b;
    for (int i = 0; i < N; i++)
        a.w[i] = b.w[i] = 0.01f * (float)(i % 13);
    zoq_ctx *ca = configured(&a);
    set_run_options(ca);
    for (int t = 0; t < 40; t++)
        cr_assert_eq(zoq_step(ca, NULL), ZOQ_OK);

    zoq_ctx *cb = configured(&b);
    set_run_options(cb);
    for (int t = 0; t < 20; t++)
        cr_assert_eq(zoq_step(cb, NULL), ZOQ_OK);
    cr_assert_eq(zoq_state_save(cb, path), ZOQ_OK, "%s", zoq_last_error(cb));
    zoq_destroy(cb);

    cb = configured(&b); /* a fresh context with default options */
    cr_assert_eq(zoq_state_load(cb, path), ZOQ_OK, "%s", zoq_last_error(cb));
    uint64_t step;
    zoq_get_step(cb, &step);
    cr_assert_eq(step, 20);
    for (int t = 0; t < 20; t++)
        cr_assert_eq(zoq_step(cb, NULL), ZOQ_OK);
    cr_assert(memcmp(a.w, b.w, sizeof a.w) == 0, "resumed run differs");
    double lr;
    zoq_get_double(cb, ZOQ_OPT_LR, &lr);
    cr_assert_eq(lr, 2e-4);
    zoq_destroy(ca);
    zoq_destroy(cb);
}

Test(state, save_is_atomic_and_leaves_no_temporary)
{
    static model m;
    zoq_ctx *ctx = configured(&m);
    FILE *f = fopen(path, "wb");
    fputs("previous contents", f);
    fclose(f);
    cr_assert_eq(zoq_state_save(ctx, path), ZOQ_OK);
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
        files += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(files, 1, "a temporary file was left behind");
    cr_assert_eq(zoq_state_load(ctx, path), ZOQ_OK);
    char bad[128];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", dir);
    cr_assert_eq(zoq_state_save(ctx, bad), ZOQ_E_IO);
    cr_assert(strstr(zoq_last_error(ctx), "no/such/dir"));
    cr_assert_eq(zoq_state_save(ctx, ""), ZOQ_E_INVALID);
    cr_assert_eq(zoq_state_load(ctx, bad), ZOQ_E_IO);
    zoq_destroy(ctx);
}

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *buf = malloc(*n);
    cr_assert_eq(fread(buf, 1, *n, f), *n);
    fclose(f);
    return buf;
}

static void spit(const char *p, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(p, "wb");
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* The context's observable state, to prove a refused load changed nothing. */
static void fingerprint(zoq_ctx *ctx, double out[4])
{
    uint64_t step;
    int64_t q;
    zoq_get_step(ctx, &step);
    zoq_get_int(ctx, ZOQ_OPT_QUERIES, &q);
    zoq_get_double(ctx, ZOQ_OPT_LR, &out[2]);
    zoq_get_double(ctx, ZOQ_OPT_EPS_FINAL, &out[3]);
    out[0] = (double)step;
    out[1] = (double)q;
}

/* Configures a context on m, takes one step, saves it to path; returns the
 * file's bytes (n of them) and the context in *ctx. */
static unsigned char *stepped_and_saved(model *m, zoq_ctx **ctx, size_t *n)
{
    *ctx = configured(m);
    set_run_options(*ctx);
    zoq_step(*ctx, NULL);
    cr_assert_eq(zoq_state_save(*ctx, path), ZOQ_OK);
    return slurp(path, n);
}

Test(state, corrupt_and_truncated_files_are_refused_without_change)
{
    static model m;
    zoq_ctx *ctx;
    size_t n;
    unsigned char *good = stepped_and_saved(&m, &ctx, &n);
    unsigned char *buf = malloc(n);
    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    zoq_ctx *fresh = configured(&m);
    double before[4], after[4];
    fingerprint(fresh, before);
    for (size_t i = 0; i < n; i++) { /* every single-byte corruption */
        memcpy(buf, good, n);
        buf[i] ^= 0x5A;
        spit(bad, buf, n);
        int rc = zoq_state_load(fresh, bad);
        cr_assert(rc == ZOQ_E_CHECKSUM || rc == ZOQ_E_FORMAT || rc == ZOQ_E_VERSION,
                  "byte %zu: status %d", i, rc);
        fingerprint(fresh, after);
        cr_assert(memcmp(before, after, sizeof before) == 0, "byte %zu changed the context", i);
    }
    for (size_t len = 0; len < n; len++) { /* every truncation */
        spit(bad, good, len);
        int rc = zoq_state_load(fresh, bad);
        cr_assert(rc == ZOQ_E_FORMAT, "length %zu: status %d", len, rc);
    }
    memcpy(buf, good, n); /* trailing garbage */
    spit(bad, buf, n);
    FILE *f = fopen(bad, "ab");
    fputc(0, f);
    fclose(f);
    cr_assert_eq(zoq_state_load(fresh, bad), ZOQ_E_FORMAT);
    fingerprint(fresh, after);
    cr_assert(memcmp(before, after, sizeof before) == 0);
    cr_assert_eq(zoq_state_load(fresh, path), ZOQ_OK, "the good file still loads");
    free(good);
    free(buf);
    zoq_destroy(ctx);
    zoq_destroy(fresh);
}

Test(state, mismatched_parameters_are_refused)
{
    static model m;
    float other[N], shorter[N - 1];
    zoq_ctx *ctx = configured(&m);
    cr_assert_eq(zoq_state_save(ctx, path), ZOQ_OK);
    zoq_ctx *c2;
    zoq_create(&c2);
    zoq_param_add(c2, "w", m.w, ZOQ_F32, N - 1, NULL);
    cr_assert_eq(zoq_state_load(c2, path), ZOQ_E_MISMATCH, "numel");
    cr_assert(strstr(zoq_last_error(c2), "'w'"));
    zoq_destroy(c2);
    zoq_create(&c2);
    zoq_param_add(c2, "w", m.w, ZOQ_F16, N, NULL);
    cr_assert_eq(zoq_state_load(c2, path), ZOQ_E_MISMATCH, "dtype");
    zoq_destroy(c2);
    zoq_create(&c2);
    zoq_param_add(c2, "v", other, ZOQ_F32, N, NULL);
    cr_assert_eq(zoq_state_load(c2, path), ZOQ_E_MISMATCH, "name");
    zoq_param_add(c2, "w", m.w, ZOQ_F32, N, NULL);
    cr_assert_eq(zoq_state_load(c2, path), ZOQ_E_MISMATCH, "count");
    zoq_destroy(c2);
    zoq_create(&c2);
    zoq_param_add(c2, "w", shorter, ZOQ_F32, N - 1, NULL);
    cr_assert_eq(zoq_state_load(c2, path), ZOQ_E_MISMATCH);
    cr_assert_eq(zoq_state_load(NULL, path), ZOQ_E_INVALID);
    cr_assert_eq(zoq_state_load(c2, NULL), ZOQ_E_INVALID);
    zoq_destroy(c2);
    zoq_destroy(ctx);
}

Test(state, other_files_are_not_state_files)
{
    static model m;
    zoq_ctx *ctx = configured(&m);
    spit(path, (const unsigned char *)"hello, this is not a zoq file at all....", 40);
    cr_assert_eq(zoq_state_load(ctx, path), ZOQ_E_FORMAT);
    cr_assert(strstr(zoq_last_error(ctx), "not a zoq state file"));
    zoq_destroy(ctx);
}

/* A file of RNG contract 1 or 2 (versions 1 and 2: the same layout, other
 * Gaussian directions) is refused with a message that says why, and changes
 * nothing, as is a version from the future; the file is a version 3 file
 * relabelled, its checksum made valid again, so the version is the only
 * reason to refuse it. */
Test(state, files_of_older_rng_contracts_are_refused)
{
    static model m;
    zoq_ctx *ctx;
    size_t n;
    unsigned char *buf = stepped_and_saved(&m, &ctx, &n);
    cr_assert_eq(buf[8], 3, "this library writes version 3");
    char old[128];
    snprintf(old, sizeof old, "%s/rng1", dir);
    for (unsigned version = 1; version <= 4; version += version == 2 ? 2 : 1) {
        buf[8] = (unsigned char)version;
        uint64_t h = XXH64(buf, n - 8, 0);
        for (int i = 0; i < 8; i++)
            buf[n - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
        spit(old, buf, n);
        zoq_ctx *fresh = configured(&m);
        double before[4], after[4];
        fingerprint(fresh, before);
        cr_assert_eq(zoq_state_load(fresh, old), ZOQ_E_VERSION, "version %u", version);
        const char *want = version == 1 ? "RNG contract 1" : version == 2 ? "RNG contract 2"
                                                                          : "version 4";
        cr_assert(strstr(zoq_last_error(fresh), want), "%s", zoq_last_error(fresh));
        fingerprint(fresh, after);
        cr_assert(memcmp(before, after, sizeof before) == 0, "version %u changed the context",
                  version);
        zoq_destroy(fresh);
    }
    free(buf);
    zoq_destroy(ctx);
}
