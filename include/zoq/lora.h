/*
 * zoq/lora.h - LoRA adapters, merging across runs and, experimental,
 * their nightly rotation (docs/lora.md, docs/pipeline.md). Part of the public API: include <zoq.h>, which includes every part.
 */
#ifndef ZOQ_H_LORA
#define ZOQ_H_LORA

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H_LORA */

/* Experimental: API not yet promised. Define ZOQ_EXPERIMENTAL before
 * including zoq.h to use it; it may change or go in any release, and
 * tools/gen_api_doc.py marks it so in docs/api.md. The symbols are
 * exported all the same: the ABI promise covers them as it does the rest. */
#if defined(ZOQ_EXPERIMENTAL) && !defined(ZOQ_H_LORA_EXPERIMENTAL)
#define ZOQ_H_LORA_EXPERIMENTAL

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_EXPERIMENTAL */
