/* abi.c - the growth rule of size-prefixed structs (abi.h). */
#include <string.h>

#include "core/internal.h"

/* ZOQ_OK if s's size covers its size field and, for an input struct,
 * nothing past `known` is set. */
static int check(zoq_ctx *ctx, const char *what, const void *s, size_t known, int input)
{
    if (!s)
        return zoq__fail(ctx, ZOQ_E_INVALID, "%s is NULL", what);
    size_t size;
    memcpy(&size, s, sizeof size);
    /* every version's sizeof is a whole number of size_t words (its first
     * field), so no other size cuts a field in two */
    if (size < sizeof size || size % sizeof size)
        return zoq__fail(ctx, ZOQ_E_INVALID, "%s: size %zu is not the sizeof of any version "
                         "of the struct (set it to sizeof the struct, %zu in this build)", what,
                         size, known);
    if (input && !zoq__sized_tail_zero(s, known))
        return zoq__fail(ctx, ZOQ_E_INVALID, "%s: size %zu is larger than this build's %zu "
                         "and sets bytes past it: a newer field this build would ignore",
                         what, size, known);
    return ZOQ_OK;
}

int zoq__sized_tail_zero(const void *s, size_t known)
{
    size_t size;
    memcpy(&size, s, sizeof size);
    const unsigned char *b = s;
    for (size_t i = known; i < size; i++)
        if (b[i])
            return 0;
    return 1;
}

int zoq__sized_in(zoq_ctx *ctx, const char *what, void *dst, const void *src, size_t known)
{
    const int st = check(ctx, what, src, known, 1);
    if (st != ZOQ_OK)
        return st;
    zoq__sized_peek(dst, src, known);
    memcpy(dst, &known, sizeof known);
    return ZOQ_OK;
}

void zoq__sized_peek(void *dst, const void *src, size_t known)
{
    size_t size, keep;
    memcpy(&size, src, sizeof size);
    memcpy(&keep, dst, sizeof keep);
    memcpy(dst, src, size < known ? size : known);
    memcpy(dst, &keep, sizeof keep);
}

int zoq__sized_out_ok(zoq_ctx *ctx, const char *what, const void *dst, size_t known)
{
    return check(ctx, what, dst, known, 0);
}

void zoq__sized_out(void *dst, const void *src, size_t known)
{
    size_t size;
    memcpy(&size, dst, sizeof size);
    memcpy((char *)dst + sizeof size, (const char *)src + sizeof size,
           (size < known ? size : known) - sizeof size);
}
