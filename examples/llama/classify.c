/* classify.c - label-word classification (classify.h). */
#define _POSIX_C_SOURCE 200809L
#include "classify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* templ with CLS_SLOT replaced by s, in a new string. */
static char *fill(const char *templ, const char *s)
{
    const char *at = strstr(templ, CLS_SLOT);
    if (at == NULL)
        return NULL;
    const size_t a = (size_t)(at - templ), ls = strlen(s);
    const char *rest = at + strlen(CLS_SLOT);
    char *out = malloc(a + ls + strlen(rest) + 1);
    if (out != NULL) {
        memcpy(out, templ, a);
        memcpy(out + a, s, ls);
        strcpy(out + a + ls, rest);
    }
    return out;
}

int cls_add(lm_engine *e, const cls_prompt *p, const char *const *sentences, size_t n,
            int32_t max_prompt, size_t *first)
{
    char **txt = calloc(n ? n : 1, sizeof *txt);
    const char **w0 = malloc(sizeof *w0 * (n ? n : 1)), **w1 = malloc(sizeof *w1 * (n ? n : 1));
    int rc = txt == NULL || w0 == NULL || w1 == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        txt[i] = fill(p->templ, sentences[i]);
        w0[i] = p->word[0];
        w1[i] = p->word[1];
        rc = txt[i] == NULL ? -1 : 0;
    }
    *first = e->n_pairs;
    const int special = e->parse_special;
    e->parse_special = p->special;
    /* generous completion cap: a label word keeps all its tokens */
    if (rc == 0)
        rc = lm_add_pairs(e, (const char *const *)txt, w0, w1, n, max_prompt, 16);
    e->parse_special = special;
    for (size_t i = 0; txt != NULL && i < n; i++)
        free(txt[i]);
    free(txt);
    free(w0);
    free(w1);
    return rc;
}

int cls_score(lm_engine *e, const size_t *ex, size_t n, double *lp)
{
    int64_t *seqs = malloc(sizeof *seqs * (n ? 2 * n : 1));
    double *tok = malloc(sizeof *tok * (n ? 2 * n : 1));
    int rc = seqs == NULL || tok == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        seqs[2 * i] = 2 * (int64_t)ex[i];
        seqs[2 * i + 1] = 2 * (int64_t)ex[i] + 1;
    }
    if (rc == 0)
        rc = lm_score(e, seqs, (int64_t)(2 * n), lp, tok);
    free(seqs);
    free(tok);
    return rc;
}

int cls_score_range(lm_engine *e, size_t first, size_t n, size_t chunk, double *lp)
{
    size_t ex[256];
    if (chunk == 0 || chunk > 256)
        return -1;
    for (size_t i = 0, calls = 0; i < n; i += chunk, calls++) {
        const size_t m = n - i < chunk ? n - i : chunk;
        for (size_t j = 0; j < m; j++)
            ex[j] = first + i + j;
        if (cls_score(e, ex, m, lp + 2 * i) != 0)
            return -1;
        if (calls % 20 == 19)
            fputc('.', stderr);
    }
    return 0;
}

/* log(1 + exp(x)) without overflow */
static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

void cls_eval(const double *lp, const int32_t *y, size_t n, double b, double *loss,
              int64_t *correct, uint8_t *right)
{
    double l = 0.0;
    int64_t c = 0;
    for (size_t i = 0; i < n; i++) {
        const double m = lp[2 * i + 1] + b - lp[2 * i]; /* log-odds of class 1 */
        l += y[i] ? softplus(-m) : softplus(m);
        const int ok = y[i] ? m > 0 : m < 0;
        c += ok;
        if (right != NULL)
            right[i] = (uint8_t)ok;
    }
    *loss = n ? l / (double)n : 0.0;
    *correct = c;
}

double cls_fit_bias(const double *lp, const int32_t *y, size_t n)
{
    double b = 0.0;
    for (int it = 0; it < 100; it++) {
        double g = 0.0, h = 0.0;
        for (size_t i = 0; i < n; i++) {
            const double p1 = 1.0 / (1.0 + exp(-(lp[2 * i + 1] + b - lp[2 * i])));
            g += p1 - y[i];
            h += p1 * (1.0 - p1);
        }
        if (h <= 0.0)
            break;
        const double step = g / h;
        b = fmax(-50.0, fmin(50.0, b - step));
        if (fabs(step) < 1e-12)
            break;
    }
    return b;
}

