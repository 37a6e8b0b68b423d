/* buf.h - a growable byte buffer for building files in memory (the
 * optimizer state, safetensors headers, adapter configs). */
#ifndef ZOQ_IO_BUF_H
#define ZOQ_IO_BUF_H

#include <stddef.h>
#include <stdint.h>

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

/* Appends the low n (<= 8) bytes of v, little-endian. */
void zoq__buf_put_le(zoq__buf *b, uint64_t v, int n);

/* A bounds-checked reader over an untrusted byte range: a read past the end
 * sets `bad` and gives NULL or 0. */
typedef struct zoq__rbuf {
    const unsigned char *p;
    size_t n, at;
    int bad;
} zoq__rbuf;

/* The next n bytes (NULL past the end). */
const unsigned char *zoq__rbuf_take(zoq__rbuf *r, size_t n);
/* The next n (<= 8) bytes as a little-endian number. */
uint64_t zoq__rbuf_le(zoq__rbuf *r, int n);

#endif
