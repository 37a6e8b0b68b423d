/* rng_api.c - the public face of the noise spec: tensor keys and slices. */
#include <string.h>
#include <xxhash.h>

#include "noise.h"
#include "core/error.h"

uint64_t zoq_tensor_key(uint64_t seed, const char *name)
{
    if (!name)
        name = "";
    return (uint64_t)XXH3_64bits_withSeed(name, strlen(name), (XXH64_hash_t)seed);
}

/* The arguments both entry points share: ZOQ_OK or the error's code. */
static int check_slice(const char *fn, uint32_t query, uint32_t stream, int dist,
                       uint64_t offset, size_t count, const float *buf)
{
    if ((count && !buf) || query >= ZOQ__QUERY_LIMIT || stream > ZOQ__STREAM_MAX ||
        (dist != ZOQ_DIST_GAUSSIAN && dist != ZOQ_DIST_RADEMACHER) || offset + count < offset)
        return zoq__fail(NULL, ZOQ_E_INVALID, "%s: buffer NULL, query >= 2^24, stream > 255, "
                         "unknown dist %d or offset + count overflows", fn, dist);
    return ZOQ_OK;
}

int zoq_noise_fill(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                   uint64_t offset, size_t count, float *out)
{
    const int rc = check_slice("zoq_noise_fill", query, stream, dist, offset, count, out);
    if (rc == ZOQ_OK)
        zoq__noise_fill(key, step, query, stream, dist, offset, count, out);
    return rc;
}

int zoq_noise_axpy(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                   uint64_t offset, size_t count, float coef, float *acc)
{
    const int rc = check_slice("zoq_noise_axpy", query, stream, dist, offset, count, acc);
    if (rc == ZOQ_OK)
        zoq__noise_axpy(key, step, query, stream, dist, offset, count, coef, acc);
    return rc;
}
