/* digits_mpi.c - ZO training of a small MLP on the UCI digits across MPI
 * ranks with libzoq-mpi (docs/distributed.md):
 *
 *   mpirun -np 4 build/examples/mpi/digits_mpi --mode query   # ranks split the 8 points
 *   mpirun -np 4 build/examples/mpi/digits_mpi --mode data    # ranks split the minibatch
 *
 * Query-parallel: each rank evaluates its share of a step's 2n points on the
 * whole minibatch of 128 rows; the result is the one-process run's, bit for
 * bit (compare the digest with -np 1). Data-parallel: each rank evaluates
 * every point on its quarter of the minibatch, the losses are averaged with
 * the shard sizes as weights. Rank 0 prints steps/s, the held-out accuracy
 * and the XXH64 digest of the parameters.
 * Options: --mode query|data, --steps N [2000], --data PATH (digits.csv.gz). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "zoq_mpi.h"

#define DIGITS_DEFAULT "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"

typedef struct run {
    mlp m;
    digits_set d;
    int data_rank, data_ranks;
} run;

/* The loss of the minibatch rows this rank holds, at the parameters' current
 * (perturbed) values. */
static int objective(void *user, const zoq_eval_t *ev, double *loss)
{
    run *r = user;
    int rows[BATCH], n = 0;
    for (int k = r->data_rank; k < BATCH; k += r->data_ranks)
        rows[n++] = minibatch_row(&r->d, ev->step, k);
    *loss = mlp_loss(&r->m, &r->d, rows, n, NULL);
    return 0;
}

static int setup(zoq_ctx *ctx, run *r, int steps)
{
    int rc = zoq_param_add(ctx, "w1", r->m.w1, ZOQ_F32, HID * DIGITS_PIXELS, NULL);
    rc = rc ? rc : zoq_param_add(ctx, "b1", r->m.b1, ZOQ_F32, HID, NULL);
    rc = rc ? rc : zoq_param_add(ctx, "w2", r->m.w2, ZOQ_F32, OUT * HID, NULL);
    rc = rc ? rc : zoq_param_add(ctx, "b2", r->m.b2, ZOQ_F32, OUT, NULL);
    rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_SEED, 7);
    rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_QUERIES, 4);
    rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_THREADS, 1);
    rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_OPTIMIZER, ZOQ_OPTIM_ADAM);
    rc = rc ? rc : zoq_set_double(ctx, ZOQ_OPT_LR, 1e-2);
    rc = rc ? rc : zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-3);
    rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_TOTAL_STEPS, steps);
    rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_LR_SCHEDULE, ZOQ_SCHED_COSINE);
    rc = rc ? rc : zoq_set_double(ctx, ZOQ_OPT_LR_FINAL, 1e-3);
    return rc;
}

int main(int argc, char **argv)
{
    const char *mode = "query", *path = DIGITS_DEFAULT;
    int steps = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--data"))
            path = argv[i + 1];
    }
    const int data = !strcmp(mode, "data");
    if ((!data && strcmp(mode, "query")) || steps < 1) {
        fprintf(stderr, "usage: digits_mpi [--mode query|data] [--steps N] [--data PATH]\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    run *r = calloc(1, sizeof *r);
    zoq_ctx *ctx = NULL;
    zoq_mpi *m = NULL;
    int rc = r && digits_set_load(&r->d, path) == 0 ? ZOQ_OK : ZOQ_E_IO;
    if (rc != ZOQ_OK) {
        fprintf(stderr, "rank %d: cannot read %s\n", rank, path);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    r->data_ranks = data ? size : 1;
    r->data_rank = data ? rank : 0;
    mlp_init(&r->m, 1);
    /* query-parallel: all ranks share out the points; data-parallel: each
     * rank is its own query rank, its shard weight its row count */
    zoq_mpi_config_t cfg = {.size = sizeof cfg, .query_ranks = data ? 1 : size,
                            .shard_weight = (BATCH - r->data_rank + r->data_ranks - 1) /
                                            r->data_ranks,
                            .check_every = 100};
    if ((rc = zoq_create(&ctx)) == ZOQ_OK && (rc = setup(ctx, r, steps)) == ZOQ_OK)
        rc = zoq_mpi_create(MPI_COMM_WORLD, &cfg, &m);
    if (rc == ZOQ_OK)
        rc = zoq_mpi_watch(m, &r->m, sizeof r->m); /* every tensor: one struct */
    if (rc != ZOQ_OK) {
        fprintf(stderr, "rank %d: setup failed: %s\n", rank, zoq_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    zoq_report_t rep = {.size = sizeof rep};
    double t0 = MPI_Wtime();
    for (int t = 0; t < steps && rc == ZOQ_OK; t++)
        rc = zoq_mpi_step_inplace(m, ctx, objective, r, &rep);
    double secs = MPI_Wtime() - t0;
    if (rc != ZOQ_OK) {
        if (rank == 0)
            fprintf(stderr, "step failed: %s\n", zoq_mpi_last_error(m));
    } else if (rank == 0) {
        double acc, loss = mlp_loss(&r->m, &r->d, r->d.test, r->d.n_test, &acc);
        uint64_t digest;
        int64_t bytes;
        zoq_mpi_digest(m, &digest);
        zoq_mpi_bytes_sent(m, &bytes);
        printf("%s-parallel on %d ranks: %d steps, %.1f steps/s, train loss %.4f, held-out "
               "loss %.4f, accuracy %.3f\n", data ? "data" : "query", size, steps, steps / secs,
               rep.loss, loss, acc);
        printf("bytes sent per step by rank 0: %.1f\n", (double)bytes / steps);
        printf("digest %016llx\n", (unsigned long long)digest);
    }
    zoq_mpi_destroy(m);
    zoq_destroy(ctx);
    free(r);
    MPI_Finalize();
    return rc == ZOQ_OK ? 0 : 1;
}
