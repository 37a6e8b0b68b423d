/* qzo_check.c - qzo_check.h. */
#define _POSIX_C_SOURCE 200809L
#include "qzo_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ggml.h>
#include <gguf.h>
#include <zoq.h>

#include "classify.h"
#include "model_save.h"
#include "model_tensor.h"
#include "qzo.h"
#include "sst2.h"

#define N_EX 4

static const char *const sentences[N_EX] = {
    "a gorgeous , witty , seductive movie .", "the plot is nothing but boilerplate clichés .",
    "an intelligent , moving and invigorating film .", "it 's a dull , lifeless mess ."};

static int fail(const char *what)
{
    fprintf(stderr, "qzo check: FAIL: %s\n", what);
    return -1;
}

/* Every weight tensor of the model file, as the engine holds it. */
typedef struct weights {
    struct gguf_context *g;
    struct ggml_context *meta;
    uint8_t *copy;          /* the tensors' bytes, in file order */
    size_t bytes;
} weights;

static int weights_open(weights *w, const char *model_path)
{
    memset(w, 0, sizeof *w);
    struct gguf_init_params gp = {true, &w->meta};
    w->g = gguf_init_from_file(model_path, gp);
    for (int64_t i = 0; w->g != NULL && i < gguf_get_n_tensors(w->g); i++)
        w->bytes += ggml_nbytes(ggml_get_tensor(w->meta, gguf_get_tensor_name(w->g, i)));
    w->copy = w->g != NULL ? malloc(w->bytes) : NULL;
    return w->copy == NULL ? -1 : 0;
}

static void weights_close(weights *w)
{
    if (w->g != NULL)
        gguf_free(w->g);
    if (w->meta != NULL)
        ggml_free(w->meta);
    free(w->copy);
}

/* The engine's tensor i (of the file's list). */
static const struct ggml_tensor *engine_tensor(const lm_engine *e, const weights *w, int64_t i)
{
    return lm_model_tensor(e->model, gguf_get_tensor_name(w->g, i));
}

static int weights_snapshot(weights *w, const lm_engine *e)
{
    size_t at = 0;
    for (int64_t i = 0; i < gguf_get_n_tensors(w->g); i++) {
        const struct ggml_tensor *t = engine_tensor(e, w, i);
        if (t == NULL)
            return -1;
        memcpy(w->copy + at, t->data, ggml_nbytes(t));
        at += ggml_nbytes(t);
    }
    return 0;
}

/* The trained tensor of q that t is, or NULL. */
static const qzo_tensor *trained(const qzo_target *q, const struct ggml_tensor *t)
{
    for (int32_t k = 0; k < q->n; k++)
        if (q->qt[k].w == t)
            return &q->qt[k];
    return NULL;
}

/* Bytes of the engine's weights that differ from the snapshot: all of them
 * into *changed, those that are not the first two bytes (the d) of a block
 * of a tensor q trains into *outside. */
static void weights_diff(const weights *w, const lm_engine *e, const qzo_target *q,
                         int64_t *changed, int64_t *outside)
{
    size_t at = 0;
    *changed = *outside = 0;
    for (int64_t i = 0; i < gguf_get_n_tensors(w->g); i++) {
        const struct ggml_tensor *t = engine_tensor(e, w, i);
        const qzo_tensor *qt = trained(q, t);
        const uint8_t *now = t->data;
        for (size_t b = 0; b < ggml_nbytes(t); b++)
            if (now[b] != w->copy[at + b]) {
                (*changed)++;
                *outside += qt == NULL || b % qt->block >= 2;
            }
        at += ggml_nbytes(t);
    }
}

/* The examples' label-word scores in an engine. */
typedef struct scored {
    size_t ex[N_EX];
    double lp[2 * N_EX];
} scored;

static int add_examples(lm_engine *e, scored *s)
{
    size_t first;
    if (cls_add(e, sst2_prompt(SST2_PROMPT), sentences, N_EX, 64, &first) != 0)
        return -1;
    for (size_t i = 0; i < N_EX; i++)
        s->ex[i] = first + i;
    return 0;
}

static int score(lm_engine *e, scored *s, double *lp)
{
    return cls_score(e, s->ex, N_EX, lp);
}

/* The objective: the examples' mean score of their first label word (any
 * function of the point will do); with `stop`, the step is abandoned at its
 * last point. `moved` records a point scoring unlike θ. */
typedef struct check_obj {
    lm_engine *e;
    scored *s;
    const double *theta;
    int stop, moved;
} check_obj;

static int objective(void *user, const zoq_eval_t *ev, double *loss)
{
    check_obj *c = user;
    double lp[2 * N_EX];
    if (score(c->e, c->s, lp) != 0)
        return -1;
    *loss = 0.0;
    for (int i = 0; i < 2 * N_EX; i++) {
        c->moved |= memcmp(&lp[i], &c->theta[i], sizeof lp[i]) != 0;
        *loss -= lp[i] / (2 * N_EX);
    }
    return c->stop && ev->point + 1 == ev->n_points ? ZOQ_CALLBACK_STOP : 0;
}

static int same_scores(const double *a, const double *b)
{
    return memcmp(a, b, sizeof *a * 2 * N_EX) == 0;
}

