/* gauss_quality.c - the Gaussian stream of docs/rng.md against N(0, 1) on
 * many draws (10^9 by default), beyond what make check can afford: the
 * first four moments, the Kolmogorov-Smirnov distance (at the edges of
 * 2^20 bins over [-7, 7], which resolve it to about 5e-6), and the tails
 * P(|z| > t) for t = 3 .. 6.5 against their normal values, each with its
 * z-score. One stream (the tensor key of "layer.0.weight", seed 42, step 0,
 * query 0, stream 0) read in order through zoq_noise_fill.
 * Usage: gauss_quality [draws]   (make rng-quality; results in docs/rng.md) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "zoq.h"

#define BINS (1 << 20)
#define LO (-7.0)
#define HI 7.0
#define CHUNK (1 << 20)

static double phi(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

int main(int argc, char **argv)
{
    const uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000000ull;
    static const double tails[] = {3.0, 4.0, 5.0, 5.5, 6.0, 6.5};
    enum { NT = sizeof tails / sizeof *tails };
    uint64_t *hist = calloc(BINS + 2, sizeof *hist), beyond[NT] = {0}, zeros = 0;
    float *z = malloc(CHUNK * sizeof *z);
    if (!hist || !z || n == 0)
        return 1;
    const uint64_t key = zoq_tensor_key(42, "layer.0.weight");
    double m[5] = {0}, top = 0;
    for (uint64_t i = 0; i < n; i += CHUNK) {
        const size_t c = n - i < CHUNK ? (size_t)(n - i) : CHUNK;
        if (zoq_noise_fill(key, 0, 0, 0, ZOQ_DIST_GAUSSIAN, i, c, z) != ZOQ_OK)
            return 1;
        double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
        for (size_t j = 0; j < c; j++) {
            const double x = z[j], a = fabs(x), x2 = x * x;
            s1 += x, s2 += x2, s3 += x2 * x, s4 += x2 * x2;
            zeros += x == 0;
            top = a > top ? a : top;
            for (int t = 0; t < NT; t++)
                beyond[t] += a > tails[t];
            const double f = (x - LO) / (HI - LO) * BINS;
            hist[f < 0 ? 0 : f >= BINS ? BINS + 1 : (size_t)f + 1]++;
        }
        m[1] += s1, m[2] += s2, m[3] += s3, m[4] += s4;
    }
    const double N = (double)n;
    printf("draws %llu, max |z| %.6f, exact zeros %llu\n", (unsigned long long)n, top,
           (unsigned long long)zeros);
    printf("mean %+.3e (sd %.1e)  var-1 %+.3e (sd %.1e)  skew %+.3e (sd %.1e)  "
           "kurt-3 %+.3e (sd %.1e)\n", m[1] / N, 1 / sqrt(N), m[2] / N - 1, sqrt(2 / N),
           m[3] / N, sqrt(15 / N), m[4] / N - 3, sqrt(96 / N));
    double cum = (double)hist[0], d = 0;
    for (size_t b = 1; b <= BINS; b++) {
        cum += (double)hist[b];
        const double edge = LO + (HI - LO) * (double)b / BINS, diff = fabs(cum / N - phi(edge));
        d = diff > d ? diff : d;
    }
    printf("KS distance %.3e (alpha = 0.001 critical value %.3e)\n", d, 1.95 / sqrt(N));
    for (int t = 0; t < NT; t++) {
        const double p = 2 * phi(-tails[t]), e = N * p;
        printf("P(|z| > %.1f): %llu draws, expected %.1f (p %.3e), z-score %+.2f\n", tails[t],
               (unsigned long long)beyond[t], e, p, ((double)beyond[t] - e) / sqrt(e));
    }
    free(hist);
    free(z);
    return 0;
}
