#!/usr/bin/env python3
"""Known answers for training quantized weights, written from docs/quantized.md
("Training quantized weights") and docs/rng.md (section 4c) alone: QuZO with two
roundings, its naive one-rounding variant and ZOQO on an int8 code tensor with
per-group scales and range [0, 15], and QZO (a scale tensor with its floor and
the default DDC), each over a few steps with a fixed table of losses. Directions
come from gen_rng_kat.py (docs/rng.md, written without the C code). Code
arithmetic follows the documented binary32 steps, so codes must match exactly;
QZO's float update is float64 here, compared with a tolerance.

    python3 tests/kat/gen_quant_train_kat.py           rewrite tests/kat/quant_train_vectors.h
    python3 tests/kat/gen_quant_train_kat.py --check   exit 1 if it is out of date
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_rng_kat as rng  # noqa: E402
import katfile  # noqa: E402

F32 = np.float32
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quant_train_vectors.h")
N, GROUP, STEPS, SEED, NAME = 40, 8, 4, 9, "codes"
LO, HI = 0, 15
MAX_POINTS = 6
SCALES = [0.02, 0.05, 0.1, 0.0, 0.03]        # a zero scale: those codes never move
QZO_N, QZO_FLOOR, QZO_C = 6, 0.05, 100.0     # QZO: 6 scales, floor, default DDC threshold

# (name, qmethod 0 quzo / 1 naive / 2 zoqo, estimator 0 central / 1 forward, queries,
#  bits, accumulate, lr, eps, clip, sign, scales 1 / 0 none)
CASES = [
    ("quzo_central", 0, 0, 2, 4, 1, 0.05, 0.1, 0.0, 0, 1),
    ("naive_forward_int3", 1, 1, 3, 3, 1, 0.05, 0.1, 0.0, 0, 1),
    ("quzo_acc2_clip", 0, 0, 2, 8, 2, 0.08, 0.1, 1.0, 0, 1),
    ("quzo_codes_only_sign", 0, 0, 1, 5, 1, 0.5, 1.7, 0.0, 1, 0),
    ("zoqo_central", 2, 0, 1, 8, 1, 0.1, 0.1, 0.0, 0, 1),
    ("zoqo_forward_q2", 2, 1, 2, 8, 1, 0.07, 0.25, 0.0, 0, 1),
]


def codes0():
    return [(i * 7 + i // 5) % 16 for i in range(N)]


def qzo0():
    return [float(F32(0.06 + 0.1 * abs(math.sin(i + 1)))) for i in range(QZO_N)]


def losses():
    return [[1.0 + 0.3 * math.sin(5 * t + 2 * p + 1) + 0.02 * p for p in range(MAX_POINTS)]
            for t in range(STEPS)]


def cfloat(x):
    """x as a C float literal."""
    t = "%.9g" % x
    return t + ("f" if any(c in t for c in ".e") else ".0f")


def word(key, step, query, stream, i):
    return rng.block(key, step, query, stream, i // 4)[i % 4]


def unit(w):
    return F32(w >> 8) * F32(2.0 ** -24)


def stoch_round(x, w):
    fl = np.floor(x)                                  # binary32 in, binary32 out
    return int(fl) + int(unit(w) < x - fl)


def scale_of(case, i):
    return SCALES[i // GROUP] if case[10] else 1.0


def offsets(case, key, step, query, update, i, eps):
    """u of element i for (step, query): the probe (update False) or the update's."""
    method, bits = case[1], case[4]
    s = float(F32(scale_of(case, i)))
    if not s > 0:
        return 0
    if method == 2:                                   # ZOQO: uniform on {-m..m}
        m = min(max(math.floor(eps / s), 1), 127)
        return ((word(key, step, query, 0, i) * (2 * m + 1)) >> 32) - m
    L = (1 << (bits - 1)) - 1
    z = rng.noise(key, step, query, 0, 0, i, 1)[0]
    x = F32(eps / s) * z
    x = min(max(x, F32(-(L + 1))), F32(L + 1))
    stream = 6 if (update and method == 0) else 5
    return min(max(stoch_round(x, word(key, step, query, stream, i)), -L), L)


def grads(case, L, t, eps):
    est, nq = case[2], case[3]
    if est == 0:
        return [(L[t][2 * q] - L[t][2 * q + 1]) / (2 * eps) for q in range(nq)]
    return [(L[t][q + 1] - L[t][0]) / eps for q in range(nq)]


def weight(g, clip, sign):
    if clip > 0 and abs(g) > clip:
        g = math.copysign(clip, g)
    return float((g > 0) - (g < 0)) if sign else g


