/* test_quant.c - quantized formats (lib/quant): known answers generated
 * independently by tests/kat/gen_quant_kat.py, the round-trip error bound on
 * random and extreme data, exact 4-bit packing, the forward pass against a
 * double-precision loop, and argument checking (nothing written on error). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zoq.h"

#include "kat/quant_vectors.h"

/* A matrix with buffers from malloc, sized by zoq_qmatrix_sizes. */
typedef struct owned {
    zoq_qmatrix_t m;
    size_t codes_bytes, scales_bytes, zeros_bytes;
} owned;

static void owned_init(owned *o, int format, int64_t rows, int64_t cols, int32_t group)
{
    memset(o, 0, sizeof *o);
    cr_assert_eq(zoq_qmatrix_sizes(format, rows, cols, group, &o->codes_bytes,
                                   &o->scales_bytes, &o->zeros_bytes), ZOQ_OK);
    o->m.size = sizeof o->m;
    o->m.format = format;
    o->m.group_size = group;
    o->m.rows = rows;
    o->m.cols = cols;
    o->m.codes = malloc(o->codes_bytes);
    o->m.scales = malloc(o->scales_bytes);
    o->m.zeros = o->zeros_bytes ? malloc(o->zeros_bytes) : NULL;
    cr_assert(o->m.codes && o->m.scales && (o->m.zeros || !o->zeros_bytes));
}

static void owned_free(owned *o)
{
    free(o->m.codes);
    free(o->m.scales);
    free(o->m.zeros);
}

/* The scale that applies to element (r, j). */
static float scale_of(const zoq_qmatrix_t *m, int64_t r, int64_t j)
{
    if (m->format == ZOQ_QFORMAT_INT8_ROW)
        return m->scales[r];
    return m->scales[r * (m->cols / m->group_size) + j / m->group_size];
}

/* The bound of docs/quantized.md: |x − x̂| <= s/2 + 2^-24·|x̂| for every
 * element. Returns the worst |x − x̂|/s seen (0 if every scale is 0). */
static double check_round_trip(const float *w, const zoq_qmatrix_t *m)
{
    const size_t n = (size_t)(m->rows * m->cols);
    float *what = malloc(n * sizeof *what);
    cr_assert(what);
    cr_assert_eq(zoq_qmatrix_dequantize(m, what), ZOQ_OK);
    double worst = 0.0;
    for (int64_t r = 0; r < m->rows; r++)
        for (int64_t j = 0; j < m->cols; j++) {
            const size_t i = (size_t)(r * m->cols + j);
            const double s = scale_of(m, r, j), err = fabs((double)w[i] - (double)what[i]);
            cr_assert(err <= 0.5 * s + 0x1p-24 * fabs((double)what[i]),
                      "(%lld, %lld): x %a, x^ %a, s %a", (long long)r, (long long)j,
                      (double)w[i], (double)what[i], s);
            if (s > 0.0)
                worst = fmax(worst, err / s);
        }
    free(what);
    return worst;
}

/* The codes and zeros stay in range: int8 never uses -128, zeros <= 15. */
static void check_ranges(const zoq_qmatrix_t *m)
{
    if (m->format == ZOQ_QFORMAT_INT8_ROW) {
        const int8_t *q = m->codes;
        for (int64_t i = 0; i < m->rows * m->cols; i++)
            cr_assert(q[i] >= -127, "code -128 at %lld", (long long)i);
        return;
    }
    for (int64_t i = 0; i < m->rows * (m->cols / m->group_size); i++)
        cr_assert_leq(m->zeros[i], 15);
}

static float uniform(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) * 0x1p-24f; /* [0, 1) */
}

/* ---- known answers ---------------------------------------------------------- */

static void kat_matrix(const quant_kat *k, owned *o)
{
    owned_init(o, k->format, k->rows, k->cols, k->group_size);
}

