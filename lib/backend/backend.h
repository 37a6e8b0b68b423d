/* backend.h - what a compute backend provides: a table of function pointers
 * plus an opaque context (the shape of ggml-backend). The CPU backend is built
 * in; others (CUDA) are plugins checked by ABI version and interface size
 * (lib/backend/plugin.c, docs/backends.md). This header is the plugin ABI:
 * change a published layout only by bumping ZOQ__BACKEND_ABI; new slots are
 * appended to the interface, and the loader gives NULL or absent ones their
 * defaults. */
#ifndef ZOQ_BACKEND_H
#define ZOQ_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define ZOQ__BACKEND_ABI 2

/* A tensor as kernels see it: its memory and shape, nothing of how it is
 * trained (the techniques' state reaches a pass through its stages). */
typedef struct zoq__tensor {
    void *data;
    int dtype;                  /* zoq_dtype_t */
    int64_t numel;
    uint64_t key;               /* zoq_tensor_key(seed, name) */
    int64_t rows, cols;         /* a 2-D tensor's shape; 0, 0 otherwise */
    int64_t stride;             /* bytes between elements of data (and of a pass's dst);
                                   0 = dense. Only the CPU backend sees non-zero strides
                                   (registration refuses them on other devices). */
} zoq__tensor;

/* One direction's share of a pass: coef * z of (step, query). */
typedef struct zoq__term {
    uint64_t step;
    uint32_t query;
    float coef;
} zoq__term;

/* The stages a pass may add to its terms, in the order a pass runs them
 * (docs/architecture.md); the techniques of lib/tech/ declare theirs as
 * ZOQ__STAGE_BIT()s. Those before ZOQ__STAGE_CURV shape the directions d of
 * every term; the rest run on acc after the terms. */
enum {
    ZOQ__STAGE_LOWRANK = 0,     /* LoZO: d = U·Vᵀ/sqrt(r) on 2-D tensors (rng/lowrank.h);
                                   arg zoq__lowrank, no state */
    ZOQ__STAGE_MASK = 1,        /* sparse: d = z ⊙ mask; arg zoq__mask, state zoq__mask_state */
    ZOQ__STAGE_PRECOND = 2,     /* HiZOO: d = z / sqrt(sigma); arg zoq__hessian, state sigma */
    ZOQ__STAGE_CURV = 3,        /* HiZOO's sigma update; arg zoq__hessian, state sigma */
    ZOQ__STAGE_SGD = 4,         /* optimizer stages; arg zoq__update; state none, */
    ZOQ__STAGE_MOMENTUM = 5,    /*   m (float *), */
    ZOQ__STAGE_ADAM = 6,        /*   zoq__moments, */
    ZOQ__STAGE_LOZO_M = 7,      /*   zoq__lozo_factors */
    ZOQ__STAGE_FLOOR = 8,       /* dst = max(acc, *(const float *)arg) (QZO scales), NaN kept */
    ZOQ__STAGE_COUNT = 9
};
#define ZOQ__STAGE_BIT(kind) (1u << (kind))
#define ZOQ__MAX_STAGES 8

/* One stage of a pass: `arg` is shared by the passes of one call, `state`
 * is this tensor's (device memory of the backend, or a host struct naming
 * such memory). */
typedef struct zoq__stage {
    int kind;                   /* ZOQ__STAGE_* */
    const void *arg;
    void *state;
} zoq__stage;

/* LoZO's directions: rank r, V drawn at the step rounded down to interval. */
typedef struct zoq__lowrank {
    int rank;
    uint64_t interval;
} zoq__lowrank;

