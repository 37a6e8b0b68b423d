/* quantize.c - round-to-nearest quantizers from f32 (docs/quantized.md):
 * symmetric int8 per row, asymmetric uint4 per group. Each scale is the
 * smallest f32 at or above the min-max choice for which every element of its
 * row or group lies within half a step of the code grid, so the round trip
 * error is at most s/2 before the f32 rounding of s·(q − z). */
#include <math.h>

#include "quant.h"

/* Codes and scale of one int8 row of n elements. */
static void quantize_int8_row(const float *x, size_t n, int8_t *q, float *scale)
{
    double amax = 0.0;
    for (size_t j = 0; j < n; j++)
        amax = fmax(amax, fabs((double)x[j]));
    if (amax == 0.0) {
        *scale = 0.0f;
        for (size_t j = 0; j < n; j++)
            q[j] = 0;
        return;
    }
    /* 127·s >= amax (exact in double) keeps |x/s| <= 127: no clamp needed */
    float s = (float)(amax / 127.0);
    while ((double)s * 127.0 < amax)
        s = nextafterf(s, INFINITY);
    for (size_t j = 0; j < n; j++)
        q[j] = (int8_t)zoq__round_even((double)x[j] / (double)s);
    *scale = s;
}

/* Scale and zero of one uint4 group of n elements; the grid always holds 0. */
static void int4_params(const float *x, size_t n, float *scale, uint8_t *zero)
{
    double lo = 0.0, hi = 0.0;
    for (size_t j = 0; j < n; j++) {
        lo = fmin(lo, (double)x[j]);
        hi = fmax(hi, (double)x[j]);
    }
    if (lo == hi) { /* all zero */
        *scale = 0.0f;
        *zero = 0;
        return;
    }
    float s = (float)((hi - lo) / ZOQ__Q4_MAX);
    if (s == 0.0f)
        s = nextafterf(0.0f, 1.0f);
    double z;
    for (;;) {
        /* both ends within half a step of the grid s·(0 − z) .. s·(15 − z);
         * the products are exact in double */
        z = fmin(zoq__round_even(-lo / (double)s), ZOQ__Q4_MAX);
        if (-(z + 0.5) * (double)s <= lo && (ZOQ__Q4_MAX + 0.5 - z) * (double)s >= hi)
            break;
        s = nextafterf(s, INFINITY);
    }
    *scale = s;
    *zero = (uint8_t)z;
}

/* The code of x in a group of scale s > 0 and zero z, clamped to 0..15. */
static unsigned int4_code(float x, float s, unsigned z)
{
    const double q = zoq__round_even((double)x / (double)s) + (double)z;
    return (unsigned)fmin(fmax(q, 0.0), ZOQ__Q4_MAX);
}

/* Codes, scales and zeros of one uint4 row (sh->groups groups). */
static void quantize_int4_row(const float *x, const zoq__qm_shape_t *sh, uint8_t *packed,
                              float *scales, uint8_t *zeros)
{
    for (size_t g = 0; g < sh->groups; g++) {
        const float *xg = x + g * sh->group;
        uint8_t *pg = packed + g * sh->group / 2;
        int4_params(xg, sh->group, &scales[g], &zeros[g]);
        const float s = scales[g];
        const unsigned z = zeros[g];
        for (size_t j = 0; j < sh->group; j += 2) {
            const unsigned lo = s > 0.0f ? int4_code(xg[j], s, z) : 0;
            const unsigned hi = s > 0.0f ? int4_code(xg[j + 1], s, z) : 0;
            pg[j / 2] = (uint8_t)(lo | hi << 4);
        }
    }
}

int zoq_qmatrix_quantize(const float *w, const zoq_qmatrix_t *in)
{
    zoq_qmatrix_t mat, *m = &mat;
    zoq__qm_shape_t sh;
    const int st = zoq__qm_check(in, m, &sh);
    if (st != ZOQ_OK)
        return st;
    if (w == NULL)
        return QBAD("zoq_qmatrix_quantize: w is NULL");
    for (size_t i = 0; i < sh.rows * sh.cols; i++)
        if (!isfinite(w[i]))
            return QBAD("zoq_qmatrix_quantize: w[%zu] is not finite", i);
    for (size_t r = 0; r < sh.rows; r++) {
        const float *x = w + r * sh.cols;
        if (m->format == ZOQ_QFORMAT_INT8_ROW)
            quantize_int8_row(x, sh.cols, (int8_t *)m->codes + r * sh.cols, &m->scales[r]);
        else
            quantize_int4_row(x, &sh, (uint8_t *)m->codes + r * sh.row_bytes,
                              m->scales + r * sh.groups, m->zeros + r * sh.groups);
    }
    return ZOQ_OK;
}
