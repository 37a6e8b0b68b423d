/* test_core.c - version, status strings, context, options, registry, and
 * the growth rule of size-prefixed structs (lib/core/abi.h): every argument
 * check returns its status, a message, and changes nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/abi.h"
#include "zoq.h"

static zoq_ctx *ctx;
static void setup(void) { cr_assert_eq(zoq_create(&ctx), ZOQ_OK); }
static void teardown(void) { zoq_destroy(ctx); }

TestSuite(core, .init = setup, .fini = teardown);

Test(core, version_matches_header)
{
    cr_assert_eq(zoq_version_number(), ZOQ_VERSION_NUMBER);
    cr_assert_str_eq(zoq_version(), ZOQ_VERSION_STRING);
}

Test(core, status_strings_are_distinct)
{
    const int codes[] = {ZOQ_OK, ZOQ_STOPPED, ZOQ_E_INVALID, ZOQ_E_NOMEM, ZOQ_E_STATE,
                         ZOQ_E_NOT_FOUND, ZOQ_E_EXISTS, ZOQ_E_CALLBACK, ZOQ_E_NONFINITE, ZOQ_E_IO,
                         ZOQ_E_FORMAT, ZOQ_E_CHECKSUM, ZOQ_E_MISMATCH, ZOQ_E_UNSUPPORTED,
                         ZOQ_E_VERSION, ZOQ_E_THREAD};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_neq(zoq_strerror(codes[i]), "unknown status");
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(zoq_strerror(codes[i]), zoq_strerror(codes[j]));
    }
    cr_assert_str_eq(zoq_strerror(-999), "unknown status");
}

Test(core, status_values_are_pinned)
{
    cr_assert_eq(ZOQ_E_INVALID, -1);
    cr_assert_eq(ZOQ_E_THREAD, -14);
    cr_assert_eq(ZOQ_OPT_THREADS, 14);
    cr_assert_eq(ZOQ_BF16, 2);
}

Test(core, create_and_destroy_handle_null)
{
    cr_assert_eq(zoq_create(NULL), ZOQ_E_INVALID);
    zoq_destroy(NULL);
    cr_assert_str_eq(zoq_last_error(ctx), "");
    cr_assert_not_null(zoq_last_error(NULL));
}

Test(core, option_defaults)
{
    int64_t v;
    double d;
    cr_assert_eq(zoq_get_int(ctx, ZOQ_OPT_QUERIES, &v), ZOQ_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(zoq_get_int(ctx, ZOQ_OPT_ESTIMATOR, &v), ZOQ_OK);
    cr_assert_eq(v, ZOQ_EST_CENTRAL);
    cr_assert_eq(zoq_get_double(ctx, ZOQ_OPT_LR, &d), ZOQ_OK);
    cr_assert_float_eq(d, 1e-3, 0);
    cr_assert_eq(zoq_get_double(ctx, ZOQ_OPT_EPS, &d), ZOQ_OK);
    cr_assert_float_eq(d, 1e-3, 0);
}

Test(core, options_validate_and_keep_old_value)
{
    double d;
    int64_t v;
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, 0.0), ZOQ_E_INVALID);
    cr_assert(strstr(zoq_last_error(ctx), "eps"));
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_EPS, -1.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, NAN), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, INFINITY), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_WEIGHT_DECAY, -1e-9), ZOQ_E_INVALID);
    zoq_get_double(ctx, ZOQ_OPT_EPS, &d);
    cr_assert_float_eq(d, 1e-3, 0);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUERIES, 0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUERIES, 65537), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUERIES, 65536), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, 2), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_DIST, -1), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LR_SCHEDULE, 3), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_THREADS, -1), ZOQ_E_INVALID);
    cr_assert_eq(zoq_get_int(ctx, ZOQ_OPT_QUERIES, &v), ZOQ_OK);
    cr_assert_eq(v, 65536);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, -5), ZOQ_OK); /* any 64-bit pattern */
}

