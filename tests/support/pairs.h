/* pairs.h - test/example support, not part of libzoq: reads preference
 * pairs in the JSON-lines format of ../shared/data/hh-rlhf-harmless
 * (gzip'd or plain; one {"chosen": "...", "rejected": "..."} per line) and
 * splits each pair into prompt + two completions. Linked with -lz. */
#ifndef ZOQ_TESTS_SUPPORT_PAIRS_H
#define ZOQ_TESTS_SUPPORT_PAIRS_H

#include <stddef.h>

/* The prompt ends with this; the completions follow it. */
#define PAIRS_DELIM "\n\nAssistant:"

/* One pair: three NUL-terminated UTF-8 strings owned by the pair set. */
typedef struct pair_text {
    char *prompt;     /* longest common prefix of the dialogues ending with PAIRS_DELIM */
    char *chosen;     /* chosen completion (after the prompt) */
    char *rejected;   /* rejected completion */
} pair_text;

typedef struct pair_set {
    pair_text *pairs;
    size_t n;
} pair_set;

/* A contiguous run of a pair set (not owning). */
typedef struct pair_view {
    const pair_text *pairs;
    size_t n;
} pair_view;

enum { PAIRS_OK = 0, PAIRS_E_IO = -1, PAIRS_E_FORMAT = -2, PAIRS_E_NOMEM = -3 };

/* Reads every line of path into *out (free with pairs_free). On error *out
 * is empty and, if line is not NULL, *line is the 1-based failing line. */
int pairs_read(const char *path, pair_set *out, size_t *line);
/* Frees what pairs_read allocated; accepts an empty set. */
void pairs_free(pair_set *s);
/* Deterministic split: the first n - n_eval pairs train, the last n_eval
 * evaluate. -1 if n_eval > n. */
int pairs_split(const pair_set *s, size_t n_eval, pair_view *train, pair_view *eval);

#endif
