/*
 * zoq.h - zeroth-order optimization for parameters you can only evaluate.
 *
 * The one public header of libzoq. Grouped by object: version, status codes,
 * context, options, parameters, random numbers, the step (callback and
 * ask/tell), optimizer state, safetensors and PEFT adapter files,
 * preference losses, LoRA adapters and their nightly rotation, quantized
 * formats. Every fallible function returns a zoq_status_t (0 ok, negative
 * error, see zoq_strerror()) and records a message readable with
 * zoq_last_error().
 * The library never aborts, exits or prints.
 *
 * ABI rules: nothing published is reordered, resized or renumbered. Structs
 * that cross the boundary begin with their own size (set it to sizeof the
 * struct as you compiled it); new fields are only appended. Options grow by
 * new keys. Exported symbols are zoq_* only, versioned ZOQ_0.1.
 *
 * Threading: a context is used by one thread at a time; distinct contexts are
 * independent. Functions without a context are thread-safe. As a guard
 * against misuse, zoq_step, zoq_run, zoq_ask, zoq_tell, zoq_cancel,
 * zoq_skip_step and zoq_destroy take the context with one atomic operation:
 * one called while another of them runs (from the objective, or from another
 * thread) is refused with ZOQ_E_STATE, never raced.
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
 * call on this thread that had no context to record it (the preference and
 * statistics functions, or a call given a NULL context); "" if none. That one
 * is thread-local, valid until the thread's next such failure; a successful
 * call does not clear it, so read it only right after a failure. */
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
    ZOQ_OPT_THREADS = 14,       /* int: CPU worker threads, 0 = all online cores [0]; the
                                   instruction set is the best the CPU runs, capped by the
                                   environment variable ZOQ_CPU_ISA (docs/backends.md) */
    ZOQ_OPT_OPTIMIZER = 15,     /* int: zoq_optimizer_t applied to the ZO gradient [SGD] */
    ZOQ_OPT_MOMENTUM = 16,      /* double: momentum mu in [0, 1) [0.9] */
    ZOQ_OPT_ADAM_BETA1 = 17,    /* double: Adam beta1 in [0, 1) [0.9] */
    ZOQ_OPT_ADAM_BETA2 = 18,    /* double: Adam beta2 in [0, 1) [0.999] */
    ZOQ_OPT_ADAM_EPS = 19,      /* double: Adam epsilon > 0 [1e-8] */
    ZOQ_OPT_CLIP = 20,          /* double: DDC, clip each g_q to [-C, C]; 0 = off [0] */
    ZOQ_OPT_SIGN = 21,          /* int: 1 = ZO-SGD-Sign, use sign(g_q) [0] */
    ZOQ_OPT_ACCUMULATE = 22,    /* int: apply one update every K steps, 1..4096 [1] */
    ZOQ_OPT_HESSIAN = 23,       /* int: 1 = HiZOO diagonal-Hessian preconditioning [0] */
    ZOQ_OPT_HESSIAN_ALPHA = 24, /* double: HiZOO EMA rate alpha in [0, 1) [1e-8] */
    ZOQ_OPT_HESSIAN_FLOOR = 25, /* double: lower bound of the Hessian estimate, > 0 [1e-8] */
    ZOQ_OPT_SPARSE = 26,        /* int: zoq_sparse_t, perturb only part of each tensor [off] */
    ZOQ_OPT_SPARSE_KEEP = 27,   /* double: fraction of each tensor perturbed, (0, 1] [0.5] */
    ZOQ_OPT_SPARSE_EVERY = 28,  /* int: recompute the mask's threshold (or redraw it) every k steps [1] */
    ZOQ_OPT_LOZO_RANK = 29,     /* int: LoZO rank r of U·Vᵀ directions for 2-D tensors, 0 = off, <= 32 [0] */
    ZOQ_OPT_LOZO_INTERVAL = 30, /* int: LoZO resamples V every nu steps, >= 1 [50] */
    /* Quantized training (docs/quantized.md) */
    ZOQ_OPT_QMETHOD = 40,       /* int: zoq_qmethod_t for ZOQ_I8 code tensors [QUZO] */
    ZOQ_OPT_QUZO_BITS = 41,     /* int: QuZO perturbation bits b, codes |u| <= 2^(b-1)-1, 2..8 [8] */
    ZOQ_OPT_SCALE_CLIP = 42,    /* double: DDC threshold C used when clip = 0 and a
                                   ZOQ_PARAM_SCALE tensor is enabled (QZO); 0 = off [100] */
    ZOQ_OPT_SCALE_FLOOR = 43,   /* double: ZOQ_PARAM_SCALE tensors are kept >= this after
                                   each update (QZO's non-negativity), >= 0 [0] */
    ZOQ_OPT_EXACT_RESTORE = 44  /* int: 1 = zoq_step and zoq_run copy the enabled CPU
                                   parameters before a step moves them and a failed step
                                   puts them back bit for bit (memory: one copy; time: one
                                   more pass a step; zoq_run does not fuse); 0 = they come
                                   back to the rounding of the moves (docs/inplace.md) [0] */
} zoq_opt_t;

/* How ZOQ_I8 integer-code tensors are perturbed and updated (QuZO: Zhou et
 * al. 2025, arXiv:2502.12346; ZOQO: Bar & Giryes 2025, arXiv:2501.06736).
 * f32/f16/bf16 tensors in the same context train as usual. */
typedef enum zoq_qmethod {
    ZOQ_QMETHOD_QUZO = 0,       /* QuZO: two independent stochastic roundings u1 (probe),
                                   u2 (update) of eps*z; update stochastically rounded */
    ZOQ_QMETHOD_QUZO_NAIVE = 1, /* QuZO's biased baseline (its eq. 3): u1 probes and updates */
    ZOQ_QMETHOD_ZOQO = 2        /* ZOQO: noise uniform on {-m..m} codes, sign update of
                                   max(floor(lr/s), 1) codes */
} zoq_qmethod_t;

typedef enum zoq_sparse {
    ZOQ_SPARSE_OFF = 0,
    ZOQ_SPARSE_MAGNITUDE = 1,   /* Sparse MeZO: the fraction `keep` with the smallest |θ| */
    ZOQ_SPARSE_RANDOM = 2       /* a random fraction `keep`, from its own stream */
} zoq_sparse_t;

typedef enum zoq_optimizer {
    ZOQ_OPTIM_SGD = 0,          /* θ ← θ − η ĝ */
    ZOQ_OPTIM_MOMENTUM = 1,     /* b ← μ b + ĝ;  θ ← θ − η b  (ZO-SGD-MMT) */
    ZOQ_OPTIM_ADAM = 2          /* Adam on ĝ with bias correction (ZO-Adam) */
} zoq_optimizer_t;

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
    ZOQ_BF16 = 2,               /* bfloat16; arithmetic in f32, stored round-to-nearest-even */
    ZOQ_I8 = 3                  /* int8 integer codes, trained by QuZO or ZOQO (ZOQ_OPT_QMETHOD),
                                   always on the grid; range and scales: zoq_param_set_codes */
} zoq_dtype_t;

