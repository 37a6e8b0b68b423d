/* lowrank.h - LoZO's low-rank directions (Chen et al., arXiv:2410.07698):
 * for a row-major rows x cols tensor and rank r,
 *   Z[i][j] = (sum_k U[i][k] * V[j][k]) * (1/sqrt(r))      binary32, k in order,
 *   U[i][k] = Gaussian element i*r + k of stream 3 at (key, step, query),
 *   V[j][k] = Gaussian element j*r + k of stream 4 at (key, step - step % nu, query),
 * so U is fresh every step, V every nu steps, and neither is stored: a pass
 * regenerates the rows and columns it touches. 1/sqrt(r) gives Z unit
 * variance, like a plain Gaussian z. */
#ifndef ZOQ_RNG_LOWRANK_H
#define ZOQ_RNG_LOWRANK_H

#include <stddef.h>
#include <stdint.h>

#define ZOQ__LOZO_MAX_RANK 32

/* Z[offset .. offset+count) of a tensor with rows of `cols` elements. */
void zoq__lowrank_fill(uint64_t key, uint64_t step, uint32_t query, int rank, uint64_t interval,
                       int64_t cols, uint64_t offset, size_t count, float *out);

#endif