/* The optimizer stage. With ĝ_i = sum_k grad[k].coef * d_k[i] (binary32,
 * in order; d with the pass's direction stages, under HiZOO with the new
 * sigma):
 *   sgd:      acc = acc + (-lr)*ĝ
 *   momentum: m = mu*m + ĝ;                              acc = acc + (-lr)*m
 *   lozo_m:   (the factors already hold this update, ĝ is not formed)
 *             acc = acc + (-lr)*M,  M of zoq__lowrank_factor_fill
 *             (rng/lowrank.h) at the factors' vstep
 *   adam:     m = b1*m + (1-b1)*ĝ; v = b2*v + (1-b2)*ĝ*ĝ;
 *             acc = acc + (-lr) * ((m/bc1) / (sqrt(v/bc2) + eps))
 * (plain SGD without HiZOO needs no stage: its update is ordinary terms.) */
typedef struct zoq__update {
    int kind;                   /* zoq_optimizer_t */
    int n_grad;
    const zoq__term *grad;
    float lr, mu, beta1, beta2, eps;
    float bc1, bc2;             /* Adam bias corrections 1 - beta^t */
} zoq__update;

/* Adam's moments of a tensor, numel floats each. */
typedef struct zoq__moments {
    float *m, *v;
} zoq__moments;

/* LOZO-M's momentum of a 2-D tensor: nq factors N_q, rows x rank each,
 * row-major, paired with V of step vstep (host memory). */
typedef struct zoq__lozo_factors {
    float *n;
    int nq, rank;
    uint64_t vstep;
} zoq__lozo_factors;

/* HiZOO: the directions are d = z / sqrt(sigma) with the tensor's current
 * sigma; the CURV stage then updates it,
 *   s = keep*sigma; s = s + (curv[k].coef*sigma) * (z_k*z_k) for each k;
 *   sigma = max(s, floor)   (elements the mask leaves out keep theirs)
 * and the optimizer stage uses the new sigma. */
typedef struct zoq__hessian {
    float keep;                 /* 1 - alpha */
    float floor;
    int n_curv;
    const zoq__term *curv;      /* coef = alpha * h_q / n for each direction of the step */
} zoq__hessian;

/* Sparse perturbation: directions are z ⊙ mask. The magnitude mask must come
 * from the unperturbed θ, so the first in-place move computes it from src
 * and stores it in the tensor's bits; later passes of the step read them. */
enum {
    ZOQ__MASK_MAGNITUDE = 1,    /* |src| <= tau, computed from src */
    ZOQ__MASK_MAGNITUDE_STORE = 2, /* the same, also written to bits */
    ZOQ__MASK_BITS = 3,         /* read from bits */
    ZOQ__MASK_RANDOM = 4        /* u < keep, u from stream 2 of (key, step) */
};
typedef struct zoq__mask {
    int kind;
    float keep;                 /* random: fraction kept */
    uint64_t step;              /* random: counter of the draw */
} zoq__mask;
/* A tensor's mask: 1 bit per element, and its magnitude threshold. */
typedef struct zoq__mask_state {
    uint8_t *bits;
    float tau;                  /* |θ| <= tau is perturbed */
} zoq__mask_state;

/* One fused pass over a tensor:
 *   acc = scale*src[i] (0 when scale is 0, whatever src holds);
 *   acc = acc + terms[k].coef * d_k[i] for each k in order;
 *   then the stages after the terms, in order;  dst[i] = acc
 * in binary32, stored to dst's dtype with round-to-nearest-even. dst may
 * equal src. stages are sorted by kind, at most one of each. */
typedef struct zoq__pass {
    const zoq__tensor *src;
    void *dst;
    uint32_t stream;
    int dist;                   /* zoq_dist_t */
    float scale;
    int n_terms;
    const zoq__term *terms;
    int n_stages;
    zoq__stage stages[ZOQ__MAX_STAGES];
} zoq__pass;

/* Appends a stage to ps (callers add them in kind order). */
static inline void zoq__pass_stage(zoq__pass *ps, int kind, const void *arg, void *state)
{
    zoq__stage st = {kind, arg, state};
    ps->stages[ps->n_stages++] = st;
}

typedef struct zoq__backend zoq__backend;

/* The interface. `size` is sizeof the table the backend was built with;
 * optional slots may be NULL (or lie beyond `size`) and get defaults. A
 * plugin's buffers (tensor data, the stages' state, pass dst) are memory of
 * its device; zoq reaches them only through these slots. */
