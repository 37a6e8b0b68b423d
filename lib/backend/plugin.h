/* plugin.h - backends loaded at run time from shared objects (plugin.c,
 * docs/backends.md): found on a search path that never includes the
 * current directory, checked by ABI version and interface size, their
 * optional slots completed with host-memory defaults. */
#ifndef ZOQ_BACKEND_PLUGIN_H
#define ZOQ_BACKEND_PLUGIN_H

#include <stddef.h>

#include "backend/backend.h"

/* A loaded plugin and the one backend a context made from it. */
typedef struct zoq__plugin {
    void *handle;               /* dlopen handle */
    zoq__backend_iface iface;   /* the plugin's table, completed with defaults */
    zoq__backend *be;           /* be->iface == &iface */
    char path[4096];            /* the file loaded */
} zoq__plugin;

/* Loads libzoq-<name>.so from $ZOQ_BACKEND_PATH (absolute directories
 * separated by ':') or, when that is unset, from the directory holding
 * libzoq, and creates its backend. On failure returns ZOQ_E_UNSUPPORTED (no
 * such file, cannot load, no device), ZOQ_E_VERSION (not a plugin of this
 * ABI) or ZOQ_E_NOMEM, with this thread's message (zoq_last_error(NULL))
 * saying what was searched or refused. */
int zoq__plugin_load(const char *name, zoq__plugin **out);

/* Destroys the backend and unloads the plugin. Accepts NULL. */
void zoq__plugin_unload(zoq__plugin *pl);

#endif
