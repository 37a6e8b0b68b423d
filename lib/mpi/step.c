/* step.c - one distributed step: every rank asks for the same points,
 * evaluates its share, and the ranks exchange one block of doubles each in
 * one all-gather: [status, failed point, step, point count, losses of its
 * points...]. Every rank then reduces the blocks in the same fixed order, so
 * all tell the same losses, or all cancel. */
#include <math.h>
#include <string.h>

#include "mpi/mpi_internal.h"

enum { HEAD = 4 }; /* status, failed point, step, n_points */

/* Points of a step from the public options: 2n central (+1 under HiZOO for
 * the unperturbed point), n+1 forward. The block size must be known even on
 * a rank whose zoq_ask failed. */
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

/* Evaluates this rank's points (i = query_rank, query_rank + Q, ...) into
 * block + HEAD; the first failure ends it. Returns its status, and the
 * failed point in *failed. */
static int evaluate_mine(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi_point_fn fn, void *user, int32_t np,
                         double *losses, int32_t *failed)
{
    for (int32_t i = m->query_rank, j = 0; i < np; i += m->query_ranks, j++) {
        double loss = NAN;
        int rc = fn(user, ctx, i, &loss);
        *failed = i;
        if (rc == ZOQ_CALLBACK_STOP)
            return ZOQ_STOPPED;
        if (rc != 0)
            return ZOQ_E_CALLBACK;
        if (!isfinite(loss))
            return ZOQ_E_NONFINITE;
        losses[j] = loss;
    }
    *failed = -1;
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
static int first_bad(const zoq_mpi *m, int block, double step, double np)
{
    for (int r = 0; r < m->size; r++) {
        const double *b = m->gathered + (size_t)r * block;
        if (b[0] != ZOQ_OK || b[2] != step || b[3] != np)
            return r;
    }
    return -1;
}

static int fail_from(zoq_mpi *m, zoq_ctx *ctx, int who, int block, double step, double np)
{
    const double *b = m->gathered + (size_t)who * block;
    zoq_cancel(ctx);
    if (b[0] == ZOQ_OK)
        return zoq_mpi__fail(m, ZOQ_E_MISMATCH, "rank %d is at step %.0f with %.0f points, rank "
                             "%d at step %.0f with %.0f: the contexts differ; step abandoned",
                             who, b[2], b[3], m->rank, step, np);
    const int status = (int)b[0];
    if (b[1] >= 0)
        return zoq_mpi__fail(m, status, "rank %d failed at point %.0f of step %.0f: %s; step "
                             "abandoned on every rank, parameters untouched", who, b[1], b[2],
                             zoq_strerror(status));
    return zoq_mpi__fail(m, status, "rank %d could not start step %.0f: %s%s%s", who, b[2],
                         zoq_strerror(status), who == m->rank ? ": " : "",
                         who == m->rank ? zoq_last_error(ctx) : "");
}

int zoq_mpi_step(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi_point_fn fn, void *user,
                 zoq_report_t *report)
{
    if (!m)
        return ZOQ_E_INVALID;
    if (!ctx || !fn)
        return zoq_mpi__fail(m, ZOQ_E_INVALID, "zoq_mpi_step: ctx and fn must not be NULL");
    int32_t np = 0, asked = 0, failed = -1;
    uint64_t step = 0;
    const zoq_point_t *points;
    int status = expected_points(ctx, &np);
    if (status == ZOQ_OK)
        status = zoq_get_step(ctx, &step);
    const int block = HEAD + (np + m->query_ranks - 1) / m->query_ranks;
    if (zoq_mpi__reserve(m, block > np ? block : np) != ZOQ_OK)
        return zoq_mpi__fail(m, ZOQ_E_NOMEM, "out of memory for a %d-double block", block);
    /* the reservation is local: a rank that failed it returned before the
     * collective, which is as fatal as any rank leaving MPI mid-protocol */
    double *b = m->block;
    memset(b, 0, (size_t)block * sizeof *b);
    if (status == ZOQ_OK && (status = zoq_ask(ctx, &points, &asked)) == ZOQ_OK && asked != np) {
        zoq_cancel(ctx);
        status = ZOQ_E_STATE;
    }
    if (status == ZOQ_OK)
        status = evaluate_mine(m, ctx, fn, user, np, b + HEAD, &failed);
    b[0] = status;
    b[1] = failed;
    b[2] = (double)step;
    b[3] = np;
    int rc = zoq_mpi__allgather(m, b, block);
    if (rc != ZOQ_OK) {
        zoq_cancel(ctx);
        return rc;
    }
    const int who = first_bad(m, block, (double)step, np);
    if (who >= 0)
        return fail_from(m, ctx, who, block, (double)step, np);
    double *losses = m->block; /* free once gathered; reserved for np */
    for (int32_t i = 0; i < np; i++)
        losses[i] = agreed_loss(m, block, i);
    if ((rc = zoq_tell(ctx, losses, np, report)) != ZOQ_OK) {
        zoq_cancel(ctx);
        return zoq_mpi__fail(m, rc, "zoq_tell failed on rank %d: %s", m->rank,
                             zoq_last_error(ctx));
    }
    if (m->check_every > 0 && (step + 1) % (uint64_t)m->check_every == 0 && m->n_spans > 0)
        return zoq_mpi_check(m);
    return ZOQ_OK;
}