/* Where a parameter's data lives. ZOQ_DEVICE_CUDA: data is CUDA device
 * memory of the current device; its first registration loads the plugin
 * libzoq-cuda.so (docs/backends.md: $ZOQ_BACKEND_PATH, else libzoq's own
 * directory) and fails with ZOQ_E_UNSUPPORTED, saying what was searched, when
 * there is none or no device, ZOQ_E_VERSION when the plugin is of another ABI.
 * Its optimizer buffers live on the device; zoq_materialize's dst is device
 * memory there, zoq_point_noise's out host memory. */
typedef enum zoq_device {
    ZOQ_DEVICE_CPU = 0,
    ZOQ_DEVICE_CUDA = 1
} zoq_device_t;

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
} zoq_param_desc_t;

/* Registers a parameter described by desc and writes its id (0, 1, ...) to
 * *id (may be NULL). ZOQ_E_INVALID for bad fields, ZOQ_E_EXISTS for a
 * duplicate name or a CPU buffer overlapping a registered CPU parameter's
 * bytes (the same array twice, overlapping views), ZOQ_E_STATE while an
 * ask/tell step is pending,
 * ZOQ_E_UNSUPPORTED or ZOQ_E_VERSION when a device's backend cannot be had
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
/* Points parameter id at a new buffer of the same dtype and numel (e.g. after
 * the engine reallocated it). ZOQ_E_EXISTS if it overlaps another CPU
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
 * elements of the parameter's dtype; dst may not overlap it). A disabled
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

/* ------------------------------------------------------------------------ */
/* safetensors files and PEFT LoRA adapter folders                          */
/* ------------------------------------------------------------------------ */

/* No context: calls that can fail for reasons worth explaining take an
 * optional message buffer (err, err_cap; NULL, 0 to skip) that receives a
 * NUL-terminated message on failure. A reader is immutable once open, so
 * its calls are thread-safe. Format, checks and layout: docs/formats.md. */

/* Element types of a safetensors tensor. The first three equal the
 * zoq_dtype_t values, so a parameter's dtype can be passed as is. */
typedef enum zoq_st_dtype {
    ZOQ_ST_F32 = 0,             /* "F32" */
    ZOQ_ST_F16 = 1,             /* "F16", IEEE binary16 */
    ZOQ_ST_BF16 = 2,            /* "BF16" */
    ZOQ_ST_I8 = 3,              /* "I8" */
    ZOQ_ST_I32 = 4              /* "I32" */
} zoq_st_dtype_t;

#define ZOQ_ST_MAX_DIMS 8                       /* more dimensions: ZOQ_E_UNSUPPORTED */
#define ZOQ_ST_MAX_HEADER_BYTES 100000000u      /* larger JSON headers are refused */

/* A safetensors file open for reading. Opaque. */
typedef struct zoq_st zoq_st;

/* What the header says about one tensor. Set size = sizeof(zoq_st_info_t). */
typedef struct zoq_st_info {
    size_t size;
    const char *name;           /* owned by the reader, valid until zoq_st_free */
    int32_t dtype;              /* zoq_st_dtype_t */
    int32_t ndim;               /* 0 (a scalar) .. ZOQ_ST_MAX_DIMS */
    int64_t shape[ZOQ_ST_MAX_DIMS];
    int64_t numel;              /* product of the shape (1 for a scalar) */
    uint64_t nbytes;            /* numel times the element size */
    uint64_t offset;            /* of the first byte, from the start of the data buffer */
} zoq_st_info_t;

/* Opens the safetensors file at path and checks its whole header (bounds,
 * offsets, coverage, names, dtypes) into *out (free with zoq_st_free); data
 * is read on demand. ZOQ_E_INVALID, ZOQ_E_IO, ZOQ_E_FORMAT (malformed or
 * truncated), ZOQ_E_UNSUPPORTED (a dtype other than the five, > 8 dims), ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_open(const char *path, zoq_st **out, char *err, size_t err_cap);
/* As zoq_st_open on the n bytes at data, which are borrowed: they must stay
 * valid and unchanged until zoq_st_free. */
ZOQ_API int zoq_st_open_memory(const void *data, size_t n, zoq_st **out, char *err,
                               size_t err_cap);
/* Closes a reader. Accepts NULL. */
ZOQ_API void zoq_st_free(zoq_st *st);
/* Number of tensors (0 for NULL). Index order is by name (bytewise). */
ZOQ_API int64_t zoq_st_count(const zoq_st *st);
/* Describes tensor `index` into *out. ZOQ_E_INVALID for NULL, a small size or a bad index. */
ZOQ_API int zoq_st_info(const zoq_st *st, int64_t index, zoq_st_info_t *out);
/* Index of the tensor called name into *index. ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_st_find(const zoq_st *st, const char *name, int64_t *index);
/* Reads tensor `index` into dst as dtype (dst_bytes must be numel times its
 * size): the stored dtype copies; F32 accepts any stored dtype; F16/BF16
 * accept F32/F16/BF16 (via f32, round-to-nearest-even). ZOQ_E_INVALID for
 * bad arguments or conversions, ZOQ_E_IO, ZOQ_E_NOMEM (its 64 KiB conversion
 * buffer); dst is unspecified on error. */
ZOQ_API int zoq_st_read(const zoq_st *st, int64_t index, int dtype, void *dst,
                        size_t dst_bytes);
/* Number of "__metadata__" entries (0 for NULL), sorted by key. */
ZOQ_API int64_t zoq_st_metadata_count(const zoq_st *st);
/* Entry i of the metadata: *key and *value (either may be NULL) owned by
 * the reader. ZOQ_E_INVALID for a bad index. */
ZOQ_API int zoq_st_metadata_at(const zoq_st *st, int64_t i, const char **key,
                               const char **value);
/* The metadata value of key into *value (owned by the reader). ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_st_metadata_get(const zoq_st *st, const char *key, const char **value);

/* Collects tensors and metadata, then writes one safetensors file. Opaque;
 * its last error message is zoq_st_writer_last_error. */
typedef struct zoq_st_writer zoq_st_writer;

