#!/usr/bin/env python3
"""Known answers for zoq's quantized formats (lib/quant).

Written from the rules in docs/quantized.md, independently of the C code:
rounding decisions and bounds use exact rational arithmetic (fractions), and
every f32 value is produced by one IEEE rounding in numpy. It also packs the
same codes the way GPTQ/AutoGPTQ packs qweight and qzeros, and checks the
mapping to zoq's layout that docs/quantized.md states.

    python3 tests/kat/gen_quant_kat.py           # writes tests/kat/quant_vectors.h
    python3 tests/kat/gen_quant_kat.py --check   # exit 1 if the file is stale

Needs numpy.
"""
import os
import sys
from fractions import Fraction as Q

import numpy as np

import katfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "quant_vectors.h")
INT8_ROW, INT4_GROUP = 0, 1
F32 = np.float32
BATCH = 5  # rows of X: the test runs batches below and above the sgemm switch


def f32(x):
    return F32(x)


def up(s):
    return np.nextafter(F32(s), F32(np.inf), dtype=F32)


def rne(r):
    """Nearest integer to the rational r, ties to even."""
    f = r.numerator // r.denominator
    d = r - f
    if d > Q(1, 2) or (d == Q(1, 2) and f % 2 == 1):
        return f + 1
    return f


# ---- the formats, from docs/quantized.md ------------------------------------

def int8_row(x):
    amax = max(abs(float(v)) for v in x)
    if amax == 0:
        return F32(0), [0] * len(x)
    s = f32(np.float64(amax) / np.float64(127))  # binary64 quotient, then binary32
    while Q(float(s)) * 127 < Q(amax):
        s = up(s)
    q = [rne(Q(float(v)) / Q(float(s))) for v in x]
    assert all(-127 <= c <= 127 for c in q)
    return s, q


def int4_group(x):
    lo = min(0.0, min(float(v) for v in x))
    hi = max(0.0, max(float(v) for v in x))
    if lo == hi:
        return F32(0), 0, [0] * len(x)
    s = f32((np.float64(hi) - np.float64(lo)) / np.float64(15))
    if s == 0:
        s = up(F32(0))
    while True:
        S = Q(float(s))
        z = min(rne(Q(-lo) / S), 15)
        if -(z + Q(1, 2)) * S <= Q(lo) and (15 + Q(1, 2) - z) * S >= Q(hi):
            break
        s = up(s)
    q = [min(max(rne(Q(float(v)) / S) + z, 0), 15) for v in x]
    return s, z, q


def dequant(s, q, z=0):
    # s·(q − z) is exact in binary64 (24 + 5 bits), so this is one rounding
    return f32(np.float64(s) * (q - z))


def quantize(fmt, g, w):
    rows, cols = w.shape
    scales, zeros, codes, what = [], [], [], np.zeros_like(w)
    for r in range(rows):
        if fmt == INT8_ROW:
            s, q = int8_row(w[r])
            scales.append(s)
            codes += q
            what[r] = [dequant(s, c) for c in q]
            continue
        for j0 in range(0, cols, g):
            s, z, q = int4_group(w[r, j0:j0 + g])
            scales.append(s)
            zeros.append(z)
            codes += q
            what[r, j0:j0 + g] = [dequant(s, c, z) for c in q]
    if fmt == INT8_ROW:
        packed = [c & 0xFF for c in codes]
    else:  # two per byte, even element in the low nibble
        packed = [codes[i] | codes[i + 1] << 4 for i in range(0, len(codes), 2)]
    return scales, zeros, codes, packed, what


