/* hidden.c - the truncated model and the hidden-state cache of hidden.h. */
#define _POSIX_C_SOURCE 200809L
#include "hidden.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ggml-backend.h>
#include <ggml.h>
#include <gguf.h>

/* ---- the truncated GGUF --------------------------------------------------- */

/* A tensor of src's type and shape named blk.<layer>.<rest> (or rest if layer
 * < 0) with data `data` (src's if NULL), added to dst. 0 or -1. */
static int add_tensor(struct ggml_context *meta, struct gguf_context *dst,
                      const struct ggml_tensor *src, int layer, const char *rest, void *data)
{
    struct ggml_tensor *t = ggml_dup_tensor(meta, src);
    if (t == NULL)
        return -1;
    char name[GGML_MAX_NAME];
    if (layer >= 0)
        snprintf(name, sizeof name, "blk.%d.%s", layer, rest);
    else
        snprintf(name, sizeof name, "%s", rest);
    ggml_set_name(t, name);
    t->data = data != NULL ? data : src->data;
    gguf_add_tensor(dst, t);
    return 0;
}

/* Writes the model of hidden.h for layers >= below to out. 0 or -1. */
static int write_top(const char *model_path, int32_t below, const char *out)
{
    struct ggml_context *data = NULL;
    struct gguf_init_params ip = {.no_alloc = false, .ctx = &data};
    struct gguf_context *src = gguf_init_from_file(model_path, ip);
    if (src == NULL)
        return -1;
    const int64_t arch = gguf_find_key(src, "general.architecture");
    char key[128];
    snprintf(key, sizeof key, "%s.block_count", arch >= 0 ? gguf_get_val_str(src, arch) : "");
    const int64_t bk = gguf_find_key(src, key);
    const int u32 = bk >= 0 && gguf_get_kv_type(src, bk) == GGUF_TYPE_UINT32;
    const int32_t n_layer = bk < 0 ? 0 : u32 ? (int32_t)gguf_get_val_u32(src, bk)
                                             : gguf_get_val_i32(src, bk);
    const int64_t nt = gguf_get_n_tensors(src);
    struct ggml_init_params mp = {(size_t)(2 * nt + 1) * ggml_tensor_overhead(), NULL, true};
    struct ggml_context *meta = ggml_init(mp);
    struct gguf_context *dst = gguf_init_empty();
    void *zeros[2] = {NULL, NULL};
    int n_zeros = 0;
    int rc = below >= 1 && below < n_layer && meta != NULL && dst != NULL ? 0 : -1;
    if (rc == 0) {
        gguf_set_kv(dst, src);
        if (u32)
            gguf_set_val_u32(dst, key, (uint32_t)(n_layer - below + 1));
        else
            gguf_set_val_i32(dst, key, n_layer - below + 1);
    }
    for (int64_t i = 0; rc == 0 && i < nt; i++) {
        const char *name = gguf_get_tensor_name(src, i);
        const struct ggml_tensor *t = ggml_get_tensor(data, name);
        int il = -1, at = 0;
        if (t == NULL) {
            rc = -1;
        } else if (sscanf(name, "blk.%d.%n", &il, &at) != 1 || at == 0) {
            rc = add_tensor(meta, dst, t, -1, name, NULL); /* embeddings, norm, head */
        } else if (il >= below) {
            rc = add_tensor(meta, dst, t, il - below + 1, name + at, NULL);
            /* the identity layer 0: layer `below` with its two output
             * projections zero (all-zero blocks are 0 in every ggml type) */
            const int zero = strcmp(name + at, "attn_output.weight") == 0 ||
                             strcmp(name + at, "ffn_down.weight") == 0;
            if (rc == 0 && il == below && zero && n_zeros < 2)
                zeros[n_zeros] = calloc(1, ggml_nbytes(t));
            if (rc == 0 && il == below)
                rc = zero && (n_zeros == 2 || zeros[n_zeros] == NULL)
                         ? -1
                         : add_tensor(meta, dst, t, 0, name + at, zero ? zeros[n_zeros++] : NULL);
        }
    }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    if (rc == 0 && strlen(out) < 1024 && (!gguf_write_to_file(dst, tmp, false) || rename(tmp, out) != 0))
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "hidden: cannot write %s from %s (layers >= %d of %d)\n", out,
                model_path, (int)below, (int)n_layer);
    free(zeros[0]);
    free(zeros[1]);
    if (dst != NULL)
        gguf_free(dst);
    if (meta != NULL)
        ggml_free(meta);
    gguf_free(src);
    ggml_free(data);
    return rc;
}

