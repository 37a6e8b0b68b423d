/* hidden.h - the frozen bottom of the model computed once per example
 * (examples/llama). When only layers >= L are trained (control vectors on
 * them), the hidden state entering layer L does not depend on θ: it is
 * captured once per example from the full model (llama.cpp's eval callback
 * on tensor "l_out-(L-1)") and every later evaluation runs only a
 * truncated model on it (llama_batch.embd, the original positions):
 *
 *   layer 0:      an identity layer (layer L's tensors with attn_output and
 *                 ffn_down zeroed: x + 0 + 0 = x), so that original layer
 *                 L is layer 1 (llama.cpp applies no control vector to
 *                 layer 0);
 *   layer 1 + j:  original layer L + j;
 *   then the output norm and head, token embeddings and vocabulary as they
 *   are.
 *
 * The truncated GGUF is written once, next to the model (MODEL.top-L.gguf).
 * docs/integrations/llama.md gives the measured speedup. */
#ifndef ZOQ_EXAMPLES_LLAMA_HIDDEN_H
#define ZOQ_EXAMPLES_LLAMA_HIDDEN_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct lm_hidden {
    lm_engine top;     /* the truncated model; its pair table is the full engine's */
    int32_t below;     /* L: layers below L are computed once */
    float **rows;      /* per pair of the full engine: NULL or its cached rows (engine.h) */
    size_t n_rows;
    int64_t n_captured, capture_tokens;
    double capture_seconds;
} lm_hidden;

/* Opens the truncated model of the GGUF at model_path for layers >= below
 * (1 <= below < the full model's layer count), writing it first if it is
 * missing or older than the model; it takes as many tokens and sequences a
 * decode as full does. 0 or -1 (message on stderr). */
int hidden_open(lm_hidden *h, const lm_engine *full, const char *model_path, int32_t below,
                int n_threads);
/* Captures the states entering layer `below` of full's pairs first ..
 * first + n - 1 (added to full before), several pairs a decode of the full
 * model, and makes h->top see them. 0 or -1. */
int hidden_capture(lm_hidden *h, lm_engine *full, size_t first, size_t n);
void hidden_close(lm_hidden *h);

/* The --quick check: label-word log-probs of full's pairs first .. first +
 * n - 1 through the truncated model on captured states against the full
 * model, without and with a control vector on layers below .. below + 2,
 * to a relative 1e-4. 0 or -1 (message on stderr). */
int hidden_check(lm_engine *full, const char *model_path, int32_t below, size_t first, size_t n);

#endif
