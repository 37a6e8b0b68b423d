/* scaling.c - libzoq-mpi's steps/s against ranks and bytes per step
 * (docs/distributed.md; bench/mpi/run.sh runs it under mpirun, make bench-mpi).
 *
 *   mpirun -np R build/bench/mpi_scaling --cost gemm|sleep --params N --steps S
 *
 * The objective has a fixed, known cost per evaluation, so the scaling shows
 * the protocol, not the model: "gemm" multiplies two fixed 512 x 512 f32
 * matrices (one BLAS thread; ~270 MFLOP), "sleep" waits 10 ms (a forward on an
 * accelerator or behind an API: it leaves the CPU free). The loss also reads
 * the first 16 parameters, so it depends on the point. Query-parallel, n = 4
 * central queries (8 points a step), zoq_mpi_step_inplace. Rank 0 prints one
 * JSON object: ranks, cost, params, steps/s (the median of 3 runs of S
 * steps: the machine may be shared), seconds per evaluation measured alone
 * on rank 0 before the run, and bytes handed to MPI per step per rank. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"
#include "zoq_mpi.h"

enum { GEMM_N = 512, REPEATS = 3 };

typedef struct bench {
    int sleep;                  /* 1: sleep 10 ms; 0: the GEMM */
    float *a, *b, *c;
    float *x;                   /* the trained parameters */
} bench;

static void cost(bench *bn)
{
    if (bn->sleep) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, GEMM_N, GEMM_N, GEMM_N, 1.0f, bn->a,
                GEMM_N, bn->b, GEMM_N, 0.0f, bn->c, GEMM_N);
}

static int objective(void *user, const zoq_eval_t *ev, double *loss)
{
    bench *bn = user;
    (void)ev;
    cost(bn);
    double s = 1e-12 * bn->c[0];
    for (int j = 0; j < 16; j++)
        s += (bn->x[j] - 0.5) * (bn->x[j] - 0.5);
    *loss = s;
    return 0;
}

int main(int argc, char **argv)
{
    long long numel = 10000;
    int steps = 20;
    const char *kind = "gemm";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--cost"))
            kind = argv[i + 1];
        else if (!strcmp(argv[i], "--params"))
            numel = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
    }
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    bench bn = {.sleep = !strcmp(kind, "sleep")};
    const size_t mat = (size_t)GEMM_N * GEMM_N;
    bn.a = calloc(mat, sizeof *bn.a);
    bn.b = calloc(mat, sizeof *bn.b);
    bn.c = calloc(mat, sizeof *bn.c);
    bn.x = calloc((size_t)numel, sizeof *bn.x);
    zoq_ctx *ctx = NULL;
    zoq_mpi *m = NULL;
    int rc = bn.a && bn.b && bn.c && bn.x && numel >= 16 && steps > 0 ? zoq_create(&ctx)
                                                                     : ZOQ_E_INVALID;
    if (rc == ZOQ_OK) {
        for (size_t i = 0; i < mat; i++)
            bn.a[i] = bn.b[i] = (float)(i % 7) * 0.1f;
        rc = zoq_param_add(ctx, "x", bn.x, ZOQ_F32, numel, NULL);
        rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_QUERIES, 4);
        rc = rc ? rc : zoq_set_int(ctx, ZOQ_OPT_THREADS, 1);
        rc = rc ? rc : zoq_mpi_create(MPI_COMM_WORLD, NULL, &m);
        rc = rc ? rc : zoq_mpi_watch(m, bn.x, (size_t)numel * sizeof *bn.x);
    }
    if (rc != ZOQ_OK) {
        fprintf(stderr, "rank %d: setup failed: %s\n", rank, zoq_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double t_eval = now();
    for (int k = 0; k < 3; k++)
        cost(&bn);
    t_eval = (now() - t_eval) / 3;
    int64_t b0, b1;
    zoq_mpi_bytes_sent(m, &b0);
    double rate[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        for (int t = 0; t < steps && rc == ZOQ_OK; t++)
            rc = zoq_mpi_step_inplace(m, ctx, objective, &bn, NULL);
        MPI_Barrier(MPI_COMM_WORLD);
        rate[k] = steps / (now() - t0);
    }
    qsort(rate, REPEATS, sizeof *rate, cmp_double);
    zoq_mpi_bytes_sent(m, &b1);
    if (rc != ZOQ_OK)
        fprintf(stderr, "rank %d: %s\n", rank, zoq_mpi_last_error(m));
    else if (rank == 0)
        printf("{\"ranks\": %d, \"cost\": \"%s\", \"params\": %lld, \"steps\": %d, "
               "\"steps_per_s\": %.3f, \"eval_s_alone\": %.5f, \"bytes_per_step_per_rank\": %.1f}\n",
               size, kind, numel, steps, rate[REPEATS / 2], t_eval,
               (double)(b1 - b0) / (REPEATS * steps));
    zoq_mpi_destroy(m);
    zoq_destroy(ctx);
    free(bn.a);
    free(bn.b);
    free(bn.c);
    free(bn.x);
    MPI_Finalize();
    return rc == ZOQ_OK ? 0 : 1;
}
