/* qzo.c - qzo.h. */
#define _POSIX_C_SOURCE 200809L
#include "qzo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml-backend.h>
#include <ggml.h>

#include "model_tensor.h"

static const char *const matrices_known[] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                             "ffn_gate", "ffn_up", "ffn_down"};

static int known(const char *m)
{
    for (size_t k = 0; k < sizeof matrices_known / sizeof *matrices_known; k++)
        if (strcmp(m, matrices_known[k]) == 0)
            return 1;
    return 0;
}

/* w's blocks' d as a zoq parameter, after checking that w is a plain host
 * buffer of one of the block formats whose first field is the f16 d. */
static int add_tensor(qzo_target *q, zoq_ctx *z, struct ggml_tensor *w, const char *name)
{
    const enum ggml_type ty = w->type;
    if (ty != GGML_TYPE_Q4_0 && ty != GGML_TYPE_Q4_1 && ty != GGML_TYPE_Q8_0) {
        fprintf(stderr, "qzo: %s is %s, not Q4_0, Q4_1 or Q8_0\n", name, ggml_type_name(ty));
        return -1;
    }
    if (w->buffer == NULL || !ggml_backend_buffer_is_host(w->buffer) ||
        strcmp(ggml_backend_buffer_name(w->buffer), "CPU") != 0 || !ggml_is_contiguous(w)) {
        fprintf(stderr, "qzo: %s is not in a plain writable CPU buffer (%s): open the engine "
                        "with lm_open_weights(..., LM_WRITABLE)\n",
                name, w->buffer ? ggml_backend_buffer_name(w->buffer) : "none");
        return -1;
    }
    qzo_tensor *t = &q->qt[q->n];
    t->w = w;
    t->block = ggml_type_size(ty);
    t->n_blocks = ggml_nelements(w) / ggml_blck_size(ty);
    t->base = malloc(sizeof *t->base * (size_t)t->n_blocks);
    if (t->base == NULL)
        return -1;
    for (int64_t k = 0; k < t->n_blocks; k++)
        memcpy(&t->base[k], (const char *)w->data + (size_t)k * t->block, sizeof *t->base);
    q->n++;
    const int64_t cols = w->ne[0] / ggml_blck_size(ty);
    zoq_param_desc_t d = {.size = sizeof d, .name = name, .data = w->data, .dtype = ZOQ_F16,
                          .device = ZOQ_DEVICE_CPU, .numel = t->n_blocks,
                          .flags = ty == GGML_TYPE_Q4_0 ? 0u : ZOQ_PARAM_SCALE,
                          .rows = t->n_blocks / cols, .cols = cols,
                          .stride = (int64_t)t->block};
    if (zoq_param_add_desc(z, &d, &t->id) != ZOQ_OK) {
        fprintf(stderr, "qzo: %s: %s\n", name, zoq_last_error(z));
        return -1;
    }
    q->numel += t->n_blocks;
    return 0;
}

int qzo_init(qzo_target *q, lm_engine *e, zoq_ctx *z, const char *matrices, int32_t first,
             int32_t last)
{
    memset(q, 0, sizeof *q);
    q->e = e;
    if (first < 0 || last >= e->n_layer || first > last) {
        fprintf(stderr, "qzo: layers must lie in 0..%d\n", e->n_layer - 1);
        return -1;
    }
    char list[160], name[96];
    snprintf(list, sizeof list, "%s", matrices);
    int32_t n_mat = 1;
    for (const char *c = list; *c; c++)
        n_mat += *c == ',';
    q->qt = calloc((size_t)(n_mat * (last - first + 1)), sizeof *q->qt);
    int rc = q->qt == NULL ? -1 : 0;
    for (char *save = NULL, *m = strtok_r(list, ",", &save); rc == 0 && m != NULL;
         m = strtok_r(NULL, ",", &save)) {
        if (!known(m)) {
            fprintf(stderr, "qzo: matrix %s not known (attn_q, attn_k, attn_v, attn_output, "
                            "ffn_gate, ffn_up, ffn_down)\n", m);
            rc = -1;
            break;
        }
        for (int32_t il = first; rc == 0 && il <= last; il++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", (int)il, m);
            struct ggml_tensor *w = lm_model_tensor(e->model, name);
            rc = w == NULL ? -1 : add_tensor(q, z, w, name);
        }
    }
    return rc;
}

void qzo_free(qzo_target *q)
{
    for (int32_t i = 0; i < q->n; i++) {
        const qzo_tensor *t = &q->qt[i];
        for (int64_t k = 0; k < t->n_blocks; k++)
            memcpy((char *)t->w->data + (size_t)k * t->block, &t->base[k], sizeof *t->base);
        free(t->base);
    }
    free(q->qt);
    memset(q, 0, sizeof *q);
}
