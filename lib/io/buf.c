/* buf.c - the growable byte buffer of buf.h. */
#include "io/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zoq__buf_put(zoq__buf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

void zoq__buf_puts(zoq__buf *b, const char *s)
{
    zoq__buf_put(b, s, strlen(s));
}

void zoq__buf_printf(zoq__buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof tmp)
        b->oom = 1; /* only short numeric fields are printed */
    else
        zoq__buf_put(b, tmp, (size_t)len);
}
