/* internal.h - the context and the private declarations shared across lib/.
 * Nothing here is exported: cross-file names are zoq__*, and the library is
 * built with -fvisibility=hidden. */
#ifndef ZOQ_CORE_INTERNAL_H
#define ZOQ_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zoq.h"
#include "backend/backend.h"
#include "backend/plugin.h"
#include "core/abi.h"
#include "core/error.h"

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
    int64_t optimizer;
    double momentum, adam_beta1, adam_beta2, adam_eps, clip;
    int64_t sign, accumulate;
    int64_t hessian;
    double hessian_alpha, hessian_floor;
    int64_t sparse;
    double sparse_keep;
    int64_t sparse_every;
    int64_t lozo_rank, lozo_interval;
    int64_t qmethod, quzo_bits;
    double scale_clip, scale_floor;
    int64_t exact_restore;
} zoq__opts;

/* What an integer-code (ZOQ_I8) tensor adds: its range, scales, and the
 * codes of θ kept while an in-place step moves them (lib/quant/codes.c). */
typedef struct zoq__codes {
    int32_t lo, hi;
    const float *scales;        /* caller's, numel / group of them; NULL: 1 */
    int64_t group;
    float *plan_scales;         /* the scales when the step was planned (a step's
                                   offsets use them even if the scales train too) */
    int8_t *backup;             /* θ during zoq_step; NULL until the first one */
} zoq__codes;

/* Techniques a parameter can hold state for (lib/tech/list.h has fewer). */
#define ZOQ__TECH_SLOTS 16

/* A registered parameter. */
typedef struct zoq__param {
    char *name;
    char *group;
    zoq__tensor t;              /* data, dtype, numel, key, shape: what kernels see */
    uint32_t flags;
    int enabled;
    int reenabled;              /* enabled again since the last plan: its threshold and mask
                                   are of a time it was not trained (tech/sparse.c) */
    int device;                 /* zoq_device_t: which backend owns t's buffers */
    void *tech[ZOQ__TECH_SLOTS]; /* each technique's state of this parameter, in its own
                                   layout (lib/tech/<name>.c), by technique id; NULL: none */
    zoq__codes codes;           /* ZOQ_I8 only */
    void *restore;              /* θ while a step runs under ZOQ_OPT_EXACT_RESTORE; NULL
                                   until the first such step */
} zoq__param;

/* The points, losses and gradients of the step being evaluated. */
typedef struct zoq__plan {
    int n_points, n_queries;
    zoq_point_t *points;        /* n_points */
    double *losses;             /* n_points */
    double *grads;              /* n_queries */
    double *curv;               /* n_queries: HiZOO's h_q = |L+ + L- - 2 L0| / (2 eps^2) */
    zoq__term *terms;           /* coefficients of one pass: moves and the update */
    zoq__term *kept_terms;      /* the update's terms for ZOQ_PARAM_NO_DECAY tensors */
    zoq__term *grad;            /* the optimizer stage's ĝ terms */
    zoq__pass *passes;          /* 2 n_params: a pass per enabled parameter, and its chained move */
    zoq__term *curv_terms;      /* HiZOO's sigma-update terms of the final pass */
    int cap_points, cap_losses, cap_grads, cap_curv, cap_terms, cap_kept_terms, cap_grad,
        cap_curv_terms, cap_passes;
    zoq__update upd;            /* optimizer stage of the update pass */
    zoq__hessian hs_move;       /* HiZOO in a move: precondition only */
    zoq__hessian hs_final;      /* HiZOO in the final pass: precondition and update sigma */
    zoq__mask mask_store, mask_bits, mask_calc, mask_random; /* sparse masks by pass */
    zoq__lowrank lowrank;       /* LoZO's directions (rank 0: off) */
    float floor;                /* QZO scales' floor */
    int moved;                  /* an in-place move has run this step (bits are valid) */
    int window_bits;            /* this step reads the window's magnitude mask from bits
                                   (zoq__sparse_window_bits when it was planned) */
    double lr, eps;
    double loss;                /* estimate of L(theta) */
    int64_t passes_run;         /* passes over the parameters this step */
    int n_clipped;              /* g_q that DDC clipped */
    int applied;                /* the step's update was applied (not accumulating) */
} zoq__plan;

