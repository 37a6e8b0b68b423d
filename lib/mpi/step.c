/* step.c - the distributed ask/tell step: every rank asks for the same
 * points, evaluates its own through the caller's point function, and after
 * the exchange (round.c) tells the same losses, or cancels. */
#include <math.h>

#include "mpi/mpi_internal.h"

/* Evaluates this rank's points into losses (slot j: its j-th point); the
 * first failure ends it. Returns its status, and the failed point in *failed. */
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

int zoq_mpi_step(zoq_mpi *m, zoq_ctx *ctx, zoq_mpi_point_fn fn, void *user,
                 zoq_report_t *report)
{
    if (!m)
        return ZOQ_E_INVALID;
    if (!ctx || !fn)
        return zoq_mpi__fail(m, ZOQ_E_INVALID, "zoq_mpi_step: ctx and fn must not be NULL");
    zoq_mpi__round r;
    int status, rc = zoq_mpi__round_begin(m, ctx, &r, &status);
    if (rc != ZOQ_OK)
        return rc;
    int32_t asked = 0, failed = -1;
    const zoq_point_t *points;
    if (status == ZOQ_OK && (status = zoq_ask(ctx, &points, &asked)) == ZOQ_OK && asked != r.np)
        status = ZOQ_E_STATE;
    if (status == ZOQ_OK)
        status = evaluate_mine(m, ctx, fn, user, r.np, r.mine, &failed);
    const double *losses;
    if ((rc = zoq_mpi__round_agree(m, ctx, &r, status, failed, &losses)) != ZOQ_OK) {
        zoq_cancel(ctx);
        return rc;
    }
    if ((rc = zoq_tell(ctx, losses, r.np, report)) != ZOQ_OK) {
        zoq_cancel(ctx);
        return zoq_mpi__fail(m, rc, "zoq_tell failed on rank %d: %s", m->rank,
                             zoq_last_error(ctx));
    }
    return zoq_mpi__round_end(m, &r);
}
