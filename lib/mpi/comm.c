/* comm.c - the stepper's communicator and grid, its all-gather (the one
 * collective a step makes, counted in bytes), and the checkpoint calls. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/mpi_internal.h"

int zoq_mpi__fail(zoq_mpi *m, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
    return status;
}

int zoq_mpi__reserve(zoq_mpi *m, int count)
{
    if (count <= m->cap_block)
        return ZOQ_OK;
    double *b = realloc(m->block, (size_t)count * sizeof *b);
    if (!b)
        return ZOQ_E_NOMEM;
    m->block = b;
    double *g = realloc(m->gathered, (size_t)count * (size_t)m->size * sizeof *g);
    if (!g)
        return ZOQ_E_NOMEM;
    m->gathered = g;
    m->cap_block = count;
    return ZOQ_OK;
}

int zoq_mpi__allgather(zoq_mpi *m, const double *mine, int count)
{
    if (zoq_mpi__reserve(m, count) != ZOQ_OK)
        return zoq_mpi__fail(m, ZOQ_E_NOMEM, "out of memory for a %d-double all-gather", count);
    if (mine != m->block)
        memcpy(m->block, mine, (size_t)count * sizeof *mine);
    m->bytes_sent += (int64_t)count * (int64_t)sizeof(double);
    if (MPI_Allgather(m->block, count, MPI_DOUBLE, m->gathered, count, MPI_DOUBLE, m->comm) !=
        MPI_SUCCESS)
        return zoq_mpi__fail(m, ZOQ_E_IO, "MPI_Allgather failed");
    return ZOQ_OK;
}

int zoq_mpi__agree(zoq_mpi *m, int status, int *who)
{
    double mine = status;
    int rc = zoq_mpi__allgather(m, &mine, 1);
    if (rc != ZOQ_OK)
        return rc;
    *who = -1;
    for (int r = 0; r < m->size; r++)
        if (m->gathered[r] != ZOQ_OK) {
            *who = r;
            return (int)m->gathered[r];
        }
    return ZOQ_OK;
}

/* Whether a configuration (its fields past cfg->size read as 0) is valid
 * for `size` ranks. The same answer on every rank for the same cfg. */
static int config_ok(const zoq_mpi_config_t *cfg, int size)
{
    return cfg->reserved_ == 0 && cfg->query_ranks >= 0 &&
           (cfg->query_ranks == 0 || size % cfg->query_ranks == 0) &&
           isfinite(cfg->shard_weight) && cfg->shard_weight >= 0 && cfg->check_every >= 0;
}

int zoq_mpi_create(MPI_Comm comm, const zoq_mpi_config_t *cfg, zoq_mpi **out)
{
    if (!out)
        return ZOQ_E_INVALID;
    *out = NULL;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized)
        return ZOQ_E_UNSUPPORTED;
    if (comm == MPI_COMM_NULL)
        return ZOQ_E_INVALID;
    zoq_mpi_config_t c = {.size = sizeof c};
    if (cfg && (cfg->size < sizeof cfg->size || cfg->size > sizeof c))
        return ZOQ_E_INVALID;
    if (cfg)
        memcpy(&c, cfg, cfg->size);
    int size;
    MPI_Comm_size(comm, &size);
    if (!config_ok(&c, size))
        return ZOQ_E_INVALID; /* no collective was entered (no stepper to hold a message) */
    zoq_mpi *m = calloc(1, sizeof *m);
    if (!m)
        return ZOQ_E_NOMEM;
    /* collective from here on: every rank dups, then agrees on success */
    if (MPI_Comm_dup(comm, &m->comm) != MPI_SUCCESS) {
        free(m);
        return ZOQ_E_IO;
    }
    MPI_Comm_rank(m->comm, &m->rank);
    m->size = size;
    m->query_ranks = c.query_ranks > 0 ? c.query_ranks : size;
    m->data_ranks = size / m->query_ranks;
    m->query_rank = m->rank % m->query_ranks;
    m->data_rank = m->rank / m->query_ranks;
    m->check_every = c.check_every;
    m->weights = malloc((size_t)size * sizeof *m->weights);
    double w = c.shard_weight > 0 ? c.shard_weight : 1.0;
    int rc = zoq_mpi__agree(m, m->weights ? ZOQ_OK : ZOQ_E_NOMEM, &(int){0});
    if (rc == ZOQ_OK && (rc = zoq_mpi__allgather(m, &w, 1)) == ZOQ_OK)
        memcpy(m->weights, m->gathered, (size_t)size * sizeof *m->weights);
    if (rc != ZOQ_OK) {
        zoq_mpi_destroy(m);
        return rc;
    }
    m->err[0] = '\0';
    *out = m;
    return ZOQ_OK;
}

void zoq_mpi_destroy(zoq_mpi *m)
{
    if (!m)
        return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && m->comm != MPI_COMM_NULL)
        MPI_Comm_free(&m->comm);
    free(m->weights);
    free(m->gathered);
    free(m->block);
    free(m->spans);
    free(m);
}

const char *zoq_mpi_last_error(const zoq_mpi *m)
{
    return m ? m->err : "zoq_mpi: NULL stepper";
}

int zoq_mpi_grid(const zoq_mpi *m, int32_t *rank, int32_t *query_rank, int32_t *data_rank,
                 int32_t *query_ranks, int32_t *data_ranks)
{
    if (!m)
        return ZOQ_E_INVALID;
    if (rank)
        *rank = m->rank;
    if (query_rank)
        *query_rank = m->query_rank;
    if (data_rank)
        *data_rank = m->data_rank;
    if (query_ranks)
        *query_ranks = m->query_ranks;
    if (data_ranks)
        *data_ranks = m->data_ranks;
    return ZOQ_OK;
}

int zoq_mpi_bytes_sent(const zoq_mpi *m, int64_t *out)
{
    if (!m || !out)
        return ZOQ_E_INVALID;
    *out = m->bytes_sent;
    return ZOQ_OK;
}

int zoq_mpi_state_save(zoq_mpi *m, zoq_ctx *ctx, const char *path)
{
    if (!m)
        return ZOQ_E_INVALID;
    int rc = ZOQ_OK;
    if (m->rank == 0)
        rc = ctx && path ? zoq_state_save(ctx, path) : ZOQ_E_INVALID;
    if (m->rank == 0)
        m->bytes_sent += (int64_t)sizeof rc;
    if (MPI_Bcast(&rc, 1, MPI_INT, 0, m->comm) != MPI_SUCCESS)
        return zoq_mpi__fail(m, ZOQ_E_IO, "MPI_Bcast failed");
    if (rc != ZOQ_OK)
        return zoq_mpi__fail(m, rc, "rank 0 could not save the state to %s: %s",
                             path ? path : "(NULL)",
                             m->rank == 0 && ctx ? zoq_last_error(ctx) : zoq_strerror(rc));
    return ZOQ_OK;
}

int zoq_mpi_state_load(zoq_mpi *m, zoq_ctx *ctx, const char *path)
{
    if (!m)
        return ZOQ_E_INVALID;
    int mine = ctx && path ? zoq_state_load(ctx, path) : ZOQ_E_INVALID;
    int who, rc = zoq_mpi__agree(m, mine, &who);
    if (rc != ZOQ_OK && who >= 0)
        return zoq_mpi__fail(m, rc, "rank %d could not load the state %s: %s", who,
                             path ? path : "(NULL)",
                             who == m->rank && ctx ? zoq_last_error(ctx) : zoq_strerror(rc));
    return rc;
}
