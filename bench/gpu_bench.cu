/* gpu_bench.cu - `make bench-gpu`: the CUDA plugin's speed on a real device.
 * For f32 (Gaussian and Rademacher), f16 and bf16 parameters it times whole
 * zoq steps (central SPSA, n = 1: three fused passes, the objective a
 * constant) and reports the bandwidth of one pass, bytes read and written
 * per second, next to a device-to-device cudaMemcpy of the same buffer in
 * the same process (pass_vs_copy = pass GB/s / copy GB/s). It then runs the
 * MeZO loop as published, in PyTorch on the same GPU (bench/mezo_gpu.py),
 * and reports speedup_vs_mezo = MeZO step time / zoq step time. Medians of
 * REPS runs after one warm-up. One line per figure, `name value unit`;
 * JSON in bench/results/gpu.json.
 * Usage: gpu_bench [numel] [reps]; needs ZOQ_BACKEND_PATH (make sets it). */
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/gpu.h"
#include "timing.h"
#include "zoq.h"

#define REPS_MAX 64

static int constant(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)user;
    (void)ev;
    *loss = 1.0;
    return 0;
}

/* Median seconds of a device-to-device copy of `bytes`. */
static double copy_time(void *a, void *b, size_t bytes, int reps)
{
    double t[REPS_MAX];
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaDeviceSynchronize();
        t[r] = now() - t0;
    }
    return median(t, reps);
}

/* Median seconds of one zoq step on a device tensor, and its pass count. */
static double step_time(void *w, int dtype, int64_t n, int dist, int reps, long long *passes)
{
    zoq_ctx *ctx;
    zoq_create(&ctx);
    const zoq_param_desc_t d = gpu_desc("w", w, dtype, ZOQ_DEVICE_CUDA, n);
    if (zoq_param_add_desc(ctx, &d, NULL) != ZOQ_OK) {
        fprintf(stderr, "gpu_bench: %s\n", zoq_last_error(ctx));
        exit(1);
    }
    zoq_set_int(ctx, ZOQ_OPT_DIST, dist);
    zoq_set_double(ctx, ZOQ_OPT_LR, 1e-9);
    zoq_set_objective(ctx, constant, NULL);
    double t[REPS_MAX];
    zoq_report_t r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    for (int k = -1; k < reps; k++) {
        double t0 = now();
        if (zoq_step(ctx, &r) != ZOQ_OK) {
            fprintf(stderr, "gpu_bench: %s\n", zoq_last_error(ctx));
            exit(1);
        }
        if (k >= 0)
            t[k] = now() - t0;
    }
    *passes = r.passes;
    zoq_destroy(ctx);
    return median(t, reps);
}

/* The MeZO loop's step time on this GPU from bench/mezo_gpu.py, or -1. */
static double mezo_time(int64_t n, int reps)
{
    char cmd[256], line[256];
    const char *py = getenv("MEZO_PYTHON") ? getenv("MEZO_PYTHON") : "python3";
    snprintf(cmd, sizeof cmd, "%s bench/mezo_gpu.py %lld %d", py, (long long)n, reps);
    FILE *f = popen(cmd, "r");
    double s = -1.0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "mezo_step_s %lf", &s) != 1)
            fputs(line, stderr);
    if (f)
        pclose(f);
    return s;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 100000000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (n <= 0 || reps < 1 || reps > REPS_MAX) {
        fprintf(stderr, "usage: gpu_bench [numel > 0] [reps 1..%d]\n", REPS_MAX);
        return 2;
    }
    cudaDeviceProp prop;
    if (!gpu_found("bench-gpu", &prop))
        return 0;
    void *a, *b;
    if (cudaMalloc(&a, (size_t)n * 4) != cudaSuccess || cudaMalloc(&b, (size_t)n * 4) != cudaSuccess) {
        fprintf(stderr, "gpu_bench: cannot allocate 2 x %lld floats\n", (long long)n);
        return 1;
    }
    cudaMemset(a, 0, (size_t)n * 4);
    FILE *js = fopen("bench/results/gpu.json", "w");
    if (js)
        fprintf(js, "{\"device\": \"%s\", \"numel\": %lld, \"reps\": %d, \"results\": [",
                prop.name, (long long)n, reps);
    printf("# %s, %lld parameters, medians of %d\n", prop.name, (long long)n, reps);
    const struct {
        const char *name;
        int dtype, dist;
    } cases[] = {{"f32_gaussian", ZOQ_F32, ZOQ_DIST_GAUSSIAN},
                 {"f32_rademacher", ZOQ_F32, ZOQ_DIST_RADEMACHER},
                 {"f16_gaussian", ZOQ_F16, ZOQ_DIST_GAUSSIAN},
                 {"bf16_gaussian", ZOQ_BF16, ZOQ_DIST_GAUSSIAN}};
    double f32_step = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t bytes = (size_t)n * (cases[c].dtype == ZOQ_F32 ? 4u : 2u);
        double copy = copy_time(a, b, bytes, reps);
        long long passes;
        double step = step_time(a, cases[c].dtype, n, cases[c].dist, reps, &passes);
        double pass_gbs = 2.0 * (double)bytes / (step / (double)passes) * 1e-9;
        double copy_gbs = 2.0 * (double)bytes / copy * 1e-9;
        if (c == 0)
            f32_step = step;
        printf("gpu_%s_step_ns_per_param %.4f ns\n", cases[c].name, step / (double)n * 1e9);
        printf("gpu_%s_pass_bandwidth %.1f GB/s\n", cases[c].name, pass_gbs);
        printf("gpu_%s_copy_bandwidth %.1f GB/s\n", cases[c].name, copy_gbs);
        printf("gpu_%s_pass_vs_copy %.3f ratio\n", cases[c].name, pass_gbs / copy_gbs);
        if (js)
            fprintf(js, "%s{\"case\": \"%s\", \"step_s\": %.6e, \"passes\": %lld, "
                    "\"pass_gbs\": %.2f, \"copy_gbs\": %.2f}", c ? ", " : "", cases[c].name,
                    step, passes, pass_gbs, copy_gbs);
    }
    cudaFree(a);
    cudaFree(b);
    double mezo = mezo_time(n, reps);
    if (mezo > 0)
        printf("gpu_speedup_vs_mezo %.2f x\n", mezo / f32_step);
    else
        printf("gpu_speedup_vs_mezo SKIP (bench/mezo_gpu.py found no CUDA PyTorch)\n");
    if (js) {
        fprintf(js, "], \"mezo_step_s\": %.6e}\n", mezo);
        fclose(js);
    }
    return 0;
}
