/* rotation.c - cyclic LoRA module rotation (Morgan 2026, §V): the paper's 7-night
 * schedule, schedules generated for any module list, the validator of the
 * four properties of §V-D, the dual (modules x loss) rotation and its
 * supercycle, and switching the registry's groups night by night.
 * Definitions: docs/pipeline.md. */
/* The rotation is experimental API (zoq/lora.h): declare it here. */
#define ZOQ_EXPERIMENTAL
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

#define MAX_SUPERCYCLE (ZOQ_ROTATION_MAX_NIGHTS * ZOQ_ROTATION_MAX_LOSSES)

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        const int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int popcount64(uint64_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

static uint64_t all_modules(int32_t n)
{
    return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
}

#define BAD(...) zoq__fail(ctx, ZOQ_E_INVALID, "rotation: " __VA_ARGS__)

/* Reads the caller's schedule in into *r (lib/core/abi.h's growth rule) and
 * checks it is well formed (see zoq_rotation_check); else ZOQ_E_INVALID with
 * a message for ctx (NULL: this thread's). */
static int read_rotation(zoq_ctx *ctx, const zoq_rotation_t *in, zoq_rotation_t *r)
{
    memset(r, 0, sizeof *r);
    const int rc = zoq__sized_in(ctx, "rotation", r, in, sizeof *r);
    if (rc != ZOQ_OK)
        return rc;
    if (r->reserved_)
        return BAD("reserved_ must be 0");
    if (r->n_modules < 1 || r->n_modules > ZOQ_ROTATION_MAX_MODULES || r->n_nights < 1 ||
        r->n_nights > ZOQ_ROTATION_MAX_NIGHTS || r->n_losses < 1 ||
        r->n_losses > ZOQ_ROTATION_MAX_LOSSES)
        return BAD("%d modules, %d nights, %d losses: each must be 1 .. %d, %d, %d",
                   (int)r->n_modules, (int)r->n_nights, (int)r->n_losses,
                   ZOQ_ROTATION_MAX_MODULES, ZOQ_ROTATION_MAX_NIGHTS, ZOQ_ROTATION_MAX_LOSSES);
    const uint64_t all = all_modules(r->n_modules);
    if (r->ffn_mask & ~all)
        return BAD("ffn_mask has bits past module %d", (int)r->n_modules - 1);
    for (int32_t m = 0; m < r->n_modules; m++) {
        const char *name = r->modules[m];
        if (!name[0] || !memchr(name, 0, ZOQ_ROTATION_NAME_CAP))
            return BAD("module %d's name is empty or not terminated within %d bytes", (int)m,
                       ZOQ_ROTATION_NAME_CAP);
        for (int32_t o = 0; o < m; o++)
            if (strcmp(name, r->modules[o]) == 0)
                return BAD("modules %d and %d are both '%s'", (int)o, (int)m, name);
    }
    for (int32_t t = 0; t < r->n_nights; t++)
        if (!r->nights[t] || (r->nights[t] & ~all))
            return BAD("night %d trains no module, or one past module %d", (int)t,
                       (int)r->n_modules - 1);
    for (int32_t i = 0; i < r->n_losses; i++)
        if (r->losses[i] < 0 || r->losses[i] >= ZOQ_PREF_LOSS_COUNT)
            return BAD("loss %d is %d, not a zoq_pref_loss_t", (int)i, (int)r->losses[i]);
    return ZOQ_OK;
}

int zoq_rotation_default(zoq_rotation_t *out)
{
    if (!out)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_rotation_default: out is NULL");
    static const char *const names[7] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                         "gate_proj", "up_proj", "down_proj"};
    enum { Q, K, V, O, GATE, UP, DOWN };
#define B2(a, b) (((uint64_t)1 << (a)) | ((uint64_t)1 << (b)))
    /* Morgan 2026, table III: Sun .. Sat */
    static const uint64_t nights[7] = {B2(Q, GATE), B2(K, UP), B2(V, DOWN), B2(O, GATE),
                                       B2(Q, UP),   B2(K, DOWN), B2(V, O)};
#undef B2
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->n_modules = 7;
    out->n_nights = 7;
    out->n_losses = 3;
    out->ffn_mask = ((uint64_t)1 << GATE) | ((uint64_t)1 << UP) | ((uint64_t)1 << DOWN);
    for (int m = 0; m < 7; m++)
        strcpy(out->modules[m], names[m]);
    memcpy(out->nights, nights, sizeof nights);
    /* §V-C's illustrative 3-method cycle */
    out->losses[0] = ZOQ_LOSS_ORPO;
    out->losses[1] = ZOQ_LOSS_KTO;
    out->losses[2] = ZOQ_LOSS_CPO;
    return ZOQ_OK;
}

