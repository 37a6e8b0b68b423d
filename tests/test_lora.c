/* test_lora.c - LoRA pairs and the nightly rotation (lib/lora): known answers
 * generated independently by tests/kat/gen_lora_kat.py (PEFT init from the
 * Philox stream, exact apply/merge, EMA, seed 000's table and the four
 * properties), the sgemm paths against plain loops at larger sizes, and
 * argument checking (nothing written or registered on error). */
/* The rotation is experimental API (zoq/lora.h). */
#define ZOQ_EXPERIMENTAL
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoq.h"

#include "kat/lora_vectors.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static zoq_lora_t pair(int64_t in, int64_t out, int32_t rank, double alpha, float *a, float *b)
{
    zoq_lora_t l;
    memset(&l, 0, sizeof l);
    l.size = sizeof l;
    l.in_features = in;
    l.out_features = out;
    l.rank = rank;
    l.alpha = alpha;
    l.a = a;
    l.b = b;
    return l;
}

/* Deterministic floats in about [-1, 1]. */
static void fill(float *v, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)sin(0.37 * (double)i + 1.7 * seed) * (float)(1.0 + (i % 5) * 0.1);
}

/* ---- registry ------------------------------------------------------------- */

Test(lora, add_registers_two_shaped_factors_in_the_type_group)
{
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    float a[3 * 5], b[4 * 3];
    zoq_lora_t l = pair(5, 4, 3, 6.0, a, b);
    l.module = "model.layers.0.self_attn.q_proj";
    l.type = "q_proj";
    int32_t ia = -1, ib = -1, id;
    cr_assert_eq(zoq_lora_add(ctx, &l, &ia, &ib), ZOQ_OK);
    cr_expect_eq(ia, 0);
    cr_expect_eq(ib, 1);
    cr_expect_eq(zoq_param_find(ctx, "model.layers.0.self_attn.q_proj.lora_A.weight", &id),
                 ZOQ_OK);
    cr_expect_eq(id, ia);
    cr_expect_eq(zoq_param_find(ctx, "model.layers.0.self_attn.q_proj.lora_B.weight", &id),
                 ZOQ_OK);
    cr_expect_eq(id, ib);
    int64_t numel;
    cr_assert_eq(zoq_param_enabled_numel(ctx, &numel), ZOQ_OK);
    cr_expect_eq(numel, 15 + 12);
    int32_t count;
    cr_expect_eq(zoq_group_set_enabled(ctx, "q_proj", 0, &count), ZOQ_OK);
    cr_expect_eq(count, 2);
    cr_assert_eq(zoq_param_enabled_numel(ctx, &numel), ZOQ_OK);
    cr_expect_eq(numel, 0);

    /* registered disabled */
    float a2[2 * 5], b2[4 * 2];
    zoq_lora_t d = pair(5, 4, 2, 4.0, a2, b2);
    d.module = "k";
    d.type = "k_proj";
    d.flags = ZOQ_PARAM_DISABLED;
    cr_expect_eq(zoq_lora_add(ctx, &d, NULL, NULL), ZOQ_OK);
    cr_assert_eq(zoq_param_enabled_numel(ctx, &numel), ZOQ_OK);
    cr_expect_eq(numel, 0);
    cr_expect_eq(zoq_group_set_enabled(ctx, "k_proj", 1, &count), ZOQ_OK);
    cr_expect_eq(count, 2);
    zoq_destroy(ctx);
}