Test(core, options_are_typed_and_keyed)
{
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LR, 1), ZOQ_E_INVALID);
    cr_assert(strstr(zoq_last_error(ctx), "zoq_set_double"));
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_QUERIES, 2.0), ZOQ_E_INVALID);
    cr_assert_eq(zoq_set_int(ctx, 999, 1), ZOQ_E_NOT_FOUND);
    cr_assert_eq(zoq_set_int(ctx, 0, 1), ZOQ_E_NOT_FOUND);
    cr_assert_eq(zoq_set_int(NULL, ZOQ_OPT_QUERIES, 1), ZOQ_E_INVALID);
    int64_t v;
    cr_assert_eq(zoq_get_int(ctx, ZOQ_OPT_QUERIES, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_get_int(NULL, ZOQ_OPT_QUERIES, &v), ZOQ_E_INVALID);
}

Test(core, option_names_round_trip)
{
    for (int key = 1; key <= ZOQ_OPT_LOZO_INTERVAL; key++) {
        const char *name = zoq_opt_name(key);
        cr_assert_not_null(name, "key %d has no name", key);
        int k2, type;
        cr_assert_eq(zoq_opt_find(name, &k2, &type), ZOQ_OK);
        cr_assert_eq(k2, key);
        cr_assert(type == ZOQ_OPT_INT || type == ZOQ_OPT_DOUBLE);
    }
    int key, type;
    cr_assert_eq(zoq_opt_find("lr", &key, &type), ZOQ_OK);
    cr_assert_eq(key, ZOQ_OPT_LR);
    cr_assert_eq(type, ZOQ_OPT_DOUBLE);
    cr_assert_eq(zoq_opt_find("no_such", &key, NULL), ZOQ_E_NOT_FOUND);
    cr_assert_eq(zoq_opt_find(NULL, &key, NULL), ZOQ_E_INVALID);
    cr_assert_null(zoq_opt_name(0));
}

Test(core, register_and_find)
{
    float a[10], b[4];
    uint16_t h[6];
    int32_t id;
    cr_assert_eq(zoq_param_add(ctx, "a", a, ZOQ_F32, 10, &id), ZOQ_OK);
    cr_assert_eq(id, 0);
    cr_assert_eq(zoq_param_add(ctx, "b", b, ZOQ_F32, 4, &id), ZOQ_OK);
    cr_assert_eq(id, 1);
    cr_assert_eq(zoq_param_add(ctx, "h", h, ZOQ_F16, 6, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_count(ctx), 3);
    cr_assert_eq(zoq_param_find(ctx, "b", &id), ZOQ_OK);
    cr_assert_eq(id, 1);
    cr_assert_eq(zoq_param_find(ctx, "zz", &id), ZOQ_E_NOT_FOUND);
    int64_t n;
    cr_assert_eq(zoq_param_enabled_numel(ctx, &n), ZOQ_OK);
    cr_assert_eq(n, 20);
}

Test(core, register_refuses_bad_input_and_keeps_registry)
{
    float a[4];
    int32_t id = 77;
    cr_assert_eq(zoq_param_add(ctx, "a", a, ZOQ_F32, 4, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "a", a, ZOQ_F32, 4, &id), ZOQ_E_EXISTS);
    cr_assert(strstr(zoq_last_error(ctx), "'a'"));
    cr_assert_eq(zoq_param_add(ctx, "", a, ZOQ_F32, 4, &id), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_add(ctx, NULL, a, ZOQ_F32, 4, &id), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_add(ctx, "x", NULL, ZOQ_F32, 4, &id), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_add(ctx, "x", a, 7, 4, &id), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_add(ctx, "x", a, ZOQ_F32, 0, &id), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_add(ctx, "x", a, ZOQ_F32, -3, &id), ZOQ_E_INVALID);
    zoq_param_desc_t d = {.size = sizeof d, .name = "x", .data = a, .numel = 4, .device = 3};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, &id), ZOQ_E_UNSUPPORTED);
    d.device = ZOQ_DEVICE_CPU;
    d.flags = 0x100;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, &id), ZOQ_E_INVALID);
    d.flags = 0;
    d.size = sizeof d - 1;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, &id), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_add_desc(ctx, NULL, &id), ZOQ_E_INVALID);
    cr_assert_eq(id, 77, "id written on failure");
    cr_assert_eq(zoq_param_count(ctx), 1);
}

