/* lora.h - checks shared by the LoRA sources (lib/lora). Nothing here is
 * exported. */
#ifndef ZOQ_LORA_LORA_H
#define ZOQ_LORA_LORA_H

#include <stddef.h>

#include "zoq.h"

/* Largest batch, rank and feature count the sgemm paths accept (int). */
#define ZOQ__LORA_DIM_MAX ((int64_t)INT32_MAX)
#define ZOQ__LORA_RANK_MAX 65536

/* Reads the caller's pair description in into *l (an older, smaller
 * struct's missing fields as 0: lib/core/abi.h) and checks it: shapes,
 * rank, finite alpha, and the factor buffers when need_factors. Else
 * ZOQ_E_INVALID with a message for ctx (NULL: this thread's). */
int zoq__lora_read(zoq_ctx *ctx, const zoq_lora_t *in, zoq_lora_t *l, int need_factors);

#endif
