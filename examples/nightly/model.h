/* model.h - the nightly example's model: a residual MLP classifier of the UCI
 * digits whose seven linear maps stand in for a transformer block's seven
 * LoRA targets, and the data it is trained and evaluated on. */
#ifndef NIGHTLY_MODEL_H
#define NIGHTLY_MODEL_H

#include <stdint.h>
#include <zoq.h>

enum {
    N_LAYERS = 7,   /* q_proj k_proj v_proj o_proj gate_proj up_proj down_proj */
    N_IN = 64,      /* 8x8 pixels, 0..16, scaled by 1/16 */
    N_HID = 48,
    N_OUT = 10,
    N_WIDE = N_IN > N_HID ? N_IN : N_HID, /* the widest layer input */
    N_ROWS_MAX = 1797
};

/* layer l: z = W_l a + b_l (+ the adapter); a_1 = relu(z_0),
 * a_{l+1} = a_l + relu(z_l) for l = 1..5, logits = z_6. */
typedef struct model {
    float w[N_LAYERS][N_HID * N_WIDE]; /* out x in, row-major; out <= N_HID */
    float b[N_LAYERS][N_HID];
} model;

int layer_in(int l);
int layer_out(int l);

typedef struct digits {
    int n;
    float x[N_ROWS_MAX][N_IN];
    int y[N_ROWS_MAX];
} digits;

/* Reads the gzip'd CSV (64 pixels then the label per row). 0 on success. */
int digits_load(const char *path, digits *d);

/* Trains m from a seeded initialization by per-sample SGD on rows idx[0..n). */
void model_train(model *m, const digits *d, const int *idx, int n, int epochs, double lr);

/* Logits of the rows rows[0..n) into logits (n x N_OUT) with the adapters
 * (N_LAYERS pairs, or NULL for the base model). 0 on success. */
int model_logits(const model *m, const zoq_lora_t *lora, const digits *d, const int *rows,
                 int n, float *logits);

/* log p(label) from a row of logits, in double, strictly negative. */
double log_prob(const float *logits, int label);

#endif
