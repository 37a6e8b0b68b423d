/* check_gpu.cu - `make check-gpu`: the CUDA plugin against the CPU backend on
 * a real device, bit for bit: z of both distributions over millions of
 * elements (zoq_point_noise, plain and under HiZOO), and whole multi-step
 * trajectories (tests/plugin/trajectory.h) with every tensor on the GPU and
 * with CPU and GPU tensors mixed. Skips, exiting 0, when no device is found.
 * Run with ZOQ_BACKEND_PATH naming the folder of libzoq-cuda.so. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/gpu.h"
#include "plugin/trajectory.h"

static void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess || cudaMemset(p, 0, bytes) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc of %zu bytes failed\n", bytes);
        exit(1);
    }
    return p;
}

static void dev_release(void *p)
{
    cudaFree(p);
}

static void dev_to_host(void *dst, const void *src, size_t bytes)
{
    if (cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) {
        fprintf(stderr, "cudaMemcpy to the host failed\n");
        exit(1);
    }
}

static void *host_alloc(size_t bytes)
{
    return calloc(1, bytes);
}

static void host_copy(void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
}

static const traj_mem gpu = {dev_alloc, dev_release, dev_to_host};
static const traj_mem host = {host_alloc, free, host_copy};

static int objective_zero(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    (void)ev;
    *loss = 0.0;
    return 0;
}

/* z of point 0 (query 0, +eps) over n elements of a tensor on device dev,
 * under HiZOO (sigma 1 at the first step) or not. */
static int point_noise(int device, int dist, int hessian, int64_t n, float *out)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    void *data = device == ZOQ_DEVICE_CUDA ? dev_alloc((size_t)n * 4) : calloc((size_t)n, 4);
    const zoq_param_desc_t d =
        gpu_desc("model.layers.0.mlp.up_proj.weight", data, ZOQ_F32, device, n);
    int rc = zoq_param_add_desc(ctx, &d, NULL);
    const zoq_point_t *pts;
    int32_t np;
    if (rc == ZOQ_OK)
        rc = zoq_set_int(ctx, ZOQ_OPT_DIST, dist);
    if (rc == ZOQ_OK)
        rc = zoq_set_int(ctx, ZOQ_OPT_HESSIAN, hessian);
    if (rc == ZOQ_OK)
        rc = zoq_set_objective(ctx, objective_zero, NULL);
    for (int s = 0; s < 2 && rc == ZOQ_OK; s++) /* a later step, after an update */
        rc = zoq_step(ctx, NULL);
    if (rc == ZOQ_OK)
        rc = zoq_ask(ctx, &pts, &np);
    if (rc == ZOQ_OK)
        rc = zoq_point_noise(ctx, 0, 0, 0, n, out);
    if (rc != ZOQ_OK)
        fprintf(stderr, "point noise on device %d: %s\n", device, zoq_last_error(ctx));
    zoq_destroy(ctx);
    if (device == ZOQ_DEVICE_CUDA)
        cudaFree(data);
    else
        free(data);
    return rc;
}

int main(void)
{
    cudaDeviceProp prop;
    if (!gpu_found("check-gpu", &prop))
        return 0;
    printf("check-gpu: %s\n", prop.name);
    int failed = 0;
    const int64_t n = 1 << 24;
    float *a = (float *)malloc((size_t)n * 4), *b = (float *)malloc((size_t)n * 4);
    for (int dist = 0; dist < 2; dist++)
        for (int hessian = 0; hessian < 2; hessian++) {
            int ok = point_noise(ZOQ_DEVICE_CPU, dist, hessian, n, a) == ZOQ_OK &&
                     point_noise(ZOQ_DEVICE_CUDA, dist, hessian, n, b) == ZOQ_OK &&
                     memcmp(a, b, (size_t)n * 4) == 0;
            printf("%s z, %s, HiZOO %s: %lld elements %s\n", ok ? "ok:  " : "FAIL:",
                   dist ? "Rademacher" : "Gaussian", hessian ? "on" : "off", (long long)n,
                   ok ? "bit-identical" : "differ");
            failed += !ok;
        }
    free(a);
    free(b);
    const int all[TRAJ_NT] = {ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA};
    const int mixed[TRAJ_NT] = {ZOQ_DEVICE_CPU, ZOQ_DEVICE_CUDA, ZOQ_DEVICE_CUDA};
    for (int k = 0; k < TRAJ_NCONFIGS; k++)
        for (int mix = 0; mix < 2; mix++) {
            char why[512];
            int rc = traj_compare(&traj_configs[k], mix ? mixed : all, &gpu, &host, why,
                                  sizeof why);
            printf("%s trajectory, config %d, %s: %s\n", rc == ZOQ_OK ? "ok:  " : "FAIL:", k,
                   mix ? "CPU and GPU tensors" : "all on the GPU",
                   rc == ZOQ_OK ? "bit-identical to the CPU" : why);
            failed += rc != ZOQ_OK;
        }
    printf("check-gpu: %d failed\n", failed);
    return failed ? 1 : 0;
}
