/* noise.c - scalar reference of the noise spec (docs/rng.md). Every other
 * path (SIMD, threads, GPU) must reproduce these bits exactly, so each float
 * operation here and in gauss.h (the Box-Muller transform, which the CUDA
 * kernels share) is a single IEEE operation in a fixed order: the build uses
 * -ffp-contract=off and no fast-math. */
#include "noise.h"

#include <string.h>

#include "core/bits.h"
#include "gauss.h"
#include "zoq.h"

void zoq__gauss4(const uint32_t w[4], float z[4])
{
    zoq__box_muller(w[0], w[1], &z[0], &z[1]);
    zoq__box_muller(w[2], w[3], &z[2], &z[3]);
}

/* Blocks generated per batch: Philox words first, then the transforms over
 * plain arrays, which the compiler can vectorize. */
#define BATCH 64

static void fill_gauss(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                       uint64_t offset, size_t count, float *out)
{
    uint32_t w[BATCH][4];
    float z[BATCH * 4];
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint64_t b0 = i / ZOQ__GAUSS_PER_BLOCK;
        uint64_t b1 = (end + ZOQ__GAUSS_PER_BLOCK - 1) / ZOQ__GAUSS_PER_BLOCK;
        int nb = b1 - b0 < BATCH ? (int)(b1 - b0) : BATCH;
        for (int k = 0; k < nb; k++)
            zoq__noise_block(key, step, query, stream, b0 + (uint64_t)k, w[k]);
        for (int k = 0; k < nb; k++)
            zoq__gauss4(w[k], &z[4 * k]);
        uint64_t first = i - b0 * ZOQ__GAUSS_PER_BLOCK;
        uint64_t n = (uint64_t)nb * ZOQ__GAUSS_PER_BLOCK - first;
        if (n > end - i)
            n = end - i;
        memcpy(out + (i - offset), z + first, (size_t)n * sizeof *z);
        i += n;
    }
}

static void fill_rademacher(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            uint64_t offset, size_t count, float *out)
{
    uint32_t w[4];
    float z[ZOQ__RADE_PER_BLOCK];
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint64_t block = i / ZOQ__RADE_PER_BLOCK;
        zoq__noise_block(key, step, query, stream, block, w);
        for (unsigned j = 0; j < ZOQ__RADE_PER_BLOCK; j++) /* bit set: -1.0f, else +1.0f */
            z[j] = zoq__f32_from_bits(0x3F800000u | (((w[j >> 5] >> (j & 31u)) & 1u) << 31));
        uint64_t first = i - block * ZOQ__RADE_PER_BLOCK;
        uint64_t n = ZOQ__RADE_PER_BLOCK - first;
        if (n > end - i)
            n = end - i;
        memcpy(out + (i - offset), z + first, (size_t)n * sizeof *z);
        i += n;
    }
}

void zoq__mask_fill(uint64_t key, uint64_t step, float keep, uint64_t offset, size_t count,
                    uint8_t *out)
{
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint32_t w[4];
        zoq__noise_block(key, step, 0, ZOQ__STREAM_MASK, i / 4, w);
        for (unsigned j = (unsigned)(i % 4); j < 4 && i < end; j++, i++)
            out[i - offset] = (float)(w[j] >> 8) * 5.9604644775390625e-8f < keep;
    }
}

void zoq__noise_fill_scalar(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            int dist, uint64_t offset, size_t count, float *out)
{
    if (dist == ZOQ_DIST_RADEMACHER)
        fill_rademacher(key, step, query, stream, offset, count, out);
    else
        fill_gauss(key, step, query, stream, offset, count, out);
}
