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
#include "plugin/trajectory.h"
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

/* The real plugin (built where nvcc is): it loads and passes the checks; on
 * a machine without a GPU its create says why, and registration fails. */
Test(plugin, the_cuda_plugin_loads_and_reports_a_missing_device)
{
#ifndef ZOQ_TEST_CUDA_PLUGIN_DIR
    cr_skip_test("no nvcc: the CUDA plugin is not built");
#else
    char msg[512];
    int rc = add_cuda(ZOQ_TEST_CUDA_PLUGIN_DIR, msg, sizeof msg);
    if (rc == ZOQ_OK)
        return; /* a GPU machine: make check-gpu compares it */
    cr_assert_eq(rc, ZOQ_E_UNSUPPORTED, "%s", msg);
    cr_assert(strstr(msg, ZOQ_TEST_CUDA_PLUGIN_DIR "/libzoq-cuda.so cannot start"), "%s", msg);
#endif
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
    zoq__plugin *pl;
    cr_assert_eq(setenv("ZOQ_BACKEND_PATH", DIR("minimal"), 1), 0);
    cr_assert_eq(zoq__plugin_load("cuda", &pl), ZOQ_OK, "%s", zoq_last_error(NULL));
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

/* A plugin that declares no stages (the minimal table) runs plain SGD, and
 * a step that needs a stage it lacks is refused when planned, naming the
 * technique, before anything moves. */
Test(plugin, a_step_needing_an_unsupported_stage_is_refused_at_plan_time)
{
    cr_assert_eq(setenv("ZOQ_BACKEND_PATH", DIR("minimal"), 1), 0);
    float x[4] = {1, 2, 3, 4}, before[4];
    memcpy(before, x, sizeof x);
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    zoq_param_desc_t d = {.size = sizeof d, .name = "w", .data = x, .dtype = ZOQ_F32,
                          .device = ZOQ_DEVICE_CUDA, .numel = 4};
    cr_assert_eq(zoq_param_add_desc(ctx, &d, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    const zoq_point_t *pts;
    int32_t n;
    cr_assert_eq(zoq_ask(ctx, &pts, &n), ZOQ_OK, "%s", zoq_last_error(ctx));
    cr_assert_eq(zoq_cancel(ctx), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM), ZOQ_OK);
    cr_assert_eq(zoq_ask(ctx, &pts, &n), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(zoq_last_error(ctx), "momentum") && strstr(zoq_last_error(ctx), "'w'"),
              "%s", zoq_last_error(ctx));
    cr_assert_arr_eq(x, before, sizeof x);
    zoq_destroy(ctx);
}

/* ---- trajectories --------------------------------------------------------- */

static void *host_alloc(size_t bytes)
{
    return calloc(1, bytes);
}

static void host_copy(void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
}

/* The mock's "device" memory is host memory: the engine reads it directly. */
static const traj_mem host = {host_alloc, free, host_copy};

/* Every configuration with tensors on dev equals the all-CPU run. */
static void same_as_cpu(const int dev[TRAJ_NT])
{
    cr_assert_eq(setenv("ZOQ_BACKEND_PATH", DIR("full"), 1), 0);
    for (int k = 0; k < TRAJ_NCONFIGS; k++) {
        char why[512];
        int rc = traj_compare(&traj_configs[k], dev, &host, &host, why, sizeof why);
        cr_assert_eq(rc, ZOQ_OK, "config %d: %s", k, why);
    }
}

Test(plugin, trajectories_through_the_plugin_equal_the_cpu_bit_for_bit)
{
    const int dev[TRAJ_NT] = {ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA};
    same_as_cpu(dev);
}

Test(plugin, a_context_can_mix_cpu_and_plugin_tensors)
{
    const int dev[TRAJ_NT] = {ZOQ_DEVICE_CPU, ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CPU};
    same_as_cpu(dev);
}

/* The buffers of CUDA tensors come from the plugin and all go back to it;
 * the plugin is unloaded with its context. */
Test(plugin, optimizer_buffers_live_in_plugin_memory)
{
    cr_assert_eq(setenv("ZOQ_BACKEND_PATH", DIR("full"), 1), 0);
    traj_model m;
    for (int t = 0; t < TRAJ_NT; t++) {
        m.device[t] = ZOQ_DEVICE_CUDA;
        m.mem[t] = &host;
    }
    zoq_ctx *ctx;
    char why[512];
    cr_assert_eq(traj_ctx(&traj_configs[2], &m, &ctx, why, sizeof why), ZOQ_OK, "%s", why);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx)); /* Adam, HiZOO */
    void *h = dlopen(DIR("full") "/libzoq-cuda.so", RTLD_NOW | RTLD_NOLOAD);
    cr_assert(h, "the context's plugin is loaded");
    void (*stats)(int *, int *, int *);
    void *sym = dlsym(h, "mock_stats");
    memcpy(&stats, &sym, sizeof stats);
    int allocs, live, copies;
    stats(&allocs, &live, &copies);
    cr_assert_eq(allocs, 3 * TRAJ_NT); /* m, v, sigma */
    cr_assert_eq(live, 3 * TRAJ_NT);
    cr_assert_eq(copies, TRAJ_NT); /* sigma's fill with 1 */
    cr_assert_eq(zoq_state_save(ctx, "/nonexistent/state"), ZOQ_E_UNSUPPORTED);
    cr_assert(strstr(zoq_last_error(ctx), "CUDA"), "%s", zoq_last_error(ctx));
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_MOMENTUM), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_HESSIAN, 0), ZOQ_OK);
    cr_assert_eq(zoq_step(ctx, NULL), ZOQ_OK, "%s", zoq_last_error(ctx));
    stats(&allocs, &live, &copies);
    cr_assert_eq(live, TRAJ_NT); /* momentum's b only */
    zoq_destroy(ctx);
    stats(&allocs, &live, &copies);
    cr_assert_eq(live, 0);
    dlclose(h);
    cr_assert(!dlopen(DIR("full") "/libzoq-cuda.so", RTLD_NOW | RTLD_NOLOAD),
              "the plugin stays loaded after its context is gone");
    traj_free(&m);
}
