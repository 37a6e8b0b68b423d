/* noise_select.c - zoq__noise_fill picks an implementation of the noise
 * spec by CPU feature at each call (a cached load, no global state written
 * by zoq); every implementation gives the bits of the scalar reference. */
#include "noise.h"

int zoq__noise_has_avx2(void)
{
#if defined(ZOQ__NOISE_AVX2) && defined(__GNUC__)
    return __builtin_cpu_supports("avx2") != 0;
#else
    return 0;
#endif
}

/* gcc's and clang's feature bits for AVX-512 already require the operating
 * system to save the zmm and mask registers (XGETBV). */
int zoq__noise_has_avx512(void)
{
#if defined(ZOQ__NOISE_AVX2) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

void zoq__noise_fill(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                     uint64_t offset, size_t count, float *out)
{
#ifdef ZOQ__NOISE_AVX2
    if (zoq__noise_has_avx512()) {
        zoq__noise_fill_avx512(key, step, query, stream, dist, offset, count, out);
        return;
    }
    if (zoq__noise_has_avx2()) {
        zoq__noise_fill_avx2(key, step, query, stream, dist, offset, count, out);
        return;
    }
#endif
    zoq__noise_fill_scalar(key, step, query, stream, dist, offset, count, out);
}