Test(core, desc_of_the_version_before_the_shape_fields_is_accepted)
{
    float a[6];
    zoq_param_desc_t d = {.size = offsetof(zoq_param_desc_t, rows), .name = "old", .data = a,
                          .numel = 6, .rows = 99, .cols = 99}; /* beyond its size: ignored */
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    float m[6];
    d = (zoq_param_desc_t){.size = sizeof d, .name = "m", .data = m, .numel = 6, .rows = 2,
                           .cols = 4};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_INVALID, "2 x 4 is not 6");
    d.cols = 3;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    float m2[6];
    d.name = "m2";
    d.data = m2;
    d.rows = 0;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_INVALID, "half a shape");
}

Test(core, larger_desc_with_zero_tail_is_accepted)
{
    struct {
        zoq_param_desc_t d;
        uint64_t future[2];
    } big = {{0}, {0, 0}};
    float a[4];
    big.d = (zoq_param_desc_t){.size = sizeof big, .name = "a", .data = a, .numel = 4};
    cr_assert_eq(zoq_param_add_desc(ctx, &big.d, NULL), ZOQ_OK);
    big.future[1] = 1;
    big.d.name = "b";
    cr_assert_eq(zoq_param_add_desc(ctx, &big.d, NULL), ZOQ_E_INVALID,
                 "a non-zero field this build does not know must be refused");
}

Test(core, groups_enable_and_disable)
{
    float q[4], k[4], v[4];
    zoq_param_desc_t d = {.size = sizeof d, .dtype = ZOQ_F32, .numel = 4};
    d.name = "l0.q"; d.data = q; d.group = "q_proj";
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    d.name = "l1.q"; d.data = k; d.group = "q_proj";
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    d.name = "l0.v"; d.data = v; d.group = "v_proj"; d.flags = ZOQ_PARAM_DISABLED;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    int64_t n;
    zoq_param_enabled_numel(ctx, &n);
    cr_assert_eq(n, 8);
    int32_t count;
    cr_assert_eq(zoq_group_set_enabled(ctx, "q_proj", 0, &count), ZOQ_OK);
    cr_assert_eq(count, 2);
    cr_assert_eq(zoq_group_set_enabled(ctx, "v_proj", 1, &count), ZOQ_OK);
    cr_assert_eq(count, 1);
    zoq_param_enabled_numel(ctx, &n);
    cr_assert_eq(n, 4);
    cr_assert_eq(zoq_group_set_enabled(ctx, "gate", 1, &count), ZOQ_E_NOT_FOUND);
    cr_assert_eq(count, 0);
    cr_assert_eq(zoq_param_set_enabled(ctx, 0, 1), ZOQ_OK);
    cr_assert_eq(zoq_param_set_enabled(ctx, 5, 1), ZOQ_E_NOT_FOUND);
    zoq_param_enabled_numel(ctx, &n);
    cr_assert_eq(n, 8);
}

