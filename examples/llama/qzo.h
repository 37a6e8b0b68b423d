/* qzo.h - QZO inside llama.cpp (Shang et al. 2025, arXiv:2505.13430): the
 * f16 scales d of the engine's own quantized weight blocks (Q4_0, Q4_1,
 * Q8_0), registered with zoq as strided views of llama.cpp's weight buffers
 * (zoq_param_desc_t.stride = the block's size) and perturbed and updated
 * there, in place; the integer codes (and Q4_1's offsets m) never change.
 * The engine must be opened with lm_open_weights(..., LM_WRITABLE). */
#ifndef ZOQ_EXAMPLES_LLAMA_QZO_H
#define ZOQ_EXAMPLES_LLAMA_QZO_H

#include <stdint.h>

#include <zoq.h>

#include "engine.h"

typedef struct qzo_tensor {
    struct ggml_tensor *w; /* the engine's tensor; w->data its weight buffer */
    int32_t id;            /* zoq parameter: the blocks' d, w->data + k * block */
    int64_t n_blocks;
    size_t block;          /* bytes per block */
    uint16_t *base;        /* the d as loaded, for qzo_free */
} qzo_tensor;

typedef struct qzo_target {
    lm_engine *e;
    qzo_tensor *qt;
    int32_t n;
    int64_t numel;         /* scales trained */
} qzo_target;

/* Registers with z the scales of the comma-separated matrices (attn_q,
 * attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down) of layers
 * [first, last]: f16 strided views, ZOQ_PARAM_SCALE (floored at
 * ZOQ_OPT_SCALE_FLOOR, DDC) for Q4_1 and Q8_0, whose d are >= 0; Q4_0's d
 * carry the sign of their block and are not floored. 0 or -1. */
int qzo_init(qzo_target *q, lm_engine *e, zoq_ctx *z, const char *matrices, int32_t first,
             int32_t last);
/* Puts the loaded scales back into the engine and frees q. */
void qzo_free(qzo_target *q);

#endif
