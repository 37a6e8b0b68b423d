/* test_cuda_host.cu - the CUDA kernels' code (lib/backend/cuda/pass.cuh),
 * compiled by nvcc for the host, against the scalar noise reference and the
 * CPU backend, on a machine without a GPU: the same source the kernels run,
 * through the same compiler front end and flags. What this cannot see is
 * the device code generation; tests/cuda/ptx.sh checks that nothing there
 * is fused, and `make check-gpu` compares on a real device.
 * Prints one line per check; exits nonzero on the first difference. */
extern "C" {
#include "backend/backend.h"
#include "rng/noise.h"
}
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/pass.cuh"

static int failures;
static uint64_t compared; /* noise elements compared */

#define CHECK(cond, ...)                      \
    do {                                      \
        if (!(cond)) {                        \
            fprintf(stderr, "FAIL: " __VA_ARGS__); \
            fprintf(stderr, "\n");            \
            failures++;                       \
            return;                           \
        }                                     \
    } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* z of elements [first, first+count) (first a multiple of 8) by the kernel
 * code, against zoq__noise_fill_scalar. */
static void noise_equal(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                        uint64_t first, size_t count)
{
    float *ref = (float *)malloc(count * sizeof *ref), *got = (float *)malloc(count * sizeof *got);
    zoq__noise_fill_scalar(key, step, query, stream, dist, first, count, ref);
    compared += count;
    zoq__tensor t;
    memset(&t, 0, sizeof t);
    t.key = key;
    zoq__kpass k;
    memset(&k, 0, sizeof k);
    k.t = t;
    k.stream = stream;
    k.dist = dist;
    zoq__term term = {step, query, 1.0f};
    for (size_t i = 0; i < count; i += ZOQ__GROUP) {
        float z[ZOQ__GROUP];
        zoq__k_noise(&k, &term, (int64_t)(first + i), z);
        memcpy(got + i, z, (count - i < ZOQ__GROUP ? count - i : ZOQ__GROUP) * sizeof *z);
    }
    size_t bad = count;
    for (size_t i = 0; i < count && bad == count; i++)
        if (memcmp(&ref[i], &got[i], sizeof *ref) != 0)
            bad = i;
    free(ref);
    free(got);
    CHECK(bad == count, "noise dist %d, key %016llx, element %llu differs", dist,
          (unsigned long long)key, (unsigned long long)(first + bad));
}

static void noise_tests(void)
{
    /* millions of elements of both distributions, and the top of the counter */
    noise_equal(0xC6D89249D5BE7411ull, 0, 0, 0, ZOQ_DIST_GAUSSIAN, 0, 1u << 22);
    /* u = 1: the pair of elements 4884453 and 4884469 (docs/rng.md 6) */
    noise_equal(0xC6D89249D5BE7411ull, 0, 0, 0, ZOQ_DIST_GAUSSIAN, 4884453 & ~7u, 64);
    noise_equal(0x91ED69925AFDB689ull, (1ull << 32) + 3, (1u << 24) - 1, 255, ZOQ_DIST_GAUSSIAN,
                (32ull << 32) - 4096, 8192);
    noise_equal(0x91ED69925AFDB689ull, 5, 1, 3, ZOQ_DIST_GAUSSIAN, (UINT64_MAX - 8200) & ~7ull, 8192);
    noise_equal(0x91ED69925AFDB689ull, 7, 3, 0, ZOQ_DIST_RADEMACHER, 0, 1u << 22);
    noise_equal(0x91ED69925AFDB689ull, 7, 3, 0, ZOQ_DIST_RADEMACHER, (128ull << 32) - 4096, 8192);
    for (int r = 0; r < 200; r++)
        noise_equal(next(), next(), (uint32_t)next() & 0xFFFFFFu, (uint32_t)next() & 0xFFu,
                    (int)(next() & 1u), (next() & 0xFFFFFFFFFFull) & ~7ull, 1000);
    if (!failures)
        printf("ok: kernel noise equals the scalar reference (%llu elements)\n",
               (unsigned long long)compared);
}

/* ---- whole passes ---------------------------------------------------------- */

#define N 1003 /* not a multiple of 8: a tail group */

typedef struct bufs {
    void *data;
    float m[N], v[N], sigma[N];
    uint8_t bits[(N + 7) / 8];
} bufs;

