/* noise.h - the perturbation z as a pure function of (key, step, query,
 * stream, element index): block layout, the Box-Muller transform built only
 * from IEEE-exact operations, and the slice fill every backend calls.
 * Spec and test vectors: docs/rng.md. */
#ifndef ZOQ_RNG_NOISE_H
#define ZOQ_RNG_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "philox.h"

/* Streams: independent sequences for the same (key, step, query). */
enum {
    ZOQ__STREAM_PROBE = 0,      /* the direction z of SPSA */
    ZOQ__STREAM_INIT = 1,       /* initial values (zoq_param_init_normal) */
    ZOQ__STREAM_MASK = 2,       /* random sparse masks */
    ZOQ__STREAM_LOZO_U = 3,     /* LoZO's U factor (rng/lowrank.h) */
    ZOQ__STREAM_LOZO_V = 4,     /* LoZO's V factor */
    ZOQ__STREAM_ROUND1 = 5,     /* QuZO: stochastic rounding u1 (probe) of eps*z */
    ZOQ__STREAM_ROUND2 = 6,     /* QuZO: the independent rounding u2 (update) */
    ZOQ__STREAM_ROUND_UPDATE = 7, /* QuZO: stochastic rounding of the code update */
    ZOQ__STREAM_LORA_A = 8,     /* uniform initial values of LoRA A factors (lib/lora) */
    ZOQ__STREAM_MAX = 255
};
#define ZOQ__QUERY_LIMIT (1u << 24)

/* Rademacher signs per Philox block (Gaussian chunks: gauss.h). */
#define ZOQ__RADE_PER_BLOCK 128

/* Philox block `block` of the stream (key, step, query, stream). */
static inline ZOQ__HD void zoq__noise_block(uint64_t key, uint64_t step, uint32_t query,
                                    uint32_t stream, uint64_t block, uint32_t out[4])
{
    const uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    const uint32_t c[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)step,
                           query | (stream << 24)};
    zoq__philox4x32_10(c, k, out);
}

/* Random mask of elements [offset, offset+count) (docs/rng.md, "Masks"):
 * element i takes word i % 4 of block i / 4 of (key, step, query 0, stream
 * 2), u = float(w >> 8) * 2^-24, and out[i] = (u < keep). */
void zoq__mask_fill(uint64_t key, uint64_t step, float keep, uint64_t offset, size_t count,
                    uint8_t *out);

/* zoq__gauss_seed (gauss.h) of the stream, kept per thread for the last
 * few streams: a pass fills tile after tile of one stream (a chained pair,
 * or several terms, of a few streams in turn), and the seed is a whole
 * Philox block, 0.1 ns per element of a 512-element tile. */
uint64_t zoq__gauss_seed_cached(uint64_t key, uint64_t step, uint32_t query, uint32_t stream);

/* The Gaussian chunk of 16 pair hashes h (docs/rng.md, "Gaussian"):
 * z[j] and z[16 + j] are the two draws of h[j]. */
void zoq__gauss16(const uint64_t h[16], float z[32]);

/* Fills out[0..count) with z[offset..offset+count) of a stream; dist is a
 * zoq_dist_t the caller has validated. Picks the fastest implementation the
 * CPU runs (noise_select.c); all of them give the same bits. */
void zoq__noise_fill(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                     int dist, uint64_t offset, size_t count, float *out);

/* acc[j] = acc[j] + c * z[offset + j], j < count (product and sum rounded
 * separately): the bits of filling z and adding, z never written where a
 * fused SIMD path applies (Gaussian, Rademacher whole blocks with c not NaN). */
void zoq__noise_axpy(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                     uint64_t offset, size_t count, float c, float *acc);

/* The portable scalar reference (noise.c), same contract. */
void zoq__noise_fill_scalar(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            int dist, uint64_t offset, size_t count, float *out);

/* x86: the AVX2 and AVX-512 paths (noise_avx2.c, noise_avx512.c, both the
 * algorithm of noise_simd.h, built with -mavx2 -mfma / -mavx512f -mavx512dq,
 * with -ffp-contract=off: FMA only where written). Call an _<isa> function
 * only when zoq__noise_has_<isa>() is true. */
#if defined(__x86_64__) || defined(__i386__)
#define ZOQ__NOISE_AVX2 1
void zoq__noise_fill_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                          int dist, uint64_t offset, size_t count, float *out);
void zoq__noise_fill_avx512(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            int dist, uint64_t offset, size_t count, float *out);
/* acc[j] = acc[j] + c * z[offset + j], j < count, for the Rademacher z of
 * the stream, without materializing z: bit-identical to filling z and
 * adding c * z for every c that is not NaN. offset and count must be
 * multiples of ZOQ__RADE_PER_BLOCK. */
void zoq__rademacher_axpy_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                               uint64_t offset, size_t count, float c, float *acc);
void zoq__rademacher_axpy_avx512(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                                 uint64_t offset, size_t count, float c, float *acc);
/* The Philox words of Rademacher blocks block .. block + nb - 1 of the
 * stream, word by word: out[nb k + i] = word k of block + i
 * (zoq__noise_block), whose bit b is the sign of element
 * 128 (block + i) + 32 k + b (set: -1). */
void zoq__rademacher_words_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                                uint64_t block, size_t nb, uint32_t *out);
void zoq__rademacher_words_avx512(uint64_t key, uint64_t step, uint32_t query,
                                  uint32_t stream, uint64_t block, size_t nb, uint32_t *out);
/* acc[j] = acc[j] + c * z[offset + j], j < count, for the Gaussian z of the
 * stream (product and sum rounded separately), z kept in registers: the
 * same bits as filling z and adding c * z, for every c, offset and count. */
void zoq__gauss_axpy_avx2(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                          uint64_t offset, size_t count, float c, float *acc);
void zoq__gauss_axpy_avx512(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            uint64_t offset, size_t count, float c, float *acc);
/* zoq__gauss16 (for tests: any hashes, not only the stream's). */
void zoq__gauss16_avx2(const uint64_t h[16], float z[32]);
void zoq__gauss16_avx512(const uint64_t h[16], float z[32]);
#endif

/* Nonzero when zoq__noise_fill_avx2 (_avx512) exists and this CPU, and its
 * operating system, can run it. */
int zoq__noise_has_avx2(void);
int zoq__noise_has_avx512(void);

#endif
