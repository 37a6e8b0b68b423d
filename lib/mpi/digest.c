/* digest.c - the divergence check: XXH64 of the watched parameter bytes on
 * every rank, compared with rank 0's after one all-gather. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "mpi/mpi_internal.h"

int zoq_mpi_watch(zoq_mpi *m, const void *data, size_t bytes)
{
    if (!m)
        return ZOQ_E_INVALID;
    if (!data || bytes == 0)
        return zoq_mpi__fail(m, ZOQ_E_INVALID, "zoq_mpi_watch: data must not be NULL, bytes > 0");
    if (m->n_spans == m->cap_spans) {
        int cap = m->cap_spans ? 2 * m->cap_spans : 8;
        zoq_mpi__span *s = realloc(m->spans, (size_t)cap * sizeof *s);
        if (!s)
            return zoq_mpi__fail(m, ZOQ_E_NOMEM, "out of memory watching %zu bytes", bytes);
        m->spans = s;
        m->cap_spans = cap;
    }
    m->spans[m->n_spans++] = (zoq_mpi__span){data, bytes};
    return ZOQ_OK;
}

int zoq_mpi_digest(const zoq_mpi *m, uint64_t *out)
{
    if (!m || !out)
        return ZOQ_E_INVALID;
    XXH64_state_t *st = XXH64_createState();
    if (!st)
        return ZOQ_E_NOMEM;
    XXH64_reset(st, 0);
    for (int i = 0; i < m->n_spans; i++)
        XXH64_update(st, m->spans[i].data, m->spans[i].bytes);
    *out = XXH64_digest(st);
    XXH64_freeState(st);
    return ZOQ_OK;
}

int zoq_mpi_check(zoq_mpi *m)
{
    if (!m)
        return ZOQ_E_INVALID;
    uint64_t h = 0;
    int status = m->n_spans == 0 ? ZOQ_E_STATE : zoq_mpi_digest(m, &h);
    double mine[2] = {status, 0.0};
    memcpy(&mine[1], &h, sizeof h); /* the digest's bits travel in a double's bytes */
    int rc = zoq_mpi__allgather(m, mine, 2);
    if (rc != ZOQ_OK)
        return rc;
    for (int r = 0; r < m->size; r++)
        if (m->gathered[2 * r] != ZOQ_OK)
            return zoq_mpi__fail(m, (int)m->gathered[2 * r], "rank %d has no digest: %s", r,
                                 r == m->rank && m->n_spans == 0
                                     ? "nothing watched (zoq_mpi_watch)"
                                     : zoq_strerror((int)m->gathered[2 * r]));
    uint64_t h0;
    memcpy(&h0, &m->gathered[1], sizeof h0);
    for (int r = 1; r < m->size; r++) {
        uint64_t hr;
        memcpy(&hr, &m->gathered[2 * r + 1], sizeof hr);
        if (hr != h0)
            return zoq_mpi__fail(m, ZOQ_E_MISMATCH, "parameters diverged: rank %d's digest "
                                 "%016llx differs from rank 0's %016llx (first such rank)", r,
                                 (unsigned long long)hr, (unsigned long long)h0);
    }
    return ZOQ_OK;
}
