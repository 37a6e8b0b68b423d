/* tile.h - the element-wise pieces a CPU pass is made of, over one tile of
 * at most ZOQ__TILE elements held as binary32 in L1. Each piece is a fixed
 * sequence of single IEEE operations per element (no FMA, no reordering), so
 * the scalar reference (tile.c) and the SIMD sets (tile_avx2.c, tile_avx512.c,
 * both written in tile_simd.h) give the same bits; cpu.c strings them
 * together and picks the set once per backend. */
#ifndef ZOQ_CPU_TILE_H
#define ZOQ_CPU_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

#define ZOQ__TILE 512

/* Instruction sets a CPU backend can run its tiles with. */
enum {
    ZOQ__ISA_BEST = -1,         /* the fastest this CPU runs */
    ZOQ__ISA_SCALAR = 0,        /* portable C: the reference */
    ZOQ__ISA_AVX2 = 1,          /* AVX2, with F16C for f16 where the CPU has it */
    ZOQ__ISA_AVX512 = 2         /* AVX-512F/DQ: 16 lanes, f16 by its own conversions */
};

/* A plain Rademacher pass over a tile (backend.h's formula with no
 * stages): x = scale * x (x itself when scale is 1), then for each term k in
 * order x = x + coef[k] * z_k[j], where z_k[j] = -1 when bit j % 32 of
 * element j's word of term k is set, else +1: c * (-1) is -c exactly, so
 * the product is a sign flip of c. A term's words are its blocks' Philox
 * words in rademacher_words' layout, rows of `stride` blocks from the
 * tile's first: element j's word of term k is
 * words[4 * stride * k + (j / 32 % 4) * stride + j / 128]. */
typedef struct zoq__sign_pass {
    float scale;                /* neither 0 nor NaN */
    int n_terms;                /* at least 1 */
    const float *coef;          /* n_terms, none NaN */
    const uint32_t *words;
    int stride;                 /* blocks per row, at least the tile's */
} zoq__sign_pass;

typedef struct zoq__tile_ops {
    const char *name;
    /* z[0..n) of a noise stream (rng/noise.h's zoq__noise_fill contract) */
    void (*noise)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                  uint64_t offset, size_t count, float *out);
    /* NULL, or acc[j] = acc[j] + c * z[offset+j] for Rademacher z without
     * writing z (noise.h's zoq__rademacher_axpy_avx2 contract: c not NaN,
     * offset and count multiples of ZOQ__RADE_PER_BLOCK) */
    void (*rademacher_axpy)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                            uint64_t offset, size_t count, float c, float *acc);
    /* NULL, or acc[j] = acc[j] + c * z[offset+j] for Gaussian z without
     * writing z (noise.h's zoq__gauss_axpy_avx2 contract) */
    void (*gauss_axpy)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                       uint64_t offset, size_t count, float c, float *acc);
    /* the Rademacher words of blocks block .. block + nb - 1 of a stream
     * (rng/noise.h's zoq__rademacher_words_avx2 contract) */
    void (*rademacher_words)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                             uint64_t block, size_t nb, uint32_t *out);
    /* NULL, or n_pass (1 or 2) sign passes over the n elements at i0 (n a
     * multiple of 128, at most ZOQ__TILE): the first from src into dst, the
     * second from dst as the first stored it (rounded to dtype) into dst;
     * src and dst at any address */
    void (*sign_passes)(const void *src, void *dst, int dtype, int64_t i0, int n,
                        const zoq__sign_pass *p, int n_pass);
    /* acc[j] = src[i0+j] as binary32 (dtype: zoq_dtype_t) */
    void (*load)(const void *src, int dtype, int64_t i0, int n, float *acc);
    /* dst[i0+j] = acc[j] rounded to dtype, nearest-even (core/convert.h) */
    void (*store)(void *dst, int dtype, int64_t i0, int n, const float *acc);
    /* out[j] = s * x[j] (out may be x) */
    void (*scale)(float s, const float *x, int n, float *out);
    /* acc[j] = acc[j] + c * z[j] */
    void (*axpy)(float c, const float *z, int n, float *acc);
    /* z[j] = m[j] ? z[j] : 0 */
    void (*keep)(const uint8_t *m, int n, float *z);
    /* z[j] = z[j] / d[j] */
    void (*divide)(const float *d, int n, float *z);
    /* out[j] = sqrt(x[j]) */
    void (*root)(const float *x, int n, float *out);
    /* s[j] = s[j] + (c * sig[j]) * (z[j] * z[j])   (HiZOO's curvature term) */
    void (*curv)(float c, const float *sig, const float *z, int n, float *s);
    /* backend.h's momentum stage: m = mu*m + g; acc = acc + (-lr)*m */
    void (*momentum)(const zoq__update *u, const float *g, float *m, float *acc, int n);
    /* backend.h's Adam stage */
    void (*adam)(const zoq__update *u, const float *g, float *m, float *v, float *acc, int n);
} zoq__tile_ops;

/* The set for isa (ZOQ__ISA_BEST: by CPU feature); NULL if this build or
 * CPU cannot run it. */
const zoq__tile_ops *zoq__tile_ops_get(int isa);

/* ZOQ__ISA_BEST, or the cap the environment variable ZOQ_CPU_ISA sets
 * ("scalar", "avx2", "avx512"; anything else: ZOQ__ISA_BEST). A cap above
 * what the CPU runs means the best it runs. Results never depend on it. */
int zoq__tile_isa_from_env(void);

#if defined(__x86_64__) || defined(__i386__)
#define ZOQ__TILE_AVX2 1
/* tile_avx2.c: the AVX2 set with f16 by F16C (f16c != 0) or by the scalar
 * conversion; only for CPUs with AVX2. */
const zoq__tile_ops *zoq__tile_ops_avx2(int f16c);
/* tile_avx512.c: the AVX-512 set, bf16 narrowed by AVX512_BF16 (bf16 != 0)
 * or by integer rounding; only for CPUs with AVX-512F and DQ (and, for
 * bf16 != 0, AVX512_BF16 and BW). */
const zoq__tile_ops *zoq__tile_ops_avx512(int bf16);
#endif

#endif
