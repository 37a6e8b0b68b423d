/* target.c - control-vector, LoRA and QZO targets of target.h. */
#define _POSIX_C_SOURCE 200809L
#include "target.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ggml.h>
#include <gguf.h>

#include "model_save.h"


static int param(zoq_ctx *z, const char *name, float *data, int64_t rows, int64_t cols,
                 uint32_t flags, int32_t *id)
{
    zoq_param_desc_t d = {.size = sizeof d, .name = name, .data = data, .dtype = ZOQ_F32,
                          .device = ZOQ_DEVICE_CPU, .numel = rows * cols, .flags = flags,
                          .rows = rows, .cols = cols};
    const int st = zoq_param_add_desc(z, &d, id);
    if (st != ZOQ_OK)
        fprintf(stderr, "target: %s: %s\n", name, zoq_last_error(z));
    return st == ZOQ_OK ? 0 : -1;
}

int target_cvec_init(lm_target *t, lm_engine *e, zoq_ctx *z, const char *model_path,
                     int32_t il_start, int32_t il_end)
{
    (void)model_path;
    memset(t, 0, sizeof *t);
    t->kind = TARGET_CVEC;
    t->e = e;
    t->z = z;
    t->loaded = -2;
    /* layers in the original model's numbering; e may hold its top only */
    const int32_t off = e->layer_offset, n_layer = e->n_layer + off;
    if (il_start < 1 + off || il_end >= n_layer || il_start > il_end) {
        fprintf(stderr, "target: control-vector layers must lie in %d..%d\n", 1 + off,
                n_layer - 1);
        return -1;
    }
    t->il_start = il_start;
    t->il_end = il_end;
    const size_t len = (size_t)(n_layer - 1) * (size_t)e->n_embd;
    t->theta = calloc(len, sizeof *t->theta);
    t->point = calloc(len, sizeof *t->point);
    if (t->theta == NULL || t->point == NULL)
        return -1;
    t->numel = (int64_t)(il_end - il_start + 1) * e->n_embd;
    return param(z, "cvec", t->theta + (size_t)(il_start - 1) * (size_t)e->n_embd,
                 il_end - il_start + 1, e->n_embd, 0, &t->cvec_id);
}

/* An empty GGUF and a metadata-only ggml context for n tensor headers. */
static int gguf_begin(int64_t n, struct ggml_context **gctx, struct gguf_context **g)
{
    struct ggml_init_params ip = {(size_t)(n + 1) * ggml_tensor_overhead(), NULL, true};
    *gctx = ggml_init(ip);
    *g = gguf_init_empty();
    if (*gctx != NULL && *g != NULL)
        return 0;
    if (*g != NULL)
        gguf_free(*g);
    if (*gctx != NULL)
        ggml_free(*gctx);
    return -1;
}

/* The in-memory GGUF image of t's LoRA tensors (data left for the caller). */
static int lora_image(lm_target *t)
{
    struct ggml_context *gctx;
    struct gguf_context *g;
    if (gguf_begin(2 * t->n_lt, &gctx, &g) != 0)
        return -1;
    gguf_set_val_str(g, "general.type", "adapter");
    gguf_set_val_str(g, "general.architecture", "llama");
    gguf_set_val_str(g, "adapter.type", "lora");
    gguf_set_val_f32(g, "adapter.lora.alpha", t->alpha);
    char name[96];
    for (int32_t i = 0; i < t->n_lt; i++) {
        const lora_tensor *l = &t->lt[i];
        struct ggml_tensor *a = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, l->in, t->rank);
        struct ggml_tensor *b = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, t->rank, l->out);
        snprintf(name, sizeof name, "blk.%d.%s.weight.lora_a", (int)l->layer, l->module);
        ggml_set_name(a, name);
        snprintf(name, sizeof name, "blk.%d.%s.weight.lora_b", (int)l->layer, l->module);
        ggml_set_name(b, name);
        gguf_add_tensor(g, a);
        gguf_add_tensor(g, b);
    }
    const size_t meta = gguf_get_meta_size(g);
    size_t end = meta;
    for (int32_t i = 0; i < t->n_lt; i++) {
        lora_tensor *l = &t->lt[i];
        l->off_a = meta + gguf_get_tensor_offset(g, 2 * i);
        l->off_b = meta + gguf_get_tensor_offset(g, 2 * i + 1);
        end = l->off_b + sizeof(float) * (size_t)(t->rank * l->out);
    }
    t->data_off = meta;
    t->image_size = end;
    t->image = calloc(1, end);
    if (t->image != NULL)
        gguf_get_meta_data(g, t->image);
    gguf_free(g);
    ggml_free(gctx);
    return t->image == NULL ? -1 : 0;
}