/* Creates an empty writer into *out (free with zoq_st_writer_free).
 * ZOQ_E_INVALID, ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_create(zoq_st_writer **out);
/* Frees a writer (never the tensors' buffers). Accepts NULL. */
ZOQ_API void zoq_st_writer_free(zoq_st_writer *w);
/* Adds tensor name (copied; non-empty UTF-8, not "__metadata__", unique)
 * of shape[ndim] (copied; dims >= 0) whose elements are at data in
 * data_dtype; they are stored as file_dtype (equal, or both among F32/F16/
 * BF16: converted via f32 at write time). data is borrowed until write or
 * free. ZOQ_E_INVALID, ZOQ_E_EXISTS (name taken), ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_add(zoq_st_writer *w, const char *name, int32_t ndim,
                              const int64_t *shape, const void *data, int data_dtype,
                              int file_dtype);
/* Sets "__metadata__" entry key to value (both copied, UTF-8; a key set
 * again is replaced). ZOQ_E_INVALID, ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_set_metadata(zoq_st_writer *w, const char *key, const char *value);
/* Writes the file atomically (temporary file beside path, fsync, rename):
 * tensors ordered as the safetensors package does (F32, I32, BF16, F16,
 * I8, then by name), header padded with spaces to 8 bytes. The writer may
 * be written again. ZOQ_E_INVALID, ZOQ_E_IO, ZOQ_E_NOMEM. */
ZOQ_API int zoq_st_writer_write(zoq_st_writer *w, const char *path);
/* Message of the writer's last failed call ("" if none). For NULL, a static string. */
ZOQ_API const char *zoq_st_writer_last_error(const zoq_st_writer *w);

/* One LoRA module of a PEFT adapter: ΔW = (alpha / rank) · B · A for the
 * base model's linear layer `module` (out_features x in_features). Set
 * size = sizeof(zoq_peft_module_t). */
typedef struct zoq_peft_module {
    size_t size;
    const char *module;         /* path in the base model, e.g. "model.layers.0.self_attn.q_proj" */
    int32_t rank;               /* r >= 1 */
    int32_t dtype;              /* F32, F16 or BF16: of a and b as given / as stored */
    int64_t in_features;        /* columns of A (r x in, row-major) */
    int64_t out_features;       /* rows of B (out x r, row-major) */
    double alpha;               /* lora_alpha > 0, finite, not subnormal */
    const void *a;              /* save: the A factor; from zoq_peft_module_info: NULL */
    const void *b;              /* save: the B factor; from zoq_peft_module_info: NULL */
} zoq_peft_module_t;

/* Adapter-wide settings. Zero-initialize and set size; NULL means defaults. */
typedef struct zoq_peft_config {
    size_t size;                /* sizeof(zoq_peft_config_t) */
    const char *base_model;     /* base_model_name_or_path; NULL writes null */
    const char *task_type;      /* NULL = "CAUSAL_LM" */
    int32_t file_dtype;         /* stored dtype of the factors, F32/F16/BF16 [F32 = 0] */
    int32_t reserved_;          /* must be 0 */
    uint32_t flags;             /* ZOQ_PEFT_* bits [0] */
    uint32_t reserved2_;        /* must be 0 */
} zoq_peft_config_t;

/* zoq_peft_config_t.flags: refuse (ZOQ_E_INVALID) modules whose rank or
 * alpha differ from the first module's. For SGLang, which scales the whole
 * adapter by one lora_alpha / r and sizes its memory pool by r. */
#define ZOQ_PEFT_UNIFORM 1u

/* Writes a PEFT LoRA adapter folder dir holding adapter_model.safetensors
 * (tensors base_model.model.<module>.lora_A.weight / .lora_B.weight) and
 * adapter_config.json (peft_type LORA, r, lora_alpha, target_modules = the
 * module paths, so that PEFT wraps exactly these modules, rank_pattern /
 * alpha_pattern for modules that differ from the first). Both files are
 * written into a fresh folder beside dir that then replaces dir atomically (Linux
 * RENAME_EXCHANGE; elsewhere two renames). An existing dir may hold only
 * those two files. ZOQ_E_INVALID, ZOQ_E_EXISTS, ZOQ_E_IO, ZOQ_E_NOMEM. */
ZOQ_API int zoq_peft_save(const char *dir, const zoq_peft_config_t *cfg,
                          const zoq_peft_module_t *modules, int64_t n, char *err,
                          size_t err_cap);

/* A PEFT LoRA adapter folder open for reading. Opaque, immutable. */
typedef struct zoq_peft zoq_peft;

/* Opens the adapter in dir: checks adapter_config.json (peft_type LORA, no
 * DoRA, rsLoRA, bias or fan_in_fan_out) and pairs every lora_A with its
 * lora_B in adapter_model.safetensors, shapes and ranks consistent, into
 * *out (free with zoq_peft_free). ZOQ_E_INVALID, ZOQ_E_IO, ZOQ_E_FORMAT,
 * ZOQ_E_UNSUPPORTED, ZOQ_E_NOMEM. */
ZOQ_API int zoq_peft_open(const char *dir, zoq_peft **out, char *err, size_t err_cap);
/* Closes an adapter. Accepts NULL. */
ZOQ_API void zoq_peft_free(zoq_peft *p);
/* Number of modules (0 for NULL), sorted by module path. */
ZOQ_API int64_t zoq_peft_count(const zoq_peft *p);
/* Describes module i into *out (module string owned by p; a, b NULL; dtype
 * as stored; alpha from alpha_pattern or lora_alpha). ZOQ_E_INVALID. */
ZOQ_API int zoq_peft_module_info(const zoq_peft *p, int64_t i, zoq_peft_module_t *out);
/* Index of the module with this path. ZOQ_E_NOT_FOUND if absent. */
ZOQ_API int zoq_peft_find(const zoq_peft *p, const char *module, int64_t *i);
/* Reads module i's factors into a (rank x in) and b (out x rank) as dtype,
 * a_bytes and b_bytes their exact sizes (conversions as zoq_st_read).
 * ZOQ_E_INVALID, ZOQ_E_IO. */
ZOQ_API int zoq_peft_read(const zoq_peft *p, int64_t i, int dtype, void *a, size_t a_bytes,
                          void *b, size_t b_bytes);

/* ------------------------------------------------------------------------ */
/* Preference losses                                                        */
/* ------------------------------------------------------------------------ */

/* Pure functions of plain arrays: no context, thread-safe, no allocation
 * except zoq_pref_aero_create. Formulas, defaults and sources:
 * docs/preference.md. On any error nothing is written, and the message
 * naming the wrong argument is zoq_last_error(NULL) (this section and the
 * next two: evaluation, data helpers, the preference objective). */

