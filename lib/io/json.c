/* json.c - strict JSON parser into a flat node array, and JSON string
 * escaping for the writers (see json.h for the rules). Every read is bounds
 * checked against the input length; the input need not be NUL-terminated. */
#include "io/json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct parser {
    const unsigned char *s;
    size_t n, at;
    zoq__json *doc;
    size_t str_at;              /* next free byte of doc->strings */
    int status;
} parser;

static int fail(parser *p, int status, const char *what)
{
    if (p->status == ZOQ_OK) {
        p->status = status;
        zoq__fail(NULL, status, "JSON: %s at byte %zu", what, p->at);
    }
    return -1;
}

static void skip_ws(parser *p)
{
    while (p->at < p->n && (p->s[p->at] == ' ' || p->s[p->at] == '\t' || p->s[p->at] == '\n' ||
                            p->s[p->at] == '\r'))
        p->at++;
}

/* Appends a node; returns its index or -1. */
static int32_t new_node(parser *p, int kind)
{
    zoq__json *d = p->doc;
    if (d->n_nodes == d->cap_nodes) {
        if (d->cap_nodes > INT32_MAX / 2)
            return fail(p, ZOQ_E_FORMAT, "too many values");
        int32_t cap = d->cap_nodes ? d->cap_nodes * 2 : 64;
        zoq__json_node *nodes = realloc(d->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes)
            return fail(p, ZOQ_E_NOMEM, "out of memory");
        d->nodes = nodes;
        d->cap_nodes = cap;
    }
    zoq__json_node *v = &d->nodes[d->n_nodes];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->first = v->next = -1;
    return d->n_nodes++;
}

