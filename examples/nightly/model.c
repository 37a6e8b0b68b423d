/* model.c - the example's model: loading the digits, training the base by
 * plain backpropagation (the base model exists before any ZO), and the
 * batched forward pass that adds LoRA adapters with zoq_lora_apply. */
#include "model.h"

#include "support/digits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int layer_in(int l)
{
    return l == 0 ? N_IN : N_HID;
}

int layer_out(int l)
{
    return l == N_LAYERS - 1 ? N_OUT : N_HID;
}

int digits_load(const char *path, digits *d)
{
    d->n = digits_read(path, d->x, d->y) == 0 ? N_ROWS_MAX : 0;
    return d->n ? 0 : -1;
}

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1p-53;
}

/* One sample through the base model, keeping what backpropagation needs. */
static void forward_one(const model *m, const float *x, float a[N_LAYERS + 1][N_WIDE],
                        float z[N_LAYERS][N_HID])
{
    memcpy(a[0], x, N_IN * sizeof(float));
    for (int l = 0; l < N_LAYERS; l++) {
        const int in = layer_in(l), out = layer_out(l);
        for (int o = 0; o < out; o++) {
            float s = m->b[l][o];
            for (int i = 0; i < in; i++)
                s += m->w[l][o * in + i] * a[l][i];
            z[l][o] = s;
        }
        if (l == N_LAYERS - 1)
            break;
        for (int o = 0; o < out; o++)
            a[l + 1][o] = (l ? a[l][o] : 0.0f) + (z[l][o] > 0 ? z[l][o] : 0.0f);
    }
}

void model_train(model *m, const digits *d, const int *idx, int n, int epochs, double lr)
{
    uint64_t s = 20260401;
    memset(m, 0, sizeof *m);
    for (int l = 0; l < N_LAYERS; l++) {
        const int in = layer_in(l), out = layer_out(l);
        const double bound = sqrt(6.0 / (in + out)) * (l && l < N_LAYERS - 1 ? 0.5 : 1.0);
        for (int k = 0; k < in * out; k++)
            m->w[l][k] = (float)(bound * (2.0 * rng_uniform(&s) - 1.0));
    }
    float a[N_LAYERS + 1][N_WIDE], z[N_LAYERS][N_HID], g[N_HID], da[N_HID], nda[N_WIDE];
    for (int e = 0; e < epochs; e++) {
        for (int k = 0; k < n; k++) {
            const int r = idx[(k * 7919 + e * 31) % n]; /* a fixed shuffle per epoch */
            forward_one(m, d->x[r], a, z);
            const float *zl = z[N_LAYERS - 1];
            double mx = zl[0], sum = 0.0;
            for (int o = 1; o < N_OUT; o++)
                mx = fmax(mx, zl[o]);
            for (int o = 0; o < N_OUT; o++)
                sum += exp(zl[o] - mx);
            for (int o = 0; o < N_OUT; o++) /* g = dLoss/dz of the cross-entropy */
                g[o] = (float)(exp(zl[o] - mx) / sum - (o == d->y[r]));
            for (int l = N_LAYERS - 1; l >= 0; l--) {
                const int in = layer_in(l), out = layer_out(l);
                /* nda = dLoss/da_l: the skip a_{l+1} = a_l + relu(z_l) passes
                 * da = dLoss/da_{l+1} through, the linear map adds W_lᵀ g */
                for (int i = 0; i < in; i++)
                    nda[i] = l >= 1 && l <= N_LAYERS - 2 ? da[i] : 0.0f;
                for (int o = 0; o < out; o++) {
                    const float go = g[o];
                    for (int i = 0; i < in; i++) {
                        nda[i] += m->w[l][o * in + i] * go;
                        m->w[l][o * in + i] -= (float)lr * go * a[l][i];
                    }
                    m->b[l][o] -= (float)lr * go;
                }
                if (l == 0)
                    break;
                for (int i = 0; i < in; i++) {
                    g[i] = z[l - 1][i] > 0 ? nda[i] : 0.0f;
                    da[i] = nda[i];
                }
            }
        }
    }
}

int model_logits(const model *m, const zoq_lora_t *lora, const digits *d, const int *rows,
                 int n, float *logits)
{
    float *act = malloc((size_t)n * N_HID * sizeof *act), *z = malloc((size_t)n * N_HID * 4);
    float *x = malloc((size_t)n * N_IN * sizeof *x);
    int rc = act && z && x ? 0 : -1;
    for (int k = 0; k < n && !rc; k++)
        memcpy(x + k * N_IN, d->x[rows[k]], N_IN * sizeof(float));
    for (int l = 0; l < N_LAYERS && !rc; l++) {
        const int in = layer_in(l), out = layer_out(l);
        const float *src = l ? act : x;
        float *dst = l == N_LAYERS - 1 ? logits : z;
        for (int k = 0; k < n; k++)
            for (int o = 0; o < out; o++) {
                float s = m->b[l][o];
                for (int i = 0; i < in; i++)
                    s += m->w[l][o * in + i] * src[k * in + i];
                dst[k * out + o] = s;
            }
        if (lora && zoq_lora_apply(&lora[l], src, n, dst) != ZOQ_OK)
            rc = -1;
        if (l == N_LAYERS - 1)
            break;
        for (int k = 0; k < n * N_HID; k++)
            act[k] = (l ? act[k] : 0.0f) + (z[k] > 0 ? z[k] : 0.0f);
    }
    free(act);
    free(z);
    free(x);
    return rc;
}

double log_prob(const float *logits, int label)
{
    double s = 0.0; /* log p = -log(1 + sum_{j != label} e^(z_j - z_label)) */
    for (int j = 0; j < N_OUT; j++)
        if (j != label)
            s += exp((double)logits[j] - logits[label]);
    const double lp = -log1p(s);
    return lp < -1e-12 ? lp : -1e-12; /* ORPO needs log p < 0: certainty is capped */
}
