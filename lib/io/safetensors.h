/* safetensors.h - what the safetensors reader and writer share: dtype
 * names and sizes, and element conversion from little-endian file bytes. */
#ifndef ZOQ_IO_SAFETENSORS_H
#define ZOQ_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ZOQ__ST_N_DTYPES 5
#define ZOQ__ST_UNKNOWN (-1)        /* not a safetensors dtype */
#define ZOQ__ST_UNSUPPORTED (-2)    /* a safetensors dtype zoq does not read */

/* Bytes per element of a zoq_st_dtype_t (0 for an unknown one). */
size_t zoq__st_dtype_size(int dtype);
/* The header spelling ("F32", ...) of a zoq_st_dtype_t. */
const char *zoq__st_dtype_name(int dtype);
/* The zoq_st_dtype_t spelled s[0 .. n), or ZOQ__ST_UNSUPPORTED / ZOQ__ST_UNKNOWN. */
int zoq__st_dtype_parse(const char *s, size_t n);
/* 1 for F32, F16 and BF16. */
int zoq__st_is_float(int dtype);
/* 1 if count elements of dtype `from` may be converted to `to`. */
int zoq__st_convertible(int from, int to);
/* Converts count elements: src holds `from` as stored in a file
 * (little-endian), dst receives `to` in host order; from == to copies. */
void zoq__st_decode(const unsigned char *src, int from, void *dst, int to, size_t count);
/* The reverse: count elements of `from` in host order at src become `to`
 * little-endian bytes at dst. */
void zoq__st_encode(const void *src, int from, unsigned char *dst, int to, size_t count);

#endif
