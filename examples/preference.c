/* preference.c - DPO via zoq's preference objective on a toy model, logp(seq) =
 * Σ_t (w·φ_t − logsumexp_v w·φ_v); a real scorer runs one forward (or one /v1/completions
 * request, echo + logprobs) over all its sequences. Run: build/examples/preference */
#include <math.h>
#include <stdio.h>
#include <zoq.h>
enum { D = 4, V = 8, LEN = 6, PAIRS = 64 }; /* features = parameters, tokens */
static double phi[V][D];        /* token features */
static int tok[2 * PAIRS][LEN]; /* sequence 2i: chosen of pair i, 2i+1: rejected */
static float w[D], w_ref[D];    /* policy (trained) and reference (adapter off) */

static double logp(const float *wp, int64_t seq)
{
    double s[V] = {0}, lse = 0.0, t = 0.0;
    for (int v = 0; v < V; v++) {
        for (int d = 0; d < D; d++)
            s[v] += wp[d] * phi[v][d];
        lse += exp(s[v]);
    }
    for (int k = 0; k < LEN; k++)
        t += s[tok[seq][k]] - log(lse);
    return t;
}
static int scorer(void *user, const zoq_eval_t *ev, const int64_t *seqs, int64_t n,
                  double *logps, double *tokens)
{
    const float *policy = user; /* your engine */
    for (int64_t j = 0; j < n; j++) {
        logps[j] = logp(ev ? policy : w_ref, seqs[j]); /* ev == NULL: the reference */
        tokens[j] = LEN;
    }
    return 0; /* non-zero: the evaluation fails and zoq_step restores w */
}
static int accuracy(void) /* pairs whose chosen side the policy prefers */
{
    int right = 0;
    for (int64_t i = 0; i < PAIRS; i++)
        right += logp(w, ZOQ_PREF_CHOSEN_SEQ(i)) > logp(w, ZOQ_PREF_REJECTED_SEQ(i));
    return right;
}
int main(void)
{
    unsigned r = 12345; /* toy data: an LCG */
#define RND(n) ((r = r * 1103515245u + 12345u) >> 8) % (n)
    for (int v = 0; v < V; v++)
        for (int d = 0; d < D; d++)
            phi[v][d] = RND(1000) / 500.0 - 1.0;
    for (int s = 0; s < 2 * PAIRS; s++) /* chosen: tokens 0-3 only; rejected: any */
        for (int k = 0; k < LEN; k++)
            tok[s][k] = (int)(RND(s % 2 ? V : V / 2));
    for (int d = 0; d < D; d++)
        w[d] = w_ref[d] = d % 2 ? 0.3f : -0.3f;
    zoq_ctx *ctx;
    zoq_pref_objective_t *obj;
    zoq_pref_params_t p;
    zoq_pref_params_default(ZOQ_LOSS_DPO, &p);
    zoq_pref_objective_desc_t desc = {.size = sizeof desc, .params = &p, .n_items = PAIRS,
                                      .scorer = scorer, .scorer_user = w};
    if (zoq_create(&ctx) != ZOQ_OK || zoq_pref_objective_create(&desc, &obj) != ZOQ_OK)
        return 1;
    zoq_param_add(ctx, "w", w, ZOQ_F32, D, NULL);
    zoq_set_double(ctx, ZOQ_OPT_LR, 0.5);
    zoq_set_objective(ctx, zoq_pref_objective_eval, obj);
    const int before = accuracy();
    printf("accuracy before: %d/%d\n", before, PAIRS);
    for (int t = 0; t < 300; t++) {
        int64_t batch[8]; /* minibatch of pair indices */
        for (int k = 0; k < 8; k++)
            batch[k] = (t * 8 + k) % PAIRS;
        zoq_pref_objective_set_batch(obj, batch, 8);
        if (zoq_step(ctx, NULL) != ZOQ_OK || zoq_pref_objective_step_done(obj) != ZOQ_OK)
            return fprintf(stderr, "step: %s\n", zoq_last_error(ctx)), 1;
    }
    const int after = accuracy();
    printf("accuracy after:  %d/%d\n", after, PAIRS);
    zoq_pref_objective_free(obj);
    zoq_destroy(ctx);
    return after > before + PAIRS / 4 ? 0 : 1; /* non-zero: it did not learn */
}
