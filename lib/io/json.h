/* json.h - a small strict JSON (RFC 8259) parser and the string/buffer
 * helpers the safetensors and PEFT writers need. Internal to lib/io.
 *
 * Strict: UTF-8 checked everywhere (no overlongs, no surrogates), escapes
 * checked (\u surrogate pairs must pair), no trailing commas, no comments,
 * no leading zeros, nesting at most ZOQ__JSON_MAX_DEPTH, only JSON
 * whitespace around values, nothing after the top-level value. Strings may
 * not contain U+0000 (they are handed out as C strings). Duplicate keys are
 * the caller's to refuse (it knows what a key means). Also the JSON string
 * escaping the writers share. */
#ifndef ZOQ_IO_JSON_H
#define ZOQ_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "io/buf.h"

#define ZOQ__JSON_MAX_DEPTH 64

typedef enum zoq__json_kind {
    ZOQ__JSON_NULL = 0,
    ZOQ__JSON_FALSE,
    ZOQ__JSON_TRUE,
    ZOQ__JSON_NUMBER,
    ZOQ__JSON_STRING,
    ZOQ__JSON_ARRAY,
    ZOQ__JSON_OBJECT
} zoq__json_kind;

/* One value. Arrays list their elements as a chain from `first` through
 * `next`; objects list key, value, key, value, ... the same way (keys are
 * STRING nodes). Index -1 ends a chain. */
typedef struct zoq__json_node {
    int32_t kind;
    int32_t count;              /* ARRAY: elements; OBJECT: members */
    int32_t first, next;
    const char *str;            /* STRING: decoded, NUL-terminated; NUMBER: its text */
    size_t len;                 /* bytes of str (without the NUL) */
} zoq__json_node;

typedef struct zoq__json {
    zoq__json_node *nodes;      /* nodes[0] is the top-level value */
    int32_t n_nodes, cap_nodes;
    char *strings;              /* decoded strings, each NUL-terminated */
} zoq__json;

/* Parses text[0 .. n) into *doc (free with zoq__json_free, also on error).
 * ZOQ_OK, ZOQ_E_FORMAT with a message naming the byte offset, ZOQ_E_NOMEM. */
int zoq__json_parse(const char *text, size_t n, zoq__json *doc);
void zoq__json_free(zoq__json *doc);

/* The value of member `key` of object node obj, or NULL. */
const zoq__json_node *zoq__json_get(const zoq__json *doc, const zoq__json_node *obj,
                                    const char *key);
/* Node i of the chain, or NULL for -1. */
const zoq__json_node *zoq__json_at(const zoq__json *doc, int32_t i);
/* A NUMBER node holding a plain non-negative integer (no sign, fraction or
 * exponent) <= max into *out: 1, else 0. */
int zoq__json_uint(const zoq__json_node *v, uint64_t max, uint64_t *out);
/* A NUMBER node as a double (finite) into *out: 1, else 0. */
int zoq__json_double(const zoq__json_node *v, double *out);

/* Appends s as a JSON string literal, escaped as serde_json does ("\"",
 * "\\", \b \f \n \r \t, other controls as \u00xx; UTF-8 kept as is). */
void zoq__buf_json_string(zoq__buf *b, const char *s);

/* 1 if s[0 .. n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int zoq__utf8_valid(const unsigned char *s, size_t n);

#endif
