/* test_pref_objective.c - the preference objective end to end: a unigram
 * log-linear language model with a planted optimum is trained with ZO steps
 * through the objective for each of the ten losses, and its held-out
 * preference accuracy must rise significantly; ask/tell mode; scorer errors
 * abandon the step; the reference is scored once per sequence; AERO's state
 * moves once per step; argument checks. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zoq.h"

/* ---- the model ------------------------------------------------------------------ */

#define D 8           /* features = trainable parameters */
#define V 16          /* token types */
#define N_TRAIN 256   /* training pairs */
#define N_EVAL 300    /* held-out pairs */
#define N_PAIRS (N_TRAIN + N_EVAL)
#define MAX_LEN 10
#define BATCH 16      /* pairs per step */
#define STEPS 150

/* A sequence is a run of tokens; logp(seq) = Σ_t (w·φ_t − logsumexp_v w·φ_v),
 * a unigram softmax model. Pair i's two sequences have the same length, the
 * chosen one the higher w*·Σφ_t: w ∝ w* ranks every pair right. */
typedef struct world {
    double phi[V][D];
    double w_star[D];
    float w0[D];                  /* start, orthogonal to w*: ~50% accuracy */
    int len[N_PAIRS];
    int tok[2 * N_PAIRS][MAX_LEN]; /* sequence 2i chosen, 2i+1 rejected */
} world;

typedef struct scorer_state {
    const world *W;
    const float *w;               /* the policy's parameters (zoq's buffer or a copy) */
    float w_ref[D];               /* the reference: the start, frozen */
    long policy_calls, ref_calls, ref_seqs;
    int ref_count[2 * N_PAIRS];   /* times each sequence was scored as reference */
    int fail_at_call;             /* policy call (1-based) that fails; 0 never */
    int fail_code;
    int fail_ref;                 /* 1: the next reference call fails */
    int nan_logp;                 /* 1: report a NaN log-prob */
    int64_t last_n;
} scorer_state;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unif(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) * 0x1.0p-53;
}

static double rng_normal(uint64_t *s)
{
    return sqrt(-2.0 * log(rng_unif(s))) * cos(6.283185307179586 * rng_unif(s));
}

static double seq_dot(const world *W, const double *w, int64_t s)
{
    double t = 0.0;
    for (int k = 0; k < W->len[s / 2]; k++)
        for (int d = 0; d < D; d++)
            t += w[d] * W->phi[W->tok[s][k]][d];
    return t;
}

static void world_init(world *W, uint64_t seed)
{
    memset(W, 0, sizeof *W);
    uint64_t s = seed;
    for (int v = 0; v < V; v++)
        for (int d = 0; d < D; d++)
            W->phi[v][d] = rng_normal(&s);
    double w0[D], dot = 0.0, nn = 0.0, norm = 0.0;
    for (int d = 0; d < D; d++) {
        W->w_star[d] = rng_normal(&s);
        w0[d] = rng_normal(&s);
        nn += W->w_star[d] * W->w_star[d];
        dot += W->w_star[d] * w0[d];
    }
    for (int d = 0; d < D; d++) {
        w0[d] -= dot / nn * W->w_star[d];
        norm += w0[d] * w0[d];
    }
    for (int d = 0; d < D; d++)
        W->w0[d] = (float)(0.5 * w0[d] / sqrt(norm));
    for (int i = 0; i < N_PAIRS; i++) {
        W->len[i] = 4 + (int)(rng_next(&s) % (MAX_LEN - 3));
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < W->len[i]; k++)
                W->tok[2 * i + j][k] = (int)(rng_next(&s) % V);
        if (seq_dot(W, W->w_star, 2 * i) < seq_dot(W, W->w_star, 2 * i + 1)) {
            int tmp[MAX_LEN];
            memcpy(tmp, W->tok[2 * i], sizeof tmp);
            memcpy(W->tok[2 * i], W->tok[2 * i + 1], sizeof tmp);
            memcpy(W->tok[2 * i + 1], tmp, sizeof tmp);
        }
    }
}

