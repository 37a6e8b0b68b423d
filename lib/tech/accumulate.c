/* accumulate.c - gradient accumulation: a step's directions are gathered as
 * (step, query, weight) triples (z is never stored) and every K-th step
 * applies the update of all of them in one pass (estim/update.c). Its state
 * is the context's list of gathered directions, saved with the run. */
#include "tech/tech.h"

static const int keys[] = {ZOQ_OPT_ACCUMULATE, 0};

static int active(const zoq_ctx *ctx)
{
    return ctx->opts.accumulate > 1;
}

const zoq__tech zoq__tech_accumulate = {
    .name = "gradient accumulation",
    .keys = keys,
    .active = active,
};
