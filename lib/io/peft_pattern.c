/* peft_pattern.c - rank_pattern / alpha_pattern keys matched as PEFT
 * matches them (peft_pattern.h). Each key K is checked as Python `re`
 * syntax and rewritten into the POSIX extended regex ^(.*\.)?(K)$; the
 * match runs in the C.UTF-8 locale, so that `.` and [...] take one code
 * point as Python's str patterns do. */
#define _POSIX_C_SOURCE 200809L
#include <locale.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/peft_pattern.h"
#include "zoq.h"

struct zoq__peft_key {
    const char *key;
    const zoq__json_node *value;
    regex_t re;
    int compiled;
};

/* What the token before a repeat was. */
enum { NOTHING, ATOM, REPEAT, LAZY, ANCHOR };

/* Largest {m,n} bound accepted (POSIX guarantees RE_DUP_MAX >= 255). */
#define MAX_BOUND 255

static int ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* A {m}, {m,}, {,n} or {m,n} repeat at *c: 1 and its bounds (hi -1 for
 * none), or 0 when Python reads this '{' as a literal. */
static int brace(const char *c, long *lo, long *hi, const char **end)
{
    const char *d = c + 1;
    char *e;
    *lo = 0;
    *hi = -1;
    if (*d >= '0' && *d <= '9')
        *lo = strtol(d, &e, 10), d = e;
    int comma = *d == ',';
    if (comma && *++d >= '0' && *d <= '9')
        *hi = strtol(d, &e, 10), d = e;
    else if (!comma)
        *hi = *lo;
    if (*d != '}' || d == c + 1)
        return 0;
    *end = d;
    return 1;
}

/* A repeat (* + ? or {...}) after the token `prev`; NULL, or what is wrong. */
static const char *repeat(const char **c, int *prev, zoq__buf *b)
{
    long lo = 0, hi = -1;
    const char *end = *c;
    int is_brace = **c == '{';
    if (is_brace && !brace(*c, &lo, &hi, &end)) {
        zoq__buf_puts(b, "\\{"); /* a '{' Python takes literally */
        *prev = ATOM;
        return NULL;
    }
    if (*prev == REPEAT && **c == '?') { /* lazy: the same full matches */
        *prev = LAZY;
        return NULL;
    }
    if (*prev == REPEAT && **c == '+')
        return "a possessive repeat";
    if (*prev == REPEAT || *prev == LAZY)
        return "a repeat of a repeat";
    if (*prev != ATOM)
        return "a repeat of nothing";
    *prev = REPEAT;
    if (!is_brace) {
        zoq__buf_put(b, *c, 1);
        return NULL;
    }
    if (lo > MAX_BOUND || hi > MAX_BOUND)
        return "a repeat count above 255";
    if (hi >= 0 && lo > hi)
        return "a repeat {m,n} with m > n";
    if (hi < 0)
        zoq__buf_printf(b, "{%ld,}", lo);
    else
        zoq__buf_printf(b, "{%ld,%ld}", lo, hi);
    *c = end;
    return NULL;
}

/* Writes ^(.*\.)?(key)$ as a POSIX extended regex into b; NULL, or the
 * Python construct that POSIX would read differently, found at key[*at]. */
static const char *translate(const char *key, zoq__buf *b, size_t *at)
{
    int prev = NOTHING, depth = 0;
    zoq__buf_puts(b, "^(.*\\.)?(");
    for (const char *c = key; *c; c++) {
        const char *why = NULL;
        *at = (size_t)(c - key);
        switch (*c) {
        case '\\':
            if (!c[1] || !strchr(".^$*+?()[]{}|\\", c[1]))
                return "an escape POSIX reads otherwise (only \\ before . ^ $ * + ? ( ) [ ] { } "
                       "| \\ is the same; for \\d write [0-9])";
            zoq__buf_put(b, c++, 2);
            prev = ATOM;
            continue;
        case '[': {
            const char *e = c + 1 + (c[1] == '^');
            e += *e == ']';
            for (; *e && *e != ']'; e++)
                if (*e == '\\' || (*e == '[' && e[1] && strchr(":.=", e[1])))
                    return "a \\ or [: [. [= inside [...]";
            if (!*e)
                return "an unclosed [";
            zoq__buf_put(b, c, (size_t)(e + 1 - c));
            c = e;
            prev = ATOM;
            continue;
        }
        case '*':
        case '+':
        case '?':
        case '{':
            if ((why = repeat(&c, &prev, b)))
                return why;
            continue;
        case '(':
            if (c[1] == '?')
                return "a (?...) group";
            depth++;
            prev = NOTHING;
            break;
        case ')':
            if (--depth < 0)
                return "an unbalanced )";
            prev = ATOM;
            break;
        case '|':
            prev = NOTHING;
            break;
        case '^':
        case '$':
            prev = ANCHOR;
            break;
        default:
            prev = ATOM;
        }
        zoq__buf_put(b, c, 1);
    }
    if (depth)
        return "an unclosed (";
    zoq__buf_put(b, ")$", 3); /* with the terminating NUL */
    return NULL;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp((*(const zoq__peft_key *const *)a)->key, (*(const zoq__peft_key *const *)b)->key);
}

