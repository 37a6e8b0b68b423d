/* noise_simd.h - the noise spec (docs/rng.md) written once for any x86 SIMD
 * width. noise_avx2.c (8 lanes) and noise_avx512.c (16 lanes) each define the
 * vector layer below and then include this file, which defines their
 * zoq__noise_fill_<isa>, zoq__rademacher_axpy_<isa>, zoq__rademacher_words_<isa>,
 * zoq__gauss_axpy_<isa> and zoq__gauss16_<isa>.
 *
 * Bit-identical to the scalar reference noise.c: every float operation is the
 * spec's single IEEE operation in the spec's order, fused multiply-adds
 * exactly where the spec writes fma (FMA below) and nowhere else
 * (-ffp-contract=off keeps even an -march=native build from fusing others);
 * sqrt is the correctly rounded instruction; selections and negations only
 * move bits. Only independent work is interleaved.
 *
 * The vector layer a width file defines (v* = 32-bit lanes unless named 64):
 *   LANES                     32-bit lanes per vector
 *   ISA(name)                 name with the width's suffix
 *   vi, vf                    integer and float vector types
 *   I_SET1(x), I64_SET1(x)    broadcast a 32-bit / 64-bit integer
 *   I64_EVENS()               64-bit lanes 0, 2, 4, ..., 2 * (LANES/2 - 1)
 *   I_ADD, I_SUB, I64_ADD, I_AND, I_OR, I_XOR (a, b);  I_XOR3(a, b, c)
 *   I_SRL, I_SLL, I64_SRL, I64_SLL (a, n bits); I_SRA (arithmetic, 32-bit lanes)
 *   I_MULU(a, b)              64-bit products of the even 32-bit lanes
 *   I64_MUL(a, b)             low 64 bits of the 64-bit lanes' products
 *   I_ODD(a, b)               a's even 32-bit lanes, b's odd ones
 *   I_LO32(h0, h1), I_HI32(h0, h1)  the low (high) 32-bit halves of the
 *                             64-bit lanes of h0, then of h1, in lane order
 *   I_LANE(a, j)              lane j of a in every lane
 *   F(x), ADD, SUB, MUL, FMA (a*b + c, one rounding), SQRT, CVT (int32 ->
 *   float, rounded to nearest even), AS_F, AS_I, F_LOADU(p), F_STOREU(p, a)
 *   XOR_SIGN(f, w)            f with bit 31 of w XOR-ed into its sign bit
 *   SEL(a, b, m)              b where m's sign bit is set, else a
 *   PICK(a, b, w, q)          b in the lanes i whose bit LANES q + i of w is set,
 *                             a elsewhere (q < 32 / LANES)
 *   ADD_SIGNED(a, c, w, q)    a + c, or a - c in the lanes PICK would give b
 *                             (a - c is a + (-c) exactly)
 */
#ifndef ISA
#error "noise_simd.h is included by a width file (noise_avx2.c, noise_avx512.c) only"
#endif
#ifdef __FAST_MATH__
#error "the noise spec needs IEEE arithmetic: no -ffast-math (see docs/rng.md)"
#endif

#include <string.h>

#include "zoq.h"

#define INLINE __attribute__((always_inline))
/* for (v = 0; v < n; v++) body, unrolled: independent dependency chains side
 * by side, so the core overlaps their latencies */
#define EACH(n, ...) _Pragma("GCC unroll 4") for (int v = 0; v < (n); v++) __VA_ARGS__

/* The (key, step, query, stream) part of every Philox input. */
typedef struct stream_id {
    uint32_t k0, k1, c2, c3;
} stream_id;

static stream_id stream_of(uint64_t key, uint64_t step, uint32_t query, uint32_t stream)
{
    return (stream_id){(uint32_t)key, (uint32_t)(key >> 32), (uint32_t)step,
                       query | (stream << 24)};
}

/* Philox4x32-10 of blocks b .. b + LANES - 1 (philox.h): lane j is block
 * b + j, its word i in w[i]. Inside, each 32-bit word sits in the low half
 * of a 64-bit lane (even and odd blocks in separate vectors), so vpmuludq
 * gives the whole product: its low half is lo() in place and a shift gives
 * hi(). The high halves carry junk that vpmuludq ignores and the final
 * blend drops. */