int zoq_rotation_generate(const char *const *names, int32_t n_modules, uint64_t ffn_mask,
                          int32_t per_night, const int32_t *losses, int32_t n_losses,
                          zoq_rotation_t *out)
{
    if (!names || !losses || !out || n_modules < 1 || n_modules > ZOQ_ROTATION_MAX_MODULES ||
        per_night < 1 || per_night > n_modules || n_losses < 1 ||
        n_losses > ZOQ_ROTATION_MAX_LOSSES)
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_rotation_generate: NULL names, losses or "
                         "out, or counts outside n_modules 1..%d, per_night 1..n_modules, "
                         "n_losses 1..%d", ZOQ_ROTATION_MAX_MODULES, ZOQ_ROTATION_MAX_LOSSES);
    zoq_rotation_t r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.n_modules = n_modules;
    r.n_losses = n_losses;
    r.ffn_mask = ffn_mask;
    for (int32_t m = 0; m < n_modules; m++) {
        if (!names[m] || strlen(names[m]) >= ZOQ_ROTATION_NAME_CAP)
            return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_rotation_generate: name %d is NULL "
                             "or not shorter than %d bytes", (int)m, ZOQ_ROTATION_NAME_CAP);
        strcpy(r.modules[m], names[m]);
    }
    memcpy(r.losses, losses, (size_t)n_losses * sizeof *losses);
    /* Order: the i-th of na attention modules sits at (2i+1)/(2na), the j-th
     * of nf FFN modules at (2j+1)/(2nf); merged by position, attention first
     * on ties, so the subsystems alternate as evenly as their sizes allow. */
    int32_t attn[ZOQ_ROTATION_MAX_MODULES], ffn[ZOQ_ROTATION_MAX_MODULES], na = 0, nf = 0;
    for (int32_t m = 0; m < n_modules; m++) {
        if (ffn_mask >> m & 1)
            ffn[nf++] = m;
        else
            attn[na++] = m;
    }
    int32_t order[ZOQ_ROTATION_MAX_MODULES];
    for (int32_t i = 0, j = 0, k = 0; k < n_modules; k++) {
        const int take_attn = j == nf || (i < na && (int64_t)(2 * i + 1) * nf <=
                                                        (int64_t)(2 * j + 1) * na);
        order[k] = take_attn ? attn[i++] : ffn[j++];
    }
    /* night t takes the per_night modules after the (t·per_night)-th of the
     * cyclic order: lcm(n, k) slots cover every module lcm/n times */
    r.n_nights = (int32_t)(n_modules / gcd64(n_modules, per_night));
    for (int32_t t = 0; t < r.n_nights; t++)
        for (int32_t j = 0; j < per_night; j++)
            r.nights[t] |= (uint64_t)1 << order[(t * per_night + j) % n_modules];
    zoq_rotation_t checked;
    const int rc = read_rotation(NULL, &r, &checked);
    if (rc != ZOQ_OK)
        return rc;
    *out = r;
    return ZOQ_OK;
}

/* Appends a formatted line to msg (cap bytes), truncating silently. */
static void say(char *msg, size_t cap, const char *fmt, ...)
{
    if (!msg || !cap)
        return;
    const size_t used = strlen(msg);
    if (used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + used, cap - used, fmt, ap);
    va_end(ap);
}

