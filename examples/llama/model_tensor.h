/* model_tensor.h - a loaded model's weight tensor by GGUF name (C++ shim
 * over llama.cpp's internal llama_model::get_tensor: model_tensor.cpp). */
#ifndef ZOQ_EXAMPLES_LLAMA_MODEL_TENSOR_H
#define ZOQ_EXAMPLES_LLAMA_MODEL_TENSOR_H

#include <llama.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The tensor named name ("blk.3.ffn_down.weight") of model, NULL if absent.
 * Its data is the engine's own buffer. */
struct ggml_tensor *lm_model_tensor(const struct llama_model *model, const char *name);

#ifdef __cplusplus
}
#endif

#endif