static inline INLINE void philox(const stream_id *s, uint64_t b, vi *w)
{
    const vi m0 = I_SET1((int)ZOQ__PHILOX_M0), m1 = I_SET1((int)ZOQ__PHILOX_M1);
    vi c0[2], c1[2], c2[2], c3[2];
    EACH(2, {
        /* half v: blocks b + v + {0, 2, 4, ...}; lo and hi 32 bits */
        c0[v] = I64_ADD(I64_SET1((long long)(b + (uint64_t)v)), I64_EVENS());
        c1[v] = I64_SRL(c0[v], 32);
        c2[v] = I_SET1((int)s->c2);
        c3[v] = I_SET1((int)s->c3);
    });
    uint32_t k0 = s->k0, k1 = s->k1;
#pragma GCC unroll 10
    for (int r = 0; r < 10; r++) {
        const vi kv0 = I_SET1((int)k0), kv1 = I_SET1((int)k1);
        EACH(2, {
            vi p0 = I_MULU(c0[v], m0), p1 = I_MULU(c2[v], m1);
            c0[v] = I_XOR3(I64_SRL(p1, 32), c1[v], kv0);
            c2[v] = I_XOR3(I64_SRL(p0, 32), c3[v], kv1);
            c1[v] = p1;
            c3[v] = p0;
        });
        k0 += ZOQ__PHILOX_W0;
        k1 += ZOQ__PHILOX_W1;
    }
    const vi *e[4] = {c0, c1, c2, c3};
    for (int i = 0; i < 4; i++) /* even blocks' words in even lanes, odd blocks' in odd */
        w[i] = I_ODD(e[i][0], I64_SLL(e[i][1], 32));
}

/* A call hashes and transforms WAYS vectors of LANES pairs: independent
 * dependency chains (the polynomials' fma chains are long) that the
 * out-of-order core overlaps; 4 measured faster than 2 with AVX-512. */
#ifndef WAYS
#define WAYS 4 /* a width file may set fewer */
#endif
#define PAIRS (WAYS * LANES) /* pairs per Gaussian call */

/* The hashes of pairs p .. p + PAIRS - 1 (gauss.h's zoq__gauss_hash), split
 * into words: a[v] (low halves) and b[v] (high halves) of pairs p + LANES v
 * + 0 .. LANES-1. The counters p * gamma go up by gamma per lane: one add. */
static inline INLINE void pair_words(uint64_t seed, uint64_t p, vi *a, vi *b)
{
    const vi gamma = I64_SET1((long long)ZOQ__GAUSS_GAMMA);
    const vi sv = I64_SET1((long long)seed);
    const vi mix1 = I64_SET1((long long)ZOQ__GAUSS_MIX1), mix2 = I64_SET1((long long)ZOQ__GAUSS_MIX2);
    /* lane j of vector v counts (p + LANES/2 v + j) gamma: one add per vector */
    const vi next = I64_SET1((long long)(LANES / 2 * ZOQ__GAUSS_GAMMA));
    vi ctr = I64_ADD(I64_SET1((long long)(p * ZOQ__GAUSS_GAMMA)),
                     I64_MUL(I64_SRL(I64_EVENS(), 1), gamma));
    vi h[2 * WAYS];
    EACH(2 * WAYS, {
        vi x = I_XOR(sv, ctr);
        ctr = I64_ADD(ctr, next);
        x = I_XOR(x, I64_SRL(x, 30));
        x = I64_MUL(x, mix1);
        x = I_XOR(x, I64_SRL(x, 27));
        x = I64_MUL(x, mix2);
        h[v] = I_XOR(x, I64_SRL(x, 31));
    });
    EACH(WAYS, {
        a[v] = I_LO32(h[2 * v], h[2 * v + 1]);
        b[v] = I_HI32(h[2 * v], h[2 * v + 1]);
    });
}

/* Box-Muller of the word pairs (a[v], b[v]), v < WAYS, as zoq__box_muller()
 * in gauss.h, written out. Every value is computed by the spec's operations
 * in the spec's order; only independent work is interleaved (the sin and
 * cos steps between the radius polynomial's). The quadrant bits are used in
 * place: SEL reads only the sign bit, so b << 1 gives the swap mask, and the
 * negations XOR bit 31 of b, then of b << 1, into the radius's sign bit. */
