/* engine.c - the llama.cpp scorer of engine.h. */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ggml-backend.h>

#include "model_tensor.h"

double lm_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* llama.cpp logs every tensor it loads; keep its errors only. */
static void log_errors_only(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

double lm_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lm_cpu_features(char *out, size_t cap)
{
    size_t used = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
    void *sym = cpu ? ggml_backend_reg_get_proc_address(cpu, "ggml_backend_get_features") : NULL;
    ggml_backend_get_features_t get = NULL;
    _Static_assert(sizeof get == sizeof sym, "function and object pointers differ in size");
    if (sym != NULL)
        memcpy(&get, &sym, sizeof get); /* ISO C has no cast between the two */
    for (const struct ggml_backend_feature *f = get ? get(cpu) : NULL; f && f->name; f++) {
        if (strcmp(f->value, "1") != 0)
            continue;
        int w = snprintf(out + used, cap - used, "%s%s", used ? " " : "", f->name);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

int lm_open(lm_engine *e, const char *path, int n_threads, int32_t max_tokens,
            int32_t max_seqs)
{
    return lm_open_weights(e, path, n_threads, max_tokens, max_seqs, 0);
}

struct llama_context *lm_context(struct llama_model *model, struct llama_context_params cp,
                                 int flags)
{
    cp.flash_attn_type = flags & LM_NO_FLASH_ATTN ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                                                  : LLAMA_FLASH_ATTN_TYPE_ENABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (ctx != NULL && !(flags & LM_FAST_KERNELS) && lm_context_use_ref(ctx) < 1) {
        fprintf(stderr, "engine: no CPU backend to set to its reference kernels\n");
        llama_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

int lm_open_weights(lm_engine *e, const char *path, int n_threads, int32_t max_tokens,
                    int32_t max_seqs, int flags)
{
    memset(e, 0, sizeof *e);
    if (max_tokens < 16 || max_seqs < 2 || max_seqs > 256) {
        fprintf(stderr, "engine: max_tokens >= 16 and 2 <= max_seqs <= 256\n");
        return -1;
    }
    llama_log_set(log_errors_only, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    if (flags & LM_WRITABLE) {
        mp.load_mode = LLAMA_LOAD_MODE_NONE;
        mp.lazy_mode = LLAMA_LAZY_MODE_OFF;
        mp.use_extra_bufts = false;
    }
    e->model = llama_model_load_from_file(path, mp);
    if (e->model == NULL) {
        fprintf(stderr, "engine: cannot load %s (run make llm-deps)\n", path);
        return -1;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)max_tokens;
    cp.n_seq_max = (uint32_t)max_seqs;
    cp.kv_unified = true; /* prompt cells shared by the two completions of a pair */
    cp.n_threads = cp.n_threads_batch = n_threads;
    cp.no_perf = true;
    e->ctx = lm_context(e->model, cp, flags);
    if (e->ctx == NULL) {
        fprintf(stderr, "engine: cannot create a context of %d tokens\n", max_tokens);
        lm_close(e);
        return -1;
    }
    e->vocab = llama_model_get_vocab(e->model);
    e->n_vocab = llama_vocab_n_tokens(e->vocab);
    e->n_embd = llama_model_n_embd(e->model);
    e->n_layer = llama_model_n_layer(e->model);
    e->max_tokens = max_tokens;
    e->max_seqs = max_seqs;
    e->flags = flags;
    e->batch = llama_batch_init(max_tokens, 0, 2);
    return 0;
}

void lm_close(lm_engine *e)
{
    for (size_t i = 0; i < e->n_pairs; i++) {
        free(e->pairs[i].prompt);
        free(e->pairs[i].comp[0]);
        free(e->pairs[i].comp[1]);
    }
    free(e->pairs);
    if (e->batch.token != NULL || e->batch.embd != NULL) /* a batch of states has no tokens */
        llama_batch_free(e->batch);
    if (e->ctx != NULL)
        llama_free(e->ctx);
    if (e->model != NULL)
        llama_model_free(e->model);
    memset(e, 0, sizeof *e);
}

/* Tokens of text into a new array (special tokens parsed if e->parse_special). */
static int tokenize(const lm_engine *e, const char *text, llama_token **out, int32_t *n)
{
    const int32_t len = (int32_t)strlen(text);
    int32_t need = -llama_tokenize(e->vocab, text, len, NULL, 0, false, e->parse_special != 0);
    if (need < 0)
        need = 0;
    *out = malloc(sizeof **out * (size_t)(need + 1));
    if (*out == NULL)
        return -1;
    *n = llama_tokenize(e->vocab, text, len, *out, need + 1, false, e->parse_special != 0);
    return *n < 0 ? -1 : 0;
}

int lm_add_pairs(lm_engine *e, const char *const *prompts, const char *const *chosen,
                 const char *const *rejected, size_t n, int32_t max_prompt,
                 int32_t max_completion)
{
    lm_pair *p = realloc(e->pairs, sizeof *p * (e->n_pairs + n));
    if (p == NULL || max_prompt < 2 || max_completion < 1)
        return -1;
    e->pairs = p;
    const int bos = llama_vocab_get_add_bos(e->vocab);
    for (size_t i = 0; i < n; i++) {
        lm_pair *q = &e->pairs[e->n_pairs];
        memset(q, 0, sizeof *q);
        llama_token *t;
        int32_t nt;
        if (tokenize(e, prompts[i], &t, &nt) != 0 || nt == 0) {
            free(t);
            return -1;
        }
        const int32_t keep = nt < max_prompt - bos ? nt : max_prompt - bos;
        q->prompt = malloc(sizeof *q->prompt * (size_t)(keep + bos));
        if (q->prompt == NULL) {
            free(t);
            return -1;
        }
        if (bos)
            q->prompt[0] = llama_vocab_bos(e->vocab);
        memcpy(q->prompt + bos, t + (nt - keep), sizeof *t * (size_t)keep);
        q->n_prompt = keep + bos;
        free(t);
        e->n_pairs++; /* owned from here: lm_close frees what is set */
        const char *comp[2] = {chosen[i], rejected[i]};
        for (int s = 0; s < 2; s++) {
            if (tokenize(e, comp[s], &q->comp[s], &q->n_comp[s]) != 0 || q->n_comp[s] == 0)
                return -1;
            if (q->n_comp[s] > max_completion)
                q->n_comp[s] = max_completion;
        }
    }
    return 0;
}

int64_t lm_tokens_needed(const lm_engine *e, const int64_t *seqs, int64_t n)
{
    int64_t t = 0;
    for (int64_t j = 0; j < n; j++) {
        const lm_pair *p = &e->pairs[seqs[j] / 2];
        int first = 1; /* the prompt counts once per pair */
        for (int64_t k = 0; k < j; k++)
            first &= seqs[k] / 2 != seqs[j] / 2;
        t += (first ? p->n_prompt : 0) + p->n_comp[seqs[j] % 2] - 1;
    }
    return t;
}

/* log softmax(row)[tok]: max-shifted, float exponentials summed in double. */
static double row_logprob(const float *row, int32_t n, llama_token tok)
{
    float mx = row[0];
    for (int32_t i = 1; i < n; i++)
        mx = row[i] > mx ? row[i] : mx;
    double s = 0.0;
    for (int32_t i = 0; i < n; i++)
        s += expf(row[i] - mx);
    return (double)row[tok] - (double)mx - log(s);
}

/* Token tok (row, n_embd floats, instead if the batch takes embeddings). */
static void batch_add(struct llama_batch *b, llama_token tok, const float *row, int32_t n_embd,
                      llama_pos pos, llama_seq_id seq, int out)
{
    const int32_t i = b->n_tokens++;
    if (b->embd != NULL)
        memcpy(b->embd + (size_t)i * (size_t)n_embd, row, sizeof *row * (size_t)n_embd);
    else
        b->token[i] = tok;
    b->pos[i] = pos;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = (int8_t)out;
}

static int decode(lm_engine *e)
{
    llama_memory_clear(llama_get_memory(e->ctx), false);
    const double t0 = lm_seconds();
    const int32_t rc = llama_decode(e->ctx, e->batch);
    e->decode_seconds += lm_seconds() - t0;
    e->n_decodes++;
    e->n_tokens_decoded += e->batch.n_tokens;
    if (rc != 0)
        fprintf(stderr, "engine: llama_decode returned %d\n", (int)rc);
    return rc == 0 ? 0 : -1;
}

/* The cached input row of token t of pair p's prompt (side < 0) or of its
 * completion `side` (e->hidden, engine.h); NULL when tokens are fed. */
static const float *hidden_row(const lm_engine *e, size_t p, int side, int32_t t)
{
    if (e->hidden == NULL)
        return NULL;
    const lm_pair *q = &e->pairs[p];
    const int32_t r = side < 0 ? t : q->n_prompt + (side == 1 ? q->n_comp[0] - 1 : 0) + t;
    return e->hidden[p] + (size_t)r * (size_t)e->n_embd;
}

/* Where sequence seqs[j] of a chunk lives in the batch. */
typedef struct slot {
    int32_t last_prompt; /* batch index of the pair's last prompt token */
    int32_t comp_start;  /* batch index of the completion's first token */
} slot;

int lm_score(lm_engine *e, const int64_t *seqs, int64_t n, double *logps, double *tokens)
{
    e->n_score_calls++;
    slot *sl = malloc(sizeof *sl * (size_t)(n > 0 ? n : 1));
    if (sl == NULL)
        return -1;
    struct llama_batch *b = &e->batch;
    int64_t k = 0;
    int rc = 0;
    while (rc == 0 && k < n) {
        /* Fill one decode from seqs[k..]; a pair seen before in this chunk
         * only adds its completion and tags its prompt with the new id. */
        b->n_tokens = 0;
        int64_t j = k;
        for (; j < n; j++) {
            const int64_t s = seqs[j];
            if (s < 0 || (size_t)(s / 2) >= e->n_pairs ||
                (e->hidden != NULL && e->hidden[s / 2] == NULL)) {
                rc = -1;
                break;
            }
            const lm_pair *p = &e->pairs[s / 2];
            const int side = (int)(s % 2);
            int64_t twin = -1;
            for (int64_t m = k; m < j; m++)
                if (seqs[m] / 2 == s / 2)
                    twin = m;
            const int32_t need = (twin < 0 ? p->n_prompt : 0) + p->n_comp[side] - 1;
            if (b->n_tokens + need > e->max_tokens || j - k >= e->max_seqs)
                break;
            const llama_seq_id id = (llama_seq_id)(j - k);
            if (twin < 0) {
                sl[j].last_prompt = b->n_tokens + p->n_prompt - 1;
                for (int32_t t = 0; t < p->n_prompt; t++)
                    batch_add(b, p->prompt[t], hidden_row(e, (size_t)(s / 2), -1, t), e->n_embd,
                              t, id, e->all_logits || t == p->n_prompt - 1);
            } else {
                sl[j].last_prompt = sl[twin].last_prompt;
                const int32_t p0 = sl[j].last_prompt - (p->n_prompt - 1);
                for (int32_t t = p0; t <= sl[j].last_prompt; t++)
                    b->seq_id[t][b->n_seq_id[t]++] = id;
            }
            sl[j].comp_start = b->n_tokens;
            /* c_t predicts c_{t+1}; the last completion token is never input. */
            for (int32_t t = 0; t + 1 < p->n_comp[side]; t++)
                batch_add(b, p->comp[side][t], hidden_row(e, (size_t)(s / 2), side, t),
                          e->n_embd, p->n_prompt + t, id, 1);
        }
        if (rc != 0)
            break;
        if (j == k) {
            fprintf(stderr, "engine: sequence %lld does not fit in %d tokens\n",
                    (long long)seqs[k], (int)e->max_tokens);
            rc = -1;
            break;
        }
        if ((rc = decode(e)) != 0)
            break;
        for (int64_t m = k; m < j; m++) {
            const lm_pair *p = &e->pairs[seqs[m] / 2];
            const int side = (int)(seqs[m] % 2);
            double lp = 0.0;
            for (int32_t t = 0; t < p->n_comp[side]; t++) {
                const int32_t row = t == 0 ? sl[m].last_prompt : sl[m].comp_start + t - 1;
                lp += row_logprob(llama_get_logits_ith(e->ctx, row), e->n_vocab,
                                  p->comp[side][t]);
            }
            logps[m] = lp;
            tokens[m] = p->n_comp[side];
        }
        k = j;
    }
    free(sl);
    return rc;
}

/* Full log-softmax in double: the reference's own arithmetic. */
static double row_logprob_ref(const float *row, int32_t n, llama_token tok)
{
    double mx = row[0], s = 0.0;
    for (int32_t i = 1; i < n; i++)
        mx = row[i] > mx ? row[i] : mx;
    for (int32_t i = 0; i < n; i++)
        s += exp((double)row[i] - mx);
    return (double)row[tok] - mx - log(s);
}

int lm_reference_logp(lm_engine *e, int64_t seq, double *logp)
{
    if (seq < 0 || (size_t)(seq / 2) >= e->n_pairs || e->hidden != NULL)
        return -1;
    const lm_pair *p = &e->pairs[seq / 2];
    const int side = (int)(seq % 2);
    struct llama_batch *b = &e->batch;
    b->n_tokens = 0;
    for (int32_t t = 0; t < p->n_prompt; t++)
        batch_add(b, p->prompt[t], NULL, 0, t, 0, 1); /* logits everywhere; the last is used */
    if (decode(e) != 0)
        return -1;
    double lp = row_logprob_ref(llama_get_logits_ith(e->ctx, p->n_prompt - 1), e->n_vocab,
                                p->comp[side][0]);
    if (p->n_comp[side] > 1) {
        /* keep the prompt's cells: a second decode continues from them */
        llama_memory_t mem = llama_get_memory(e->ctx);
        llama_memory_seq_cp(mem, 0, 1, -1, -1);
        b->n_tokens = 0;
        for (int32_t t = 0; t + 1 < p->n_comp[side]; t++)
            batch_add(b, p->comp[side][t], NULL, 0, p->n_prompt + t, 1, 1);
        const int32_t rc = llama_decode(e->ctx, *b);
        e->n_decodes++;
        if (rc != 0)
            return -1;
        for (int32_t t = 1; t < p->n_comp[side]; t++)
            lp += row_logprob_ref(llama_get_logits_ith(e->ctx, t - 1), e->n_vocab,
                                  p->comp[side][t]);
    }
    *logp = lp;
    return 0;
}
