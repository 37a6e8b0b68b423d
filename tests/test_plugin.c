/* test_plugin.c - backend plugins on a machine without a GPU: the loader's
 * search path and refusals (ABI version, short interface, missing entry
 * point, no device, the current directory), the defaults of optional slots,
 * and whole training trajectories through a plugin (tests/plugin/mock.c: the
 * CPU kernels behind the plugin ABI, with its own "device" memory) equal bit
 * for bit to the CPU path. ZOQ_TEST_PLUGINS is the folder of the variants. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/plugin.h"
#include "core/convert.h"
#include "zoq.h"

#define DIR(variant) ZOQ_TEST_PLUGINS "/" variant

/* Registers a 4-element f32 parameter on CUDA with ZOQ_BACKEND_PATH = path
 * (NULL: unset); returns the status, the message in msg. */
static int add_cuda(const char *path, char *msg, size_t cap)
{
    if (path)
        cr_assert_eq(setenv("ZOQ_BACKEND_PATH", path, 1), 0);
    else
        unsetenv("ZOQ_BACKEND_PATH");
    static float x[4];
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "w", .data = x, .dtype = ZOQ_F32,
                          .device = ZOQ_DEVICE_CUDA, .numel = 4};
    int rc = zoq_param_add_desc(ctx, &d, NULL);
    snprintf(msg, cap, "%s", zoq_last_error(ctx));
    cr_assert_eq(zoq_param_count(ctx), rc == ZOQ_OK ? 1 : 0);
    zoq_destroy(ctx);
    return rc;
}

Test(plugin, loads_from_the_first_absolute_directory_that_has_one)
{
    char msg[512];
    cr_assert_eq(add_cuda("/nonexistent/zoq:" DIR("full"), msg, sizeof msg), ZOQ_OK, "%s", msg);
    cr_assert_eq(add_cuda(DIR("full") ":" DIR("old_abi"), msg, sizeof msg), ZOQ_OK, "%s", msg);
}

Test(plugin, missing_plugin_is_unsupported_and_says_where_it_looked)
{
    char msg[512];
    cr_assert_eq(add_cuda("/nonexistent/a:/nonexistent/b", msg, sizeof msg), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(msg, "libzoq-cuda.so") && strstr(msg, "/nonexistent/a:/nonexistent/b"),
              "%s", msg);
}

Test(plugin, never_loads_from_the_current_directory)
{
    char msg[512];
    cr_assert_eq(chdir(DIR("full")), 0);
    cr_assert_eq(access("libzoq-cuda.so", F_OK), 0); /* it is right here */
    const char *paths[] = {"", ".", "./", ":", "full", "../full", ":.:"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        cr_assert_eq(add_cuda(paths[i], msg, sizeof msg), ZOQ_E_UNSUPPORTED, "'%s': %s",
                     paths[i], msg);
    /* unset: libzoq's own folder, which for this static test binary is not this one */
    cr_assert_eq(add_cuda(NULL, msg, sizeof msg), ZOQ_E_UNSUPPORTED, "%s", msg);
}

Test(plugin, refuses_another_abi_version)
{
    char msg[512];
    cr_assert_eq(add_cuda(DIR("old_abi"), msg, sizeof msg), ZOQ_E_VERSION);
    cr_assert(strstr(msg, "ABI 99") && strstr(msg, "rebuild"), "%s", msg);
    /* the first file found is the one judged: no falling through to a good one */
    cr_assert_eq(add_cuda(DIR("old_abi") ":" DIR("full"), msg, sizeof msg), ZOQ_E_VERSION);
}

Test(plugin, refuses_an_interface_without_the_required_slots)
{
    char msg[512];
    cr_assert_eq(add_cuda(DIR("short"), msg, sizeof msg), ZOQ_E_VERSION);
    cr_assert(strstr(msg, "lacks required slots"), "%s", msg);
}

Test(plugin, refuses_a_library_without_the_entry_point)
{
    char msg[512];
    cr_assert_eq(add_cuda(DIR("no_entry"), msg, sizeof msg), ZOQ_E_VERSION);
    cr_assert(strstr(msg, "zoq_backend_plugin") && strstr(msg, "not a zoq backend"), "%s", msg);
}

Test(plugin, no_device_is_unsupported_with_the_plugins_reason)
{
    char msg[512];
    cr_assert_eq(add_cuda(DIR("no_device"), msg, sizeof msg), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(msg, "no CUDA device (mock)"), "%s", msg);
}

Test(plugin, unknown_device_is_unsupported)
{
    float x[2] = {0};
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "w", .data = x, .dtype = ZOQ_F32,
                          .device = 7, .numel = 2};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_E_UNSUPPORTED);
    zoq_destroy(ctx);
}

