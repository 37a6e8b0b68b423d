/* test_tech.c - the technique descriptors of lib/tech/: every option key
 * has at most one owner and is a real option, stages are ones backends
 * know, and the one plan-time check refuses each declared conflict and
 * requirement (with both names in the message) and nothing else. */
#include <criterion/criterion.h>
#include <string.h>

#include "tech/tech.h"

static const zoq__tech *const all[] = {
#define ZOQ__TECH(name) &zoq__tech_##name,
#include "tech/list.h"
#undef ZOQ__TECH
};
#define N_TECH ((int)(sizeof all / sizeof all[0]))

Test(tech, keys_have_one_owner_and_exist)
{
    cr_assert_eq(N_TECH, ZOQ__TECH_COUNT);
    int owner[4096];
    memset(owner, -1, sizeof owner);
    for (int i = 0; i < N_TECH; i++) {
        cr_assert(all[i]->name && all[i]->active && all[i]->keys, "%d", i);
        for (const int *k = all[i]->keys; *k; k++) {
            int type;
            int found = 0;
            for (size_t j = 0; j < zoq__opt_count(); j++)
                found |= zoq__opt_key_at(j, &type) == *k;
            cr_assert(found, "%s owns key %d, which is no option", all[i]->name, *k);
            cr_assert_eq(owner[*k], -1, "key %d owned by %s and %s", *k,
                         owner[*k] >= 0 ? all[owner[*k]]->name : "", all[i]->name);
            owner[*k] = i;
        }
        cr_assert_eq(all[i]->stages >> ZOQ__STAGE_COUNT, 0u, "%s", all[i]->name);
        cr_assert_eq(all[i]->conflicts >> ZOQ__TECH_COUNT, 0u, "%s", all[i]->name);
    }
}

/* A context with one f32 tensor, plus one ZOQ_I8 tensor when codes. */
static zoq_ctx *context(int codes, float *w, int8_t *q)
{
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(ctx, "w", w, ZOQ_F32, 16, NULL), ZOQ_OK);
    if (codes)
        cr_assert_eq(zoq_param_add(ctx, "q", q, ZOQ_I8, 16, NULL), ZOQ_OK);
    return ctx;
}

/* zoq_ask's status, and the message in msg. */
static int ask(zoq_ctx *ctx, char *msg)
{
    const zoq_point_t *pts;
    int32_t n;
    int rc = zoq_ask(ctx, &pts, &n);
    strcpy(msg, zoq_last_error(ctx));
    if (rc == ZOQ_OK)
        cr_assert_eq(zoq_cancel(ctx), ZOQ_OK);
    return rc;
}

Test(tech, codes_conflicts_are_refused_at_plan_time)
{
    float w[16] = {0};
    int8_t q[16] = {0};
    char msg[ZOQ__ERRMSG_CAP];
    const struct {
        int key;
        int64_t value;
        const char *name;
    } cases[] = {
        {ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM, "momentum"},
        {ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM, "Adam"},
        {ZOQ_OPT_HESSIAN, 1, "HiZOO"},
        {ZOQ_OPT_SPARSE, ZOQ_SPARSE_RANDOM, "sparse"},
        {ZOQ_OPT_LOZO_RANK, 2, "LoZO"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int codes = 0; codes <= 1; codes++) {
            zoq_ctx *ctx = context(codes, w, q);
            cr_assert_eq(zoq_set_int(ctx, cases[i].key, cases[i].value), ZOQ_OK);
            int rc = ask(ctx, msg);
            if (!codes) { /* alone it plans */
                cr_assert_eq(rc, ZOQ_OK, "%s: %s", cases[i].name, msg);
            } else {
                cr_assert_eq(rc, ZOQ_E_INVALID, "%s", cases[i].name);
                cr_assert(strstr(msg, cases[i].name) && strstr(msg, "ZOQ_I8"), "%s", msg);
            }
            zoq_destroy(ctx);
        }
    }
}

Test(tech, hizoo_needs_the_central_estimator)
{
    float w[16] = {0};
    char msg[ZOQ__ERRMSG_CAP];
    zoq_ctx *ctx = context(0, w, NULL);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 1), ZOQ_OK);
    cr_assert_eq(ask(ctx, msg), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, ZOQ_EST_FORWARD), ZOQ_OK);
    cr_assert_eq(ask(ctx, msg), ZOQ_E_INVALID);
    cr_assert(strstr(msg, "HiZOO") && strstr(msg, "central"), "%s", msg);
    zoq_destroy(ctx);
}

Test(tech, host_only_tensors_are_refused_on_a_device)
{
    zoq_ctx *ctx;
    int8_t q[16] = {0};
    float s[4] = {1, 1, 1, 1};
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "q", .data = q, .dtype = ZOQ_I8,
                          .device = ZOQ_DEVICE_CUDA, .numel = 16};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(zoq_last_error(ctx), "ZOQ_I8") && strstr(zoq_last_error(ctx), "CPU only"));
    d = (zoq_param_desc_t){.size = sizeof d, .name = "s", .data = s, .dtype = ZOQ_F32,
                           .device = ZOQ_DEVICE_CUDA, .numel = 4, .flags = ZOQ_PARAM_SCALE};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(zoq_last_error(ctx), "ZOQ_PARAM_SCALE"), "%s", zoq_last_error(ctx));
    zoq_destroy(ctx);
}

/* ZO-SGD-Sign weighs a direction by sign(g), taken after DDC's clip. */
Test(tech, sign_weighs_by_the_sign_after_ddc)
{
    float w[16] = {0};
    zoq_ctx *ctx = context(0, w, NULL);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_CLIP, 1.0), ZOQ_OK);
    const double g[] = {5.0, -0.25, 0.0, -7.0};
    const double clipped[] = {1.0, -0.25, 0.0, -1.0}, signs[] = {1.0, -1.0, 0.0, -1.0};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(zoq__tech_weigh(ctx, g[i]), clipped[i], "g %g", g[i]);
    cr_assert_eq(ctx->plan.n_clipped, 2);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SIGN, 1), ZOQ_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(zoq__tech_weigh(ctx, g[i]), signs[i], "g %g", g[i]);
    zoq_destroy(ctx);
}