typedef enum zoq_pref_loss {
    ZOQ_LOSS_DPO = 0,           /* Rafailov et al. 2023, arXiv:2305.18290 */
    ZOQ_LOSS_IPO = 1,           /* Azar et al. 2023, arXiv:2310.12036 */
    ZOQ_LOSS_SIMPO = 2,         /* Meng et al. 2024, arXiv:2405.14734 */
    ZOQ_LOSS_CPO = 3,           /* Xu et al. 2024, arXiv:2401.08417 */
    ZOQ_LOSS_ORPO = 4,          /* Hong et al. 2024, arXiv:2403.07691 */
    ZOQ_LOSS_KTO = 5,           /* Ethayarajh et al. 2024, arXiv:2402.01306 */
    ZOQ_LOSS_RPO = 6,           /* Pang et al. 2024, arXiv:2404.19733 */
    ZOQ_LOSS_SPPO = 7,          /* Wu et al. 2024, arXiv:2405.00675 (hard labels) */
    ZOQ_LOSS_GRPO = 8,          /* Shao et al. 2024, arXiv:2402.03300 */
    ZOQ_LOSS_AERO = 9           /* GRPO with an EMA baseline; see docs/preference.md */
} zoq_pref_loss_t;
#define ZOQ_PREF_LOSS_COUNT 10

/* Lower-case name of a loss ("dpo", "ipo", ...), static; NULL if unknown. */
ZOQ_API const char *zoq_pref_loss_name(int loss);
/* Looks a loss up by name (ASCII case-insensitive) into *loss.
 * ZOQ_E_INVALID for NULL arguments, ZOQ_E_NOT_FOUND for an unknown name. */
ZOQ_API int zoq_pref_loss_find(const char *name, int *loss);

/* Hyperparameters. Fill with zoq_pref_params_default, then change fields.
 * Only the fields the loss uses are range-checked; all must be finite. */
typedef struct zoq_pref_params {
    size_t size;                /* sizeof(zoq_pref_params_t) */
    int32_t loss;               /* zoq_pref_loss_t */
    int32_t scale_rewards;      /* GRPO/AERO: 1 divide advantages by std + 1e-4, 0 not [1] */
    double beta;                /* β > 0 [0.1; SimPO 2.5]; GRPO/AERO: KL weight >= 0 [0] */
    double label_smoothing;     /* DPO, RPO, CPO, SimPO: 0 <= ls < 0.5 [0] */
    double gamma;               /* SimPO target margin γ >= 0 [1.375] */
    double alpha;               /* CPO, RPO: weight of the chosen NLL, >= 0 [1] */
    double lambda;              /* ORPO: weight of the odds-ratio term, >= 0 [0.1] */
    double desirable_weight;    /* KTO λ_D > 0 [1] */
    double undesirable_weight;  /* KTO λ_U > 0 [1] */
    double clip_eps;            /* GRPO/AERO: ratio clip ε, 0 < ε < 1 [0.2] */
} zoq_pref_params_t;

/* Writes the defaults of `loss` to *out (size included). ZOQ_E_INVALID for
 * an unknown loss or NULL out. */
ZOQ_API int zoq_pref_params_default(int loss, zoq_pref_params_t *out);
/* ZOQ_OK if *p is valid for its loss, else ZOQ_E_INVALID. */
ZOQ_API int zoq_pref_params_check(const zoq_pref_params_t *p);

/* A batch of n pairs (KTO: n unpaired items; GRPO/AERO: n sampled
 * sequences) as caller-owned arrays of n values; arrays a loss does not use
 * may be NULL and are ignored. Log-probs are sums over completion tokens;
 * token counts are > 0. Zero-initialize, set size, fill what you need. */
typedef struct zoq_pref_batch {
    size_t size;                      /* sizeof(zoq_pref_batch_t) */
    int64_t n;                        /* > 0 */
    const double *chosen_logps;       /* π_c; KTO, GRPO, AERO: π_i of item i */
    const double *rejected_logps;     /* π_r */
    const double *chosen_tokens;      /* L_c; KTO, GRPO, AERO: L_i */
    const double *rejected_tokens;    /* L_r */
    const double *ref_chosen_logps;   /* reference r_c; KTO, GRPO, AERO: r_i */
    const double *ref_rejected_logps; /* reference r_r */
    const double *chosen_nll;         /* CPO, ORPO, RPO: NLL_c; NULL = -π_c/L_c */
    const int32_t *labels;            /* KTO: 1 desirable, 0 undesirable */
    const double *kl_logps;           /* KTO: π of n_kl mismatched completions (or NULL) */
    const double *kl_ref_logps;       /* KTO: reference of the same */
    int64_t n_kl;                     /* KTO: entries of the kl arrays */
    double kto_z0;                    /* KTO: z0 used when kl_logps is NULL (clamped >= 0) */
    const int64_t *group_ids;         /* GRPO/AERO: runs of equal ids; NULL = one group */
    const double *rewards;            /* GRPO/AERO: reward of each sequence */
    const double *old_logps;          /* GRPO/AERO: π at sampling time; NULL = on-policy */
} zoq_pref_batch_t;

/* Result of one evaluation. Set size = sizeof(zoq_pref_result_t) and the
 * two optional array pointers (caller-owned, n doubles each, or NULL). */
typedef struct zoq_pref_result {
    size_t size;
    double loss;                /* batch loss: mean over the n items */
    double reward_chosen;       /* mean implicit reward of the chosen side */
    double reward_rejected;     /* mean implicit reward of the rejected side */
    double reward_accuracy;     /* fraction of pairs ranked right; NaN if none comparable */
    double margin;              /* mean chosen - rejected reward */
    double kl;                  /* KTO: z0 used; GRPO/AERO: mean KL estimate; else 0 */
    double nll;                 /* CPO, ORPO, RPO: mean NLL term; else 0 */
    double log_odds;            /* ORPO: mean log-odds ratio; else 0 */
    double baseline;            /* AERO: baseline used; else 0 */
    double *item_losses;        /* in: NULL or n doubles, receives per-item losses */
    double *advantages;         /* in: NULL or n doubles, receives GRPO/AERO advantages */
} zoq_pref_result_t;

/* AERO's state: an exponential moving average of past rewards. Opaque. */
typedef struct zoq_pref_aero zoq_pref_aero_t;
#define ZOQ_PREF_AERO_DECAY_DEFAULT 0.9

/* Evaluates the loss p->loss on batch b into *out. aero is required for
 * ZOQ_LOSS_AERO (read only) and ignored otherwise. ZOQ_E_INVALID for bad
 * params, sizes, n <= 0, a missing or non-finite array a loss needs, a token
 * count <= 0, a KTO label not 0/1, an ORPO mean log-prob >= 0, AERO rewards
 * whose squared deviation overflows, or a loss that comes out NaN (inputs
 * beyond a double's range; *out unwritten, the item arrays may be). GRPO's
 * group moments are computed on rewards scaled by a power of two: any finite
 * rewards give finite advantages. */
ZOQ_API int zoq_pref_loss_eval(const zoq_pref_params_t *p, const zoq_pref_batch_t *b,
                               const zoq_pref_aero_t *aero, zoq_pref_result_t *out);

