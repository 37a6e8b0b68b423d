/*
 * zoq/pref.h - preference losses, evaluation, data helpers and the
 * preference objective (docs/preference.md). Part of the public API: include <zoq.h>, which includes every part.
 */
#ifndef ZOQ_H_PREF
#define ZOQ_H_PREF

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H_PREF */
