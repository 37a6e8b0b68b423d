/* peft_open.c - reads a PEFT LoRA adapter folder: adapter_config.json
 * (strict JSON; LoRA without DoRA, rsLoRA, bias or fan_in_fan_out) and the
 * lora_A / lora_B pairs of adapter_model.safetensors, checked against each
 * other and against the config's rank (rank_pattern and alpha_pattern keys
 * matched as PEFT matches them, peft_pattern.c). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/abi.h"
#include "io/file.h"
#include "io/json.h"
#include "io/peft.h"
#include "io/peft_pattern.h"
#include "zoq.h"

typedef struct peft_mod {
    char *module;
    int64_t ia, ib;             /* tensor indices of A and B */
    int32_t rank, dtype;
    int64_t in, out;
    double alpha;
} peft_mod;

struct zoq_peft {
    zoq_st *st;
    int64_t n;
    peft_mod *m;                /* sorted by module path */
};

/* The parsed config; NUMBER nodes point into text, kept alive with it. */
typedef struct peft_conf {
    unsigned char *text;
    zoq__json doc;
    const zoq__json_node *rank_pattern, *alpha_pattern;
    zoq__peft_patterns ranks, alphas;
    uint64_t r;
    double alpha;
} peft_conf;

void zoq_peft_free(zoq_peft *p)
{
    if (!p)
        return;
    for (int64_t i = 0; i < p->n; i++)
        free(p->m[i].module);
    free(p->m);
    zoq_st_free(p->st);
    free(p);
}

static char *join(const char *dir, const char *file)
{
    char *p = malloc(strlen(dir) + strlen(file) + 2);
    if (p)
        strcat(strcat(strcpy(p, dir), "/"), file);
    return p;
}

/* An alpha zoq_peft_save would write: finite, > 0, not subnormal. */
static int alpha_ok(const zoq__json_node *v, double *x)
{
    return zoq__json_double(v, x) && isnormal(*x) && *x > 0;
}

/* Every value of pattern object obj (may be NULL) a rank >= 1 (alphas = 0)
 * or an alpha (alphas = 1). */
static int values_ok(const zoq__json *doc, const zoq__json_node *obj, int alphas,
                     const char **bad)
{
    for (const zoq__json_node *k = obj ? zoq__json_at(doc, obj->first) : NULL; k;) {
        const zoq__json_node *v = zoq__json_at(doc, k->next);
        uint64_t r;
        double x;
        if (alphas ? !alpha_ok(v, &x) : !zoq__json_uint(v, INT32_MAX, &r) || r == 0) {
            *bad = k->str;
            return 0;
        }
        k = zoq__json_at(doc, v->next);
    }
    return 1;
}

/* An optional member that must be absent, null or an object. */
static int pattern(const zoq__json *doc, const zoq__json_node *top, const char *key,
                   const zoq__json_node **out)
{
    const zoq__json_node *v = zoq__json_get(doc, top, key);
    *out = v && v->kind == ZOQ__JSON_OBJECT ? v : NULL;
    return !v || v->kind == ZOQ__JSON_NULL || v->kind == ZOQ__JSON_OBJECT;
}

static int is_true(const zoq__json *doc, const zoq__json_node *top, const char *key)
{
    const zoq__json_node *v = zoq__json_get(doc, top, key);
    return v && v->kind == ZOQ__JSON_TRUE;
}