int target_lora_init(lm_target *t, lm_engine *e, zoq_ctx *z, const char *model_path,
                     const char *modules, int32_t il_start, int32_t il_end, int32_t rank,
                     float alpha)
{
    memset(t, 0, sizeof *t);
    t->kind = TARGET_LORA;
    t->e = e;
    t->z = z;
    t->loaded = -2;
    t->rank = rank;
    t->alpha = alpha;
    t->il_start = il_start;
    t->il_end = il_end;
    if (il_start < 0 || il_end >= e->n_layer || il_start > il_end || rank < 1) {
        fprintf(stderr, "target: LoRA layers must lie in 0..%d, rank >= 1\n", e->n_layer - 1);
        return -1;
    }
    if (e->layer_offset != 0) { /* its GGUF names would be the top model's layers */
        fprintf(stderr, "target: LoRA on a model's top only (--cache-below) is not supported\n");
        return -1;
    }
    /* Projection shapes from the model file itself. */
    struct ggml_context *meta = NULL;
    struct gguf_init_params gp = {true, &meta};
    struct gguf_context *g = gguf_init_from_file(model_path, gp);
    if (g == NULL)
        return -1;
    char list[128], name[96];
    snprintf(list, sizeof list, "%s", modules);
    int32_t n_mod = 1;
    for (const char *c = list; *c; c++)
        n_mod += *c == ',';
    t->lt = calloc((size_t)(n_mod * (il_end - il_start + 1)), sizeof *t->lt);
    int rc = t->lt == NULL ? -1 : 0;
    for (char *save = NULL, *m = strtok_r(list, ",", &save); rc == 0 && m != NULL;
         m = strtok_r(NULL, ",", &save)) {
        static const char *const ok[] = {"attn_v", "attn_output", "ffn_gate", "ffn_up",
                                         "ffn_down"};
        int known = 0;
        for (size_t k = 0; k < sizeof ok / sizeof *ok; k++)
            known |= strcmp(m, ok[k]) == 0;
        if (!known) {
            /* attn_q/attn_k rows are RoPE-permuted in GGUF; their PEFT
             * export would need the inverse permutation. */
            fprintf(stderr, "target: LoRA module %s not supported (attn_v, attn_output, "
                            "ffn_gate, ffn_up, ffn_down)\n", m);
            rc = -1;
            break;
        }
        for (int32_t il = il_start; rc == 0 && il <= il_end; il++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", (int)il, m);
            const struct ggml_tensor *w = ggml_get_tensor(meta, name);
            if (w == NULL) {
                rc = -1;
                break;
            }
            lora_tensor *l = &t->lt[t->n_lt++];
            snprintf(l->module, sizeof l->module, "%s", m);
            l->layer = il;
            l->in = w->ne[0];
            l->out = w->ne[1];
            l->a = calloc((size_t)(rank * l->in), sizeof *l->a);
            l->b = calloc((size_t)(rank * l->out), sizeof *l->b);
            if (l->a == NULL || l->b == NULL) {
                rc = -1;
                break;
            }
            snprintf(name, sizeof name, "blk.%d.%s.lora_a", (int)il, m);
            rc = param(z, name, l->a, rank, l->in, ZOQ_PARAM_LORA_A, &l->id_a);
            if (rc == 0 && zoq_param_init_normal(z, l->id_a, 1.0 / sqrt((double)l->in)) != ZOQ_OK)
                rc = -1;
            snprintf(name, sizeof name, "blk.%d.%s.lora_b", (int)il, m);
            if (rc == 0)
                rc = param(z, name, l->b, l->out, rank, ZOQ_PARAM_LORA_B, &l->id_b);
            t->numel += (int64_t)rank * (l->in + l->out);
        }
    }
    gguf_free(g);
    ggml_free(meta);
    return rc == 0 ? lora_image(t) : -1;
}

int target_qzo_init(lm_target *t, lm_engine *e, zoq_ctx *z, const char *model_path,
                    const char *matrices, int32_t il_start, int32_t il_end)
{
    memset(t, 0, sizeof *t);
    t->kind = TARGET_QZO;
    t->e = e;
    t->z = z;
    t->loaded = -1; /* the engine holds θ */
    t->model_path = model_path;
    t->il_start = il_start;
    t->il_end = il_end;
    const int rc = qzo_init(&t->q, e, z, matrices, il_start, il_end);
    t->numel = t->q.numel;
    return rc;
}