/* Property 1: nights holding modules of both subsystems, against the most
 * the slots allow: min(nights of >= 2 modules, attention slots, FFN slots). */
static int check_interleaving(const zoq_rotation_t *r, char *msg, size_t cap)
{
    if (!r->ffn_mask || r->ffn_mask == all_modules(r->n_modules))
        return 1; /* one subsystem: nothing to interleave */
    int64_t mixed = 0, multi = 0, attn_slots = 0, ffn_slots = 0;
    for (int32_t t = 0; t < r->n_nights; t++) {
        const uint64_t n = r->nights[t];
        mixed += (n & r->ffn_mask) && (n & ~r->ffn_mask);
        multi += popcount64(n) >= 2;
        attn_slots += popcount64(n & ~r->ffn_mask);
        ffn_slots += popcount64(n & r->ffn_mask);
    }
    int64_t possible = multi < attn_slots ? multi : attn_slots;
    possible = possible < ffn_slots ? possible : ffn_slots;
    if (mixed >= possible)
        return 1;
    say(msg, cap, "interleaving: %lld of %d nights train both attention and FFN modules; "
                  "the schedule's slots allow %lld\n", (long long)mixed, r->n_nights,
        (long long)possible);
    return 0;
}

/* Property 2: every module trains on some night. */
static int check_coverage(const zoq_rotation_t *r, char *msg, size_t cap)
{
    uint64_t seen = 0;
    for (int32_t t = 0; t < r->n_nights; t++)
        seen |= r->nights[t];
    const uint64_t missing = all_modules(r->n_modules) & ~seen;
    if (!missing)
        return 1;
    say(msg, cap, "coverage: never trained:");
    for (int32_t m = 0; m < r->n_modules; m++)
        if (missing >> m & 1)
            say(msg, cap, " %s", r->modules[m]);
    say(msg, cap, "\n");
    return 0;
}

/* Index of v among the *n distinct values seen so far, appending it if new. */
static int32_t intern(uint64_t *seen, int32_t *n, uint64_t v)
{
    int32_t k = 0;
    while (k < *n && seen[k] != v)
        k++;
    if (k == *n)
        seen[(*n)++] = v;
    return k;
}

/* lcm(N, P) of a well-formed schedule. */
static int64_t supercycle(const zoq_rotation_t *r)
{
    return r->n_nights / gcd64(r->n_nights, r->n_losses) * r->n_losses;
}

/* Property 4: over lcm(N, P) nights every (module set, loss) pair of the
 * schedule's distinct sets and losses is visited exactly once. */
static int check_supercycle(const zoq_rotation_t *r, char *msg, size_t cap)
{
    uint64_t sets[ZOQ_ROTATION_MAX_NIGHTS], loss_ids[ZOQ_ROTATION_MAX_LOSSES];
    int32_t set_of[ZOQ_ROTATION_MAX_NIGHTS], loss_of[ZOQ_ROTATION_MAX_LOSSES], n_sets = 0,
            n_loss = 0;
    for (int32_t t = 0; t < r->n_nights; t++)
        set_of[t] = intern(sets, &n_sets, r->nights[t]);
    for (int32_t i = 0; i < r->n_losses; i++)
        loss_of[i] = intern(loss_ids, &n_loss, (uint64_t)r->losses[i]);
    const int64_t len = supercycle(r);
    int64_t first[MAX_SUPERCYCLE];
    for (int64_t k = 0; k < (int64_t)n_sets * n_loss; k++)
        first[k] = -1;
    for (int64_t t = 0; t < len; t++) {
        const int64_t k = (int64_t)set_of[t % r->n_nights] * n_loss + loss_of[t % r->n_losses];
        if (first[k] >= 0) {
            say(msg, cap, "supercycle: nights %lld and %lld of the %lld-night supercycle "
                          "train the same modules with the same loss\n",
                (long long)first[k], (long long)t, (long long)len);
            return 0;
        }
        first[k] = t;
    }
    if (len == (int64_t)n_sets * n_loss)
        return 1;
    say(msg, cap, "supercycle: %lld nights visit %lld of the %lld (module set, loss) pairs\n",
        (long long)len, (long long)len, (long long)n_sets * n_loss);
    return 0;
}

