/* backend.h - what a compute backend provides: a table of function pointers
 * plus an opaque context (the shape of ggml-backend). The CPU backend is built
 * in; others (CUDA) are plugins checked by ABI version and interface size. */
#ifndef ZOQ_BACKEND_H
#define ZOQ_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define ZOQ__BACKEND_ABI 1

/* A tensor as kernels see it. */
typedef struct zoq__tensor {
    void *data;
    int dtype;                  /* zoq_dtype_t */
    int64_t numel;
    uint64_t key;               /* zoq_tensor_key(seed, name) */
} zoq__tensor;

/* One direction's share of a pass: coef * z_query. */
typedef struct zoq__term {
    uint32_t query;
    float coef;
} zoq__term;

/* One fused pass over a tensor:
 *   dst[i] = scale*src[i] + sum_k terms[k].coef * z_{terms[k].query}[i]
 * in binary32, in that order (scale*src first, then terms in order), stored
 * to dst's dtype with round-to-nearest-even. dst may equal src. */
typedef struct zoq__pass {
    const zoq__tensor *src;
    void *dst;
    uint64_t step;
    uint32_t stream;
    int dist;                   /* zoq_dist_t */
    float scale;
    int n_terms;
    const zoq__term *terms;
} zoq__pass;

typedef struct zoq__backend zoq__backend;

/* The interface. `size` is sizeof the table the backend was built with;
 * optional slots may be NULL and get defaults. */
typedef struct zoq__backend_iface {
    size_t size;
    uint32_t abi;               /* ZOQ__BACKEND_ABI */
    const char *name;
    /* Runs n passes (each over a whole tensor); returns a zoq status. */
    int (*run_passes)(zoq__backend *be, const zoq__pass *passes, int n);
    /* Releases the backend. */
    void (*destroy)(zoq__backend *be);
} zoq__backend_iface;

struct zoq__backend {
    const zoq__backend_iface *iface;
    void *context;
};

/* The built-in CPU backend with n_threads workers (>= 1). */
int zoq__cpu_backend_create(int n_threads, zoq__backend **out);

#endif