Test(core, set_data_repoints_a_parameter)
{
    float a[4] = {0}, b[4] = {0};
    cr_assert_eq(zoq_param_add(ctx, "a", a, ZOQ_F32, 4, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_set_data(ctx, 0, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_param_set_data(ctx, 1, b), ZOQ_E_NOT_FOUND);
    cr_assert_eq(zoq_param_set_data(ctx, 0, b), ZOQ_OK);
}

/* One buffer registered twice, or two views sharing bytes, would be
 * perturbed and updated twice per step: refused, naming the other one. */
Test(core, overlapping_buffers_are_refused)
{
    float a[8] = {0}, b[4] = {0};
    uint16_t h[8] = {0};
    int32_t id = 77;
    cr_assert_eq(zoq_param_add(ctx, "a", a, ZOQ_F32, 8, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "again", a, ZOQ_F32, 8, &id), ZOQ_E_EXISTS);
    cr_assert(strstr(zoq_last_error(ctx), "'again'") && strstr(zoq_last_error(ctx), "'a'"),
              "%s", zoq_last_error(ctx));
    cr_assert_eq(zoq_param_add(ctx, "tail", a + 7, ZOQ_F32, 1, &id), ZOQ_E_EXISTS);
    cr_assert_eq(zoq_param_add(ctx, "half", (char *)a + 30, ZOQ_I8, 4, &id), ZOQ_E_EXISTS,
                 "2 of its 4 bytes are a[7]'s");
    cr_assert_eq(id, 77, "id written on failure");
    cr_assert_eq(zoq_param_count(ctx), 1);
    /* adjacent is not overlapping: a[8] ends where "next" would begin */
    cr_assert_eq(zoq_param_add(ctx, "b", b, ZOQ_F32, 4, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "h0", h, ZOQ_BF16, 4, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "h1", h + 4, ZOQ_BF16, 4, NULL), ZOQ_OK,
                 "%s", zoq_last_error(ctx));
    /* set_data: onto another parameter's bytes is refused, onto its own is fine */
    cr_assert_eq(zoq_param_set_data(ctx, 1, a + 2), ZOQ_E_EXISTS);
    cr_assert(strstr(zoq_last_error(ctx), "'b'") && strstr(zoq_last_error(ctx), "'a'"));
    cr_assert_eq(zoq_param_set_data(ctx, 1, b), ZOQ_OK);
    /* a CUDA tensor's address is in another space: not compared with host ones
     * (its registration fails here only for want of the plugin, not for overlap) */
    zoq_param_desc_t d = {.size = sizeof d, .name = "dev", .data = a, .numel = 8,
                          .device = ZOQ_DEVICE_CUDA};
    int rc = zoq_param_add_desc(ctx, &d, NULL);
    cr_assert_neq(rc, ZOQ_E_EXISTS, "%s", zoq_last_error(ctx));
}

/* ---- the growth rule of size-prefixed structs (lib/core/abi.h) ---------- */

/* Version 2 of a struct; version 1 ended after b (16 bytes on LP64). */
typedef struct v2 {
    size_t size;
    int32_t a, b;
    double c;                   /* since v2, default 7.5 */
    int64_t d;                  /* since v2, default -3 */
} v2;
typedef struct v1 {
    size_t size;
    int32_t a, b;
} v1;

static v2 v2_defaults(void)
{
    return (v2){.size = 0, .a = 0, .b = 0, .c = 7.5, .d = -3};
}

Test(core, sized_in_accepts_an_older_struct_and_defaults_the_rest)
{
    const v1 old = {.size = sizeof old, .a = 11, .b = -12};
    v2 got = v2_defaults();
    cr_assert_eq(zoq__sized_in(ctx, "v", &got, &old, sizeof got), ZOQ_OK, "%s",
                 zoq_last_error(ctx));
    cr_expect_eq(got.size, sizeof got, "the copy is of this build's size");
    cr_expect_eq(got.a, 11);
    cr_expect_eq(got.b, -12);
    cr_expect_eq(got.c, 7.5, "a field the old struct does not reach keeps its default");
    cr_expect_eq(got.d, -3);
    /* the bytes of the caller's stack past its struct are never read: a v1 in
     * a buffer whose next bytes are set still reads the defaults */
    struct {
        v1 s;
        unsigned char after[16];
    } buf;
    memset(&buf, 0xA5, sizeof buf);
    buf.s = (v1){.size = sizeof buf.s, .a = 1, .b = 2};
    got = v2_defaults();
    cr_assert_eq(zoq__sized_in(NULL, "v", &got, &buf.s, sizeof got), ZOQ_OK);
    cr_expect_eq(got.c, 7.5);
    cr_expect_eq(got.d, -3);
}

Test(core, sized_in_takes_a_newer_struct_only_with_a_zero_tail)
{
    struct {
        v2 s;
        uint64_t future[2];
    } big = {{0}, {0, 0}};
    big.s = (v2){.size = sizeof big, .a = 1, .b = 2, .c = 3.0, .d = 4};
    v2 got = v2_defaults();
    cr_assert_eq(zoq__sized_in(ctx, "v", &got, &big, sizeof got), ZOQ_OK);
    cr_expect_eq(got.size, sizeof got);
    cr_expect_eq(got.c, 3.0);
    cr_expect_eq(got.d, 4);
    big.future[1] = 1;
    got = v2_defaults();
    cr_assert_eq(zoq__sized_in(ctx, "v", &got, &big, sizeof got), ZOQ_E_INVALID);
    char want[64];
    snprintf(want, sizeof want, "v: size %zu is larger than this build's %zu", sizeof big,
             sizeof got);
    cr_expect(strstr(zoq_last_error(ctx), want) != NULL, "%s", zoq_last_error(ctx));
    cr_expect_eq(got.c, 7.5, "nothing copied on error");
    cr_expect_eq(got.size, 0);
}

Test(core, sized_in_refuses_sizes_of_no_version)
{
    const size_t bad[] = {0, 1, sizeof(size_t) - 1, sizeof(size_t) + 1, sizeof(v2) - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v2 in = {.size = bad[i], .a = 5, .b = 6, .c = 1.0, .d = 2};
        v2 got = v2_defaults();
        cr_expect_eq(zoq__sized_in(NULL, "thing", &got, &in, sizeof got), ZOQ_E_INVALID,
                     "size %zu", bad[i]);
        cr_expect(strstr(zoq_last_error(NULL), "thing: size ") != NULL, "%s",
                  zoq_last_error(NULL));
        cr_expect_eq(got.a, 0, "size %zu: nothing copied", bad[i]);
    }
    v2 got = v2_defaults();
    cr_expect_eq(zoq__sized_in(ctx, "thing", &got, NULL, sizeof got), ZOQ_E_INVALID);
    cr_expect_str_eq(zoq_last_error(ctx), "thing is NULL");
    /* the smallest version: the size field alone */
    const size_t only = sizeof(size_t);
    cr_expect_eq(zoq__sized_in(ctx, "thing", &got, &only, sizeof got), ZOQ_OK);
    cr_expect_eq(got.c, 7.5);
}

Test(core, sized_out_writes_only_what_the_callers_struct_holds)
{
    const v2 full = {.size = sizeof full, .a = 1, .b = 2, .c = 3.0, .d = 4};
    struct {
        v1 s;
        int64_t after;
    } small = {{.size = sizeof small.s, .a = 0, .b = 0}, 77};
    cr_assert_eq(zoq__sized_out_ok(ctx, "out", &small.s, sizeof full), ZOQ_OK);
    zoq__sized_out(&small.s, &full, sizeof full);
    cr_expect_eq(small.s.size, sizeof small.s, "the caller's size is kept");
    cr_expect_eq(small.s.a, 1);
    cr_expect_eq(small.s.b, 2);
    cr_expect_eq(small.after, 77, "nothing written past the caller's struct");
    /* a newer caller's struct: its unknown tail is left as it is, set or not */
    struct {
        v2 s;
        int64_t future;
    } big = {{.size = sizeof big}, 55};
    cr_assert_eq(zoq__sized_out_ok(ctx, "out", &big, sizeof full), ZOQ_OK);
    zoq__sized_out(&big, &full, sizeof full);
    cr_expect_eq(big.s.size, sizeof big);
    cr_expect_eq(big.s.d, 4);
    cr_expect_eq(big.future, 55);
    v1 bad = {.size = 3};
    cr_expect_eq(zoq__sized_out_ok(ctx, "out", &bad, sizeof full), ZOQ_E_INVALID);
    cr_expect_eq(zoq__sized_out_ok(ctx, "out", NULL, sizeof full), ZOQ_E_INVALID);
}

Test(core, an_older_report_gets_the_fields_it_has)
{
    float w[4] = {1, 2, 3, 4};
    cr_assert_eq(zoq_param_add(ctx, "w", w, ZOQ_F32, 4, NULL), ZOQ_OK);
    const zoq_point_t *pts;
    int32_t n;
    cr_assert_eq(zoq_ask(ctx, &pts, &n), ZOQ_OK);
    double losses[2] = {1.0, 0.5};
    cr_assert_eq(n, 2);
    struct {
        zoq_report_t r;
        int64_t after;
    } old;
    memset(&old, 0x7F, sizeof old);
    old.r.size = offsetof(zoq_report_t, applied); /* a caller from before `applied` */
    cr_assert_eq(zoq_tell(ctx, losses, n, &old.r), ZOQ_OK, "%s", zoq_last_error(ctx));
    cr_expect_eq(old.r.size, offsetof(zoq_report_t, applied));
    cr_expect_eq(old.r.n_points, 2);
    cr_expect_eq(old.r.loss, 0.75);
    int32_t untouched;
    memset(&untouched, 0x7F, sizeof untouched);
    cr_expect_eq(old.r.applied, untouched, "a field past the caller's size is not written");
    cr_expect_eq(old.r.n_clipped, untouched);
}


/* zoq_param_desc_t.stride: the size of the 0.1 struct (before the stride)
 * still registers, as dense; bad strides are refused with their status. */
Test(core, strided_views_are_checked)
{
    unsigned char blocks[10 * 20] = {0};
    zoq_param_desc_t d = {.size = offsetof(zoq_param_desc_t, stride), .name = "v01",
                          .data = blocks, .dtype = ZOQ_F16, .numel = 4, .stride = -5};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "the 0.1 size ignores the stride: "
                 "%s", zoq_last_error(ctx));
    d = (zoq_param_desc_t){.size = sizeof d, .name = "s", .data = blocks + 20, .dtype = ZOQ_F16,
                           .numel = 8, .stride = 1};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_INVALID, "stride below the element");
    d.stride = -20;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_INVALID, "negative stride");
    d.stride = INT64_MAX / 2;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_INVALID, "span beyond int64");
    d.stride = 20;
    d.dtype = ZOQ_I8;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_UNSUPPORTED, "strided codes");
    d.dtype = ZOQ_F16;
    d.device = ZOQ_DEVICE_CUDA; /* refused before any plugin is looked for */
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(zoq_last_error(ctx), "strided"), "%s", zoq_last_error(ctx));
    d.device = ZOQ_DEVICE_CPU;
    cr_assert_eq(zoq_param_count(ctx), 1);
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
}