/* Summed log-probs and lengths of n sequences under parameters wf. */
static void score_seqs(const world *W, const float *wf, const int64_t *seqs, int64_t n,
                       double *logps, double *tokens)
{
    double w[D], sv[V], mx = -INFINITY, se = 0.0;
    for (int d = 0; d < D; d++)
        w[d] = wf[d];
    for (int v = 0; v < V; v++) {
        sv[v] = 0.0;
        for (int d = 0; d < D; d++)
            sv[v] += w[d] * W->phi[v][d];
        mx = fmax(mx, sv[v]);
    }
    for (int v = 0; v < V; v++)
        se += exp(sv[v] - mx);
    const double lse = mx + log(se);
    for (int64_t j = 0; j < n; j++) {
        const int64_t s = seqs[j];
        double t = 0.0;
        for (int k = 0; k < W->len[s / 2]; k++)
            t += sv[W->tok[s][k]] - lse;
        logps[j] = t;
        tokens[j] = W->len[s / 2];
    }
}

static int scorer(void *user, const zoq_eval_t *ev, const int64_t *seqs, int64_t n,
                  double *logps, double *tokens)
{
    scorer_state *S = user;
    for (int64_t j = 0; j < n; j++)
        cr_assert(seqs[j] >= 0 && seqs[j] < 2 * N_PAIRS, "sequence id %lld",
                  (long long)seqs[j]);
    if (ev == NULL) {
        S->ref_calls++;
        if (S->fail_ref) {
            S->fail_ref = 0;
            return 42;
        }
        S->ref_seqs += n;
        for (int64_t j = 0; j < n; j++)
            S->ref_count[seqs[j]]++;
        score_seqs(S->W, S->w_ref, seqs, n, logps, tokens);
        return 0;
    }
    S->policy_calls++;
    S->last_n = n;
    if (S->policy_calls == S->fail_at_call)
        return S->fail_code;
    score_seqs(S->W, S->w, seqs, n, logps, tokens);
    if (S->nan_logp)
        logps[0] = NAN;
    return 0;
}

/* Held-out preference accuracy of parameters w: pairs with π_c > π_r. */
static zoq_pref_eval_t heldout(const world *W, const float *w)
{
    int64_t seqs[2 * N_EVAL];
    double lp[2 * N_EVAL], tk[2 * N_EVAL];
    for (int i = 0; i < N_EVAL; i++) {
        seqs[i] = ZOQ_PREF_CHOSEN_SEQ(N_TRAIN + i);
        seqs[N_EVAL + i] = ZOQ_PREF_REJECTED_SEQ(N_TRAIN + i);
    }
    score_seqs(W, w, seqs, 2 * N_EVAL, lp, tk);
    zoq_pref_eval_t e = {.size = sizeof e};
    cr_assert_eq(zoq_pref_evaluate(lp, lp + N_EVAL, N_EVAL, &e), ZOQ_OK);
    return e;
}

/* ---- fixture: world, scorer, context, objective ------------------------------------ */

typedef struct fixture {
    world W;
    scorer_state S;
    float w[D];
    zoq_ctx *ctx;
    zoq_pref_objective_t *obj;
    zoq_pref_aero_t *aero;
    int loss;
    int paired;
} fixture;

