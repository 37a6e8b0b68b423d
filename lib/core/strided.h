/* strided.h - parameters laid out as strided views (zoq_param_desc_t.stride):
 * element i of a view at data lies at data + i*stride, stride >= the element
 * size; 0 means dense. Copies between a view and a dense buffer touch the
 * elements' bytes only, never the bytes between them. Header-only. */
#ifndef ZOQ_CORE_STRIDED_H
#define ZOQ_CORE_STRIDED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes from one element to the next. */
static inline size_t zoq__step_bytes(size_t esize, int64_t stride)
{
    return stride ? (size_t)stride : esize;
}

/* Bytes from the first element's start to the last one's end (numel > 0). */
static inline size_t zoq__span_bytes(size_t esize, int64_t stride, int64_t numel)
{
    return (size_t)(numel - 1) * zoq__step_bytes(esize, stride) + esize;
}

/* Elements [i0, i0 + n) of the view at base into dense (n * esize bytes). */
static inline void zoq__gather(const void *base, size_t esize, int64_t stride, int64_t i0,
                               int64_t n, void *dense)
{
    const size_t step = zoq__step_bytes(esize, stride);
    const unsigned char *s = (const unsigned char *)base + (size_t)i0 * step;
    unsigned char *d = dense;
    for (int64_t j = 0; j < n; j++)
        memcpy(d + (size_t)j * esize, s + (size_t)j * step, esize);
}

/* dense (n * esize bytes) into elements [i0, i0 + n) of the view at base. */
static inline void zoq__scatter(void *base, size_t esize, int64_t stride, int64_t i0, int64_t n,
                                const void *dense)
{
    const size_t step = zoq__step_bytes(esize, stride);
    unsigned char *d = (unsigned char *)base + (size_t)i0 * step;
    const unsigned char *s = dense;
    for (int64_t j = 0; j < n; j++)
        memcpy(d + (size_t)j * step, s + (size_t)j * esize, esize);
}

#endif
