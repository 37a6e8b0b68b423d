/* merge.c - combining adapters across nights (Morgan 2026, §V-B, §VI-C): the
 * exponential moving average of factor buffers and best-adapter tracking
 * (docs/lora.md, "Merging across runs"). */
#include <math.h>

#include "core/internal.h"
#include "lora/lora.h"

int zoq_lora_ema(float *dst, const float *src, int64_t n, double w)
{
    if ((n > 0 && (!dst || !src)) || n < 0 || !(w >= 0.0 && w <= 1.0))
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_lora_ema: NULL buffers, n %lld < 0 or w "
                         "%g outside [0, 1]", (long long)n, w);
    const double keep = 1.0 - w;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(w * (double)src[i] + keep * (double)dst[i]);
    return ZOQ_OK;
}

int zoq_lora_best_offer(zoq_lora_best_t *best, double score, int64_t tag, int *improved)
{
    zoq_lora_best_t b = {0};
    const int rc = zoq__sized_in(NULL, "lora best", &b, best, sizeof b);
    if (rc != ZOQ_OK)
        return rc;
    if (!improved || !isfinite(score))
        return zoq__fail(NULL, ZOQ_E_INVALID, "zoq_lora_best_offer: improved NULL or score "
                         "not finite");
    *improved = !b.valid || score > b.score;
    if (*improved) {
        b.valid = 1;
        b.score = score;
        b.tag = tag;
    }
    zoq__sized_out(best, &b, sizeof b);
    return ZOQ_OK;
}
