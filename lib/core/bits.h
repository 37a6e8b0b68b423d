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

#endif
