/* pairs.c - the JSON-lines pair reader of pairs.h. The whole file is
 * inflated into memory (a few MB), then parsed line by line with a JSON
 * string decoder that is just enough for flat objects of string values. */
#include "pairs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Inflates (or copies) the whole file into a NUL-terminated buffer. */
static int slurp(const char *path, char **buf, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        return PAIRS_E_IO;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap + 1);
    int rc = b == NULL ? PAIRS_E_NOMEM : PAIRS_OK;
    while (rc == PAIRS_OK) {
        if (n == cap) {
            char *nb = realloc(b, 2 * cap + 1);
            if (nb == NULL) {
                rc = PAIRS_E_NOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        const int got = gzread(f, b + n, (unsigned)(cap - n));
        if (got < 0)
            rc = PAIRS_E_IO;
        else if (got == 0)
            break;
        n += (size_t)got;
    }
    gzclose(f);
    if (rc != PAIRS_OK) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return PAIRS_OK;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static int hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        const char c = p[i];
        const int d = c >= '0' && c <= '9' ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes the JSON string starting at *pp (at the opening quote) into a new
 * NUL-terminated string (never longer than the escaped form); advances *pp
 * past the closing quote. NULL on a malformed string or no memory. */
static char *json_string(const char **pp)
{
    const char *p = *pp;
    if (*p != '"')
        return NULL;
    const char *q = ++p;
    while (*q != '"') {
        if (*q == '\0' || *q == '\n')
            return NULL;
        q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
    }
    char *s = malloc((size_t)(q - p) + 1), *o = s;
    if (s == NULL)
        return NULL;
    while (p < q) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        const char e = p[1];
        p += 2;
        uint32_t cp;
        switch (e) {
        case '"': case '\\': case '/': *o++ = e; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (q - p < 4 || hex4(p, &cp) != 0)
                goto bad;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00) { /* high surrogate: needs its low half */
                uint32_t lo;
                if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                goto bad;
            }
            o = put_utf8(o, cp);
            break;
        default:
            goto bad;
        }
    }
    *o = '\0';
    *pp = q + 1;
    return s;
bad:
    free(s);
    return NULL;
}

/* Parses one line {"chosen": "...", "rejected": "..."} (other string fields
 * ignored) and splits it; PAIRS_OK or PAIRS_E_FORMAT / _NOMEM. */
static int parse_line(const char *p, pair_text *out)
{
    char *chosen = NULL, *rejected = NULL;
    int rc = PAIRS_E_FORMAT;
    p = skip_ws(p);
    if (*p++ != '{')
        return rc;
    for (;;) {
        p = skip_ws(p);
        char *key = json_string(&p), *val = NULL;
        if (key != NULL) {
            p = skip_ws(p);
            if (*p++ == ':') {
                p = skip_ws(p);
                val = json_string(&p);
            }
        }
        const int is_c = val != NULL && strcmp(key, "chosen") == 0;
        const int is_r = val != NULL && strcmp(key, "rejected") == 0;
        const int bad = val == NULL || (is_c && chosen != NULL) || (is_r && rejected != NULL);
        free(key);
        if (is_c && !bad)
            chosen = val;
        else if (is_r && !bad)
            rejected = val;
        else
            free(val); /* another field, or an error */
        if (bad)
            goto done;
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}' && *skip_ws(p + 1) == '\0')
            break;
        goto done;
    }
    if (chosen == NULL || rejected == NULL)
        goto done;
    /* Prompt: the longest common prefix that ends with the delimiter. */
    const size_t dl = strlen(PAIRS_DELIM);
    size_t common = 0;
    while (chosen[common] != '\0' && chosen[common] == rejected[common])
        common++;
    size_t end = 0;
    for (size_t k = 0; k + dl <= common; k++)
        if (memcmp(chosen + k, PAIRS_DELIM, dl) == 0)
            end = k + dl;
    if (end == 0)
        goto done;
    rc = PAIRS_E_NOMEM;
    out->prompt = malloc(end + 1);
    out->chosen = malloc(strlen(chosen + end) + 1);
    out->rejected = malloc(strlen(rejected + end) + 1);
    if (out->prompt != NULL && out->chosen != NULL && out->rejected != NULL) {
        memcpy(out->prompt, chosen, end);
        out->prompt[end] = '\0';
        strcpy(out->chosen, chosen + end);
        strcpy(out->rejected, rejected + end);
        rc = PAIRS_OK;
    } else {
        free(out->prompt);
        free(out->chosen);
        free(out->rejected);
    }
done:
    free(chosen);
    free(rejected);
    return rc;
}

void pairs_free(pair_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->pairs[i].prompt);
        free(s->pairs[i].chosen);
        free(s->pairs[i].rejected);
    }
    free(s->pairs);
    s->pairs = NULL;
    s->n = 0;
}

int pairs_read(const char *path, pair_set *out, size_t *line)
{
    out->pairs = NULL;
    out->n = 0;
    if (line != NULL)
        *line = 0;
    char *buf;
    size_t len;
    int rc = slurp(path, &buf, &len);
    if (rc != PAIRS_OK)
        return rc;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    pair_set s = {calloc(lines + 1, sizeof(pair_text)), 0};
    if (s.pairs == NULL)
        rc = PAIRS_E_NOMEM;
    size_t lineno = 0;
    for (char *p = buf; rc == PAIRS_OK && *p != '\0';) {
        char *nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        lineno++;
        if (*skip_ws(p) != '\0') { /* blank lines are skipped */
            rc = parse_line(p, &s.pairs[s.n]);
            s.n += rc == PAIRS_OK;
        }
        p = nl != NULL ? nl + 1 : p + strlen(p);
    }
    free(buf);
    if (rc != PAIRS_OK) {
        pairs_free(&s);
        if (line != NULL)
            *line = lineno;
        return rc;
    }
    *out = s;
    return PAIRS_OK;
}

int pairs_split(const pair_set *s, size_t n_eval, pair_view *train, pair_view *eval)
{
    if (n_eval > s->n)
        return -1;
    train->pairs = s->pairs;
    train->n = s->n - n_eval;
    eval->pairs = s->pairs + train->n;
    eval->n = n_eval;
    return 0;
}