def check_bound(w, what, scales, g, fmt):
    """|x − x̂| <= s/2 + 2^-24·|x̂|, exactly, and the worst err/s seen."""
    rows, cols = w.shape
    worst = Q(0)
    for r in range(rows):
        for j in range(cols):
            s = scales[r] if fmt == INT8_ROW else scales[r * (cols // g) + j // g]
            err = abs(Q(float(w[r, j])) - Q(float(what[r, j])))
            assert err <= Q(float(s)) / 2 + Q(abs(float(what[r, j]))) / 2**24, (r, j)
            if s > 0:
                worst = max(worst, err / Q(float(s)))
    return worst


def gptq_pack(codes, zeros, rows, cols, g):
    """qweight (cols/8 x rows int32) and v1 qzeros (cols/g x rows/8, zero − 1)
    packed as AutoGPTQ's QuantLinear.pack does: value i of a word in bits 4i."""
    q = np.array(codes, dtype=np.uint32).reshape(rows, cols).T  # in x out
    qweight = np.zeros((cols // 8, rows), dtype=np.uint32)
    for p in range(cols // 8):
        for i in range(8):
            qweight[p] |= q[8 * p + i] << np.uint32(4 * i)
    zz = (np.array(zeros, dtype=np.uint32).reshape(rows, cols // g).T - 1) & 0xF
    qzeros = np.zeros((cols // g, rows // 8), dtype=np.uint32)
    for c in range(rows // 8):
        for i in range(8):
            qzeros[:, c] |= zz[:, 8 * c + i] << np.uint32(4 * i)
    return qweight, qzeros


def check_gptq_mapping(packed, zeros, qweight, qzeros, rows, cols, g):
    """docs/quantized.md: zoq row n, bytes 4p..4p+3 read little-endian, is
    qweight[p][n]; zoq zero (n, k) is nibble n % 8 of qzeros[k][n / 8], plus 1."""
    b = np.array(packed, dtype=np.uint8).reshape(rows, cols // 2)
    words = b.reshape(rows, cols // 8, 4).astype(np.uint32)
    le = words[..., 0] | words[..., 1] << 8 | words[..., 2] << 16 | words[..., 3] << 24
    assert (le.T == qweight).all()
    for n in range(rows):
        for k in range(cols // g):
            nib = (int(qzeros[k][n // 8]) >> (4 * (n % 8))) & 0xF
            assert (nib + 1) & 0xF == zeros[n * (cols // g) + k]


# ---- cases ------------------------------------------------------------------

def cases():
    rng = np.random.default_rng(20250305)
    out = []
    # int8: exact ties (s = 1), a zero row, a row needing the scale bump
    w = np.array([[127, 2.5, 3.5, -2.5, -0.5, 0.5, 1.5, -127],
                  [0, 0, 0, 0, 0, 0, 0, 0],
                  [-1.0, 0.25, 1e-3, -0.75, 0.5, 0.125, 1.0 / 3, -0.5]], dtype=F32)
    out.append(("int8_ties", INT8_ROW, 0, w))
    # int8: 37 columns (a tail after the 32-wide chunks), rows of very different
    # magnitudes down to subnormals
    w = rng.standard_normal((4, 37)).astype(F32)
    w *= np.array([[1e-3], [1.0], [3e4], [1e-40]], dtype=F32)
    out.append(("int8_mixed", INT8_ROW, 0, w.astype(F32)))
    # int4: ties with s = 1, z = 7; an all-zero group; all-positive and
    # all-negative groups (the grid keeps 0: z = 0 and z = 15)
    t = [-7, 8, 0.5, 1.5, -6.5, 2.5, -0.5, 7.5] + [0.25 * k for k in range(24)]
    w = np.array([t + [0.0] * 32, list(rng.uniform(0.5, 2, 32)) + list(rng.uniform(-3, -1, 32))],
                 dtype=F32)
    out.append(("int4_edges_g32", INT4_GROUP, 32, w))
    out.append(("int4_g32", INT4_GROUP, 32, rng.standard_normal((8, 64)).astype(F32)))
    out.append(("int4_g64", INT4_GROUP, 64, (rng.standard_normal((8, 64)) * 0.02).astype(F32)))
    out.append(("int4_g128", INT4_GROUP, 128, rng.standard_normal((8, 128)).astype(F32)))
    return out, rng


def fmt_f(v):
    # shortest decimal that reads back as this binary32 (C rounds it once)
    return np.format_float_scientific(F32(v), unique=True, trim="-") + "f"


def fmt_d(v):
    return repr(float(v))  # shortest decimal that reads back as this binary64


def arr(name, ctype, vals, fmt):
    lines, line = [], ""
    for v in vals:
        item = fmt(v) + ","
        if len(line) + len(item) > 95:
            lines.append(line)
            line = ""
        line += (" " if line else "    ") + item
    lines.append(line)
    return "static const %s %s[%d] = {\n%s\n};\n" % (ctype, name, len(vals), "\n".join(lines))


def generate():
    cs, rng = cases()
    parts, table, worst_all = [], [], {}
    for name, fmt, g, w in cs:
        rows, cols = w.shape
        scales, zeros, codes, packed, what = quantize(fmt, g, w)
        worst_all[name] = check_bound(w, what, scales, g, fmt)
        x = rng.standard_normal((BATCH, cols)).astype(F32)
        y, ysum = [], []
        for b in range(BATCH):
            for r in range(rows):
                terms = [Q(float(what[r, j])) * Q(float(x[b, j])) for j in range(cols)]
                y.append(float(sum(terms)))
                ysum.append(float(sum(abs(t) for t in terms)))
        p = "k_" + name
        parts.append(arr(p + "_w", "float", w.ravel(), fmt_f))
        parts.append(arr(p + "_codes", "uint8_t", packed, str))
        parts.append(arr(p + "_scales", "float", scales, fmt_f))
        gptq = fmt == INT4_GROUP and rows % 8 == 0  # qzeros packs 8 output channels
        if fmt == INT4_GROUP:
            parts.append(arr(p + "_zeros", "uint8_t", zeros, str))
        if gptq:
            qweight, qzeros = gptq_pack(codes, zeros, rows, cols, g)
            check_gptq_mapping(packed, zeros, qweight, qzeros, rows, cols, g)
            parts.append(arr(p + "_gptq_qweight", "uint32_t", qweight.ravel(), lambda v: "0x%08xu" % v))
            parts.append(arr(p + "_gptq_qzeros", "uint32_t", qzeros.ravel(), lambda v: "0x%08xu" % v))
        parts.append(arr(p + "_what", "float", what.ravel(), fmt_f))
        parts.append(arr(p + "_x", "float", x.ravel(), fmt_f))
        parts.append(arr(p + "_y", "double", y, fmt_d))
        parts.append(arr(p + "_yabs", "double", ysum, fmt_d))
        z = p + "_zeros" if fmt == INT4_GROUP else "NULL"
        gq = (p + "_gptq_qweight", p + "_gptq_qzeros") if gptq else ("NULL", "NULL")
        table.append('    {"%s", %d, %d, %d, %d, %s_w, %s_codes, %s_scales, %s, %s_what, %s_x, '
                     '%s_y, %s_yabs, %s, %s},\n' % (name, fmt, g, rows, cols, p, p, p, z, p, p,
                                                   p, p, gq[0], gq[1]))
    head = ("/* quant_vectors.h - known answers for lib/quant. GENERATED by\n"
            " * tests/kat/gen_quant_kat.py from the rules in docs/quantized.md (exact\n"
            " * rationals, one f32 rounding each); do not edit.\n"
            " * Regenerate: python3 tests/kat/gen_quant_kat.py */\n"
            "#ifndef ZOQ_TESTS_QUANT_VECTORS_H\n#define ZOQ_TESTS_QUANT_VECTORS_H\n\n"
            "#include <stddef.h>\n#include <stdint.h>\n\n"
            "#define QUANT_KAT_BATCH %d\n\n" % BATCH +
            "typedef struct quant_kat {\n"
            "    const char *name;\n"
            "    int format, group_size, rows, cols;\n"
            "    const float *w;            /* rows x cols input */\n"
            "    const uint8_t *codes;      /* the codes buffer, byte for byte */\n"
            "    const float *scales;\n"
            "    const uint8_t *zeros;      /* INT4_GROUP only */\n"
            "    const float *what;         /* dequantized */\n"
            "    const float *x;            /* QUANT_KAT_BATCH x cols */\n"
            "    const double *y;           /* X·Ŵᵀ, exact sum rounded to double */\n"
            "    const double *yabs;        /* Σ|ŵ·x| per output, for the error bound */\n"
            "    const uint32_t *gptq_qweight; /* cols/8 x rows, AutoGPTQ packing, or NULL */\n"
            "    const uint32_t *gptq_qzeros;  /* cols/g x rows/8, v1: zero - 1, or NULL */\n"
            "} quant_kat;\n\n")
    worst = "".join("/* %s: max |x - x^|/s = %.6f */\n" % (k, float(v)) for k, v in worst_all.items())
    return (head + "".join(parts) + "\n" + worst + "\nstatic const quant_kat quant_kats[] = {\n" +
            "".join(table) + "};\n\n#endif\n")


if __name__ == "__main__":
    sys.exit(katfile.main(__doc__, OUT, generate))
