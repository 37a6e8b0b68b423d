/* model_tensor.h - what the example needs of llama.cpp's internals (C++ shim
 * over the internal headers: model_tensor.cpp): a loaded model's weight
 * tensor by GGUF name, and a context's CPU backend. */
#ifndef ZOQ_EXAMPLES_LLAMA_MODEL_TENSOR_H
#define ZOQ_EXAMPLES_LLAMA_MODEL_TENSOR_H

#include <llama.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The tensor named name ("blk.3.ffn_down.weight") of model, NULL if absent.
 * Its data is the engine's own buffer. */
struct ggml_tensor *lm_model_tensor(const struct llama_model *model, const char *name);

/* Sets ctx's CPU backends to ggml-cpu's reference kernels (no tiling, no
 * KV chunking, no op fusion: ggml_backend_cpu_set_use_ref); the number of
 * backends set (0: none is a CPU backend or the CPU backend lacks it). */
int lm_context_use_ref(struct llama_context *ctx);

#ifdef __cplusplus
}
#endif

#endif