void target_free(lm_target *t)
{
    if (t->kind == TARGET_QZO) {
        qzo_free(&t->q);
        memset(t, 0, sizeof *t);
        return;
    }
    if (t->e != NULL && t->e->ctx != NULL) {
        llama_set_adapter_cvec(t->e->ctx, NULL, 0, t->e->n_embd, 0, 0);
        llama_set_adapters_lora(t->e->ctx, NULL, 0, NULL);
    }
    llama_adapter_lora_free(t->adapter);
    for (int32_t i = 0; i < t->n_lt; i++) {
        free(t->lt[i].a);
        free(t->lt[i].b);
    }
    free(t->lt);
    free(t->image);
    free(t->theta);
    free(t->point);
    memset(t, 0, sizeof *t);
}

/* QZO's engine holds θ; other points exist only inside zoq_step. */
static int qzo_only_theta(const char *what)
{
    fprintf(stderr, "target: QZO moves the engine's scales in place (zoq_step); %s is not "
                    "available\n", what);
    return -1;
}

int target_use_base(lm_target *t)
{
    if (t->kind == TARGET_QZO)
        return qzo_only_theta("the base model");
    if (t->loaded == -2)
        return 0;
    if (t->kind == TARGET_CVEC)
        llama_set_adapter_cvec(t->e->ctx, NULL, 0, t->e->n_embd, 0, 0);
    else
        llama_set_adapters_lora(t->e->ctx, NULL, 0, NULL);
    t->loaded = -2;
    return 0;
}

/* Hands the image (whose data the caller filled) to llama.cpp as a file. */
static int lora_load(lm_target *t)
{
    FILE *f = fmemopen(t->image, t->image_size, "rb");
    if (f == NULL)
        return -1;
    struct llama_adapter_lora *ad = llama_adapter_lora_init_from_file_ptr(t->e->model, f);
    fclose(f);
    if (ad == NULL)
        return -1;
    float scale = 1.0f;
    if (llama_set_adapters_lora(t->e->ctx, &ad, 1, &scale) != 0) {
        llama_adapter_lora_free(ad);
        return -1;
    }
    llama_adapter_lora_free(t->adapter);
    t->adapter = ad;
    return 0;
}

/* data holds layer il (original numbering) at row il - 1; the engine's
 * layer il - layer_offset gets it. */
static int cvec_load(lm_target *t, const float *data)
{
    const int32_t off = t->e->layer_offset;
    const size_t len = (size_t)(t->e->n_layer - 1) * (size_t)t->e->n_embd;
    return llama_set_adapter_cvec(t->e->ctx, data + (size_t)off * (size_t)t->e->n_embd, len,
                                  t->e->n_embd, t->il_start - off, t->il_end - off) == 0
               ? 0
               : -1;
}

int target_use_theta(lm_target *t)
{
    if (t->loaded == -1)
        return 0;
    const double t0 = lm_seconds();
    int rc;
    if (t->kind == TARGET_CVEC) {
        rc = cvec_load(t, t->theta);
    } else {
        for (int32_t i = 0; i < t->n_lt; i++) {
            const lora_tensor *l = &t->lt[i];
            memcpy(t->image + l->off_a, l->a, sizeof(float) * (size_t)(t->rank * l->in));
            memcpy(t->image + l->off_b, l->b, sizeof(float) * (size_t)(t->rank * l->out));
        }
        rc = lora_load(t);
    }
    t->load_seconds += lm_seconds() - t0;
    t->n_loads++;
    t->loaded = rc == 0 ? -1 : -2;
    return rc;
}

int target_use_point(lm_target *t, int32_t point)
{
    if (t->kind == TARGET_QZO)
        return qzo_only_theta("an ask/tell point");
    uint64_t step;
    zoq_get_step(t->z, &step);
    if (t->loaded == point && t->loaded_step == step)
        return 0;
    const double t0 = lm_seconds();
    int rc = 0;
    if (t->kind == TARGET_CVEC) {
        float *dst = t->point + (size_t)(t->il_start - 1) * (size_t)t->e->n_embd;
        rc = zoq_materialize(t->z, point, t->cvec_id, dst) == ZOQ_OK ? cvec_load(t, t->point) : -1;
    } else {
        for (int32_t i = 0; rc == 0 && i < t->n_lt; i++) {
            const lora_tensor *l = &t->lt[i];
            if (zoq_materialize(t->z, point, l->id_a, t->image + l->off_a) != ZOQ_OK ||
                zoq_materialize(t->z, point, l->id_b, t->image + l->off_b) != ZOQ_OK)
                rc = -1;
        }
        if (rc == 0)
            rc = lora_load(t);
    }
    t->load_seconds += lm_seconds() - t0;
    t->n_loads++;
    t->loaded = rc == 0 ? point : -2;
    t->loaded_step = step;
    return rc;
}