Test(quant_kat, quantize_matches_bit_for_bit)
{
    for (size_t c = 0; c < sizeof quant_kats / sizeof *quant_kats; c++) {
        const quant_kat *k = &quant_kats[c];
        owned o;
        kat_matrix(k, &o);
        cr_assert_eq(zoq_qmatrix_quantize(k->w, &o.m), ZOQ_OK, "%s", k->name);
        cr_expect_arr_eq(o.m.codes, k->codes, o.codes_bytes, "%s: codes", k->name);
        cr_expect_arr_eq(o.m.scales, k->scales, o.scales_bytes, "%s: scales", k->name);
        if (k->zeros)
            cr_expect_arr_eq(o.m.zeros, k->zeros, o.zeros_bytes, "%s: zeros", k->name);
        check_ranges(&o.m);
        owned_free(&o);
    }
}

Test(quant_kat, dequantize_matches_bit_for_bit)
{
    for (size_t c = 0; c < sizeof quant_kats / sizeof *quant_kats; c++) {
        const quant_kat *k = &quant_kats[c];
        const size_t n = (size_t)k->rows * (size_t)k->cols;
        zoq_qmatrix_t m = {.size = sizeof m, .format = k->format, .group_size = k->group_size,
                           .rows = k->rows, .cols = k->cols, .codes = (void *)k->codes,
                           .scales = (float *)k->scales, .zeros = (uint8_t *)k->zeros};
        float *w = malloc(n * sizeof *w);
        cr_assert(w);
        cr_assert_eq(zoq_qmatrix_dequantize(&m, w), ZOQ_OK, "%s", k->name);
        cr_expect_arr_eq(w, k->what, n * sizeof *w, "%s", k->name);
        check_round_trip(k->w, &m);
        free(w);
    }
}

/* |got − want| <= (cols + 4)·2^-24·Σ|ŵ·x|: any f32 summation order of the
 * decoded products, plus the rounding of the products and the scale. */
static void expect_forward(const quant_kat *k, const float *y, int64_t b, const char *how)
{
    for (int r = 0; r < k->rows; r++) {
        const size_t i = (size_t)(b * k->rows + r);
        const double tol = (k->cols + 4) * 0x1p-24 * k->yabs[i];
        cr_expect(fabs((double)y[r] - k->y[i]) <= tol, "%s %s: y[%lld][%d] = %.9g, want %.9g",
                  k->name, how, (long long)b, r, (double)y[r], k->y[i]);
    }
}

Test(quant_kat, matvec_and_matmul_within_bound)
{
    for (size_t c = 0; c < sizeof quant_kats / sizeof *quant_kats; c++) {
        const quant_kat *k = &quant_kats[c];
        zoq_qmatrix_t m = {.size = sizeof m, .format = k->format, .group_size = k->group_size,
                           .rows = k->rows, .cols = k->cols, .codes = (void *)k->codes,
                           .scales = (float *)k->scales, .zeros = (uint8_t *)k->zeros};
        float y[QUANT_KAT_BATCH * 8];
        for (int b = 0; b < QUANT_KAT_BATCH; b++) {
            cr_assert_eq(zoq_qmatrix_matvec(&m, k->x + b * k->cols, y), ZOQ_OK);
            expect_forward(k, y, b, "matvec");
        }
        for (int64_t batch = 1; batch <= QUANT_KAT_BATCH; batch++) {
            cr_assert_eq(zoq_qmatrix_matmul(&m, k->x, batch, y), ZOQ_OK);
            for (int64_t b = 0; b < batch; b++)
                expect_forward(k, y + b * k->rows, b, "matmul");
        }
    }
}

/* docs/quantized.md: zoq row n, bytes 4p..4p+3 read little-endian, equal
 * GPTQ's qweight[p][n]; zoq's zero (n, k) is nibble n % 8 of qzeros[k][n/8]
 * plus one (AutoGPTQ's v1 checkpoints store zero − 1). */
Test(quant_kat, gptq_layout_maps_as_documented)
{
    int checked = 0;
    for (size_t c = 0; c < sizeof quant_kats / sizeof *quant_kats; c++) {
        const quant_kat *k = &quant_kats[c];
        if (!k->gptq_qweight)
            continue;
        const int groups = k->cols / k->group_size;
        for (int n = 0; n < k->rows; n++) {
            const uint8_t *row = k->codes + (size_t)n * (size_t)k->cols / 2;
            for (int p = 0; p < k->cols / 8; p++) {
                const uint8_t *b = row + 4 * p;
                const uint32_t le = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
                cr_expect_eq(le, k->gptq_qweight[p * k->rows + n], "%s (%d, %d)", k->name, p, n);
            }
            for (int g = 0; g < groups; g++) {
                const uint32_t word = k->gptq_qzeros[g * (k->rows / 8) + n / 8];
                const unsigned z = ((word >> (4 * (n % 8))) + 1u) & 0xFu;
                cr_expect_eq(z, k->zeros[n * groups + g], "%s zero (%d, %d)", k->name, n, g);
            }
        }
        checked++;
    }
    cr_assert_gt(checked, 0);
}

