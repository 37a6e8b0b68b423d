// model_tensor.cpp - the one thing the example needs that llama.cpp's C API
// lacks: a model's weight tensor by its GGUF name, through llama_model::
// get_tensor (exported by libllama, declared in the internal header
// src/llama-model.h of the pinned llama.cpp source that make llm-deps builds).
#include "llama-model.h"

#include "model_tensor.h"

extern "C" struct ggml_tensor *lm_model_tensor(const struct llama_model *model, const char *name)
{
    return const_cast<struct ggml_tensor *>(model->get_tensor(name));
}
