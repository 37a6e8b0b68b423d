/* engine.h - llama.cpp as a preference scorer for zoq (examples/llama).
 *
 * Holds a model and one context with a unified KV cache, and scores many
 * (prompt, completion) sequences in one llama_decode: each pair's prompt is
 * decoded once, its tokens tagged with the sequence ids of both completions
 * (llama.cpp's in-batch form of llama_memory_seq_cp: the prompt's KV cells
 * belong to both sequences), logits are requested only where a completion
 * token is predicted, and log-softmax runs on those rows only.
 * docs/integrations/llama.md explains the layout. */
#ifndef ZOQ_EXAMPLES_LLAMA_ENGINE_H
#define ZOQ_EXAMPLES_LLAMA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <llama.h>

/* One preference pair, tokenized: prompt (with BOS if the vocab adds one),
 * then the chosen (side 0) and rejected (side 1) completions. Owned by the
 * engine's pair table. */
typedef struct lm_pair {
    llama_token *prompt;
    int32_t n_prompt;
    llama_token *comp[2];
    int32_t n_comp[2];
} lm_pair;

typedef struct lm_engine {
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    int32_t n_vocab, n_embd, n_layer;
    int32_t max_tokens;       /* tokens one decode holds (n_ctx = n_batch = n_ubatch) */
    int32_t max_seqs;         /* sequences one decode holds (n_seq_max) */
    int flags;                /* of lm_open_weights */
    struct llama_batch batch; /* max_tokens tokens, up to 2 sequence ids each */
    lm_pair *pairs;
    size_t n_pairs;
    int parse_special;        /* lm_add_pairs reads <|im_start|> etc. as special tokens */
    int all_logits;           /* lm_score asks for logits at every token (the throughput
                                 comparison of zoq_llama speed; off: only where scored) */
    /* A model holding the top of another (hidden.h): its layer il is the
     * other's il + layer_offset (0 for a whole model), and lm_score feeds it
     * hidden[pair]: the cached states entering its layers, one n_embd row
     * per input token (prompt, then side 0's completion but its last
     * token, then side 1's), through llama_batch.embd instead of tokens. */
    int32_t layer_offset;
    const float *const *hidden;
    /* counters, for the report and for the one-decode-per-evaluation check */
    int64_t n_decodes, n_tokens_decoded, n_score_calls;
    double decode_seconds;
} lm_engine;

/* Flags of lm_open_weights. By default a sequence scores the same in any
 * batch: flash attention on, and ggml-cpu's reference kernels
 * (ggml_backend_cpu_set_use_ref), whose attention walks each query row's
 * KV cells one by one in order, skipping masked ones, whatever the batch.
 * The other two settings exist to measure what that costs and buys
 * (zoq_llama invariance, docs/integrations/llama.md). */
enum {
    LM_WRITABLE = 1,      /* weights in plain host buffers (no mmap, no repacked
                             extra buffer types), in the file's own block layout,
                             so that they can be changed in place (QZO: qzo.h) */
    LM_FAST_KERNELS = 2,  /* ggml-cpu's own kernel choice: a tiled flash attention
                             (F32 instead of F16 accumulation) at >= 64 query
                             rows, so scores depend on the batch */
    LM_NO_FLASH_ATTN = 4  /* attention as soft_max(K Q) V: its sums group KV cells
                             by their index, so scores depend on where a sequence's
                             cells lie in the cache */
};

/* Loads the GGUF at path on the CPU with n_threads threads; one decode holds
 * max_tokens tokens of max_seqs sequences. 0 or -1 (message on stderr). */
int lm_open(lm_engine *e, const char *path, int n_threads, int32_t max_tokens,
            int32_t max_seqs);
/* lm_open with flags (LM_*, or-ed). */
int lm_open_weights(lm_engine *e, const char *path, int n_threads, int32_t max_tokens,
                    int32_t max_seqs, int flags);
/* A context on model from cp with the attention and kernels of flags (the
 * engine's own and hidden.h's capture use it), NULL on failure. */
struct llama_context *lm_context(struct llama_model *model, struct llama_context_params cp,
                                 int flags);
void lm_close(lm_engine *e);

/* Seconds on the monotonic clock, and CPU seconds of the process (with one
 * thread, what a decode costs however loaded the machine is). */
double lm_seconds(void);
double lm_cpu_seconds(void);

/* The CPU features ggml's CPU backend was built with and uses, as names
 * ("AVX2 F16C FMA AVX512 ..."; the "= 1" entries of its feature list): what
 * a crash report needs (an AMX build on a VM without AMX state faults).
 * Call after lm_open; out is always terminated. */
void lm_cpu_features(char *out, size_t cap);

/* Tokenizes n pairs of texts: the prompt keeps its last max_prompt tokens
 * (BOS first when the vocab adds one), each completion its first
 * max_completion tokens (at least one). 0 or -1. */
int lm_add_pairs(lm_engine *e, const char *const *prompts, const char *const *chosen,
                 const char *const *rejected, size_t n, int32_t max_prompt,
                 int32_t max_completion);

/* Tokens a decode needs for sequence ids seqs[0..n) (id s = side s % 2 of
 * pair s / 2), each pair's prompt counted once. */
int64_t lm_tokens_needed(const lm_engine *e, const int64_t *seqs, int64_t n);

/* The scorer: summed completion log-probs and completion token counts of the
 * n sequence ids, with whatever adapters are set on e->ctx. One llama_decode
 * when the sequences fit (lm_tokens_needed <= max_tokens, at most max_seqs of
 * them); more, in order, when they do not. 0 or -1. */
int lm_score(lm_engine *e, const int64_t *seqs, int64_t n, double *logps, double *tokens);

/* Independent reference for the checks: the summed completion log-prob of
 * sequence id seq, from its own decodes: the prompt in sequence 0, copied to
 * sequence 1 with llama_memory_seq_cp, the completion decoded in sequence 1
 * with logits at every position, log-softmax over the whole vocabulary in
 * double. 0 or -1. */
int lm_reference_logp(lm_engine *e, int64_t seq, double *logp);

#endif
