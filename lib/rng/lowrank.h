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

/* LOZO-M's momentum M = sum_q N_q·V_qᵀ at elements [offset, offset+count):
 *   M[i][j] = sum over q < n_factors, then k < rank, in that order, of
 *             N_q[i][k] * V_q[j][k]                            binary32,
 * N_q = factors + q*rows*rank (row-major rows x rank), V_q the V of query q
 * drawn at step v_step (stream 4, as above). */
void zoq__lowrank_factor_fill(uint64_t key, uint64_t v_step, int n_factors, int rank,
                              const float *factors, int64_t rows, int64_t cols, uint64_t offset,
                              size_t count, float *out);

#endif
