/* test_rng.c - the noise contract of docs/rng.md: known answers from the
 * independent generator (tests/kat/gen_rng_kat.py), slices, moments,
 * normality and independence. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kat/rng_vectors.h"
#include "rng/noise.h"
#include "zoq.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

Test(rng, philox_known_answers)
{
    for (size_t i = 0; i < N_OF(kat_philox); i++) {
        uint32_t out[4];
        zoq__philox4x32_10(kat_philox[i].ctr, kat_philox[i].key, out);
        for (int j = 0; j < 4; j++)
            cr_assert_eq(out[j], kat_philox[i].out[j], "vector %zu word %d: %08x != %08x", i, j,
                         out[j], kat_philox[i].out[j]);
    }
}

Test(rng, tensor_key_known_answers)
{
    for (size_t i = 0; i < N_OF(kat_key); i++)
        cr_assert_eq(zoq_tensor_key(kat_key[i].seed, kat_key[i].name), kat_key[i].key,
                     "seed %llx name '%s'", (unsigned long long)kat_key[i].seed, kat_key[i].name);
}

Test(rng, noise_known_answers_bit_exact)
{
    for (size_t i = 0; i < N_OF(kat_noise); i++) {
        const kat_noise_t *v = &kat_noise[i];
        float z[16];
        cr_assert_eq(zoq_noise_fill(v->key, v->step, v->query, v->stream, v->dist, v->offset, 16,
                                    z), ZOQ_OK);
        for (int j = 0; j < 16; j++)
            cr_assert_eq(bits_of(z[j]), v->bits[j], "vector %zu element %d: %08x (%g) != %08x", i,
                         j, bits_of(z[j]), z[j], v->bits[j]);
    }
}

Test(rng, any_slice_equals_the_whole)
{
    enum { N = 1200 };
    static float whole[N], part[N];
    for (int dist = 0; dist < 2; dist++) {
        uint64_t base = dist ? (128ull << 32) - 300 : (32ull << 32) - 300; /* crosses 2^32 blocks / chunks */
        zoq_noise_fill(0x1234, 9, 3, 0, dist, base, N, whole);
        for (int i = 0; i < 300; i++) {
            for (int len = 1; len < 140 && i + len <= N; len += 1 + len / 3) {
                zoq_noise_fill(0x1234, 9, 3, 0, dist, base + (uint64_t)i, (size_t)len, part);
                cr_assert(memcmp(part, whole + i, (size_t)len * sizeof(float)) == 0,
                          "dist %d slice [%d, +%d) differs from the whole", dist, i, len);
            }
        }
    }
}

/* Standard normal CDF. */
static double phi(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

Test(rng, gaussian_moments_and_normality)
{
    enum { N = 1000000 };
    float *z = malloc(N * sizeof *z);
    cr_assert_not_null(z);
    zoq_noise_fill(zoq_tensor_key(1, "moments"), 0, 0, 0, ZOQ_DIST_GAUSSIAN, 0, N, z);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (int i = 0; i < N; i++) {
        double x = z[i];
        cr_assert(fabs(x) < 6.56, "|z| beyond the spec's radius bound at %d: %g", i, x);
        m1 += x; m2 += x * x; m3 += x * x * x; m4 += x * x * x * x;
    }
    m1 /= N; m2 /= N; m3 /= N; m4 /= N;
    /* 5-sigma bands: sd(mean) = 1e-3, sd(m2) = sqrt(2)e-3, sd(m3) = sqrt(15)e-3, sd(m4) = sqrt(96)e-3 */
    cr_assert(fabs(m1) < 5e-3, "mean %g", m1);
    cr_assert(fabs(m2 - 1.0) < 7.1e-3, "variance %g", m2);
    cr_assert(fabs(m3) < 19.4e-3, "third moment %g", m3);
    cr_assert(fabs(m4 - 3.0) < 49e-3, "fourth moment %g", m4);
    /* Kolmogorov-Smirnov against N(0,1): critical value at alpha = 1e-3 is 1.95/sqrt(N). */
    qsort(z, N, sizeof *z, cmp_float);
    double d = 0;
    for (int i = 0; i < N; i++) {
        double f = phi(z[i]);
        double lo = f - (double)i / N, hi = (double)(i + 1) / N - f;
        d = fmax(d, fmax(lo, hi));
    }
    cr_assert(d < 1.95 / sqrt((double)N), "KS distance %g too large", d);
    free(z);
}

Test(rng, rademacher_balance)
{
    enum { N = 1000000 };
    float *z = malloc(N * sizeof *z);
    zoq_noise_fill(zoq_tensor_key(1, "signs"), 4, 2, 0, ZOQ_DIST_RADEMACHER, 7, N, z);
    long plus = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(z[i] == 1.0f || z[i] == -1.0f);
        plus += z[i] > 0;
    }
    cr_assert(labs(2 * plus - N) < 5 * 1000, "%ld of %d positive", plus, N); /* 5 sigma */
    free(z);
}

