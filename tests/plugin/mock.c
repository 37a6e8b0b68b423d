/* mock.c - a backend plugin for tests/test_plugin.c, never installed: the
 * built-in CPU backend behind the plugin ABI, so the plugin path can be
 * checked bit for bit against the CPU path on a machine without a GPU. Its
 * "device" memory is host memory with a header, so a buffer the core frees
 * with free() instead of release() is caught by ASan and valgrind.
 * Built once per variant (-DMOCK_VARIANT=...), each into its own folder as
 * libzoq-cuda.so:
 *   MOCK_FULL     every slot set; counts buffers and copies
 *   MOCK_MINIMAL  only the required slots: the loader supplies the rest
 *   MOCK_OLD_ABI  says it speaks ABI 99
 *   MOCK_SHORT    an interface smaller than the required slots
 *   MOCK_NO_ENTRY exports no entry point
 *   MOCK_NO_DEVICE create fails as on a machine without a device */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "zoq.h"

#define MOCK_FULL 1
#define MOCK_MINIMAL 2
#define MOCK_OLD_ABI 3
#define MOCK_SHORT 4
#define MOCK_NO_ENTRY 5
#define MOCK_NO_DEVICE 6

#define EXPORT __attribute__((visibility("default")))
#define MAGIC 0x6D6F636Bu
#define HEADER 16

/* Counters the test reads through mock_stats(). */
static int n_alloc, n_live, n_copies;

EXPORT void mock_stats(int *allocs, int *live, int *copies);
EXPORT void mock_stats(int *allocs, int *live, int *copies)
{
    *allocs = n_alloc;
    *live = n_live;
    *copies = n_copies;
}

typedef struct mock {
    zoq__backend *cpu;
} mock;

static int mock_run(zoq__backend *be, const zoq__pass *passes, int n)
{
    zoq__backend *cpu = ((mock *)be->context)->cpu;
    return cpu->iface->run_passes(cpu, passes, n);
}

static int mock_direction(zoq__backend *be, const zoq__pass *ps, int64_t offset, int64_t count,
                          float *out)
{
    zoq__backend *cpu = ((mock *)be->context)->cpu;
    return cpu->iface->direction(cpu, ps, offset, count, out);
}

static int mock_supports_stage(zoq__backend *be, int kind)
{
    zoq__backend *cpu = ((mock *)be->context)->cpu;
    return cpu->iface->supports_stage(cpu, kind);
}

static void mock_destroy(zoq__backend *be)
{
    mock *m = be->context;
    m->cpu->iface->destroy(m->cpu);
    free(m);
    free(be);
}

__attribute__((unused)) static int mock_alloc(zoq__backend *be, size_t bytes, void **out)
{
    (void)be;
    unsigned char *p = calloc(1, HEADER + bytes);
    if (!p)
        return ZOQ_E_NOMEM;
    const unsigned magic = MAGIC;
    memcpy(p, &magic, sizeof magic);
    n_alloc++;
    n_live++;
    *out = p + HEADER;
    return ZOQ_OK;
}

static void mock_release(zoq__backend *be, void *p)
{
    (void)be;
    if (!p)
        return;
    unsigned char *h = (unsigned char *)p - HEADER;
    unsigned magic;
    memcpy(&magic, h, sizeof magic);
    if (magic != MAGIC)
        abort(); /* not a buffer of this plugin */
    n_live--;
    free(h);
}

static int mock_copy(zoq__backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    n_copies++;
    memcpy(dst, src, bytes);
    return ZOQ_OK;
}

static const char *mock_error(zoq__backend *be)
{
    (void)be;
    return "(mock)";
}

static const zoq__backend_iface mock_iface = {
#if MOCK_VARIANT == MOCK_MINIMAL
    .size = ZOQ__BACKEND_IFACE_MIN,
#elif MOCK_VARIANT == MOCK_SHORT
    .size = offsetof(zoq__backend_iface, direction),
#else
    .size = sizeof(zoq__backend_iface),
#endif
    .abi = ZOQ__BACKEND_ABI,
    .name = "mock",
    .run_passes = mock_run,
    .direction = mock_direction,
    .destroy = mock_destroy,
#if MOCK_VARIANT == MOCK_MINIMAL
    /* beyond .size: a loader must not read them (this one would crash) */
    .alloc = (int (*)(zoq__backend *, size_t, void **))1,
#else
    .alloc = mock_alloc,
#endif
    .release = mock_release,
    .upload = mock_copy,
    .download = mock_copy,
    .last_error = mock_error,
    .supports_stage = mock_supports_stage,
};

static int mock_create(zoq__backend **out, const char **why)
{
    if (MOCK_VARIANT == MOCK_NO_DEVICE) {
        *why = "no CUDA device (mock)";
        return ZOQ_E_UNSUPPORTED;
    }
    zoq__backend *be = calloc(1, sizeof *be);
    mock *m = calloc(1, sizeof *m);
    int rc = be && m ? zoq__cpu_backend_create(1, &m->cpu) : ZOQ_E_NOMEM;
    if (rc != ZOQ_OK) {
        free(be);
        free(m);
        return rc;
    }
    be->iface = &mock_iface;
    be->context = m;
    *out = be;
    return ZOQ_OK;
}

static const zoq__plugin_entry entry = {
    .abi = MOCK_VARIANT == MOCK_OLD_ABI ? 99u : ZOQ__BACKEND_ABI,
    .iface = &mock_iface,
    .create = mock_create,
};

#if MOCK_VARIANT != MOCK_NO_ENTRY
EXPORT const zoq__plugin_entry *zoq_backend_plugin(void);
EXPORT const zoq__plugin_entry *zoq_backend_plugin(void)
{
    return &entry;
}
#else
EXPORT const zoq__plugin_entry *zoq_backend_plugin_misspelt(void);
EXPORT const zoq__plugin_entry *zoq_backend_plugin_misspelt(void)
{
    return &entry;
}
#endif