/* Rows of the check's decode: at least 64, the query rows at which ggml-cpu's
 * flash attention used to switch to a tiled kernel (F32 instead of F16
 * accumulation) that moved label-word log-probs by up to 0.4 nats. */
#define CHECK_MIN_ROWS 64

static int check_fail(const char *what)
{
    fprintf(stderr, "classify check: %s\n", what);
    return -1;
}

int cls_check(const char *model_path, int threads, const cls_prompt *p)
{
    static const char *const s[] = {"a gorgeous , witty , seductive movie .",
                                    "the plot is nothing but boilerplate clichés .",
                                    "an intelligent , moving and invigorating film .",
                                    "it 's a dull , lifeless mess .",
                                    "the performances are uniformly excellent .",
                                    "a tedious exercise in tired formula ."};
    static const int32_t y[] = {1, 0, 1, 0, 1, 0};
    enum { N = sizeof s / sizeof *s };
    size_t first, ex[N];
    int64_t seqs[2 * N];
    double lp[2 * N], ref[2 * N], loss, worst = 0.0;
    int64_t correct;
    lm_engine e;
    int rc = lm_open(&e, model_path, threads, 512, 2 * N) != 0 ||
                     cls_add(&e, p, s, N, 64, &first) != 0
                 ? check_fail("opening the model, tokenizing")
                 : 0;
    for (size_t i = 0; i < N; i++) {
        ex[i] = first + i;
        seqs[2 * i] = 2 * (int64_t)ex[i];
        seqs[2 * i + 1] = seqs[2 * i] + 1;
    }
    const int64_t rows = rc == 0 ? lm_tokens_needed(&e, seqs, 2 * N) : 0;
    const int64_t decodes = e.n_decodes;
    if (rc == 0 && (rows < CHECK_MIN_ROWS || cls_score(&e, ex, N, lp) != 0 ||
                    e.n_decodes != decodes + 1))
        rc = check_fail("one decode of >= 64 rows");
    /* each sequence alone (lm_reference_logp): the batch must not matter */
    for (int64_t j = 0; rc == 0 && j < 2 * N; j++) {
        if (lm_reference_logp(&e, seqs[j], &ref[j]) != 0)
            rc = check_fail("reference decode");
        else if (!(lp[j] < 0.0))
            rc = check_fail("a log-prob >= 0");
        worst = fmax(worst, fabs(lp[j] - ref[j]));
    }
    if (rc == 0)
        printf("check: sst2 label words of %d sentences in one decode of %lld rows against "
               "each sequence decoded alone: max |diff| %.2e (first: scorer %.6f, reference "
               "%.6f)\n", N, (long long)rows, worst, lp[0], ref[0]);
    /* 1e-6 nats: log-softmax in float against double; a kernel that depends
     * on the batch moves these log-probs by 1e-2 to 0.4 */
    if (rc == 0 && !(worst <= 1e-6))
        rc = check_fail("the batched scores depend on the batch");
    const double b = 1.5; /* a label bias, as --label-bias trains one */
    double want = 0.0, want_b = 0.0;
    for (int i = 0; rc == 0 && i < N; i++) {
        /* cross-entropy over the two words, written out as a softmax */
        const double a = ref[2 * i], c = ref[2 * i + 1], mx = fmax(a, c);
        want += -((y[i] ? c : a) - mx - log(exp(a - mx) + exp(c - mx))) / N;
        const double mb = fmax(a, c + b);
        want_b += -((y[i] ? c + b : a) - mb - log(exp(a - mb) + exp(c + b - mb))) / N;
    }
    if (rc == 0) {
        cls_eval(lp, y, N, 0.0, &loss, &correct, NULL);
        printf("check: sst2 loss %.6f, softmax written out %.6f; %lld/%d correct\n", loss, want,
               (long long)correct, N);
        if (!(fabs(loss - want) <= 1e-4 * fmax(1.0, want)))
            rc = check_fail("cross-entropy differs from the softmax");
    }
    if (rc == 0) {
        cls_eval(lp, y, N, b, &loss, &correct, NULL);
        printf("check: sst2 loss with label bias %+.1f %.6f, written out %.6f\n", b, loss,
               want_b);
        if (!(fabs(loss - want_b) <= 1e-4 * fmax(1.0, want_b)))
            rc = check_fail("the label bias is not added to word 1");
    }
    if (e.ctx != NULL || e.model != NULL)
        lm_close(&e);
    return rc;
}
