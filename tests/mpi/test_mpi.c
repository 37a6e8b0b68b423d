/* test_mpi.c - libzoq-mpi's tests, one MPI program run by tests/mpi/run.sh
 * under mpirun at 1..4 ranks (Criterion forks each test into a child
 * process, which MPI does not survive, so this is a plain driver: each case
 * prints "ok <case>" on rank 0 or "FAIL ..." and exits non-zero).
 *
 * Cases (argv[1]):
 *   identity    query-parallel, the 2-D grid and data-parallel runs of 100
 *               steps, n = 4, under seven option sets, against the same run
 *               in one process, bit for bit: zoq_mpi_step against zoq_ask,
 *               every point, zoq_tell; zoq_mpi_step_inplace against zoq_step
 *               and zoq_run
 *   failures    a failure (error, NaN, stop) on one rank at each point index
 *               leaves every rank's parameters and counter exactly as before
 *   divergence  a flipped bit on one rank is named by the digest check
 *   bytes       bytes per step per rank, the same for 10^4 and 10^7 params
 *   api         argument checks
 *   checkpoint DIR STEPS KILL_AT RESUME  the kill -9 and resume scenario
 *               (tests/mpi/run.sh drives it)
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoq_mpi.h"

enum { NW = 200, NV = 57, STEPS = 100 };

static int rank_, size_;
static int failures;

#define EXPECT(cond, ...)                                                 \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "FAIL rank %d %s:%d: ", rank_, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
            failures++;                                                   \
        }                                                                 \
    } while (0)

/* The model: two f32 tensors, a loss that depends on the data shard. */
typedef struct model {
    float w[NW], v[NV];
    zoq_ctx *ctx;
    int32_t id_w, id_v;
    float sw[NW], sv[NV];       /* a materialized point */
    int shard;                  /* data shard this process evaluates, -1: the weighted mean */
    int n_shards;               /* shards of the weighted mean */
    /* injected failure: at (step, point) on rank inject_rank, return inject_rc
     * (or a NaN loss when inject_rc is 0) */
    int inject_rank, inject_point, inject_rc;
    uint64_t inject_step;
    int kill_step;              /* raise SIGKILL at this step on the last rank, -1 never */
} model;

typedef struct options {
    const char *name;
    int dist, optimizer, sparse, hessian, estimator;
} options;

static const options OPTION_SETS[] = {
    {"gaussian sgd", ZOQ_DIST_GAUSSIAN, ZOQ_OPTIM_SGD, ZOQ_SPARSE_OFF, 0, ZOQ_EST_CENTRAL},
    {"rademacher sgd", ZOQ_DIST_RADEMACHER, ZOQ_OPTIM_SGD, ZOQ_SPARSE_OFF, 0, ZOQ_EST_CENTRAL},
    {"gaussian momentum", ZOQ_DIST_GAUSSIAN, ZOQ_OPTIM_MOMENTUM, ZOQ_SPARSE_OFF, 0, ZOQ_EST_CENTRAL},
    {"rademacher adam", ZOQ_DIST_RADEMACHER, ZOQ_OPTIM_ADAM, ZOQ_SPARSE_OFF, 0, ZOQ_EST_CENTRAL},
    {"gaussian sparse mask", ZOQ_DIST_GAUSSIAN, ZOQ_OPTIM_SGD, ZOQ_SPARSE_MAGNITUDE, 0,
     ZOQ_EST_CENTRAL},
    {"rademacher hizoo", ZOQ_DIST_RADEMACHER, ZOQ_OPTIM_SGD, ZOQ_SPARSE_OFF, 1, ZOQ_EST_CENTRAL},
    {"gaussian forward adam", ZOQ_DIST_GAUSSIAN, ZOQ_OPTIM_ADAM, ZOQ_SPARSE_OFF, 0, ZOQ_EST_FORWARD},
};
enum { N_SETS = sizeof OPTION_SETS / sizeof OPTION_SETS[0] };

static double shard_weight(int shard)
{
    return 1.0 + 0.5 * shard; /* unequal shards */
}

