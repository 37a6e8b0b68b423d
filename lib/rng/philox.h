/* philox.h - Philox4x32-10 (Salmon et al., SC'11), the counter-based block
 * generator under every random draw in zoq. Header-only, no state, usable
 * from scalar C, SIMD code and CUDA kernels alike. */
#ifndef ZOQ_RNG_PHILOX_H
#define ZOQ_RNG_PHILOX_H

#include <stdint.h>

#include "core/hd.h"

#define ZOQ__PHILOX_M0 0xD2511F53u
#define ZOQ__PHILOX_M1 0xCD9E8D57u
#define ZOQ__PHILOX_W0 0x9E3779B9u
#define ZOQ__PHILOX_W1 0xBB67AE85u

/* One Philox4x32-10 block: encrypts counter c (4 words) under key k (2 words)
 * into out (4 words). */
static inline ZOQ__HD void zoq__philox4x32_10(const uint32_t c[4], const uint32_t k[2], uint32_t out[4])
{
    uint32_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    uint32_t k0 = k[0], k1 = k[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)ZOQ__PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)ZOQ__PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += ZOQ__PHILOX_W0;
        k1 += ZOQ__PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

#endif
