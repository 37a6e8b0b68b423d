/* pref.h - internal helpers shared by the preference sources (lib/pref):
 * stable scalar numerics, the normal distribution, size-prefixed struct
 * checks and the per-family loss kernels. Nothing here is exported. */
#ifndef ZOQ_PREF_PREF_H
#define ZOQ_PREF_PREF_H

#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

/* ---- numerics (num.c) --------------------------------------------------- */

/* log(1 + e^x) without overflow or loss of precision for any finite x. */
double zoq__softplus(double x);
/* log σ(x) = -softplus(-x). */
double zoq__log_sigmoid(double x);
/* σ(x) = 1 / (1 + e^-x), evaluated so that neither tail overflows. */
double zoq__sigmoid(double x);
/* log(1 - e^x) for x < 0 (Mächler): log(-expm1(x)) if x > -ln 2, else
 * log1p(-exp(x)). Caller guarantees x < 0. */
double zoq__log1mexp(double x);
/* e^x - 1 - x, accurate for small |x| (series below 1); +inf on overflow. */
double zoq__expm1mx(double x);
/* Standard normal quantile Φ⁻¹(p) for 0 < p < 1 (Wichura, AS 241, PPND16). */
double zoq__norm_ppf(double p);
/* Two-sided tail 2·(1 - Φ(|z|)) = erfc(|z| / √2). */
double zoq__norm_two_sided_p(double z);

/* ---- size-prefixed structs ---------------------------------------------- */

/* Every preference struct follows lib/core/abi.h's growth rule: inputs are
 * read through zoq__sized_in into a copy pre-filled with their defaults,
 * outputs are written through zoq__sized_out. */

/* Reads the caller's params *in into *p: fields an older, smaller struct
 * does not reach take the defaults of its loss (DPO's if it does not reach
 * the loss either). ZOQ_E_INVALID, with a message, for a size of no version
 * or a nonzero tail past this build's struct; *p is then unchanged. */
int zoq__pref_params_in(const zoq_pref_params_t *in, zoq_pref_params_t *p);

/* ---- loss kernels -------------------------------------------------------- */

/* Baseline of an AERO evaluation: (b, v) of the state, or the batch's own
 * mean and mean squared deviation when the state has seen no rewards yet. */
typedef struct zoq__aero_base {
    double baseline;
    double sq_dev;
} zoq__aero_base_t;

/* Validates what GRPO/AERO need from the batch (params already validated). */
int zoq__pref_group_check(const zoq_pref_params_t *p, const zoq_pref_batch_t *b);
/* Evaluates GRPO (base == NULL) or AERO (base != NULL) on a validated batch. */
void zoq__pref_group_eval(const zoq_pref_params_t *p, const zoq_pref_batch_t *b,
                          const zoq__aero_base_t *base, zoq_pref_result_t *out);
/* The AERO baseline an evaluation with state s and these rewards uses;
 * ZOQ_E_INVALID (message set) when the rewards' spread overflows a double. */
int zoq__pref_aero_base(const zoq_pref_aero_t *s, const double *rewards, int64_t n,
                         zoq__aero_base_t *out);

/* ZOQ_OK if the array `name` is non-NULL and its n entries are finite (and
 * > 0 if positive); else ZOQ_E_INVALID with a message naming the array and
 * the first bad entry (zoq_last_error(NULL)). */
int zoq__pref_need(const char *name, const double *x, int64_t n, int positive);

/* ZOQ_E_INVALID with a formatted message for zoq_last_error(NULL): the
 * failure of a context-free preference call. */
#define zoq__pref_bad(...) zoq__fail(NULL, ZOQ_E_INVALID, __VA_ARGS__)

/* Evaluates `check` (a status expression) and returns it unless ZOQ_OK. */
#define ZOQ__PREF_TRY(check)       \
    do {                           \
        const int st_ = (check);   \
        if (st_ != ZOQ_OK)         \
            return st_;            \
    } while (0)

#endif /* ZOQ_PREF_PREF_H */
