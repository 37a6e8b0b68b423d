/* noise.c - scalar reference of the noise spec (docs/rng.md). Every other
 * path (SIMD, threads, GPU) must reproduce these bits exactly, so each float
 * operation here and in gauss.h (the Gaussian stream, which the CUDA kernels
 * share) is a single IEEE operation, or an explicit fmaf, in a fixed order:
 * the build uses -ffp-contract=off and no fast-math. */
#include "noise.h"

#include <string.h>

#include "core/bits.h"
#include "gauss.h"
#include "zoq.h"

uint64_t zoq__gauss_seed_cached(uint64_t key, uint64_t step, uint32_t query, uint32_t stream)
{
    /* one seed per slot: the streams a chained pair of passes or a pass of
     * several terms takes tile by tile in turn (steps t and t + 1, queries
     * 0 .. q - 1) fall in distinct slots, as in noise_simd.h's groups */
    static _Thread_local struct seed_slot {
        uint64_t key, step, seed;
        uint32_t query, stream;
        int valid;
    } slot[8];
    struct seed_slot *e = &slot[(step + 3u * query) % 8];
    if (!e->valid || e->key != key || e->step != step || e->query != query ||
        e->stream != stream) {
        e->seed = zoq__gauss_seed(key, step, query, stream);
        e->key = key;
        e->step = step;
        e->query = query;
        e->stream = stream;
        e->valid = 1;
    }
    return e->seed;
}

void zoq__gauss16(const uint64_t h[16], float z[32])
{
    for (int j = 0; j < 16; j++)
        zoq__box_muller(h[j], &z[j], &z[16 + j]);
}

/* Chunks generated per batch: hashes first, then the transforms over plain
 * arrays, which the compiler can vectorize. */
#define BATCH 8

static void fill_gauss(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                       uint64_t offset, size_t count, float *out)
{
    const uint64_t seed = zoq__gauss_seed_cached(key, step, query, stream);
    uint64_t h[BATCH * 16];
    float z[BATCH * ZOQ__GAUSS_CHUNK];
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint64_t c0 = i / ZOQ__GAUSS_CHUNK;
        uint64_t c1 = end / ZOQ__GAUSS_CHUNK + (end % ZOQ__GAUSS_CHUNK != 0);
        int nc = c1 - c0 < BATCH ? (int)(c1 - c0) : BATCH;
        for (int k = 0; k < 16 * nc; k++)
            h[k] = zoq__gauss_hash(seed, 16 * c0 + (uint64_t)k);
        for (int k = 0; k < nc; k++)
            zoq__gauss16(&h[16 * k], &z[ZOQ__GAUSS_CHUNK * k]);
        uint64_t first = i - c0 * ZOQ__GAUSS_CHUNK;
        uint64_t n = (uint64_t)nc * ZOQ__GAUSS_CHUNK - first;
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