/* ---- capture -------------------------------------------------------------- */

/* The eval callback: copies tensor `name` of the decode into dst. */
typedef struct capture {
    char name[32];
    float *dst;
    int64_t n_embd, cap_tokens, got;
} capture;

static bool on_tensor(struct ggml_tensor *t, bool ask, void *user)
{
    capture *c = user;
    if (strcmp(t->name, c->name) != 0)
        return !ask; /* not wanted; and computing goes on */
    if (ask)
        return true;
    if (t->type == GGML_TYPE_F32 && t->ne[0] == c->n_embd && t->ne[1] <= c->cap_tokens &&
        ggml_is_contiguous(t)) {
        ggml_backend_tensor_get(t, c->dst, 0, ggml_nbytes(t));
        c->got = t->ne[1];
    }
    return true;
}

typedef struct capturer {
    struct llama_context *ctx;
    struct llama_batch batch;
    capture c;
} capturer;

static void capturer_free(capturer *k)
{
    if (k->batch.token != NULL)
        llama_batch_free(k->batch);
    if (k->ctx != NULL)
        llama_free(k->ctx);
    free(k->c.dst);
}

/* A context on full's model that copies the states entering layer below. */
static int capturer_init(capturer *k, const lm_engine *full, int32_t below, int n_threads)
{
    memset(k, 0, sizeof *k);
    snprintf(k->c.name, sizeof k->c.name, "l_out-%d", (int)(below - 1));
    k->c.n_embd = full->n_embd;
    k->c.cap_tokens = full->max_tokens;
    k->c.dst = malloc(sizeof *k->c.dst * (size_t)full->max_tokens * (size_t)full->n_embd);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)full->max_tokens;
    cp.n_seq_max = (uint32_t)full->max_seqs;
    cp.kv_unified = true;
    cp.n_threads = cp.n_threads_batch = n_threads;
    cp.no_perf = true;
    cp.cb_eval = on_tensor;
    cp.cb_eval_user_data = &k->c;
    /* full's kernels: the states are those full's decodes compute */
    k->ctx = k->c.dst != NULL ? lm_context(full->model, cp, full->flags) : NULL;
    k->batch = llama_batch_init(full->max_tokens, 0, 2);
    return k->ctx != NULL ? 0 : -1;
}

/* Input rows of pair p: its prompt and both completions but their last tokens. */
static int32_t pair_rows(const lm_pair *p)
{
    return p->n_prompt + p->n_comp[0] - 1 + p->n_comp[1] - 1;
}

static void put(struct llama_batch *b, llama_token tok, llama_pos pos, llama_seq_id s0,
                llama_seq_id s1, int out)
{
    const int32_t i = b->n_tokens++;
    b->token[i] = tok;
    b->pos[i] = pos;
    b->n_seq_id[i] = s1 < 0 ? 1 : 2;
    b->seq_id[i][0] = s0;
    if (s1 >= 0)
        b->seq_id[i][1] = s1;
    b->logits[i] = (int8_t)out;
}

/* Decodes pairs [i0, i1) of full in one batch (pair rows one after the
 * other, in the order of engine.h's cache) and stores their rows. */