/* Creates an AERO state with EMA decay in [0, 1) into *out (caller owns it;
 * free with zoq_pref_aero_free). ZOQ_E_INVALID, ZOQ_E_NOMEM. */
ZOQ_API int zoq_pref_aero_create(double decay, zoq_pref_aero_t **out);
/* Frees an AERO state. Accepts NULL. */
ZOQ_API void zoq_pref_aero_free(zoq_pref_aero_t *s);
/* Folds one batch of n finite rewards into the baseline; call once per batch
 * (e.g. after the step), not per evaluation. ZOQ_E_INVALID, state unchanged. */
ZOQ_API int zoq_pref_aero_update(zoq_pref_aero_t *s, const double *rewards, int64_t n);
/* Reads the state (for checkpoints); any output may be NULL. */
ZOQ_API int zoq_pref_aero_get(const zoq_pref_aero_t *s, double *decay, double *baseline,
                              double *sq_dev, int64_t *count);
/* Restores a state read with zoq_pref_aero_get (decay is kept). sq_dev >= 0,
 * count >= 0, all finite; ZOQ_E_INVALID otherwise. count 0 resets it. */
ZOQ_API int zoq_pref_aero_set(zoq_pref_aero_t *s, double baseline, double sq_dev,
                              int64_t count);

/* ---- Evaluation and regression guard ------------------------------------ */

/* Held-out evaluation of n pairs. */
typedef struct zoq_pref_eval {
    size_t size;                /* sizeof(zoq_pref_eval_t) */
    int64_t n;                  /* pairs */
    int64_t correct;            /* pairs with chosen score > rejected score */
    int64_t ties;               /* pairs with equal scores (counted as wrong) */
    double accuracy;            /* correct / n */
    double mean_margin;         /* mean of chosen - rejected */
    double sd_margin;           /* sample standard deviation of the margins (0 if n = 1) */
} zoq_pref_eval_t;

/* Scores n pairs (e.g. implicit rewards or mean log-probs of the chosen and
 * rejected completion) into *out. ZOQ_E_INVALID for NULL, n <= 0, non-finite. */
ZOQ_API int zoq_pref_evaluate(const double *chosen_scores, const double *rejected_scores,
                              int64_t n, zoq_pref_eval_t *out);

/* Pooled two-proportion z-test of x1/n1 against x2/n2: z > 0 when the second
 * is higher; two-sided p-value. Either output may be NULL. ZOQ_E_INVALID for
 * n <= 0 or x outside [0, n]. Equal proportions give z = 0, p = 1. */
ZOQ_API int zoq_stats_ztest_2prop(int64_t x1, int64_t n1, int64_t x2, int64_t n2,
                                  double *z, double *p_value);

typedef enum zoq_mde_design {
    ZOQ_MDE_TWO_SAMPLE = 0,     /* two evaluations of n each, two-proportion z-test */
    ZOQ_MDE_ONE_SAMPLE = 1      /* one evaluation of n against a known accuracy p0 */
} zoq_mde_design_t;

/* Minimum detectable effect (absolute accuracy difference) of an evaluation
 * of n pairs at baseline accuracy p0, two-sided level alpha and power:
 * (z_{1-alpha/2} + z_power)·sqrt(k·p0(1-p0)/n), k = 2 two-sample, 1 one-sample.
 * ZOQ_E_INVALID unless n > 0 and p0, alpha, power are in (0, 1). */
ZOQ_API int zoq_stats_mde(int64_t n, double p0, double alpha, double power, int design,
                          double *mde);

/* Deploy rule of the regression guard. */
typedef struct zoq_pref_guard {
    size_t size;                /* sizeof(zoq_pref_guard_t) */
    double alpha;               /* level of the z-test, 0 < alpha < 1 [0.05] */
    double min_accuracy_gain;   /* after - before accuracy must be >= this, in [-1, 1] [0] */
    double min_margin_gain;     /* after - before mean margin must be > this [0] */
    int32_t require_significant;/* 1: also need a higher accuracy with p < alpha [0] */
    int32_t reserved_;          /* must be 0 */
} zoq_pref_guard_t;

/* Writes the default rule (size included). ZOQ_E_INVALID for NULL. */
ZOQ_API int zoq_pref_guard_default(zoq_pref_guard_t *out);
/* Decides whether the candidate evaluated as `after` replaces the one
 * evaluated as `before`: *deploy = 1 or 0; *p_value (may be NULL) gets the
 * z-test p of the accuracies (from correct/n). The accuracy gain is computed
 * from the counts, (c1·n0 - c0·n1)/(n0·n1) with one rounding, so 28/100 ->
 * 35/100 meets min_accuracy_gain 0.07. ZOQ_E_INVALID for bad inputs. */
ZOQ_API int zoq_pref_guard_decide(const zoq_pref_guard_t *g, const zoq_pref_eval_t *before,
                                  const zoq_pref_eval_t *after, int *deploy, double *p_value);

/* ---- Data helpers --------------------------------------------------------- */

#define ZOQ_RAFT_HIGH_DEFAULT 0.8
#define ZOQ_RAFT_LOW_DEFAULT 0.2

/* RAFT partial-signal filter: drops pair i when both scores are > high or
 * both are < low. Writes the kept indices, ascending, to keep (caller array
 * of n) and their number to *n_keep. ZOQ_E_INVALID for NULL, n <= 0,
 * non-finite scores or thresholds, low > high. */
ZOQ_API int zoq_pref_raft_filter(const double *chosen_scores, const double *rejected_scores,
                                 int64_t n, double high, double low, int64_t *keep,
                                 int64_t *n_keep);
/* Curriculum order: sorts the m indices idx (into pairs 0..n-1) easy first,
 * by gap = chosen - rejected score descending, ties by smaller index (stable
 * for ascending input). In place, no allocation. ZOQ_E_INVALID for NULL,
 * n <= 0, m < 0, an index outside [0, n) or a non-finite score (idx intact). */
ZOQ_API int zoq_pref_curriculum_sort(const double *chosen_scores,
                                     const double *rejected_scores, int64_t n, int64_t *idx,
                                     int64_t m);

/* ------------------------------------------------------------------------ */
/* Preference objective: a caller's scorer turned into a ZO loss            */
/* ------------------------------------------------------------------------ */

/* zoq knows sequences only as integer ids; the caller maps them to text.
 * Pairwise losses (DPO, IPO, SimPO, CPO, ORPO, RPO, SPPO): item i is pair i,
 * its chosen completion is sequence 2i and its rejected one 2i+1. KTO, GRPO,
 * AERO: item i is sequence i. An objective is used by one thread at a time.
 * Guide: docs/preference.md, "The objective". */
#define ZOQ_PREF_CHOSEN_SEQ(pair) (2 * (int64_t)(pair))
#define ZOQ_PREF_REJECTED_SEQ(pair) (2 * (int64_t)(pair) + 1)