/* ---- round trip on random and extreme data --------------------------------- */

static const struct { int format, group; } formats[] = {
    {ZOQ_QFORMAT_INT8_ROW, 0}, {ZOQ_QFORMAT_INT4_GROUP, 32}, {ZOQ_QFORMAT_INT4_GROUP, 64},
    {ZOQ_QFORMAT_INT4_GROUP, 128}};
#define N_FORMATS (sizeof formats / sizeof *formats)

/* Row r of a random matrix: uniform in a row-dependent range, sometimes one
 * sided, with magnitudes from subnormal to 1e30. */
static void fill_random(float *w, int64_t rows, int64_t cols, unsigned seed)
{
    static const float mags[] = {1e-42f, 1e-20f, 1e-3f, 1.0f, 7.0f, 1e6f, 1e30f};
    unsigned st = seed;
    for (int64_t r = 0; r < rows; r++) {
        const float mag = mags[r % 7];
        const float lo = (r % 3 == 0) ? 0.0f : -1.0f, hi = (r % 3 == 1) ? 0.0f : 1.0f;
        for (int64_t j = 0; j < cols; j++)
            w[r * cols + j] = mag * (lo + (hi - lo) * uniform(&st));
    }
}

Test(quant_round_trip, random_matrices_within_half_a_step)
{
    const int64_t rows = 21, cols = 384;
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    cr_assert(w);
    for (size_t f = 0; f < N_FORMATS; f++) {
        double worst = 0.0;
        for (unsigned seed = 1; seed <= 8; seed++) {
            fill_random(w, rows, cols, seed);
            owned o;
            owned_init(&o, formats[f].format, rows, cols, formats[f].group);
            cr_assert_eq(zoq_qmatrix_quantize(w, &o.m), ZOQ_OK);
            check_ranges(&o.m);
            worst = fmax(worst, check_round_trip(w, &o.m));
            owned_free(&o);
        }
        /* the bound is tight: the worst element sits right below half a step */
        cr_expect(worst > 0.49 && worst <= 0.5 + 0x1p-20, "format %zu: worst %.9f", f, worst);
        cr_log_info("round trip, format %zu: max |x - x^|/s = %.7f", f, worst);
    }
    free(w);
}

Test(quant_round_trip, extremes)
{
    /* FLT_MAX and its negative (range 2·FLT_MAX, computed in double), the
     * smallest subnormal, a lone outlier, a constant row, zeros */
    const float v[] = {FLT_MAX, -FLT_MAX, 0x1p-149f, -0x1p-149f, 1e-45f, 3.0f, -0.0f, 0.0f};
    const int64_t cols = 128;
    float w[8 * 128];
    for (int r = 0; r < 8; r++)
        for (int64_t j = 0; j < cols; j++)
            w[r * cols + j] = (j % 5 == 0) ? v[r] : (r < 4 ? v[r] * 0.25f : v[r]);
    for (int64_t j = 0; j < cols; j++)
        w[5 * cols + j] = j == 17 ? 1e20f : 1.0f;
    for (size_t f = 0; f < N_FORMATS; f++) {
        owned o;
        owned_init(&o, formats[f].format, 8, cols, formats[f].group);
        cr_assert_eq(zoq_qmatrix_quantize(w, &o.m), ZOQ_OK);
        check_ranges(&o.m);
        check_round_trip(w, &o.m);
        for (int64_t i = 0; i < 8 * cols / (formats[f].group ? formats[f].group : cols); i++)
            cr_expect(isfinite(o.m.scales[i]) && o.m.scales[i] >= 0.0f);
        owned_free(&o);
    }
}

