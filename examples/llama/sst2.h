/* sst2.h - labelled sentences for the classification task of examples/llama:
 * reads `sentence<TAB>label` TSV files (gzip'd or plain, an optional header
 * line `sentence<TAB>label`), and draws the SST-2 protocol of
 * docs/integrations/llama.md from the GLUE training split: a dev split of
 * full sentences and k examples per class, disjoint from it. */
#ifndef ZOQ_EXAMPLES_LLAMA_SST2_H
#define ZOQ_EXAMPLES_LLAMA_SST2_H

#include <stddef.h>
#include <stdint.h>

#include "classify.h"

typedef struct sst2_set {
    char **text;     /* NUL-terminated sentences, owned */
    int32_t *label;  /* 0 or 1 */
    size_t n;
} sst2_set;

/* Reads every row of path into *out (free with sst2_free). On error *out is
 * empty and, if line is not NULL, *line is the 1-based failing line. 0 or -1. */
int sst2_read(const char *path, sst2_set *out, size_t *line);
void sst2_free(sst2_set *s);

/* The split, as row indices of the set (caller frees both arrays with free):
 *   dev:   n_dev distinct full sentences (starting with a letter or digit,
 *          ending with " ." " !" or " ?", so none of the phrases SST-2 also
 *          lists as rows) of at least min_words words, the first of a
 *          shuffle of all such rows by dev_seed;
 *   train: k rows of label 0, then k of label 1, the first of a shuffle of
 *          all rows by train_seed that are not a dev sentence, no substring of
 *          one and do not contain one (SST-2 rows are phrases of the same
 *          reviews), without repeats.
 * 0, or -1 if the set has too few such rows. */
int sst2_split(const sst2_set *s, int32_t min_words, size_t n_dev, uint64_t dev_seed,
               size_t k, uint64_t train_seed, size_t **dev, size_t **train);

/* zoq_llama sst2's k-per-class training sample under its default dev split
 * (500 sentences of >= 10 words, seed 1), as texts: 2k pointers into s
 * (label 0 first) in a new array (free it), NULL if s has too few rows. */
const char **sst2_train_texts(const sst2_set *s, size_t k, uint64_t train_seed);

/* The prompt candidates for SST-2 (label words " terrible" = 0, " great" = 1):
 *   lmbff: LM-BFF's template, "<S> It was";
 *   demo:  two demonstrations from the training split (one per class), then lmbff;
 *   chat:  the model's ChatML turn asking for the verdict, answered "It was".
 * sst2_prompt returns the one named, NULL if none is. */
extern const cls_prompt sst2_prompts[];
/* The candidate chosen by zero-shot dev accuracy (docs/integrations/llama.md). */
#define SST2_PROMPT "lmbff"
extern const int sst2_n_prompts;
const cls_prompt *sst2_prompt(const char *name);

#endif
