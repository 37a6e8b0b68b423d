/*
 * zoq/core.h - version, status codes, the context, parameters, random
 * numbers, the step (callback and ask/tell) and optimizer state.
 * Part of the public API: include <zoq.h>, which includes every part.
 */
#ifndef ZOQ_H_CORE
#define ZOQ_H_CORE

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define ZOQ_API
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define ZOQ_API __attribute__((visibility("default")))
#else
#  define ZOQ_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define ZOQ_VERSION_MAJOR 0
#define ZOQ_VERSION_MINOR 1
#define ZOQ_VERSION_PATCH 0
#define ZOQ_VERSION_NUMBER \
    (ZOQ_VERSION_MAJOR * 10000 + ZOQ_VERSION_MINOR * 100 + ZOQ_VERSION_PATCH)
#define ZOQ__STR2(x) #x
#define ZOQ__STR(x) ZOQ__STR2(x)
#define ZOQ_VERSION_STRING                                          \
    ZOQ__STR(ZOQ_VERSION_MAJOR) "." ZOQ__STR(ZOQ_VERSION_MINOR) "." \
    ZOQ__STR(ZOQ_VERSION_PATCH)

/* Version of the library linked at run time, as ZOQ_VERSION_NUMBER. */
ZOQ_API unsigned zoq_version_number(void);
/* Version of the library linked at run time, as "MAJOR.MINOR.PATCH". Static string. */
ZOQ_API const char *zoq_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes (values are pinned forever)                                 */
/* ------------------------------------------------------------------------ */

typedef enum zoq_status {
    ZOQ_OK = 0,
    ZOQ_STOPPED = 1,            /* the objective asked to stop; the step was not applied */
    ZOQ_E_INVALID = -1,         /* invalid argument (NULL, out of range, wrong type) */
    ZOQ_E_NOMEM = -2,           /* allocation failed */
    ZOQ_E_STATE = -3,           /* call not valid now (e.g. tell without ask, no objective) */
    ZOQ_E_NOT_FOUND = -4,       /* no such parameter, group or option */
    ZOQ_E_EXISTS = -5,          /* a parameter with this name or memory is already registered */
    ZOQ_E_CALLBACK = -6,        /* the objective returned an error; step abandoned, restored */
    ZOQ_E_NONFINITE = -7,       /* a loss was NaN or infinite; step abandoned, restored */
    ZOQ_E_IO = -8,              /* a file could not be opened, read, written or renamed */
    ZOQ_E_FORMAT = -9,          /* a file is not a zoq file, or is truncated or malformed */
    ZOQ_E_CHECKSUM = -10,       /* a file's checksum does not match its contents */
    ZOQ_E_MISMATCH = -11,       /* a file does not match this context's parameters */
    ZOQ_E_UNSUPPORTED = -12,    /* valid request this build cannot do (e.g. no such device) */
    ZOQ_E_VERSION = -13,        /* a file or plugin of an unknown version */
    ZOQ_E_THREAD = -14          /* worker threads could not be started */
} zoq_status_t;

/* Short static description of a status code ("unknown status" for others). */
ZOQ_API const char *zoq_strerror(int status);

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct zoq_ctx zoq_ctx;

/* Creates a context with default options into *out (caller owns it; free with
 * zoq_destroy). ZOQ_E_INVALID if out is NULL, ZOQ_E_NOMEM on allocation failure. */
ZOQ_API int zoq_create(zoq_ctx **out);
/* Destroys a context and everything it owns; never touches registered
 * parameter buffers. Accepts NULL. Refused (nothing freed, message set) from
 * inside the objective of a step on ctx: destroy it after zoq_step returns. */
ZOQ_API void zoq_destroy(zoq_ctx *ctx);
/* Message of the last failed call on ctx ("" if none failed yet). Owned by ctx,
 * valid until the next call on it. ctx == NULL: the message of the last failed
 * call on this thread that had no context to record it (safetensors, PEFT,
 * preference, statistics, LoRA, rotation, quantized-format and random-number
 * functions, or a call given a NULL context); "" if none. That one
 * is thread-local, valid until the thread's next such failure; a successful
 * call does not clear it, so read it only right after a failure. */
