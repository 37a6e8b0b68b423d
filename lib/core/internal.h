/* internal.h - the context and the private declarations shared across lib/.
 * Nothing here is exported: cross-file names are zoq__*, and the library is
 * built with -fvisibility=hidden. */
#ifndef ZOQ_CORE_INTERNAL_H
#define ZOQ_CORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "zoq.h"
#include "backend/backend.h"
#include "core/abi.h"

#define ZOQ__ERRMSG_CAP 256

/* Values of every option (docs in zoq.h); zoq__opts_default() fills them.
 * Integer options are int64_t and real ones double, so one table in
 * options.c describes them all. */
typedef struct zoq__opts {
    int64_t seed;               /* used as uint64_t bits */
    int64_t estimator, dist, queries;
    double lr, eps, weight_decay;
    int64_t total_steps;
    int64_t lr_schedule, lr_warmup;
    double lr_final;
    int64_t eps_schedule;
    double eps_final;
    int64_t threads;
} zoq__opts;

/* A registered parameter. */
typedef struct zoq__param {
    char *name;
    char *group;
    zoq__tensor t;              /* data, dtype, numel, key: what kernels see */
    uint32_t flags;
    int enabled;
} zoq__param;

/* The points, losses and gradients of the step being evaluated. */
typedef struct zoq__plan {
    int n_points, n_queries;
    zoq_point_t *points;        /* n_points */
    double *losses;             /* n_points */
    double *grads;              /* n_queries */
    zoq__term *terms;           /* n_queries + 1: coefficients of one pass */
    zoq__pass *passes;          /* n_params: one pass per enabled parameter */
    int cap_points, cap_losses, cap_grads, cap_terms, cap_passes;
    double lr, eps;
    double loss;                /* estimate of L(theta) */
    int64_t passes_run;         /* passes over the parameters this step */
} zoq__plan;

struct zoq_ctx {
    zoq__opts opts;
    uint64_t step;
    zoq__param *params;
    int32_t n_params, cap_params;
    zoq_objective_fn objective;
    void *objective_user;
    zoq__plan plan;
    int pending;                /* an ask is waiting for its tell */
    int stepping;               /* inside zoq_step (the objective may call back in) */
    zoq__backend *backend;      /* created lazily by zoq__ctx_backend() */
    int backend_threads;        /* thread count the backend was made with */
    int auto_threads;           /* online cores, read once; 0 = not yet */
    char err[ZOQ__ERRMSG_CAP];
};

/* Records a formatted message as ctx's last error and returns status. */
int zoq__fail(zoq_ctx *ctx, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ZOQ_OK if ctx is non-NULL and no step is in flight (pending ask/tell, or
 * zoq_step calling the objective); else the status, with a message naming
 * `what`. Everything that could change what a restore must undo checks it. */
int zoq__check_idle(zoq_ctx *ctx, const char *what);


/* Options */
void zoq__opts_default(zoq__opts *o);
/* Number of option keys, and the key and type of the i-th (i < count). */
size_t zoq__opt_count(void);
int zoq__opt_key_at(size_t i, int *type);
/* Value of the lr/eps schedules at step t; ZOQ_E_INVALID (message set) if a
 * non-constant schedule lacks what it needs. */
int zoq__schedule_values(zoq_ctx *ctx, uint64_t t, double *lr, double *eps);

/* Registry */
/* Recomputes every tensor key after the seed changed. */
void zoq__registry_rekey(zoq_ctx *ctx);

/* The backend of ctx, (re)created for the current thread option. */
int zoq__ctx_backend(zoq_ctx *ctx, zoq__backend **out);

/* Plans the next step in ctx->plan (schedules, points, buffers sized), so
 * that nothing allocates once parameters start moving. */
int zoq__plan_make(zoq_ctx *ctx);
/* From plan.losses: the projected gradients plan.grads and plan.loss. */
void zoq__plan_grads(zoq_ctx *ctx);
/* The update pass of the planned step: theta <- scale*theta + sum terms,
 * where the parameters currently sit at theta + disp_coef*z_{disp_query}
 * (disp_query -1: at theta). Returns the number of terms written to
 * plan.terms. */
int zoq__plan_update(zoq_ctx *ctx, int32_t disp_query, double disp_coef, float *scale);

/* The eval info of point i (< plan.n_points) of the planned step. */
void zoq__eval_info(const zoq_ctx *ctx, int i, zoq_eval_t *ev);
/* ZOQ_OK if ctx has an ask/tell step pending with this point; else the
 * status (ZOQ_E_INVALID for a NULL ctx or a point out of range, ZOQ_E_STATE),
 * with a message. */
int zoq__check_pending_point(zoq_ctx *ctx, int32_t point);

/* Applies theta <- scale*theta + sum_k terms[k].coef * z_{terms[k].query} to
 * every enabled parameter in place. Does not allocate: uses plan.passes. */
int zoq__apply_all(zoq_ctx *ctx, float scale, const zoq__term *terms, int n_terms);

#endif
