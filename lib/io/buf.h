/* buf.h - a growable byte buffer for building files in memory (the
 * optimizer state, safetensors headers, adapter configs). */
#ifndef ZOQ_IO_BUF_H
#define ZOQ_IO_BUF_H

#include <stddef.h>

/* A growable byte buffer; zero-initialize it. On allocation failure `oom`
 * is set and further appends do nothing. */
typedef struct zoq__buf {
    char *p;
    size_t n, cap;
    int oom;
} zoq__buf;

void zoq__buf_put(zoq__buf *b, const void *src, size_t n);
void zoq__buf_puts(zoq__buf *b, const char *s);
void zoq__buf_printf(zoq__buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