static double shard_loss(const float *w, const float *v, int shard)
{
    double s = 0.0;
    for (int j = 0; j < NW; j++) {
        double d = w[j] - 0.01 * ((j * 7 + shard * 13) % 50);
        s += (1.0 + (j % 5)) * d * d + 0.1 * sin(3.0 * w[j]);
    }
    for (int j = 0; j < NV; j++) {
        double d = v[j] + 0.02 * ((j + shard) % 9);
        s += d * d * d * d + d * d;
    }
    return s / (NW + NV);
}

/* The loss of m's shard at (w, v), or the weighted mean over its shards. */
static double model_loss(const model *m, const float *w, const float *v)
{
    if (m->shard >= 0)
        return shard_loss(w, v, m->shard);
    double num = 0.0, den = 0.0; /* the data-parallel definition, shards in order */
    for (int d = 0; d < m->n_shards; d++) {
        num += shard_weight(d) * shard_loss(w, v, d);
        den += shard_weight(d);
    }
    return num / den;
}

/* The failures a test injects at (step, point): 1 with *rc and *loss set. */
static int injected(const model *m, uint64_t step, int32_t point, int *rc, double *loss)
{
    if (m->kill_step >= 0 && step == (uint64_t)m->kill_step && rank_ == size_ - 1)
        raise(SIGKILL);
    if (rank_ != m->inject_rank || step != m->inject_step || point != m->inject_point)
        return 0;
    *rc = m->inject_rc;
    *loss = NAN;
    return 1;
}

/* Ask/tell: the loss at a materialized point. */
static int eval_point(void *user, zoq_ctx *ctx, int32_t point, double *loss)
{
    model *m = user;
    uint64_t step;
    int rc;
    zoq_get_step(ctx, &step);
    if (injected(m, step, point, &rc, loss))
        return rc;
    if (zoq_materialize(ctx, point, m->id_w, m->sw) || zoq_materialize(ctx, point, m->id_v, m->sv))
        return -1;
    *loss = model_loss(m, m->sw, m->sv);
    return 0;
}

/* In place: the parameters hold the point. */
static int eval_inplace(void *user, const zoq_eval_t *ev, double *loss)
{
    model *m = user;
    int rc;
    if (injected(m, ev->step, ev->point, &rc, loss))
        return rc;
    *loss = model_loss(m, m->w, m->v);
    return 0;
}

/* The two ways to step: ask/tell (points materialized) and in place. */
enum { ASKTELL, INPLACE };
static const char *const MODE[2] = {"ask/tell", "in place"};