ZOQ_API const char *zoq_last_error(const zoq_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Parameters: caller-owned buffers zoq perturbs and updates in place       */
/* ------------------------------------------------------------------------ */

typedef enum zoq_dtype {
    ZOQ_F32 = 0,
    ZOQ_F16 = 1,                /* IEEE binary16; arithmetic in f32, stored round-to-nearest-even */
    ZOQ_BF16 = 2,               /* bfloat16; arithmetic in f32, stored round-to-nearest-even */
    ZOQ_I8 = 3                  /* int8 integer codes, trained by QuZO or ZOQO (ZOQ_OPT_QMETHOD),
                                   always on the grid; range and scales: zoq_param_set_codes */
} zoq_dtype_t;

/* Parameter flags (bits). Unknown bits are refused. */
#define ZOQ_PARAM_DISABLED 0x1u /* registered but not trained until enabled */
#define ZOQ_PARAM_LORA_A 0x2u   /* the A factor of a LoRA pair (set by zoq_lora_add; zoq_lora_init) */
#define ZOQ_PARAM_LORA_B 0x4u   /* the B factor of a LoRA pair (see zoq_lora_b_warm_start) */
#define ZOQ_PARAM_SCALE 0x8u    /* quantization scales (QZO): f32/f16/bf16 only; floored at
                                   ZOQ_OPT_SCALE_FLOOR after each update, and their presence
                                   turns on DDC (ZOQ_OPT_SCALE_CLIP) when clip is 0 */
#define ZOQ_PARAM_NO_DECAY 0x10u /* exempt from ZOQ_OPT_WEIGHT_DECAY (biases, norm weights, as
                                    MeZO and LoZO do); the rest of the update is unchanged */

/* Full description of a parameter tensor. Set size = sizeof(zoq_param_desc_t). */
typedef struct zoq_param_desc {
    size_t size;
    const char *name;           /* unique, non-empty, NUL-terminated; copied */
    void *data;                 /* numel elements of dtype; caller-owned, must outlive use */
    int32_t dtype;              /* zoq_dtype_t */
    int32_t device;             /* zoq_device_t */
    int64_t numel;              /* > 0 */
    const char *group;          /* group name for zoq_group_set_enabled; NULL = "" ; copied */
    uint32_t flags;             /* ZOQ_PARAM_* bits */
    uint32_t reserved_;         /* must be 0 */
    /* since 0.1: a 2-D shape (row-major) for low-rank perturbation; 0, 0 = none */
    int64_t rows;               /* rows * cols == numel when set */
    int64_t cols;
    /* since 0.2: bytes from one element to the next, for a view of values
       interleaved with other data (e.g. the f16 scale d of each block of a
       quantized weight buffer); 0 = dense. Float dtypes on the CPU only; >=
       the dtype's size; the bytes between elements are never touched. */
    int64_t stride;
} zoq_param_desc_t;

/* Registers a parameter described by desc and writes its id (0, 1, ...) to
 * *id (may be NULL). ZOQ_E_INVALID for bad fields, ZOQ_E_EXISTS for a
 * duplicate name or a CPU buffer overlapping a registered CPU parameter's
 * bytes (the same array twice, overlapping views; interleaved strided views
 * whose elements share no byte are fine), ZOQ_E_STATE while an ask/tell step
 * is pending, ZOQ_E_UNSUPPORTED for a stride on a device or dtype that has
 * none, or ZOQ_E_VERSION when a device's backend cannot be had
 * (zoq_device_t). */
ZOQ_API int zoq_param_add_desc(zoq_ctx *ctx, const zoq_param_desc_t *desc, int32_t *id);
/* Sets the code range [lo, hi] (within -128..127, lo < hi) of ZOQ_I8 parameter
 * id and its scales: numel/group f32 values (caller-owned, must outlive use;
 * group > 0 divides numel), scale k for elements [k*group, (k+1)*group), used
 * to express eps and lr in code steps; scales NULL means 1 (eps, lr in codes).
 * Each step copies the scales when it starts, so they may train too (QZO).
 * Default after registration: [-127, 127], no scales. ZOQ_E_INVALID for a
 * non-I8 parameter or bad values (nothing changed). */
ZOQ_API int zoq_param_set_codes(zoq_ctx *ctx, int32_t id, int32_t lo, int32_t hi,
                                const float *scales, int64_t group);
/* Shorthand for a CPU tensor in group "" with no flags. */
ZOQ_API int zoq_param_add(zoq_ctx *ctx, const char *name, void *data, int dtype,
                          int64_t numel, int32_t *id);
/* Number of registered parameters. Returns 0 for ctx == NULL. */
ZOQ_API int32_t zoq_param_count(const zoq_ctx *ctx);
/* Finds a parameter's id by name. ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_param_find(const zoq_ctx *ctx, const char *name, int32_t *id);
/* Points parameter id at a new buffer of the same dtype, numel and stride
 * (e.g. after the engine reallocated it). ZOQ_E_EXISTS if it overlaps another CPU
 * parameter's bytes, ZOQ_E_STATE while an ask/tell step is pending. */
ZOQ_API int zoq_param_set_data(zoq_ctx *ctx, int32_t id, void *data);
/* Enables (on != 0) or disables parameter id for training. */
ZOQ_API int zoq_param_set_enabled(zoq_ctx *ctx, int32_t id, int on);
/* Enables or disables every parameter of a group; writes how many matched to
 * *count (may be NULL). ZOQ_E_NOT_FOUND if no parameter is in that group. */
