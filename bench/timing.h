/* timing.h - wall-clock time and the median of repeated timings, shared by
 * the benchmarks (each bench/NAME.c is its own program; define
 * _POSIX_C_SOURCE 200809L before any include). */
#ifndef ZOQ_BENCH_TIMING_H
#define ZOQ_BENCH_TIMING_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Monotonic seconds. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds the calling thread has run (not the time others held its core). */
static inline double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n), n >= 1; sorts v. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The usual arguments [numel] [reps]: defaults def_n and 5, numel capped by
 * ZOQ_BENCH_MAX; 0 when reps is not in 1..max_reps or numel < 1000. */
static inline int bench_args(int argc, char **argv, int64_t def_n, int max_reps, int64_t *n,
                             int *reps)
{
    *n = argc > 1 ? atoll(argv[1]) : def_n;
    *reps = argc > 2 ? atoi(argv[2]) : 5;
    const char *cap = getenv("ZOQ_BENCH_MAX");
    if (cap && atoll(cap) > 0 && atoll(cap) < *n)
        *n = atoll(cap);
    return *reps >= 1 && *reps <= max_reps && *n >= 1000;
}

#endif
