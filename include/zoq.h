/*
 * zoq.h - zeroth-order optimization for parameters you can only evaluate.
 *
 * The one public header of libzoq. Grouped by object: version, status codes,
 * context, options, parameters, random numbers, the step (callback and
 * ask/tell), optimizer state. Every fallible function returns a zoq_status_t
 * (0 ok, negative error, see zoq_strerror()) and records a message readable
 * with zoq_last_error(). The library never aborts, exits or prints.
 *
 * ABI rules: nothing published is reordered, resized or renumbered. Structs
 * that cross the boundary begin with their own size (set it to sizeof the
 * struct as you compiled it); new fields are only appended. Options grow by
 * new keys. Exported symbols are zoq_* only, versioned ZOQ_0.1.
 *
 * Threading: a context is used by one thread at a time; distinct contexts are
 * independent. Functions without a context are thread-safe.
 */
#ifndef ZOQ_H
#define ZOQ_H

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
    ZOQ_E_EXISTS = -5,          /* a parameter with this name is already registered */
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
 * parameter buffers. Accepts NULL. */
ZOQ_API void zoq_destroy(zoq_ctx *ctx);
/* Message of the last failed call on ctx ("" if none failed yet). Owned by ctx,
 * valid until the next call on it. For ctx == NULL returns a static string. */
ZOQ_API const char *zoq_last_error(const zoq_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Options: typed keys, validated on set, growable without breaking the ABI */
/* ------------------------------------------------------------------------ */

typedef enum zoq_opt {
    ZOQ_OPT_SEED = 1,           /* int: seed of every random draw [0] */
    ZOQ_OPT_ESTIMATOR = 2,      /* int: zoq_estimator_t [ZOQ_EST_CENTRAL] */
    ZOQ_OPT_DIST = 3,           /* int: zoq_dist_t of z [ZOQ_DIST_GAUSSIAN] */
    ZOQ_OPT_QUERIES = 4,        /* int: directions per step n, 1..65536 [1] */
    ZOQ_OPT_LR = 5,             /* double: base learning rate eta >= 0 [1e-3] */
    ZOQ_OPT_EPS = 6,            /* double: base perturbation scale eps > 0 [1e-3] */
    ZOQ_OPT_WEIGHT_DECAY = 7,   /* double: decoupled weight decay >= 0 [0] */
    ZOQ_OPT_TOTAL_STEPS = 8,    /* int: run length T for schedules, >= 0 [0] */
    ZOQ_OPT_LR_SCHEDULE = 9,    /* int: zoq_schedule_t of the lr [constant] */
    ZOQ_OPT_LR_WARMUP = 10,     /* int: linear warmup steps of the lr, >= 0 [0] */
    ZOQ_OPT_LR_FINAL = 11,      /* double: lr at step T, >= 0 [0] */
    ZOQ_OPT_EPS_SCHEDULE = 12,  /* int: zoq_schedule_t of eps [constant] */
    ZOQ_OPT_EPS_FINAL = 13,     /* double: eps at step T, > 0 when scheduled [0 = unset] */
    ZOQ_OPT_THREADS = 14        /* int: CPU worker threads, 0 = all online cores [0] */
} zoq_opt_t;

typedef enum zoq_estimator {
    ZOQ_EST_CENTRAL = 0,        /* g_q = (L(θ+εz_q) − L(θ−εz_q)) / 2ε, 2n evaluations */
    ZOQ_EST_FORWARD = 1         /* g_q = (L(θ+εz_q) − L(θ)) / ε, n+1 evaluations */
} zoq_estimator_t;

typedef enum zoq_dist {
    ZOQ_DIST_GAUSSIAN = 0,      /* z ~ N(0, 1), Box-Muller, see docs/rng.md */
    ZOQ_DIST_RADEMACHER = 1     /* z uniform on {-1, +1} */
} zoq_dist_t;

typedef enum zoq_schedule {
    ZOQ_SCHED_CONSTANT = 0,
    ZOQ_SCHED_LINEAR = 1,       /* base -> final linearly over [warmup, T) */
    ZOQ_SCHED_COSINE = 2        /* base -> final by half a cosine over [warmup, T) */
} zoq_schedule_t;

typedef enum zoq_opt_type { ZOQ_OPT_INT = 0, ZOQ_OPT_DOUBLE = 1 } zoq_opt_type_t;

/* Sets an integer option. ZOQ_E_NOT_FOUND for an unknown key, ZOQ_E_INVALID
 * for a double key or an out-of-range value (option unchanged), ZOQ_E_STATE
 * while an ask/tell step is pending. */
ZOQ_API int zoq_set_int(zoq_ctx *ctx, int key, int64_t value);
/* Sets a real option; errors as zoq_set_int, and non-finite values are refused. */
ZOQ_API int zoq_set_double(zoq_ctx *ctx, int key, double value);
/* Reads an integer option into *out. ZOQ_E_NOT_FOUND / ZOQ_E_INVALID as above. */
ZOQ_API int zoq_get_int(const zoq_ctx *ctx, int key, int64_t *out);
/* Reads a real option into *out. */
ZOQ_API int zoq_get_double(const zoq_ctx *ctx, int key, double *out);
/* Looks an option up by its name ("lr", "eps", "queries", ...: the enum name
 * without ZOQ_OPT_, lower case). Writes its key and type; ZOQ_E_NOT_FOUND if
 * unknown. Either output may be NULL. For bindings. */
ZOQ_API int zoq_opt_find(const char *name, int *key, int *type);
/* Name of an option key (static string), or NULL if unknown. */
ZOQ_API const char *zoq_opt_name(int key);

/* ------------------------------------------------------------------------ */
/* Parameters: caller-owned buffers zoq perturbs and updates in place       */
/* ------------------------------------------------------------------------ */

typedef enum zoq_dtype {
    ZOQ_F32 = 0,
    ZOQ_F16 = 1,                /* IEEE binary16; arithmetic in f32, stored round-to-nearest-even */
    ZOQ_BF16 = 2                /* bfloat16; arithmetic in f32, stored round-to-nearest-even */
} zoq_dtype_t;

typedef enum zoq_device { ZOQ_DEVICE_CPU = 0 } zoq_device_t;

/* Parameter flags (bits). Unknown bits are refused. */
#define ZOQ_PARAM_DISABLED 0x1u /* registered but not trained until enabled */
#define ZOQ_PARAM_LORA_A 0x2u   /* the A factor of a LoRA pair (informational for now) */
#define ZOQ_PARAM_LORA_B 0x4u   /* the B factor of a LoRA pair (informational for now) */
#define ZOQ_PARAM_SCALE 0x8u    /* quantization scales (informational for now) */

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
} zoq_param_desc_t;

