/* objective.c - the preference objective: a caller's scorer (engine forward,
 * or a server's echo+logprobs) turned into a ZO loss for any of the ten
 * losses. Each evaluation scores every policy sequence of the minibatch in
 * one scorer call; reference log-probs are scored once per sequence id and
 * cached. Nothing allocates during an evaluation (buffers are sized when the
 * minibatch is set), so the objective is safe inside zoq_step.
 * Guide: docs/preference.md, "The objective". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "pref.h"

enum { REF_NONE = 0, REF_CACHED = 1, REF_LISTED = 2 };

/* Per-minibatch buffers, one allocation. Pairwise losses: ns = 2m sequences,
 * ordered [chosen of every item..., rejected of every item...], so the
 * chosen and rejected halves of logps/tokens/ref are the batch's arrays. */
typedef struct batch_bufs {
    int64_t m, ns;
    int64_t *items;     /* m */
    int64_t *seqs;      /* ns: the policy scorer call */
    int64_t *ref_list;  /* ns: the uncached reference ids of one evaluation */
    int64_t *groups;    /* m */
    double *logps;      /* ns */
    double *tokens;     /* ns */
    double *ref;        /* ns: cached reference, gathered */
    double *rewards;    /* m */
    int32_t *labels;    /* m */
} batch_bufs;

struct zoq_pref_objective {
    zoq_pref_params_t params;
    int64_t n_items, n_seqs;
    int paired;         /* item i = sequences 2i, 2i+1 */
    int needs_ref;
    zoq_pref_scorer_fn scorer;
    void *scorer_user;
    double kto_z0;
    int32_t *labels;    /* KTO: n_items */
    int64_t *group_ids; /* GRPO/AERO: n_items, or NULL */
    double *rewards;    /* GRPO/AERO: n_items */
    zoq_pref_aero_t *aero;
    double *ref;        /* n_seqs cached reference log-probs */
    unsigned char *ref_state; /* n_seqs REF_* */
    batch_bufs b;
    void *b_mem;        /* owns every pointer of b; NULL: no minibatch yet */
    int has_last;
    zoq_pref_result_t last;
};

static int is_group_loss(int loss)
{
    return loss == ZOQ_LOSS_GRPO || loss == ZOQ_LOSS_AERO;
}

static int loss_needs_ref(const zoq_pref_params_t *p)
{
    switch (p->loss) {
    case ZOQ_LOSS_DPO:
    case ZOQ_LOSS_IPO:
    case ZOQ_LOSS_KTO:
    case ZOQ_LOSS_RPO:
    case ZOQ_LOSS_SPPO: return 1;
    case ZOQ_LOSS_GRPO:
    case ZOQ_LOSS_AERO: return p->beta > 0.0; /* the KL term */
    default: return 0;
    }
}

/* A copy of n elements of `size` bytes, or NULL on allocation failure. */
static void *dup_array(const void *src, int64_t n, size_t size)
{
    void *d = malloc((size_t)n * size);
    if (d != NULL)
        memcpy(d, src, (size_t)n * size);
    return d;
}

/* Reads the caller's desc `in` into *d and its params into *p (fields their
 * versions do not have take their defaults) and checks them. */