static inline INLINE void box_muller(const vi *a, const vi *b, vf *z0, vf *z1)
{
    EACH(WAYS, {
        /* v = float((a >> 1) | 1) in [1, 2^31]; i' = bits(v) - sqrt(1/2) - 31 << 23:
         * its arithmetic shift is e in [-31, 0], its mantissa field m's */
        vi i = I_SUB(AS_I(CVT(I_OR(I_SRL(a[v], 1), I_SET1(1)))),
                     I_SET1((int)(ZOQ__GAUSS_SQRTH_BITS + (31u << 23))));
        vf fe = CVT(I_SRA(i, 23));
        vf x = SUB(AS_F(I_ADD(I_AND(i, I_SET1(0x007FFFFF)), I_SET1((int)ZOQ__GAUSS_SQRTH_BITS))),
                   F(1.0f));
        vf t = MUL(CVT(I_SLL(b[v], 2)), F(ZOQ__GAUSS_ANGLE));
        vf p = FMA(F(ZOQ__GAUSS_L6), x, F(ZOQ__GAUSS_L5));
        vf tz = MUL(t, t); /* z */
        p = FMA(p, x, F(ZOQ__GAUSS_L4));
        vf ps = FMA(F(ZOQ__GAUSS_S7), tz, F(ZOQ__GAUSS_S5));
        vf pc = FMA(F(ZOQ__GAUSS_C6), tz, F(ZOQ__GAUSS_C4));
        p = FMA(p, x, F(ZOQ__GAUSS_L3));
        ps = FMA(ps, tz, F(ZOQ__GAUSS_S3));
        pc = FMA(pc, tz, F(ZOQ__GAUSS_C2));
        p = FMA(p, x, F(ZOQ__GAUSS_L2));
        pc = FMA(pc, tz, F(1.0f)); /* c */
        tz = MUL(t, tz);           /* t z */
        p = FMA(p, x, F(ZOQ__GAUSS_L1));
        ps = FMA(ps, tz, t);       /* s */
        p = FMA(p, x, F(-2.0f));
        vf r = SQRT(FMA(fe, F(ZOQ__GAUSS_M2LN2), MUL(x, p)));
        vi swap = I_SLL(b[v], 1); /* sign bit: b30 */
        vf cs = SEL(pc, ps, swap), sn = SEL(ps, pc, swap);
        vf r1 = XOR_SIGN(r, b[v]);                      /* b31 */
        z0[v] = MUL(XOR_SIGN(r1, swap), cs);            /* b31 ^ b30 */
        z1[v] = MUL(r1, sn);
    });
}

/* Stores way v's draws (pairs p + LANES v ...) where the spec puts them:
 * pair q of chunk c gives elements 32c + q and 32c + 16 + q. out holds the
 * elements of the chunks from p / 16 on. */
static inline INLINE void store_pairs(const vf *z0, const vf *z1, float *out)
{
    EACH(WAYS, {
        float *o = out + (LANES * v / 16) * ZOQ__GAUSS_CHUNK + LANES * v % 16;
        F_STOREU(o, z0[v]);
        F_STOREU(o + 16, z1[v]);
    });
}

#define CHUNKS (PAIRS / 16) /* chunks per Gaussian call */

void ISA(zoq__gauss16)(const uint64_t h[16], float z[32])
{
    /* the 16 hashes, repeated to fill the call's PAIRS lanes */
    vi a[WAYS], b[WAYS];
    for (int v = 0; v < WAYS; v++) {
        uint32_t lo[LANES], hi[LANES];
        for (int j = 0; j < LANES; j++) {
            lo[j] = (uint32_t)h[(LANES * v + j) % 16];
            hi[j] = (uint32_t)(h[(LANES * v + j) % 16] >> 32);
        }
        memcpy(&a[v], lo, sizeof lo);
        memcpy(&b[v], hi, sizeof hi);
    }
    vf z0[WAYS], z1[WAYS];
    box_muller(a, b, z0, z1);
    float all[CHUNKS * ZOQ__GAUSS_CHUNK];
    store_pairs(z0, z1, all);
    memcpy(z, all, ZOQ__GAUSS_CHUNK * sizeof *z);
}

