/* plugin.c - the loader of backend plugins. A plugin is found by file name
 * only in absolute directories: $ZOQ_BACKEND_PATH when set (ignored in
 * setuid programs), else the directory of the libzoq that is running. A
 * bare or relative name would let dlopen search the current directory or
 * LD_LIBRARY_PATH, so none is ever passed to it. The first file that exists
 * is the one used: if it is refused, the search stops there, so what runs
 * never depends on which of two copies happens to pass. */
#define _GNU_SOURCE
#include "plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "zoq.h"

static int host_alloc(zoq__backend *be, size_t bytes, void **out)
{
    (void)be;
    *out = calloc(1, bytes ? bytes : 1);
    return *out ? ZOQ_OK : ZOQ_E_NOMEM;
}

static void host_release(zoq__backend *be, void *p)
{
    (void)be;
    free(p);
}

static int host_copy(zoq__backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes)
        memcpy(dst, src, bytes);
    return ZOQ_OK;
}

static const char *no_error(zoq__backend *be)
{
    (void)be;
    return "";
}

/* Slot `field` of iface when the plugin's table reaches it and sets it. */
#define HAS_SLOT(t, size, field) \
    ((size) >= offsetof(zoq__backend_iface, field) + sizeof((t)->field) && (t)->field)

/* Copies the part of the plugin's table it was built with and gives every
 * optional slot it lacks its default. */
static void complete(const zoq__backend_iface *in, zoq__backend_iface *out)
{
    size_t n = in->size < sizeof *out ? in->size : sizeof *out;
    memset(out, 0, sizeof *out);
    memcpy(out, in, n);
    out->size = sizeof *out;
    if (!HAS_SLOT(in, n, alloc))
        out->alloc = host_alloc;
    if (!HAS_SLOT(in, n, release))
        out->release = host_release;
    if (!HAS_SLOT(in, n, upload))
        out->upload = host_copy;
    if (!HAS_SLOT(in, n, download))
        out->download = host_copy;
    if (!HAS_SLOT(in, n, last_error))
        out->last_error = no_error;
}

/* Checks and opens one existing file; a failure leaves this thread's message. */
static int open_file(zoq__plugin *pl)
{
    const char *path = pl->path;
    pl->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!pl->handle) {
        const char *why = dlerror();
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "cannot load %s: %s", path,
                         why ? why : "dlopen failed");
    }
    zoq__plugin_entry_fn entry;
    void *sym = dlsym(pl->handle, ZOQ__PLUGIN_ENTRY);
    memcpy(&entry, &sym, sizeof entry); /* object to function pointer, as POSIX allows */
    if (!sym)
        return zoq__fail(NULL, ZOQ_E_VERSION, "%s exports no %s(): not a zoq backend plugin",
                         path, ZOQ__PLUGIN_ENTRY);
    const zoq__plugin_entry *e = entry();
    if (!e || e->abi != ZOQ__BACKEND_ABI || !e->iface || e->iface->abi != ZOQ__BACKEND_ABI)
        return zoq__fail(NULL, ZOQ_E_VERSION, "%s speaks backend ABI %u, this libzoq %u: "
                         "rebuild the plugin against this zoq", path,
                         !e ? 0u : e->abi != ZOQ__BACKEND_ABI || !e->iface ? e->abi
                                                                          : e->iface->abi,
                         (unsigned)ZOQ__BACKEND_ABI);
    const zoq__backend_iface *in = e->iface;
    if (in->size < ZOQ__BACKEND_IFACE_MIN || !in->run_passes || !in->direction ||
        !in->destroy || !e->create)
        return zoq__fail(NULL, ZOQ_E_VERSION, "%s: interface of %zu bytes lacks required "
                         "slots (%zu bytes needed, run_passes, direction, destroy and create "
                         "set)", path, in->size, (size_t)ZOQ__BACKEND_IFACE_MIN);
    complete(in, &pl->iface);
    const char *why = NULL;
    int rc = e->create(&pl->be, &why);
    if (rc != ZOQ_OK) {
        pl->be = NULL;
        return zoq__fail(NULL, rc, "%s cannot start (%s)%s%s", path, zoq_strerror(rc),
                         why ? ": " : "", why ? why : "");
    }
    pl->be->iface = &pl->iface;
    return ZOQ_OK;
}

/* An object inside libzoq, for dladdr to find libzoq by. */
static const char anchor = 0;

/* The directory of the libzoq this code is running in, if its path is
 * absolute (dladdr reports the name the object was loaded by). */
static int own_dir(char *dir, size_t cap)
{
    Dl_info info;
    if (!dladdr(&anchor, &info) || !info.dli_fname ||
        info.dli_fname[0] != '/')
        return 0;
    const char *slash = strrchr(info.dli_fname, '/');
    size_t n = (size_t)(slash - info.dli_fname);
    if (n == 0 || n >= cap)
        return 0;
    memcpy(dir, info.dli_fname, n);
    dir[n] = '\0';
    return 1;
}

int zoq__plugin_load(const char *name, zoq__plugin **out)
{
    zoq__plugin *pl = calloc(1, sizeof *pl);
    if (!pl)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory loading the %s backend", name);
    const char *env = secure_getenv("ZOQ_BACKEND_PATH");
    char self[4096];
    const char *dirs = env ? env : own_dir(self, sizeof self) ? self : "";
    const char *p = dirs;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* empty and relative entries would resolve against the current directory */
        if (len > 0 && p[0] == '/' &&
            snprintf(pl->path, sizeof pl->path, "%.*s/libzoq-%s.so", (int)len, p, name) <
                (int)sizeof pl->path &&
            access(pl->path, F_OK) == 0) {
            int rc = open_file(pl);
            if (rc == ZOQ_OK) {
                *out = pl;
                return ZOQ_OK;
            }
            zoq__plugin_unload(pl);
            return rc;
        }
        p += len + (end != NULL);
    }
    free(pl);
    if (env)
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "no libzoq-%s.so in ZOQ_BACKEND_PATH=\"%s\" "
                         "(absolute directories only)", name, env);
    if (dirs[0])
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "no libzoq-%s.so in %s (the directory of "
                         "libzoq); set ZOQ_BACKEND_PATH to search elsewhere", name, dirs);
    return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "no libzoq-%s.so: libzoq's own directory is "
                     "unknown (static build?) and ZOQ_BACKEND_PATH is unset", name);
}

void zoq__plugin_unload(zoq__plugin *pl)
{
    if (!pl)
        return;
    if (pl->be)
        pl->iface.destroy(pl->be);
    if (pl->handle)
        dlclose(pl->handle);
    free(pl);
}
