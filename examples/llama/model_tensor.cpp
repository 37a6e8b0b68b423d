// model_tensor.cpp - what the example needs that llama.cpp's C API lacks,
// through its internal headers (src/llama-model.h, src/llama-context.h of the
// pinned llama.cpp source that make llm-deps builds; the methods used are
// exported by libllama): a model's weight tensor by its GGUF name
// (llama_model::get_tensor), and the CPU backend of a context, reached
// through its scheduler (llama_context::get_sched), to set ggml-cpu's
// reference kernels on it.
#include "llama-context.h"
#include "llama-model.h"

#include <ggml-backend.h>

#include "model_tensor.h"

extern "C" struct ggml_tensor *lm_model_tensor(const struct llama_model *model, const char *name)
{
    return const_cast<struct ggml_tensor *>(model->get_tensor(name));
}

extern "C" int lm_context_use_ref(struct llama_context *ctx)
{
    // through the registry, as llama.cpp sets its threads: no link to ggml-cpu
    ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
    void *sym = cpu != nullptr ? ggml_backend_reg_get_proc_address(cpu, "ggml_backend_cpu_set_use_ref")
                               : nullptr;
    auto set_use_ref = reinterpret_cast<void (*)(ggml_backend_t, bool)>(sym);
    ggml_backend_sched_t sched = ctx->get_sched();
    int n = 0;
    for (int i = 0; set_use_ref != nullptr && i < ggml_backend_sched_get_n_backends(sched); i++) {
        ggml_backend_t b = ggml_backend_sched_get_backend(sched, i);
        if (ggml_backend_dev_backend_reg(ggml_backend_get_device(b)) == cpu) {
            set_use_ref(b, true);
            n++;
        }
    }
    return n;
}
