/* mpi_internal.h - the stepper shared by libzoq-mpi's files. Nothing here is
 * exported (-fvisibility=hidden, version script lib/mpi/libzoq-mpi.map). */
#ifndef ZOQ_MPI_INTERNAL_H
#define ZOQ_MPI_INTERNAL_H

#include <stddef.h>

#include "zoq_mpi.h"

#define ZOQ_MPI__ERRMSG_CAP 256

typedef struct zoq_mpi__span {
    const void *data;
    size_t bytes;
} zoq_mpi__span;

struct zoq_mpi {
    MPI_Comm comm;
    int rank, size;
    int query_ranks, data_ranks;
    int query_rank, data_rank;
    int64_t check_every;
    double *weights;            /* every rank's shard weight, by rank */
    double *gathered;           /* all-gather receive buffer, size * cap_block doubles */
    double *block;              /* this rank's block, cap_block doubles */
    int cap_block;
    zoq_mpi__span *spans;       /* watched bytes, in order */
    int n_spans, cap_spans;
    int64_t bytes_sent;
    char err[ZOQ_MPI__ERRMSG_CAP];
};

/* Records a message on m and returns status. */
int zoq_mpi__fail(zoq_mpi *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* MPI_Allgather of `count` doubles from every rank into m->gathered, counted
 * in bytes_sent. ZOQ_E_NOMEM when the buffers cannot grow. */
int zoq_mpi__allgather(zoq_mpi *m, const double *mine, int count);
/* Reserves m->block and m->gathered for blocks of count doubles. */
int zoq_mpi__reserve(zoq_mpi *m, int count);
/* Every rank's status in, the first (lowest rank) non-OK one out (and its
 * rank in *who, -1 if none); one all-gather of one double. */
int zoq_mpi__agree(zoq_mpi *m, int status, int *who);

/* One step's exchange (round.c). */
typedef struct zoq_mpi__round {
    int32_t np;                 /* points of the step */
    uint64_t step;              /* the step counter before the step */
    int block;                  /* doubles per rank */
    double *mine;               /* this rank's losses, slot j for its j-th point */
} zoq_mpi__round;

/* Sizes the block for ctx's next step; *status gets the local status
 * (ZOQ_OK, or why the step cannot start). Returns ZOQ_E_NOMEM only, and
 * then the caller must leave: the round cannot take place. */
int zoq_mpi__round_begin(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi__round *r, int *status);
/* The all-gather: ZOQ_OK with *losses the agreed np losses (valid until the
 * next collective), or the first failing rank's status on every rank. */
int zoq_mpi__round_agree(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi__round *r, int status,
                         int32_t failed, const double **losses);
/* After an applied step: the periodic digest check. */
int zoq_mpi__round_end(zoq_mpi *m, const zoq_mpi__round *r);
/* Whether this rank evaluates point i (query-parallel deal). */
int zoq_mpi__owns(const zoq_mpi *m, int32_t point);

#endif