typedef struct zoq__backend_iface {
    size_t size;
    uint32_t abi;               /* ZOQ__BACKEND_ABI */
    const char *name;
    /* Runs n passes (each over a whole tensor) and returns when they are done
     * (dst readable by the caller's next kernel); returns a zoq status. */
    int (*run_passes)(zoq__backend *be, const zoq__pass *passes, int n);
    /* Writes the direction d of ps->terms[0] (z with ps's direction stages
     * applied; coef ignored) for elements [offset, offset+count) as f32 into
     * host memory `out`. */
    int (*direction)(zoq__backend *be, const zoq__pass *ps, int64_t offset, int64_t count,
                     float *out);
    /* Releases the backend. */
    void (*destroy)(zoq__backend *be);
    /* Optional, default host memory (calloc, free, memcpy): device buffers of
     * `bytes` zeroed bytes, their release (NULL is a no-op), and copies from
     * host to device and back. */
    int (*alloc)(zoq__backend *be, size_t bytes, void **out);
    void (*release)(zoq__backend *be, void *p);
    int (*upload)(zoq__backend *be, void *dst, const void *src, size_t bytes);
    int (*download)(zoq__backend *be, void *dst, const void *src, size_t bytes);
    /* Optional, default "": what the last failing call met, for messages. */
    const char *(*last_error)(zoq__backend *be);
    /* Optional (NULL or absent from an older table: run_passes(first) then
     * run_passes(then)). Runs first[i] and then then[i] over the same tensor
     * for i < n, so that each element is read and written once; then[i] sees
     * the values first[i] stored, rounded to the tensor's dtype, and the
     * result is the two separate passes' bit for bit. */
    int (*run_chained)(zoq__backend *be, const zoq__pass *first, const zoq__pass *then, int n);
    /* Optional (NULL or absent: none): nonzero if the backend runs passes
     * with a stage of this kind (ZOQ__STAGE_*). A step that needs a stage
     * its device's backend lacks is refused when it is planned. */
    int (*supports_stage)(zoq__backend *be, int kind);
} zoq__backend_iface;

/* The required slots end here: a smaller interface is refused. */
#define ZOQ__BACKEND_IFACE_MIN (offsetof(zoq__backend_iface, destroy) + sizeof(void (*)(void)))

/* Whether be's table has the optional slot `member`. */
#define ZOQ__BACKEND_HAS(be, member)                                                              \
    ((be)->iface->size >= offsetof(zoq__backend_iface, member) + sizeof((be)->iface->member) &&   \
     (be)->iface->member != NULL)

struct zoq__backend {
    const zoq__backend_iface *iface;
    void *context;
};

/* A plugin is a shared object exporting ZOQ__PLUGIN_ENTRY, a function
 * returning this (static) description. `abi` fixes the layout of this struct
 * and of everything above; `create` makes a backend whose iface is `iface`,
 * or fails with a zoq status (ZOQ_E_UNSUPPORTED: no usable device) and an
 * optional static message in *why. */
#define ZOQ__PLUGIN_ENTRY "zoq_backend_plugin"
typedef struct zoq__plugin_entry {
    uint32_t abi;               /* ZOQ__BACKEND_ABI */
    const zoq__backend_iface *iface;
    int (*create)(zoq__backend **out, const char **why);
} zoq__plugin_entry;
typedef const zoq__plugin_entry *(*zoq__plugin_entry_fn)(void);

/* The built-in CPU backend with n_threads workers (>= 1), its tiles run
 * with the fastest instruction set this CPU has. */
int zoq__cpu_backend_create(int n_threads, zoq__backend **out);
/* The same with the tile set isa (backend/cpu/tile.h: ZOQ__ISA_*), for
 * tests and benchmarks; ZOQ_E_UNSUPPORTED where this CPU cannot run it. */
int zoq__cpu_backend_create_isa(int n_threads, int isa, zoq__backend **out);

#endif