Test(lora, add_refuses_bad_input_and_registers_nothing)
{
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    float a[8], b[8];
    zoq_lora_t l = pair(4, 4, 2, 2.0, a, b);
    l.module = "m";
    cr_assert_eq(zoq_lora_add(ctx, &l, NULL, NULL), ZOQ_OK);
    cr_expect_eq(zoq_lora_add(ctx, &l, NULL, NULL), ZOQ_E_EXISTS); /* same module again */
    zoq_lora_t bad[8];
    for (size_t i = 0; i < N_OF(bad); i++) {
        bad[i] = l;
        bad[i].module = "n";
    }
    bad[0].rank = 0;
    bad[1].in_features = 0;
    bad[2].out_features = -1;
    bad[3].alpha = NAN;
    bad[4].a = NULL;
    bad[5].module = "";
    bad[6].flags = ZOQ_PARAM_LORA_A;
    bad[7].size = sizeof l - 1;
    for (size_t i = 0; i < N_OF(bad); i++)
        cr_expect_eq(zoq_lora_add(ctx, &bad[i], NULL, NULL), ZOQ_E_INVALID, "case %zu", i);
    cr_expect_eq(zoq_lora_add(ctx, NULL, NULL, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_add(NULL, &l, NULL, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_param_count(ctx), 2);
    /* A name taken by another parameter: B is never left behind either */
    float c[8];
    cr_assert_eq(zoq_param_add(ctx, "x.lora_B.weight", c, ZOQ_F32, 8, NULL), ZOQ_OK);
    l.module = "x";
    cr_expect_eq(zoq_lora_add(ctx, &l, NULL, NULL), ZOQ_E_EXISTS);
    cr_expect_eq(zoq_param_find(ctx, "x.lora_A.weight", NULL), ZOQ_E_NOT_FOUND);
    cr_expect_eq(zoq_param_count(ctx), 3);
    zoq_destroy(ctx);
}

/* ---- initialization --------------------------------------------------------- */

Test(lora, init_matches_known_answers_and_peft_bound)
{
    for (size_t k = 0; k < N_OF(lora_kat_inits); k++) {
        const lora_kat_init *kat = &lora_kat_inits[k];
        const char *suffix = ".lora_A.weight";
        char module[128];
        const size_t len = strlen(kat->name) - strlen(suffix);
        memcpy(module, kat->name, len);
        module[len] = 0;
        const int64_t out = 3, n_a = (int64_t)kat->rank * kat->fan_in;
        float *a = malloc((size_t)n_a * sizeof *a), *b = malloc((size_t)(out * kat->rank) * 4);
        cr_assert(a && b);
        for (int64_t i = 0; i < out * kat->rank; i++)
            b[i] = 7.0f;
        zoq_ctx *ctx;
        cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
        cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, (int64_t)kat->seed), ZOQ_OK);
        zoq_lora_t l = pair(kat->fan_in, out, kat->rank, 16.0, a, b);
        l.module = module;
        int32_t ia, ib;
        cr_assert_eq(zoq_lora_add(ctx, &l, &ia, &ib), ZOQ_OK);
        cr_assert_eq(zoq_lora_init(ctx, ia, ib, 0.0), ZOQ_OK);
        cr_expect_eq(kat->bound, (float)(1.0 / sqrt((double)kat->fan_in)));
        for (int64_t i = 0; i < n_a; i++)
            cr_expect_eq(a[i], kat->a[i], "%s[%lld] = %.9g, want %.9g", kat->name,
                         (long long)i, a[i], kat->a[i]);
        for (int64_t i = 0; i < out * kat->rank; i++)
            cr_expect_eq(b[i], 0.0f);
        zoq_destroy(ctx);
        free(a);
        free(b);
    }
}

Test(lora, init_warm_start_b_is_sigma_times_the_init_stream)
{
    float a[4 * 16], b[8 * 4], z[8 * 4];
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    cr_assert_eq(zoq_set_int(ctx, ZOQ_OPT_SEED, 99), ZOQ_OK);
    zoq_lora_t l = pair(16, 8, 4, 8.0, a, b);
    l.module = "up";
    int32_t ia, ib;
    cr_assert_eq(zoq_lora_add(ctx, &l, &ia, &ib), ZOQ_OK);
    cr_assert_eq(zoq_lora_init(ctx, ia, ib, 1e-3), ZOQ_OK);
    cr_assert_eq(zoq_noise_fill(zoq_tensor_key(99, "up.lora_B.weight"), 0, 0, 1,
                                ZOQ_DIST_GAUSSIAN, 0, 32, z), ZOQ_OK);
    for (int i = 0; i < 32; i++)
        cr_expect_float_eq(b[i], 1e-3f * z[i], 1e-9f, "b[%d]", i);
    for (int i = 0; i < 64; i++)
        cr_expect(fabsf(a[i]) <= 0.25f, "a[%d] = %g outside the PEFT bound", i, a[i]);

    /* not a pair, swapped, bad sigma: nothing written */
    float a0 = a[0], b0 = b[0], w[4];
    int32_t iw;
    cr_assert_eq(zoq_param_add(ctx, "w", w, ZOQ_F32, 4, &iw), ZOQ_OK);
    cr_expect_eq(zoq_lora_init(ctx, ib, ia, 0.0), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_init(ctx, iw, ib, 0.0), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_init(ctx, ia, ib, -1.0), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_init(ctx, ia, ib, INFINITY), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_init(ctx, ia, 9, 0.0), ZOQ_E_NOT_FOUND);
    cr_expect_eq(zoq_lora_init(NULL, ia, ib, 0.0), ZOQ_E_INVALID);
    cr_expect_eq(a[0], a0);
    cr_expect_eq(b[0], b0);
    zoq_destroy(ctx);
}

