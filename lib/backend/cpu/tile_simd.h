/* tile_simd.h - the tile pieces of tile.h written once for any x86 SIMD
 * width. tile_avx2.c (8 lanes) and tile_avx512.c (16 lanes) each define the
 * vector layer below and then include this file, which defines the pieces
 * as static functions, LOAD_STORE(suffix, load_f16, store_f16, narrow_bf16),
 * SIGN_PASSES(name, bf16) and OPS(label, suffix, signs) for the width
 * file's zoq__tile_ops tables.
 *
 * Every float operation is the scalar reference's (tile.c) single IEEE
 * operation in its order: separate multiply and add (-ffp-contract=off, no
 * -mfma), correctly rounded sqrt and division, conversions that round to
 * nearest even. Ragged ends (n % W) run the scalar formula.
 *
 * The vector layer (v* = 32-bit lanes; vm = a lane mask of the width):
 *   W                         lanes per vector;  ISA(name) name's width suffix
 *   vf, vi, vm                float, integer and mask types
 *   F1(x), I1(x)              broadcast;  LDF(p), STF(p, a)  load/store W floats
 *   ADD, MUL, DIV, SQRT       float arithmetic;  AS_F, AS_I  reinterpret
 *   I_ADD, I_AND (a, b); I_SRL, I_SLL (a, n bits)
 *   I_GT(a, b)                mask of lanes with a > b (signed)
 *   ANY_NAN(a, b)             nonzero when a lane of a or of b is NaN
 *   F_BLEND(a, b, m)          b in the lanes of m, a elsewhere
 *   U8_WIDEN(p), U16_WIDEN(p) W bytes / 16-bit words, zero-extended to lanes
 *   U16_STORE2(p, a, b)       the low 16 bits of each lane of a, then of b, to
 *                             2W words at p
 *   LDI(p)                    load W 32-bit integers
 *   I_SLLV(a, b)              each lane of a shifted left by that lane of b
 *   SIGN_XOR(f, w)            f with bit 31 of w XOR-ed into its sign bit
 *   vh, VH_LOAD(p), VH_STORE(p, h)  W f16 values in a register, from and to p
 *   H_WIDEN(h), H_NARROW(a)   W f16 <-> W f32 by the hardware (IEEE: exact
 *                             widening, narrowing to nearest even)
 *   F16_TARGET                attribute the hardware f16 functions need
 *   BF16_GROUP_STORE(d, x)    optional: the G vectors x rounded to bf16 at d
 *                             and replaced by the stored values, as
 *                             group_store_bf16 does (for SIGN_PASSES' BF16_HW);
 *                             it may call bf16_store_cold(d, v) for v = x
 */
#ifndef ISA
#error "tile_simd.h is included by a width file (tile_avx2.c, tile_avx512.c) only"
#endif
#ifdef __FAST_MATH__
#error "the pass kernels need IEEE arithmetic: no -ffast-math"
#endif

#include <math.h>

#include "core/convert.h"
#include "rng/noise.h"
#include "zoq.h"

#define HALF_LOAD(p) H_WIDEN(VH_LOAD(p))
#define HALF_STORE(p, a) VH_STORE(p, H_NARROW(a))

static void load_f32(const float *s, int n, float *acc)
{
    int j = 0;
    for (; j + W <= n; j += W)
        STF(acc + j, LDF(s + j));
    for (; j < n; j++) /* s or acc is a caller's buffer, at any address */
        zoq__put_f32(acc + j, zoq__get_f32(s + j));
}

/* bf16 -> f32 is the 16 bits moved to the top: exact. */
static void load_bf16(const uint16_t *s, int n, float *acc)
{
    int j = 0;
    for (; j + W <= n; j += W)
        STF(acc + j, AS_F(I_SLL(U16_WIDEN(s + j), 16)));
    for (; j < n; j++)
        acc[j] = zoq__bf16_to_f32(zoq__get_u16(s + j));
}

/* core/convert.h's zoq__f32_to_bf16 on W lanes that hold no NaN:
 * x + 0x7FFF + (bit 16 of x), top half. */
static inline vi bf16_round(vf f)
{
    const vi x = AS_I(f);
    const vi odd = I_AND(I_SRL(x, 16), I1(1));
    return I_SRL(I_ADD(I_ADD(x, I1(0x7FFF)), odd), 16);
}

/* convert.h's narrowing, out of line: the NaN lanes' rule (top bits kept,
 * made quiet) and ragged ends. */
__attribute__((noinline)) static void store_bf16_soft(uint16_t *d, int n, const float *acc)
{
    for (int j = 0; j < n; j++)
        zoq__put_u16(d + j, zoq__f32_to_bf16(acc[j]));
}

/* 2W lanes at a time; one unordered compare finds a NaN in them, and such
 * lanes (never met in real parameters) take the reference. */
static void store_bf16(uint16_t *d, int n, const float *acc)
{
    int j = 0;
    for (; j + 2 * W <= n; j += 2 * W) {
        const vf f0 = LDF(acc + j), f1 = LDF(acc + j + W);
        if (ANY_NAN(f0, f1))
            store_bf16_soft(d + j, 2 * W, acc + j);
        else
            U16_STORE2(d + j, bf16_round(f0), bf16_round(f1));
    }
    if (j < n)
        store_bf16_soft(d + j, n - j, acc + j);
}

/* The hardware conversions are IEEE's, which is what core/convert.h computes
 * in software, except that the widening quiets a signaling NaN where
 * convert.h keeps it as it is. One unordered compare of two converted
 * vectors finds a NaN in either; those 2W elements are then converted again
 * by convert.h, out of line: a branch real parameters never take. */
__attribute__((noinline)) static void load_f16_soft(const uint16_t *s, int n, float *acc)
{
    for (int j = 0; j < n; j++)
        acc[j] = zoq__f16_to_f32(zoq__get_u16(s + j));
}

F16_TARGET static void load_f16_hw(const uint16_t *s, int n, float *acc)
{
    int j = 0;
    for (; j + 2 * W <= n; j += 2 * W) {
        const vf f0 = HALF_LOAD(s + j), f1 = HALF_LOAD(s + j + W);
        STF(acc + j, f0);
        STF(acc + j + W, f1);
        if (ANY_NAN(f0, f1))
            load_f16_soft(s + j, 2 * W, acc + j);
    }
    if (j + W <= n) {
        const vf f = HALF_LOAD(s + j);
        STF(acc + j, f);
        if (ANY_NAN(f, f))
            load_f16_soft(s + j, W, acc + j);
        j += W;
    }
    if (j < n)
        load_f16_soft(s + j, n - j, acc + j);
}

F16_TARGET static void store_f16_hw(uint16_t *d, int n, const float *acc)
{
    int j = 0;
    for (; j + W <= n; j += W)
        HALF_STORE(d + j, LDF(acc + j));
    for (; j < n; j++)
        zoq__put_u16(d + j, zoq__f32_to_f16(acc[j]));
}

/* load_<suffix> / store_<suffix> of tile.h over the three dtypes, with the
 * given f16 conversions and bf16 narrowing. */
#define LOAD_STORE(suffix, load_f16, store_f16, narrow_bf16)                                     \
    static void load_##suffix(const void *src, int dtype, int64_t i0, int n, float *acc)         \
    {                                                                                            \
        if (dtype == ZOQ_F32)                                                                    \
            load_f32((const float *)src + i0, n, acc);                                           \
        else if (dtype == ZOQ_F16)                                                               \
            load_f16((const uint16_t *)src + i0, n, acc);                                        \
        else                                                                                     \
            load_bf16((const uint16_t *)src + i0, n, acc);                                       \
    }                                                                                            \
    static void store_##suffix(void *dst, int dtype, int64_t i0, int n, const float *acc)        \
    {                                                                                            \
        if (dtype == ZOQ_F32)                                                                    \
            load_f32(acc, n, (float *)dst + i0);                                                 \
        else if (dtype == ZOQ_F16)                                                               \
            store_f16((uint16_t *)dst + i0, n, acc);                                             \
        else                                                                                     \
            narrow_bf16((uint16_t *)dst + i0, n, acc);                                           \
    }
LOAD_STORE(hw, load_f16_hw, store_f16_hw, store_bf16)

/* Sign passes (tile.h's zoq__sign_pass), 32 elements (one word of a term)
 * at a time in G vectors, in sweeps of the tile that each add one term: the
 * first of a pass also loads (widening from 16 bits) and scales, the last
 * narrows and stores, and a pass after it starts from the value widened
 * again in registers, which is the value it would load. f32 tiles are their
 * own accumulator; 16-bit ones keep binary32 in acc between sweeps. A
 * chained pair of one-term passes runs as a single sweep. Multiplying by a
 * scale of 1 changes no value a term's add then sees (1 * x is x, and a
 * signaling NaN the multiply would quiet is quieted by the add), so every
 * pass's first sweep multiplies; for the same reason f16 is widened by the
 * hardware even where it quiets a signaling NaN that convert.h keeps: the
 * multiply would quiet it anyway. The integer bf16 rounding is convert.h's
 * for NaN too here: every NaN a bf16 sweep meets has come from bf16 values
 * through multiplies and adds of non-NaN operands, so its low 16 bits are 0
 * and the rounding carries nothing into the top half, already quiet. */
#define G (32 / W)
#define INLINE __attribute__((always_inline))
/* for (q = 0; q < G; q += step), unrolled: x[] stays in registers */
#define EACH_Q(step) _Pragma("GCC unroll 4") for (int q = 0; q < G; q += (step))

/* bit j of the word to bit 31 of lane j: shift by 31 - j */
static const int32_t sign_shift[32] = {31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21,
                                       20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
                                       9,  8,  7,  6,  5,  4,  3,  2,  1,  0};

#ifdef BF16_GROUP_STORE
/* 32 values narrowed to bf16 at d by the integer rounding, out of line: the
 * rare path of BF16_GROUP_STORE. */
__attribute__((noinline, cold)) static void bf16_store_cold(uint16_t *d, const float *v)
{
    store_bf16(d, 32, v);
}
#endif

/* bf16 narrowed by the width's BF16_GROUP_STORE (a format of these sweeps
 * only, where the width file defines it: the same bits as ZOQ_BF16). */
#define BF16_HW 100

/* x = the 32 elements at s (dtype), as binary32. */
static inline INLINE F16_TARGET void group_load(const void *s, const int dtype, vf *x)
{
    if (dtype == ZOQ_F32) {
        EACH_Q(1) x[q] = LDF((const float *)s + W * q);
    } else if (dtype == ZOQ_BF16 || dtype == BF16_HW) {
        EACH_Q(1) x[q] = AS_F(I_SLL(U16_WIDEN((const uint16_t *)s + W * q), 16));
    } else {
        EACH_Q(1) x[q] = HALF_LOAD((const uint16_t *)s + W * q);
    }
}

/* x rounded to bf16 by integer rounding and stored at d; x becomes the
 * stored value. */
static inline INLINE F16_TARGET void group_store_bf16(void *d, vf *x)
{
    vi r[G];
    EACH_Q(1) r[q] = bf16_round(x[q]);
    EACH_Q(2) U16_STORE2((uint16_t *)d + W * q, r[q], r[q + 1]);
    EACH_Q(1) x[q] = AS_F(I_SLL(r[q], 16));
}

/* x rounded to dtype and stored at d; x becomes the stored value. */
static inline INLINE F16_TARGET void group_store(void *d, const int dtype, vf *x)
{
    if (dtype == ZOQ_F32) {
        EACH_Q(1) STF((float *)d + W * q, x[q]);
    } else if (dtype == ZOQ_F16) {
        EACH_Q(1) {
            const vh h = H_NARROW(x[q]);
            VH_STORE((uint16_t *)d + W * q, h);
            x[q] = H_WIDEN(h);
        }
    } else if (dtype == BF16_HW) {
#ifdef BF16_GROUP_STORE
        BF16_GROUP_STORE(d, x);
#else
        group_store_bf16(d, x);
#endif
    } else {
        group_store_bf16(d, x);
    }
}

/* x = x + c * z for the term's z: c with bit j of its word as sign. */
static inline INLINE F16_TARGET void group_term(uint32_t word, vf c, const vi *sh, vf *x)
{
    const vi w = I1(word);
    EACH_Q(1) x[q] = ADD(x[q], SIGN_XOR(c, I_SLLV(w, sh[q])));
}

/* The word of group g (32 elements) of a term's words (tile.h). */
#define WORD(row, g, stride) ((row)[((g) & 3) * (stride) + ((g) >> 2)])

enum { FROM_SRC, FROM_ACC, FROM_ACC_SCALED }; /* where a sweep starts */
enum { TO_ACC = 1, TO_DST = 2, TO_BOTH = 3 }; /* where it ends */

/* One sweep of n elements adding one term (c, row), from src (converted,
 * times s), from acc (times s when scaled) or acc as it is, to acc, to dst
 * (rounded), or to both (acc gets the rounded value). f32: acc is dst. */
static inline INLINE F16_TARGET void sign_sweep(const void *src, void *dst, float *acc,
                                                const int dtype, const int from, const int to,
                                                int n, float s, float c, const uint32_t *row,
                                                int stride)
{
    const size_t es = dtype == ZOQ_F32 ? 4 : 2;
    const vf vs = F1(s), vc = F1(c);
    vi sh[G];
    EACH_Q(1) sh[q] = LDI(sign_shift + W * q);
    for (int g = 0; g < n / 32; g++) {
        vf x[G];
        if (from == FROM_SRC)
            group_load((const char *)src + 32 * es * (size_t)g, dtype, x);
        else
            EACH_Q(1) x[q] = LDF(acc + 32 * g + W * q);
        if (from != FROM_ACC)
            EACH_Q(1) x[q] = MUL(vs, x[q]);
        group_term(WORD(row, g, stride), vc, sh, x);
        if ((to & TO_DST) || dtype == ZOQ_F32)
            group_store((char *)dst + 32 * es * (size_t)g, dtype, x);
        if ((to & TO_ACC) && dtype != ZOQ_F32)
            EACH_Q(1) STF(acc + 32 * g + W * q, x[q]);
    }
}

/* A chained pair of one-term passes in one sweep: src to dst, then dst to
 * dst from the registers. */
static inline INLINE F16_TARGET void sign_pair(const void *src, void *dst, const int dtype, int n,
                                               const zoq__sign_pass *p)
{
    const size_t es = dtype == ZOQ_F32 ? 4 : 2;
    const int st0 = p[0].stride, st1 = p[1].stride;
    const vf s0 = F1(p[0].scale), c0 = F1(p[0].coef[0]);
    const vf s1 = F1(p[1].scale), c1 = F1(p[1].coef[0]);
    const uint32_t *r0 = p[0].words, *r1 = p[1].words;
    vi sh[G];
    EACH_Q(1) sh[q] = LDI(sign_shift + W * q);
    for (int g = 0; g < n / 32; g++) {
        vf x[G];
        void *d = (char *)dst + 32 * es * (size_t)g;
        group_load((const char *)src + 32 * es * (size_t)g, dtype, x);
        EACH_Q(1) x[q] = MUL(s0, x[q]);
        group_term(WORD(r0, g, st0), c0, sh, x);
        group_store(d, dtype, x);
        EACH_Q(1) x[q] = MUL(s1, x[q]);
        group_term(WORD(r1, g, st1), c1, sh, x);
        group_store(d, dtype, x);
    }
}

/* tile.h's sign_passes for one dtype. */
static inline INLINE F16_TARGET void sign_passes_of(const void *src, void *dst, const int dtype,
                                                    int64_t i0, int n, const zoq__sign_pass *p,
                                                    int n_pass)
{
    const size_t es = dtype == ZOQ_F32 ? 4 : 2;
    src = (const char *)src + es * (size_t)i0;
    dst = (char *)dst + es * (size_t)i0;
    if (n_pass == 2 && p[0].n_terms == 1 && p[1].n_terms == 1) {
        sign_pair(src, dst, dtype, n, p);
        return;
    }
    _Alignas(64) float acc_buf[ZOQ__TILE];
    float *acc = dtype == ZOQ_F32 ? (float *)dst : acc_buf;
    for (int pp = 0; pp < n_pass; pp++) {
        const zoq__sign_pass *ps = &p[pp];
        for (int k = 0; k < ps->n_terms; k++) {
            const uint32_t *row = ps->words + 4 * ps->stride * k;
            const float c = ps->coef[k];
            /* from and to as constants: each pair its own loop */
#define SWEEP(from, to, s) sign_sweep(src, dst, acc, dtype, from, to, n, s, c, row, ps->stride)
#define SWEEP_TO(from, s)                                                                        \
    (k < ps->n_terms - 1 ? SWEEP(from, TO_ACC, s)                                                \
                         : pp == n_pass - 1 ? SWEEP(from, TO_DST, s) : SWEEP(from, TO_BOTH, s))
            if (k == 0 && pp == 0)
                SWEEP_TO(FROM_SRC, ps->scale);
            else if (k == 0)
                SWEEP_TO(FROM_ACC_SCALED, ps->scale);
            else
                SWEEP_TO(FROM_ACC, 1.0f);
#undef SWEEP_TO
#undef SWEEP
        }
    }
}

/* tile.h's sign_passes as name, bf16 in the format bf16 (ZOQ_BF16 or
 * BF16_HW), for sets with hardware f16 conversions only. */
#define SIGN_PASSES(name, bf16)                                                                  \
    F16_TARGET static void name(const void *src, void *dst, int dtype, int64_t i0, int n,        \
                                const zoq__sign_pass *p, int n_pass)                             \
    {                                                                                            \
        if (dtype == ZOQ_F32)                                                                    \
            sign_passes_of(src, dst, ZOQ_F32, i0, n, p, n_pass);                                 \
        else if (dtype == ZOQ_F16)                                                               \
            sign_passes_of(src, dst, ZOQ_F16, i0, n, p, n_pass);                                 \
        else                                                                                     \
            sign_passes_of(src, dst, bf16, i0, n, p, n_pass);                                    \
    }
SIGN_PASSES(sign_passes, ZOQ_BF16)

static void scale(float s, const float *x, int n, float *out)
{
    const vf vs = F1(s);
    int j = 0;
    for (; j + W <= n; j += W)
        STF(out + j, MUL(vs, LDF(x + j)));
    for (; j < n; j++)
        out[j] = s * x[j];
}

static void axpy(float c, const float *z, int n, float *acc)
{
    const vf vc = F1(c);
    int j = 0;
    for (; j + W <= n; j += W)
        STF(acc + j, ADD(LDF(acc + j), MUL(vc, LDF(z + j))));
    for (; j < n; j++)
        acc[j] = acc[j] + c * z[j];
}

/* z where m is nonzero, +0.0f elsewhere */
static void keep(const uint8_t *m, int n, float *z)
{
    int j = 0;
    for (; j + W <= n; j += W)
        STF(z + j, F_BLEND(F1(0.0f), LDF(z + j), I_GT(U8_WIDEN(m + j), I1(0))));
    for (; j < n; j++)
        z[j] = m[j] ? z[j] : 0.0f;
}

static void divide(const float *d, int n, float *z)
{
    int j = 0;
    for (; j + W <= n; j += W)
        STF(z + j, DIV(LDF(z + j), LDF(d + j)));
    for (; j < n; j++)
        z[j] = z[j] / d[j];
}

static void root(const float *x, int n, float *out)
{
    int j = 0;
    for (; j + W <= n; j += W)
        STF(out + j, SQRT(LDF(x + j)));
    for (; j < n; j++)
        out[j] = sqrtf(x[j]);
}

static void curv(float c, const float *sig, const float *z, int n, float *s)
{
    const vf vc = F1(c);
    int j = 0;
    for (; j + W <= n; j += W) {
        vf vz = LDF(z + j);
        STF(s + j, ADD(LDF(s + j), MUL(MUL(vc, LDF(sig + j)), MUL(vz, vz))));
    }
    for (; j < n; j++)
        s[j] = s[j] + (c * sig[j]) * (z[j] * z[j]);
}

static void momentum(const zoq__update *u, const float *g, float *m, float *acc, int n)
{
    const float neg_lr = -u->lr;
    const vf mu = F1(u->mu), nl = F1(neg_lr);
    int j = 0;
    for (; j + W <= n; j += W) {
        vf mj = ADD(MUL(mu, LDF(m + j)), LDF(g + j));
        STF(m + j, mj);
        STF(acc + j, ADD(LDF(acc + j), MUL(nl, mj)));
    }
    for (; j < n; j++) {
        m[j] = u->mu * m[j] + g[j];
        acc[j] = acc[j] + neg_lr * m[j];
    }
}

static void adam(const zoq__update *u, const float *g, float *m, float *v, float *acc, int n)
{
    const float neg_lr = -u->lr, a1 = 1.0f - u->beta1, a2 = 1.0f - u->beta2;
    const vf b1 = F1(u->beta1), b2 = F1(u->beta2), va1 = F1(a1), va2 = F1(a2);
    const vf bc1 = F1(u->bc1), bc2 = F1(u->bc2), eps = F1(u->eps), nl = F1(neg_lr);
    int j = 0;
    for (; j + W <= n; j += W) {
        vf gj = LDF(g + j);
        vf mj = ADD(MUL(b1, LDF(m + j)), MUL(va1, gj));
        vf vj = ADD(MUL(b2, LDF(v + j)), MUL(va2, MUL(gj, gj)));
        STF(m + j, mj);
        STF(v + j, vj);
        vf den = ADD(SQRT(DIV(vj, bc2)), eps);
        STF(acc + j, ADD(LDF(acc + j), MUL(nl, DIV(DIV(mj, bc1), den))));
    }
    for (; j < n; j++) {
        m[j] = u->beta1 * m[j] + a1 * g[j];
        v[j] = u->beta2 * v[j] + a2 * (g[j] * g[j]);
        float step = (m[j] / u->bc1) / (sqrtf(v[j] / u->bc2) + u->eps);
        acc[j] = acc[j] + neg_lr * step;
    }
}

/* A zoq__tile_ops of this width's pieces and noise, with the f16 loads and
 * stores of LOAD_STORE(suffix, ...) and signs as its sign_passes (NULL: none). */
#define OPS(label, suffix, signs)                                                                \
    {.name = label, .noise = ISA(zoq__noise_fill), .rademacher_axpy = ISA(zoq__rademacher_axpy), \
     .gauss_axpy = ISA(zoq__gauss_axpy), .rademacher_words = ISA(zoq__rademacher_words),         \
     .sign_passes = signs, .load = load_##suffix, .store = store_##suffix,       \
     .scale = scale, .axpy = axpy, .keep = keep, .divide = divide, .root = root, .curv = curv,   \
     .momentum = momentum, .adam = adam}
