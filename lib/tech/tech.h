/* tech.h - every ZO technique as one descriptor, one file each under
 * lib/tech/ (docs/architecture.md): the options it owns, what it cannot run
 * with, what it needs from the estimator and the device, the per-parameter
 * state it keeps, and the pass stages (backend.h) it adds. tech.c walks the
 * table: one compatibility check when a step is planned, and the
 * preparation and release of every technique's state. A new technique is a
 * new file with its descriptor and one line in list.h. */
#ifndef ZOQ_TECH_TECH_H
#define ZOQ_TECH_TECH_H

#include <stdint.h>

#include "core/internal.h"
#include "io/buf.h"

/* Technique ids, in the order the table runs them (list.h). */
enum {
#define ZOQ__TECH(name) ZOQ__TECH_##name,
#include "tech/list.h"
#undef ZOQ__TECH
    ZOQ__TECH_COUNT
};
#define ZOQ__TECH_BIT(name) (1u << ZOQ__TECH_##name)

/* What a technique needs beyond its options. */
enum {
    ZOQ__NEEDS_CENTRAL = 1u,    /* the central estimator */
    ZOQ__NEEDS_HOST = 2u,       /* its tensors on the CPU (checked when they are registered) */
    ZOQ__NEEDS_THETA = 4u       /* θ itself when the next step is planned, so zoq_run cannot
                                   fuse a step's update with the next step's first move */
};

typedef struct zoq__tech {
    const char *name;           /* as messages name it */
    const int *keys;            /* the option keys it owns, 0-terminated */
    /* Nonzero when it is on for ctx's options and enabled parameters. */
    int (*active)(const zoq_ctx *ctx);
    /* Optional: nonzero when a tensor of this dtype and these flags is the
     * technique's own kind (ZOQ__NEEDS_HOST is checked for those). */
    int (*claims)(int dtype, uint32_t flags);
    uint32_t conflicts;         /* ZOQ__TECH_BIT()s it cannot run with */
    uint32_t needs;             /* ZOQ__NEEDS_* */
    uint32_t stages;            /* ZOQ__STAGE_BIT()s (backend.h) it adds to passes: every
                                   device its tensors are on must run them */
    uint32_t optional_stages;   /* those it uses only where the device runs them */
    /* Optional: p's state that a stage of the pass reads (backend.h names
     * its layout per kind); NULL when p has none. */
    void *(*stage_state)(const zoq__param *p);
    /* Optional, at plan time while active, before anything moves: the
     * context-wide part, then each enabled parameter's state. */
    int (*plan)(zoq_ctx *ctx);
    int (*prepare)(zoq_ctx *ctx, zoq__param *p);
    /* Optional: frees the state of every parameter (when it is off, and at
     * zoq_destroy). */
    void (*release)(zoq_ctx *ctx);
    /* Optional: the weight of a direction from its projected gradient g
     * (every technique's in table order, whether on or not). */
    double (*weigh)(zoq_ctx *ctx, double g);
    /* Optional, while active, when an update is applied: fills its fields of
     * the optimizer stage u (u->grad is set) or advances its state for it;
     * undo takes that back if the update's pass then fails. */
    void (*update)(zoq_ctx *ctx, zoq__update *u);
    void (*undo)(zoq_ctx *ctx);
    /* Optional: p's state in a state file (docs/formats.md), as tagged
     * buffers: how many it writes for p, and writes them (tag, then data). */
    uint32_t (*saved)(const zoq_ctx *ctx, const zoq__param *p);
    void (*save)(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b);
    /* Optional, with commit and discard: reads the buffer of `tag` (a bit of
     * `tags`) of p, in a file whose optimizer buffers are of `kind`, into
     * *staged (its own layout, allocated; ctx unchanged): ZOQ_OK,
     * ZOQ_E_NOT_FOUND (not its buffer in this file), or ZOQ_E_FORMAT or
     * ZOQ_E_NOMEM with a message. Once the whole file checked out, commit
     * installs staged[id] for every parameter (NULL: none in the file, the
     * parameter's state goes); otherwise discard frees each. */
    uint32_t tags;
    int (*load)(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                void **staged);
    void (*commit)(zoq_ctx *ctx, void **staged);
    void (*discard)(void *staged);
} zoq__tech;

/* The descriptors, one per file of lib/tech/. */
#define ZOQ__TECH(name) extern const zoq__tech zoq__tech_##name;
#include "tech/list.h"
#undef ZOQ__TECH

/* The step's compatibility check: ZOQ_E_INVALID with a message naming both
 * when two active techniques conflict, or one lacks what it needs;
 * ZOQ_E_UNSUPPORTED when a device a technique's tensors are on does not run
 * a stage it adds (backend supports_stage). */
int zoq__tech_check(zoq_ctx *ctx);
/* At plan time: releases the state of techniques that are off and prepares
 * that of those that are on (ZOQ_E_NOMEM and the like, message set). */
