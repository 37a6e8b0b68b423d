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

void zoq__buf_put_le(zoq__buf *b, uint64_t v, int n)
{
    unsigned char x[8];
    for (int i = 0; i < n; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    zoq__buf_put(b, x, (size_t)n);
}

const unsigned char *zoq__rbuf_take(zoq__rbuf *r, size_t n)
{
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *s = r->p + r->at;
    r->at += n;
    return s;
}

uint64_t zoq__rbuf_le(zoq__rbuf *r, int n)
{
    const unsigned char *s = zoq__rbuf_take(r, (size_t)n);
    uint64_t v = 0;
    for (int i = 0; s && i < n; i++)
        v |= (uint64_t)s[i] << (8 * i);
    return v;
}
