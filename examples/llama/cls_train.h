/* cls_train.h - ZO training of a label-word classifier (classify.h) inside
 * llama.cpp: a control vector or LoRA target (target.h), ask/tell steps whose
 * loss is the mean cross-entropy over the label words of a minibatch of
 * training examples (one decode per point), the gradient probe (probe.h)
 * first, dev accuracy after with an exact McNemar test against zero-shot.
 * The loss is that cross-entropy ("ce"), or one of zoq's preference losses
 * (zoq_pref_loss_find: dpo, simpo, orpo, kto, ...) on the same examples read
 * as pairs: chosen = the label word of the right class, rejected = the other
 * (KTO: both as unpaired items, the right one desirable), scored through
 * zoq_pref_objective; dev accuracy is the same argmax either way. With
 * --cache-below L (control vectors on layers >= L), the states entering layer
 * L of the training and dev examples are captured once and every evaluation
 * runs the truncated model of hidden.h. */
#ifndef ZOQ_EXAMPLES_LLAMA_CLS_TRAIN_H
#define ZOQ_EXAMPLES_LLAMA_CLS_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "probe.h"

typedef struct cls_train_opts {
    int steps, batch, queries, sign, first, last, rank, probe_dirs, probe_batches;
    double lr, eps, alpha;
    uint64_t seed;
    const char *modules;
    int loss;                   /* -1: cross-entropy; else a zoq_pref_loss_t */
    int cache_below;            /* L > 0: layers < L run once per example (hidden.h) */
    const char *matrices;       /* QZO: the weight matrices whose scales train */
    int label_bias;             /* 1: also train one bias on the label words' log-odds from 0;
                                   2 ("fit"): from the calibration fit on the training sample */
} cls_train_opts;

/* Examples already in the engine (cls_add): dev and train pair ids, labels. */
typedef struct cls_data {
    size_t dev0, n_dev, train0, n_train;
    const int32_t *y_dev, *y_train;
    const uint8_t *zero_shot_right; /* per dev example */
    size_t batch;                   /* examples per decode when scoring dev */
    double calib_bias;              /* the calibration fit (cls_fit_bias) on train */
} cls_data;

typedef struct cls_run_result {
    char target[8], loss[8];
    int64_t numel, correct, fixed, broken;
    double mcnemar_p, loss_first, loss_last, dev_loss, seconds, sec_per_step, cpu_per_step;
    double train_tokens_per_s, capture_seconds; /* decodes of the steps; --cache-below */
    double bias, bias_from; /* --label-bias: trained value and where it started */
    int steps;
    gradient_signal sig;
    cls_train_opts o;
} cls_run_result;

void cls_train_defaults(cls_train_opts *o);
/* Takes option a with value v if it is one of cls_train's: 0, else -1.
 * --loss NAME takes "ce" or a preference loss's name. */
int cls_train_parse(cls_train_opts *o, const char *a, const char *v);
/* *loss = -1 for "ce", else the preference loss named (zoq_pref_loss_find).
 * 0, or -1 for an unknown name. */
int cls_train_loss(const char *name, int *loss);
int cls_train_valid(const cls_train_opts *o);

/* Trains target ("cvec", "lora" or "qzo") from zero (QZO: from the engine's
 * scales, which it leaves as loaded) — with o->label_bias, together with one
 * bias on the label words' log-odds, from 0 or d->calib_bias — evaluates dev,
 * saves θ to dir (target_save, label_bias_save). 0 or -1. */
int cls_train_run(lm_engine *e, const cls_train_opts *o, const char *model_path,
                  const char *target, const cls_data *d, const char *dir, cls_run_result *r);

/* r as one JSON object (no trailing newline). */
void cls_run_json(FILE *f, const cls_run_result *r, int64_t n_dev);

#endif