static void fill_bufs(bufs *b, int dtype)
{
    size_t w = dtype == ZOQ_F32 ? 4 : 2;
    b->data = malloc(N * w);
    for (int i = 0; i < N; i++) {
        float x = (float)((int64_t)(next() % 20001) - 10000) / 4000.0f;
        if (dtype == ZOQ_F32)
            ((float *)b->data)[i] = x;
        else if (dtype == ZOQ_F16)
            ((uint16_t *)b->data)[i] = zoq__f32_to_f16(x);
        else
            ((uint16_t *)b->data)[i] = zoq__f32_to_bf16(x);
        b->m[i] = (float)(next() % 1000) / 1000.0f - 0.5f;
        /* half of v so small that Adam's eps decides the step */
        b->v[i] = (float)(next() % 1000) * (i % 2 ? 1e-3f : 1e-16f);
        b->sigma[i] = 0.5f + (float)(next() % 1000) / 500.0f;
    }
    for (int i = 0; i < (N + 7) / 8; i++)
        b->bits[i] = (uint8_t)next();
}

static void copy_bufs(const bufs *a, bufs *b, int dtype)
{
    size_t w = dtype == ZOQ_F32 ? 4 : 2;
    *b = *a;
    b->data = malloc(N * w);
    memcpy(b->data, a->data, N * w);
}

static zoq__tensor tensor_of(bufs *b, int dtype, uint64_t key, int64_t cols)
{
    zoq__tensor t;
    memset(&t, 0, sizeof t);
    t.data = b->data;
    t.dtype = dtype;
    t.numel = N;
    t.key = key;
    t.rows = cols ? N / cols : 0;
    t.cols = cols;
    return t;
}

/* The case's pass over b (tensor t), its stages' state in mv and ms. */
static zoq__pass pass_of(bufs *b, const zoq__tensor *t, const zoq__term *terms, int dist,
                         float scale, const zoq__lowrank *lr, const zoq__mask *mask,
                         const zoq__hessian *hs, const zoq__update *upd, zoq__moments *mv,
                         zoq__mask_state *ms)
{
    zoq__pass ps;
    memset(&ps, 0, sizeof ps);
    ps.src = t;
    ps.dst = b->data;
    ps.dist = dist;
    ps.scale = scale;
    ps.n_terms = 3;
    ps.terms = terms;
    mv->m = b->m;
    mv->v = b->v;
    ms->bits = b->bits;
    ms->tau = 1.0f;
    if (lr)
        zoq__pass_stage(&ps, ZOQ__STAGE_LOWRANK, lr, NULL);
    if (mask)
        zoq__pass_stage(&ps, ZOQ__STAGE_MASK, mask, ms);
    if (hs) {
        zoq__pass_stage(&ps, ZOQ__STAGE_PRECOND, hs, b->sigma);
        zoq__pass_stage(&ps, ZOQ__STAGE_CURV, hs, b->sigma);
    }
    if (upd && upd->kind == ZOQ_OPTIM_ADAM)
        zoq__pass_stage(&ps, ZOQ__STAGE_ADAM, upd, mv);
    else if (upd && upd->kind == ZOQ_OPTIM_MOMENTUM)
        zoq__pass_stage(&ps, ZOQ__STAGE_MOMENTUM, upd, b->m);
    else if (upd)
        zoq__pass_stage(&ps, ZOQ__STAGE_SGD, upd, NULL);
    return ps;
}