static int capture_chunk(lm_hidden *h, capturer *k, const lm_engine *full, size_t i0, size_t i1)
{
    struct llama_batch *b = &k->batch;
    b->n_tokens = 0;
    for (size_t i = i0; i < i1; i++) {
        const lm_pair *p = &full->pairs[i];
        const llama_seq_id s0 = (llama_seq_id)(2 * (i - i0)), s1 = s0 + 1;
        for (int32_t t = 0; t < p->n_prompt; t++)
            put(b, p->prompt[t], t, s0, s1, t == p->n_prompt - 1);
        for (int side = 0; side < 2; side++)
            for (int32_t t = 0; t + 1 < p->n_comp[side]; t++)
                put(b, p->comp[side][t], p->n_prompt + t, side ? s1 : s0, -1, 0);
    }
    llama_memory_clear(llama_get_memory(k->ctx), false);
    k->c.got = 0;
    const double t0 = lm_seconds();
    if (llama_decode(k->ctx, *b) != 0 || k->c.got != b->n_tokens) {
        fprintf(stderr, "hidden: capturing %s of %d tokens failed\n", k->c.name,
                (int)b->n_tokens);
        return -1;
    }
    h->capture_seconds += lm_seconds() - t0;
    h->capture_tokens += b->n_tokens;
    int64_t row = 0;
    for (size_t i = i0; i < i1; i++) {
        const size_t n = (size_t)pair_rows(&full->pairs[i]) * (size_t)full->n_embd;
        free(h->rows[i]);
        h->rows[i] = malloc(sizeof **h->rows * n);
        if (h->rows[i] == NULL)
            return -1;
        memcpy(h->rows[i], k->c.dst + row * full->n_embd, sizeof **h->rows * n);
        row += pair_rows(&full->pairs[i]);
        h->n_captured++;
    }
    return 0;
}

int hidden_capture(lm_hidden *h, lm_engine *full, size_t first, size_t n)
{
    if (first + n > full->n_pairs)
        return -1;
    if (h->n_rows < full->n_pairs) {
        float **r = realloc(h->rows, sizeof *r * full->n_pairs);
        if (r == NULL)
            return -1;
        memset(r + h->n_rows, 0, sizeof *r * (full->n_pairs - h->n_rows));
        h->rows = r;
        h->n_rows = full->n_pairs;
    }
    capturer k;
    int rc = capturer_init(&k, full, h->below, llama_n_threads(full->ctx));
    for (size_t i = first; rc == 0 && i < first + n;) {
        size_t j = i;
        int32_t tokens = 0;
        while (j < first + n && 2 * (int32_t)(j - i + 1) <= full->max_seqs &&
               tokens + pair_rows(&full->pairs[j]) <= full->max_tokens)
            tokens += pair_rows(&full->pairs[j++]);
        rc = j == i ? -1 : capture_chunk(h, &k, full, i, j);
        i = j;
    }
    capturer_free(&k);
    h->top.pairs = full->pairs; /* borrowed: hidden_close hands them back */
    h->top.n_pairs = full->n_pairs;
    h->top.hidden = (const float *const *)h->rows;
    return rc;
}

int hidden_open(lm_hidden *h, const lm_engine *full, const char *model_path, int32_t below,
                int n_threads)
{
    memset(h, 0, sizeof *h);
    h->below = below;
    if (below < 1 || below >= full->n_layer) {
        fprintf(stderr, "hidden: --cache-below must lie in 1..%d\n", full->n_layer - 1);
        return -1;
    }
    char path[1024];
    const size_t len = strlen(model_path);
    const int ext = len > 5 && strcmp(model_path + len - 5, ".gguf") == 0;
    snprintf(path, sizeof path, "%.*s.top-%d.gguf", (int)(ext ? len - 5 : len), model_path,
             (int)below);
    struct stat sm, st;
    if ((stat(path, &st) != 0 || stat(model_path, &sm) != 0 || st.st_mtime < sm.st_mtime) &&
        write_top(model_path, below, path) != 0)
        return -1;
    if (lm_open_weights(&h->top, path, n_threads, full->max_tokens, full->max_seqs,
                        full->flags & ~LM_WRITABLE) != 0)
        return -1;
    llama_batch_free(h->top.batch);
    h->top.batch = llama_batch_init(full->max_tokens, full->n_embd, 2);
    h->top.layer_offset = below - 1;
    if (h->top.n_layer != full->n_layer - below + 1 || h->top.n_vocab != full->n_vocab) {
        fprintf(stderr, "hidden: %s is not the top of the model (%d layers)\n", path,
                (int)h->top.n_layer);
        hidden_close(h);
        return -1;
    }
    return 0;
}

void hidden_close(lm_hidden *h)
{
    h->top.pairs = NULL; /* the full engine's */
    h->top.n_pairs = 0;
    if (h->top.ctx != NULL || h->top.model != NULL)
        lm_close(&h->top);
    for (size_t i = 0; i < h->n_rows; i++)
        free(h->rows[i]);
    free(h->rows);
    memset(h, 0, sizeof *h);
}

