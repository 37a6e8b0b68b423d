/* restore_error.c - how far an abandoned in-place step leaves the
 * parameters from θ: for f32, f16 and bf16 storage, central and forward
 * SPSA with n = 1 and 4 directions, ε = 1e-3 and 1e-2, the objective fails
 * at each point in turn (from the same θ, 4096 elements uniform on [-1, 1]);
 * prints the largest |restored − θ| in ulps of the storage format at
 * |θ| + 6ε (the magnitude the moves pass through), per failing point, with
 * and without ZOQ_OPT_EXACT_RESTORE. docs/inplace.md quotes its output.
 * Usage: restore_error */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/convert.h"
#include "zoq.h"

enum { N = 4096 };

static int fail_at;

static int failing(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    *loss = 1.0;
    return ev->point == fail_at ? 7 : 0;
}

/* The largest |b − a| over the buffers, in ulps of |a| + 6 eps. */
static double max_ulps(const void *a, const void *b, int dtype, double eps)
{
    const int mant = dtype == ZOQ_F32 ? 23 : dtype == ZOQ_F16 ? 10 : 7;
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double x = zoq__load_f32(a, dtype, i), y = zoq__load_f32(b, dtype, i);
        double ulp = fmax(ldexp(1.0, ilogb(fabs(x) + 6 * eps) - mant), ldexp(1.0, -24));
        worst = fmax(worst, fabs(y - x) / ulp);
    }
    return worst;
}

int main(void)
{
    static const char *names[3] = {"f32", "f16", "bf16"};
    static unsigned char theta[4 * N], w[4 * N];
    printf("| storage | estimator | n | eps | exact_restore | max ulps, failing at point 0, 1, ... |\n"
           "|---|---|---|---|---|---|\n");
    for (int dt = ZOQ_F32; dt <= ZOQ_BF16; dt++)
        for (int est = ZOQ_EST_CENTRAL; est <= ZOQ_EST_FORWARD; est++)
            for (int n = 1; n <= 4; n += 3)
                for (int e = 0; e < 2; e++)
                    for (int exact = 0; exact < 2; exact++) {
                        const double eps = e ? 1e-2 : 1e-3;
                        srand(1);
                        for (int i = 0; i < N; i++) {
                            float x = (float)(rand() / (double)RAND_MAX * 2 - 1);
                            uint16_t h = dt == ZOQ_F16 ? zoq__f32_to_f16(x) : zoq__f32_to_bf16(x);
                            memcpy(theta + (dt == ZOQ_F32 ? 4 : 2) * i, dt == ZOQ_F32 ?
                                   (const void *)&x : (const void *)&h, dt == ZOQ_F32 ? 4 : 2);
                        }
                        printf("| %s | %s | %d | %g | %d |", names[dt],
                               est == ZOQ_EST_CENTRAL ? "central" : "forward", n, eps, exact);
                        const int points = est == ZOQ_EST_CENTRAL ? 2 * n : n + 1;
                        for (fail_at = 0; fail_at < points; fail_at++) {
                            zoq_ctx *ctx;
                            memcpy(w, theta, sizeof w);
                            if (zoq_create(&ctx) != ZOQ_OK ||
                                zoq_param_add(ctx, "w", w, dt, N, NULL) != ZOQ_OK)
                                return 1;
                            zoq_set_int(ctx, ZOQ_OPT_ESTIMATOR, est);
                            zoq_set_int(ctx, ZOQ_OPT_QUERIES, n);
                            zoq_set_double(ctx, ZOQ_OPT_EPS, eps);
                            zoq_set_int(ctx, ZOQ_OPT_SEED, 5);
                            zoq_set_int(ctx, ZOQ_OPT_EXACT_RESTORE, exact);
                            zoq_set_objective(ctx, failing, NULL);
                            if (zoq_step(ctx, NULL) != ZOQ_E_CALLBACK)
                                return 1;
                            printf(" %.2g", max_ulps(theta, w, dt, eps));
                            zoq_destroy(ctx);
                        }
                        printf(" |\n");
                    }
    return 0;
}