/* ---- apply and merge ---------------------------------------------------------- */

Test(lora, apply_and_merge_match_exact_known_answers)
{
    float a[N_OF(lora_kat_a)], b[N_OF(lora_kat_b)], y[N_OF(lora_kat_y0)], w[N_OF(lora_kat_w0)];
    memcpy(a, lora_kat_a, sizeof a);
    memcpy(b, lora_kat_b, sizeof b);
    memcpy(y, lora_kat_y0, sizeof y);
    memcpy(w, lora_kat_w0, sizeof w);
    const zoq_lora_t l = pair(LORA_KAT_IN, LORA_KAT_OUT, LORA_KAT_RANK, LORA_KAT_ALPHA, a, b);
    cr_assert_eq(zoq_lora_apply(&l, lora_kat_x, LORA_KAT_BATCH, y), ZOQ_OK);
    for (size_t i = 0; i < N_OF(y); i++)
        cr_expect(fabs(y[i] - lora_kat_y[i]) <= 4e-7 * lora_kat_yabs[i],
                  "y[%zu] = %.9g, want %.17g", i, y[i], lora_kat_y[i]);
    cr_assert_eq(zoq_lora_merge(&l, LORA_KAT_COEF, w), ZOQ_OK);
    for (size_t i = 0; i < N_OF(w); i++)
        cr_expect(fabs(w[i] - lora_kat_w[i]) <= 4e-7 * lora_kat_wabs[i],
                  "w[%zu] = %.9g, want %.17g", i, w[i], lora_kat_w[i]);
}

/* The plain-loop references, in double. */
static void apply_loop(const zoq_lora_t *l, const float *x, int64_t batch, double *y)
{
    const double s = l->alpha / l->rank;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t o = 0; o < l->out_features; o++) {
            double acc = 0.0;
            for (int32_t j = 0; j < l->rank; j++) {
                double t = 0.0;
                for (int64_t i = 0; i < l->in_features; i++)
                    t += (double)l->a[j * l->in_features + i] * x[n * l->in_features + i];
                acc += (double)l->b[o * l->rank + j] * t;
            }
            y[n * l->out_features + o] += s * acc;
        }
}

static void merge_loop(const zoq_lora_t *l, double coef, double *w)
{
    const double s = coef * l->alpha / l->rank;
    for (int64_t o = 0; o < l->out_features; o++)
        for (int64_t i = 0; i < l->in_features; i++) {
            double acc = 0.0;
            for (int32_t j = 0; j < l->rank; j++)
                acc += (double)l->b[o * l->rank + j] * l->a[j * l->in_features + i];
            w[o * l->in_features + i] += s * acc;
        }
}

Test(lora, apply_and_merge_match_plain_loops_at_larger_sizes)
{
    enum { IN = 70, OUT = 50, R = 8, BATCH = 33 };
    float *a = malloc(R * IN * 4), *b = malloc(OUT * R * 4), *x = malloc(BATCH * IN * 4),
          *y = malloc(BATCH * OUT * 4), *w = malloc(OUT * IN * 4), *w0 = malloc(OUT * IN * 4);
    double *yr = malloc(BATCH * OUT * 8), *wr = malloc(OUT * IN * 8);
    cr_assert(a && b && x && y && w && w0 && yr && wr);
    fill(a, R * IN, 1);
    fill(b, OUT * R, 2);
    fill(x, BATCH * IN, 3);
    fill(y, BATCH * OUT, 4);
    fill(w0, OUT * IN, 5);
    for (int i = 0; i < BATCH * OUT; i++)
        yr[i] = y[i];
    for (int i = 0; i < OUT * IN; i++)
        wr[i] = w[i] = w0[i];
    const zoq_lora_t l = pair(IN, OUT, R, 16.0, a, b);
    cr_assert_eq(zoq_lora_apply(&l, x, BATCH, y), ZOQ_OK);
    apply_loop(&l, x, BATCH, yr);
    for (int i = 0; i < BATCH * OUT; i++)
        cr_expect(fabs(y[i] - yr[i]) <= 1e-4 * (1.0 + fabs(yr[i])), "y[%d] %g vs %g", i, y[i],
                  yr[i]);
    cr_assert_eq(zoq_lora_merge(&l, 1.0, w), ZOQ_OK);
    merge_loop(&l, 1.0, wr);
    for (int i = 0; i < OUT * IN; i++)
        cr_expect(fabs(w[i] - wr[i]) <= 1e-5 * (1.0 + fabs(wr[i])), "w[%d] %g vs %g", i, w[i],
                  wr[i]);
    /* unmerging gives the base weight back to rounding */
    cr_assert_eq(zoq_lora_merge(&l, -1.0, w), ZOQ_OK);
    for (int i = 0; i < OUT * IN; i++)
        cr_expect(fabsf(w[i] - w0[i]) <= 1e-5f, "w[%d] %g vs %g", i, w[i], w0[i]);
    free(a), free(b), free(x), free(y), free(w), free(w0), free(yr), free(wr);
}

