/* model_save.c - model_save.h. */
#define _POSIX_C_SOURCE 200809L
#include "model_save.h"

#include <stdio.h>
#include <string.h>

#include <ggml-backend.h>
#include <ggml.h>
#include <gguf.h>

#include "model_tensor.h"

int lm_save_model(const lm_engine *e, const char *src_path, const char *out_path)
{
    struct ggml_context *meta = NULL;
    struct gguf_init_params gp = {true, &meta};
    struct gguf_context *src = gguf_init_from_file(src_path, gp);
    struct gguf_context *out = src ? gguf_init_empty() : NULL;
    int rc = out == NULL ? -1 : 0;
    if (rc == 0)
        gguf_set_kv(out, src); /* every key, general.alignment included */
    const int64_t n = rc == 0 ? gguf_get_n_tensors(src) : 0;
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        const char *name = gguf_get_tensor_name(src, i);
        struct ggml_tensor *info = ggml_get_tensor(meta, name);
        const struct ggml_tensor *w = lm_model_tensor(e->model, name);
        if (info == NULL || w == NULL || w->type != info->type ||
            ggml_nbytes(w) != ggml_nbytes(info) || w->buffer == NULL ||
            !ggml_backend_buffer_is_host(w->buffer)) {
            fprintf(stderr, "model_save: %s: not in the engine as a host tensor of the file's "
                            "type and size\n", name);
            rc = -1;
            break;
        }
        info->data = w->data; /* gguf_add_tensor keeps the pointer; written below */
        gguf_add_tensor(out, info);
    }
    if (rc == 0 && !gguf_write_to_file(out, out_path, false)) {
        fprintf(stderr, "model_save: cannot write %s\n", out_path);
        rc = -1;
    }
    if (out != NULL)
        gguf_free(out);
    if (src != NULL)
        gguf_free(src);
    if (meta != NULL)
        ggml_free(meta);
    return rc;
}