static int load_config(const char *dir, peft_conf *c)
{
    char *path = join(dir, ZOQ__PEFT_CONFIG);
    size_t n = 0;
    if (!path)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    int rc = zoq__file_read_all(path, ZOQ__PEFT_CONFIG_MAX_BYTES, &c->text, &n);
    free(path);
    if (rc != ZOQ_OK)
        return rc;
    if ((rc = zoq__json_parse((const char *)c->text, n, &c->doc)) != ZOQ_OK)
        return zoq__fail_wrap(NULL, rc, ZOQ__PEFT_CONFIG);
    const zoq__json *d = &c->doc;
    const zoq__json_node *top = &d->nodes[0], *type = zoq__json_get(d, top, "peft_type"),
                         *bias = zoq__json_get(d, top, "bias");
    if (top->kind != ZOQ__JSON_OBJECT || !type || type->kind != ZOQ__JSON_STRING)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "%s: not an object with a peft_type",
                         ZOQ__PEFT_CONFIG);
    if (strcmp(type->str, "LORA") != 0)
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "%s: peft_type '%.32s', zoq reads LORA",
                         ZOQ__PEFT_CONFIG, type->str);
    if (!zoq__json_uint(zoq__json_get(d, top, "r"), INT32_MAX, &c->r) || c->r == 0 ||
        !alpha_ok(zoq__json_get(d, top, "lora_alpha"), &c->alpha) ||
        !pattern(d, top, "rank_pattern", &c->rank_pattern) ||
        !pattern(d, top, "alpha_pattern", &c->alpha_pattern))
        return zoq__fail(NULL, ZOQ_E_FORMAT, "%s: needs an integer r >= 1, a number "
                         "lora_alpha > 0 (finite, not subnormal), and object (or null) "
                         "rank_pattern / alpha_pattern", ZOQ__PEFT_CONFIG);
    const char *bad = NULL;
    if (!values_ok(d, c->rank_pattern, 0, &bad))
        return zoq__fail(NULL, ZOQ_E_FORMAT, "%s: rank_pattern['%.64s'] is not an integer "
                         ">= 1", ZOQ__PEFT_CONFIG, bad);
    if (!values_ok(d, c->alpha_pattern, 1, &bad))
        return zoq__fail(NULL, ZOQ_E_FORMAT, "%s: alpha_pattern['%.64s'] is not a number "
                         "> 0 (finite, not subnormal)", ZOQ__PEFT_CONFIG, bad);
    if (is_true(d, top, "use_dora") || is_true(d, top, "use_rslora") ||
        is_true(d, top, "fan_in_fan_out") ||
        (bias && !(bias->kind == ZOQ__JSON_STRING && strcmp(bias->str, "none") == 0)))
        return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "%s: DoRA, rsLoRA, fan_in_fan_out and "
                         "bias other than \"none\" are not read by zoq", ZOQ__PEFT_CONFIG);
    if ((rc = zoq__peft_patterns_compile(d, c->rank_pattern, "rank_pattern", &c->ranks)) !=
        ZOQ_OK)
        return rc;
    return zoq__peft_patterns_compile(d, c->alpha_pattern, "alpha_pattern", &c->alphas);
}

/* Module path of tensor name if it is "<prefix><module><suffix>". */
static int module_of(const char *name, const char *suffix, size_t *len)
{
    size_t n = strlen(name), pl = strlen(ZOQ__PEFT_PREFIX), sl = strlen(suffix);
    if (n <= pl + sl || strncmp(name, ZOQ__PEFT_PREFIX, pl) != 0 ||
        strcmp(name + n - sl, suffix) != 0)
        return 0;
    *len = n - pl - sl;
    return 1;
}

static int cmp_module(const void *a, const void *b)
{
    return strcmp(((const peft_mod *)a)->module, ((const peft_mod *)b)->module);
}

/* One module from its A tensor ia: finds B, checks shapes, rank, alpha. */
static int pair_up(zoq_peft *p, const peft_conf *c, int64_t ia, size_t len)
{
    zoq_st_info_t a = {.size = sizeof a}, b = {.size = sizeof b};
    zoq_st_info(p->st, ia, &a);
    peft_mod *m = &p->m[p->n];
    if (!(m->module = malloc(len + strlen(ZOQ__PEFT_PREFIX) + strlen(ZOQ__PEFT_B) + 1)))
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    p->n++;
    /* the B tensor's name (prefix and module as in A's), then the bare module */
    size_t pl = strlen(ZOQ__PEFT_PREFIX);
    memcpy(m->module, a.name, pl + len);
    strcpy(m->module + pl + len, ZOQ__PEFT_B);
    if (zoq_st_find(p->st, m->module, &m->ib) != ZOQ_OK)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "'%.96s' has no lora_B", a.name);
    memmove(m->module, m->module + pl, len);
    m->module[len] = '\0';
    zoq_st_info(p->st, m->ib, &b);
    m->ia = ia;
    if (a.ndim != 2 || b.ndim != 2 || a.shape[0] != b.shape[1] || a.shape[0] < 1 ||
        a.shape[0] > INT32_MAX || a.shape[1] < 1 || b.shape[0] < 1 || a.dtype != b.dtype ||
        a.dtype > ZOQ_ST_BF16)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "module '%.64s': lora_A must be r x in and "
                         "lora_B out x r, r >= 1, both of one float dtype", m->module);
    m->rank = (int32_t)a.shape[0];
    m->in = a.shape[1];
    m->out = b.shape[0];
    m->dtype = a.dtype;
    uint64_t r = c->r;
    const zoq__json_node *rp, *ap;
    int rc = zoq__peft_patterns_find(&c->ranks, m->module, &rp);
    if (rc == ZOQ_OK)
        rc = zoq__peft_patterns_find(&c->alphas, m->module, &ap);
    if (rc != ZOQ_OK)
        return rc;
    if (rp)
        zoq__json_uint(rp, INT32_MAX, &r); /* checked by load_config */
    if (r != (uint64_t)m->rank)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "module '%.64s': rank %d in the weights, "
                         "%llu in the config (%s)", m->module, m->rank, (unsigned long long)r,
                         rp ? "its rank_pattern entry" : "r; no rank_pattern key matches it");
    m->alpha = c->alpha;
    if (ap)
        zoq__json_double(ap, &m->alpha);
    return ZOQ_OK;
}

