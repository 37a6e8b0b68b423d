/* quantized.c - fine-tuning a quantized network from forward passes alone.
 * A 64-32-10 ReLU MLP on UCI digits (1797 8x8 images; 898 train, 449
 * validation, 450 test) gets a short first-order warm start in f32 (one epoch
 * of SGD: ZO from scratch would take minutes, and a fully trained net loses
 * nothing to INT4 g=32 here, which leaves nothing to recover — see
 * docs/quantized.md), is quantized to INT4 g=32 (zoq's GPTQ-like format) and
 * INT8 per row, and each method then spends the same budget of forward passes
 * on minibatches of the training set:
 *   mezo-f32    reference: plain ZO-SGD on the unquantized f32 weights
 *   qzo         the scales trained, codes fixed (Shang et al. 2025, arXiv:2505.13430; DDC C = 100 on)
 *   quzo        codes trained, two roundings u1/u2 (Zhou et al. 2025, eq. 8, 8 bits)
 *   quzo-naive  codes trained, one rounding (Zhou et al. 2025, eq. 3)
 *   quzo-acc8   quzo with one update (one rounding) per 8 steps' directions
 *   zoqo        codes trained, {-m..m} noise, sign updates (Bar & Giryes 2025, arXiv:2501.06736)
 * Each method's lr (ZOQO: eps) is picked from a 5-point grid by validation
 * accuracy of seed 0; then 5 seeds run. Prints test accuracy before and after
 * quantization and after each method (median, min, max); writes
 * bench/results/quantized.json and .md. Usage: quantized [steps] [data.csv.gz] */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/digits.h"
#include "timing.h"
#include "zoq.h"

#define DIGITS "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
#define NMAX DIGITS_ROWS
#define IN DIGITS_PIXELS
#define HID 32
#define OUT 10
#define BATCH 100
#define SEEDS 5
#define GRID 5
#define WARM_EPOCHS 1

static float X[NMAX][IN];
static int Y[NMAX];
static int train[NMAX], val[NMAX], test[NMAX], n_train, n_val, n_test;