/* Registers a parameter described by desc and writes its id (0, 1, ...) to
 * *id (may be NULL). ZOQ_E_INVALID for bad fields, ZOQ_E_EXISTS for a
 * duplicate name, ZOQ_E_STATE while an ask/tell step is pending. */
ZOQ_API int zoq_param_add_desc(zoq_ctx *ctx, const zoq_param_desc_t *desc, int32_t *id);
/* Shorthand for a CPU tensor in group "" with no flags. */
ZOQ_API int zoq_param_add(zoq_ctx *ctx, const char *name, void *data, int dtype,
                          int64_t numel, int32_t *id);
/* Number of registered parameters. Returns 0 for ctx == NULL. */
ZOQ_API int32_t zoq_param_count(const zoq_ctx *ctx);
/* Finds a parameter's id by name. ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_param_find(const zoq_ctx *ctx, const char *name, int32_t *id);
/* Points parameter id at a new buffer of the same dtype and numel (e.g. after
 * the engine reallocated it). ZOQ_E_STATE while an ask/tell step is pending. */
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
} zoq_report_t;

/* One ZO step in place: perturbs the enabled parameters, calls the objective
 * at each point, restores and updates them (2n+1 passes central, n+1 forward).
 * ZOQ_OK and the step counter advances; on ZOQ_E_CALLBACK, ZOQ_E_NONFINITE or
 * ZOQ_STOPPED the parameters are restored (to float rounding of +c·z - c·z)
 * and the counter does not advance. report may be NULL. */
ZOQ_API int zoq_step(zoq_ctx *ctx, zoq_report_t *report);

/* Ask/tell, step 1: lists the points of the next step in *points (owned by
 * ctx, valid until tell/cancel) and their number in *n. Parameters are never
 * modified until zoq_tell. ZOQ_E_STATE if a step is already pending. */
ZOQ_API int zoq_ask(zoq_ctx *ctx, const zoq_point_t **points, int32_t *n);
/* Writes θ + coef·z_query of point `point` for parameter id into dst (numel
 * elements of the parameter's dtype; dst may not overlap it). */
ZOQ_API int zoq_materialize(zoq_ctx *ctx, int32_t point, int32_t id, void *dst);
/* Writes the f32 direction z_query[offset .. offset+count) of point `point`
 * for parameter id into out, for callers that perturb with their own kernel. */
ZOQ_API int zoq_point_noise(zoq_ctx *ctx, int32_t point, int32_t id, int64_t offset,
                            int64_t count, float *out);
/* Ask/tell, step 2: takes the n losses in point order and applies the update
 * in one pass. ZOQ_E_INVALID for a wrong n (still pending); ZOQ_E_NONFINITE
 * abandons the step exactly (parameters untouched, counter unchanged). */
ZOQ_API int zoq_tell(zoq_ctx *ctx, const double *losses, int32_t n, zoq_report_t *report);
/* Abandons a pending ask/tell step (no-op if none). */
ZOQ_API int zoq_cancel(zoq_ctx *ctx);
/* Current step counter into *out. */
ZOQ_API int zoq_get_step(const zoq_ctx *ctx, uint64_t *out);
/* Advances the step counter without an update (to move past a step that
 * fails persistently, since a retried step reuses the same directions). */
ZOQ_API int zoq_skip_step(zoq_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Optimizer state                                                          */
/* ------------------------------------------------------------------------ */

/* Saves the optimizer state (step counter, options, per-parameter optimizer
 * buffers; not the parameters themselves) to path, atomically: a temporary
 * file in the same folder renamed over path. Format: docs/formats.md. */
ZOQ_API int zoq_state_save(zoq_ctx *ctx, const char *path);
/* Loads a state saved by zoq_state_save into ctx, whose parameters must match
 * by name, dtype and numel. Validates everything first: on any error
 * (ZOQ_E_IO, _FORMAT, _CHECKSUM, _VERSION, _MISMATCH) ctx is unchanged. */
ZOQ_API int zoq_state_load(zoq_ctx *ctx, const char *path);

/* ------------------------------------------------------------------------ */
/* Preference losses                                                        */
/* ------------------------------------------------------------------------ */

/* @@PREF-BEGIN@@ (section owned by lib/pref; declarations go here) */
/* @@PREF-END@@ */

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H */
