/*
 * zoq.h - zeroth-order optimization for parameters you can only evaluate.
 *
 * The umbrella header of libzoq: include this one. It includes the parts,
 * one per domain, under zoq/: core.h (version, status codes, context,
 * parameters, random numbers, the step, optimizer state), options.h,
 * backend.h (devices), io.h (safetensors and PEFT adapter files), pref.h
 * (preference losses and objective), lora.h (LoRA adapters), quant.h
 * (quantized formats). Every fallible function returns a zoq_status_t (0 ok,
 * negative error, see zoq_strerror()) and records a message readable with
 * zoq_last_error(). The library never aborts, exits or prints.
 *
 * Experimental API (not yet promised: it may change or go in any release) is
 * declared only when ZOQ_EXPERIMENTAL is defined before this header is
 * included, as zstd fences ZSTD_STATIC_LINKING_ONLY; today the nightly
 * rotation policy of lora.h. Its symbols are exported like the rest.
 *
 * ABI rules: nothing published is reordered, resized or renumbered. Structs
 * that cross the boundary begin with their own size (set it to sizeof the
 * struct as you compiled it); new fields are only appended. One rule for all
 * of them: a struct of an older, smaller version is accepted, the fields it
 * lacks read as their defaults (0 unless documented) and are never written;
 * a newer, larger one is accepted if every byte past this version's struct
 * is zero (outputs: left as they are); a size that is no version's (not a
 * whole number of size_t words) is ZOQ_E_INVALID. Arrays of structs are the
 * exception: their elements must be exactly this version's size. Options
 * grow by new keys. Exported symbols are zoq_* only, versioned ZOQ_0.1.
 *
 * Threading: a context is used by one thread at a time; distinct contexts are
 * independent. Functions without a context are thread-safe. As a guard
 * against misuse, zoq_step, zoq_run, zoq_ask, zoq_tell, zoq_cancel,
 * zoq_skip_step and zoq_destroy take the context with one atomic operation:
 * one called while another of them runs (from the objective, or from another
 * thread) is refused with ZOQ_E_STATE, never raced.
 */
#ifndef ZOQ_H
#define ZOQ_H

#include "zoq/core.h"
#include "zoq/options.h"
#include "zoq/backend.h"
#include "zoq/io.h"
#include "zoq/pref.h"
#include "zoq/lora.h"
#include "zoq/quant.h"

#endif /* ZOQ_H */