/* Scorer: for each of the n sequence ids seqs[k] (in no promised order),
 * write its log-prob summed over its completion tokens to logps[k] and its
 * completion token count (> 0) to tokens[k]. ev == NULL: score the reference
 * (the model with the adapter disabled); else the policy at the point ev
 * describes. Return 0, or non-zero to fail the evaluation: the objective
 * returns that value unchanged (so ZOQ_CALLBACK_STOP stops a zoq_step run). */
typedef int (*zoq_pref_scorer_fn)(void *user, const zoq_eval_t *ev, const int64_t *seqs,
                                  int64_t n, double *logps, double *tokens);

/* The objective: loss, per-item data, reference cache and minibatch. Opaque. */
typedef struct zoq_pref_objective zoq_pref_objective_t;

/* What the objective is made of; arrays are copied at creation. Fields a
 * loss does not use are ignored. Zero-initialize and set size. */
typedef struct zoq_pref_objective_desc {
    size_t size;                      /* sizeof(zoq_pref_objective_desc_t) */
    const zoq_pref_params_t *params;  /* loss and hyperparameters (copied) */
    int64_t n_items;                  /* pairs, or KTO/GRPO/AERO sequences, > 0 */
    zoq_pref_scorer_fn scorer;        /* required */
    void *scorer_user;                /* passed to the scorer as is */
    const int32_t *labels;            /* KTO: n_items labels, 1 desirable, 0 not */
    double kto_z0;                    /* KTO: KL baseline z0 held fixed (clamped >= 0) */
    const int64_t *group_ids;         /* GRPO/AERO: n_items ids, or NULL: batch = one group */
    const double *rewards;            /* GRPO/AERO: n_items finite rewards */
    zoq_pref_aero_t *aero;            /* AERO: state, borrowed (caller frees it after) */
} zoq_pref_objective_desc_t;

/* Creates an objective from *desc into *out (caller owns it; free with
 * zoq_pref_objective_free). ZOQ_E_INVALID for a bad or missing field the
 * loss needs (params, scorer, labels, rewards, aero), ZOQ_E_NOMEM. */
ZOQ_API int zoq_pref_objective_create(const zoq_pref_objective_desc_t *desc,
                                      zoq_pref_objective_t **out);
/* Frees an objective (never the borrowed AERO state). Accepts NULL. */
ZOQ_API void zoq_pref_objective_free(zoq_pref_objective_t *obj);
/* Sets the minibatch: the m item indices (copied; duplicates allowed; GRPO/
 * AERO groups must be contiguous runs) every evaluation uses until the next
 * call. Between steps only. ZOQ_E_INVALID (batch kept), ZOQ_E_NOMEM. */
ZOQ_API int zoq_pref_objective_set_batch(zoq_pref_objective_t *obj, const int64_t *items,
                                         int64_t m);
/* The loss of the minibatch at the point ev (a zoq_objective_fn: pass it to
 * zoq_set_objective with obj as user). Scores uncached reference sequences
 * once (ev NULL to the scorer), then all policy sequences in one call.
 * Scorer errors return unchanged; ZOQ_E_INVALID for NULL or scorer output the
 * loss refuses (non-finite, tokens <= 0); ZOQ_E_STATE with no minibatch. */
ZOQ_API int zoq_pref_objective_eval(void *obj, const zoq_eval_t *ev, double *loss);
/* Ask/tell: the loss of point `point` of ctx's pending step, after the
 * caller materialized that point into its engine; errors as
 * zoq_pref_objective_eval, plus ZOQ_E_STATE if no step is pending. */
ZOQ_API int zoq_pref_objective_eval_point(zoq_pref_objective_t *obj, zoq_ctx *ctx,
                                          int32_t point, double *loss);
/* Call once after each applied step (zoq_step or zoq_tell returned ZOQ_OK),
 * never per evaluation: AERO folds the minibatch's rewards into its EMA
 * baseline; other losses do nothing. ZOQ_E_INVALID, ZOQ_E_STATE (no batch). */
ZOQ_API int zoq_pref_objective_step_done(zoq_pref_objective_t *obj);
/* Diagnostics of the last successful evaluation (loss, rewards, accuracy,
 * margin, ...) into *out; its array pointers are left as they are.
 * ZOQ_E_INVALID for NULL or a small out->size, ZOQ_E_STATE before any. */
ZOQ_API int zoq_pref_objective_last(const zoq_pref_objective_t *obj, zoq_pref_result_t *out);

/* ------------------------------------------------------------------------ */
/* LoRA adapters                                                            */
/* ------------------------------------------------------------------------ */

/* A LoRA pair on a linear module y = W x (W out x in): A (rank x in) and
 * B (out x rank), f32, row-major, caller-owned; the adapted module computes
 * y = W x + (alpha/rank)·B A x. Guide, equations and sources: docs/lora.md.
 * Zero-initialize and set size = sizeof(zoq_lora_t). */
typedef struct zoq_lora {
    size_t size;
    const char *module;         /* module path ("model.layers.0.self_attn.q_proj");
                                   zoq_lora_add names the factors <module>.lora_A.weight
                                   and <module>.lora_B.weight; copied */
    const char *type;           /* module type ("q_proj"): the registry group of both
                                   factors, for zoq_group_set_enabled; NULL = "" */
    int64_t in_features;        /* columns of A, >= 1 */
    int64_t out_features;       /* rows of B, >= 1 */
    int32_t rank;               /* r, 1 .. 65536 */
    uint32_t flags;             /* zoq_lora_add: 0 or ZOQ_PARAM_DISABLED */
    double alpha;               /* scale numerator: the update is scaled by alpha/rank;
                                   finite [Morgan 2026: r 8, alpha 16] */
    float *a;                   /* rank·in_features floats */
    float *b;                   /* out_features·rank floats */
} zoq_lora_t;

#define ZOQ_LORA_RANK_DEFAULT 8
#define ZOQ_LORA_ALPHA_DEFAULT 16.0

/* Registers l's A and B in ctx as two f32 parameters with 2-D shapes, flags
 * ZOQ_PARAM_LORA_A / _LORA_B (plus l->flags) and group l->type; writes their
 * ids to *a_id and *b_id (either may be NULL). Nothing is registered on
 * error: ZOQ_E_INVALID, ZOQ_E_EXISTS, ZOQ_E_NOMEM, ZOQ_E_STATE. */
ZOQ_API int zoq_lora_add(zoq_ctx *ctx, const zoq_lora_t *l, int32_t *a_id, int32_t *b_id);
/* Initializes a pair registered by zoq_lora_add as PEFT does: A uniform on
 * [-1/sqrt(in), 1/sqrt(in)) (Kaiming-uniform, a = sqrt 5) from its own
 * stream, a pure function of (seed, A's name); B = 0 when b_sigma == 0, else
 * the warm start B ~ N(0, b_sigma^2) of zoq_param_init_normal. ZOQ_E_INVALID
 * unless a_id/b_id are such a pair (flags, shapes), b_sigma >= 0 finite. */
