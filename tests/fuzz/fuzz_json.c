/* fuzz_json.c - libFuzzer target for the strict JSON parser of lib/io:
 * any input either parses into a consistent tree or fails with a message;
 * accepted strings are valid UTF-8 without NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "zoq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks node i and its children; returns the number of nodes seen. */
static int32_t walk(const zoq__json *doc, int32_t i, int depth)
{
    const zoq__json_node *v = zoq__json_at(doc, i);
    if (!v || depth > ZOQ__JSON_MAX_DEPTH)
        abort();
    int32_t seen = 1, members = 0;
    if (v->kind == ZOQ__JSON_STRING &&
        (strlen(v->str) != v->len || !zoq__utf8_valid((const unsigned char *)v->str, v->len)))
        abort();
    if (v->kind == ZOQ__JSON_ARRAY || v->kind == ZOQ__JSON_OBJECT) {
        for (int32_t c = v->first; c >= 0; members++) {
            if (v->kind == ZOQ__JSON_OBJECT) {
                const zoq__json_node *k = zoq__json_at(doc, c);
                if (k->kind != ZOQ__JSON_STRING || zoq__json_get(doc, v, k->str) == NULL)
                    abort();
                seen += walk(doc, c, depth + 1);
                c = k->next;
            }
            seen += walk(doc, c, depth + 1);
            c = zoq__json_at(doc, c)->next;
        }
        if (members != v->count)
            abort();
    }
    return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zoq__json doc;
    if (zoq__json_parse((const char *)data, size, &doc) == ZOQ_OK &&
        walk(&doc, 0, 0) != doc.n_nodes)
        abort();
    zoq__json_free(&doc);
    return 0;
}
