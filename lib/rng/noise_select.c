/* noise_select.c - zoq__noise_fill picks an implementation of the noise
 * spec by CPU feature (core/cpu.h: CPUID and the OS's XCR0 agree, under the
 * ZOQ_CPU_ISA cap); every implementation gives the bits of the scalar
 * reference. */
#include "noise.h"

#include "core/cpu.h"

int zoq__noise_has_avx2(void)
{
#ifdef ZOQ__NOISE_AVX2
    return (zoq__cpu_features() & ZOQ__CPU_AVX2) != 0;
#else
    return 0;
#endif
}

int zoq__noise_has_avx512(void)
{
#ifdef ZOQ__NOISE_AVX2
    return (zoq__cpu_features() & ZOQ__CPU_AVX512) != 0;
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