ZOQ_API int zoq_lora_init(zoq_ctx *ctx, int32_t a_id, int32_t b_id, double b_sigma);
/* Y += (alpha/rank)·(X Aᵀ) Bᵀ for a batch: X is batch x in, Y batch x out,
 * row-major; Y may not overlap X, A or B. Two OpenBLAS sgemm calls through a
 * batch x rank scratch (ZOQ_E_NOMEM if it cannot be allocated). ZOQ_E_INVALID
 * for a bad l (size, shapes, NULL factors, non-finite alpha), NULL x or y,
 * batch outside 1 .. 2^31 - 1. On error Y is untouched. */
ZOQ_API int zoq_lora_apply(const zoq_lora_t *l, const float *x, int64_t batch, float *y);
/* W += coef·(alpha/rank)·B A, W out x in row-major (coef 1 merges the adapter
 * into the base weight, -1 unmerges it; on a zeroed W it writes ΔW). One
 * sgemm; W may not overlap A or B. ZOQ_E_INVALID as zoq_lora_apply, NULL w,
 * non-finite coef. */
ZOQ_API int zoq_lora_merge(const zoq_lora_t *l, double coef, float *w);

/* ---- Merging across runs -------------------------------------------------- */

#define ZOQ_LORA_EMA_ALPHA_DEFAULT 0.3   /* Morgan 2026, eq. (1): weight of tonight's adapter */
#define ZOQ_LORA_BLEND_BETA_DEFAULT 0.95 /* Morgan 2026, §VI-C: weight kept by the running blend */

/* Exponential moving average of n floats in place: dst[i] <- w·src[i] +
 * (1 - w)·dst[i], computed in double and rounded once to f32. Morgan's (2026)
 * merge is w = alpha = 0.3; its cross-run blend is w = 1 - beta = 0.05.
 * ZOQ_E_INVALID for NULL, n < 0, w outside [0, 1] or non-finite; dst intact. */
ZOQ_API int zoq_lora_ema(float *dst, const float *src, int64_t n, double w);
/* Tracks the best adapter by a score (higher is better). Zero-initialize and
 * set size = sizeof(zoq_lora_best_t); read the fields freely. */
typedef struct zoq_lora_best {
    size_t size;
    int32_t valid;              /* 0 until the first candidate */
    int32_t reserved_;
    double score;               /* best score so far */
    int64_t tag;                /* the caller's tag (e.g. the night) of the best */
} zoq_lora_best_t;

/* Offers a candidate: if none is recorded or score > best->score, records
 * (score, tag) and sets *improved = 1 (keep a copy of that adapter), else 0.
 * ZOQ_E_INVALID for NULL, a bad size or a non-finite score (best intact). */
ZOQ_API int zoq_lora_best_offer(zoq_lora_best_t *best, double score, int64_t tag,
                                int *improved);

/* ---- Cyclic module rotation (Morgan 2026, §V) --------------------------------- */

#define ZOQ_ROTATION_MAX_MODULES 32
#define ZOQ_ROTATION_MAX_NIGHTS 64
#define ZOQ_ROTATION_MAX_LOSSES 64
#define ZOQ_ROTATION_NAME_CAP 32

/* Which modules train on which night, and which loss: night t (0-based)
 * trains the modules of nights[t mod n_nights] with losses[t mod n_losses].
 * Plain data; zoq_rotation_default/_generate fill it, or fill it yourself
 * (zero-initialize, set size = sizeof(zoq_rotation_t)). */
typedef struct zoq_rotation {
    size_t size;
    int32_t n_modules;          /* module types, 1 .. ZOQ_ROTATION_MAX_MODULES */
    int32_t n_nights;           /* module cycle length, 1 .. ZOQ_ROTATION_MAX_NIGHTS */
    int32_t n_losses;           /* loss cycle length, 1 .. ZOQ_ROTATION_MAX_LOSSES */
    int32_t reserved_;
    uint64_t ffn_mask;          /* bit m: module m is in the second subsystem (FFN),
                                   else the first (attention); for interleaving */
    char modules[ZOQ_ROTATION_MAX_MODULES][ZOQ_ROTATION_NAME_CAP]; /* names = groups */
    uint64_t nights[ZOQ_ROTATION_MAX_NIGHTS]; /* bit m: module m trains that night */
    int32_t losses[ZOQ_ROTATION_MAX_LOSSES];  /* zoq_pref_loss_t */
} zoq_rotation_t;

/* The four properties of Morgan 2026, §V-D (docs/pipeline.md defines each). */
typedef enum zoq_rotation_prop {
    ZOQ_ROT_INTERLEAVING = 0x1, /* as many nights mix both subsystems as the slots allow */
    ZOQ_ROT_COVERAGE = 0x2,     /* every module trains on some night of the cycle */
    ZOQ_ROT_COPRIME = 0x4,      /* gcd(n_nights, n_losses) = 1 */
    ZOQ_ROT_SUPERCYCLE = 0x8    /* the lcm-night supercycle visits every (module set,
                                   loss) pair of the schedule exactly once */
} zoq_rotation_prop_t;

/* Morgan's (2026) schedule (table III): q_proj k_proj v_proj o_proj (attention),
 * gate_proj up_proj down_proj (FFN), two a night over 7 nights, with its
 * illustrative loss cycle ORPO, KTO, CPO (supercycle 21). ZOQ_E_INVALID for NULL. */
ZOQ_API int zoq_rotation_default(zoq_rotation_t *out);
/* A schedule for n_modules named modules, per_night a night: the modules
 * ordered so the two subsystems alternate, filled into nights cyclically;
 * n_nights = lcm(n_modules, per_night)/per_night, each module trained
 * equally often. names: n_modules strings shorter than ZOQ_ROTATION_NAME_CAP,
 * distinct; losses: n_losses loss ids. ZOQ_E_INVALID for bad input or more
 * than ZOQ_ROTATION_MAX_NIGHTS nights; *out written only on success. */
ZOQ_API int zoq_rotation_generate(const char *const *names, int32_t n_modules,
                                  uint64_t ffn_mask, int32_t per_night,
                                  const int32_t *losses, int32_t n_losses,
                                  zoq_rotation_t *out);
/* Checks the four properties: *failed gets the zoq_rotation_prop_t bits
 * that do not hold (0: all hold) and msg (may be NULL; cap bytes, always
 * NUL-terminated) one line per failure saying why. ZOQ_E_INVALID for a
 * malformed r (counts out of range, empty night, bits past n_modules,
 * duplicate or empty names, unknown loss). */
