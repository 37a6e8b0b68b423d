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

#define ZOQ__BACKEND_ABI 1

/* A tensor as kernels see it, with its optimizer buffers (f32, numel each,
 * NULL until an optimizer needs them). */
typedef struct zoq__tensor {
    void *data;
    int dtype;                  /* zoq_dtype_t */
    int64_t numel;
    uint64_t key;               /* zoq_tensor_key(seed, name) */
    float *m;                   /* momentum b, or Adam's first moment */
    float *v;                   /* Adam's second moment */
    float *sigma;               /* HiZOO's diagonal Hessian estimate */
    uint8_t *bits;              /* sparse mask of the step, 1 bit per element */
    float tau;                  /* magnitude threshold: |θ| <= tau is perturbed */
    int64_t cols;               /* row length of a 2-D tensor (LoZO), 0: not 2-D */
    float *lozo_n;              /* LOZO-M: lozo_nq factors N_q, rows x rank each, row-major;
                                   NULL unless the momentum of this tensor is low rank */
    int lozo_nq;
    uint64_t lozo_vstep;        /* LOZO-M: the step whose V the factors pair with */
} zoq__tensor;

/* The stages a pass may add to its terms (docs/architecture.md): the
 * techniques of lib/tech/ declare theirs as ZOQ__STAGE_BIT()s. */
enum {
    ZOQ__STAGE_LOWRANK = 0,     /* LoZO: U·Vᵀ/sqrt(r) directions on 2-D tensors */
    ZOQ__STAGE_MASK = 1,        /* sparse: directions z ⊙ mask */
    ZOQ__STAGE_PRECOND = 2,     /* HiZOO: directions z / sqrt(sigma) */
    ZOQ__STAGE_CURV = 3,        /* HiZOO: the sigma update of zoq__hessian */
    ZOQ__STAGE_SGD = 4,         /* optimizer stages of zoq__update */
    ZOQ__STAGE_MOMENTUM = 5,
    ZOQ__STAGE_ADAM = 6,
    ZOQ__STAGE_LOZO_M = 7,
    ZOQ__STAGE_FLOOR = 8,       /* QZO scales: dst = max(acc, floor) */
    ZOQ__STAGE_COUNT = 9
};
#define ZOQ__STAGE_BIT(kind) (1u << (kind))

/* One direction's share of a pass: coef * z of (step, query). */
typedef struct zoq__term {
    uint64_t step;
    uint32_t query;
    float coef;
} zoq__term;

/* The optimizer stage of an update pass. With ĝ_i = sum_k grad[k].coef * d_k[i]
 * (binary32, in order; d = z, or z / sqrt(sigma_new) under HiZOO), after the
 * pass's own terms:
 *   sgd:      acc = acc + (-lr)*ĝ
 *   momentum: m = mu*m + ĝ;                              acc = acc + (-lr)*m
 *   momentum, tensor with lozo_n (LOZO-M; the factors already hold this
 *             update, ĝ is not formed):  acc = acc + (-lr)*M,  M of
 *             zoq__lowrank_factor_fill (rng/lowrank.h) at lozo_vstep
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

/* HiZOO in a pass: the pass's own terms use d = z / sqrt(sigma) with the
 * tensor's current sigma; when n_curv > 0 the pass then updates it,
 *   s = keep*sigma; s = s + (curv[k].coef*sigma) * (z_k*z_k) for each k;
 *   sigma = max(s, floor)
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

/* One fused pass over a tensor:
 *   acc = scale*src[i] (0 when scale is 0, whatever src holds);
 *   acc = acc + terms[k].coef * z_k[i] for each k in order;
 *   then the optimizer stage if upd != NULL;  dst[i] = acc
 * in binary32, stored to dst's dtype with round-to-nearest-even. dst may
 * equal src. */
typedef struct zoq__pass {
    const zoq__tensor *src;
    void *dst;
    uint32_t stream;
    int dist;                   /* zoq_dist_t */
    float scale;
    int n_terms;
    const zoq__term *terms;
    const zoq__update *upd;     /* NULL: no optimizer stage */
    const zoq__hessian *hs;     /* NULL: directions are z, no HiZOO */
    const zoq__mask *mask;      /* NULL: every element perturbed */
    int lozo_rank;              /* > 0: 2-D tensors use U·Vᵀ/sqrt(r) directions (rng/lowrank.h) */
    uint64_t lozo_interval;     /* V is drawn at the step rounded down to this */
    int floor_on;               /* 1: dst[i] = max(acc, floor) (QZO scales), NaN kept */
    float floor;
} zoq__pass;

typedef struct zoq__backend zoq__backend;

/* The interface. `size` is sizeof the table the backend was built with;
 * optional slots may be NULL (or lie beyond `size`) and get defaults. A
 * plugin's buffers (tensor data, m, v, sigma, bits, pass dst) are memory of
 * its device; zoq reaches them only through these slots. */
typedef struct zoq__backend_iface {
    size_t size;
    uint32_t abi;               /* ZOQ__BACKEND_ABI */
    const char *name;
    /* Runs n passes (each over a whole tensor) and returns when they are done
     * (dst readable by the caller's next kernel); returns a zoq status. */
    int (*run_passes)(zoq__backend *be, const zoq__pass *passes, int n);
    /* Writes the direction d of ps->terms[0] (z with ps's mask, HiZOO and LoZO
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