/* The saved model in a fresh engine, opened as the training engine was
 * (bit for bit) and as stock llama.cpp opens a file (mmap, repacked
 * buffers where it has them: within 1e-4). */
static int check_reload(const char *path, const double *want, int threads)
{
    int rc = 0;
    for (int writable = 1; rc == 0 && writable >= 0; writable--) {
        lm_engine e2;
        scored s2;
        double lp[2 * N_EX], worst = 0.0;
        rc = lm_open_weights(&e2, path, threads, 512, 2 * N_EX, writable ? LM_WRITABLE : 0) != 0 ||
                     add_examples(&e2, &s2) != 0 || score(&e2, &s2, lp) != 0
                 ? fail("the saved model does not load or score")
                 : 0;
        for (int i = 0; rc == 0 && i < 2 * N_EX; i++)
            worst = fmax(worst, fabs(lp[i] - want[i]));
        if (rc == 0)
            printf("check: qzo: saved model.gguf reloaded (%s): largest |score difference| "
                   "%.3g\n", writable ? "writable buffers" : "stock: mmap", worst);
        if (rc == 0 && writable && !same_scores(lp, want))
            rc = fail("the saved model scores differently from the engine it was saved from");
        if (rc == 0 && !(worst <= 1e-4))
            rc = fail("the saved model, loaded as stock llama.cpp loads it, scores differently");
        if (e2.ctx != NULL || e2.model != NULL)
            lm_close(&e2);
    }
    return rc;
}

int qzo_check(const char *model_path, const char *dir, int threads)
{
    lm_engine e = {0};
    scored s;
    weights w = {0};
    qzo_target q = {0};
    zoq_ctx *z = NULL;
    double lp0[2 * N_EX], lp[2 * N_EX];
    int64_t changed, outside;
    char path[512];
    int rc = lm_open_weights(&e, model_path, threads, 512, 2 * N_EX, LM_WRITABLE) != 0 ||
                     add_examples(&e, &s) != 0 || weights_open(&w, model_path) != 0 ||
                     weights_snapshot(&w, &e) != 0 || score(&e, &s, lp0) != 0 ||
                     zoq_create(&z) != ZOQ_OK
                 ? fail("setup")
                 : 0;
    check_obj c = {&e, &s, lp0, 1, 0};
    if (rc == 0) {
        zoq_set_int(z, ZOQ_OPT_SEED, 1);
        zoq_set_double(z, ZOQ_OPT_EPS, 1e-3);
        zoq_set_double(z, ZOQ_OPT_LR, 1e-4);
        zoq_set_int(z, ZOQ_OPT_EXACT_RESTORE, 1);
        rc = qzo_init(&q, &e, z, "attn_output,ffn_down", 28, 29) != 0 ||
                     zoq_set_objective(z, objective, &c) != ZOQ_OK
                 ? fail("registering the scales")
                 : 0;
    }
    /* 1. a step abandoned at its last point: every weight byte back */
    if (rc == 0 && zoq_step(z, NULL) != ZOQ_STOPPED)
        rc = fail("the stopped step");
    if (rc == 0) {
        weights_diff(&w, &e, &q, &changed, &outside);
        printf("check: qzo: %lld scales of %d tensors perturbed in place, the step stopped at "
               "its last point: %lld of %zu weight bytes differ\n",
               (long long)q.numel, (int)q.n, (long long)changed, w.bytes);
        if (!c.moved)
            rc = fail("a perturbed point scored exactly as θ (the scales have no effect)");
        else if (changed != 0)
            rc = fail("in-place QZO did not restore the engine's weights bit for bit");
        else if (score(&e, &s, lp) != 0 || !same_scores(lp, lp0))
            rc = fail("the restored engine scores differently");
    }
    /* 2. a full step: only the trained scales change */
    c.stop = 0;
    if (rc == 0 && zoq_step(z, NULL) != ZOQ_OK)
        rc = fail("the full step");
    if (rc == 0) {
        weights_diff(&w, &e, &q, &changed, &outside);
        printf("check: qzo: one step changed %lld weight bytes, %lld outside the trained "
               "scales\n", (long long)changed, (long long)outside);
        if (changed == 0 || outside != 0)
            rc = fail("a step must change the trained scales and nothing else");
    }
    /* 3. the model saved with them */
    snprintf(path, sizeof path, "%s/qzo", dir);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/qzo/model.gguf", dir);
    if (rc == 0 && (score(&e, &s, lp) != 0 || lm_save_model(&e, model_path, path) != 0))
        rc = fail("saving the model");
    if (rc == 0)
        rc = check_reload(path, lp, threads);
    /* 4. the target freed: the engine's weights as loaded */
    qzo_free(&q);
    if (rc == 0) {
        weights_diff(&w, &e, &q, &changed, &outside);
        if (changed != 0)
            rc = fail("freeing the target did not put the loaded scales back");
        else
            printf("check: qzo: target freed, the engine's weights are the loaded ones\n");
    }
    zoq_destroy(z);
    weights_close(&w);
    if (e.ctx != NULL || e.model != NULL)
        lm_close(&e);
    return rc;
}