static double uniform(unsigned long long *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

/* The digits (tests/support/digits.h), split 1:1:2 into test, validation and
 * training rows by index. */
static int load_digits(const char *path)
{
    if (digits_read(path, X, Y) != 0)
        return -1;
    for (int i = 0; i < NMAX; i++) {
        if (i % 4 == 0)
            test[n_test++] = i;
        else if (i % 4 == 1)
            val[n_val++] = i;
        else
            train[n_train++] = i;
    }
    return 0;
}

/* The network as f32 weights (rows = outputs). Biases stay f32 and fixed
 * after quantization. */
typedef struct net {
    float w1[HID * IN], b1[HID], w2[OUT * HID], b2[OUT];
} net;

/* Cross-entropy of example i (and whether it is classified right). */
static double example_loss(const net *m, int i, int *right)
{
    float h[HID], o[OUT];
    for (int r = 0; r < HID; r++) {
        float s = m->b1[r];
        for (int j = 0; j < IN; j++)
            s += m->w1[r * IN + j] * X[i][j];
        h[r] = s > 0.0f ? s : 0.0f;
    }
    float mx = -INFINITY;
    int arg = 0;
    for (int r = 0; r < OUT; r++) {
        float s = m->b2[r];
        for (int j = 0; j < HID; j++)
            s += m->w2[r * HID + j] * h[j];
        o[r] = s;
        if (s > mx) {
            mx = s;
            arg = r;
        }
    }
    double z = 0.0;
    for (int r = 0; r < OUT; r++)
        z += exp((double)(o[r] - mx));
    if (right)
        *right = arg == Y[i];
    return log(z) - (double)(o[Y[i]] - mx);
}

/* Accuracy on a set; its mean cross-entropy to *loss (may be NULL). */
static double accuracy(const net *m, const int *set, int n, double *loss)
{
    int right, ok = 0;
    double sum = 0.0;
    for (int k = 0; k < n; k++) {
        sum += example_loss(m, set[k], &right);
        ok += right;
    }
    if (loss)
        *loss = sum / n;
    return (double)ok / n;
}

/* First-order warm start: SGD with backprop, WARM_EPOCHS epochs. */
static void train_f32(net *m)
{
    unsigned long long s = 12345;
    for (int k = 0; k < HID * IN; k++)
        m->w1[k] = (float)((uniform(&s) - 0.5) * 2.0 * sqrt(6.0 / IN));
    for (int k = 0; k < OUT * HID; k++)
        m->w2[k] = (float)((uniform(&s) - 0.5) * 2.0 * sqrt(6.0 / HID));
    memset(m->b1, 0, sizeof m->b1);
    memset(m->b2, 0, sizeof m->b2);
    const float lr = 0.01f;
    for (int epoch = 0; epoch < WARM_EPOCHS; epoch++) {
        for (int k = 0; k < n_train; k++) {
            const int i = train[(int)(uniform(&s) * n_train)];
            float h[HID], o[OUT], dh[HID] = {0};
            for (int r = 0; r < HID; r++) {
                float a = m->b1[r];
                for (int j = 0; j < IN; j++)
                    a += m->w1[r * IN + j] * X[i][j];
                h[r] = a > 0.0f ? a : 0.0f;
            }
            float mx = -INFINITY, z = 0.0f;
            for (int r = 0; r < OUT; r++) {
                o[r] = m->b2[r];
                for (int j = 0; j < HID; j++)
                    o[r] += m->w2[r * HID + j] * h[j];
                mx = o[r] > mx ? o[r] : mx;
            }
            for (int r = 0; r < OUT; r++)
                z += (o[r] = expf(o[r] - mx));
            for (int r = 0; r < OUT; r++) {
                const float d = o[r] / z - (r == Y[i]);
                for (int j = 0; j < HID; j++) {
                    dh[j] += d * m->w2[r * HID + j];
                    m->w2[r * HID + j] -= lr * d * h[j];
                }
                m->b2[r] -= lr * d;
            }
            for (int r = 0; r < HID; r++) {
                if (h[r] <= 0.0f)
                    continue;
                for (int j = 0; j < IN; j++)
                    m->w1[r * IN + j] -= lr * dh[r] * X[i][j];
                m->b1[r] -= lr * dh[r];
            }
        }
    }
}

/* A quantized layer: the matrix, and for INT4 the codes unpacked to int8
 * (what QuZO/ZOQO train; packed into m.codes before each forward pass). */
typedef struct qlayer {
    zoq_qmatrix_t m;
    int8_t *unpacked;
} qlayer;

typedef struct qnet {
    qlayer l[2];
    const net *f32;             /* biases */
    net deq;                    /* scratch: the dequantized weights */
    net *mezo;                  /* mezo-f32: the f32 weights trained instead */
    unsigned long long perm_seed;
} qnet;

static void qlayer_init(qlayer *q, int format, int rows, int cols, const float *w)
{
    size_t cb, sb, zb;
    const int g = format == ZOQ_QFORMAT_INT4_GROUP ? 32 : 0;
    zoq_qmatrix_sizes(format, rows, cols, g, &cb, &sb, &zb);
    q->m = (zoq_qmatrix_t){.size = sizeof q->m, .format = format, .group_size = g,
                           .rows = rows, .cols = cols, .codes = malloc(cb),
                           .scales = malloc(sb), .zeros = zb ? malloc(zb) : NULL};
    zoq_qmatrix_quantize(w, &q->m);
    q->unpacked = NULL;
    if (format == ZOQ_QFORMAT_INT4_GROUP) {
        q->unpacked = malloc((size_t)rows * cols);
        zoq_q4_unpack(q->m.codes, (size_t)rows * cols, (uint8_t *)q->unpacked);
    }
}

static size_t qlayer_bytes(const qlayer *q, int what)
{
    size_t b[3];
    zoq_qmatrix_sizes(q->m.format, q->m.rows, q->m.cols, q->m.group_size, &b[0], &b[1], &b[2]);
    return b[what];
}

static void qlayer_copy(qlayer *dst, const qlayer *src)
{
    memcpy(dst->m.codes, src->m.codes, qlayer_bytes(src, 0));
    memcpy(dst->m.scales, src->m.scales, qlayer_bytes(src, 1));
    if (src->unpacked)
        memcpy(dst->unpacked, src->unpacked, (size_t)(src->m.rows * src->m.cols));
}

static void qlayer_free(qlayer *q)
{
    free(q->m.codes);
    free(q->m.scales);
    free(q->m.zeros);
    free(q->unpacked);
}

static void dequantize(qnet *qn)
{
    for (int k = 0; k < 2; k++)
        if (qn->l[k].unpacked)
            zoq_q4_pack((const uint8_t *)qn->l[k].unpacked,
                        (size_t)(qn->l[k].m.rows * qn->l[k].m.cols), qn->l[k].m.codes);
    zoq_qmatrix_dequantize(&qn->l[0].m, qn->deq.w1);
    zoq_qmatrix_dequantize(&qn->l[1].m, qn->deq.w2);
    memcpy(qn->deq.b1, qn->f32->b1, sizeof qn->deq.b1);
    memcpy(qn->deq.b2, qn->f32->b2, sizeof qn->deq.b2);
}

/* The objective: mean cross-entropy on the step's minibatch, drawn from
 * (run seed, step) so every point of a step sees the same examples. */
static int objective(void *user, const zoq_eval_t *ev, double *loss)
{
    qnet *qn = user;
    const net *m = qn->mezo;
    if (!m) {
        dequantize(qn);
        m = &qn->deq;
    }
    unsigned long long s = qn->perm_seed ^ (ev->step * 0x9E3779B97F4A7C15ull);
    double sum = 0.0;
    for (int k = 0; k < BATCH; k++)
        sum += example_loss(m, train[(int)(uniform(&s) * n_train)], NULL);
    *loss = sum / BATCH;
    return 0;
}

enum { M_MEZO, M_QZO, M_QUZO, M_NAIVE, M_QUZO_ACC, M_ZOQO, N_METHODS };
static const char *method_names[N_METHODS] = {"mezo-f32", "qzo",      "quzo",
                                              "quzo-naive", "quzo-acc8", "zoqo"};

/* Median scale of the network: the code step eps and lr are set against. */
static double median_scale(const qnet *qn)
{
    double v[512];
    int n = 0;
    for (int k = 0; k < 2; k++) {
        size_t ns = qlayer_bytes(&qn->l[k], 1) / sizeof(float);
        for (size_t i = 0; i < ns && n < 512; i++)
            v[n++] = qn->l[k].m.scales[i];
    }
    return median(v, n);
}

/* lr (ZOQO: eps) multipliers of the grid, and the fixed other one. */
static const double grid[N_METHODS][GRID] = {
    {1e-3, 3e-3, 1e-2, 3e-2, 1e-1}, /* mezo lr (eps 1e-3) */
    {0.03, 0.1, 0.3, 1.0, 3.0},     /* qzo lr / s² (eps s/50; s the median scale) */
    {1e-3, 3e-3, 1e-2, 3e-2, 1e-1}, /* quzo lr (eps 2 median code steps) */
    {1e-3, 3e-3, 1e-2, 3e-2, 1e-1}, /* naive lr */
    {1e-3, 3e-3, 1e-2, 3e-2, 1e-1}, /* quzo-acc8 lr */
    {1.0, 2.0, 3.0, 4.0, 6.0},      /* zoqo eps in median code steps (lr: one code step) */
};

/* One recovery run from the quantized start `q0`; returns the network
 * (dequantized) in qn->deq. */
static void run(qnet *qn, const qnet *q0, int method, double knob, int seed, int steps)
{
    for (int k = 0; k < 2; k++)
        qlayer_copy(&qn->l[k], &q0->l[k]);
    const double s = median_scale(q0);
    static net f32;
    f32 = *q0->f32;
    qn->mezo = method == M_MEZO ? &f32 : NULL;
    zoq_ctx *ctx;
    zoq_create(&ctx);
    zoq_set_int(ctx, ZOQ_OPT_SEED, seed);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, 1);
    qn->perm_seed = 0xC0FFEEull + (unsigned long long)seed;
    const char *names[2] = {"w1", "w2"};
    for (int k = 0; k < 2; k++) {
        qlayer *l = &qn->l[k];
        if (method == M_MEZO) {
            zoq_param_add(ctx, names[k], k ? f32.w2 : f32.w1, ZOQ_F32, l->m.rows * l->m.cols,
                          NULL);
        } else if (method == M_QZO) {
            zoq_param_add_qscales(ctx, names[k], &l->m, NULL);
        } else if (!l->unpacked) {
            zoq_param_add_qcodes(ctx, names[k], &l->m, NULL);
        } else {
            int32_t id;
            zoq_param_add(ctx, names[k], l->unpacked, ZOQ_I8, l->m.rows * l->m.cols, &id);
            zoq_param_set_codes(ctx, id, 0, 15, l->m.scales, l->m.group_size);
        }
    }
    if (method == M_MEZO) {
        zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-3);
        zoq_set_double(ctx, ZOQ_OPT_LR, knob);
    } else if (method == M_QZO) { /* d L / d s ~ (1/s) Σ w ∂L/∂w: lr scales as s² */
        zoq_set_double(ctx, ZOQ_OPT_EPS, s / 50.0);
        zoq_set_double(ctx, ZOQ_OPT_LR, knob * s * s);
    } else if (method == M_ZOQO) {
        zoq_set_int(ctx, ZOQ_OPT_QMETHOD, ZOQ_QMETHOD_ZOQO);
        zoq_set_double(ctx, ZOQ_OPT_EPS, knob * s);
        zoq_set_double(ctx, ZOQ_OPT_LR, s);
    } else {
        zoq_set_int(ctx, ZOQ_OPT_QMETHOD,
                    method == M_NAIVE ? ZOQ_QMETHOD_QUZO_NAIVE : ZOQ_QMETHOD_QUZO);
        zoq_set_int(ctx, ZOQ_OPT_ACCUMULATE, method == M_QUZO_ACC ? 8 : 1);
        zoq_set_double(ctx, ZOQ_OPT_EPS, 2.0 * s);
        zoq_set_double(ctx, ZOQ_OPT_LR, knob);
    }
    zoq_set_objective(ctx, objective, qn);
    for (int t = 0; t < steps; t++) {
        int rc = zoq_step(ctx, NULL);
        if (rc != ZOQ_OK) {
            fprintf(stderr, "%s: %s\n", method_names[method], zoq_last_error(ctx));
            break;
        }
    }
    zoq_destroy(ctx);
    if (qn->mezo)
        qn->deq = *qn->mezo;
    else
        dequantize(qn);
    qn->mezo = NULL;
}