/* One accumulated direction: weight w (after DDC/sign) of z of (step, query). */
typedef struct zoq__accum {
    uint64_t step;
    uint32_t query;
    double w;
} zoq__accum;

struct zoq_ctx {
    zoq__opts opts;
    uint64_t step;
    zoq__param *params;
    int32_t n_params, cap_params;
    zoq_objective_fn objective;
    void *objective_user;
    zoq__plan plan;
    uint64_t updates;           /* updates applied so far (Adam's t) */
    zoq__accum *accum;          /* directions gathered since the last update */
    int n_accum, cap_accum;
    int accum_steps;            /* steps gathered since the last update */
    int buffers_kind;           /* optimizer whose buffers params hold (SGD: none) */
    int64_t mask_epoch;         /* updates / sparse_every when thresholds were computed; -1 none */
    atomic_int pending;         /* an ask is waiting for its tell */
    atomic_uintptr_t owner;     /* the thread inside zoq_step, zoq_run, zoq_ask, zoq_tell,
                                   zoq_cancel or zoq_skip_step (zoq__enter), else 0 */
    zoq__backend *backend;      /* created lazily by zoq__ctx_backend() */
    int backend_threads;        /* thread count the backend was made with */
    int auto_threads;           /* online cores, read once; 0 = not yet */
    zoq__plugin *cuda;          /* the CUDA plugin, loaded by the first CUDA parameter */
    float *lozo_scratch;        /* LOZO-M: U, two V and an r x r product of one tensor */
    size_t cap_lozo_scratch;    /* floats */
    char err[ZOQ__ERRMSG_CAP];
};


/* Index of the parameter called name, or -1 (no message: not a failure). */
int32_t zoq__param_index(const zoq_ctx *ctx, const char *name);

/* ZOQ_OK if ctx is non-NULL and no step is in flight (pending ask/tell, or
 * zoq_step calling the objective); else the status, with a message naming
 * `what`. Everything that could change what a restore must undo checks it. */
int zoq__check_idle(zoq_ctx *ctx, const char *what);
/* Takes ctx for the calling thread (one atomic compare-and-swap of owner):
 * ZOQ_E_STATE if a step call of this thread (the objective calling back) or
 * of another thread holds it; ZOQ_E_INVALID for NULL. zoq__leave gives it
 * back. A refusal caused by another thread leaves ctx's message alone (that
 * thread's call owns it). */
int zoq__enter(zoq_ctx *ctx, const char *what);
void zoq__leave(zoq_ctx *ctx);
/* ZOQ_E_STATE (message naming `what`) while an ask/tell step is pending. */
int zoq__check_no_pending(zoq_ctx *ctx, const char *what);


/* Options */
void zoq__opts_default(zoq__opts *o);
/* Number of option keys, and the key and type of the i-th (i < count). */
size_t zoq__opt_count(void);
int zoq__opt_key_at(size_t i, int *type);
/* Value of the lr/eps schedules at step t; ZOQ_E_INVALID (message set) if a
 * non-constant schedule lacks what it needs. */
int zoq__schedule_values(zoq_ctx *ctx, uint64_t t, double *lr, double *eps);

/* State files (state.c) */
/* zoq_state_load of the n bytes at data, a whole file, named path in
 * messages: checks everything, then changes ctx, or leaves it unchanged. */
int zoq__state_decode(zoq_ctx *ctx, const unsigned char *data, size_t n, const char *path);