Test(plugin, optional_slots_get_host_defaults)
{
    char err[256];
    zoq__plugin *pl;
    cr_assert_eq(setenv("ZOQ_BACKEND_PATH", DIR("minimal"), 1), 0);
    cr_assert_eq(zoq__plugin_load("cuda", &pl, err, sizeof err), ZOQ_OK, "%s", err);
    cr_assert_eq(pl->iface.size, sizeof(zoq__backend_iface));
    cr_assert(pl->iface.alloc); /* the default: calling the mock's poisoned slot would crash */
    void *buf;
    cr_assert_eq(pl->iface.alloc(pl->be, 64, &buf), ZOQ_OK);
    float src[16], back[16];
    for (int i = 0; i < 16; i++)
        src[i] = (float)i;
    cr_assert_eq(((float *)buf)[15], 0.0f); /* zeroed */
    cr_assert_eq(pl->iface.upload(pl->be, buf, src, sizeof src), ZOQ_OK);
    cr_assert_eq(pl->iface.download(pl->be, back, buf, sizeof back), ZOQ_OK);
    cr_assert_arr_eq(back, src, sizeof src);
    pl->iface.release(pl->be, buf);
    cr_assert_str_eq(pl->iface.last_error(pl->be), "");
    cr_assert_str_eq(pl->iface.name, "mock");
    zoq__plugin_unload(pl);
}

/* ---- trajectories --------------------------------------------------------- */

#define NT 3
static const int64_t numel[NT] = {1000, 517, 300};
static const int dtypes[NT] = {ZOQ_F32, ZOQ_F16, ZOQ_BF16};

typedef struct model {
    void *data[NT];
} model;

/* L = sum_t sum_i (1 + i % 7) (x_i - sin(0.1 i + t))^2 / 2, in double. */
static int model_loss(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    const model *m = user;
    double s = 0;
    for (int t = 0; t < NT; t++)
        for (int64_t i = 0; i < numel[t]; i++) {
            double d = zoq__load_f32(m->data[t], dtypes[t], i) - sin(0.1 * (double)i + t);
            s += 0.5 * (double)(1 + i % 7) * d * d;
        }
    *loss = s;
    return 0;
}

typedef struct config {
    int optimizer, dist, hessian, sparse, accumulate, lozo, queries;
} config;

static const config configs[] = {
    {ZOQ_OPTIM_SGD, ZOQ_DIST_GAUSSIAN, 0, ZOQ_SPARSE_OFF, 1, 0, 1},
    {ZOQ_OPTIM_MOMENTUM, ZOQ_DIST_RADEMACHER, 0, ZOQ_SPARSE_OFF, 2, 0, 2},
    {ZOQ_OPTIM_ADAM, ZOQ_DIST_GAUSSIAN, 1, ZOQ_SPARSE_OFF, 1, 0, 2},
    {ZOQ_OPTIM_ADAM, ZOQ_DIST_GAUSSIAN, 0, ZOQ_SPARSE_MAGNITUDE, 1, 0, 1},
    {ZOQ_OPTIM_MOMENTUM, ZOQ_DIST_GAUSSIAN, 1, ZOQ_SPARSE_RANDOM, 2, 0, 3},
    {ZOQ_OPTIM_SGD, ZOQ_DIST_GAUSSIAN, 0, ZOQ_SPARSE_OFF, 1, 4, 2},
};

/* A context training config c on a model whose tensor t lives on device[t]. */
static zoq_ctx *model_ctx(const config *c, const int device[NT], model *m)
{
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    for (int t = 0; t < NT; t++) {
        size_t width = dtypes[t] == ZOQ_F32 ? 4 : 2;
        m->data[t] = calloc((size_t)numel[t], width);
        char name[16];
        snprintf(name, sizeof name, "t%d", t);
        zoq_param_desc_t d = {.size = sizeof d, .name = name, .data = m->data[t],
                              .dtype = dtypes[t], .device = device[t], .numel = numel[t],
                              .rows = t == 2 ? 20 : 0, .cols = t == 2 ? 15 : 0};
        cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
        cr_assert_eq(zoq_param_init_normal(ctx, t, 0.5), ZOQ_OK);
    }
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, 77), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, c->optimizer), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_DIST, c->dist), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_HESSIAN, c->hessian), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_HESSIAN_ALPHA, 1e-3), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SPARSE, c->sparse), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, c->accumulate), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_LOZO_RANK, c->lozo), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_QUERIES, c->queries), ZOQ_OK);
    cr_assert_eq(zoq_set_double(ctx, ZOQ_OPT_LR, 1e-3), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(ctx, model_loss, m), ZOQ_OK);
    return ctx;
}

/* Runs 6 in-place steps and 2 ask/tell steps of config c on a model whose
 * tensor t lives on device[t]; leaves the parameters in m and returns the
 * sum of the reported losses and of some point noise. */