Test(quant_round_trip, grid_values_are_exact)
{
    /* a matrix already on the int8 grid of scale 2^-3 comes back unchanged */
    float w[4 * 64];
    for (int i = 0; i < 4 * 64; i++)
        w[i] = (float)((i * 37) % 255 - 127) * 0.125f;
    for (int r = 0; r < 4; r++)
        w[r * 64] = 127 * 0.125f; /* fixes amax, hence s = 2^-3 */
    owned o;
    owned_init(&o, ZOQ_QFORMAT_INT8_ROW, 4, 64, 0);
    cr_assert_eq(zoq_qmatrix_quantize(w, &o.m), ZOQ_OK);
    float back[4 * 64];
    cr_assert_eq(zoq_qmatrix_dequantize(&o.m, back), ZOQ_OK);
    cr_expect_arr_eq(back, w, sizeof w);
    owned_free(&o);
}

/* ---- packing ----------------------------------------------------------------- */

Test(quant_pack, every_code_in_every_position)
{
    enum { N = 64 };
    uint8_t codes[N], packed[N / 2], back[N];
    for (int pos = 0; pos < N; pos++)
        for (uint8_t c = 0; c < 16; c++) {
            for (int j = 0; j < N; j++)
                codes[j] = (uint8_t)((j * 7 + 3) & 0xF);
            codes[pos] = c;
            cr_assert_eq(zoq_q4_pack(codes, N, packed), ZOQ_OK);
            const unsigned nib = (packed[pos / 2] >> (pos % 2 ? 4 : 0)) & 0xFu;
            cr_assert_eq(nib, c, "code %u at %d", c, pos);
            cr_assert_eq(zoq_q4_unpack(packed, N, back), ZOQ_OK);
            cr_assert_arr_eq(back, codes, N);
        }
    /* all 256 bytes: unpack then pack is the identity */
    for (int b = 0; b < 256; b++) {
        const uint8_t byte = (uint8_t)b;
        uint8_t two[2], again;
        cr_assert_eq(zoq_q4_unpack(&byte, 2, two), ZOQ_OK);
        cr_assert_eq(two[0], b & 0xF);
        cr_assert_eq(two[1], b >> 4);
        cr_assert_eq(zoq_q4_pack(two, 2, &again), ZOQ_OK);
        cr_assert_eq(again, byte);
    }
}

Test(quant_pack, quantized_codes_use_the_same_layout)
{
    /* zoq_qmatrix_quantize packs the codes exactly as zoq_q4_pack does */
    float w[2 * 64];
    unsigned st = 7;
    for (int i = 0; i < 2 * 64; i++)
        w[i] = uniform(&st) - 0.5f;
    owned o;
    owned_init(&o, ZOQ_QFORMAT_INT4_GROUP, 2, 64, 32);
    cr_assert_eq(zoq_qmatrix_quantize(w, &o.m), ZOQ_OK);
    uint8_t codes[128], repacked[64];
    cr_assert_eq(zoq_q4_unpack(o.m.codes, 128, codes), ZOQ_OK);
    for (int i = 0; i < 128; i++) {
        const float s = o.m.scales[i / 32];
        const float x = s * (float)((int)codes[i] - o.m.zeros[i / 32]);
        cr_expect(fabs((double)w[i] - (double)x) <= 0.5 * s + 0x1p-24 * fabs((double)x));
    }
    cr_assert_eq(zoq_q4_pack(codes, 128, repacked), ZOQ_OK);
    cr_expect_arr_eq(repacked, o.m.codes, 64);
    owned_free(&o);
}

/* ---- forward pass against double precision ---------------------------------- */

/* Y = X·Ŵᵀ in double from the dequantized Ŵ, and the bound's Σ|ŵ·x|. */
static void reference(const float *what, const float *x, int64_t batch, int64_t rows,
                      int64_t cols, double *y, double *yabs)
{
    for (int64_t b = 0; b < batch; b++)
        for (int64_t r = 0; r < rows; r++) {
            double s = 0.0, a = 0.0;
            for (int64_t j = 0; j < cols; j++) {
                const double t = (double)what[r * cols + j] * (double)x[b * cols + j];
                s += t;
                a += fabs(t);
            }
            y[b * rows + r] = s;
            yabs[b * rows + r] = a;
        }
}

