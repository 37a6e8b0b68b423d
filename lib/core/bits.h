/* bits.h - binary32 <-> its bit pattern, without aliasing tricks. */
#ifndef ZOQ_CORE_BITS_H
#define ZOQ_CORE_BITS_H

#include <stdint.h>
#include <string.h>

#include "core/hd.h"

static inline ZOQ__HD uint32_t zoq__f32_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline ZOQ__HD float zoq__f32_from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* The value at p, or a store to p, where p need not be aligned to the type
 * (callers may register a buffer at any address): memcpy, which compilers
 * turn into one unaligned move. */
static inline ZOQ__HD float zoq__get_f32(const void *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

static inline ZOQ__HD void zoq__put_f32(void *p, float f)
{
    memcpy(p, &f, sizeof f);
}

static inline ZOQ__HD uint16_t zoq__get_u16(const void *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return h;
}

static inline ZOQ__HD void zoq__put_u16(void *p, uint16_t h)
{
    memcpy(p, &h, sizeof h);
}

#endif