int zoq__tech_prepare(zoq_ctx *ctx);
/* Frees every technique's state. */
void zoq__tech_release_all(zoq_ctx *ctx);
/* g weighed by every technique's weigh, in table order. */
double zoq__tech_weigh(zoq_ctx *ctx, double g);
/* The active techniques' update (or undo) for the optimizer stage u. */
void zoq__tech_update(zoq_ctx *ctx, zoq__update *u);
void zoq__tech_undo(zoq_ctx *ctx);
/* The state a stage of `kind` reads for p (NULL: none). */
void *zoq__tech_stage_state(const zoq__param *p, int kind);
/* State files: the number of p's tagged buffers, and their bytes; a tag's
 * owner reads it (ZOQ_E_FORMAT: no technique owns it, or it repeats);
 * commit or discard what was staged, staged[tech id][param id]. */
uint32_t zoq__tech_saved(const zoq_ctx *ctx, const zoq__param *p);
void zoq__tech_save(const zoq_ctx *ctx, const zoq__param *p, zoq__buf *b);
int zoq__tech_load(zoq_ctx *ctx, zoq__rbuf *r, uint32_t tag, int kind, const zoq__param *p,
                   void **staged[ZOQ__TECH_COUNT]);
void zoq__tech_commit(zoq_ctx *ctx, void **staged[ZOQ__TECH_COUNT]);
void zoq__tech_discard(const zoq_ctx *ctx, void **staged[ZOQ__TECH_COUNT]);
/* count f32 values of a state file, after their tag: written, or read into
 * a new array (ZOQ_E_FORMAT if truncated, ZOQ_E_NOMEM; message naming p). */
void zoq__tech_put_f32(zoq__buf *b, const float *x, int64_t count);
int zoq__tech_get_f32(zoq_ctx *ctx, zoq__rbuf *r, const zoq__param *p, int64_t count,
                      float **out);
/* A technique whose state is one f32 buffer per parameter (p->tech[id],
 * numel floats): writes it under tag if p has one; reads one (ZOQ_E_FORMAT
 * if repeated); installs the staged ones, releasing the old. */
void zoq__tech_save_f32(const zoq__param *p, int id, uint32_t tag, zoq__buf *b);
int zoq__tech_load_f32(zoq_ctx *ctx, zoq__rbuf *r, const zoq__param *p, void **staged);
void zoq__tech_commit_f32(zoq_ctx *ctx, int id, void **staged);
/* Nonzero if an active technique has every bit of `needs`. */
int zoq__tech_any(const zoq_ctx *ctx, uint32_t needs);
/* At registration: ZOQ_E_UNSUPPORTED if a technique that claims a tensor of
 * this dtype and flags needs the host and device is not the CPU. */
int zoq__tech_check_param(zoq_ctx *ctx, const char *name, int dtype, uint32_t flags,
                          int device);

/* What techniques share by name. */
/* momentum.c: frees the moment buffers of momentum and Adam (and LOZO-M's
 * factors) of every parameter; plan-time switch to optimizer `kind`, whose
 * buffers start from zero; a zeroed f32 buffer of p's numel on p's device
 * into *buf unless it has one (ZOQ_E_NOMEM, message set). */
void zoq__moments_free(zoq_ctx *ctx);
int zoq__moments_plan(zoq_ctx *ctx, int kind);
int zoq__buffer_ensure(zoq_ctx *ctx, const zoq__param *p, float **buf);
/* lozo_m.c: nonzero when p's momentum is kept as LOZO-M factors; frees p's
 * factors and spare. */
int zoq__lozom_applies(zoq_ctx *ctx, const zoq__param *p);
void zoq__lozom_free(zoq__param *p);
/* sparse.c: the mask a pass uses (in place, the first move stores it
 * (`store`), later passes read it back; ask/tell computes it from θ; NULL
 * when off), and whether the bits hold the open accumulation window's
 * magnitude mask between steps (an earlier step of the window stored it, or
 * a state file). */
const zoq__mask *zoq__sparse_mask(const zoq_ctx *ctx, int store);
int zoq__sparse_window_bits(const zoq_ctx *ctx);
/* sparse.c: p's magnitude threshold as the state file's parameter record
 * holds it, and its staging for commit (into the staged sparse state). */
void zoq__sparse_threshold(const zoq__param *p, uint32_t *valid, float *tau);
int zoq__sparse_stage_threshold(zoq_ctx *ctx, void **staged, uint32_t valid, float tau);
/* hizoo.c: the HiZOO block a move or materialization needs (NULL when off). */
const zoq__hessian *zoq__move_hessian(const zoq_ctx *ctx);
/* hizoo.c: the HiZOO block of the step's final pass (NULL when off):
 * precondition, then update Σ from the step's curvatures. */
const zoq__hessian *zoq__final_hessian(zoq_ctx *ctx);

#endif
