/* mlp.c - forward pass and loss of the MPI example's MLP (mlp.h). */
#include <math.h>
#include <stdint.h>

#include "mlp.h"

int digits_set_load(digits_set *d, const char *path)
{
    if (digits_read(path, d->x, d->y) != 0)
        return -1;
    d->n_train = d->n_test = 0;
    for (int i = 0; i < DIGITS_ROWS; i++) {
        if (i % 5 == 0)
            d->test[d->n_test++] = i;
        else
            d->train[d->n_train++] = i;
    }
    return 0;
}

static uint64_t mix(uint64_t x) /* splitmix64's finalizer */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void mlp_init(mlp *m, unsigned seed)
{
    /* uniform in [-a, a], a = sqrt(3 / fan_in): unit-variance pre-activations */
    for (int i = 0; i < HID * DIGITS_PIXELS; i++)
        m->w1[i] = (float)((mix(seed * 1000003ull + i) >> 11) * 0x1p-53 * 2 - 1) * 0.2165f;
    for (int i = 0; i < OUT * HID; i++)
        m->w2[i] = (float)((mix(seed * 7919ull + 1000000 + i) >> 11) * 0x1p-53 * 2 - 1) * 0.3062f;
    for (int i = 0; i < HID; i++)
        m->b1[i] = 0.0f;
    for (int i = 0; i < OUT; i++)
        m->b2[i] = 0.0f;
}

int minibatch_row(const digits_set *d, unsigned long long t, int k)
{
    return d->train[mix(t * BATCH + (uint64_t)k + 0x9e3779b97f4a7c15ull) % (uint64_t)d->n_train];
}

double mlp_loss(const mlp *m, const digits_set *d, const int *rows, int n, double *acc)
{
    double sum = 0.0;
    int right = 0;
    for (int r = 0; r < n; r++) {
        const float *x = d->x[rows[r]];
        float h[HID];
        double z[OUT], zmax = -INFINITY;
        for (int j = 0; j < HID; j++) {
            float s = m->b1[j];
            for (int i = 0; i < DIGITS_PIXELS; i++)
                s += m->w1[j * DIGITS_PIXELS + i] * x[i];
            h[j] = tanhf(s);
        }
        int best = 0;
        for (int k = 0; k < OUT; k++) {
            float s = m->b2[k];
            for (int j = 0; j < HID; j++)
                s += m->w2[k * HID + j] * h[j];
            z[k] = s;
            if (z[k] > zmax)
                zmax = z[k], best = k;
        }
        double se = 0.0;
        for (int k = 0; k < OUT; k++)
            se += exp(z[k] - zmax);
        sum += log(se) + zmax - z[d->y[rows[r]]];
        right += best == d->y[rows[r]];
    }
    if (acc)
        *acc = (double)right / n;
    return sum / n;
}
