/* schedule.c - learning-rate and perturbation-scale schedules. At step t
 * (0-based), warmup W, run length T, progress p = min(1, (t - W) / (T - W)):
 *   warmup (lr only) t < W:  base * (t + 1) / W
 *   constant: base;  linear: final + (base - final)(1 - p);
 *   cosine:   final + (base - final)(1 + cos(pi p)) / 2.                  */
#include <math.h>

#include "core/internal.h"

#define PI 3.14159265358979323846

static double progress(uint64_t t, int64_t warmup, int64_t total)
{
    double span = (double)(total - warmup);
    double p = ((double)t - (double)warmup) / (span > 1.0 ? span : 1.0);
    return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
}

static double shape(int kind, double base, double final, double p)
{
    if (kind == ZOQ_SCHED_LINEAR)
        return final + (base - final) * (1.0 - p);
    if (kind == ZOQ_SCHED_COSINE)
        return final + (base - final) * 0.5 * (1.0 + cos(PI * p));
    return base;
}

int zoq__schedule_values(zoq_ctx *ctx, uint64_t t, double *lr, double *eps)
{
    const zoq__opts *o = &ctx->opts;
    int scheduled = o->lr_schedule != ZOQ_SCHED_CONSTANT || o->eps_schedule != ZOQ_SCHED_CONSTANT;
    if (scheduled && o->total_steps <= 0)
        return zoq__fail(ctx, ZOQ_E_INVALID, "a linear or cosine schedule needs total_steps > 0");
    if (o->lr_warmup > 0 && o->total_steps > 0 && o->lr_warmup > o->total_steps)
        return zoq__fail(ctx, ZOQ_E_INVALID, "lr_warmup (%lld) exceeds total_steps (%lld)",
                         (long long)o->lr_warmup, (long long)o->total_steps);
    if (o->eps_schedule != ZOQ_SCHED_CONSTANT && !(o->eps_final > 0.0))
        return zoq__fail(ctx, ZOQ_E_INVALID, "an eps schedule needs eps_final > 0");
    if (o->lr_warmup > 0 && t < (uint64_t)o->lr_warmup)
        *lr = o->lr * (double)(t + 1) / (double)o->lr_warmup;
    else
        *lr = shape((int)o->lr_schedule, o->lr, o->lr_final,
                    progress(t, o->lr_warmup, o->total_steps));
    *eps = shape((int)o->eps_schedule, o->eps, o->eps_final, progress(t, 0, o->total_steps));
    return ZOQ_OK;
}