ZOQ_API int zoq_group_set_enabled(zoq_ctx *ctx, const char *group, int on, int32_t *count);
/* Total elements of the enabled parameters into *out. */
ZOQ_API int zoq_param_enabled_numel(const zoq_ctx *ctx, int64_t *out);

/* ------------------------------------------------------------------------ */
/* Random numbers (counter-based; exact spec and test vectors: docs/rng.md) */
/* ------------------------------------------------------------------------ */

/* The key of a tensor: XXH3-64 of its name with seed as the XXH3 seed. */
ZOQ_API uint64_t zoq_tensor_key(uint64_t seed, const char *name);
/* Writes z[offset .. offset+count) of the stream (key, step, query, stream) in
 * distribution dist to out (f32). Pure function: any slice equals the same
 * slice of the whole. query < 2^24, stream < 256; ZOQ_E_INVALID otherwise. */
ZOQ_API int zoq_noise_fill(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                           int dist, uint64_t offset, size_t count, float *out);
/* acc[j] = acc[j] + coef * z[offset + j] for j < count (binary32 product and
 * sum, rounded separately: the bits of zoq_noise_fill then adding), z never
 * stored where the CPU allows (how an engine perturbs its own tensors).
 * Arguments and errors as zoq_noise_fill's; acc is the caller's. */
ZOQ_API int zoq_noise_axpy(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                           int dist, uint64_t offset, size_t count, float coef, float *acc);

/* ------------------------------------------------------------------------ */
/* The step                                                                 */
/* ------------------------------------------------------------------------ */

/* One point of a step: parameters θ + coef·z_query (query = -1, coef = 0 for θ). */
typedef struct zoq_point {
    int32_t query;
    int32_t reserved_;
    double coef;
} zoq_point_t;

/* What the objective is asked to evaluate. Filled by zoq; read fields you know. */
typedef struct zoq_eval {
    size_t size;                /* sizeof the struct zoq filled */
    uint64_t step;              /* step counter (0-based) */
    int32_t point;              /* index of this point in the step, 0..n_points-1 */
    int32_t n_points;           /* evaluations this step */
    int32_t query;              /* direction index, -1 for the unperturbed point */
    int32_t reserved_;
    double coef;                /* the parameters currently hold θ + coef·z_query */
    double lr;                  /* learning rate of this step */
    double eps;                 /* perturbation scale of this step */
} zoq_eval_t;

/* Return from an objective to stop the run: the step in flight is abandoned,
 * parameters restored, and zoq_step returns ZOQ_STOPPED. */
#define ZOQ_CALLBACK_STOP 1

/* Objective: write the loss at the parameters' current values to *loss and
 * return 0. Any other return abandons the step (see ZOQ_CALLBACK_STOP). */
typedef int (*zoq_objective_fn)(void *user, const zoq_eval_t *ev, double *loss);

/* Sets the in-place objective used by zoq_step (fn NULL clears it). */
ZOQ_API int zoq_set_objective(zoq_ctx *ctx, zoq_objective_fn fn, void *user);

/* Result of a step. Set size = sizeof(zoq_report_t) before the call; zoq
 * writes only the fields that fit. Arrays are owned by ctx, valid until the
 * next step, ask or tell. */
typedef struct zoq_report {
    size_t size;
    uint64_t step;              /* the step this report describes */
    double loss;                /* estimate of L(θ): L0 (forward) or mean of (L+ + L-)/2 */
    double lr;                  /* learning rate applied */
    double eps;                 /* perturbation scale used */
    double grad_norm;           /* RMS over queries of the projected gradients g_q */
    int32_t n_points;           /* evaluations this step */
    int32_t n_queries;
    const double *losses;       /* n_points losses, in point order */
    const double *proj_grads;   /* n_queries projected gradients g_q */
    int32_t failed_point;       /* point whose evaluation failed, -1 if none */
    int32_t callback_status;    /* objective's non-zero return, 0 if none */
    int64_t passes;             /* passes over the parameters this step */
    int32_t applied;            /* 1 if this step updated the parameters (0: accumulating) */
    int32_t n_clipped;          /* projected gradients DDC clipped this step */
} zoq_report_t;

/* One ZO step in place: perturbs the enabled parameters, calls the objective
 * at each point, restores and updates them (2n+1 passes central, n+1 forward).
 * ZOQ_OK and the step counter advances; on ZOQ_E_CALLBACK, ZOQ_E_NONFINITE or
 * ZOQ_STOPPED the parameters are restored (to one ulp of |θ| + 6ε per pass
 * run, report.passes; bit for bit with ZOQ_OPT_EXACT_RESTORE) and the
 * counter does not advance. report may be NULL. */
