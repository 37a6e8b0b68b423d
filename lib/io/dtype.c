/* dtype.c - safetensors dtypes: names, sizes and conversions between the
 * little-endian bytes of a file and host values (safetensors.h). */
#include <string.h>

#include "core/bits.h"
#include "core/convert.h"
#include "io/safetensors.h"
#include "zoq.h"

static const char *const NAMES[ZOQ__ST_N_DTYPES] = {"F32", "F16", "BF16", "I8", "I32"};
static const size_t SIZES[ZOQ__ST_N_DTYPES] = {4, 2, 2, 1, 4};
/* Dtypes of the safetensors format that zoq does not read. */
static const char *const OTHERS[] = {"BOOL", "U8", "I16", "U16", "U32", "I64", "U64", "F64",
                                     "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3",
                                     "F6_E3M2", "C64"};

size_t zoq__st_dtype_size(int dtype)
{
    return dtype >= 0 && dtype < ZOQ__ST_N_DTYPES ? SIZES[dtype] : 0;
}

const char *zoq__st_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < ZOQ__ST_N_DTYPES ? NAMES[dtype] : "?";
}

int zoq__st_dtype_parse(const char *s, size_t n)
{
    for (int i = 0; i < ZOQ__ST_N_DTYPES; i++)
        if (strlen(NAMES[i]) == n && memcmp(NAMES[i], s, n) == 0)
            return i;
    for (size_t i = 0; i < sizeof OTHERS / sizeof *OTHERS; i++)
        if (strlen(OTHERS[i]) == n && memcmp(OTHERS[i], s, n) == 0)
            return ZOQ__ST_UNSUPPORTED;
    return ZOQ__ST_UNKNOWN;
}

int zoq__st_is_float(int dtype)
{
    return dtype == ZOQ_ST_F32 || dtype == ZOQ_ST_F16 || dtype == ZOQ_ST_BF16;
}

int zoq__st_convertible(int from, int to)
{
    if (!zoq__st_dtype_size(from) || !zoq__st_dtype_size(to))
        return 0;
    return from == to || to == ZOQ_ST_F32 || (zoq__st_is_float(from) && zoq__st_is_float(to));
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Copies count elements of size sz, reversing each one's bytes on a
 * big-endian host (file order is little-endian). */
static void copy_le(const unsigned char *src, unsigned char *dst, size_t sz, size_t count)
{
    if (host_little_endian() || sz == 1) {
        memcpy(dst, src, sz * count);
        return;
    }
    for (size_t i = 0; i < count; i++)
        for (size_t b = 0; b < sz; b++)
            dst[i * sz + b] = src[i * sz + sz - 1 - b];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Element i of file bytes of dtype as f32. */
static float load_f32(const unsigned char *src, int dtype, size_t i)
{
    switch (dtype) {
    case ZOQ_ST_F16: return zoq__f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    case ZOQ_ST_BF16: return zoq__bf16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    case ZOQ_ST_I8: return (float)(int8_t)src[i];
    case ZOQ_ST_I32: return (float)(int32_t)le32(src + 4 * i);
    default: return zoq__f32_from_bits(le32(src + 4 * i));
    }
}

void zoq__st_decode(const unsigned char *src, int from, void *dst, int to, size_t count)
{
    if (from == to) {
        copy_le(src, dst, zoq__st_dtype_size(to), count);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        float x = load_f32(src, from, i);
        if (to == ZOQ_ST_F32) /* dst is the caller's, at any address */
            zoq__put_f32((float *)dst + i, x);
        else
            zoq__put_u16((uint16_t *)dst + i, to == ZOQ_ST_F16 ? zoq__f32_to_f16(x)
                                                               : zoq__f32_to_bf16(x));
    }
}

void zoq__st_encode(const void *src, int from, unsigned char *dst, int to, size_t count)
{
    if (from == to) {
        copy_le(src, dst, zoq__st_dtype_size(to), count);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        /* float dtypes share zoq_dtype_t values; src is the caller's, at any address */
        float x = zoq__load_f32_any(src, from, (int64_t)i);
        uint32_t v = to == ZOQ_ST_F32   ? zoq__f32_bits(x)
                     : to == ZOQ_ST_F16 ? zoq__f32_to_f16(x)
                                        : zoq__f32_to_bf16(x);
        for (size_t b = 0; b < zoq__st_dtype_size(to); b++)
            dst[i * zoq__st_dtype_size(to) + b] = (unsigned char)(v >> (8 * b));
    }
}