/* Sample correlation of two streams must look like that of independent ones. */
static void assert_uncorrelated(const float *a, const float *b, int n, const char *what)
{
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        sab += (double)a[i] * b[i];
        saa += (double)a[i] * a[i];
        sbb += (double)b[i] * b[i];
    }
    double r = sab / sqrt(saa * sbb);
    cr_assert(fabs(r) < 5.0 / sqrt((double)n), "%s: correlation %g", what, r);
}

Test(rng, independent_across_tensors_steps_queries_streams)
{
    enum { N = 200000 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    for (int dist = 0; dist < 2; dist++) {
        uint64_t k = zoq_tensor_key(3, "layer.0"), k2 = zoq_tensor_key(3, "layer.1");
        zoq_noise_fill(k, 10, 0, 0, dist, 0, N, a);
        zoq_noise_fill(k2, 10, 0, 0, dist, 0, N, b);
        assert_uncorrelated(a, b, N, "tensors");
        zoq_noise_fill(k, 11, 0, 0, dist, 0, N, b);
        assert_uncorrelated(a, b, N, "steps");
        zoq_noise_fill(k, 10, 1, 0, dist, 0, N, b);
        assert_uncorrelated(a, b, N, "queries");
        zoq_noise_fill(k, 10, 0, 1, dist, 0, N, b);
        assert_uncorrelated(a, b, N, "streams");
        zoq_noise_fill(zoq_tensor_key(4, "layer.0"), 10, 0, 0, dist, 0, N, b);
        assert_uncorrelated(a, b, N, "seeds");
        assert_uncorrelated(a, a + 1, N - 1, "neighbours"); /* lag-1 within a stream */
    }
    free(a);
    free(b);
}

/* Every Gaussian stream zoq draws from (docs/rng.md 2): moments, the tail
 * P(|z| > 4) = 6.334e-5 of N(0,1), and no correlation at lag 1 (neighbours)
 * or lag 16 (the two draws of one pair sit 16 elements apart). */
Test(rng, gaussian_streams_moments_tails_and_lags)
{
    enum { N = 4000000 };
    float *z = malloc(N * sizeof *z);
    cr_assert_not_null(z);
    static const uint32_t streams[] = {ZOQ__STREAM_PROBE, ZOQ__STREAM_INIT, ZOQ__STREAM_LOZO_U,
                                       ZOQ__STREAM_LOZO_V, 200};
    for (size_t s = 0; s < N_OF(streams); s++) {
        zoq_noise_fill(zoq_tensor_key(5, "tails"), 3, 1, streams[s], ZOQ_DIST_GAUSSIAN, 11, N, z);
        double m1 = 0, m2 = 0;
        long tail = 0;
        for (int i = 0; i < N; i++) {
            m1 += z[i];
            m2 += (double)z[i] * z[i];
            tail += fabsf(z[i]) > 4.0f;
        }
        m1 /= N;
        m2 /= N;
        cr_assert(fabs(m1) < 5.0 / sqrt((double)N), "stream %u: mean %g", streams[s], m1);
        cr_assert(fabs(m2 - 1.0) < 5.0 * sqrt(2.0 / N), "stream %u: variance %g", streams[s], m2);
        /* binomial(N, 6.334e-5): mean 253, sd 15.9; 5 sd either side */
        const double expect = N * 6.334e-5, sd = sqrt(expect);
        cr_assert(fabs((double)tail - expect) < 5 * sd, "stream %u: %ld draws beyond 4, want %g",
                  streams[s], tail, expect);
        assert_uncorrelated(z, z + 1, N - 1, "lag 1");
        assert_uncorrelated(z, z + 16, N - 16, "lag 16 (the pair)");
        assert_uncorrelated(z, z + 32, N - 32, "lag 32 (the next chunk)");
    }
    free(z);
}

Test(rng, invalid_arguments_refused)
{
    float z[4];
    cr_assert_eq(zoq_noise_fill(1, 0, 1u << 24, 0, 0, 0, 4, z), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_fill(1, 0, 0, 256, 0, 0, 4, z), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_fill(1, 0, 0, 0, 2, 0, 4, z), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_fill(1, 0, 0, 0, 0, 0, 4, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_fill(1, 0, 0, 0, 0, UINT64_MAX - 1, 4, z), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_fill(1, 0, 0, 0, 0, 0, 0, NULL), ZOQ_OK);
}

/* zoq_noise_axpy gives the bits of zoq_noise_fill then acc + coef * z (each
 * rounded), on slices of both distributions that start and end anywhere
 * (Rademacher blocks cut at either end included), coefficients 0, -0, NaN,
 * ±Inf, subnormal and ordinary, accumulators of any bit pattern; it leaves
 * the floats past the slice alone and refuses what zoq_noise_fill refuses,
 * touching nothing. */
Test(rng, noise_axpy_equals_fill_then_add)
{
    enum { MAX = 2000, GUARD = 16 };
    static const float coefs[] = {1e-3f, -2.5f, 0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e-40f};
    static float z[MAX], ref[MAX + GUARD], got[MAX + GUARD];
    uint64_t s = 7;
    for (int t = 0; t < 600; t++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const int dist = t % 2 ? ZOQ_DIST_RADEMACHER : ZOQ_DIST_GAUSSIAN;
        const size_t count = t % 5 == 0 ? 512 : (size_t)((s >> 20) % (MAX + 1));
        const uint64_t offset = t % 5 == 0 ? 128 * (s >> 40) : (s >> 33) % 100000;
        const float c = coefs[t % 8];
        for (int i = 0; i < MAX + GUARD; i++) {
            uint32_t w = (uint32_t)(s >> 11) * (uint32_t)(i + 1) ^ (uint32_t)i * 2654435761u;
            w = (i % 7 == 0) ? w : (w & 0x807FFFFFu) | 0x3F000000u; /* mostly ordinary */
            memcpy(&ref[i], &w, sizeof w);
        }
        memcpy(got, ref, sizeof got);
        cr_assert_eq(zoq_noise_fill(99, (uint64_t)t, 3, 1, dist, offset, count, z), ZOQ_OK);
        for (size_t j = 0; j < count; j++)
            ref[j] = ref[j] + c * z[j];
        cr_assert_eq(zoq_noise_axpy(99, (uint64_t)t, 3, 1, dist, offset, count, c, got), ZOQ_OK);
        for (size_t j = 0; j < count + GUARD; j++)
            cr_assert(memcmp(&ref[j], &got[j], 4) == 0 || (isnan(ref[j]) && isnan(got[j])),
                      "dist %d offset %llu count %zu c %g: element %zu %a vs %a", dist,
                      (unsigned long long)offset, count, c, j, ref[j], got[j]);
    }
    float acc[4] = {1, 2, 3, 4};
    cr_assert_eq(zoq_noise_axpy(1, 0, 1u << 24, 0, 0, 0, 4, 1.0f, acc), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_axpy(1, 0, 0, 256, 0, 0, 4, 1.0f, acc), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_axpy(1, 0, 0, 0, 2, 0, 4, 1.0f, acc), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_axpy(1, 0, 0, 0, 0, 0, 4, 1.0f, NULL), ZOQ_E_INVALID);
    cr_assert_eq(zoq_noise_axpy(1, 0, 0, 0, 0, UINT64_MAX - 1, 4, 1.0f, acc), ZOQ_E_INVALID);
    cr_assert(acc[0] == 1 && acc[1] == 2 && acc[2] == 3 && acc[3] == 4, "refused calls wrote");
    cr_assert_eq(zoq_noise_axpy(1, 0, 0, 0, 0, 0, 0, 1.0f, NULL), ZOQ_OK);
}
