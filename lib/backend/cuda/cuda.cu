/* cuda.cu - the CUDA backend plugin (libzoq-cuda.so, `make cuda`): the fused
 * passes of backend.h as kernels, one thread per group of 8 elements
 * (pass.cuh, shared with the host tests), over tensors and optimizer buffers
 * in device memory. Loaded by lib/backend/plugin.c; docs/backends.md. Passes
 * run on the calling thread's current device, on the legacy default stream,
 * and each call returns after they finish. CUDA errors come back as
 * ZOQ_E_NOMEM (allocation) or ZOQ_E_UNSUPPORTED, with CUDA's text in
 * last_error. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass.cuh"

#define THREADS 256

typedef struct cuda_ctx {
    zoq__term *terms;           /* device copy of the passes' term lists */
    size_t cap_terms;
    float *scratch;             /* direction output before it goes to the host */
    size_t cap_scratch;
    char err[256];
} cuda_ctx;

/* A status for a CUDA error, with its text kept for last_error. */
static int fail(zoq__backend *be, cudaError_t e, const char *what)
{
    cuda_ctx *c = (cuda_ctx *)be->context;
    snprintf(c->err, sizeof c->err, "(%s: %s)", what, cudaGetErrorString(e));
    (void)cudaGetLastError(); /* reset, so the next call does not report it again */
    return e == cudaErrorMemoryAllocation ? ZOQ_E_NOMEM : ZOQ_E_UNSUPPORTED;
}

/* Grows a device buffer to hold `bytes`. */
static cudaError_t reserve(void **buf, size_t *cap, size_t bytes)
{
    if (bytes <= *cap)
        return cudaSuccess;
    cudaFree(*buf);
    *buf = NULL;
    *cap = 0;
    cudaError_t e = cudaMalloc(buf, bytes);
    if (e == cudaSuccess)
        *cap = bytes;
    return e;
}

static unsigned grid_for(int64_t groups)
{
    int64_t blocks = (groups + THREADS - 1) / THREADS;
    return (unsigned)(blocks < 65535 * 32 ? blocks : 65535 * 32);
}

__global__ void pass_kernel(zoq__kpass k)
{
    const int64_t groups = (k.t.numel + ZOQ__GROUP - 1) / ZOQ__GROUP;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < groups;
         g += (int64_t)gridDim.x * blockDim.x)
        zoq__k_pass_group(&k, g);
}