typedef struct result {
    double before, after, med[N_METHODS], lo[N_METHODS], hi[N_METHODS], knob[N_METHODS];
    double loss_before, loss_after, loss_med[N_METHODS];
} result;

static void qnet_init(qnet *qn, int format, const net *f32)
{
    qlayer_init(&qn->l[0], format, HID, IN, f32->w1);
    qlayer_init(&qn->l[1], format, OUT, HID, f32->w2);
    qn->f32 = f32;
    qn->mezo = NULL;
}

/* One format's row; mezo-f32 does not depend on it: copied from `prev` when given. */
static void bench_format(int format, const net *f32, int steps, const result *prev, result *res)
{
    qnet q0, qn;
    qnet_init(&q0, format, f32);
    qnet_init(&qn, format, f32);
    dequantize(&q0);
    res->before = accuracy(f32, test, n_test, &res->loss_before);
    res->after = accuracy(&q0.deq, test, n_test, &res->loss_after);
    for (int m = 0; m < N_METHODS; m++) {
        if (m == M_MEZO && prev) {
            res->med[m] = prev->med[m];
            res->lo[m] = prev->lo[m];
            res->hi[m] = prev->hi[m];
            res->knob[m] = prev->knob[m];
            res->loss_med[m] = prev->loss_med[m];
            continue;
        }
        double best = -1.0;
        for (int k = 0; k < GRID; k++) {
            run(&qn, &q0, m, grid[m][k], 0, steps);
            double a = accuracy(&qn.deq, val, n_val, NULL);
            if (a > best) {
                best = a;
                res->knob[m] = grid[m][k];
            }
        }
        double acc[SEEDS], loss[SEEDS];
        for (int seed = 0; seed < SEEDS; seed++) {
            run(&qn, &q0, m, res->knob[m], 100 + seed, steps);
            acc[seed] = accuracy(&qn.deq, test, n_test, &loss[seed]);
        }
        res->loss_med[m] = median(loss, SEEDS);
        res->lo[m] = res->hi[m] = acc[0];
        for (int seed = 1; seed < SEEDS; seed++) {
            res->lo[m] = acc[seed] < res->lo[m] ? acc[seed] : res->lo[m];
            res->hi[m] = acc[seed] > res->hi[m] ? acc[seed] : res->hi[m];
        }
        res->med[m] = median(acc, SEEDS);
    }
    for (int k = 0; k < 2; k++) {
        qlayer_free(&q0.l[k]);
        qlayer_free(&qn.l[k]);
    }
}