/* Gaussian draws of chunks c .. c + CHUNKS - 1 into z[0 .. 32 CHUNKS). */
static void gauss_chunks(uint64_t seed, uint64_t c, float *z)
{
    vi a[WAYS], b[WAYS];
    vf z0[WAYS], z1[WAYS];
    pair_words(seed, 16 * c, a, b);
    box_muller(a, b, z0, z1);
    store_pairs(z0, z1, z);
}

/* The Gaussian z[offset .. offset+count) of the stream with this seed into
 * out (axpy = 0), or out[j] = out[j] + c * z[offset + j] (axpy = 1: the
 * product and the sum rounded separately, as the tiles' axpy does). Each
 * whole call's draws go where store_pairs would put them, straight from
 * the registers; a group of chunks cut by either end of the slice is made
 * in scratch and copied or added element by element. */
static inline INLINE void gauss_slice(uint64_t seed, uint64_t offset, size_t count, float c,
                                      float *out, const int axpy)
{
    const uint64_t per = ZOQ__GAUSS_CHUNK * CHUNKS; /* elements per call */
    const vf vc = F(c);
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        const uint64_t g = i / per, first = i - g * per;
        float *o = out + (i - offset);
        if (first == 0 && end - i >= per) {
            vi wa[WAYS], wb[WAYS];
            vf z0[WAYS], z1[WAYS];
            pair_words(seed, 16 * CHUNKS * g, wa, wb);
            box_muller(wa, wb, z0, z1);
            if (!axpy) {
                store_pairs(z0, z1, o);
            } else {
                EACH(WAYS, {
                    float *q = o + (LANES * v / 16) * ZOQ__GAUSS_CHUNK + LANES * v % 16;
                    F_STOREU(q, ADD(F_LOADU(q), MUL(vc, z0[v])));
                    F_STOREU(q + 16, ADD(F_LOADU(q + 16), MUL(vc, z1[v])));
                });
            }
            i += per;
        } else {
            float z[ZOQ__GAUSS_CHUNK * CHUNKS];
            gauss_chunks(seed, CHUNKS * g, z);
            const uint64_t n = per - first < end - i ? per - first : end - i;
            if (!axpy)
                memcpy(o, z + first, (size_t)n * sizeof *z);
            else
                for (uint64_t j = 0; j < n; j++)
                    o[j] = o[j] + c * z[first + j];
            i += n;
        }
    }
}

/* acc[j] = acc[j] + c * z[offset + j], j < count, for the Gaussian z of the
 * stream, z never stored (gauss_slice). */
void ISA(zoq__gauss_axpy)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                          uint64_t offset, size_t count, float c, float *acc)
{
    gauss_slice(zoq__gauss_seed_cached(key, step, query, stream), offset, count, c, acc, 1);
}

/* The Philox words of blocks g .. g + LANES - 1 (g a multiple of LANES) of
 * stream s, lane j of w[i] = word i of block g + j. Kept per thread, one
 * group per slot: a pass's tiles (512 elements, 4 blocks) come in order, so
 * one Philox call serves LANES / 4 consecutive tiles instead of one, and the
 * streams a chained pair of passes or a pass of several terms takes tile by
 * tile in turn (steps t and t + 1, queries 0 .. q - 1) fall in distinct
 * slots: step + 3 query (mod 8) is one-to-one on each of those sets. */
#define SLOTS 8
typedef struct philox_slot {
    vi w[4];
    stream_id s;
    uint64_t g;
    int valid;
} philox_slot;

static const vi *philox_group(const stream_id *s, uint64_t g)
{
    static _Thread_local philox_slot slot[SLOTS];
    philox_slot *e = &slot[(s->c2 + 3u * s->c3) % SLOTS];
    if (!e->valid || e->g != g || e->s.k0 != s->k0 || e->s.k1 != s->k1 || e->s.c2 != s->c2 ||
        e->s.c3 != s->c3) {
        philox(s, g, e->w);
        e->s = *s;
        e->g = g;
        e->valid = 1;
    }
    return e->w;
}

