/* flags.c - flags.h. */
#include "flags.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The flag of f[0..n) named a, or NULL. */
static const flag *find(const flag *f, size_t n, const char *a)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, a) == 0)
            return &f[i];
    return NULL;
}

int flag_set(const flag *f, size_t n, const char *a, const char *v)
{
    const flag *g = find(f, n, a);
    if (g == NULL)
        return 0;
    switch (g->kind) {
    case FLAG_STR: *(const char **)g->dst = v; break;
    case FLAG_INT: *(int *)g->dst = atoi(v); break;
    case FLAG_U64: *(uint64_t *)g->dst = strtoull(v, NULL, 10); break;
    case FLAG_F64: *(double *)g->dst = atof(v); break;
    case FLAG_PAIR: return sscanf(v, "%d:%d", (int *)g->dst, (int *)g->dst2) == 2 ? 1 : -1;
    case FLAG_ON: *(int *)g->dst = 1; break;
    }
    return 1;
}

int flags_parse(int argc, char **argv, const flag *f, size_t n,
                int (*other)(void *ctx, const char *a, const char *v), void *ctx)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const flag *g = find(f, n, a);
        if (g != NULL && g->kind == FLAG_ON) {
            *(int *)g->dst = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (v == NULL)
            return -1;
        const int r = flag_set(f, n, a, v);
        if (r < 0 || (r == 0 && (other == NULL || other(ctx, a, v) != 0)))
            return -1;
    }
    return 0;
}