static fixture *fixture_new(int loss, const zoq_pref_params_t *params)
{
    fixture *f = calloc(1, sizeof *f);
    cr_assert(f != NULL);
    world_init(&f->W, 0x5eedull);
    memcpy(f->w, f->W.w0, sizeof f->w);
    f->S.W = &f->W;
    f->S.w = f->w;
    memcpy(f->S.w_ref, f->W.w0, sizeof f->S.w_ref);
    f->loss = loss;
    f->paired = loss != ZOQ_LOSS_KTO && loss != ZOQ_LOSS_GRPO && loss != ZOQ_LOSS_AERO;

    /* Unpaired losses see every sequence as an item: 2i chosen (label 1,
     * reward 1), 2i+1 rejected (label 0, reward 0), group i. */
    static int32_t labels[2 * N_PAIRS];
    static int64_t groups[2 * N_PAIRS];
    static double rewards[2 * N_PAIRS];
    for (int s = 0; s < 2 * N_PAIRS; s++) {
        labels[s] = s % 2 == 0;
        groups[s] = s / 2;
        rewards[s] = s % 2 == 0 ? 1.0 : 0.0;
    }
    zoq_pref_params_t p;
    cr_assert_eq(zoq_pref_params_default(loss, &p), ZOQ_OK);
    if (params != NULL)
        p = *params;
    if (loss == ZOQ_LOSS_AERO)
        cr_assert_eq(zoq_pref_aero_create(ZOQ_PREF_AERO_DECAY_DEFAULT, &f->aero), ZOQ_OK);
    zoq_pref_objective_desc_t d = {.size = sizeof d, .params = &p,
                                   .n_items = f->paired ? N_PAIRS : 2 * N_PAIRS,
                                   .scorer = scorer, .scorer_user = &f->S, .labels = labels,
                                   .group_ids = groups, .rewards = rewards, .aero = f->aero};
    cr_assert_eq(zoq_pref_objective_create(&d, &f->obj), ZOQ_OK);

    cr_assert_eq(zoq_create(&f->ctx), ZOQ_OK);
    cr_assert_eq(zoq_param_add(f->ctx, "w", f->w, ZOQ_F32, D, NULL), ZOQ_OK);
    cr_assert_eq(zoq_set_int(f->ctx, ZOQ_OPT_SEED, 7), ZOQ_OK);
    cr_assert_eq(zoq_set_int(f->ctx, ZOQ_OPT_QUERIES, 4), ZOQ_OK);
    cr_assert_eq(zoq_set_double(f->ctx, ZOQ_OPT_EPS, 1e-2), ZOQ_OK);
    return f;
}

static void fixture_free(fixture *f)
{
    zoq_destroy(f->ctx);
    zoq_pref_objective_free(f->obj);
    zoq_pref_aero_free(f->aero);
    free(f);
}

/* Minibatch of step t: BATCH consecutive training pairs (cyclic); for the
 * unpaired losses both sequences of each pair, group by group. */
static void set_step_batch(fixture *f, int t)
{
    int64_t items[2 * BATCH];
    int m = 0;
    for (int k = 0; k < BATCH; k++) {
        const int64_t pair = (t * BATCH + k) % N_TRAIN;
        if (f->paired) {
            items[m++] = pair;
        } else {
            items[m++] = ZOQ_PREF_CHOSEN_SEQ(pair);
            items[m++] = ZOQ_PREF_REJECTED_SEQ(pair);
        }
    }
    cr_assert_eq(zoq_pref_objective_set_batch(f->obj, items, m), ZOQ_OK);
}

/* ---- end to end, every loss ------------------------------------------------------------ */

typedef struct e2e_case {
    int loss;
    double lr;
} e2e_case;