/* Registry */
/* Recomputes every tensor key after the seed changed. */
void zoq__registry_rekey(zoq_ctx *ctx);
/* Unregisters the last parameter added (undoes a zoq_param_add_desc). */
void zoq__registry_pop(zoq_ctx *ctx);

/* The CPU backend of ctx, (re)created for the current thread option. */
int zoq__ctx_backend(zoq_ctx *ctx, zoq__backend **out);

/* Devices (backend/devices.c) */
/* The backend that runs passes over tensors of `device` (a zoq_device_t the
 * registry accepted); loads the plugin on first use (message set on failure). */
int zoq__device_backend(zoq_ctx *ctx, int device, zoq__backend **out);
/* Zeroed memory of `bytes` on the device of parameter p (host memory for the
 * CPU); ZOQ_E_NOMEM with a message naming p. */
int zoq__param_alloc(zoq_ctx *ctx, const zoq__param *p, size_t bytes, void **out);
/* Releases a buffer from zoq__param_alloc of p. Accepts NULL. */
void zoq__param_release(zoq_ctx *ctx, const zoq__param *p, void *buf);
/* Sets n floats of p's device buffer buf to value. */
int zoq__param_fill(zoq_ctx *ctx, const zoq__param *p, float *buf, int64_t n, float value);
/* Elements [offset, offset+count) of p's data as binary32, into host memory. */
int zoq__param_read(zoq_ctx *ctx, const zoq__param *p, int64_t offset, int64_t count,
                    float *out);
/* *ok = whether the backend of `device` runs passes with a stage of this
 * kind (backend.h supports_stage); the status of finding the backend. */
int zoq__device_supports(zoq_ctx *ctx, int device, int kind, int *ok);
/* What be's last failing call met ("" when it cannot say). */
const char *zoq__backend_error(zoq__backend *be);
/* The destroyed context's plugin backend goes with it. */
void zoq__devices_close(zoq_ctx *ctx);

/* Plans the next step in ctx->plan (schedules, points, buffers sized), so
 * that nothing allocates once parameters start moving. */
int zoq__plan_make(zoq_ctx *ctx);
/* From plan.losses: the projected gradients plan.grads and plan.loss. */
void zoq__plan_grads(zoq_ctx *ctx);
/* Grows *buf to hold n elements of size sz (ZOQ_E_NOMEM, *buf intact). */
int zoq__reserve(void **buf, int *cap, int n, size_t sz);

/* Update (update.c) */
/* Sizes the accumulation store and prepares every technique's state for
 * the planned step (lib/tech/); called by zoq__plan_make, before anything
 * moves. */
int zoq__update_prepare(zoq_ctx *ctx);
/* Ends the planned step from plan.grads: gathers its directions and, on the
 * last step of an accumulation window, applies the update in one pass from
 * where the parameters sit, theta + disp_coef*z_{disp_query} (query -1: at
 * theta). Counts the pass in plan.passes_run and sets plan.applied. With
 * then (NULL: none) the same pass then moves by that term (zoq__apply_chain). */
int zoq__update_finish(zoq_ctx *ctx, int32_t disp_query, double disp_coef,
                       const zoq__term *then);

/* ZOQ_OPT_EXACT_RESTORE (restore.c) */
/* Copies θ of every enabled float parameter aside, before a step moves
 * them. ZOQ_E_NOMEM, ZOQ_E_UNSUPPORTED (a parameter on a CUDA device). */
int zoq__restore_save(zoq_ctx *ctx);
/* Puts the copies back: the parameters are θ bit for bit. */
void zoq__restore_load(zoq_ctx *ctx);

/* The eval info of point i (< plan.n_points) of the planned step. */
void zoq__eval_info(const zoq_ctx *ctx, int i, zoq_eval_t *ev);
/* ZOQ_OK if ctx has an ask/tell step pending with this point; else the
 * status (ZOQ_E_INVALID for a NULL ctx or a point out of range, ZOQ_E_STATE),
 * with a message. */