/* Strided views are compared element by element: views interleaved in one
 * buffer (a block's d and m, or its codes) are separate parameters; a view
 * sharing one byte with another is refused. Blocks of 20 bytes at buf + 20:
 * d at 0, m at 2, 16 code bytes at 4. */
Test(core, overlap_check_knows_strides)
{
    unsigned char buf[12 * 20];
    unsigned char *blk = buf + 20;
    zoq_param_desc_t d = {.size = sizeof d, .name = "d", .data = blk, .dtype = ZOQ_F16,
                          .numel = 10, .stride = 20};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK);
    d.name = "m";
    d.data = blk + 2;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    d.name = "codes0"; /* the 16 code bytes of block 0, as one dense i8 tensor */
    d.data = blk + 4;
    d.dtype = ZOQ_I8;
    d.numel = 16;
    d.stride = 0;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    d.name = "codes0+d1"; /* one byte more: block 1's d */
    d.numel = 17;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_EXISTS);
    cr_assert(strstr(zoq_last_error(ctx), "'d'"), "%s", zoq_last_error(ctx));
    d = (zoq_param_desc_t){.size = sizeof d, .name = "half", .data = blk + 3, .dtype = ZOQ_BF16,
                           .numel = 3, .stride = 40}; /* m's second byte */
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_EXISTS);
    d.name = "other_stride"; /* bytes 4 + 60k: codes of blocks 3, 6, 9 only */
    d.data = blk + 64;
    d.numel = 3;
    d.stride = 60;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    d.name = "last_d"; /* codes of block 8, then the d of block 9, at an odd stride */
    d.data = blk + 9 * 20 - 2 * 7;
    d.numel = 3;
    d.stride = 7;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_EXISTS);
    d.data = buf; /* the block before, dense: ends where "d" starts */
    d.name = "before";
    d.dtype = ZOQ_F32;
    d.numel = 5;
    d.stride = 0;
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    cr_assert_eq(zoq_param_count(ctx), 5);
    /* set_data keeps the stride: "m" moved onto "d"'s elements is refused */
    cr_assert_eq(zoq_param_set_data(ctx, 1, blk + 1), ZOQ_E_EXISTS);
    cr_assert_eq(zoq_param_set_data(ctx, 1, blk + 2), ZOQ_OK);
}