static void forward_case(int format, int group, int64_t rows, int64_t cols, int64_t batch)
{
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    float *what = malloc((size_t)(rows * cols) * sizeof *what);
    float *x = malloc((size_t)(batch * cols) * sizeof *x);
    float *y = malloc((size_t)(batch * rows) * sizeof *y);
    double *yr = malloc((size_t)(batch * rows) * sizeof *yr);
    double *ya = malloc((size_t)(batch * rows) * sizeof *ya);
    cr_assert(w && what && x && y && yr && ya);
    unsigned st = (unsigned)(rows * 31 + cols + batch);
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = 2.0f * uniform(&st) - 1.0f;
    for (int64_t i = 0; i < batch * cols; i++)
        x[i] = 2.0f * uniform(&st) - 1.0f;
    owned o;
    owned_init(&o, format, rows, cols, group);
    cr_assert_eq(zoq_qmatrix_quantize(w, &o.m), ZOQ_OK);
    cr_assert_eq(zoq_qmatrix_dequantize(&o.m, what), ZOQ_OK);
    reference(what, x, batch, rows, cols, yr, ya);
    cr_assert_eq(zoq_qmatrix_matmul(&o.m, x, batch, y), ZOQ_OK);
    for (int64_t i = 0; i < batch * rows; i++)
        cr_expect(fabs((double)y[i] - yr[i]) <= (double)(cols + 4) * 0x1p-24 * ya[i],
                  "matmul %dx%d batch %d, [%d]: %.9g vs %.9g", (int)rows, (int)cols,
                  (int)batch, (int)i, (double)y[i], yr[i]);
    for (int64_t b = 0; b < batch; b++) {
        cr_assert_eq(zoq_qmatrix_matvec(&o.m, x + b * cols, y), ZOQ_OK);
        for (int64_t r = 0; r < rows; r++)
            cr_expect(fabs((double)y[r] - yr[b * rows + r]) <=
                      (double)(cols + 4) * 0x1p-24 * ya[b * rows + r]);
    }
    owned_free(&o);
    free(w), free(what), free(x), free(y), free(yr), free(ya);
}

Test(quant_forward, matvec_matmul_match_double_reference)
{
    for (size_t f = 0; f < N_FORMATS; f++)
        for (int64_t batch = 1; batch <= 9; batch += 2)
            forward_case(formats[f].format, formats[f].group, 33, 256, batch);
    /* several sgemm tiles (tile = 2^18 / cols rows), and an int8 tail */
    forward_case(ZOQ_QFORMAT_INT4_GROUP, 128, 200, 4096, 6);
    forward_case(ZOQ_QFORMAT_INT8_ROW, 0, 70, 4099, 5);
    forward_case(ZOQ_QFORMAT_INT8_ROW, 0, 3, 1, 1);
}

/* ---- argument checking ------------------------------------------------------- */

