/* artifact.c - artifact.h. */
#define _POSIX_C_SOURCE 200809L
#include "artifact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gguf.h>

/* control_vector.gguf's direction.L tensors (llama.cpp's control-vector
 * format) into a (n_layer - 1) x n_embd buffer; 1 if the file is absent. */
static int cvec_read(artifact *a, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 1;
    fclose(f);
    struct ggml_context *data = NULL;
    struct gguf_init_params gp = {false, &data};
    struct gguf_context *g = gguf_init_from_file(path, gp);
    const int32_t n_embd = a->e->n_embd;
    a->cvec = g ? calloc((size_t)(a->e->n_layer - 1) * (size_t)n_embd, sizeof *a->cvec) : NULL;
    int rc = a->cvec == NULL ? -1 : 0;
    a->il_start = a->e->n_layer;
    a->il_end = 0;
    char name[32];
    for (int32_t il = 1; rc == 0 && il < a->e->n_layer; il++) {
        snprintf(name, sizeof name, "direction.%d", (int)il);
        const struct ggml_tensor *d = ggml_get_tensor(data, name);
        if (d == NULL)
            continue;
        if (d->type != GGML_TYPE_F32 || d->ne[0] != n_embd) {
            rc = -1;
            break;
        }
        memcpy(a->cvec + (size_t)(il - 1) * (size_t)n_embd, d->data, sizeof(float) * (size_t)n_embd);
        a->il_start = il < a->il_start ? il : a->il_start;
        a->il_end = il;
    }
    if (rc == 0 && a->il_end == 0)
        rc = -1; /* no direction at all */
    if (g != NULL)
        gguf_free(g);
    if (data != NULL)
        ggml_free(data);
    return rc;
}

int artifact_load(artifact *a, lm_engine *e, const char *dir)
{
    memset(a, 0, sizeof *a);
    a->e = e;
    char path[1024];
    snprintf(path, sizeof path, "%s/control_vector.gguf", dir);
    const int c = cvec_read(a, path);
    if (c == 0)
        return 0;
    if (c < 0) {
        fprintf(stderr, "artifact: %s is not a control vector of this model\n", path);
        artifact_free(a);
        return -1;
    }
    snprintf(path, sizeof path, "%s/adapter.gguf", dir);
    a->lora = llama_adapter_lora_init(e->model, path);
    if (a->lora == NULL) {
        fprintf(stderr, "artifact: %s has neither control_vector.gguf nor a LoRA adapter.gguf "
                        "of this model\n", dir);
        return -1;
    }
    return 0;
}

int artifact_use(artifact *a, int on)
{
    if (a->cvec != NULL) {
        const size_t len = (size_t)(a->e->n_layer - 1) * (size_t)a->e->n_embd;
        return llama_set_adapter_cvec(a->e->ctx, on ? a->cvec : NULL, on ? len : 0,
                                      a->e->n_embd, on ? a->il_start : 0, on ? a->il_end : 0)
                       == 0 ? 0 : -1;
    }
    float scale = 1.0f;
    return llama_set_adapters_lora(a->e->ctx, on ? &a->lora : NULL, on ? 1 : 0,
                                   on ? &scale : NULL) == 0 ? 0 : -1;
}

void artifact_free(artifact *a)
{
    if (a->e != NULL && a->e->ctx != NULL)
        artifact_use(a, 0);
    llama_adapter_lora_free(a->lora);
    free(a->cvec);
    memset(a, 0, sizeof *a);
}