int zoq_rotation_check(const zoq_rotation_t *in, uint32_t *failed, char *msg, size_t cap)
{
    zoq_rotation_t rot, *r = &rot;
    zoq_ctx *ctx = NULL;
    const int rc = read_rotation(ctx, in, r);
    if (rc != ZOQ_OK)
        return rc;
    if (!failed)
        return BAD("failed is NULL");
    if (msg && cap)
        msg[0] = 0;
    uint32_t bad = 0;
    if (!check_interleaving(r, msg, cap))
        bad |= ZOQ_ROT_INTERLEAVING;
    if (!check_coverage(r, msg, cap))
        bad |= ZOQ_ROT_COVERAGE;
    const int64_t g = gcd64(r->n_nights, r->n_losses);
    if (g != 1) {
        bad |= ZOQ_ROT_COPRIME;
        say(msg, cap, "coprimality: gcd(%d nights, %d losses) = %lld\n", r->n_nights,
            r->n_losses, (long long)g);
    }
    if (!check_supercycle(r, msg, cap))
        bad |= ZOQ_ROT_SUPERCYCLE;
    *failed = bad;
    return ZOQ_OK;
}

int zoq_rotation_supercycle(const zoq_rotation_t *in, int64_t *out)
{
    zoq_rotation_t r;
    zoq_ctx *ctx = NULL;
    const int rc = read_rotation(ctx, in, &r);
    if (rc != ZOQ_OK)
        return rc;
    if (!out)
        return BAD("out is NULL");
    *out = supercycle(&r);
    return ZOQ_OK;
}

/* zoq_rotation_night with ctx for the message, the schedule read into *r. */
static int night_of(zoq_ctx *ctx, const zoq_rotation_t *in, int64_t night, zoq_rotation_t *r,
                    uint64_t *modules, int32_t *loss)
{
    const int rc = read_rotation(ctx, in, r);
    if (rc != ZOQ_OK)
        return rc;
    if (night < 0)
        return BAD("night %lld < 0", (long long)night);
    if (modules)
        *modules = r->nights[night % r->n_nights];
    if (loss)
        *loss = r->losses[night % r->n_losses];
    return ZOQ_OK;
}

int zoq_rotation_night(const zoq_rotation_t *r, int64_t night, uint64_t *modules,
                       int32_t *loss)
{
    zoq_rotation_t rot;
    return night_of(NULL, r, night, &rot, modules, loss);
}

int zoq_rotation_apply(zoq_ctx *ctx, const zoq_rotation_t *in, int64_t night, int32_t *enabled)
{
    zoq_rotation_t rot, *r = &rot;
    uint64_t on = 0;
    int rc = zoq__check_idle(ctx, "changing the parameters");
    if (rc == ZOQ_OK)
        rc = night_of(ctx, in, night, r, &on, NULL);
    if (rc != ZOQ_OK)
        return rc;
    int32_t count[ZOQ_ROTATION_MAX_MODULES] = {0};
    for (int32_t i = 0; i < ctx->n_params; i++)
        for (int32_t m = 0; m < r->n_modules; m++)
            count[m] += strcmp(ctx->params[i].group, r->modules[m]) == 0;
    for (int32_t m = 0; m < r->n_modules; m++)
        if (!count[m])
            return zoq__fail(ctx, ZOQ_E_NOT_FOUND, "rotation: no parameter in group '%s'",
                             r->modules[m]);
    int32_t n = 0;
    for (int32_t m = 0; m < r->n_modules; m++) {
        const int train = on >> m & 1;
        zoq_group_set_enabled(ctx, r->modules[m], train, NULL);
        n += train ? count[m] : 0;
    }
    if (enabled)
        *enabled = n;
    return ZOQ_OK;
}
