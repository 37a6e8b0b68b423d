/* round.c - the exchange every distributed step makes, whichever way its
 * points were evaluated: each rank contributes one block of doubles,
 *   [status, failed point, step, n_points, losses of its points...],
 * to one all-gather; every rank then reduces the blocks in the same fixed
 * order, so all apply the same losses, or all abandon the step. */
#include <string.h>

#include "mpi/mpi_internal.h"

enum { HEAD = 4 }; /* status, failed point, step, n_points */

/* Points of a step from the public options: 2n central (+1 under HiZOO for
 * the unperturbed point), n+1 forward. The block size must be known even on
 * a rank whose step could not start. */
static int expected_points(zoq_ctx *ctx, int32_t *np)
{
    int64_t nq, est, hessian;
    int rc = zoq_get_int(ctx, ZOQ_OPT_QUERIES, &nq);
    if (rc == ZOQ_OK)
        rc = zoq_get_int(ctx, ZOQ_OPT_ESTIMATOR, &est);
    if (rc == ZOQ_OK)
        rc = zoq_get_int(ctx, ZOQ_OPT_HESSIAN, &hessian);
    if (rc == ZOQ_OK)
        *np = (int32_t)(est == ZOQ_EST_CENTRAL ? 2 * nq + (hessian != 0) : nq + 1);
    return rc;
}

int zoq_mpi__round_begin(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi__round *r, int *status)
{
    *r = (zoq_mpi__round){0};
    *status = expected_points(ctx, &r->np);
    if (*status == ZOQ_OK)
        *status = zoq_get_step(ctx, &r->step);
    r->block = HEAD + (r->np + m->query_ranks - 1) / m->query_ranks;
    /* local: a rank that fails here leaves before the collective, which is
     * as fatal to the job as any rank leaving MPI mid-protocol */
    if (zoq_mpi__reserve(m, r->block > r->np ? r->block : r->np) != ZOQ_OK)
        return zoq_mpi__fail(m, ZOQ_E_NOMEM, "out of memory for a %d-double block", r->block);
    memset(m->block, 0, (size_t)r->block * sizeof *m->block);
    r->mine = m->block + HEAD;
    return ZOQ_OK;
}

/* Point i's loss from the gathered blocks: its query rank's value on each
 * data rank, weighted by shard, summed in data-rank order. */
static double agreed_loss(const zoq_mpi *m, int block, int32_t i)
{
    const int q = i % m->query_ranks, j = i / m->query_ranks;
    if (m->data_ranks == 1)
        return m->gathered[(size_t)q * block + HEAD + j];
    double num = 0.0, den = 0.0;
    for (int d = 0; d < m->data_ranks; d++) {
        const int r = d * m->query_ranks + q;
        num += m->weights[r] * m->gathered[(size_t)r * block + HEAD + j];
        den += m->weights[r];
    }
    return num / den;
}

/* The first rank whose block reports a failure or disagrees with this
 * rank's step and point count; -1 if none. */
static int first_bad(const zoq_mpi *m, const zoq_mpi__round *r)
{
    for (int k = 0; k < m->size; k++) {
        const double *b = m->gathered + (size_t)k * r->block;
        if (b[0] != ZOQ_OK || b[2] != (double)r->step || b[3] != r->np)
            return k;
    }
    return -1;
}

static int fail_from(zoq_mpi *m, zoq_ctx *ctx, int who, const zoq_mpi__round *r)
{
    const double *b = m->gathered + (size_t)who * r->block;
    if (b[0] == ZOQ_OK)
        return zoq_mpi__fail(m, ZOQ_E_MISMATCH, "rank %d is at step %.0f with %.0f points, rank "
                             "%d at step %llu with %d: the contexts differ; step abandoned", who,
                             b[2], b[3], m->rank, (unsigned long long)r->step, (int)r->np);
    const int status = (int)b[0];
    if (b[1] >= 0)
        return zoq_mpi__fail(m, status, "rank %d failed at point %.0f of step %.0f: %s; step "
                             "abandoned on every rank, parameters untouched", who, b[1], b[2],
                             zoq_strerror(status));
    return zoq_mpi__fail(m, status, "rank %d could not start step %.0f: %s%s%s", who, b[2],
                         zoq_strerror(status), who == m->rank ? ": " : "",
                         who == m->rank ? zoq_last_error(ctx) : "");
}

int zoq_mpi__round_agree(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi__round *r, int status,
                         int32_t failed, const double **losses)
{
    double *b = m->block;
    b[0] = status;
    b[1] = failed;
    b[2] = (double)r->step;
    b[3] = r->np;
    int rc = zoq_mpi__allgather(m, b, r->block);
    if (rc != ZOQ_OK)
        return rc;
    const int who = first_bad(m, r);
    if (who >= 0)
        return fail_from(m, ctx, who, r);
    double *all = m->block; /* free once gathered; reserved for np */
    for (int32_t i = 0; i < r->np; i++)
        all[i] = agreed_loss(m, r->block, i);
    *losses = all;
    return ZOQ_OK;
}

int zoq_mpi__round_end(zoq_mpi *m, const zoq_mpi__round *r)
{
    if (m->check_every > 0 && (r->step + 1) % (uint64_t)m->check_every == 0 && m->n_spans > 0)
        return zoq_mpi_check(m);
    return ZOQ_OK;
}

int zoq_mpi__owns(const zoq_mpi *m, int32_t point)
{
    return point % m->query_ranks == m->query_rank;
}