ParameterizedTestParameters(pref_objective, trains_every_loss)
{
    /* Learning rates scaled to each loss's gradient size at the start. */
    static e2e_case cases[] = {
        {ZOQ_LOSS_DPO, 0.3},  {ZOQ_LOSS_IPO, 0.01},  {ZOQ_LOSS_SIMPO, 0.03},
        {ZOQ_LOSS_CPO, 0.3},  {ZOQ_LOSS_ORPO, 0.1},  {ZOQ_LOSS_KTO, 0.3},
        {ZOQ_LOSS_RPO, 0.3},  {ZOQ_LOSS_SPPO, 0.001}, {ZOQ_LOSS_GRPO, 0.1},
        {ZOQ_LOSS_AERO, 0.1}};
    return cr_make_param_array(e2e_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(e2e_case *c, pref_objective, trains_every_loss)
{
    fixture *f = fixture_new(c->loss, NULL);
    const char *name = zoq_pref_loss_name(c->loss);
    cr_assert_eq(zoq_set_double(f->ctx, ZOQ_OPT_LR, c->lr), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(f->ctx, zoq_pref_objective_eval, f->obj), ZOQ_OK);
    const zoq_pref_eval_t before = heldout(&f->W, f->w);
    for (int t = 0; t < STEPS; t++) {
        set_step_batch(f, t);
        zoq_report_t rep = {.size = sizeof rep};
        cr_assert_eq(zoq_step(f->ctx, &rep), ZOQ_OK, "%s step %d: %s", name, t,
                     zoq_last_error(f->ctx));
        cr_assert_eq(zoq_pref_objective_step_done(f->obj), ZOQ_OK);
    }
    const zoq_pref_eval_t after = heldout(&f->W, f->w);
    double z, p;
    cr_assert_eq(zoq_stats_ztest_2prop(before.correct, N_EVAL, after.correct, N_EVAL, &z, &p),
                 ZOQ_OK);
    cr_log_info("%-5s held-out accuracy %.3f -> %.3f, z = %.2f, p = %.2g", name,
                before.accuracy, after.accuracy, z, p);
    cr_expect(z > 0.0 && p < 0.01, "%s: accuracy %.3f -> %.3f, p = %g", name, before.accuracy,
              after.accuracy, p);
    fixture_free(f);
}

/* ---- ask/tell ---------------------------------------------------------------------------- */

Test(pref_objective, ask_tell_trains_dpo)
{
    fixture *f = fixture_new(ZOQ_LOSS_DPO, NULL);
    cr_assert_eq(zoq_set_double(f->ctx, ZOQ_OPT_LR, 0.3), ZOQ_OK);
    float engine[D]; /* the caller's engine holds the point being evaluated */
    f->S.w = engine;
    const zoq_pref_eval_t before = heldout(&f->W, f->w);
    double loss;
    cr_assert_eq(zoq_pref_objective_eval_point(f->obj, f->ctx, 0, &loss), ZOQ_E_STATE);
    for (int t = 0; t < STEPS; t++) {
        set_step_batch(f, t);
        const zoq_point_t *pts;
        int32_t n;
        double losses[16];
        cr_assert_eq(zoq_ask(f->ctx, &pts, &n), ZOQ_OK);
        cr_assert(n <= 16);
        cr_assert_eq(zoq_pref_objective_eval_point(f->obj, f->ctx, n, &loss), ZOQ_E_INVALID);
        for (int i = n - 1; i >= 0; i--) { /* any order */
            cr_assert_eq(zoq_materialize(f->ctx, i, 0, engine), ZOQ_OK);
            cr_assert_eq(zoq_pref_objective_eval_point(f->obj, f->ctx, i, &losses[i]), ZOQ_OK);
        }
        cr_assert_eq(zoq_tell(f->ctx, losses, n, NULL), ZOQ_OK);
        cr_assert_eq(zoq_pref_objective_step_done(f->obj), ZOQ_OK);
    }
    const zoq_pref_eval_t after = heldout(&f->W, f->w);
    double z, p;
    zoq_stats_ztest_2prop(before.correct, N_EVAL, after.correct, N_EVAL, &z, &p);
    cr_log_info("ask/tell dpo: held-out accuracy %.3f -> %.3f, p = %.2g", before.accuracy,
                after.accuracy, p);
    cr_expect(z > 0.0 && p < 0.01, "accuracy %.3f -> %.3f, p = %g", before.accuracy,
              after.accuracy, p);
    fixture_free(f);
}

/* ---- failures ------------------------------------------------------------------------------- */

Test(pref_objective, scorer_error_abandons_step_and_restores)
{
    fixture *f = fixture_new(ZOQ_LOSS_DPO, NULL);
    cr_assert_eq(zoq_set_double(f->ctx, ZOQ_OPT_LR, 0.3), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(f->ctx, zoq_pref_objective_eval, f->obj), ZOQ_OK);
    set_step_batch(f, 0);
    float saved[D];
    memcpy(saved, f->w, sizeof saved);
    f->S.fail_at_call = 3;
    f->S.fail_code = -77;
    zoq_report_t rep = {.size = sizeof rep};
    cr_assert_eq(zoq_step(f->ctx, &rep), ZOQ_E_CALLBACK);
    cr_expect_eq(rep.callback_status, -77);
    cr_expect_eq(rep.failed_point, 2);
    for (int d = 0; d < D; d++)
        cr_expect(fabsf(f->w[d] - saved[d]) <= 1e-6f, "w[%d] %g, was %g", d, f->w[d], saved[d]);
    uint64_t step;
    zoq_get_step(f->ctx, &step);
    cr_expect_eq(step, 0);

    /* ZOQ_CALLBACK_STOP from the scorer stops the run. */
    f->S.policy_calls = 0;
    f->S.fail_at_call = 1;
    f->S.fail_code = ZOQ_CALLBACK_STOP;
    cr_expect_eq(zoq_step(f->ctx, &rep), ZOQ_STOPPED);

    /* Output the loss refuses (a NaN log-prob) fails the step too. */
    f->S.fail_at_call = 0;
    f->S.nan_logp = 1;
    cr_expect_eq(zoq_step(f->ctx, &rep), ZOQ_E_CALLBACK);
    cr_expect_eq(rep.callback_status, ZOQ_E_INVALID);
    f->S.nan_logp = 0;
    cr_expect_eq(zoq_step(f->ctx, &rep), ZOQ_OK);
    fixture_free(f);
}

Test(pref_objective, failed_reference_call_caches_nothing)
{
    fixture *f = fixture_new(ZOQ_LOSS_IPO, NULL);
    set_step_batch(f, 0);
    zoq_eval_t ev = {.size = sizeof ev, .query = -1};
    double loss;
    f->S.fail_ref = 1;
    cr_assert_eq(zoq_pref_objective_eval(f->obj, &ev, &loss), 42);
    cr_expect_eq(f->S.policy_calls, 0, "no policy scoring after a failed reference");
    cr_assert_eq(zoq_pref_objective_eval(f->obj, &ev, &loss), ZOQ_OK);
    cr_expect_eq(f->S.ref_calls, 2);
    cr_expect_eq(f->S.ref_seqs, 2 * BATCH, "retried whole");
    fixture_free(f);
}

/* ---- the reference is scored once per sequence ------------------------------------------- */

Test(pref_objective, reference_scored_once_per_sequence)
{
    fixture *f = fixture_new(ZOQ_LOSS_DPO, NULL);
    cr_assert_eq(zoq_set_double(f->ctx, ZOQ_OPT_LR, 0.3), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(f->ctx, zoq_pref_objective_eval, f->obj), ZOQ_OK);
    /* Overlapping minibatches (stride BATCH/2), one with a repeated pair. */
    const int steps = 12;
    for (int t = 0; t < steps; t++) {
        int64_t items[BATCH + 1];
        for (int k = 0; k < BATCH; k++)
            items[k] = t * BATCH / 2 + k;
        items[BATCH] = items[0];
        cr_assert_eq(zoq_pref_objective_set_batch(f->obj, items, BATCH + (t == 3)), ZOQ_OK);
        zoq_report_t rep = {.size = sizeof rep};
        cr_assert_eq(zoq_step(f->ctx, &rep), ZOQ_OK);
    }
    const int seen = (steps - 1) * BATCH / 2 + BATCH; /* pairs 0 .. seen-1 */
    for (int s = 0; s < 2 * N_PAIRS; s++)
        cr_expect_eq(f->S.ref_count[s], s < 2 * seen ? 1 : 0, "sequence %d scored %d times", s,
                     f->S.ref_count[s]);
    cr_expect_eq(f->S.ref_calls, steps, "one reference call per step with new sequences");
    cr_expect_eq(f->S.policy_calls, steps * 8, "one policy call per evaluation");
    cr_expect_eq(f->S.last_n, 2 * BATCH, "all sequences of an evaluation in one call");

    /* Losses without a reference never ask for one. */
    fixture *g = fixture_new(ZOQ_LOSS_SIMPO, NULL);
    set_step_batch(g, 0);
    zoq_eval_t ev = {.size = sizeof ev, .query = -1};
    double loss;
    cr_assert_eq(zoq_pref_objective_eval(g->obj, &ev, &loss), ZOQ_OK);
    cr_expect_eq(g->S.ref_calls, 0);
    fixture_free(g);
    fixture_free(f);
}

/* ---- the loss equals the loss function on the scorer's outputs ---------------------------- */

Test(pref_objective, loss_and_diagnostics_match_direct_evaluation)
{
    for (int loss = 0; loss < ZOQ_PREF_LOSS_COUNT; loss++) {
        fixture *f = fixture_new(loss, NULL);
        zoq_pref_result_t r = {.size = sizeof r};
        cr_expect_eq(zoq_pref_objective_last(f->obj, &r), ZOQ_E_STATE);
        set_step_batch(f, 3);
        zoq_eval_t ev = {.size = sizeof ev, .query = -1};
        double got;
        cr_assert_eq(zoq_pref_objective_eval(f->obj, &ev, &got), ZOQ_OK, "%d", loss);

        /* The same batch gathered by hand, sequence by sequence. */
        const int m = f->paired ? BATCH : 2 * BATCH;
        int64_t cs[2 * BATCH], rs[BATCH], grp[2 * BATCH];
        int32_t lab[2 * BATCH];
        double pc[2 * BATCH], lc[2 * BATCH], refc[2 * BATCH], pr[BATCH], lr[BATCH],
            refr[BATCH], rew[2 * BATCH];
        for (int k = 0; k < m; k++) {
            const int64_t pair = 3 * BATCH + (f->paired ? k : k / 2);
            cs[k] = f->paired ? ZOQ_PREF_CHOSEN_SEQ(pair) : 2 * pair + k % 2;
            rs[k % BATCH] = ZOQ_PREF_REJECTED_SEQ(pair);
            lab[k] = cs[k] % 2 == 0;
            rew[k] = lab[k];
            grp[k] = pair;
        }
        score_seqs(&f->W, f->w, cs, m, pc, lc);
        score_seqs(&f->W, f->W.w0, cs, m, refc, lc);
        score_seqs(&f->W, f->w, rs, BATCH, pr, lr);
        score_seqs(&f->W, f->W.w0, rs, BATCH, refr, lr);
        zoq_pref_params_t p;
        zoq_pref_params_default(loss, &p);
        zoq_pref_batch_t b = {.size = sizeof b, .n = m, .chosen_logps = pc,
                              .chosen_tokens = lc, .ref_chosen_logps = refc,
                              .rejected_logps = pr, .rejected_tokens = lr,
                              .ref_rejected_logps = refr, .labels = lab, .group_ids = grp,
                              .rewards = rew};
        if (loss == ZOQ_LOSS_GRPO || loss == ZOQ_LOSS_AERO)
            b.ref_chosen_logps = NULL; /* β = 0: no reference, no KL */
        zoq_pref_result_t want = {.size = sizeof want};
        cr_assert_eq(zoq_pref_loss_eval(&p, &b, f->aero, &want), ZOQ_OK);
        cr_expect_eq(got, want.loss, "%s: loss %.17g, want %.17g", zoq_pref_loss_name(loss),
                     got, want.loss);
        double items[4];
        r.item_losses = items;
        cr_assert_eq(zoq_pref_objective_last(f->obj, &r), ZOQ_OK);
        cr_expect(r.item_losses == items && r.advantages == NULL, "array pointers kept");
        cr_expect_eq(r.loss, want.loss);
        cr_expect_eq(r.margin, want.margin, "%s margin", zoq_pref_loss_name(loss));
        cr_expect(r.reward_accuracy == want.reward_accuracy ||
                  (isnan(r.reward_accuracy) && isnan(want.reward_accuracy)),
                  "%s accuracy", zoq_pref_loss_name(loss));
        cr_expect_eq(r.reward_chosen, want.reward_chosen);
        cr_expect_eq(r.kl, want.kl);
        fixture_free(f);
    }
}

/* ---- AERO: the baseline moves once per step, not per evaluation --------------------------- */

Test(pref_objective, aero_state_updates_once_per_step)
{
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_AERO, &p);
    p.beta = 0.05; /* the KL term: the reference is needed too */
    fixture *f = fixture_new(ZOQ_LOSS_AERO, &p);
    cr_assert_eq(zoq_set_double(f->ctx, ZOQ_OPT_LR, 0.1), ZOQ_OK);
    cr_assert_eq(zoq_set_objective(f->ctx, zoq_pref_objective_eval, f->obj), ZOQ_OK);
    int64_t items[3] = {0, 1, 2}; /* rewards 1, 0, 1 */
    cr_assert_eq(zoq_pref_objective_set_batch(f->obj, items, 3), ZOQ_OK);
    double b, v;
    int64_t count;
    for (int t = 0; t < 3; t++) {
        zoq_report_t rep = {.size = sizeof rep};
        cr_assert_eq(zoq_step(f->ctx, &rep), ZOQ_OK);
        zoq_pref_aero_get(f->aero, NULL, &b, &v, &count);
        cr_expect_eq(count, t, "evaluations leave the state alone");
        cr_assert_eq(zoq_pref_objective_step_done(f->obj), ZOQ_OK);
        zoq_pref_aero_get(f->aero, NULL, &b, &v, &count);
        cr_expect_eq(count, t + 1);
    }
    /* From the update rule (docs/preference.md) with batch mean 2/3 every
     * step: b stays 2/3, v stays the batch's own 2/9. */
    cr_expect(fabs(b - 2.0 / 3.0) < 1e-15 && fabs(v - 2.0 / 9.0) < 1e-15, "b %g v %g", b, v);
    zoq_pref_result_t r = {.size = sizeof r};
    cr_assert_eq(zoq_pref_objective_last(f->obj, &r), ZOQ_OK);
    cr_expect(r.kl > 0.0, "KL against the scored reference, got %g", r.kl);
    cr_expect(fabs(r.baseline - 2.0 / 3.0) < 1e-15);
    fixture_free(f);
}

/* ---- argument checks ------------------------------------------------------------------------ */

Test(pref_objective, argument_checks)
{
    scorer_state S = {0};
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_KTO, &p);
    int32_t labels[2] = {1, 0};
    zoq_pref_objective_desc_t d = {.size = sizeof d, .params = &p, .n_items = 2,
                                   .scorer = scorer, .scorer_user = &S, .labels = labels};
    zoq_pref_objective_t *o = NULL;
    cr_expect_eq(zoq_pref_objective_create(NULL, &o), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_create(&d, NULL), ZOQ_E_INVALID);
    d.size = sizeof d - 1;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID);
    d.size = sizeof d;
    d.scorer = NULL;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID);
    d.scorer = scorer;
    d.n_items = 0;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID);
    d.n_items = 2;
    labels[1] = 2;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID, "KTO label 2");
    labels[1] = 0;
    d.labels = NULL;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID, "KTO without labels");
    d.labels = labels;
    d.kto_z0 = NAN;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID);
    d.kto_z0 = 0.0;
    p.beta = -1.0;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID, "bad params");
    zoq_pref_params_default(ZOQ_LOSS_AERO, &p);
    double rewards[2] = {1.0, NAN};
    d.rewards = rewards;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID, "non-finite reward");
    rewards[1] = 0.0;
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID, "AERO without state");
    d.rewards = NULL;
    zoq_pref_params_default(ZOQ_LOSS_GRPO, &p);
    cr_expect_eq(zoq_pref_objective_create(&d, &o), ZOQ_E_INVALID, "GRPO without rewards");
    cr_expect(o == NULL, "nothing created");

    zoq_pref_params_default(ZOQ_LOSS_DPO, &p);
    cr_assert_eq(zoq_pref_objective_create(&d, &o), ZOQ_OK);
    zoq_eval_t ev = {.size = sizeof ev};
    double loss = -1.0;
    cr_expect_eq(zoq_pref_objective_eval(o, &ev, &loss), ZOQ_E_STATE, "no minibatch yet");
    cr_expect_eq(zoq_pref_objective_step_done(o), ZOQ_E_STATE);
    int64_t items[2] = {0, 2};
    cr_expect_eq(zoq_pref_objective_set_batch(o, items, 2), ZOQ_E_INVALID, "item 2 of 2");
    items[1] = -1;
    cr_expect_eq(zoq_pref_objective_set_batch(o, items, 2), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_set_batch(o, items, 0), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_set_batch(o, NULL, 1), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_set_batch(NULL, items, 1), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_set_batch(o, items, 1), ZOQ_OK);
    cr_expect_eq(zoq_pref_objective_eval(NULL, &ev, &loss), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_eval(o, NULL, &loss), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_eval(o, &ev, NULL), ZOQ_E_INVALID);
    cr_expect_eq(loss, -1.0, "nothing written");
    cr_expect_eq(zoq_pref_objective_step_done(NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_step_done(o), ZOQ_OK, "no-op for DPO");
    zoq_pref_result_t r = {.size = sizeof r - 1};
    cr_expect_eq(zoq_pref_objective_last(o, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_last(NULL, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_pref_objective_eval_point(o, NULL, 0, &loss), ZOQ_E_INVALID);
    zoq_pref_objective_free(o);
    zoq_pref_objective_free(NULL);
}