/* Length of the UTF-8 sequence at s[0 .. n) (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;          /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F;          /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;          /* <= U+10FFFF */
    } else
        return 0;
    if (len > n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

int zoq__utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

static int hex4(parser *p, unsigned *out)
{
    if (p->n - p->at < 4)
        return fail(p, ZOQ_E_FORMAT, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p->s[p->at++], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return fail(p, ZOQ_E_FORMAT, "bad \\u escape");
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static void put_utf8(char *o, size_t *k, unsigned cp)
{
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xC0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xE0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*k)++] = (char)(0xF0 | (cp >> 18));
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* A string starting at the opening quote. Decoded output never exceeds the
 * input it came from (an escape of k bytes decodes to <= k bytes), so the
 * strings arena, sized to the whole input, cannot overflow. */
static int32_t parse_string(parser *p)
{
    int32_t id = new_node(p, ZOQ__JSON_STRING);
    if (id < 0)
        return -1;
    p->at++; /* the quote */
    char *o = p->doc->strings + p->str_at;
    size_t k = 0;
    for (;;) {
        if (p->at >= p->n)
            return fail(p, ZOQ_E_FORMAT, "unterminated string");
        unsigned c = p->s[p->at];
        if (c == '"') {
            p->at++;
            break;
        }
        if (c < 0x20)
            return fail(p, ZOQ_E_FORMAT, "control character in string");
        if (c != '\\') {
            size_t len = utf8_len(p->s + p->at, p->n - p->at);
            if (!len)
                return fail(p, ZOQ_E_FORMAT, "invalid UTF-8");
            memcpy(o + k, p->s + p->at, len);
            k += len;
            p->at += len;
            continue;
        }
        if (++p->at >= p->n)
            return fail(p, ZOQ_E_FORMAT, "unterminated escape");
        c = p->s[p->at++];
        const char *simple = strchr("\"\\/bfnrt", (int)c);
        if (c && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            o[k++] = map[simple - "\"\\/bfnrt"];
            continue;
        }
        if (c != 'u')
            return fail(p, ZOQ_E_FORMAT, "bad escape");
        unsigned cp, lo;
        if (hex4(p, &cp))
            return -1;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(p, ZOQ_E_FORMAT, "lone low surrogate");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (p->n - p->at < 2 || p->s[p->at] != '\\' || p->s[p->at + 1] != 'u')
                return fail(p, ZOQ_E_FORMAT, "lone high surrogate");
            p->at += 2;
            if (hex4(p, &lo))
                return -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(p, ZOQ_E_FORMAT, "bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0)
            return fail(p, ZOQ_E_FORMAT, "U+0000 in string");
        put_utf8(o, &k, cp);
    }
    o[k] = '\0';
    zoq__json_node *v = &p->doc->nodes[id];
    v->str = o;
    v->len = k;
    p->str_at += k + 1;
    return id;
}

static int is_digit(const parser *p)
{
    return p->at < p->n && p->s[p->at] >= '0' && p->s[p->at] <= '9';
}

static int32_t parse_number(parser *p)
{
    size_t start = p->at;
    if (p->s[p->at] == '-')
        p->at++;
    if (!is_digit(p))
        return fail(p, ZOQ_E_FORMAT, "bad number");
    if (p->s[p->at] == '0') {
        p->at++;
        if (is_digit(p))
            return fail(p, ZOQ_E_FORMAT, "leading zero in number");
    }
    while (is_digit(p))
        p->at++;
    if (p->at < p->n && p->s[p->at] == '.') {
        p->at++;
        if (!is_digit(p))
            return fail(p, ZOQ_E_FORMAT, "bad fraction");
        while (is_digit(p))
            p->at++;
    }
    if (p->at < p->n && (p->s[p->at] == 'e' || p->s[p->at] == 'E')) {
        p->at++;
        if (p->at < p->n && (p->s[p->at] == '+' || p->s[p->at] == '-'))
            p->at++;
        if (!is_digit(p))
            return fail(p, ZOQ_E_FORMAT, "bad exponent");
        while (is_digit(p))
            p->at++;
    }
    int32_t id = new_node(p, ZOQ__JSON_NUMBER);
    if (id >= 0) {
        p->doc->nodes[id].str = (const char *)p->s + start;
        p->doc->nodes[id].len = p->at - start;
    }
    return id;
}

static int32_t parse_value(parser *p, int depth);

/* Array or object starting at its bracket. */
static int32_t parse_container(parser *p, int depth, int object)
{
    if (depth >= ZOQ__JSON_MAX_DEPTH)
        return fail(p, ZOQ_E_FORMAT, "nesting too deep");
    int32_t id = new_node(p, object ? ZOQ__JSON_OBJECT : ZOQ__JSON_ARRAY);
    if (id < 0)
        return -1;
    char close = object ? '}' : ']';
    p->at++;
    skip_ws(p);
    if (p->at < p->n && p->s[p->at] == close) {
        p->at++;
        return id;
    }
    int32_t last = -1, count = 0;
    for (;;) {
        int32_t key = -1;
        if (object) {
            skip_ws(p);
            if (p->at >= p->n || p->s[p->at] != '"')
                return fail(p, ZOQ_E_FORMAT, "expected a string key");
            if ((key = parse_string(p)) < 0)
                return -1;
            skip_ws(p);
            if (p->at >= p->n || p->s[p->at] != ':')
                return fail(p, ZOQ_E_FORMAT, "expected ':'");
            p->at++;
        }
        int32_t val = parse_value(p, depth + 1);
        if (val < 0)
            return -1;
        zoq__json_node *nodes = p->doc->nodes;
        int32_t head = object ? key : val;
        if (object)
            nodes[key].next = val;
        if (last < 0)
            nodes[id].first = head;
        else
            nodes[last].next = head;
        last = val;
        if (count == INT32_MAX)
            return fail(p, ZOQ_E_FORMAT, "too many members");
        nodes[id].count = ++count;
        skip_ws(p);
        if (p->at < p->n && p->s[p->at] == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->n && p->s[p->at] == close) {
            p->at++;
            return id;
        }
        return fail(p, ZOQ_E_FORMAT, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int32_t parse_literal(parser *p, const char *word, int kind)
{
    size_t len = strlen(word);
    if (p->n - p->at < len || memcmp(p->s + p->at, word, len) != 0)
        return fail(p, ZOQ_E_FORMAT, "unexpected character");
    p->at += len;
    return new_node(p, kind);
}

static int32_t parse_value(parser *p, int depth)
{
    skip_ws(p);
    if (p->at >= p->n)
        return fail(p, ZOQ_E_FORMAT, "unexpected end");
    switch (p->s[p->at]) {
    case '{': return parse_container(p, depth, 1);
    case '[': return parse_container(p, depth, 0);
    case '"': return parse_string(p);
    case 't': return parse_literal(p, "true", ZOQ__JSON_TRUE);
    case 'f': return parse_literal(p, "false", ZOQ__JSON_FALSE);
    case 'n': return parse_literal(p, "null", ZOQ__JSON_NULL);
    default: return parse_number(p);
    }
}

int zoq__json_parse(const char *text, size_t n, zoq__json *doc)
{
    memset(doc, 0, sizeof *doc);
    parser p = {(const unsigned char *)text, n, 0, doc, 0, ZOQ_OK};
    if (!text)
        return fail(&p, ZOQ_E_FORMAT, "no text"), p.status;
    if (!(doc->strings = malloc(n + 1)))
        return fail(&p, ZOQ_E_NOMEM, "out of memory"), p.status;
    if (parse_value(&p, 0) >= 0) {
        skip_ws(&p);
        if (p.at != p.n)
            fail(&p, ZOQ_E_FORMAT, "trailing characters");
    }
    return p.status;
}

void zoq__json_free(zoq__json *doc)
{
    if (!doc)
        return;
    free(doc->nodes);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const zoq__json_node *zoq__json_at(const zoq__json *doc, int32_t i)
{
    return i < 0 ? NULL : &doc->nodes[i];
}

const zoq__json_node *zoq__json_get(const zoq__json *doc, const zoq__json_node *obj,
                                    const char *key)
{
    if (!obj || obj->kind != ZOQ__JSON_OBJECT)
        return NULL;
    for (const zoq__json_node *k = zoq__json_at(doc, obj->first); k;) {
        const zoq__json_node *v = zoq__json_at(doc, k->next);
        if (strcmp(k->str, key) == 0)
            return v;
        k = zoq__json_at(doc, v->next);
    }
    return NULL;
}

int zoq__json_uint(const zoq__json_node *v, uint64_t max, uint64_t *out)
{
    if (!v || v->kind != ZOQ__JSON_NUMBER || v->len == 0)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        unsigned d = (unsigned char)v->str[i] - '0';
        if (d > 9 || x > (max - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *out = x;
    return 1;
}

int zoq__json_double(const zoq__json_node *v, double *out)
{
    if (!v || v->kind != ZOQ__JSON_NUMBER || v->len == 0 || v->len > 64)
        return 0;
    /* strtod reads the locale's decimal point; JSON's is always '.' */
    char tmp[65], point = localeconv()->decimal_point[0];
    memcpy(tmp, v->str, v->len);
    tmp[v->len] = '\0';
    char *dot = memchr(tmp, '.', v->len), *end;
    if (dot && point)
        *dot = point;
    double x = strtod(tmp, &end);
    if (*end != '\0' || !isfinite(x))
        return 0;
    *out = x;
    return 1;
}

void zoq__buf_json_string(zoq__buf *b, const char *s)
{
    zoq__buf_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = NULL;
        switch (*c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc)
            zoq__buf_puts(b, esc);
        else if (*c < 0x20)
            zoq__buf_printf(b, "\\u%04x", *c);
        else
            zoq__buf_put(b, c, 1);
    }
    zoq__buf_put(b, "\"", 1);
}