int main(int argc, char **argv)
{
    const int steps = argc > 1 ? atoi(argv[1]) : 1500;
    const char *path = argc > 2 ? argv[2] : DIGITS;
    if (steps < 1 || load_digits(path) != 0) {
        fprintf(stderr, "usage: quantized [steps >= 1] [digits.csv.gz]; cannot read %s\n", path);
        return 2;
    }
    double t0 = now();
    static net f32;
    train_f32(&f32);
    const int formats[2] = {ZOQ_QFORMAT_INT4_GROUP, ZOQ_QFORMAT_INT8_ROW};
    const char *fnames[2] = {"int4 g=32", "int8 row"};
    result res[2];
    for (int f = 0; f < 2; f++)
        bench_format(formats[f], &f32, steps, f ? &res[0] : NULL, &res[f]);
    const double secs = now() - t0;

    FILE *md = fopen("bench/results/quantized.md", "w");
    FILE *js = fopen("bench/results/quantized.json", "w");
    FILE *outs[2] = {stdout, md};
    for (int o = 0; o < 2; o++) {
        FILE *out = outs[o];
        if (!out)
            continue;
        fprintf(out, "Test accuracy (%d digits), %d steps = %d forward passes of %d examples "
                     "per method, %d seeds: median [min, max]\n\n", n_test, steps, 2 * steps,
                BATCH, SEEDS);
        fprintf(out, "| format | f32 | quantized |");
        for (int m = 0; m < N_METHODS; m++)
            fprintf(out, " %s |", method_names[m]);
        fprintf(out, "\n|---|---|---|---|---|---|---|---|---|\n");
        for (int f = 0; f < 2; f++) {
            fprintf(out, "| %s | %.3f | %.3f |", fnames[f], res[f].before, res[f].after);
            for (int m = 0; m < N_METHODS; m++)
                fprintf(out, " %.3f [%.3f, %.3f] |", res[f].med[m], res[f].lo[m], res[f].hi[m]);
            fprintf(out, "\n");
        }
        fprintf(out, "\nTest cross-entropy (median over seeds)\n\n| format | f32 | quantized |");
        for (int m = 0; m < N_METHODS; m++)
            fprintf(out, " %s |", method_names[m]);
        fprintf(out, "\n|---|---|---|---|---|---|---|---|---|\n");
        for (int f = 0; f < 2; f++) {
            fprintf(out, "| %s | %.4f | %.4f |", fnames[f], res[f].loss_before,
                    res[f].loss_after);
            for (int m = 0; m < N_METHODS; m++)
                fprintf(out, " %.4f |", res[f].loss_med[m]);
            fprintf(out, "\n");
        }
        fprintf(out, "\nPicked on validation (seed 0):");
        for (int f = 0; f < 2; f++)
            for (int m = 0; m < N_METHODS; m++)
                fprintf(out, " %s/%s %s %g;", fnames[f], method_names[m],
                        m == M_ZOQO ? "eps/s" : m == M_QZO ? "lr/s²" : "lr", res[f].knob[m]);
        fprintf(out, "\n\n(%.1f s in all)\n", secs);
    }
    if (js) {
        fprintf(js, "{\"bench\": \"quantized\", \"steps\": %d, \"batch\": %d, \"seeds\": %d, "
                    "\"seconds\": %.1f, \"formats\": [", steps, BATCH, SEEDS, secs);
        for (int f = 0; f < 2; f++) {
            fprintf(js, "%s{\"format\": \"%s\", \"f32\": %.4f, \"quantized\": %.4f, "
                        "\"f32_loss\": %.4f, \"quantized_loss\": %.4f, \"methods\": {",
                    f ? ", " : "", fnames[f], res[f].before, res[f].after, res[f].loss_before,
                    res[f].loss_after);
            for (int m = 0; m < N_METHODS; m++)
                fprintf(js, "%s\"%s\": {\"median\": %.4f, \"min\": %.4f, \"max\": %.4f, "
                            "\"loss_median\": %.4f, \"knob\": %g}", m ? ", " : "",
                        method_names[m], res[f].med[m], res[f].lo[m], res[f].hi[m],
                        res[f].loss_med[m], res[f].knob[m]);
            fprintf(js, "}}");
        }
        fprintf(js, "]}\n");
    }
    if (md)
        fclose(md);
    if (js)
        fclose(js);
    return 0;
}