Test(quant_errors, sizes)
{
    size_t c = 1, s = 1, z = 1;
    cr_expect_eq(zoq_qmatrix_sizes(ZOQ_QFORMAT_INT8_ROW, 3, 5, 0, &c, &s, &z), ZOQ_OK);
    cr_expect(c == 15 && s == 12 && z == 0);
    cr_expect_eq(zoq_qmatrix_sizes(ZOQ_QFORMAT_INT4_GROUP, 3, 256, 64, &c, &s, &z), ZOQ_OK);
    cr_expect(c == 384 && s == 48 && z == 12);
    cr_expect_eq(zoq_qmatrix_sizes(ZOQ_QFORMAT_INT4_GROUP, 3, 256, 128, NULL, NULL, NULL),
                 ZOQ_OK);
    c = 99;
    const struct { int f; int64_t r, k; int32_t g; } bad[] = {
        {2, 1, 32, 32}, {-1, 1, 32, 0}, {ZOQ_QFORMAT_INT8_ROW, 0, 4, 0},
        {ZOQ_QFORMAT_INT8_ROW, 4, 0, 0}, {ZOQ_QFORMAT_INT8_ROW, -1, 4, 0},
        {ZOQ_QFORMAT_INT8_ROW, 4, 4, 32}, {ZOQ_QFORMAT_INT8_ROW, INT64_C(1) << 31, 4, 0},
        {ZOQ_QFORMAT_INT8_ROW, 4, INT64_C(1) << 31, 0}, {ZOQ_QFORMAT_INT8_ROW, INT64_MAX, INT64_MAX, 0},
        {ZOQ_QFORMAT_INT4_GROUP, 1, 48, 32}, {ZOQ_QFORMAT_INT4_GROUP, 1, 64, 16},
        {ZOQ_QFORMAT_INT4_GROUP, 1, 64, 0}, {ZOQ_QFORMAT_INT4_GROUP, 1, 256, 256},
        {ZOQ_QFORMAT_INT4_GROUP, 1, 96, 64}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(zoq_qmatrix_sizes(bad[i].f, bad[i].r, bad[i].k, bad[i].g, &c, NULL, NULL),
                     ZOQ_E_INVALID, "case %zu", i);
    cr_expect_eq(c, 99, "written on error");
}

/* Every call refuses the descriptor variant and writes nothing. */
static void expect_refused(const zoq_qmatrix_t *m, const char *what)
{
    float w[2 * 64], y[2 * 2], x[2 * 64];
    for (int i = 0; i < 2 * 64; i++)
        w[i] = x[i] = 1.0f;
    for (int i = 0; i < 4; i++)
        y[i] = -7.0f;
    float back[2 * 64];
    memset(back, 0x5A, sizeof back);
    cr_expect_eq(zoq_qmatrix_quantize(w, m), ZOQ_E_INVALID, "quantize: %s", what);
    cr_expect_eq(zoq_qmatrix_dequantize(m, back), ZOQ_E_INVALID, "dequantize: %s", what);
    cr_expect_eq(zoq_qmatrix_matvec(m, x, y), ZOQ_E_INVALID, "matvec: %s", what);
    cr_expect_eq(zoq_qmatrix_matmul(m, x, 2, y), ZOQ_E_INVALID, "matmul: %s", what);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(y[i], -7.0f, "%s: y written", what);
    for (size_t i = 0; i < sizeof back; i++)
        cr_expect_eq(((unsigned char *)back)[i], 0x5A, "%s: w written", what);
}

Test(quant_errors, descriptors)
{
    uint8_t codes[64], zeros[4];
    float scales[4];
    memset(codes, 0x11, sizeof codes);
    memset(zeros, 1, sizeof zeros);
    for (int i = 0; i < 4; i++)
        scales[i] = 1.0f;
    const zoq_qmatrix_t good = {.size = sizeof good, .format = ZOQ_QFORMAT_INT4_GROUP,
                                .group_size = 32, .rows = 2, .cols = 64, .codes = codes,
                                .scales = scales, .zeros = zeros};
    zoq_qmatrix_t m;
    expect_refused(NULL, "NULL");
    m = good, m.size = sizeof m - 1, expect_refused(&m, "short size");
    m = good, m.size = 0, expect_refused(&m, "size 0");
    m = good, m.format = 7, expect_refused(&m, "format");
    m = good, m.group_size = 48, expect_refused(&m, "group 48");
    m = good, m.group_size = 128, expect_refused(&m, "group > cols");
    m = good, m.rows = 0, expect_refused(&m, "rows 0");
    m = good, m.codes = NULL, expect_refused(&m, "codes NULL");
    m = good, m.scales = NULL, expect_refused(&m, "scales NULL");
    m = good, m.zeros = NULL, expect_refused(&m, "int4 without zeros");
    m = good, m.format = ZOQ_QFORMAT_INT8_ROW, m.group_size = 0,
    expect_refused(&m, "int8 with zeros");
    /* a newer caller's larger struct: fine only if the extra bytes are zero */
    struct { zoq_qmatrix_t m; uint64_t extra; } big = {good, 0};
    big.m.size = sizeof big;
    float y[2], x[64];
    for (int i = 0; i < 64; i++)
        x[i] = 1.0f;
    cr_expect_eq(zoq_qmatrix_matvec(&big.m, x, y), ZOQ_OK);
    big.extra = 1;
    expect_refused(&big.m, "unknown trailing field set");
}

Test(quant_errors, contents_and_pointers)
{
    uint8_t codes[64], zeros[4];
    float scales[4], w[128], x[128], y[4];
    memset(codes, 0x11, sizeof codes);
    memset(zeros, 1, sizeof zeros);
    for (int i = 0; i < 128; i++)
        w[i] = x[i] = 0.5f;
    for (int i = 0; i < 4; i++)
        scales[i] = 1.0f;
    zoq_qmatrix_t m = {.size = sizeof m, .format = ZOQ_QFORMAT_INT4_GROUP, .group_size = 32,
                       .rows = 2, .cols = 64, .codes = codes, .scales = scales, .zeros = zeros};
    /* reading refuses a zero > 15 or a non-finite scale; writes nothing */
    zeros[3] = 16;
    for (int i = 0; i < 4; i++)
        y[i] = -7.0f;
    cr_expect_eq(zoq_qmatrix_dequantize(&m, w), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_matvec(&m, x, y), ZOQ_E_INVALID);
    cr_expect_eq(w[0], 0.5f);
    cr_expect_eq(y[0], -7.0f);
    zeros[3] = 15;
    scales[2] = NAN;
    cr_expect_eq(zoq_qmatrix_matmul(&m, x, 2, y), ZOQ_E_INVALID);
    scales[2] = INFINITY;
    cr_expect_eq(zoq_qmatrix_dequantize(&m, w), ZOQ_E_INVALID);
    scales[2] = 1.0f;
    cr_expect_eq(y[0], -7.0f);
    /* NULL arrays and bad batch sizes */
    cr_expect_eq(zoq_qmatrix_quantize(NULL, &m), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_dequantize(&m, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_matvec(&m, NULL, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_matvec(&m, x, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_matmul(&m, x, 0, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_matmul(&m, x, -3, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_matmul(&m, x, INT64_C(1) << 31, y), ZOQ_E_INVALID);
    cr_expect_eq(zoq_qmatrix_matmul(&m, NULL, 1, y), ZOQ_E_INVALID);
    /* quantize refuses non-finite input before writing anything */
    uint8_t codes0[64];
    memcpy(codes0, codes, sizeof codes);
    const float nonfinite[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        w[127] = nonfinite[k];
        cr_expect_eq(zoq_qmatrix_quantize(w, &m), ZOQ_E_INVALID);
        cr_expect_arr_eq(codes, codes0, sizeof codes);
        cr_expect_eq(scales[0], 1.0f);
        cr_expect_eq(zeros[0], 1);
    }
}

Test(quant_errors, packing)
{
    uint8_t codes[4] = {1, 2, 16, 3}, packed[2] = {0xAA, 0xBB};
    cr_expect_eq(zoq_q4_pack(codes, 4, packed), ZOQ_E_INVALID);
    cr_expect(packed[0] == 0xAA && packed[1] == 0xBB);
    codes[2] = 0;
    cr_expect_eq(zoq_q4_pack(codes, 3, packed), ZOQ_E_INVALID);
    cr_expect_eq(zoq_q4_pack(NULL, 4, packed), ZOQ_E_INVALID);
    cr_expect_eq(zoq_q4_pack(codes, 4, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_q4_unpack(packed, 3, codes), ZOQ_E_INVALID);
    cr_expect_eq(zoq_q4_unpack(NULL, 4, codes), ZOQ_E_INVALID);
    cr_expect_eq(zoq_q4_unpack(packed, 4, NULL), ZOQ_E_INVALID);
    cr_expect_eq(zoq_q4_pack(codes, 0, packed), ZOQ_OK);
}

/* A refused descriptor says why on the thread (zoq_last_error(NULL)). */
Test(quant, a_refusal_leaves_its_message_on_the_thread)
{
    owned o;
    owned_init(&o, ZOQ_QFORMAT_INT4_GROUP, 2, 64, 32);
    o.m.group_size = 48;
    float w[2 * 64] = {0};
    cr_assert_eq(zoq_qmatrix_dequantize(&o.m, w), ZOQ_E_INVALID);
    cr_expect(strstr(zoq_last_error(NULL), "group_size 32, 64 or 128") != NULL, "%s",
              zoq_last_error(NULL));
    uint8_t codes[3] = {1, 2, 3}, packed[2];
    cr_assert_eq(zoq_q4_pack(codes, 3, packed), ZOQ_E_INVALID);
    cr_expect(strstr(zoq_last_error(NULL), "odd n 3") != NULL, "%s", zoq_last_error(NULL));
    owned_free(&o);
}
