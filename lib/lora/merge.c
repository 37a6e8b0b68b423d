/* merge.c - combining adapters across nights (Morgan 2026, §V-B, §VI-C): the
 * exponential moving average of factor buffers and best-adapter tracking
 * (docs/lora.md, "Merging across runs"). */
#include <math.h>

#include "lora/lora.h"
#include "core/abi.h"

int zoq_lora_ema(float *dst, const float *src, int64_t n, double w)
{
    if ((n > 0 && (!dst || !src)) || n < 0 || !(w >= 0.0 && w <= 1.0))
        return ZOQ_E_INVALID;
    const double keep = 1.0 - w;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(w * (double)src[i] + keep * (double)dst[i]);
    return ZOQ_OK;
}

int zoq_lora_best_offer(zoq_lora_best_t *best, double score, int64_t tag, int *improved)
{
    if (!best || !improved || !zoq__struct_ok(best, best->size, sizeof *best, sizeof *best) ||
        !isfinite(score))
        return ZOQ_E_INVALID;
    *improved = !best->valid || score > best->score;
    if (*improved) {
        best->valid = 1;
        best->score = score;
        best->tag = tag;
    }
    return ZOQ_OK;
}
