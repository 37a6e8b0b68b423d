/* lora.h - checks shared by the LoRA sources (lib/lora). Nothing here is
 * exported. */
#ifndef ZOQ_LORA_LORA_H
#define ZOQ_LORA_LORA_H

#include <stddef.h>

#include "zoq.h"

/* Largest batch, rank and feature count the sgemm paths accept (int). */
#define ZOQ__LORA_DIM_MAX ((int64_t)INT32_MAX)
#define ZOQ__LORA_RANK_MAX 65536

/* ZOQ_OK if l is a well-formed pair description (size, shapes, rank,
 * finite alpha) whose factor buffers are present when need_factors; else
 * ZOQ_E_INVALID. */
int zoq__lora_check(const zoq_lora_t *l, int need_factors);

#endif
