/* abi.h - checks for size-prefixed structs crossing the public boundary. */
#ifndef ZOQ_CORE_ABI_H
#define ZOQ_CORE_ABI_H

#include <stddef.h>

/* True when a size-prefixed struct of `size` bytes holds at least `need`
 * bytes and every byte past what this build knows (`known`) is zero: an
 * older caller's smaller struct is fine, a newer caller's is fine only if it
 * sets nothing this build would ignore. */
int zoq__struct_ok(const void *s, size_t size, size_t need, size_t known);

#endif
