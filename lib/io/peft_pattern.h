/* peft_pattern.h - PEFT's rule for the keys of rank_pattern and
 * alpha_pattern: the first key, in file order, that as a Python regex K
 * makes re.match(r"(.*\.)?(K)$", module) succeed gives the module's value
 * (else a key equal to the module path, else none). Keys are checked as
 * Python syntax and run as POSIX extended regexes; what the two read
 * differently (\d, (?...), possessive repeats, [[:class:]], ...) is refused.
 * Internal to lib/io. */
#ifndef ZOQ_IO_PEFT_PATTERN_H
#define ZOQ_IO_PEFT_PATTERN_H

#include <stddef.h>

#include "io/json.h"

typedef struct zoq__peft_key zoq__peft_key;

typedef struct zoq__peft_patterns {
    int32_t n;
    zoq__peft_key *keys;        /* in file order */
    void *utf8;                 /* locale_t of C.UTF-8, or NULL where there is none */
} zoq__peft_patterns;

/* Compiles the keys of object obj (NULL: no keys) of doc, which must stay
 * alive; what names the object in messages. ZOQ_OK, ZOQ_E_FORMAT (duplicate
 * key), ZOQ_E_UNSUPPORTED (a key zoq cannot match as PEFT does),
 * ZOQ_E_NOMEM. Free with zoq__peft_patterns_free, also on error. */
int zoq__peft_patterns_compile(const zoq__json *doc, const zoq__json_node *obj,
                               const char *what, zoq__peft_patterns *p);
/* The value node for module path m into *value (NULL if no key applies).
 * ZOQ_OK, ZOQ_E_UNSUPPORTED (a path regexes cannot be matched against). */
int zoq__peft_patterns_find(const zoq__peft_patterns *p, const char *m,
                            const zoq__json_node **value);
void zoq__peft_patterns_free(zoq__peft_patterns *p);

#endif