/* Rademacher z of blocks b .. b + nb - 1 (128 elements each): into out as
 * +-1.0f (axpy = 0), or out + c * z with z never written (axpy = 1; c * (+1)
 * is c and c * (-1) is c with its sign bit flipped, exactly, for every c
 * but NaN). Each word is broadcast to all lanes from its lane of the group,
 * and its bit LANES q + i picks the sign of lane i. */
static inline INLINE void rademacher_slice(const stream_id *s, uint64_t b, uint64_t nb, float c,
                                           float *out, const int axpy)
{
    const vf vc = F(c), plus = F(1.0f), minus = F(-1.0f);
    const uint64_t end = b + nb;
    for (uint64_t i = b; i < end;) {
        const uint64_t g = i / LANES * LANES, stop = end - g < LANES ? end : g + LANES;
        const vi *w = philox_group(s, g);
        for (; i < stop; i++)
            for (int k = 0; k < 4; k++) {
                const vi v = I_LANE(w[k], (int)(i - g));
                float *o = out + (i - b) * ZOQ__RADE_PER_BLOCK + 32 * k;
#pragma GCC unroll 4
                for (int q = 0; q < 32 / LANES; q++)
                    F_STOREU(o + LANES * q, axpy ? ADD_SIGNED(F_LOADU(o + LANES * q), vc, v, q)
                                                 : PICK(plus, minus, v, q));
            }
    }
}

/* acc[j] = acc[j] + c * z[offset + j] for Rademacher z of whole blocks
 * (offset and count multiples of 128, c not NaN), z never written. */
void ISA(zoq__rademacher_axpy)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                               uint64_t offset, size_t count, float c, float *acc)
{
    const stream_id s = stream_of(key, step, query, stream);
    rademacher_slice(&s, offset / ZOQ__RADE_PER_BLOCK, count / ZOQ__RADE_PER_BLOCK, c, acc, 1);
}

/* out[nb k + i] = word k of block + i of the stream, from the kept groups:
 * lanes of the group's vectors, copied a run at a time (a whole vector, a
 * copy of constant size, where the run is a whole group). */
void ISA(zoq__rademacher_words)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream,
                                uint64_t block, size_t nb, uint32_t *out)
{
    const stream_id s = stream_of(key, step, query, stream);
    for (uint64_t i = block, end = block + nb; i < end;) {
        const uint64_t g = i / LANES * LANES, stop = end - g < LANES ? end : g + LANES;
        const vi *w = philox_group(&s, g);
        for (int k = 0; k < 4; k++) {
            uint32_t *o = out + nb * (size_t)k + (i - block);
            if (stop - i == LANES)
                memcpy(o, &w[k], sizeof w[k]);
            else
                memcpy(o, (const char *)&w[k] + 4 * (i - g), 4 * (stop - i));
        }
        i = stop;
    }
}

/* Gaussian: gauss_slice. Rademacher: whole blocks go straight to out
 * (rademacher_slice); one cut by either end of the slice is made in scratch
 * and partly copied. */
void ISA(zoq__noise_fill)(uint64_t key, uint64_t step, uint32_t query, uint32_t stream, int dist,
                          uint64_t offset, size_t count, float *out)
{
    if (dist != ZOQ_DIST_RADEMACHER) {
        gauss_slice(zoq__gauss_seed_cached(key, step, query, stream), offset, count, 0.0f, out,
                    0);
        return;
    }
    const stream_id s = stream_of(key, step, query, stream);
    const uint64_t per = ZOQ__RADE_PER_BLOCK;
    float part[ZOQ__RADE_PER_BLOCK];
    uint64_t i = offset, end = offset + count;
    while (i < end) {
        uint64_t b = i / per, first = i - b * per, whole = (end - i) / per;
        float *dst = out + (i - offset);
        if (first == 0 && whole > 0) {
            rademacher_slice(&s, b, whole, 0.0f, dst, 0);
            i += whole * per;
        } else {
            rademacher_slice(&s, b, 1, 0.0f, part, 0);
            uint64_t n = per - first < end - i ? per - first : end - i;
            memcpy(dst, part + first, (size_t)n * sizeof *part);
            i += n;
        }
    }
}