int zoq__check_pending_point(zoq_ctx *ctx, int32_t point);

/* Applies one fused pass (backend.h) with these terms and optimizer stage to
 * every enabled float parameter in place (ZOQ_I8 ones: lib/quant/codes.c);
 * scale is the weight decay's, which ZOQ_PARAM_NO_DECAY tensors skip (1);
 * `final` marks the step's last pass, where ZOQ_PARAM_SCALE tensors get their
 * floor. Does not allocate: uses plan.passes. */
int zoq__apply_all(zoq_ctx *ctx, float scale, const zoq__term *terms, int n_terms,
                   const zoq__update *upd, const zoq__hessian *hs, const zoq__mask *mask,
                   int final);
/* The same, except that ZOQ_PARAM_NO_DECAY tensors take the terms kept (as
 * many: those meant for scale 1), and when then is not NULL, a move by the
 * single term *then (scale 1, no HiZOO, no mask) chained after it in the same
 * sweep over the memory: the result of the two passes, one read and write of
 * each element (zoq_run's fused update-and-perturb). Uses plan.passes for both. */
int zoq__apply_chain(zoq_ctx *ctx, float scale, const zoq__term *terms, const zoq__term *kept,
                     int n_terms, const zoq__update *upd, const zoq__hessian *hs,
                     const zoq__mask *mask, int final, const zoq__term *then);

/* Integer-code tensors (lib/quant/codes.c). */
/* Bytes per element of a dtype. */
size_t zoq__dtype_size(int dtype);
/* Nonzero if an enabled parameter has dtype ZOQ_I8 / flag ZOQ_PARAM_SCALE. */
int zoq__any_enabled_codes(const zoq_ctx *ctx);
int zoq__any_enabled_scales(const zoq_ctx *ctx);
/* At plan time (lib/tech/codes.c): copies the scales of the enabled ZOQ_I8
 * tensors, so that the step's points and update use θ's scales even when
 * the scales are trained in the same context. */
int zoq__codes_plan(zoq_ctx *ctx);
/* Allocates the θ copies an in-place step needs (before anything moves). */
int zoq__codes_prepare(zoq_ctx *ctx);
/* Moves every enabled ZOQ_I8 tensor to point p of the planned step, from θ
 * (its copy, once moved). `moved`: the copy holds θ (else it is taken now). */
void zoq__codes_move(zoq_ctx *ctx, const zoq_point_t *p, int moved);
/* Ends the step for ZOQ_I8 tensors: applies the update of the gathered
 * directions when plan.applied (from the copy when moved), else restores. */
void zoq__codes_finish(zoq_ctx *ctx, int moved);
/* Writes point p of ZOQ_I8 parameter `p` into dst (codes). */
void zoq__codes_point(const zoq_ctx *ctx, const zoq__param *p, const zoq_point_t *pt,
                      int8_t *dst);
/* The code offsets u1 of the +eps probe of query `query`, elements
 * [off, off + n), as floats (zoq_point_noise for ZOQ_I8). */
void zoq__codes_offsets(const zoq_ctx *ctx, const zoq__param *p, uint32_t query, int64_t off,
                        int64_t n, float *out);
/* A pass over tensor t into dst with the context's stream, distribution and
 * LoZO stage (as planned), scale 1, no terms: callers add what their pass
 * needs (estim/passes.c). */
zoq__pass zoq__pass_base(const zoq_ctx *ctx, const zoq__tensor *t, void *dst);
/* Appends to ps the stages of parameter p for these shared arguments (each
 * NULL: none): the sparse mask, HiZOO (its Σ update when hs->n_curv > 0),
 * the optimizer stage, and in the `final` pass the QZO floor. */
void zoq__pass_stages(const zoq_ctx *ctx, const zoq__param *p, zoq__pass *ps,
                      const zoq__update *upd, const zoq__hessian *hs, const zoq__mask *mask,
                      int final);

#endif
