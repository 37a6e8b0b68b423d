/*
 * zoq/options.h - option keys, their enums, and typed get/set.
 * Part of the public API: include <zoq.h>, which includes every part.
 */
#ifndef ZOQ_H_OPTIONS
#define ZOQ_H_OPTIONS

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Options: typed keys, validated on set, growable without breaking the ABI */
/* ------------------------------------------------------------------------ */

/* Option keys, each with its type and meaning. Defaults and exact ranges are
 * in one table, the library's, listed in docs/options.md (generated from it;
 * a new context holds the defaults; zoq_get_int/zoq_get_double read them). */
typedef enum zoq_opt {
    ZOQ_OPT_SEED = 1,           /* int: seed of every random draw */
    ZOQ_OPT_ESTIMATOR = 2,      /* int: zoq_estimator_t */
    ZOQ_OPT_DIST = 3,           /* int: zoq_dist_t of z */
    ZOQ_OPT_QUERIES = 4,        /* int: directions per step n, 1..65536 */
    ZOQ_OPT_LR = 5,             /* double: base learning rate eta >= 0 */
    ZOQ_OPT_EPS = 6,            /* double: base perturbation scale eps > 0 */
    ZOQ_OPT_WEIGHT_DECAY = 7,   /* double: decoupled weight decay >= 0 */
    ZOQ_OPT_TOTAL_STEPS = 8,    /* int: run length T for schedules, >= 0 (needed by linear/cosine) */
    ZOQ_OPT_LR_SCHEDULE = 9,    /* int: zoq_schedule_t of the lr */
    ZOQ_OPT_LR_WARMUP = 10,     /* int: linear warmup steps of the lr, >= 0, <= total_steps */
    ZOQ_OPT_LR_FINAL = 11,      /* double: lr at step T, >= 0 */
    ZOQ_OPT_EPS_SCHEDULE = 12,  /* int: zoq_schedule_t of eps */
    ZOQ_OPT_EPS_FINAL = 13,     /* double: eps at step T, > 0 when scheduled, 0 = unset */
    ZOQ_OPT_THREADS = 14,       /* int: CPU worker threads, 0 = all online cores; the
                                   instruction set is the best the CPU runs, capped by the
                                   environment variable ZOQ_CPU_ISA (docs/backends.md) */
    ZOQ_OPT_OPTIMIZER = 15,     /* int: zoq_optimizer_t applied to the ZO gradient */
    ZOQ_OPT_MOMENTUM = 16,      /* double: momentum mu in [0, 1) */
    ZOQ_OPT_ADAM_BETA1 = 17,    /* double: Adam beta1 in [0, 1) */
    ZOQ_OPT_ADAM_BETA2 = 18,    /* double: Adam beta2 in [0, 1) */
    ZOQ_OPT_ADAM_EPS = 19,      /* double: Adam epsilon > 0 */
    ZOQ_OPT_CLIP = 20,          /* double: DDC, clip each g_q to [-C, C]; 0 = off */
    ZOQ_OPT_SIGN = 21,          /* int: 1 = ZO-SGD-Sign, use sign(g_q) */
    ZOQ_OPT_ACCUMULATE = 22,    /* int: apply one update every K steps, 1..4096 */
    ZOQ_OPT_HESSIAN = 23,       /* int: 1 = HiZOO diagonal-Hessian preconditioning (central only) */
    ZOQ_OPT_HESSIAN_ALPHA = 24, /* double: HiZOO EMA rate alpha in [0, 1) */
    ZOQ_OPT_HESSIAN_FLOOR = 25, /* double: lower bound of the Hessian estimate, > 0 */
    ZOQ_OPT_SPARSE = 26,        /* int: zoq_sparse_t, perturb only part of each tensor */
    ZOQ_OPT_SPARSE_KEEP = 27,   /* double: fraction of each tensor perturbed, (0, 1] */
    ZOQ_OPT_SPARSE_EVERY = 28,  /* int: recompute the mask's threshold (or redraw it) every k updates */
    ZOQ_OPT_LOZO_RANK = 29,     /* int: LoZO rank r of U·Vᵀ directions for 2-D tensors (rows, cols in
                                   the desc), 0 = off, <= 32; with momentum: LOZO-M */
    ZOQ_OPT_LOZO_INTERVAL = 30, /* int: LoZO resamples V every nu steps, >= 1 */
    /* Quantized training (docs/quantized.md) */
    ZOQ_OPT_QMETHOD = 40,       /* int: zoq_qmethod_t for ZOQ_I8 code tensors */
    ZOQ_OPT_QUZO_BITS = 41,     /* int: QuZO perturbation bits b, codes |u| <= 2^(b-1)-1, 2..8 */
    ZOQ_OPT_SCALE_CLIP = 42,    /* double: DDC threshold C used when clip = 0 and a
                                   ZOQ_PARAM_SCALE tensor is enabled (QZO); 0 = off */
    ZOQ_OPT_SCALE_FLOOR = 43,   /* double: ZOQ_PARAM_SCALE tensors are kept >= this after
                                   each update (QZO's non-negativity), >= 0 */
    ZOQ_OPT_EXACT_RESTORE = 44  /* int: 1 = zoq_step and zoq_run copy the enabled CPU
                                   parameters before a step moves them and a failed step
                                   puts them back bit for bit (memory: one copy; time: one
                                   more pass a step; zoq_run does not fuse); 0 = they come
                                   back to the rounding of the moves (docs/inplace.md) */
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

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H_OPTIONS */