static int pair_all(zoq_peft *p, const peft_conf *c)
{
    int64_t n = zoq_st_count(p->st), n_b = 0;
    if (!(p->m = calloc((size_t)n + 1, sizeof *p->m)))
        return zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        zoq_st_info_t t = {.size = sizeof t};
        zoq_st_info(p->st, i, &t);
        size_t len;
        if (module_of(t.name, ZOQ__PEFT_B, &len)) {
            n_b++;
            continue;
        }
        if (!module_of(t.name, ZOQ__PEFT_A, &len))
            return zoq__fail(NULL, ZOQ_E_UNSUPPORTED, "tensor '%.96s' is not a LoRA "
                             "factor (" ZOQ__PEFT_PREFIX "<module>" ZOQ__PEFT_A " or "
                             ZOQ__PEFT_B ")", t.name);
        int rc = pair_up(p, c, i, len);
        if (rc != ZOQ_OK)
            return rc;
    }
    if (n_b != p->n)
        return zoq__fail(NULL, ZOQ_E_FORMAT, "%lld lora_B tensors for %lld lora_A",
                         (long long)n_b, (long long)p->n);
    qsort(p->m, (size_t)p->n, sizeof *p->m, cmp_module);
    return ZOQ_OK;
}

static int peft_open(const char *dir, zoq_peft **out)
{
    if (!dir || !out)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_peft_open: NULL argument");
    *out = NULL;
    peft_conf c = {0};
    zoq_peft *p = calloc(1, sizeof *p);
    char *wpath = join(dir, ZOQ__PEFT_WEIGHTS);
    int rc = !p || !wpath ? zoq__fail(NULL, ZOQ_E_NOMEM, "out of memory")
                          : load_config(dir, &c);
    if (rc == ZOQ_OK)
        rc = zoq_st_open(wpath, &p->st, NULL, 0);
    if (rc == ZOQ_OK)
        rc = pair_all(p, &c);
    zoq__peft_patterns_free(&c.ranks);
    zoq__peft_patterns_free(&c.alphas);
    zoq__json_free(&c.doc);
    free(c.text);
    free(wpath);
    if (rc != ZOQ_OK) {
        zoq_peft_free(p);
        return rc;
    }
    *out = p;
    return ZOQ_OK;
}

int zoq_peft_open(const char *dir, zoq_peft **out, char *err, size_t err_cap)
{
    return zoq__fail_copy(peft_open(dir, out), err, err_cap);
}

int64_t zoq_peft_count(const zoq_peft *p)
{
    return p ? p->n : 0;
}

int zoq_peft_module_info(const zoq_peft *p, int64_t i, zoq_peft_module_t *out)
{
    const int rc = zoq__sized_out_ok(NULL, "zoq_peft_module_info: out", out, sizeof *out);
    if (rc != ZOQ_OK)
        return rc;
    if (!p || i < 0 || i >= p->n)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_peft_module_info: no adapter, or index "
                         "%lld outside 0..%lld", (long long)i, (long long)(p ? p->n - 1 : -1));
    const peft_mod *m = &p->m[i];
    const zoq_peft_module_t info = {.size = sizeof info, .module = m->module, .rank = m->rank,
                                    .dtype = m->dtype, .in_features = m->in,
                                    .out_features = m->out, .alpha = m->alpha};
    zoq__sized_out(out, &info, sizeof info);
    return ZOQ_OK;
}

int zoq_peft_find(const zoq_peft *p, const char *module, int64_t *i)
{
    if (!p || !module || !i)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_peft_find: NULL argument");
    peft_mod key = {.module = (char *)module};
    const peft_mod *m = bsearch(&key, p->m, (size_t)p->n, sizeof *p->m, cmp_module);
    if (!m)
        return zoq__fail(NULL, ZOQ_E_NOT_FOUND, "no module '%.64s' in the adapter", module);
    *i = m - p->m;
    return ZOQ_OK;
}

int zoq_peft_read(const zoq_peft *p, int64_t i, int dtype, void *a, size_t a_bytes, void *b,
                  size_t b_bytes)
{
    if (!p || i < 0 || i >= p->n)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_peft_read: no adapter, or index %lld outside "
                         "0..%lld", (long long)i, (long long)(p ? p->n - 1 : -1));
    int rc = zoq_st_read(p->st, p->m[i].ia, dtype, a, a_bytes);
    return rc == ZOQ_OK ? zoq_st_read(p->st, p->m[i].ib, dtype, b, b_bytes) : rc;
}
