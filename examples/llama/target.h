/* target.h - what zoq trains inside llama.cpp (examples/llama):
 *   control vectors: one n_embd vector per layer in [il_start, il_end], added
 *     to the residual stream (llama_set_adapter_cvec), perturbed in memory;
 *   LoRA: rank-r A, B pairs on attention/MLP projections of those layers,
 *     laid out as a GGUF LoRA file in memory and loaded per evaluation with
 *     llama_adapter_lora_init_from_file_ptr over fmemopen(3);
 *   QZO: the scales of the engine's own quantized weights (qzo.h).
 * The trained values are zoq parameters. Control vectors and LoRA get a point
 * of a step through zoq_materialize (ask/tell), so θ itself never moves until
 * zoq_tell; QZO's scales are moved in place by zoq_step (the engine always
 * holds the current point). */
#ifndef ZOQ_EXAMPLES_LLAMA_TARGET_H
#define ZOQ_EXAMPLES_LLAMA_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include <zoq.h>

#include "engine.h"
#include "qzo.h"

typedef enum { TARGET_CVEC = 0, TARGET_LORA = 1, TARGET_QZO = 2 } target_kind;

typedef struct lora_tensor {
    char module[16];        /* GGUF name: attn_v, attn_output, ffn_gate, ffn_up, ffn_down */
    int32_t layer;
    int64_t in, out;        /* the projection maps in -> out features */
    float *a, *b;           /* A: rank x in, B: out x rank, row-major (GGUF's layout) */
    int32_t id_a, id_b;     /* zoq parameter ids */
    size_t off_a, off_b;    /* offsets of their data in the GGUF image */
} lora_tensor;

typedef struct lm_target {
    int kind;
    lm_engine *e;
    zoq_ctx *z;
    int32_t il_start, il_end;
    int64_t numel;          /* trained values */
    /* control vector: (n_layer - 1) x n_embd, layer il at row il - 1 */
    float *theta, *point;
    int32_t cvec_id;
    /* LoRA */
    lora_tensor *lt;
    int32_t n_lt, rank;
    float alpha;
    uint8_t *image;         /* GGUF LoRA file: metadata, then tensor data */
    size_t image_size, data_off;
    struct llama_adapter_lora *adapter;
    /* QZO */
    qzo_target q;
    const char *model_path;
    /* what the engine holds: -2 nothing (the base model), -1 θ, else point of `loaded_step` */
    int32_t loaded;
    uint64_t loaded_step;
    int64_t n_loads;
    double load_seconds;
} lm_target;

/* Registers the control vector of layers [il_start, il_end] (1 .. n_layer-1)
 * with z, all zeros. 0 or -1. */
int target_cvec_init(lm_target *t, lm_engine *e, zoq_ctx *z, const char *model_path,
                     int32_t il_start, int32_t il_end);
/* Registers LoRA A, B pairs for the comma-separated GGUF modules (attn_v,
 * attn_output, ffn_gate, ffn_up, ffn_down) of layers [il_start, il_end]:
 * A ~ N(0, 1/in) from zoq's stream of its name, B = 0. Shapes come from the
 * model file. 0 or -1. */
int target_lora_init(lm_target *t, lm_engine *e, zoq_ctx *z, const char *model_path,
                     const char *modules, int32_t il_start, int32_t il_end, int32_t rank,
                     float alpha);
/* Registers the scales of the engine's weights (qzo_init); the engine must
 * have been opened with lm_open_weights(..., LM_WRITABLE). 0 or -1. */
int target_qzo_init(lm_target *t, lm_engine *e, zoq_ctx *z, const char *model_path,
                    const char *matrices, int32_t il_start, int32_t il_end);
/* Frees t; QZO puts the loaded scales back into the engine. */
void target_free(lm_target *t);

/* Puts the base model (no adapter), θ, or point `point` of z's pending step
 * into the engine. 0 or -1. QZO: the engine holds θ between steps
 * (target_use_theta is a no-op) and is moved by zoq_step only. */
int target_use_base(lm_target *t);
int target_use_theta(lm_target *t);
int target_use_point(lm_target *t, int32_t point);

/* Writes θ to dir: control_vector.gguf (llama.cpp's control-vector format),
 * or adapter.gguf (LoRA) plus a PEFT folder peft/ (adapter_model.
 * safetensors, adapter_config.json; zoq_peft_save), or model.gguf (QZO: the
 * whole model with the tuned scales, model_save.h). 0 or -1. */
int target_save(const lm_target *t, const char *dir);
/* Control vector and LoRA: checks the saved files against θ: the control vector read back with gguf,
 * or the LoRA GGUF loaded with llama_adapter_lora_init and scored on seqs
 * against the in-memory adapter, and the PEFT folder read with zoq_peft_read,
 * all bit for bit. 0 if equal, -1 otherwise. */
int target_check_saved(lm_target *t, const char *dir, const int64_t *seqs, int64_t n);

#endif