static int read_desc(const zoq_pref_objective_desc_t *in, zoq_pref_objective_desc_t *d,
                     zoq_pref_params_t *p)
{
    memset(d, 0, sizeof *d);
    ZOQ__PREF_TRY(zoq__sized_in(NULL, "desc", d, in, sizeof *d));
    if (d->params == NULL || d->scorer == NULL)
        return zoq__pref_bad("desc.%s is NULL", d->params == NULL ? "params" : "scorer");
    ZOQ__PREF_TRY(zoq_pref_params_check(d->params));
    ZOQ__PREF_TRY(zoq__pref_params_in(d->params, p));
    const int64_t n = d->n_items;
    if (n <= 0 || n > INT64_MAX / 2 / (int64_t)sizeof(double))
        return zoq__pref_bad("desc.n_items = %lld must be > 0 (and addressable)", (long long)n);
    const int L = p->loss;
    if (L == ZOQ_LOSS_KTO) {
        if (d->labels == NULL)
            return zoq__pref_bad("kto: desc.labels is NULL");
        if (!isfinite(d->kto_z0))
            return zoq__pref_bad("kto: desc.kto_z0 = %g is not finite", d->kto_z0);
        for (int64_t i = 0; i < n; i++)
            if (d->labels[i] != 0 && d->labels[i] != 1)
                return zoq__pref_bad("kto: desc.labels[%lld] = %d must be 0 or 1",
                                     (long long)i, (int)d->labels[i]);
    }
    if (is_group_loss(L))
        ZOQ__PREF_TRY(zoq__pref_need("desc.rewards", d->rewards, n, 0));
    if (L == ZOQ_LOSS_AERO && d->aero == NULL)
        return zoq__pref_bad("aero: desc.aero (the AERO state) is NULL");
    return ZOQ_OK;
}

int zoq_pref_objective_create(const zoq_pref_objective_desc_t *desc_in,
                              zoq_pref_objective_t **out)
{
    if (desc_in == NULL || out == NULL)
        return zoq__pref_bad("zoq_pref_objective_create: %s is NULL",
                             desc_in == NULL ? "desc" : "out");
    zoq_pref_objective_desc_t dv;
    zoq_pref_params_t pv;
    ZOQ__PREF_TRY(read_desc(desc_in, &dv, &pv));
    const zoq_pref_objective_desc_t *desc = &dv;
    zoq_pref_objective_t *o = calloc(1, sizeof *o);
    if (o == NULL)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "objective: out of memory");
    const int L = pv.loss;
    o->params = pv;
    o->n_items = desc->n_items;
    o->paired = L != ZOQ_LOSS_KTO && !is_group_loss(L);
    o->n_seqs = o->paired ? 2 * o->n_items : o->n_items;
    o->needs_ref = loss_needs_ref(&o->params);
    o->scorer = desc->scorer;
    o->scorer_user = desc->scorer_user;
    o->kto_z0 = desc->kto_z0;
    o->aero = L == ZOQ_LOSS_AERO ? desc->aero : NULL;
    int nomem = 0;
    if (L == ZOQ_LOSS_KTO)
        nomem |= (o->labels = dup_array(desc->labels, o->n_items, sizeof *o->labels)) == NULL;
    if (is_group_loss(L)) {
        nomem |= (o->rewards = dup_array(desc->rewards, o->n_items, sizeof *o->rewards)) == NULL;
        if (desc->group_ids != NULL)
            nomem |= (o->group_ids = dup_array(desc->group_ids, o->n_items,
                                               sizeof *o->group_ids)) == NULL;
    }
    if (o->needs_ref) {
        nomem |= (o->ref = malloc((size_t)o->n_seqs * sizeof *o->ref)) == NULL;
        nomem |= (o->ref_state = calloc((size_t)o->n_seqs, 1)) == NULL;
    }
    if (nomem) {
        zoq_pref_objective_free(o);
        return zoq__fail(NULL, ZOQ_E_NOMEM, "objective: out of memory for %lld items",
                         (long long)desc->n_items);
    }
    *out = o;
    return ZOQ_OK;
}

void zoq_pref_objective_free(zoq_pref_objective_t *obj)
{
    if (obj == NULL)
        return;
    free(obj->labels);
    free(obj->group_ids);
    free(obj->rewards);
    free(obj->ref);
    free(obj->ref_state);
    free(obj->b_mem);
    free(obj);
}