ZOQ_API int zoq_step(zoq_ctx *ctx, zoq_report_t *report);
/* Runs `steps` in-place steps (>= 0) with the objective: the points, losses,
 * parameters and buffers of calling zoq_step that many times, bit for bit,
 * but central SPSA (without HiZOO or sparse masks) fuses each step's update
 * with the next step's first perturbation: 2n passes a step, not 2n+1.
 * *done (may be NULL) gets the steps applied, report (may be NULL) the last
 * step's. Stops at the first step that fails, with zoq_step's status and the
 * parameters restored as zoq_step leaves them (the last applied step). */
ZOQ_API int zoq_run(zoq_ctx *ctx, int64_t steps, int64_t *done, zoq_report_t *report);

/* Ask/tell, step 1: lists the points of the next step in *points (owned by
 * ctx, valid until tell/cancel) and their number in *n. Parameters are never
 * modified until zoq_tell. ZOQ_E_STATE if a step is already pending. */
ZOQ_API int zoq_ask(zoq_ctx *ctx, const zoq_point_t **points, int32_t *n);
/* Writes θ + coef·d of point `point` for parameter id into dst (numel
 * elements of the parameter's dtype, laid out as the parameter: stride bytes
 * apart for a strided view, the bytes between untouched; dst may not overlap
 * the parameter's span). A disabled
 * parameter is not perturbed: dst gets θ. ZOQ_I8: the codes clamp(θ ± u1). */
ZOQ_API int zoq_materialize(zoq_ctx *ctx, int32_t point, int32_t id, void *dst);
/* Writes the f32 direction d[offset .. offset+count) of point `point` for
 * parameter id into out (d = z_query, or z_query/sqrt(Σ) under HiZOO), for
 * callers that perturb with their own kernel; zeros for the unperturbed point
 * and for disabled parameters. ZOQ_I8: the integer code offsets u1 (the point
 * is clamp(θ + sign(coef)·u1), docs/quantized.md). */
ZOQ_API int zoq_point_noise(zoq_ctx *ctx, int32_t point, int32_t id, int64_t offset,
                            int64_t count, float *out);
/* Ask/tell, step 2: takes the n losses in point order and applies the update
 * in one pass. ZOQ_E_INVALID for a wrong n (still pending); ZOQ_E_NONFINITE
 * abandons the step exactly (parameters untouched, counter unchanged). */
ZOQ_API int zoq_tell(zoq_ctx *ctx, const double *losses, int32_t n, zoq_report_t *report);
/* Abandons a pending ask/tell step (no-op if none). ZOQ_E_STATE from inside
 * the objective of a step. */
ZOQ_API int zoq_cancel(zoq_ctx *ctx);
/* Current step counter into *out. */
ZOQ_API int zoq_get_step(const zoq_ctx *ctx, uint64_t *out);
/* Fills parameter id with sigma·z, z ~ N(0, 1) from its own stream (the
 * "warm start" of LoRA B factors, Morgan 2026: B ~ N(0, sigma^2) instead of 0).
 * Reproducible from (seed, name). ZOQ_E_INVALID for sigma < 0 or non-finite. */
ZOQ_API int zoq_param_init_normal(zoq_ctx *ctx, int32_t id, double sigma);
/* zoq_param_init_normal on every parameter flagged ZOQ_PARAM_LORA_B; writes
 * how many to *count (may be NULL). */
ZOQ_API int zoq_lora_b_warm_start(zoq_ctx *ctx, double sigma, int32_t *count);
/* Advances the step counter without an update (to move past a step that
 * fails persistently, since a retried step reuses the same directions). */
ZOQ_API int zoq_skip_step(zoq_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Optimizer state                                                          */
/* ------------------------------------------------------------------------ */

/* Saves the optimizer state (step counter, options, per-parameter optimizer
 * buffers; not the parameters themselves) to path, atomically: a temporary
 * file in the same folder renamed over path. Format: docs/formats.md.
 * ZOQ_E_UNSUPPORTED (for now) when a parameter is on a CUDA device. */
ZOQ_API int zoq_state_save(zoq_ctx *ctx, const char *path);
/* Loads a state saved by zoq_state_save into ctx, whose parameters must match
 * by name, dtype and numel; every option (optimizer, seed, lr, ...) becomes
 * the file's, replacing what was set before. Validates everything first: on any error
 * (ZOQ_E_IO, _FORMAT, _CHECKSUM, _VERSION, _MISMATCH; _UNSUPPORTED as for
 * zoq_state_save) ctx is unchanged. */
ZOQ_API int zoq_state_load(zoq_ctx *ctx, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H_CORE */
