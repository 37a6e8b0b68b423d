/* stats.h - the paired test and interval the examples/llama reports use. */
#ifndef ZOQ_EXAMPLES_LLAMA_STATS_H
#define ZOQ_EXAMPLES_LLAMA_STATS_H

#include <stdint.h>

/* Exact two-sided McNemar test: b items fixed, c broken, X ~ Bin(b + c, 1/2). */
double mcnemar_p(int64_t b, int64_t c);

/* Wilson score 95 % interval of a proportion of k successes in n. */
void wilson95(int64_t k, int64_t n, double *lo, double *hi);

#endif