/* Carves the buffers of a minibatch of m items out of one allocation. */
static void *batch_alloc(const zoq_pref_objective_t *o, int64_t m, batch_bufs *b)
{
    const int64_t ns = o->paired ? 2 * m : m;
    const size_t n8 = (size_t)(m + ns + ns + m) * sizeof(int64_t) +
                      (size_t)(ns + ns + ns + m) * sizeof(double);
    char *mem = malloc(n8 + (size_t)m * sizeof(int32_t));
    if (mem == NULL)
        return NULL;
    char *p = mem;
#define CARVE(field, count)                       \
    do {                                          \
        b->field = (void *)p;                     \
        p += (size_t)(count) * sizeof *b->field;  \
    } while (0)
    CARVE(items, m);
    CARVE(seqs, ns);
    CARVE(ref_list, ns);
    CARVE(groups, m);
    CARVE(logps, ns);
    CARVE(tokens, ns);
    CARVE(ref, ns);
    CARVE(rewards, m);
    CARVE(labels, m);
#undef CARVE
    b->m = m;
    b->ns = ns;
    return mem;
}

int zoq_pref_objective_set_batch(zoq_pref_objective_t *obj, const int64_t *items, int64_t m)
{
    if (obj == NULL || items == NULL)
        return zoq__pref_bad("zoq_pref_objective_set_batch: %s is NULL",
                             obj == NULL ? "obj" : "items");
    if (m <= 0 || m > INT64_MAX / 64)
        return zoq__pref_bad("minibatch: m = %lld items, must be > 0", (long long)m);
    for (int64_t j = 0; j < m; j++)
        if (items[j] < 0 || items[j] >= obj->n_items)
            return zoq__pref_bad("minibatch: items[%lld] = %lld is outside [0, n_items = %lld)",
                                 (long long)j, (long long)items[j], (long long)obj->n_items);
    batch_bufs b;
    void *mem = batch_alloc(obj, m, &b);
    if (mem == NULL)
        return zoq__fail(NULL, ZOQ_E_NOMEM, "minibatch: out of memory for %lld items",
                         (long long)m);
    for (int64_t j = 0; j < m; j++) {
        const int64_t it = items[j];
        b.items[j] = it;
        if (obj->paired) {
            b.seqs[j] = ZOQ_PREF_CHOSEN_SEQ(it);
            b.seqs[m + j] = ZOQ_PREF_REJECTED_SEQ(it);
        } else {
            b.seqs[j] = it;
        }
        b.labels[j] = obj->labels != NULL ? obj->labels[it] : 0;
        b.rewards[j] = obj->rewards != NULL ? obj->rewards[it] : 0.0;
        b.groups[j] = obj->group_ids != NULL ? obj->group_ids[it] : 0;
    }
    free(obj->b_mem);
    obj->b_mem = mem;
    obj->b = b;
    return ZOQ_OK;
}

/* Scores the minibatch's uncached reference sequences in one call (each id
 * once, even if listed twice) and gathers the batch's reference into b.ref. */
static int ensure_reference(zoq_pref_objective_t *o)
{
    batch_bufs *b = &o->b;
    int64_t k = 0;
    for (int64_t j = 0; j < b->ns; j++) {
        const int64_t s = b->seqs[j];
        if (o->ref_state[s] == REF_NONE) {
            o->ref_state[s] = REF_LISTED;
            b->ref_list[k++] = s;
        }
    }
    if (k > 0) {
        int rc = o->scorer(o->scorer_user, NULL, b->ref_list, k, b->logps, b->tokens);
        if (rc == 0)
            rc = zoq__pref_need("the scorer's reference log-probs", b->logps, k, 0);
        for (int64_t i = 0; i < k; i++) {
            const int64_t s = b->ref_list[i];
            o->ref_state[s] = rc == 0 ? REF_CACHED : REF_NONE;
            if (rc == 0)
                o->ref[s] = b->logps[i];
        }
        if (rc != 0)
            return rc;
    }
    for (int64_t j = 0; j < b->ns; j++)
        b->ref[j] = o->ref[b->seqs[j]];
    return ZOQ_OK;
}