def run(case):
    _, method, _, nq, _, acc_k, lr, eps, clip, sign, _ = case
    key = rng.tensor_key(SEED, NAME)
    q = codes0()
    L = losses()
    gathered = []
    for t in range(STEPS):
        for g in grads(case, L, t, eps):
            gathered.append((t, len(gathered) % nq, weight(g, clip, sign)))
        if len(gathered) // nq < acc_k:
            continue
        new = []
        for i in range(N):
            acc = F32(0)
            for (st, qu, w) in gathered:
                coef = F32(w) if method == 2 else F32(-lr * w / (len(gathered) * eps))
                acc = acc + coef * F32(offsets(case, key, st, qu, True, i, eps))
            if method == 2:
                s = float(F32(scale_of(case, i)))
                k = 0 if (lr == 0 or not s > 0) else min(max(math.floor(lr / s), 1), 255)
                d = -k if acc > 0 else k if acc < 0 else 0
            else:
                x = min(max(acc, F32(-512)), F32(512))
                d = stoch_round(x, word(key, t, 0, 7, i))
            new.append(min(max(q[i] + d, LO), HI))
        q, gathered = new, []
    return q


def run_qzo():
    """QZO: central, one query, lr 1e-3, eps 1e-3, floor, default DDC at C = 100."""
    key = rng.tensor_key(SEED, "scales")
    lr, eps = 1e-3, 1e-3
    s = qzo0()
    L = losses()
    clipped = []
    for t in range(STEPS):
        g = (L[t][0] - L[t][1]) / (2 * eps)
        clipped.append(int(abs(g) > QZO_C))
        g = max(min(g, QZO_C), -QZO_C)
        z = rng.noise(key, t, 0, 0, 0, 0, QZO_N)
        s = [max(s[i] - lr * g * float(z[i]), QZO_FLOOR) for i in range(QZO_N)]
    return s, clipped


def generate():
    out = ["/* Generated by tests/kat/gen_quant_train_kat.py from docs/quantized.md and",
           " * docs/rng.md -- DO NOT EDIT.",
           " * Regenerate: python3 tests/kat/gen_quant_train_kat.py   (check: --check) */",
           "#ifndef ZOQ_TESTS_KAT_QUANT_TRAIN_VECTORS_H",
           "#define ZOQ_TESTS_KAT_QUANT_TRAIN_VECTORS_H", "",
           f"#define KAT_QT_N {N}", f"#define KAT_QT_GROUP {GROUP}", f"#define KAT_QT_STEPS {STEPS}",
           f"#define KAT_QT_SEED {SEED}", f'#define KAT_QT_NAME "{NAME}"',
           f"#define KAT_QT_LO {LO}", f"#define KAT_QT_HI {HI}",
           f"#define KAT_QT_POINTS {MAX_POINTS}", f"#define KAT_QZO_N {QZO_N}",
           f"#define KAT_QZO_FLOOR {QZO_FLOOR!r}", "",
           "static const float kat_qt_scales[KAT_QT_N / KAT_QT_GROUP] = {" +
           ", ".join(cfloat(s) for s in SCALES) + "};",
           "static const int8_t kat_qt_codes0[KAT_QT_N] = {" +
           ", ".join(map(str, codes0())) + "};",
           f"static const double kat_qt_losses[KAT_QT_STEPS][KAT_QT_POINTS] = {{"]
    out += ["    {" + ", ".join("%.17g" % x for x in row) + "}," for row in losses()] + ["};", ""]
    out += ["typedef struct {", "    const char *name;",
            "    int qmethod, estimator, queries, bits, accumulate;",
            "    double lr, eps, clip;", "    int sign, scales;",
            "    int8_t codes[KAT_QT_N];", "} kat_qt_t;", "",
            "static const kat_qt_t kat_qt[] = {"]
    for case in CASES:
        ints = ", ".join(str(x) for x in case[1:6])
        reals = ", ".join("%.17g" % x for x in case[6:9])
        out.append(f'    {{"{case[0]}", {ints}, {reals}, {case[9]}, {case[10]},')
        out.append("     {" + ", ".join(map(str, run(case))) + "}},")
    out += ["};", ""]
    s, clipped = run_qzo()
    out.append("static const float kat_qzo_scales0[KAT_QZO_N] = {" +
               ", ".join(cfloat(x) for x in qzo0()) + "};")
    out.append("static const double kat_qzo_scales[KAT_QZO_N] = {" +
               ", ".join("%.17g" % x for x in s) + "};")
    out.append("static const int kat_qzo_clipped[KAT_QT_STEPS] = {" +
               ", ".join(map(str, clipped)) + "};")
    out += ["", "#endif", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(katfile.main(__doc__, OUT, generate))