__global__ void direction_kernel(zoq__kpass k, int64_t offset, int64_t count, float *out)
{
    const int64_t g0 = offset / ZOQ__GROUP, g1 = (offset + count + ZOQ__GROUP - 1) / ZOQ__GROUP;
    for (int64_t g = g0 + (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < g1;
         g += (int64_t)gridDim.x * blockDim.x)
        zoq__k_direction_group(&k, g, offset, count, out);
}

/* Copies every pass's term lists to the device, in pass order: terms, grad,
 * curv; base[p] is where pass p's start. */
static int upload_terms(zoq__backend *be, const zoq__pass *passes, int n, size_t *base)
{
    cuda_ctx *c = (cuda_ctx *)be->context;
    size_t total = 0;
    for (int p = 0; p < n; p++) {
        base[p] = total;
        total += (size_t)passes[p].n_terms;
        const zoq__update *u = zoq__pass_update(&passes[p]);
        const zoq__hessian *hs = zoq__pass_curv(&passes[p]);
        total += u ? (size_t)u->n_grad : 0;
        total += hs ? (size_t)hs->n_curv : 0;
    }
    if (total == 0)
        return ZOQ_OK;
    zoq__term *host = (zoq__term *)malloc(total * sizeof *host);
    if (!host)
        return ZOQ_E_NOMEM;
    for (int p = 0; p < n; p++) {
        zoq__term *at = host + base[p];
        const zoq__pass *ps = &passes[p];
        memcpy(at, ps->terms, (size_t)ps->n_terms * sizeof *at);
        at += ps->n_terms;
        const zoq__update *u = zoq__pass_update(ps);
        const zoq__hessian *hs = zoq__pass_curv(ps);
        if (u) {
            memcpy(at, u->grad, (size_t)u->n_grad * sizeof *at);
            at += u->n_grad;
        }
        if (hs)
            memcpy(at, hs->curv, (size_t)hs->n_curv * sizeof *at);
    }
    cudaError_t e = reserve((void **)&c->terms, &c->cap_terms, total * sizeof *host);
    if (e == cudaSuccess)
        e = cudaMemcpy(c->terms, host, total * sizeof *host, cudaMemcpyHostToDevice);
    free(host);
    return e == cudaSuccess ? ZOQ_OK : fail(be, e, "copying the step's terms");
}

/* The kernel form of pass p, its lists at their device copies. */
static zoq__kpass device_pass(const cuda_ctx *c, const zoq__pass *ps, size_t base)
{
    const zoq__term *t = c->terms + base;
    const zoq__term *g = t + ps->n_terms;
    const zoq__update *u = zoq__pass_update(ps);
    const zoq__term *h = g + (u ? u->n_grad : 0);
    return zoq__kpass_make(ps, t, g, h);
}

static int cuda_run_passes(zoq__backend *be, const zoq__pass *passes, int n)
{
    cuda_ctx *c = (cuda_ctx *)be->context;
    size_t *base = (size_t *)malloc(((size_t)n + 1) * sizeof *base);
    if (!base)
        return ZOQ_E_NOMEM;
    int rc = upload_terms(be, passes, n, base);
    for (int p = 0; p < n && rc == ZOQ_OK; p++) {
        const zoq__kpass k = device_pass(c, &passes[p], base[p]);
        pass_kernel<<<grid_for((k.t.numel + ZOQ__GROUP - 1) / ZOQ__GROUP), THREADS>>>(k);
    }
    free(base);
    if (rc != ZOQ_OK)
        return rc;
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(0);
    return e == cudaSuccess ? ZOQ_OK : fail(be, e, "running the passes");
}

static int cuda_direction(zoq__backend *be, const zoq__pass *ps, int64_t offset, int64_t count,
                          float *out)
{
    cuda_ctx *c = (cuda_ctx *)be->context;
    if (count == 0)
        return ZOQ_OK;
    size_t base;
    zoq__pass one = *ps; /* the first term and the direction stages: sigma is not updated */
    one.n_terms = 1;
    one.n_stages = 0;
    for (int s = 0; s < ps->n_stages; s++)
        if (ps->stages[s].kind < ZOQ__STAGE_CURV)
            one.stages[one.n_stages++] = ps->stages[s];
    int rc = upload_terms(be, &one, 1, &base);
    if (rc != ZOQ_OK)
        return rc;
    cudaError_t e = reserve((void **)&c->scratch, &c->cap_scratch, (size_t)count * sizeof *out);
    if (e != cudaSuccess)
        return fail(be, e, "allocating the direction's buffer");
    const zoq__kpass k = device_pass(c, &one, base);
    const int64_t groups = (offset + count + ZOQ__GROUP - 1) / ZOQ__GROUP - offset / ZOQ__GROUP;
    direction_kernel<<<grid_for(groups), THREADS>>>(k, offset, count, c->scratch);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(out, c->scratch, (size_t)count * sizeof *out, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? ZOQ_OK : fail(be, e, "computing a direction");
}

static void cuda_destroy(zoq__backend *be)
{
    if (!be)
        return;
    cuda_ctx *c = (cuda_ctx *)be->context;
    cudaFree(c->terms);
    cudaFree(c->scratch);
    free(c);
    free(be);
}

static int cuda_alloc(zoq__backend *be, size_t bytes, void **out)
{
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    if (e == cudaSuccess && (e = cudaMemset(*out, 0, bytes)) != cudaSuccess)
        cudaFree(*out);
    return e == cudaSuccess ? ZOQ_OK : fail(be, e, "cudaMalloc");
}

static void cuda_release(zoq__backend *be, void *p)
{
    (void)be;
    cudaFree(p);
}

static int cuda_upload(zoq__backend *be, void *dst, const void *src, size_t bytes)
{
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? ZOQ_OK : fail(be, e, "copy to the device");
}

static int cuda_download(zoq__backend *be, void *dst, const void *src, size_t bytes)
{
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? ZOQ_OK : fail(be, e, "copy from the device");
}

static const char *cuda_last_error(zoq__backend *be)
{
    return ((cuda_ctx *)be->context)->err;
}

static int cuda_supports_stage(zoq__backend *be, int kind)
{
    (void)be;
    return zoq__kpass_supports(kind);
}

static const zoq__backend_iface cuda_iface = {
    sizeof(zoq__backend_iface), ZOQ__BACKEND_ABI, "cuda",
    cuda_run_passes, cuda_direction, cuda_destroy,
    cuda_alloc, cuda_release, cuda_upload, cuda_download, cuda_last_error,
    NULL, /* run_chained: zoq_run falls back to two passes */
    cuda_supports_stage,
};

static int cuda_create(zoq__backend **out, const char **why)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        *why = e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device";
        return ZOQ_E_UNSUPPORTED;
    }
    zoq__backend *be = (zoq__backend *)calloc(1, sizeof *be);
    cuda_ctx *c = (cuda_ctx *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return ZOQ_E_NOMEM;
    }
    be->iface = &cuda_iface;
    be->context = c;
    *out = be;
    return ZOQ_OK;
}

static const zoq__plugin_entry entry = {ZOQ__BACKEND_ABI, &cuda_iface, cuda_create};

extern "C" __attribute__((visibility("default"))) const zoq__plugin_entry *zoq_backend_plugin(void)
{
    return &entry;
}