/* The loss batch over the scored minibatch. */
static void make_batch(const zoq_pref_objective_t *o, zoq_pref_batch_t *pb)
{
    const batch_bufs *b = &o->b;
    memset(pb, 0, sizeof *pb);
    pb->size = sizeof *pb;
    pb->n = b->m;
    pb->chosen_logps = b->logps;
    pb->chosen_tokens = b->tokens;
    pb->ref_chosen_logps = o->needs_ref ? b->ref : NULL;
    if (o->paired) {
        pb->rejected_logps = b->logps + b->m;
        pb->rejected_tokens = b->tokens + b->m;
        pb->ref_rejected_logps = o->needs_ref ? b->ref + b->m : NULL;
    }
    pb->labels = b->labels;
    pb->kto_z0 = o->kto_z0;
    pb->group_ids = o->group_ids != NULL ? b->groups : NULL;
    pb->rewards = b->rewards;
}

int zoq_pref_objective_eval(void *obj, const zoq_eval_t *ev, double *loss)
{
    zoq_pref_objective_t *o = obj;
    if (o == NULL || ev == NULL || loss == NULL)
        return zoq__pref_bad("zoq_pref_objective_eval: %s is NULL",
                             o == NULL ? "obj" : ev == NULL ? "ev" : "loss");
    if (o->b_mem == NULL)
        return zoq__fail(NULL, ZOQ_E_STATE, "objective: no minibatch; call "
                         "zoq_pref_objective_set_batch first");
    int rc;
    if (o->needs_ref && (rc = ensure_reference(o)) != 0)
        return rc;
    batch_bufs *b = &o->b;
    if ((rc = o->scorer(o->scorer_user, ev, b->seqs, b->ns, b->logps, b->tokens)) != 0)
        return rc;
    zoq_pref_batch_t pb;
    make_batch(o, &pb);
    zoq_pref_result_t r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    if ((rc = zoq_pref_loss_eval(&o->params, &pb, o->aero, &r)) != ZOQ_OK)
        return rc;
    o->last = r;
    o->has_last = 1;
    *loss = r.loss;
    return ZOQ_OK;
}

int zoq_pref_objective_eval_point(zoq_pref_objective_t *obj, zoq_ctx *ctx, int32_t point,
                                  double *loss)
{
    if (obj == NULL || ctx == NULL || loss == NULL)
        return zoq__pref_bad("zoq_pref_objective_eval_point: %s is NULL",
                             obj == NULL ? "obj" : ctx == NULL ? "ctx" : "loss");
    const int rc = zoq__check_pending_point(ctx, point);
    if (rc != ZOQ_OK)
        return rc;
    if (obj->b_mem == NULL) /* ZOQ_E_STATE is ctx's to explain here */
        return zoq__fail(ctx, ZOQ_E_STATE, "objective: no minibatch; call "
                         "zoq_pref_objective_set_batch first");
    zoq_eval_t ev;
    zoq__eval_info(ctx, point, &ev);
    return zoq_pref_objective_eval(obj, &ev, loss);
}

int zoq_pref_objective_step_done(zoq_pref_objective_t *obj)
{
    if (obj == NULL)
        return zoq__pref_bad("zoq_pref_objective_step_done: obj is NULL");
    if (obj->b_mem == NULL)
        return zoq__fail(NULL, ZOQ_E_STATE, "objective: no minibatch; call "
                         "zoq_pref_objective_set_batch first");
    if (obj->aero == NULL)
        return ZOQ_OK;
    return zoq_pref_aero_update(obj->aero, obj->b.rewards, obj->b.m);
}

int zoq_pref_objective_last(const zoq_pref_objective_t *obj, zoq_pref_result_t *out)
{
    if (obj == NULL || out == NULL)
        return zoq__pref_bad("zoq_pref_objective_last: %s is NULL", obj == NULL ? "obj" : "out");
    ZOQ__PREF_TRY(zoq__sized_out_ok(NULL, "out", out, sizeof *out));
    if (!obj->has_last)
        return zoq__fail(NULL, ZOQ_E_STATE, "objective: no evaluation has succeeded yet");
    zoq_pref_result_t r = obj->last, mine = {.size = sizeof mine};
    zoq__sized_peek(&mine, out, sizeof mine); /* the caller's array pointers stay */
    r.item_losses = mine.item_losses;
    r.advantages = mine.advantages;
    zoq__sized_out(out, &r, sizeof r);
    return ZOQ_OK;
}