static int no_duplicates(const zoq__peft_patterns *p, const char *what)
{
    const zoq__peft_key **s = malloc((size_t)p->n * sizeof *s);
    if (!s)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < p->n; i++)
        s[i] = &p->keys[i];
    qsort(s, (size_t)p->n, sizeof *s, cmp_key);
    int rc = ZOQ_OK;
    for (int32_t i = 1; i < p->n && rc == ZOQ_OK; i++)
        if (strcmp(s[i]->key, s[i - 1]->key) == 0)
            rc = zoq__fail(NULL, ZOQ_E_FORMAT, "%s: key '%.64s' given twice", what,
                           s[i]->key);
    free(s);
    return rc;
}

/* Compiles key k->key in the locale the patterns match in. */
static int compile(const zoq__peft_patterns *p, zoq__peft_key *k, const char *what)
{
    zoq__buf b = {0};
    size_t at = 0;
    const char *why = translate(k->key, &b, &at);
    int rc = ZOQ_OK;
    if (b.oom)
        rc = zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    else if (why)
        rc = zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "%s: key '%.64s', byte %zu: %s; "
                       "zoq refuses what it cannot match as PEFT's Python regex does", what,
                       k->key, at + 1, why);
    else if (!p->utf8 && !ascii(k->key))
        rc = zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "%s: key '%.64s' is not ASCII and there is "
                       "no C.UTF-8 locale to match it in", what, k->key);
    if (rc != ZOQ_OK) {
        free(b.p);
        return rc;
    }
    locale_t old = p->utf8 ? uselocale((locale_t)p->utf8) : (locale_t)0;
    int re = regcomp(&k->re, b.p, REG_EXTENDED | REG_NOSUB);
    if (p->utf8)
        uselocale(old);
    free(b.p);
    if (re == REG_ESPACE)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "%s: key '%.64s': out of memory", what, k->key);
    if (re != 0) {
        char msg[96];
        regerror(re, &k->re, msg, sizeof msg);
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "%s: key '%.64s' is not a regex zoq "
                         "can match: %s", what, k->key, msg);
    }
    k->compiled = 1;
    return ZOQ_OK;
}

int zoq__peft_patterns_compile(const zoq__json *doc, const zoq__json_node *obj,
                               const char *what, zoq__peft_patterns *p)
{
    memset(p, 0, sizeof *p);
    if (!obj || obj->count == 0)
        return ZOQ_OK;
    if (!(p->keys = calloc((size_t)obj->count, sizeof *p->keys)))
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    p->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    for (const zoq__json_node *k = zoq__json_at(doc, obj->first); k;) {
        const zoq__json_node *v = zoq__json_at(doc, k->next);
        p->keys[p->n++] = (zoq__peft_key){.key = k->str, .value = v};
        k = zoq__json_at(doc, v->next);
    }
    int rc = no_duplicates(p, what);
    for (int32_t i = 0; i < p->n && rc == ZOQ_OK; i++)
        rc = compile(p, &p->keys[i], what);
    return rc;
}

int zoq__peft_patterns_find(const zoq__peft_patterns *p, const char *m,
                            const zoq__json_node **value)
{
    *value = NULL;
    if (p->n == 0)
        return ZOQ_OK;
    /* Python's '.' and '$' treat a newline specially, POSIX's do not */
    if (strchr(m, '\n') || (!p->utf8 && !ascii(m)))
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "module '%.64s': a path with a newline, "
                         "or non-ASCII without a C.UTF-8 locale, cannot be matched against "
                         "pattern keys", m);
    locale_t old = p->utf8 ? uselocale((locale_t)p->utf8) : (locale_t)0;
    int rc = ZOQ_OK;
    for (int32_t i = 0; i < p->n && !*value && rc == ZOQ_OK; i++) {
        int re = regexec(&p->keys[i].re, m, 0, NULL, 0);
        if (re == 0)
            *value = p->keys[i].value;
        else if (re != REG_NOMATCH)
            rc = zoq__fail(NULL, ZOQ_E_NOMEM, "module '%.64s': out of memory", m);
    }
    if (p->utf8)
        uselocale(old);
    /* PEFT then looks the path itself up (a key whose regex misses itself) */
    for (int32_t i = 0; i < p->n && !*value && rc == ZOQ_OK; i++)
        if (strcmp(p->keys[i].key, m) == 0)
            *value = p->keys[i].value;
    return rc;
}

void zoq__peft_patterns_free(zoq__peft_patterns *p)
{
    for (int32_t i = 0; i < p->n; i++)
        if (p->keys[i].compiled)
            regfree(&p->keys[i].re);
    free(p->keys);
    if (p->utf8)
        freelocale((locale_t)p->utf8);
    memset(p, 0, sizeof *p);
}