Test(lora, apply_and_merge_refuse_bad_input_and_write_nothing)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 1, 1, 1, 1, 1}, x[3] = {1, 1, 1};
    float y[2] = {5, 5}, w[6] = {0};
    zoq_lora_t l = pair(3, 2, 2, 2.0, a, b);
    zoq_lora_t bad = l;
    bad.rank = 0;
    cr_expect_eq(zoq_lora_apply(&bad, x, 1, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_merge(&bad, 1.0, w), ZOQ_E_INVALID);
    bad = l;
    bad.b = NULL;
    cr_expect_eq(zoq_lora_apply(&bad, x, 1, y), ZOQ_E_INVALID);
    bad = l;
    bad.alpha = INFINITY;
    cr_expect_eq(zoq_lora_merge(&bad, 1.0, w), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_apply(&l, x, 0, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_apply(&l, NULL, 1, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_apply(&l, x, 1, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_apply(NULL, x, 1, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_merge(&l, NAN, w), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_merge(&l, 1.0, NULL), ZOQ_E_INVALID);
    cr_expect_eq(y[0], 5.0f);
    cr_expect_eq(w[0], 0.0f);
    /* and the good call: y += (2/2)·B(Ax), Ax = (6, 15), B·(Ax) = (21, 21) */
    cr_assert_eq(zoq_lora_apply(&l, x, 1, y), ZOQ_OK);
    cr_expect_eq(y[0], 26.0f);
    cr_expect_eq(y[1], 26.0f);
}

/* ---- merging across runs -------------------------------------------------------- */

Test(lora, ema_matches_known_answers_bit_for_bit)
{
    for (size_t k = 0; k < N_OF(lora_kat_ema_w); k++) {
        float d[LORA_KAT_EMA_N];
        memcpy(d, lora_kat_ema_dst, sizeof d);
        cr_assert_eq(zoq_lora_ema(d, lora_kat_ema_src, LORA_KAT_EMA_N, lora_kat_ema_w[k]),
                     ZOQ_OK);
        for (int i = 0; i < LORA_KAT_EMA_N; i++)
            cr_expect_eq(d[i], lora_kat_ema_out[k][i], "w %g [%d]: %.9g, want %.9g",
                         lora_kat_ema_w[k], i, d[i], lora_kat_ema_out[k][i]);
    }
    cr_expect_eq(ZOQ_LORA_EMA_ALPHA_DEFAULT, 0.3);
    cr_expect_eq(ZOQ_LORA_BLEND_BETA_DEFAULT, 0.95);
}

Test(lora, ema_matches_the_loop_and_refuses_bad_weights)
{
    float d[LORA_KAT_EMA_N], ref[LORA_KAT_EMA_N];
    memcpy(d, lora_kat_ema_dst, sizeof d);
    for (int i = 0; i < LORA_KAT_EMA_N; i++) /* seed 000 eq. (1), alpha = 0.3 */
        ref[i] = (float)(0.3 * lora_kat_ema_src[i] + 0.7 * lora_kat_ema_dst[i]);
    cr_assert_eq(zoq_lora_ema(d, lora_kat_ema_src, LORA_KAT_EMA_N, 0.3), ZOQ_OK);
    for (int i = 0; i < LORA_KAT_EMA_N; i++)
        cr_expect_float_eq(d[i], ref[i], 1e-6f);
    const double bad[] = {-0.01, 1.01, NAN, INFINITY};
    for (size_t k = 0; k < N_OF(bad); k++)
        cr_expect_eq(zoq_lora_ema(d, lora_kat_ema_src, LORA_KAT_EMA_N, bad[k]), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_ema(NULL, lora_kat_ema_src, 1, 0.5), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_ema(d, NULL, 1, 0.5), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_ema(d, lora_kat_ema_src, -1, 0.5), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_ema(NULL, NULL, 0, 0.5), ZOQ_OK);
    for (int i = 0; i < LORA_KAT_EMA_N; i++)
        cr_expect_float_eq(d[i], ref[i], 1e-6f);
}

Test(lora, best_offer_keeps_the_highest_score)
{
    zoq_lora_best_t best = {.size = sizeof best};
    const double scores[] = {0.5, 0.4, 0.5, 0.7, 0.69};
    const int want[] = {1, 0, 0, 1, 0};
    for (int k = 0; k < 5; k++) {
        int improved = -1;
        cr_assert_eq(zoq_lora_best_offer(&best, scores[k], k, &improved), ZOQ_OK);
        cr_expect_eq(improved, want[k], "offer %d", k);
    }
    cr_expect_eq(best.valid, 1);
    cr_expect_eq(best.score, 0.7);
    cr_expect_eq(best.tag, 3);
    int improved;
    cr_expect_eq(zoq_lora_best_offer(&best, NAN, 9, &improved), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_best_offer(&best, 1.0, 9, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_lora_best_offer(NULL, 1.0, 9, &improved), ZOQ_E_INVALID);
    zoq_lora_best_t cut = best;
    cut.size = sizeof cut - 4; /* the size of no version: it cuts tag in two */
    cr_expect_eq(zoq_lora_best_offer(&cut, 1.0, 9, &improved), ZOQ_E_INVALID);
    cr_expect_eq(cut.tag, 3);
    /* an older, smaller struct (the size field alone) is read with its
     * defaults, and written only as far as it reaches */
    struct {
        zoq_lora_best_t b;
        int64_t after;
    } old;
    memset(&old, 0x7F, sizeof old);
    old.b.size = sizeof(size_t);
    cr_expect_eq(zoq_lora_best_offer(&old.b, -1e300, 9, &improved), ZOQ_OK);
    cr_expect_eq(improved, 1, "valid and score past its size read as 0, not its bytes");
    cr_expect_eq(old.b.valid, 0x7F7F7F7F, "and are not written");
    cr_expect_eq(old.after, 0x7F7F7F7F7F7F7F7F);
    cr_expect_eq(best.tag, 3);
}

/* ---- rotation ---------------------------------------------------------------------- */

static void seed_rotation(zoq_rotation_t *r, const lora_kat_rot *k)
{
    cr_assert_eq(zoq_rotation_default(r), ZOQ_OK);
    r->n_nights = k->n_nights;
    memcpy(r->nights, k->nights, sizeof k->nights);
    r->n_losses = k->n_losses;
    for (int i = 0; i < k->n_losses; i++)
        r->losses[i] = k->losses[i];
}

Test(rotation, default_is_seed_table_iii_and_passes_all_four_properties)
{
    zoq_rotation_t r;
    cr_assert_eq(zoq_rotation_default(&r), ZOQ_OK);
    cr_expect_eq(r.size, sizeof r);
    cr_expect_eq(r.n_modules, 7);
    cr_expect_eq(r.n_nights, 7);
    cr_expect_eq(r.ffn_mask, lora_kat_seed_ffn);
    const char *names[7] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                            "down_proj"};
    for (int m = 0; m < 7; m++)
        cr_expect_str_eq(r.modules[m], names[m]);
    for (int t = 0; t < 7; t++)
        cr_expect_eq(r.nights[t], lora_kat_seed_nights[t], "night %d", t);
    cr_expect_eq(r.n_losses, 3);
    cr_expect_eq(r.losses[0], ZOQ_LOSS_ORPO);
    cr_expect_eq(r.losses[1], ZOQ_LOSS_KTO);
    cr_expect_eq(r.losses[2], ZOQ_LOSS_CPO);
    uint32_t failed = 99;
    char msg[256] = "junk";
    cr_assert_eq(zoq_rotation_check(&r, &failed, msg, sizeof msg), ZOQ_OK);
    cr_expect_eq(failed, 0u);
    cr_expect_str_eq(msg, "");
    int64_t len;
    cr_assert_eq(zoq_rotation_supercycle(&r, &len), ZOQ_OK);
    cr_expect_eq(len, 21);
    /* every module exactly twice per cycle (seed: "each module appears in exactly 2 of 7") */
    for (int m = 0; m < 7; m++) {
        int seen = 0;
        for (int t = 0; t < 7; t++)
            seen += (int)(r.nights[t] >> m & 1);
        cr_expect_eq(seen, 2, "%s", names[m]);
    }
}

Test(rotation, check_reports_which_property_fails_and_why)
{
    for (size_t k = 0; k < N_OF(lora_kat_rots); k++) {
        const lora_kat_rot *kat = &lora_kat_rots[k];
        zoq_rotation_t r;
        seed_rotation(&r, kat);
        uint32_t failed;
        char msg[512];
        cr_assert_eq(zoq_rotation_check(&r, &failed, msg, sizeof msg), ZOQ_OK, "%s", kat->name);
        cr_expect_eq(failed, kat->failed, "%s: failed 0x%x, want 0x%x (%s)", kat->name, failed,
                     kat->failed, msg);
        int64_t len;
        cr_assert_eq(zoq_rotation_supercycle(&r, &len), ZOQ_OK);
        cr_expect_eq(len, kat->supercycle, "%s", kat->name);
        const struct {
            uint32_t bit;
            const char *word;
        } says[] = {{ZOQ_ROT_INTERLEAVING, "interleaving:"}, {ZOQ_ROT_COVERAGE, "coverage:"},
                    {ZOQ_ROT_COPRIME, "coprimality:"}, {ZOQ_ROT_SUPERCYCLE, "supercycle:"}};
        for (size_t s = 0; s < N_OF(says); s++)
            cr_expect_eq(strstr(msg, says[s].word) != NULL, (failed & says[s].bit) != 0,
                         "%s: message '%s' and bit %s disagree", kat->name, msg, says[s].word);
    }
}

Test(rotation, messages_name_the_culprits)
{
    zoq_rotation_t r;
    uint32_t failed;
    char msg[512];
    for (size_t k = 0; k < N_OF(lora_kat_rots); k++) {
        const lora_kat_rot *kat = &lora_kat_rots[k];
        seed_rotation(&r, kat);
        cr_assert_eq(zoq_rotation_check(&r, &failed, msg, sizeof msg), ZOQ_OK);
        if (!strcmp(kat->name, "o_proj_dropped"))
            cr_expect_str_eq(msg, "coverage: never trained: o_proj\n");
        if (!strcmp(kat->name, "losses_period_7"))
            cr_expect(strstr(msg, "coprimality: gcd(7 nights, 7 losses) = 7\n") != NULL, "%s",
                      msg);
        if (!strcmp(kat->name, "subsystems_unmixed"))
            cr_expect(strstr(msg, "4 of 7 nights") && strstr(msg, "allow 6"), "%s", msg);
        if (!strcmp(kat->name, "night_repeated"))
            cr_expect(strstr(msg, "nights 0 and 3 ") != NULL, "%s", msg);
    }
    /* a short buffer is truncated, never overrun; NULL msg is fine */
    seed_rotation(&r, &lora_kat_rots[3]);
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    cr_assert_eq(zoq_rotation_check(&r, &failed, tiny, 5), ZOQ_OK);
    cr_expect_eq(strlen(tiny), 4u);
    cr_expect_eq(tiny[5], 'x');
    cr_expect_eq(zoq_rotation_check(&r, &failed, NULL, 100), ZOQ_OK);
    cr_expect_eq(failed, lora_kat_rots[3].failed);
}

Test(rotation, interleaving_fails_one_night_short_of_the_bound)
{
    /* a1..a4 | f1 f2, three a night over two nights: both nights can mix */
    const char *names[6] = {"a1", "a2", "a3", "a4", "f1", "f2"};
    const int32_t losses[1] = {ZOQ_LOSS_DPO};
    zoq_rotation_t r;
    cr_assert_eq(zoq_rotation_generate(names, 6, 0x30, 3, losses, 1, &r), ZOQ_OK);
    cr_assert_eq(r.n_nights, 2);
    uint32_t failed;
    char msg[256];
    r.nights[0] = 0x07; /* a1 a2 a3 */
    r.nights[1] = 0x38; /* a4 f1 f2: one mixed night of two possible */
    cr_assert_eq(zoq_rotation_check(&r, &failed, msg, sizeof msg), ZOQ_OK);
    cr_expect_eq(failed, (uint32_t)ZOQ_ROT_INTERLEAVING, "%s", msg);
    cr_expect(strstr(msg, "1 of 2 nights") && strstr(msg, "allow 2"), "%s", msg);
    r.nights[0] = 0x13; /* a1 a2 f1 */
    r.nights[1] = 0x2c; /* a3 a4 f2 */
    cr_assert_eq(zoq_rotation_check(&r, &failed, msg, sizeof msg), ZOQ_OK);
    cr_expect_eq(failed, 0u, "%s", msg);
}

Test(rotation, generate_matches_known_answers)
{
    for (size_t k = 0; k < N_OF(lora_kat_gens); k++) {
        const lora_kat_gen *kat = &lora_kat_gens[k];
        zoq_rotation_t r;
        cr_assert_eq(zoq_rotation_generate(kat->modules, kat->n_modules, kat->ffn,
                                           kat->per_night, kat->losses, kat->n_losses, &r),
                     ZOQ_OK, "%s", kat->name);
        cr_expect_eq(r.n_nights, kat->n_nights, "%s", kat->name);
        for (int t = 0; t < kat->n_nights; t++)
            cr_expect_eq(r.nights[t], kat->nights[t], "%s night %d: 0x%llx, want 0x%llx",
                         kat->name, t, (unsigned long long)r.nights[t],
                         (unsigned long long)kat->nights[t]);
        for (int m = 0; m < kat->n_modules; m++)
            cr_expect_str_eq(r.modules[m], kat->modules[m]);
        uint32_t failed;
        cr_assert_eq(zoq_rotation_check(&r, &failed, NULL, 0), ZOQ_OK);
        cr_expect_eq(failed, kat->failed, "%s", kat->name);
        int64_t len;
        cr_assert_eq(zoq_rotation_supercycle(&r, &len), ZOQ_OK);
        cr_expect_eq(len, kat->supercycle, "%s", kat->name);
    }
}

Test(rotation, generate_and_check_refuse_malformed_input)
{
    const char *names[3] = {"a", "b", "c"};
    const int32_t losses[2] = {0, 1}, unknown[1] = {ZOQ_PREF_LOSS_COUNT};
    zoq_rotation_t r, keep;
    cr_assert_eq(zoq_rotation_default(&keep), ZOQ_OK);
    r = keep;
    cr_expect_eq(zoq_rotation_generate(names, 3, 0, 0, losses, 2, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_generate(names, 3, 0, 4, losses, 2, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_generate(names, 0, 0, 1, losses, 2, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_generate(names, 3, 0, 1, unknown, 1, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_generate(names, 3, 0x8, 1, losses, 2, &r), ZOQ_E_INVALID);
    const char *dup[3] = {"a", "b", "a"}, *longname[1] = {"0123456789012345678901234567890123"};
    cr_expect_eq(zoq_rotation_generate(dup, 3, 0, 1, losses, 2, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_generate(longname, 1, 0, 1, losses, 2, &r), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_generate(NULL, 3, 0, 1, losses, 2, &r), ZOQ_E_INVALID);
    cr_expect_eq(memcmp(&r, &keep, sizeof r), 0, "output written on error");

    uint32_t failed = 77;
    zoq_rotation_t bad[7];
    for (int k = 0; k < 7; k++)
        bad[k] = keep;
    bad[0].nights[2] = 0;                 /* empty night */
    bad[1].nights[2] |= (uint64_t)1 << 7; /* module past n_modules */
    bad[2].losses[1] = -1;                /* unknown loss */
    strcpy(bad[3].modules[5], "q_proj");  /* duplicate name */
    bad[4].n_nights = 0;
    bad[5].size = 16;
    memset(bad[6].modules[0], 'x', ZOQ_ROTATION_NAME_CAP); /* not terminated */
    for (int k = 0; k < 7; k++) {
        cr_expect_eq(zoq_rotation_check(&bad[k], &failed, NULL, 0), ZOQ_E_INVALID, "case %d", k);
        cr_expect_eq(zoq_rotation_night(&bad[k], 0, NULL, NULL), ZOQ_E_INVALID, "case %d", k);
    }
    cr_expect_eq(failed, 77u);
    cr_expect_eq(zoq_rotation_check(&keep, NULL, NULL, 0), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_default(NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_night(&keep, -1, NULL, NULL), ZOQ_E_INVALID);
    int64_t len;
    cr_expect_eq(zoq_rotation_supercycle(&bad[0], &len), ZOQ_E_INVALID);
}

Test(rotation, dual_rotation_visits_every_pair_once_per_supercycle)
{
    zoq_rotation_t r;
    cr_assert_eq(zoq_rotation_default(&r), ZOQ_OK);
    /* night t trains table row t mod 7 with loss t mod 3; 21 distinct pairs */
    uint64_t seen_sets[21];
    int32_t seen_loss[21];
    for (int64_t t = 0; t < 21; t++) {
        cr_assert_eq(zoq_rotation_night(&r, t, &seen_sets[t], &seen_loss[t]), ZOQ_OK);
        cr_expect_eq(seen_sets[t], lora_kat_seed_nights[t % 7]);
        cr_expect_eq(seen_loss[t], r.losses[t % 3]);
        for (int64_t u = 0; u < t; u++)
            cr_expect(seen_sets[u] != seen_sets[t] || seen_loss[u] != seen_loss[t],
                      "nights %lld and %lld repeat", (long long)u, (long long)t);
    }
    uint64_t m;
    int32_t loss;
    cr_assert_eq(zoq_rotation_night(&r, 21 + 4, &m, &loss), ZOQ_OK);
    cr_expect_eq(m, seen_sets[4]);
    cr_expect_eq(loss, seen_loss[4]);
}

Test(rotation, apply_switches_the_registry_groups_night_by_night)
{
    zoq_rotation_t r;
    cr_assert_eq(zoq_rotation_default(&r), ZOQ_OK);
    zoq_ctx *ctx;
    cr_assert_eq(zoq_create(&ctx), ZOQ_OK);
    static float buf[7][2][4 * 2];
    for (int m = 0; m < 7; m++) {
        char module[64];
        sprintf(module, "layers.0.%s", r.modules[m]);
        zoq_lora_t l = pair(4, 4, 2, 4.0, buf[m][0], buf[m][1]);
        l.module = module;
        l.type = r.modules[m];
        cr_assert_eq(zoq_lora_add(ctx, &l, NULL, NULL), ZOQ_OK);
    }
    float other[3];
    cr_assert_eq(zoq_param_add(ctx, "bias", other, ZOQ_F32, 3, NULL), ZOQ_OK);
    uint64_t trained = 0;
    for (int64_t t = 0; t < 7; t++) {
        int32_t enabled = -1;
        cr_assert_eq(zoq_rotation_apply(ctx, &r, t, &enabled), ZOQ_OK);
        cr_expect_eq(enabled, 4, "night %lld: two pairs", (long long)t);
        int64_t numel;
        cr_assert_eq(zoq_param_enabled_numel(ctx, &numel), ZOQ_OK);
        cr_expect_eq(numel, 2 * 16 + 3, "night %lld", (long long)t); /* plus the bias */
        for (int m = 0; m < 7; m++) {
            int32_t id;
            char name[96];
            sprintf(name, "layers.0.%s.lora_B.weight", r.modules[m]);
            cr_assert_eq(zoq_param_find(ctx, name, &id), ZOQ_OK);
            /* enabled iff the seed's table trains it tonight: toggle and count */
            int64_t before, after;
            zoq_param_enabled_numel(ctx, &before);
            zoq_param_set_enabled(ctx, id, 1);
            zoq_param_enabled_numel(ctx, &after);
            cr_expect_eq(after == before, (int)(lora_kat_seed_nights[t] >> m & 1),
                         "night %lld module %s", (long long)t, r.modules[m]);
            if (after != before)
                zoq_param_set_enabled(ctx, id, 0);
            else
                trained |= (uint64_t)1 << m;
        }
    }
    cr_expect_eq(trained, 0x7fu, "a cycle trains every module");
    /* a module of the schedule missing from ctx: refused, nothing changed */
    zoq_rotation_t extra = r;
    strcpy(extra.modules[6], "lm_head");
    int64_t before, after;
    zoq_param_enabled_numel(ctx, &before);
    cr_expect_eq(zoq_rotation_apply(ctx, &extra, 2, NULL), ZOQ_E_NOT_FOUND);
    zoq_param_enabled_numel(ctx, &after);
    cr_expect_eq(before, after);
    cr_expect_eq(zoq_rotation_apply(ctx, &r, -1, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_rotation_apply(NULL, &r, 0, NULL), ZOQ_E_INVALID);
    zoq_destroy(ctx);
}
