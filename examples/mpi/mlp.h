/* mlp.h - the MPI example's model: a 64 -> 32 (tanh) -> 10 MLP classifying
 * the UCI handwritten digits, its f32 tensors trained in place by zoq. */
#ifndef MPI_EXAMPLE_MLP_H
#define MPI_EXAMPLE_MLP_H

#include "support/digits.h"

enum { HID = 32, OUT = 10, BATCH = 128 };

typedef struct mlp {
    float w1[HID * DIGITS_PIXELS], b1[HID];
    float w2[OUT * HID], b2[OUT];
} mlp;

typedef struct digits_set {
    float x[DIGITS_ROWS][DIGITS_PIXELS];
    int y[DIGITS_ROWS];
    int train[DIGITS_ROWS], n_train;    /* rows i % 5 != 0 */
    int test[DIGITS_ROWS], n_test;      /* rows i % 5 == 0 */
} digits_set;

/* Reads the digits and splits them. 0 on success. */
int digits_set_load(digits_set *d, const char *path);
/* A seeded initialization (the same on every rank). */
void mlp_init(mlp *m, unsigned seed);
/* Mean cross-entropy over rows[0..n) in double; accuracy into *acc (may be NULL). */
double mlp_loss(const mlp *m, const digits_set *d, const int *rows, int n, double *acc);
/* Row k of step t's minibatch: a hash of (t, k) into the training rows. */
int minibatch_row(const digits_set *d, unsigned long long t, int k);

#endif
