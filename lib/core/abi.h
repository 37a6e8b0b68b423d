/* abi.h - the one growth rule of every size-prefixed struct crossing the
 * public boundary, as libbpf's OPTS_VALID / OPTS_GET / OPTS_SET:
 *   - the caller's struct is valid when its size covers at least the size
 *     field itself and is a whole number of size_t words (as the sizeof of
 *     every version is: no field is cut in two), and, for an input struct,
 *     every byte past this build's struct is zero (a newer caller may pass
 *     a larger struct if it sets nothing this build would ignore);
 *   - an input field the caller's (older, smaller) struct does not reach
 *     reads as its default;
 *   - an output field it does not reach is not written, nor is a newer
 *     caller's tail past this build's struct (its fields are left as they
 *     are; the caller knows the version it linked).
 * Published structs only grow by appending fields, so a prefix of this
 * build's struct is always an older version of it. */
#ifndef ZOQ_CORE_ABI_H
#define ZOQ_CORE_ABI_H

#include <stddef.h>

#include "zoq.h"

/* Reads the caller's input struct src (size in its first field) into dst, a
 * struct of this build (`known` = sizeof it) that the caller pre-filled with
 * the defaults: the bytes src holds replace them, dst->size becomes known.
 * ZOQ_E_INVALID, with a message for ctx (NULL: this thread's) naming `what`,
 * when src is NULL, its size does not cover the size field, or it sets bytes
 * past `known`; dst is then unchanged. */
int zoq__sized_in(zoq_ctx *ctx, const char *what, void *dst, const void *src, size_t known);

/* Copies the fields of the caller's struct src (size in its first field,
 * already checked) that both it and this build's struct (`known` bytes)
 * have into dst, which keeps its own size field and, past src's size, the
 * defaults it was pre-filled with. For the input fields of an output struct
 * (e.g. caller-owned array pointers). */
void zoq__sized_peek(void *dst, const void *src, size_t known);

/* Checks the caller's output struct dst (size in its first field): NULL or
 * a size that does not cover the size field is ZOQ_E_INVALID with a message
 * naming `what`; any larger size is fine. */
int zoq__sized_out_ok(zoq_ctx *ctx, const char *what, const void *dst, size_t known);

/* True when every byte of s (size in its first field) past `known` is zero. */
int zoq__sized_tail_zero(const void *s, size_t known);

/* Writes this build's struct src (`known` bytes) to the caller's output
 * struct dst as far as dst's size reaches; dst keeps its size. dst passed
 * zoq__sized_out_ok. */
void zoq__sized_out(void *dst, const void *src, size_t known);

#endif
