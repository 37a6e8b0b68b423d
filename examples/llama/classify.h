/* classify.h - label-word classification with the engine's scorer (the
 * LM-BFF / MeZO formulation: Gao et al. 2021, arXiv:2012.15723; Malladi et
 * al. 2023, arXiv:2305.17333). An example is a prompt made from a template
 * with the sentence in it, ending where the label word goes; class y is
 * scored by the summed log-prob of label word y's tokens after the prompt.
 * Each example is stored as one engine pair (engine.h): prompt, word 0 as
 * side 0, word 1 as side 1, so one lm_score decodes each prompt once for
 * both words, with logits only where a label-word token is predicted.
 * Loss: cross-entropy of the label over the two words' log-probs (plus an
 * optional bias on word 1, the calibration baseline); accuracy: argmax. */
#ifndef ZOQ_EXAMPLES_LLAMA_CLASSIFY_H
#define ZOQ_EXAMPLES_LLAMA_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* The sentence goes where the template says <S>. */
#define CLS_SLOT "<S>"

typedef struct cls_prompt {
    const char *name;
    const char *templ;    /* text up to the label word, with CLS_SLOT once */
    const char *word[2];  /* label words of class 0 and class 1, leading space included */
    int special;          /* parse special tokens (<|im_start|> ...) of the template */
} cls_prompt;

/* Adds n examples to e's pair table; example i is pair *first + i. Prompts
 * keep their last max_prompt tokens. 0 or -1. */
int cls_add(lm_engine *e, const cls_prompt *p, const char *const *sentences, size_t n,
            int32_t max_prompt, size_t *first);

/* Log-probs of both label words of the n examples (pair ids ex[0..n)) with
 * whatever adapter e->ctx holds: lp[2i + y] for class y. One decode when
 * they fit (lm_score). 0 or -1. */
int cls_score(lm_engine *e, const size_t *ex, size_t n, double *lp);

/* cls_score of the n examples first, first + 1, ... in decodes of at most
 * chunk examples (a progress dot on stderr every 20 decodes). 0 or -1. */
int cls_score_range(lm_engine *e, size_t first, size_t n, size_t chunk, double *lp);

/* Mean cross-entropy and correct count of scores lp against labels y, with
 * bias b added to class 1's log-prob; right[i] (if not NULL) is 1 where
 * example i is classified correctly (ties are wrong). */
void cls_eval(const double *lp, const int32_t *y, size_t n, double b, double *loss,
              int64_t *correct, uint8_t *right);

/* The calibration baseline: the bias b of cls_eval minimizing the mean
 * cross-entropy of lp against y (Newton's method, |b| <= 50). */
double cls_fit_bias(const double *lp, const int32_t *y, size_t n);

/* The --quick check: the label-word scores of a few sentences, decoded
 * together in one decode of at least 64 rows by a fresh engine on the model
 * at model_path, against each sequence decoded alone (lm_reference_logp)
 * within 1e-6 nats, and the loss against the softmax written out. 0 or -1
 * (message on stderr). */
int cls_check(const char *model_path, int threads, const cls_prompt *p);

#endif
