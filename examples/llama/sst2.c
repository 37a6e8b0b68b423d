/* sst2.c - the TSV reader and the SST-2 split of sst2.h. */
#define _POSIX_C_SOURCE 200809L
#include "sst2.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The whole (decompressed) file, NUL-terminated. */
static char *slurp(const char *path)
{
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (b == NULL)
            break;
        if (cap - n < (1 << 16)) {
            char *nb = realloc(b, cap *= 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
        }
        const int got = gzread(f, b + n, (unsigned)(cap - n - 1));
        if (got < 0) {
            free(b);
            b = NULL;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    gzclose(f);
    if (b != NULL)
        b[n] = '\0';
    return b;
}

void sst2_free(sst2_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->text[i]);
    free(s->text);
    free(s->label);
    memset(s, 0, sizeof *s);
}

int sst2_read(const char *path, sst2_set *out, size_t *line)
{
    memset(out, 0, sizeof *out);
    if (line != NULL)
        *line = 0;
    char *b = slurp(path);
    if (b == NULL)
        return -1;
    size_t cap = 0, ln = 0;
    int rc = 0;
    for (char *p = b, *next; rc == 0 && *p != '\0'; p = next) {
        char *eol = strchr(p, '\n');
        next = eol != NULL ? eol + 1 : p + strlen(p);
        if (eol != NULL)
            *eol = '\0';
        ln++;
        const size_t len = strlen(p);
        if (len > 0 && p[len - 1] == '\r')
            p[len - 1] = '\0';
        if (*p == '\0' || (ln == 1 && strcmp(p, "sentence\tlabel") == 0))
            continue;
        char *tab = strrchr(p, '\t');
        if (tab == NULL || tab == p || (strcmp(tab + 1, "0") != 0 && strcmp(tab + 1, "1") != 0)) {
            rc = -1;
            break;
        }
        *tab = '\0';
        if (out->n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **t = realloc(out->text, sizeof *t * cap);
            int32_t *l = t ? realloc(out->label, sizeof *l * cap) : NULL;
            if (t != NULL)
                out->text = t;
            if (l == NULL) {
                rc = -1;
                break;
            }
            out->label = l;
        }
        out->text[out->n] = strdup(p);
        if (out->text[out->n] == NULL) {
            rc = -1;
            break;
        }
        out->label[out->n++] = tab[1] - '0';
    }
    free(b);
    if (rc != 0 || out->n == 0) {
        if (line != NULL)
            *line = ln;
        sst2_free(out);
        return -1;
    }
    return 0;
}

static int32_t words(const char *s)
{
    int32_t n = 0;
    for (int in = 0; *s != '\0'; s++) {
        const int space = *s == ' ' || *s == '\t';
        n += !space && !in;
        in = !space;
    }
    return n;
}

/* A whole sentence, not one of the phrases SST-2 also lists: it starts with
 * a letter or digit and ends with ". ", "! ", "? " (GLUE's tokenization puts
 * a space before the final punctuation). */
static int full_sentence(const char *s)
{
    const size_t n = strlen(s);
    const unsigned char c = (unsigned char)s[0];
    const int starts = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return starts && n >= 2 && s[n - 2] == ' ' &&
           (s[n - 1] == '.' || s[n - 1] == '!' || s[n - 1] == '?');
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 0 .. n-1 in the Fisher-Yates order of seed. */
static size_t *shuffled(size_t n, uint64_t seed)
{
    size_t *o = malloc(sizeof *o * (n ? n : 1));
    for (size_t i = 0; o != NULL && i < n; i++)
        o[i] = i;
    for (size_t i = n; o != NULL && i > 1; i--) {
        const size_t j = (size_t)(splitmix64(&seed) % i);
        const size_t t = o[i - 1];
        o[i - 1] = o[j];
        o[j] = t;
    }
    return o;
}

static int same_text_in(const sst2_set *s, const size_t *rows, size_t n, const char *t)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->text[rows[i]], t) == 0)
            return 1;
    return 0;
}

int sst2_split(const sst2_set *s, int32_t min_words, size_t n_dev, uint64_t dev_seed,
               size_t k, uint64_t train_seed, size_t **dev, size_t **train)
{
    *dev = malloc(sizeof **dev * (n_dev ? n_dev : 1));
    *train = malloc(sizeof **train * (k ? 2 * k : 1));
    size_t *o = shuffled(s->n, dev_seed);
    size_t nd = 0, got[2] = {0, 0};
    for (size_t i = 0; o != NULL && *dev != NULL && i < s->n && nd < n_dev; i++)
        if (words(s->text[o[i]]) >= min_words && full_sentence(s->text[o[i]]) &&
            !same_text_in(s, *dev, nd, s->text[o[i]]))
            (*dev)[nd++] = o[i];
    free(o);
    o = shuffled(s->n, train_seed);
    size_t *cls[2] = {*train, *train ? *train + k : NULL};
    for (size_t i = 0; o != NULL && cls[0] != NULL && nd == n_dev && i < s->n; i++) {
        const size_t r = o[i];
        const int32_t y = s->label[r];
        if (got[y] == k || same_text_in(s, cls[y], got[y], s->text[r]))
            continue;
        int overlaps = 0;
        for (size_t j = 0; j < nd && !overlaps; j++)
            overlaps = strstr(s->text[(*dev)[j]], s->text[r]) != NULL ||
                       strstr(s->text[r], s->text[(*dev)[j]]) != NULL;
        if (!overlaps)
            cls[y][got[y]++] = r;
    }
    free(o);
    if (nd < n_dev || got[0] < k || got[1] < k) {
        free(*dev);
        free(*train);
        *dev = *train = NULL;
        return -1;
    }
    return 0;
}

const char **sst2_train_texts(const sst2_set *s, size_t k, uint64_t train_seed)
{
    size_t *dev = NULL, *train = NULL;
    const char **txt = NULL;
    if (sst2_split(s, 10, 500, 1, k, train_seed, &dev, &train) == 0)
        txt = malloc(sizeof *txt * 2 * k);
    for (size_t i = 0; txt != NULL && i < 2 * k; i++)
        txt[i] = s->text[train[i]];
    free(dev);
    free(train);
    return txt;
}

const cls_prompt sst2_prompts[] = {
    {"lmbff", CLS_SLOT " It was", {" terrible", " great"}, 0},
    {"demo",
     "one of the most genuinely sweet films It was great.\n"
     "a flat , unconvincing drama that never catches fire It was terrible.\n" CLS_SLOT " It was",
     {" terrible", " great"}, 0},
    {"chat",
     "<|im_start|>user\nMovie review: " CLS_SLOT
     "\nWas the movie great or terrible?<|im_end|>\n<|im_start|>assistant\nIt was",
     {" terrible", " great"}, 1},
};
const int sst2_n_prompts = (int)(sizeof sst2_prompts / sizeof sst2_prompts[0]);

const cls_prompt *sst2_prompt(const char *name)
{
    for (int i = 0; i < sst2_n_prompts; i++)
        if (strcmp(sst2_prompts[i].name, name) == 0)
            return &sst2_prompts[i];
    return NULL;
}