static double trajectory(const config *c, const int device[NT], model *m)
{
    zoq_ctx *ctx = model_ctx(c, device, m);
    double sum = 0;
    for (int s = 0; s < 6; s++) {
        zoq_report_t r = {.size = sizeof r};
        cr_assert_eq(zoq_step(ctx, &r), ZOQ_OK, "%s", zoq_last_error(ctx));
        sum += r.loss;
    }
    for (int s = 0; s < 2; s++) {
        const zoq_point_t *pts;
        int32_t n;
        cr_assert_eq(zoq_ask(ctx, &pts, &n), ZOQ_OK, "%s", zoq_last_error(ctx));
        double losses[16];
        for (int i = 0; i < n; i++) { /* evaluate each point in a copy, as an engine would */
            model at;
            for (int t = 0; t < NT; t++) {
                at.data[t] = calloc((size_t)numel[t], 4);
                cr_assert_eq(zoq_materialize(ctx, i, t, at.data[t]), ZOQ_OK);
            }
            model_loss(&at, NULL, &losses[i]);
            for (int t = 0; t < NT; t++)
                free(at.data[t]);
        }
        float d0[8];
        cr_assert_eq(zoq_point_noise(ctx, 0, 0, 100, 8, d0), ZOQ_OK);
        for (int k = 0; k < 8; k++)
            sum += d0[k];
        zoq_report_t r = {.size = sizeof r};
        cr_assert_eq(zoq_tell(ctx, losses, n, &r), ZOQ_OK, "%s", zoq_last_error(ctx));
        sum += r.loss;
    }
    zoq_destroy(ctx);
    return sum;
}

static void free_model(model *m)
{
    for (int t = 0; t < NT; t++)
        free(m->data[t]);
}

/* Every config through devices dev equals the all-CPU run, bit for bit. */
static void same_as_cpu(const int dev[NT])
{
    cr_assert_eq(setenv("ZOQ_BACKEND_PATH", DIR("full"), 1), 0);
    const int cpu[NT] = {ZOQ_DEVICE_CPU, ZOQ_DEVICE_CPU, ZOQ_DEVICE_CPU};
    for (size_t k = 0; k < sizeof configs / sizeof *configs; k++) {
        model a, b;
        double la = trajectory(&configs[k], cpu, &a), lb = trajectory(&configs[k], dev, &b);
        cr_assert(memcmp(&la, &lb, sizeof la) == 0, "config %zu: losses %.17g vs %.17g", k, la,
                  lb);
        for (int t = 0; t < NT; t++)
            cr_assert(memcmp(a.data[t], b.data[t], (size_t)numel[t] * (t ? 2 : 4)) == 0,
                      "config %zu, tensor %d differs", k, t);
        free_model(&a);
        free_model(&b);
    }
}

Test(plugin, trajectories_through_the_plugin_equal_the_cpu_bit_for_bit)
{
    const int dev[NT] = {ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA};
    same_as_cpu(dev);
}

Test(plugin, a_context_can_mix_cpu_and_plugin_tensors)
{
    const int dev[NT] = {ZOQ_DEVICE_CPU, ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CPU};
    same_as_cpu(dev);
}

/* The buffers of CUDA tensors come from the plugin and all go back to it;
 * the plugin is unloaded with its context. */
Test(plugin, optimizer_buffers_live_in_plugin_memory)
{
    cr_assert_eq(setenv("ZOQ_BACKEND_PATH", DIR("full"), 1), 0);
    const int dev[NT] = {ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA};
    model m;
    zoq_ctx *ctx = model_ctx(&configs[2], dev, &m); /* Adam + HiZOO: m, v, sigma */
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    void *h = dlopen(DIR("full") "/libzoq-cuda.so", RTLD_NOW | RTLD_NOLOAD);
    cr_assert(h, "the context's plugin is loaded");
    void (*stats)(int *, int *, int *);
    void *sym = dlsym(h, "mock_stats");
    memcpy(&stats, &sym, sizeof stats);
    int allocs, live, copies;
    stats(&allocs, &live, &copies);
    cr_assert_eq(allocs, 3 * NT);
    cr_assert_eq(live, 3 * NT);
    cr_assert_eq(copies, NT); /* sigma's fill with 1 */
    cr_assert_eq(zoq_state_save(ctx, "/nonexistent/state"), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(zoq_last_error(ctx), "CUDA"), "%s", zoq_last_error(ctx));
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 0), ZOQ_OK);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    stats(&allocs, &live, &copies);
    cr_assert_eq(live, NT); /* momentum's b only */
    zoq_destroy(ctx);
    stats(&allocs, &live, &copies);
    cr_assert_eq(live, 0);
    dlclose(h);
    cr_assert(!dlopen(DIR("full") "/libzoq-cuda.so", RTLD_NOW | RTLD_NOLOAD),
              "the plugin stays loaded after its context is gone");
    free_model(&m);
}
