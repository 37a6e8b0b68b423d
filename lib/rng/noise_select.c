/* noise_select.c - zoq__noise_fill picks an implementation of the noise
 * spec by CPU feature (core/cpu.h: CPUID and the OS's XCR0 agree, under the
 * ZOQ_CPU_ISA cap); every implementation gives the bits of the scalar
 * reference. */
#include "noise.h"

#include <math.h>

#include "core/cpu.h"
#include "zoq.h"

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

/* acc[j] = acc[j] + c * z[offset + j] through z in 512-element pieces. */
static void fill_add(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                     uint64_t offset, size_t count, float c, float *acc)
{
    float z[512];
    for (size_t done = 0; done < count;) {
        const size_t n = count - done < 512 ? count - done : 512;
        zoq__noise_fill(key, step, query, stream, dist, offset + done, n, z);
        for (size_t j = 0; j < n; j++)
            acc[done + j] = acc[done + j] + c * z[j];
        done += n;
    }
}

void zoq__noise_axpy(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                     uint64_t offset, size_t count, float c, float *acc)
{
#ifdef ZOQ__NOISE_AVX2
    const int avx512 = zoq__noise_has_avx512(), simd = avx512 || zoq__noise_has_avx2();
    if (simd && dist == ZOQ_DIST_GAUSSIAN) {
        (avx512 ? zoq__gauss_axpy_avx512 : zoq__gauss_axpy_avx2)(key, step, query, stream, offset,
                                                                 count, c, acc);
        return;
    }
    if (simd && !isnan(c)) { /* Rademacher: whole blocks fused, the cut ends through z */
        const uint64_t per = ZOQ__RADE_PER_BLOCK, end = offset + count;
        const uint64_t b0 = (offset + per - 1) / per * per, b1 = end / per * per;
        if (b0 < b1) {
            fill_add(key, step, query, stream, dist, offset, (size_t)(b0 - offset), c, acc);
            (avx512 ? zoq__rademacher_axpy_avx512 : zoq__rademacher_axpy_avx2)(
                key, step, query, stream, b0, (size_t)(b1 - b0), c, acc + (b0 - offset));
            fill_add(key, step, query, stream, dist, b1, (size_t)(end - b1), c,
                     acc + (b1 - offset));
            return;
        }
    }
#endif
    fill_add(key, step, query, stream, dist, offset, count, c, acc);
}
