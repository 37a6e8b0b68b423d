/*
 * zoq_mpi.h - zoq steps across MPI ranks, exchanging only loss values.
 *
 * The optional add-on libzoq-mpi (pkg-config zoq-mpi), built where an MPI
 * compiler exists; libzoq itself never links MPI. Every rank holds the same
 * parameters and the same zoq context (same options, same registration
 * order). In a step every rank lists the same points, evaluates its share,
 * the ranks all-gather the losses (a few doubles a rank, whatever the model
 * size), and every rank applies the same losses, so the parameters stay
 * identical without ever being sent: zoq_mpi_step through ask/tell,
 * zoq_mpi_step_inplace through zoq_step's in-place walk (bit for bit the
 * one-process zoq_step). Protocol, cost model and figures:
 * docs/distributed.md.
 *
 * The ranks form a grid of query_ranks x data_ranks (rank r: query rank
 * r % query_ranks, data rank r / query_ranks):
 *  - query-parallel: the points of a step are dealt round robin to the
 *    query ranks (point i to query rank i % query_ranks), each evaluated on
 *    the full minibatch of its data rank;
 *  - data-parallel: the data ranks evaluate the same point on their own
 *    shard; the step's loss of point i is
 *    (w_0 L_i^(0) + w_1 L_i^(1) + ... ) / (w_0 + w_1 + ...), summed in data
 *    rank order (with one data rank, L_i^(0) as is).
 * A failure on any rank (callback error, non-finite loss, stop) abandons the
 * step on every rank: parameters and counters are untouched everywhere.
 *
 * Every function is collective over the communicator unless it says it is
 * local: all ranks call it in the same order. Status codes are zoq's
 * (zoq_status_t, zoq_strerror). Exported symbols: zoq_mpi_* only, version
 * node ZOQ_MPI_0.1. The library never aborts, exits or prints.
 */
#ifndef ZOQ_MPI_H
#define ZOQ_MPI_H

#include <mpi.h>
#include <stdint.h>
#include <zoq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A distributed stepper: a duplicate of the communicator, the grid and the
 * byte counters. Opaque. */
typedef struct zoq_mpi zoq_mpi;

/* How the ranks split a step. Set size = sizeof(zoq_mpi_config_t). */
typedef struct zoq_mpi_config {
    size_t size;
    int32_t query_ranks;        /* ranks that share out the points; must divide the
                                   communicator's size; 0 = all of them [0] */
    int32_t reserved_;          /* must be 0 */
    double shard_weight;        /* this rank's weight in the data-parallel mean, e.g. its
                                   shard's example count; finite, > 0 [1 when 0] */
    int64_t check_every;        /* compare the parameters' XXH64 digests every K applied
                                   steps (zoq_mpi_watch); 0 = never [0] */
} zoq_mpi_config_t;

/* Evaluates point `point` of ctx's pending step (ask/tell: materialize it with
 * zoq_materialize or zoq_point_noise) and writes its loss to *loss; returns 0,
 * ZOQ_CALLBACK_STOP to stop, any other value to fail. A preference objective
 * fits through a one-line wrapper around zoq_pref_objective_eval_point. */
typedef int (*zoq_mpi_point_fn)(void *user, zoq_ctx *ctx, int32_t point, double *loss);

/* Creates a stepper over comm (duplicated; comm may be freed after) into *out
 * (free with zoq_mpi_destroy). cfg NULL: all defaults. ZOQ_E_INVALID for bad
 * fields or a query_ranks that does not divide the size, ZOQ_E_NOMEM, and
 * ZOQ_E_UNSUPPORTED when MPI is not initialized. Collective. */
ZOQ_API int zoq_mpi_create(MPI_Comm comm, const zoq_mpi_config_t *cfg, zoq_mpi **out);
/* Frees the stepper and its communicator (collective: MPI_Comm_free). Accepts NULL. */
ZOQ_API void zoq_mpi_destroy(zoq_mpi *m);
/* Message of the last failed call on m ("" if none). Owned by m. Local. */
ZOQ_API const char *zoq_mpi_last_error(const zoq_mpi *m);

