/* probe.h - how much of what one ZO step sees is signal (--probe), for any
 * loss evaluated through zoq's ask/tell. The K directions z_k of one ask
 * (K queries) are each measured on M minibatches,
 * g_km = (L_B(θ + εz_k) − L_B(θ − εz_k)) / 2ε ≈ z_kᵀ∇L_B, and the step is
 * cancelled (θ unchanged, the counter too). With ḡ_k and s²_k the mean and
 * sample variance over m:
 *   E[g²] = mean g_km²                 what a single step measures (≈ E‖∇L_B‖²)
 *   σ²_B  = mean_k s²_k                minibatch noise along a direction
 *   ‖G‖²  = mean_k (ḡ_k² − s²_k / M)    unbiased for ‖∇L‖², L the loss over all items
 * Summing T ZO-SGD steps Σ g_t z_t gives signal T‖G‖ against noise of norm
 * sqrt(T (d + 2) E[g²]) (Gaussian z in d dimensions), equal at
 * T* = (d + 2) E[g²] / ‖G‖²; with ‖G‖² not above twice its standard error,
 * T* is reported as the bound from ‖G‖² + 2 SE (from 2 SE if that is <= 0). */
#ifndef ZOQ_EXAMPLES_LLAMA_PROBE_H
#define ZOQ_EXAMPLES_LLAMA_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include <zoq.h>

typedef struct gradient_signal {
    int dirs, batches;
    double eg2, var_b, g2, g2_se, steps_snr1;
} gradient_signal;

/* The caller's loss: batch(user, m) selects minibatch m (before the ask);
 * eval(user, i, &loss) evaluates point i of z's pending step. 0 on success.
 * in_place = 1 (parameters that only zoq_step may move, e.g. QZO's scales in
 * the engine): the points come from a zoq_step whose objective calls eval
 * with the parameters already at point i and stops at the last point
 * (ZOQ_CALLBACK_STOP: θ restored, bit for bit under ZOQ_OPT_EXACT_RESTORE). */
typedef struct probe_loss {
    int (*batch)(void *user, int m);
    int (*eval)(void *user, int32_t point, double *loss);
    void *user;
    int in_place;
} probe_loss;

/* Measures K <= 64 directions on M >= 2 minibatches of a loss over d trained
 * values, then sets z's query count to queries and checks that the step
 * counter did not move. Prints one line. 0 or -1 (message on stderr). */
int probe_run(zoq_ctx *z, int K, int M, int queries, int64_t d, const probe_loss *loss,
              gradient_signal *sig);

/* sig as a JSON object, or null if no probe ran (dirs == 0). */
void probe_json(FILE *f, const gradient_signal *sig);

#endif