static void model_init(model *m, const options *o, int shard, int n_shards)
{
    memset(m, 0, sizeof *m);
    for (int j = 0; j < NW; j++)
        m->w[j] = 0.3f * (float)sin(j * 0.7);
    for (int j = 0; j < NV; j++)
        m->v[j] = 0.2f * (float)cos(j * 1.3);
    m->shard = shard;
    m->n_shards = n_shards;
    m->inject_rank = -1;
    m->kill_step = -1;
    if (zoq_create(&m->ctx) != ZOQ_OK) {
        fprintf(stderr, "zoq_create failed\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    zoq_ctx *c = m->ctx;
    int rc = zoq_param_add(c, "w", m->w, ZOQ_F32, NW, &m->id_w);
    rc |= zoq_param_add(c, "v", m->v, ZOQ_F32, NV, &m->id_v);
    rc |= zoq_set_int(c, ZOQ_OPT_SEED, 1234);
    rc |= zoq_set_int(c, ZOQ_OPT_QUERIES, 4);
    rc |= zoq_set_int(c, ZOQ_OPT_THREADS, 1);
    rc |= zoq_set_double(c, ZOQ_OPT_LR, o->optimizer == ZOQ_OPTIM_ADAM ? 1e-3 : 2e-2);
    rc |= zoq_set_double(c, ZOQ_OPT_EPS, 1e-3);
    rc |= zoq_set_int(c, ZOQ_OPT_DIST, o->dist);
    rc |= zoq_set_int(c, ZOQ_OPT_OPTIMIZER, o->optimizer);
    rc |= zoq_set_int(c, ZOQ_OPT_SPARSE, o->sparse);
    rc |= zoq_set_int(c, ZOQ_OPT_HESSIAN, o->hessian);
    rc |= zoq_set_int(c, ZOQ_OPT_ESTIMATOR, o->estimator);
    if (o->hessian)
        rc |= zoq_set_double(c, ZOQ_OPT_HESSIAN_ALPHA, 1e-3);
    if (rc != ZOQ_OK) {
        fprintf(stderr, "setup of %s failed: %s\n", o->name, zoq_last_error(c));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
}

/* The single-process run: ask, evaluate every point, tell; or zoq_step. */
static int local_step(model *m, int mode)
{
    if (mode == INPLACE) {
        zoq_set_objective(m->ctx, eval_inplace, m);
        return zoq_step(m->ctx, NULL);
    }
    const zoq_point_t *pts;
    int32_t n;
    int rc = zoq_ask(m->ctx, &pts, &n);
    if (rc != ZOQ_OK)
        return rc;
    double losses[64];
    for (int32_t i = 0; i < n; i++)
        if ((rc = eval_point(m, m->ctx, i, &losses[i])) != 0) {
            zoq_cancel(m->ctx);
            return rc;
        }
    return zoq_tell(m->ctx, losses, n, NULL);
}

static int same_params(const model *a, const model *b)
{
    return memcmp(a->w, b->w, sizeof a->w) == 0 && memcmp(a->v, b->v, sizeof a->v) == 0;
}

static int dist_step(zoq_mpi *s, model *m, int mode, zoq_report_t *rep)
{
    return mode == INPLACE ? zoq_mpi_step_inplace(s, m->ctx, eval_inplace, m, rep)
                           : zoq_mpi_step(s, m->ctx, eval_point, m, rep);
}

static zoq_mpi *stepper(int query_ranks, double weight, int64_t check_every)
{
    zoq_mpi_config_t cfg = {.size = sizeof cfg, .query_ranks = query_ranks,
                            .shard_weight = weight, .check_every = check_every};
    zoq_mpi *s = NULL;
    int rc = zoq_mpi_create(MPI_COMM_WORLD, &cfg, &s);
    if (rc != ZOQ_OK) {
        fprintf(stderr, "zoq_mpi_create failed: %s\n", zoq_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return s;
}

/* STEPS distributed steps on a query_ranks x (size / query_ranks) grid
 * against the single-process run of the data-rank mean: ask/tell against
 * ask/tell; in place against zoq_step and zoq_run. */
static void identity_run(const options *o, int query_ranks, int mode)
{
    const int data_ranks = size_ / query_ranks, d = rank_ / query_ranks;
    model dist, ref;
    model_init(&dist, o, d, data_ranks);
    model_init(&ref, o, data_ranks == 1 ? 0 : -1, data_ranks);
    zoq_mpi *s = stepper(query_ranks, shard_weight(d), 10);
    EXPECT(zoq_mpi_watch(s, dist.w, sizeof dist.w) == ZOQ_OK, "watch");
    EXPECT(zoq_mpi_watch(s, dist.v, sizeof dist.v) == ZOQ_OK, "watch");
    zoq_report_t rd = {.size = sizeof rd};
    for (int t = 0; t < STEPS; t++) {
        int a = dist_step(s, &dist, mode, &rd);
        int b = local_step(&ref, mode);
        if (a != ZOQ_OK || b != ZOQ_OK) {
            EXPECT(0, "%s Q=%d step %d: %d %d %s", o->name, query_ranks, t, a, b,
                   zoq_mpi_last_error(s));
            break;
        }
    }
    EXPECT(same_params(&dist, &ref), "%s, %s, on %d x %d ranks: parameters differ from one "
           "process", o->name, MODE[mode], query_ranks, data_ranks);
    if (mode == INPLACE) {
        int64_t exact = -1;
        zoq_get_int(dist.ctx, ZOQ_OPT_EXACT_RESTORE, &exact);
        EXPECT(exact == 0, "the caller's exact_restore setting changed to %lld", (long long)exact);
        model run;
        model_init(&run, o, data_ranks == 1 ? 0 : -1, data_ranks);
        zoq_set_objective(run.ctx, eval_inplace, &run);
        EXPECT(zoq_run(run.ctx, STEPS, NULL, NULL) == ZOQ_OK, "zoq_run");
        EXPECT(same_params(&dist, &run), "%s on %d x %d ranks: parameters differ from zoq_run",
               o->name, query_ranks, data_ranks);
        zoq_destroy(run.ctx);
    }
    float w0 = 0.3f * (float)sin(0.7);
    EXPECT(dist.w[1] != w0, "%s: parameters did not move", o->name);
    uint64_t step;
    zoq_get_step(dist.ctx, &step);
    EXPECT(step == STEPS, "%s: step counter %llu", o->name, (unsigned long long)step);
    zoq_mpi_destroy(s);
    zoq_destroy(dist.ctx);
    zoq_destroy(ref.ctx);
}

static void case_identity(void)
{
    for (int mode = ASKTELL; mode <= INPLACE; mode++)
        for (int k = 0; k < N_SETS; k++) {
            identity_run(&OPTION_SETS[k], size_, mode); /* query-parallel */
            if (size_ > 1)
                identity_run(&OPTION_SETS[k], 1, mode); /* data-parallel */
            if (size_ == 4)
                identity_run(&OPTION_SETS[k], 2, mode); /* a 2 x 2 grid */
        }
}

/* One step fails on one rank at point i: every rank reports the same status
 * and its parameters and counter are exactly as before; the run then goes on
 * as if the step had not been tried. */
static void failures_run(int query_ranks, int mode)
{
    const options *o = &OPTION_SETS[5]; /* HiZOO: 9 points, the unperturbed one first */
    const int data_ranks = size_ / query_ranks, d = rank_ / query_ranks;
    static const int kinds[3] = {-7, ZOQ_CALLBACK_STOP, 0};
    static const int want[3] = {ZOQ_E_CALLBACK, ZOQ_STOPPED, ZOQ_E_NONFINITE};
    model dist, ref;
    model_init(&dist, o, d, data_ranks);
    model_init(&ref, o, data_ranks == 1 ? 0 : -1, data_ranks);
    zoq_mpi *s = stepper(query_ranks, shard_weight(d), 0);
    zoq_mpi_watch(s, dist.w, sizeof dist.w);
    zoq_mpi_watch(s, dist.v, sizeof dist.v);
    for (int t = 0; t < 3; t++) {
        EXPECT(dist_step(s, &dist, mode, NULL) == ZOQ_OK, "warm-up");
        EXPECT(local_step(&ref, mode) == ZOQ_OK, "warm-up");
    }
    for (int i = 0; i < 9; i++)
        for (int k = 0; k < 3; k++) {
            float w[NW], v[NV];
            memcpy(w, dist.w, sizeof w);
            memcpy(v, dist.v, sizeof v);
            dist.inject_step = 3;
            dist.inject_point = i;
            dist.inject_rc = kinds[k];
            dist.inject_rank = (i % query_ranks) + (data_ranks - 1) * query_ranks; /* evaluates i */
            int rc = dist_step(s, &dist, mode, NULL);
            EXPECT(rc == want[k], "%s point %d kind %d: status %d (%s)", MODE[mode], i, k, rc,
                   zoq_mpi_last_error(s));
            char who[32];
            snprintf(who, sizeof who, "rank %d failed at point %d", dist.inject_rank, i);
            EXPECT(strstr(zoq_mpi_last_error(s), who), "message: %s", zoq_mpi_last_error(s));
            EXPECT(memcmp(w, dist.w, sizeof w) == 0 && memcmp(v, dist.v, sizeof v) == 0,
                   "%s point %d kind %d: parameters moved", MODE[mode], i, k);
            uint64_t step;
            zoq_get_step(dist.ctx, &step);
            EXPECT(step == 3, "point %d: counter %llu", i, (unsigned long long)step);
        }
    dist.inject_rank = -1;
    for (int t = 3; t < 20; t++) {
        EXPECT(dist_step(s, &dist, mode, NULL) == ZOQ_OK, "after failures");
        EXPECT(local_step(&ref, mode) == ZOQ_OK, "reference");
    }
    EXPECT(same_params(&dist, &ref), "%s Q=%d: after the failures the run differs", MODE[mode],
           query_ranks);
    zoq_mpi_destroy(s);
    zoq_destroy(dist.ctx);
    zoq_destroy(ref.ctx);
}

static void case_failures(void)
{
    for (int mode = ASKTELL; mode <= INPLACE; mode++) {
        failures_run(size_, mode);
        if (size_ > 1)
            failures_run(1, mode);
    }
}

static void case_divergence(void)
{
    model m;
    model_init(&m, &OPTION_SETS[0], 0, 1);
    zoq_mpi *s = stepper(0, 1.0, 5);
    zoq_mpi_watch(s, m.w, sizeof m.w);
    zoq_mpi_watch(s, m.v, sizeof m.v);
    for (int t = 0; t < 10; t++) {
        if (t == 7 && rank_ == size_ - 1 && size_ > 1)
            m.v[NV - 1] = nextafterf(m.v[NV - 1], 1.0f); /* one ulp on one rank */
        int rc = zoq_mpi_step(s, m.ctx, eval_point, &m, NULL);
        int want = size_ > 1 && t == 9 ? ZOQ_E_MISMATCH : ZOQ_OK;
        EXPECT(rc == want, "step %d: %d, wanted %d (%s)", t, rc, want, zoq_mpi_last_error(s));
        if (want == ZOQ_E_MISMATCH) {
            char who[32];
            snprintf(who, sizeof who, "rank %d's digest", size_ - 1);
            EXPECT(strstr(zoq_mpi_last_error(s), who), "message: %s", zoq_mpi_last_error(s));
        }
    }
    zoq_mpi_destroy(s);
    zoq_destroy(m.ctx);
}

/* A cheap objective over a big tensor: the loss reads 16 elements of the point. */
typedef struct big {
    int32_t id;
} big;

static int eval_big(void *user, zoq_ctx *ctx, int32_t point, double *loss)
{
    float z[16];
    int rc = zoq_point_noise(ctx, point, ((big *)user)->id, 0, 16, z);
    double s = 0.0;
    for (int j = 0; j < 16; j++)
        s += (1.0 + j) * z[j];
    *loss = s;
    return rc;
}

static int64_t bytes_per_step(int64_t numel)
{
    float *x = calloc((size_t)numel, sizeof *x);
    zoq_ctx *ctx;
    big b;
    zoq_create(&ctx);
    zoq_param_add(ctx, "x", x, ZOQ_F32, numel, &b.id);
    zoq_set_int(ctx, ZOQ_OPT_QUERIES, 4);
    zoq_set_int(ctx, ZOQ_OPT_THREADS, 1);
    zoq_mpi *s = stepper(0, 1.0, 0);
    int64_t before, after;
    zoq_mpi_bytes_sent(s, &before);
    for (int t = 0; t < 3; t++)
        EXPECT(zoq_mpi_step(s, ctx, eval_big, &b, NULL) == ZOQ_OK, "%s", zoq_mpi_last_error(s));
    zoq_mpi_bytes_sent(s, &after);
    zoq_mpi_destroy(s);
    zoq_destroy(ctx);
    free(x);
    return (after - before) / 3;
}

static void case_bytes(void)
{
    int64_t small = bytes_per_step(10000), large = bytes_per_step(10000000);
    /* the block: 4 header doubles and ceil(8 / ranks) losses */
    int64_t want = 8 * (4 + (8 + size_ - 1) / size_);
    EXPECT(small == want && large == want, "bytes per step %lld (1e4) %lld (1e7), want %lld",
           (long long)small, (long long)large, (long long)want);
    if (rank_ == 0)
        printf("bytes per step per rank, n = 4, %d ranks: %lld (10^4 params), %lld (10^7)\n",
               size_, (long long)small, (long long)large);
}

static void case_api(void)
{
    zoq_mpi *s = NULL;
    zoq_mpi_config_t bad = {.size = sizeof bad, .query_ranks = size_ + 1};
    if (size_ > 1)
        EXPECT(zoq_mpi_create(MPI_COMM_WORLD, &bad, &s) == ZOQ_E_INVALID && !s, "query_ranks");
    bad = (zoq_mpi_config_t){.size = sizeof bad, .shard_weight = NAN};
    EXPECT(zoq_mpi_create(MPI_COMM_WORLD, &bad, &s) == ZOQ_E_INVALID, "weight NaN");
    bad = (zoq_mpi_config_t){.size = sizeof bad, .check_every = -1};
    EXPECT(zoq_mpi_create(MPI_COMM_WORLD, &bad, &s) == ZOQ_E_INVALID, "check_every");
    bad = (zoq_mpi_config_t){.size = 3};
    EXPECT(zoq_mpi_create(MPI_COMM_WORLD, &bad, &s) == ZOQ_E_INVALID, "size");
    EXPECT(zoq_mpi_create(MPI_COMM_WORLD, NULL, NULL) == ZOQ_E_INVALID, "out NULL");
    EXPECT(zoq_mpi_create(MPI_COMM_WORLD, NULL, &s) == ZOQ_OK, "defaults");
    int32_t r, q, d, nq, nd;
    EXPECT(zoq_mpi_grid(s, &r, &q, &d, &nq, &nd) == ZOQ_OK && r == rank_ && q == rank_ && d == 0 &&
           nq == size_ && nd == 1, "grid");
    EXPECT(zoq_mpi_step(s, NULL, eval_point, NULL, NULL) == ZOQ_E_INVALID, "NULL ctx");
    EXPECT(zoq_mpi_step(NULL, NULL, eval_point, NULL, NULL) == ZOQ_E_INVALID, "NULL m");
    EXPECT(zoq_mpi_watch(s, NULL, 4) == ZOQ_E_INVALID, "watch NULL");
    EXPECT(zoq_mpi_check(s) == ZOQ_E_STATE, "check with nothing watched");
    uint64_t h;
    EXPECT(zoq_mpi_digest(NULL, &h) == ZOQ_E_INVALID && zoq_mpi_bytes_sent(s, NULL) ==
           ZOQ_E_INVALID, "NULL outputs");
    EXPECT(zoq_mpi_state_save(s, NULL, "x") == ZOQ_E_INVALID, "save NULL ctx");
    zoq_ctx *ctx;
    zoq_create(&ctx);
    EXPECT(zoq_mpi_state_load(s, ctx, "/nonexistent/zoq.state") == ZOQ_E_IO, "load missing: %s",
           zoq_mpi_last_error(s));
    /* a context with no parameters cannot start a step: every rank says so */
    EXPECT(zoq_mpi_step(s, ctx, eval_point, NULL, NULL) == ZOQ_E_STATE, "no parameters: %s",
           zoq_mpi_last_error(s));
    zoq_destroy(ctx);
    zoq_mpi_destroy(s);
    zoq_mpi_destroy(NULL);
}

/* Checkpoints every 10 steps (rank 0: the parameters as safetensors, then
 * the state); with kill_at >= 0 the last rank SIGKILLs itself at that step;
 * with resume the run starts from DIR. At the end the parameters must equal
 * the uninterrupted single-process zoq_run. */
static int save_params(const model *m, const char *dir)
{
    zoq_st_writer *w;
    char path[512], step[32];
    uint64_t t;
    zoq_get_step(m->ctx, &t);
    snprintf(step, sizeof step, "%llu", (unsigned long long)t);
    snprintf(path, sizeof path, "%s/params.safetensors", dir);
    int64_t sw = NW, sv = NV;
    int rc = zoq_st_writer_create(&w);
    if (rc == ZOQ_OK)
        rc = zoq_st_writer_add(w, "w", 1, &sw, m->w, ZOQ_F32, ZOQ_ST_F32);
    if (rc == ZOQ_OK)
        rc = zoq_st_writer_add(w, "v", 1, &sv, m->v, ZOQ_F32, ZOQ_ST_F32);
    if (rc == ZOQ_OK)
        rc = zoq_st_writer_set_metadata(w, "step", step);
    if (rc == ZOQ_OK)
        rc = zoq_st_writer_write(w, path);
    zoq_st_writer_free(w);
    return rc;
}

static int load_params(model *m, const char *dir)
{
    zoq_st *st;
    char path[512];
    const char *step;
    uint64_t t;
    snprintf(path, sizeof path, "%s/params.safetensors", dir);
    int rc = zoq_st_open(path, &st, NULL, 0);
    if (rc != ZOQ_OK)
        return rc;
    int64_t iw, iv;
    rc = zoq_st_find(st, "w", &iw) || zoq_st_find(st, "v", &iv) ||
         zoq_st_read(st, iw, ZOQ_F32, m->w, sizeof m->w) ||
         zoq_st_read(st, iv, ZOQ_F32, m->v, sizeof m->v) ||
         zoq_st_metadata_get(st, "step", &step);
    zoq_get_step(m->ctx, &t);
    if (rc == ZOQ_OK && strtoull(step, NULL, 10) != t)
        rc = ZOQ_E_MISMATCH; /* parameters and state of different steps */
    zoq_st_free(st);
    return rc ? ZOQ_E_FORMAT : ZOQ_OK;
}

static void case_checkpoint(const char *dir, int steps, int kill_at, int resume)
{
    char state[512];
    snprintf(state, sizeof state, "%s/run.zoqstate", dir);
    const options *o = &OPTION_SETS[3]; /* Adam: its moments are in the state */
    model m, ref;
    model_init(&m, o, 0, 1);
    model_init(&ref, o, 0, 1);
    m.kill_step = kill_at;
    zoq_mpi *s = stepper(0, 1.0, 10);
    zoq_mpi_watch(s, m.w, sizeof m.w);
    zoq_mpi_watch(s, m.v, sizeof m.v);
    if (resume) {
        int rc = zoq_mpi_state_load(s, m.ctx, state);
        EXPECT(rc == ZOQ_OK, "resume: %s", zoq_mpi_last_error(s));
        EXPECT(load_params(&m, dir) == ZOQ_OK, "resume: parameters");
        EXPECT(zoq_mpi_check(s) == ZOQ_OK, "resumed ranks differ");
    }
    uint64_t t;
    zoq_get_step(m.ctx, &t);
    if (rank_ == 0 && resume)
        printf("resumed at step %llu\n", (unsigned long long)t);
    for (; t < (uint64_t)steps && !failures; t++) {
        int rc = zoq_mpi_step_inplace(s, m.ctx, eval_inplace, &m, NULL);
        EXPECT(rc == ZOQ_OK, "step %llu: %s", (unsigned long long)t, zoq_mpi_last_error(s));
        if ((t + 1) % 10 == 0) {
            int prc = rank_ == 0 ? save_params(&m, dir) : ZOQ_OK;
            MPI_Bcast(&prc, 1, MPI_INT, 0, MPI_COMM_WORLD);
            EXPECT(prc == ZOQ_OK, "saving parameters");
            EXPECT(zoq_mpi_state_save(s, m.ctx, state) == ZOQ_OK, "%s", zoq_mpi_last_error(s));
        }
    }
    zoq_set_objective(ref.ctx, eval_inplace, &ref);
    EXPECT(zoq_run(ref.ctx, steps, NULL, NULL) == ZOQ_OK, "reference");
    EXPECT(same_params(&m, &ref), "after %d steps (resume %d) the parameters differ from the "
           "uninterrupted run", steps, resume);
    zoq_mpi_destroy(s);
    zoq_destroy(m.ctx);
    zoq_destroy(ref.ctx);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "identity"))
        case_identity();
    else if (!strcmp(c, "failures"))
        case_failures();
    else if (!strcmp(c, "divergence"))
        case_divergence();
    else if (!strcmp(c, "bytes"))
        case_bytes();
    else if (!strcmp(c, "api"))
        case_api();
    else if (!strcmp(c, "checkpoint") && argc == 6)
        case_checkpoint(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    else {
        if (rank_ == 0)
            fprintf(stderr, "usage: test_mpi identity|failures|divergence|bytes|api|"
                            "checkpoint DIR STEPS KILL_AT RESUME\n");
        failures = 1;
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank_ == 0)
        printf("%s %s on %d ranks\n", total ? "FAIL" : "ok", c, size_);
    MPI_Finalize();
    return total ? 1 : 0;
}