static void pass_case(zoq__backend *cpu, int dtype, int dist, int upd_kind, int hessian,
                      int mask_kind, int lozo, float scale, int point_noise)
{
    const zoq__term terms[3] = {{5, 0, 1e-3f}, {5, 1, -2e-3f}, {4, 2, 0.25f}};
    const zoq__term grad[3] = {{5, 0, 0.7f}, {5, 1, -1.3f}, {3, 0, 0.01f}};
    const zoq__term curv[2] = {{5, 0, 1e-3f}, {5, 1, 2e-3f}};
    zoq__update upd = {upd_kind, 3, grad, 1e-2f, 0.9f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.001f};
    zoq__hessian hs = {0.999f, 1e-8f, 2, curv};
    zoq__mask mask = {mask_kind, 0.4f, 6};
    bufs a, b;
    fill_bufs(&a, dtype);
    copy_bufs(&a, &b, dtype);
    const uint64_t key = next();
    zoq__tensor ta = tensor_of(&a, dtype, key, lozo ? 17 : 0);
    zoq__tensor tb = tensor_of(&b, dtype, key, lozo ? 17 : 0);
    const zoq__lowrank lr = {lozo, 3};
    zoq__moments mva, mvb;
    zoq__mask_state msa, msb;
    const zoq__pass ps = pass_of(&a, &ta, terms, dist, scale, lozo ? &lr : NULL,
                                 mask_kind ? &mask : NULL, hessian ? &hs : NULL,
                                 upd_kind >= 0 ? &upd : NULL, &mva, &msa);
    const zoq__pass psb = pass_of(&b, &tb, terms, dist, scale, lozo ? &lr : NULL,
                                  mask_kind ? &mask : NULL, hessian ? &hs : NULL,
                                  upd_kind >= 0 ? &upd : NULL, &mvb, &msb);
    const char *what = point_noise ? "direction" : "pass";
    if (point_noise) {
        static float ref[N], got[N];
        const int64_t off = (int64_t)(next() % N), cnt = (int64_t)(next() % (uint64_t)(N - off));
        CHECK(cpu->iface->direction(cpu, &ps, off, cnt, ref) == ZOQ_OK, "cpu direction");
        zoq__kpass k = zoq__kpass_make(&psb, terms, grad, curv);
        for (int64_t g = off / ZOQ__GROUP; g < (off + cnt + ZOQ__GROUP - 1) / ZOQ__GROUP; g++)
            zoq__k_direction_group(&k, g, off, cnt, got);
        CHECK(memcmp(ref, got, (size_t)cnt * sizeof *ref) == 0,
              "%s dtype %d dist %d hessian %d mask %d lozo %d", what, dtype, dist, hessian,
              mask_kind, lozo);
    } else {
        CHECK(cpu->iface->run_passes(cpu, &ps, 1) == ZOQ_OK, "cpu pass");
        zoq__kpass k = zoq__kpass_make(&psb, terms, grad, curv);
        for (int64_t g = 0; g < (N + ZOQ__GROUP - 1) / ZOQ__GROUP; g++)
            zoq__k_pass_group(&k, g);
        size_t w = dtype == ZOQ_F32 ? 4 : 2;
        CHECK(memcmp(a.data, b.data, N * w) == 0 && memcmp(a.m, b.m, sizeof a.m) == 0 &&
              memcmp(a.v, b.v, sizeof a.v) == 0 && memcmp(a.sigma, b.sigma, sizeof a.sigma) == 0 &&
              memcmp(a.bits, b.bits, sizeof a.bits) == 0,
              "%s dtype %d dist %d optimizer %d hessian %d mask %d lozo %d scale %g", what,
              dtype, dist, upd_kind, hessian, mask_kind, lozo, scale);
    }
    free(a.data);
    free(b.data);
}

static void pass_tests(void)
{
    zoq__backend *cpu;
    if (zoq__cpu_backend_create(1, &cpu) != ZOQ_OK) {
        fprintf(stderr, "FAIL: no CPU backend\n");
        failures++;
        return;
    }
    int cases = 0, before = failures;
    const float scales[3] = {1.0f, 0.0f, 0.9995f};
    for (int dtype = ZOQ_F32; dtype <= ZOQ_BF16; dtype++)
        for (int dist = 0; dist < 2; dist++)
            for (int upd = -1; upd <= ZOQ_OPTIM_ADAM; upd++)
                for (int hs = 0; hs < 2; hs++)
                    for (int mask = 0; mask <= ZOQ__MASK_RANDOM; mask++)
                        for (int lozo = 0; lozo <= 3; lozo += 3)
                            for (int s = 0; s < 3; s++, cases++) {
                                pass_case(cpu, dtype, dist, upd, hs, mask, lozo, scales[s], 0);
                                if (s == 0 && upd == -1)
                                    pass_case(cpu, dtype, dist, upd, hs, mask, lozo, 1.0f, 1);
                            }
    cpu->iface->destroy(cpu);
    if (failures == before)
        printf("ok: kernel passes equal the CPU backend (%d cases: dtypes, distributions, "
               "optimizers, HiZOO, masks, LoZO, scales; and point noise)\n", cases);
}

int main(void)
{
    noise_tests();
    pass_tests();
    return failures ? 1 : 0;
}