/* ---- the --quick check ---------------------------------------------------- */

/* A control vector on layers [a, b] (original numbering) of engine e. */
static void set_cvec(lm_engine *e, const float *data, int32_t a, int32_t b)
{
    const int32_t off = e->layer_offset;
    if (data == NULL) {
        llama_set_adapter_cvec(e->ctx, NULL, 0, e->n_embd, 0, 0);
        return;
    }
    llama_set_adapter_cvec(e->ctx, data + (size_t)off * (size_t)e->n_embd,
                           (size_t)(e->n_layer - 1) * (size_t)e->n_embd, e->n_embd, a - off,
                           b - off);
}

/* Largest |difference| of the logits rows both engines computed last (their
 * batches are laid out alike), relative to max(1, |logit|). */
static double logits_diff(const lm_engine *a, const lm_engine *b)
{
    double worst = 0.0;
    for (int32_t i = 0; i < a->batch.n_tokens; i++) {
        if (!a->batch.logits[i])
            continue;
        const float *x = llama_get_logits_ith(a->ctx, i), *y = llama_get_logits_ith(b->ctx, i);
        for (int32_t v = 0; x != NULL && y != NULL && v < a->n_vocab; v++)
            worst = fmax(worst, fabs((double)x[v] - y[v]) / fmax(1.0, fabs((double)x[v])));
        if (x == NULL || y == NULL)
            return INFINITY;
    }
    return worst;
}

int hidden_check(lm_engine *full, const char *model_path, int32_t below, size_t first, size_t n)
{
    lm_hidden h;
    memset(&h, 0, sizeof h);
    const size_t len = (size_t)(full->n_layer - 1) * (size_t)full->n_embd;
    int64_t *seqs = malloc(sizeof *seqs * 2 * n);
    double *lp = malloc(sizeof *lp * 8 * n), *tok = lp + 6 * n;
    float *cvec = calloc(len, sizeof *cvec);
    int rc = seqs == NULL || lp == NULL || cvec == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < 2 * n; i++)
        seqs[i] = 2 * (int64_t)first + (int64_t)i;
    for (size_t i = 0; cvec != NULL && i < len; i++)
        cvec[i] = 0.05f * sinf(0.37f * (float)i);
    if (rc == 0 && (hidden_open(&h, full, model_path, below, llama_n_threads(full->ctx)) != 0 ||
                    hidden_capture(&h, full, first, n) != 0))
        rc = -1;
    double moved = 0.0;
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        const float *v = pass ? cvec : NULL;
        double *a = lp + 2 * n * (size_t)pass, *b = lp + 4 * n;
        set_cvec(full, v, below, below + 2);
        set_cvec(&h.top, v, below, below + 2);
        if (lm_score(full, seqs, (int64_t)(2 * n), a, tok) != 0 ||
            lm_score(&h.top, seqs, (int64_t)(2 * n), b, tok) != 0) {
            rc = -1;
            break;
        }
        const double dl = logits_diff(full, &h.top);
        double worst = 0.0;
        for (size_t i = 0; i < 2 * n; i++) {
            worst = fmax(worst, fabs(a[i] - b[i]) / fmax(1.0, fabs(a[i])));
            if (pass)
                moved = fmax(moved, fabs(a[i] - lp[i]));
        }
        printf("check: top of the model from layer %d on cached states%s: %zu label-word "
               "log-probs, max rel. diff %.2e; logits max rel. diff %.2e\n",
               (int)below, pass ? " (control vector on 3 layers)" : "", 2 * n, worst, dl);
        if (!(worst <= 1e-4) || !(dl <= 1e-4))
            rc = -1;
    }
    if (rc == 0 && !(moved > 1e-3)) {
        fprintf(stderr, "hidden check: the control vector changed nothing\n");
        rc = -1;
    }
    set_cvec(full, NULL, 0, 0);
    if (h.top.ctx != NULL)
        hidden_close(&h);
    free(seqs);
    free(lp);
    free(cvec);
    if (rc != 0)
        fprintf(stderr, "hidden check: the truncated model differs from the full one\n");
    return rc;
}