/* ---- files ---------------------------------------------------------------- */

/* The Hugging Face module path of a GGUF LoRA tensor (SmolLM2 is a Llama). */
static void hf_module(const lora_tensor *l, char *out, size_t cap)
{
    static const char *const gguf[] = {"attn_v", "attn_output", "ffn_gate", "ffn_up",
                                       "ffn_down"};
    static const char *const hf[] = {"self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                                     "mlp.up_proj", "mlp.down_proj"};
    const char *m = l->module;
    for (size_t k = 0; k < sizeof gguf / sizeof *gguf; k++)
        if (strcmp(l->module, gguf[k]) == 0)
            m = hf[k];
    snprintf(out, cap, "model.layers.%d.%s", (int)l->layer, m);
}

/* The PEFT folder, through zoq's writer: A (r x in) and B (out x r) are
 * stored as they are, GGUF's row-major layout being PEFT's. */
static int peft_save(const lm_target *t, const char *dir)
{
    zoq_peft_module_t *m = calloc((size_t)t->n_lt, sizeof *m);
    char(*names)[64] = calloc((size_t)t->n_lt, sizeof *names);
    int rc = m == NULL || names == NULL ? -1 : 0;
    for (int32_t i = 0; rc == 0 && i < t->n_lt; i++) {
        const lora_tensor *l = &t->lt[i];
        hf_module(l, names[i], sizeof names[i]);
        m[i] = (zoq_peft_module_t){.size = sizeof m[i], .module = names[i], .rank = t->rank,
                                   .dtype = ZOQ_ST_F32, .in_features = l->in,
                                   .out_features = l->out, .alpha = t->alpha, .a = l->a,
                                   .b = l->b};
    }
    zoq_peft_config_t cfg = {.size = sizeof cfg,
                             .base_model = "HuggingFaceTB/SmolLM2-135M-Instruct"};
    char err[256];
    if (rc == 0 && zoq_peft_save(dir, &cfg, m, t->n_lt, err, sizeof err) != ZOQ_OK) {
        fprintf(stderr, "target: PEFT save: %s\n", err);
        rc = -1;
    }
    free(names);
    free(m);
    return rc;
}

/* Reads the PEFT folder back with zoq's reader: every factor equal to θ. */
static int peft_check(const lm_target *t, const char *dir)
{
    zoq_peft *p;
    char err[256], name[64];
    if (zoq_peft_open(dir, &p, err, sizeof err) != ZOQ_OK) {
        fprintf(stderr, "target: PEFT open: %s\n", err);
        return -1;
    }
    int rc = zoq_peft_count(p) == t->n_lt ? 0 : -1;
    for (int32_t i = 0; rc == 0 && i < t->n_lt; i++) {
        const lora_tensor *l = &t->lt[i];
        const size_t na = sizeof(float) * (size_t)(t->rank * l->in);
        const size_t nb = sizeof(float) * (size_t)(t->rank * l->out);
        float *a = malloc(na), *b = malloc(nb);
        int64_t k;
        hf_module(l, name, sizeof name);
        rc = a != NULL && b != NULL && zoq_peft_find(p, name, &k) == ZOQ_OK &&
                     zoq_peft_read(p, k, ZOQ_F32, a, na, b, nb) == ZOQ_OK &&
                     memcmp(a, l->a, na) == 0 && memcmp(b, l->b, nb) == 0
                 ? 0
                 : -1;
        free(a);
        free(b);
    }
    zoq_peft_free(p);
    return rc;
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    const int ok = fwrite(data, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int cvec_save(const lm_target *t, const char *path)
{
    const int32_t n_embd = t->e->n_embd;
    struct ggml_context *gctx;
    struct gguf_context *g;
    if (gguf_begin(t->e->n_layer, &gctx, &g) != 0)
        return -1;
    gguf_set_val_str(g, "general.architecture", "controlvector");
    gguf_set_val_str(g, "controlvector.model_hint", "llama");
    gguf_set_val_i32(g, "controlvector.layer_count", t->il_end - t->il_start + 1);
    char name[32];
    for (int32_t il = t->il_start; il <= t->il_end; il++) {
        struct ggml_tensor *d = ggml_new_tensor_1d(gctx, GGML_TYPE_F32, n_embd);
        snprintf(name, sizeof name, "direction.%d", (int)il);
        ggml_set_name(d, name);
        d->data = t->theta + (size_t)(il - 1) * (size_t)n_embd;
        gguf_add_tensor(g, d);
    }
    const int rc = gguf_write_to_file(g, path, false) ? 0 : -1;
    gguf_free(g);
    ggml_free(gctx);
    return rc;
}

int target_save(const lm_target *t, const char *dir)
{
    char path[512];
    mkdir(dir, 0755);
    if (t->kind == TARGET_QZO) {
        snprintf(path, sizeof path, "%s/model.gguf", dir);
        return lm_save_model(t->e, t->model_path, path);
    }
    if (t->kind == TARGET_CVEC) {
        snprintf(path, sizeof path, "%s/control_vector.gguf", dir);
        return cvec_save(t, path);
    }
    /* θ into a copy of the image, so the loaded adapter stays as it is */
    uint8_t *img = malloc(t->image_size);
    if (img == NULL)
        return -1;
    memcpy(img, t->image, t->data_off);
    memset(img + t->data_off, 0, t->image_size - t->data_off);
    for (int32_t i = 0; i < t->n_lt; i++) {
        const lora_tensor *l = &t->lt[i];
        memcpy(img + l->off_a, l->a, sizeof(float) * (size_t)(t->rank * l->in));
        memcpy(img + l->off_b, l->b, sizeof(float) * (size_t)(t->rank * l->out));
    }
    snprintf(path, sizeof path, "%s/adapter.gguf", dir);
    int rc = write_file(path, img, t->image_size);
    free(img);
    snprintf(path, sizeof path, "%s/peft", dir);
    return rc == 0 ? peft_save(t, path) : -1;
}

static int cvec_check(const lm_target *t, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/control_vector.gguf", dir);
    struct ggml_context *data = NULL;
    struct gguf_init_params gp = {false, &data};
    struct gguf_context *g = gguf_init_from_file(path, gp);
    if (g == NULL)
        return -1;
    int rc = 0;
    char name[32];
    for (int32_t il = t->il_start; rc == 0 && il <= t->il_end; il++) {
        snprintf(name, sizeof name, "direction.%d", (int)il);
        const struct ggml_tensor *d = ggml_get_tensor(data, name);
        rc = d != NULL && d->type == GGML_TYPE_F32 && d->ne[0] == t->e->n_embd &&
                     memcmp(d->data, t->theta + (size_t)(il - 1) * (size_t)t->e->n_embd,
                            sizeof(float) * (size_t)t->e->n_embd) == 0
                 ? 0
                 : -1;
    }
    gguf_free(g);
    ggml_free(data);
    return rc;
}

int target_check_saved(lm_target *t, const char *dir, const int64_t *seqs, int64_t n)
{
    if (t->kind == TARGET_CVEC)
        return cvec_check(t, dir);
    double *lp = malloc(sizeof *lp * (size_t)(4 * n));
    if (lp == NULL)
        return -1;
    double *tok = lp + n, *lp_file = lp + 2 * n, *tok_file = lp + 3 * n;
    int rc = target_use_theta(t) == 0 && lm_score(t->e, seqs, n, lp, tok) == 0 ? 0 : -1;
    char path[512];
    snprintf(path, sizeof path, "%s/adapter.gguf", dir);
    struct llama_adapter_lora *ad = rc == 0 ? llama_adapter_lora_init(t->e->model, path) : NULL;
    float scale = 1.0f;
    if (ad == NULL || llama_set_adapters_lora(t->e->ctx, &ad, 1, &scale) != 0 ||
        lm_score(t->e, seqs, n, lp_file, tok_file) != 0)
        rc = -1;
    for (int64_t k = 0; rc == 0 && k < n; k++)
        rc = lp[k] == lp_file[k] ? 0 : -1;
    llama_set_adapters_lora(t->e->ctx, NULL, 0, NULL);
    llama_adapter_lora_free(ad);
    t->loaded = -2;
    free(lp);
    snprintf(path, sizeof path, "%s/peft", dir);
    return rc == 0 ? peft_check(t, path) : -1;
}
