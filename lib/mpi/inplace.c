/* inplace.c - the distributed zoq_step. Every rank runs zoq_step itself, so
 * the parameters walk exactly the points a one-process zoq_step visits:
 *  1. zoq_step with ZOQ_OPT_EXACT_RESTORE on and a relay objective that calls
 *     the caller's objective at this rank's points (other points get a
 *     placeholder, never used) and stops the step after the last of them:
 *     the core puts the parameters back bit for bit from its copy;
 *  2. the exchange (round.c);
 *  3. zoq_step again, with the caller's exact_restore setting, and an
 *     objective that returns the agreed losses: the moves, the update and the
 *     counters of zoq_step given those losses.
 * The result is zoq_step's (and zoq_run's) in one process, bit for bit, at
 * the price of the core's copy of the parameters and a second walk. */
#include <math.h>

#include "mpi/mpi_internal.h"

typedef struct relay {
    const zoq_mpi *m;
    zoq_objective_fn fn;
    void *user;
    double *mine;               /* losses of this rank's points */
    int32_t last;               /* this rank's last point; -1: none */
    int status;                 /* of this rank's evaluations */
    int32_t failed;
} relay;

static int relay_eval(void *user, const zoq_eval_t *ev, double *loss)
{
    relay *r = user;
    *loss = 0.0;
    if (zoq_mpi__owns(r->m, ev->point)) {
        int rc = r->fn(r->user, ev, loss);
        r->failed = ev->point;
        if (rc != 0 || !isfinite(*loss)) {
            r->status = rc == ZOQ_CALLBACK_STOP ? ZOQ_STOPPED
                        : rc != 0               ? ZOQ_E_CALLBACK
                                                : ZOQ_E_NONFINITE;
            return ZOQ_CALLBACK_STOP;
        }
        r->mine[ev->point / r->m->query_ranks] = *loss;
        r->failed = -1;
    }
    return ev->point >= r->last ? ZOQ_CALLBACK_STOP : 0;
}

static int replay_eval(void *user, const zoq_eval_t *ev, double *loss)
{
    *loss = ((const double *)user)[ev->point];
    return 0;
}

/* Walks this rank's points (step 1); returns the local status. */
static int walk_mine(zoq_ctx *ctx, relay *rl)
{
    int64_t exact;
    int rc = zoq_get_int(ctx, ZOQ_OPT_EXACT_RESTORE, &exact);
    if (rc != ZOQ_OK || rl->last < 0)
        return rc;
    if ((rc = zoq_set_int(ctx, ZOQ_OPT_EXACT_RESTORE, 1)) == ZOQ_OK &&
        (rc = zoq_set_objective(ctx, relay_eval, rl)) == ZOQ_OK) {
        rc = zoq_step(ctx, NULL);
        rc = rl->status != ZOQ_OK ? rl->status : rc == ZOQ_STOPPED ? ZOQ_OK : rc;
    }
    zoq_set_int(ctx, ZOQ_OPT_EXACT_RESTORE, exact);
    return rc;
}

int zoq_mpi_step_inplace(zoq_mpi *m, zoq_ctx *ctx, zoq_objective_fn fn, void *user,
                         zoq_report_t *report)
{
    if (!m)
        return ZOQ_E_INVALID;
    if (!ctx || !fn)
        return zoq_mpi__fail(m, ZOQ_E_INVALID, "zoq_mpi_step_inplace: ctx and fn must not be "
                             "NULL");
    zoq_mpi__round r;
    int status, rc = zoq_mpi__round_begin(m, ctx, &r, &status);
    if (rc != ZOQ_OK)
        return rc;
    relay rl = {.m = m, .fn = fn, .user = user, .mine = r.mine, .status = ZOQ_OK, .failed = -1,
                .last = r.np > m->query_rank
                            ? m->query_rank + (r.np - 1 - m->query_rank) / m->query_ranks *
                                                  m->query_ranks
                            : -1};
    if (status == ZOQ_OK)
        status = walk_mine(ctx, &rl);
    const double *losses;
    if ((rc = zoq_mpi__round_agree(m, ctx, &r, status, rl.failed, &losses)) == ZOQ_OK &&
        (rc = zoq_set_objective(ctx, replay_eval, (void *)losses)) == ZOQ_OK &&
        (rc = zoq_step(ctx, report)) != ZOQ_OK)
        rc = zoq_mpi__fail(m, rc, "the replayed step failed on rank %d: %s", m->rank,
                           zoq_last_error(ctx));
    zoq_set_objective(ctx, fn, user);
    return rc == ZOQ_OK ? zoq_mpi__round_end(m, &r) : rc;
}