/* This rank's place: rank in the communicator, query rank, data rank, and the
 * grid's query_ranks and data_ranks; any output may be NULL. Local. */
ZOQ_API int zoq_mpi_grid(const zoq_mpi *m, int32_t *rank, int32_t *query_rank,
                         int32_t *data_rank, int32_t *query_ranks, int32_t *data_ranks);

/* One distributed step of ctx: zoq_ask, fn on this rank's points, one
 * all-gather of statuses and losses, zoq_tell of the agreed losses; then,
 * every check_every applied steps, the divergence check (zoq_mpi_check).
 * Returns on every rank: ZOQ_OK with the same report everywhere; or, when a
 * rank failed, the first failing rank's status (ZOQ_E_CALLBACK,
 * ZOQ_E_NONFINITE, ZOQ_STOPPED, or a zoq error) with the step cancelled and
 * the parameters untouched on every rank; ZOQ_E_MISMATCH when the check found
 * diverged parameters (the step was applied). report may be NULL. Collective. */
ZOQ_API int zoq_mpi_step(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi_point_fn fn, void *user,
                         zoq_report_t *report);
/* The distributed zoq_step, for in-place objectives (zoq_objective_fn, called
 * at this rank's points with the parameters moved there): the parameters,
 * report and counters of zoq_step (and so of zoq_run) in one process, bit for
 * bit, given the agreed losses. Each rank walks to its points with
 * ZOQ_OPT_EXACT_RESTORE on for that walk (one copy of the parameters; CPU
 * parameters only), is put back bit for bit, then walks again to apply the
 * update. Leaves fn as ctx's objective. Statuses as zoq_mpi_step; on failure
 * the parameters are exactly as before on every rank. Collective. */
ZOQ_API int zoq_mpi_step_inplace(zoq_mpi *m, zoq_ctx *ctx, zoq_objective_fn fn, void *user,
                                 zoq_report_t *report);

/* Adds bytes [data, data + bytes) to what the digest covers (the parameter
 * buffers, in the same order on every rank; caller-owned, must outlive m).
 * ZOQ_E_INVALID for NULL or 0 bytes, ZOQ_E_NOMEM. Local. */
ZOQ_API int zoq_mpi_watch(zoq_mpi *m, const void *data, size_t bytes);
/* XXH64 (seed 0) of the watched bytes, in order, into *out. Local. */
ZOQ_API int zoq_mpi_digest(const zoq_mpi *m, uint64_t *out);
/* Compares every rank's digest with rank 0's: ZOQ_OK, or ZOQ_E_MISMATCH on
 * every rank naming the first rank that differs (zoq_mpi_last_error);
 * ZOQ_E_STATE when nothing is watched. Collective. */
ZOQ_API int zoq_mpi_check(zoq_mpi *m);

/* Rank 0 saves ctx's optimizer state to path (zoq_state_save); every rank
 * returns rank 0's status. Collective. */
ZOQ_API int zoq_mpi_state_save(zoq_mpi *m, zoq_ctx *ctx, const char *path);
/* Every rank loads path into its ctx (zoq_state_load; a file system every rank
 * reads). ZOQ_OK only when all succeeded; otherwise every rank returns the
 * first failing rank's status, and the ranks that did load must not step on
 * (their states differ). Collective. */
ZOQ_API int zoq_mpi_state_load(zoq_mpi *m, zoq_ctx *ctx, const char *path);

/* Bytes this rank has handed to MPI collectives since creation: the payloads
 * it contributed (each all-gather block, broadcast buffer), counted at every
 * call, into *out. Local. */
ZOQ_API int zoq_mpi_bytes_sent(const zoq_mpi *m, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif
