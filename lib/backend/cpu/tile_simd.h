/* tile_simd.h - the tile pieces of tile.h written once for any x86 SIMD
 * width. tile_avx2.c (8 lanes) and tile_avx512.c (16 lanes) each define the
 * vector layer below and then include this file, which defines the pieces
 * as static functions, LOAD_STORE(suffix, load_f16, store_f16, narrow_bf16)
 * and OPS(label, suffix) for the width file's zoq__tile_ops tables.
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
 *   HALF_LOAD(p), HALF_STORE(p, a)  W f16 <-> W f32 by the hardware (IEEE:
 *                             exact widening, narrowing to nearest even)
 *   F16_TARGET                attribute the hardware f16 functions need
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
 * stores of LOAD_STORE(suffix, ...). */
#define OPS(label, suffix)                                                                       \
    {.name = label, .noise = ISA(zoq__noise_fill), .rademacher_axpy = ISA(zoq__rademacher_axpy), \
     .gauss_axpy = ISA(zoq__gauss_axpy), .load = load_##suffix, .store = store_##suffix,        \
     .scale = scale, .axpy = axpy, .keep = keep, .divide = divide, .root = root, .curv = curv,   \
     .momentum = momentum, .adam = adam}
