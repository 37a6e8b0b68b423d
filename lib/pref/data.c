/* data.c - pure data helpers over pair scores: the RAFT partial-signal
 * filter and the easy-first curriculum order (Morgan 2026, §VI-A). */
#include <math.h>

#include "pref.h"

int zoq_pref_raft_filter(const double *chosen_scores, const double *rejected_scores,
                         int64_t n, double high, double low, int64_t *keep, int64_t *n_keep)
{
    if (keep == NULL || n_keep == NULL)
        return zoq__pref_bad("zoq_pref_raft_filter: %s is NULL", keep == NULL ? "keep" : "n_keep");
    if (n <= 0)
        return zoq__pref_bad("zoq_pref_raft_filter: n = %lld pairs, must be > 0", (long long)n);
    if (!isfinite(high) || !isfinite(low) || low > high)
        return zoq__pref_bad("raft: thresholds low = %g, high = %g must be finite with "
                             "low <= high", low, high);
    ZOQ__PREF_TRY(zoq__pref_need("chosen_scores", chosen_scores, n, 0));
    ZOQ__PREF_TRY(zoq__pref_need("rejected_scores", rejected_scores, n, 0));
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const double c = chosen_scores[i], r = rejected_scores[i];
        const int both_high = c > high && r > high;  /* trivially correct */
        const int both_low = c < low && r < low;     /* trivially wrong */
        if (!both_high && !both_low)
            keep[k++] = i;
    }
    *n_keep = k;
    return ZOQ_OK;
}

/* Strict order of the curriculum: larger gap first, then smaller index. */
static int before(const double *c, const double *r, int64_t i, int64_t j)
{
    const double gi = c[i] - r[i], gj = c[j] - r[j];
    if (gi != gj)
        return gi > gj;
    return i < j;
}

/* Heap sort: in place, O(m log m), no allocation; the order is total (ties
 * broken by index) so the result does not depend on the algorithm. */
static void sift_down(const double *c, const double *r, int64_t *a, int64_t root, int64_t m)
{
    for (;;) {
        int64_t child = 2 * root + 1;
        if (child >= m)
            return;
        /* max-heap on "comes later" so that the array ends sorted ascending
         * in curriculum order */
        if (child + 1 < m && before(c, r, a[child], a[child + 1]))
            child++;
        if (!before(c, r, a[root], a[child]))
            return;
        const int64_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

int zoq_pref_curriculum_sort(const double *chosen_scores, const double *rejected_scores,
                             int64_t n, int64_t *idx, int64_t m)
{
    if (n <= 0 || m < 0)
        return zoq__pref_bad("zoq_pref_curriculum_sort: n = %lld must be > 0 and m = %lld "
                             ">= 0", (long long)n, (long long)m);
    if (idx == NULL && m > 0)
        return zoq__pref_bad("zoq_pref_curriculum_sort: idx is NULL with m = %lld",
                             (long long)m);
    ZOQ__PREF_TRY(zoq__pref_need("chosen_scores", chosen_scores, n, 0));
    ZOQ__PREF_TRY(zoq__pref_need("rejected_scores", rejected_scores, n, 0));
    for (int64_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= n)
            return zoq__pref_bad("curriculum: idx[%lld] = %lld is outside [0, n = %lld)",
                                 (long long)i, (long long)idx[i], (long long)n);
    for (int64_t i = m / 2 - 1; i >= 0; i--)
        sift_down(chosen_scores, rejected_scores, idx, i, m);
    for (int64_t end = m - 1; end > 0; end--) {
        const int64_t t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift_down(chosen_scores, rejected_scores, idx, 0, end);
    }
    return ZOQ_OK;
}
