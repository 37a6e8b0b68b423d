/* convert.h - binary16 and bfloat16 <-> binary32, round-to-nearest-even,
 * NaN kept quiet, overflow to infinity. Header-only for the kernels. */
#ifndef ZOQ_CORE_CONVERT_H
#define ZOQ_CORE_CONVERT_H

#include <stdint.h>

#include "core/bits.h"
#include "core/hd.h"
#include "zoq.h"

static inline ZOQ__HD float zoq__f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0) /* zero or subnormal: mant * 2^-24, exact */
        return zoq__f32_from_bits(zoq__f32_bits((float)mant * 5.9604644775390625e-8f) | sign);
    if (exp == 31)
        return zoq__f32_from_bits(sign | 0x7F800000u | (mant << 13));
    return zoq__f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

static inline ZOQ__HD uint16_t zoq__f32_to_f16(float f)
{
    uint32_t x = zoq__f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) /* NaN: keep payload top bits, force quiet */
        return (uint16_t)(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
    if (ax >= 0x477FF000u) /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7C00u);
    if (ax < 0x38800000u) { /* below 2^-14: subnormal step 2^-24, rounded by the FPU */
        float t = zoq__f32_from_bits(ax) + 0.5f;
        return (uint16_t)(sign | (zoq__f32_bits(t) - 0x3F000000u));
    }
    uint32_t odd = (ax >> 13) & 1u;
    ax = ax - (112u << 23) + 0xFFFu + odd;
    return (uint16_t)(sign | (ax >> 13));
}

static inline ZOQ__HD float zoq__bf16_to_f32(uint16_t h)
{
    return zoq__f32_from_bits((uint32_t)h << 16);
}

/* Element i of a buffer of dtype (zoq_dtype_t) as binary32. */
static inline ZOQ__HD float zoq__load_f32(const void *data, int dtype, int64_t i)
{
    if (dtype == ZOQ_F16)
        return zoq__f16_to_f32(((const uint16_t *)data)[i]);
    if (dtype == ZOQ_BF16)
        return zoq__bf16_to_f32(((const uint16_t *)data)[i]);
    return ((const float *)data)[i];
}

/* zoq__load_f32 for a host buffer at any address (nothing assumed aligned). */
static inline float zoq__load_f32_any(const void *data, int dtype, int64_t i)
{
    if (dtype == ZOQ_F32)
        return zoq__get_f32((const float *)data + i);
    const uint16_t h = zoq__get_u16((const uint16_t *)data + i);
    return dtype == ZOQ_F16 ? zoq__f16_to_f32(h) : zoq__bf16_to_f32(h);
}

static inline ZOQ__HD uint16_t zoq__f32_to_bf16(float f)
{
    uint32_t x = zoq__f32_bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

#endif
