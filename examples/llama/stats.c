/* stats.c - stats.h. */
#include "stats.h"

#include <math.h>

double mcnemar_p(int64_t b, int64_t c)
{
    const int64_t n = b + c, k = b < c ? b : c;
    if (n == 0)
        return 1.0;
    double tail = 0.0;
    for (int64_t i = 0; i <= k; i++)
        tail += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
                    (double)n * log(2.0));
    return fmin(1.0, 2.0 * tail);
}

void wilson95(int64_t k, int64_t n, double *lo, double *hi)
{
    const double z = 1.959963984540054, p = n ? (double)k / (double)n : 0.0, nn = (double)n;
    if (n == 0) {
        *lo = 0.0;
        *hi = 1.0;
        return;
    }
    const double c = (p + z * z / (2 * nn)) / (1 + z * z / nn);
    const double h = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / (1 + z * z / nn);
    *lo = c - h;
    *hi = c + h;
}