ZOQ_API int zoq_rotation_check(const zoq_rotation_t *r, uint32_t *failed, char *msg,
                               size_t cap);
/* Supercycle length lcm(n_nights, n_losses) into *out. ZOQ_E_INVALID as check. */
ZOQ_API int zoq_rotation_supercycle(const zoq_rotation_t *r, int64_t *out);
/* Night `night` (>= 0) of the dual rotation: its module bits into *modules
 * and its loss into *loss (either may be NULL). ZOQ_E_INVALID as check. */
ZOQ_API int zoq_rotation_night(const zoq_rotation_t *r, int64_t night, uint64_t *modules,
                               int32_t *loss);
/* Enables in ctx the parameter groups named by night's modules and disables
 * the groups of the other modules of r (parameters in other groups are left
 * alone); *enabled (may be NULL) gets the parameters enabled. ZOQ_E_NOT_FOUND
 * (ctx unchanged) if a module of r has no parameter in ctx; ZOQ_E_STATE
 * during a step; ZOQ_E_INVALID as check. */
ZOQ_API int zoq_rotation_apply(zoq_ctx *ctx, const zoq_rotation_t *r, int64_t night,
                               int32_t *enabled);

/* ------------------------------------------------------------------------ */
/* Quantized formats                                                        */
/* ------------------------------------------------------------------------ */

/* Integer weight formats for quantized models, and the forward pass over
 * them. Pure functions of caller-owned buffers: no context, thread-safe, no
 * allocation except the scratch tile of zoq_qmatrix_matmul. On any error
 * nothing is written. Layouts, rounding, error bounds and how to map GPTQ,
 * AWQ and GGUF checkpoints: docs/quantized.md. */

typedef enum zoq_qformat {
    ZOQ_QFORMAT_INT8_ROW = 0,   /* int8 codes in [-127, 127], one f32 scale per row:
                                   w = s_r·q; no zeros */
    ZOQ_QFORMAT_INT4_GROUP = 1  /* uint4 codes 0..15, two per byte (even column in the
                                   low nibble); per group of group_size columns of a
                                   row an f32 scale and a uint8 zero 0..15:
                                   w = s·(q − z) */
} zoq_qformat_t;

/* A quantized rows x cols matrix W (rows = output channels, cols = input
 * features), row-major. Zero-initialize, set size = sizeof(zoq_qmatrix_t),
 * fill the shape and point at caller-owned buffers of the sizes
 * zoq_qmatrix_sizes gives; zoq never keeps the pointers. */
typedef struct zoq_qmatrix {
    size_t size;
    int32_t format;             /* zoq_qformat_t */
    int32_t group_size;         /* INT4_GROUP: 32, 64 or 128, dividing cols; INT8_ROW: 0 */
    int64_t rows;               /* 1 .. 2^31 - 1 */
    int64_t cols;               /* 1 .. 2^31 - 1 */
    void *codes;                /* INT8_ROW: rows·cols int8_t; INT4_GROUP: rows·cols/2 bytes */
    float *scales;              /* INT8_ROW: rows; INT4_GROUP: rows·(cols/group_size), row-major */
    uint8_t *zeros;             /* INT4_GROUP: one byte per scale, 0..15; INT8_ROW: NULL */
} zoq_qmatrix_t;

/* Bytes of the codes, scales and zeros buffers of a rows x cols matrix in
 * `format` (any output may be NULL; zeros 0 for INT8_ROW). ZOQ_E_INVALID for
 * an unknown format, a bad shape or group size, or sizes that overflow size_t. */
ZOQ_API int zoq_qmatrix_sizes(int format, int64_t rows, int64_t cols, int32_t group_size,
                              size_t *codes_bytes, size_t *scales_bytes, size_t *zeros_bytes);
/* Quantizes the row-major rows x cols f32 matrix w into m's buffers by
 * round-to-nearest (ties to even) with min-max scales. ZOQ_E_INVALID for a
 * bad descriptor, NULL w or a non-finite element of w. */
ZOQ_API int zoq_qmatrix_quantize(const float *w, const zoq_qmatrix_t *m);
/* Writes the f32 matrix m represents (rows·cols floats, row-major) to w.
 * ZOQ_E_INVALID for a bad descriptor, NULL w, a non-finite scale or a zero > 15. */
ZOQ_API int zoq_qmatrix_dequantize(const zoq_qmatrix_t *m, float *w);
/* y = W x: x has cols floats, y receives rows floats (may not overlap x or
 * m's buffers). Errors as zoq_qmatrix_dequantize. */
ZOQ_API int zoq_qmatrix_matvec(const zoq_qmatrix_t *m, const float *x, float *y);
/* Y = X Wᵀ for a batch: X is batch x cols, Y receives batch x rows, both
 * row-major (Y may not overlap X or m's buffers). Errors as
 * zoq_qmatrix_dequantize, batch in 1 .. 2^31 - 1; ZOQ_E_NOMEM if the
 * dequantized tile cannot be allocated. */
ZOQ_API int zoq_qmatrix_matmul(const zoq_qmatrix_t *m, const float *x, int64_t batch,
                               float *y);
/* Packs n (even) 4-bit codes, one per byte, into n/2 bytes: codes[2i] in the
 * low nibble of packed[i], codes[2i+1] in the high. ZOQ_E_INVALID for NULL,
 * odd n or a code > 15. */
ZOQ_API int zoq_q4_pack(const uint8_t *codes, size_t n, uint8_t *packed);
/* Unpacks n (even) codes from n/2 packed bytes, one code per byte.
 * ZOQ_E_INVALID for NULL or odd n. */
ZOQ_API int zoq_q4_unpack(const uint8_t *packed, size_t n, uint8_t *codes);

/* QZO: registers m's scales (f32, rows x groups) in ctx as a trainable
 * ZOQ_PARAM_SCALE tensor named name (codes and zeros stay fixed); m's
 * buffers must outlive their use. Id to *id (may be NULL). Errors as
 * zoq_param_add_desc, ZOQ_E_INVALID for a bad descriptor. */
ZOQ_API int zoq_param_add_qscales(zoq_ctx *ctx, const char *name, const zoq_qmatrix_t *m,
                                  int32_t *id);
/* QuZO/ZOQO: registers the int8 codes of an INT8_ROW matrix m as a ZOQ_I8
 * tensor with range [-127, 127] and m's row scales. ZOQ_E_UNSUPPORTED for
 * INT4_GROUP (packed: unpack to int8 and use zoq_param_set_codes, range
 * [0, 15], group = group_size); otherwise errors as zoq_param_add_qscales. */
ZOQ_API int zoq_param_add_qcodes(zoq_ctx *ctx, const char *name, const zoq_qmatrix_t *m,
                                 int32_t *id);

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H */
