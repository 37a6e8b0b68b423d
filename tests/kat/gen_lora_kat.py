#!/usr/bin/env python3
"""Known answers for zoq's LoRA layer and module rotation (lib/lora).

Written from docs/lora.md and docs/pipeline.md (and seed 000 §V), not from
the C code: PEFT's Kaiming-uniform A from the Philox stream of docs/rng.md
(gen_rng_kat.py), the unmerged forward Y + s·(X Aᵀ)Bᵀ and the merge
W + c·s·B A in exact rational arithmetic, the EMA with one binary64 product
and sum then one binary32 rounding, seed 000's table III typed in from the
paper, the generated schedules, and the four properties of §V-D evaluated
by their definitions on good and broken schedules.

    python3 tests/kat/gen_lora_kat.py           # writes tests/kat/lora_vectors.h
    python3 tests/kat/gen_lora_kat.py --check   # exit 1 if the file is stale

Needs numpy and xxhash (through gen_rng_kat.py).
"""
import math
import os
import sys
from fractions import Fraction as Q

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_rng_kat as rng  # noqa: E402
import katfile  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lora_vectors.h")
F32 = np.float32
STREAM_LORA_A = 8

# ---- initialization: A = bound·(2u − 1), u = (w >> 8)·2^-24 -----------------
INIT_CASES = [(0, "model.layers.0.self_attn.q_proj.lora_A.weight", 3, 5),
              (12345, "l6.down_proj.lora_A.weight", 2, 64)]


def init_a(seed, name, rank, fan_in):
    key = rng.tensor_key(seed, name)
    bound = F32(1.0 / math.sqrt(fan_in))  # binary64 quotient, one rounding to binary32
    out = []
    for i in range(rank * fan_in):
        w = rng.block(key, 0, 0, STREAM_LORA_A, i // 4)[i % 4]
        v = Q(w >> 8, 1 << 23) - 1  # exact: 2u − 1
        out.append(F32(Q(float(bound)) * v))  # one rounding (numpy rounds the float, exact here)
    return bound, out


def check_init_exact(bound, vals, seed, name, fan_in):
    """Each value is the binary32 nearest to bound·(2u − 1) (u has 24 bits,
    so the product is exact in binary64 and numpy's rounding is the one)."""
    for v in vals:
        assert -float(bound) <= float(v) < float(bound)


# ---- apply and merge -----------------------------------------------------------
BATCH, IN, OUT_F, RANK, ALPHA, COEF = 5, 7, 6, 3, 5.0, -0.75


def mat(rows, cols, phase):
    return [[F32(math.sin(0.7 * i + 1.3 * j + phase) * (1 + 0.25 * j)) for j in range(cols)]
            for i in range(rows)]


def apply_ref():
    """Y0 + s·(X Aᵀ)Bᵀ exactly (rationals), and Σ|terms| for the tolerance;
    s is alpha/rank rounded to binary32 as the library's scale."""
    x, a, b, y0 = mat(BATCH, IN, 0.1), mat(RANK, IN, 0.2), mat(OUT_F, RANK, 0.3), \
        mat(BATCH, OUT_F, 0.4)
    s = Q(float(F32(ALPHA / RANK)))
    y, yabs = [], []
    for n in range(BATCH):
        t = [sum(Q(float(x[n][k])) * Q(float(a[j][k])) for k in range(IN)) for j in range(RANK)]
        ta = [sum(abs(Q(float(x[n][k])) * Q(float(a[j][k]))) for k in range(IN))
              for j in range(RANK)]
        for o in range(OUT_F):
            acc = Q(float(y0[n][o])) + s * sum(t[j] * Q(float(b[o][j])) for j in range(RANK))
            mag = abs(Q(float(y0[n][o]))) + abs(s) * sum(ta[j] * abs(Q(float(b[o][j])))
                                                         for j in range(RANK))
            y.append(float(acc))
            yabs.append(float(mag))
    return x, a, b, y0, y, yabs


def merge_ref(a, b):
    """W0 + c·s·B A exactly, s·c = binary32(c·alpha/rank)."""
    w0 = mat(OUT_F, IN, 0.5)
    sc = Q(float(F32(COEF * ALPHA / RANK)))
    w, wabs = [], []
    for o in range(OUT_F):
        for i in range(IN):
            prod = [Q(float(b[o][j])) * Q(float(a[j][i])) for j in range(RANK)]
            w.append(float(Q(float(w0[o][i])) + sc * sum(prod)))
            wabs.append(float(abs(Q(float(w0[o][i]))) + abs(sc) * sum(abs(p) for p in prod)))
    return w0, w, wabs


# ---- EMA -------------------------------------------------------------------------
EMA_N = 9
EMA_WEIGHTS = [0.3, 0.05, 0.0, 1.0]


def ema_inputs():
    dst = [F32(math.cos(1.1 * i) * 3.0) for i in range(EMA_N)]
    src = [F32(math.sin(0.9 * i + 0.2) * 2.0 - 0.5) for i in range(EMA_N)]
    return dst, src


def ema(dst, src, w):
    keep = 1.0 - w
    return [F32(w * float(s) + keep * float(d)) for d, s in zip(dst, src)]


# ---- rotation ----------------------------------------------------------------------
SEED_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SEED_FFN = {"gate_proj", "up_proj", "down_proj"}
# seed 000, table III, typed in from the paper
SEED_TABLE = [("q_proj", "gate_proj"), ("k_proj", "up_proj"), ("v_proj", "down_proj"),
              ("o_proj", "gate_proj"), ("q_proj", "up_proj"), ("k_proj", "down_proj"),
              ("v_proj", "o_proj")]
LOSS = {"dpo": 0, "ipo": 1, "simpo": 2, "cpo": 3, "orpo": 4, "kto": 5, "rpo": 6, "sppo": 7,
        "grpo": 8, "aero": 9}
SEED_LOSSES = [LOSS["orpo"], LOSS["kto"], LOSS["cpo"]]
INTERLEAVING, COVERAGE, COPRIME, SUPERCYCLE = 1, 2, 4, 8


def mask_of(modules, names):
    return sum(1 << modules.index(n) for n in names)


def properties(n_modules, ffn, nights, losses):
    """The four properties of seed 000 §V-D as docs/pipeline.md defines them."""
    bad = 0
    full = (1 << n_modules) - 1
    if ffn not in (0, full):
        mixed = sum(1 for n in nights if n & ffn and n & ~ffn)
        multi = sum(1 for n in nights if bin(n).count("1") >= 2)
        attn_slots = sum(bin(n & ~ffn & full).count("1") for n in nights)
        ffn_slots = sum(bin(n & ffn).count("1") for n in nights)
        if mixed < min(multi, attn_slots, ffn_slots):
            bad |= INTERLEAVING
    seen = 0
    for n in nights:
        seen |= n
    if seen != full:
        bad |= COVERAGE
    if math.gcd(len(nights), len(losses)) != 1:
        bad |= COPRIME
    length = len(nights) * len(losses) // math.gcd(len(nights), len(losses))
    pairs = [(nights[t % len(nights)], losses[t % len(losses)]) for t in range(length)]
    if len(set(pairs)) != length or length != len(set(nights)) * len(set(losses)):
        bad |= SUPERCYCLE
    return bad, length


def generate_schedule(names, ffn_names, per_night):
    """docs/pipeline.md, "Generated schedules": attention module i at
    (2i+1)/(2·na), FFN module j at (2j+1)/(2·nf), merged by position with
    attention first on ties; night t trains order[(t·k + j) mod n], j < k."""
    attn = [n for n in names if n not in ffn_names]
    ffn = [n for n in names if n in ffn_names]
    keyed = [(Q(2 * i + 1, 2 * len(attn)), 0, n) for i, n in enumerate(attn)] + \
            [(Q(2 * j + 1, 2 * len(ffn)), 1, n) for j, n in enumerate(ffn)]
    order = [n for _, _, n in sorted(keyed)]
    n = len(names)
    nights = []
    for t in range(n // math.gcd(n, per_night)):
        nights.append(mask_of(names, [order[(t * per_night + j) % n] for j in range(per_night)]))
    return nights


GEN_CASES = [
    ("seed7_k2", SEED_MODULES, SEED_FFN, 2, SEED_LOSSES),
    ("seed7_k3", SEED_MODULES, SEED_FFN, 3, [LOSS["dpo"], LOSS["ipo"]]),
    ("five_k2", ["a", "b", "c", "x", "y"], {"x", "y"}, 2, [LOSS["dpo"], LOSS["simpo"],
                                                        LOSS["cpo"]]),
    ("six_k4", ["a1", "a2", "a3", "a4", "f1", "f2"], {"f1", "f2"}, 4, [LOSS["dpo"]]),
    ("four_k1", ["a", "b", "f", "g"], {"f", "g"}, 1, [LOSS["orpo"], LOSS["kto"], LOSS["cpo"]]),
    ("attn_only_k2", ["q", "k", "v"], set(), 2, [LOSS["dpo"], LOSS["ipo"]]),
]


def broken_cases():
    """(name, nights, losses): seed 000's table and edits of it."""
    seed = [mask_of(SEED_MODULES, p) for p in SEED_TABLE]
    ten = list(range(10))
    unmixed = list(seed)  # Sun and Mon swap gate_proj and k_proj: same slots, less mixing
    unmixed[0] = mask_of(SEED_MODULES, ("q_proj", "k_proj"))
    unmixed[1] = mask_of(SEED_MODULES, ("gate_proj", "up_proj"))
    no_o = list(seed)
    no_o[3] = mask_of(SEED_MODULES, ("k_proj", "gate_proj"))   # Wed and Sat drop o_proj
    no_o[6] = mask_of(SEED_MODULES, ("v_proj", "k_proj"))
    dup = list(seed)
    dup[3] = seed[0]                                            # Wed repeats Sun
    return [
        ("seed_table", seed, SEED_LOSSES),
        ("seed_ten_losses", seed, ten),
        ("losses_period_7", seed, [0, 1, 2, 3, 4, 5, 6]),
        ("losses_period_14", seed, ten + [0, 1, 2, 3]),
        ("loss_repeated", seed, [LOSS["orpo"], LOSS["kto"], LOSS["orpo"], LOSS["cpo"]]),
        ("subsystems_unmixed", unmixed, SEED_LOSSES),
        ("night_repeated", dup, SEED_LOSSES),
        ("o_proj_dropped", no_o, SEED_LOSSES),
    ]


def cf(v):
    """A binary32 as a C float literal (round-trips: 9 significant digits)."""
    t = "%.9g" % float(v)
    return t + ("f" if "." in t or "e" in t else ".0f")


def c_floats(vals, per=6):
    rows = []
    for i in range(0, len(vals), per):
        rows.append("    " + " ".join(cf(v) + "," for v in vals[i:i + per]))
    return rows


def c_doubles(vals, per=4):
    rows = []
    for i in range(0, len(vals), per):
        rows.append("    " + " ".join("%.17g," % float(v) for v in vals[i:i + per]))
    return rows


def flat(m):
    return [v for row in m for v in row]


def generate():
    o = ["/* lora_vectors.h - known answers for lib/lora. GENERATED by",
         " * tests/kat/gen_lora_kat.py from docs/lora.md, docs/pipeline.md and seed",
         " * 000 table III; do not edit. Regenerate: python3 tests/kat/gen_lora_kat.py */",
         "#ifndef ZOQ_TESTS_LORA_VECTORS_H", "#define ZOQ_TESTS_LORA_VECTORS_H", "",
         "#include <stdint.h>", ""]
    # init
    o.append("typedef struct lora_kat_init {")
    o.append("    uint64_t seed;\n    const char *name;\n    int rank, fan_in;\n"
             "    float bound;\n    const float *a;\n} lora_kat_init;")
    for k, (seed, name, r, fi) in enumerate(INIT_CASES):
        bound, vals = init_a(seed, name, r, fi)
        check_init_exact(bound, vals, seed, name, fi)
        o.append("static const float lora_kat_init_a%d[%d] = {" % (k, len(vals)))
        o += c_floats(vals) + ["};"]
    o.append("static const lora_kat_init lora_kat_inits[] = {")
    for k, (seed, name, r, fi) in enumerate(INIT_CASES):
        bound, _ = init_a(seed, name, r, fi)
        o.append('    {%du, "%s", %d, %d, %s, lora_kat_init_a%d},' % (seed, name, r, fi,
                                                                    cf(bound), k))
    o += ["};", ""]
    # apply / merge
    x, a, b, y0, y, yabs = apply_ref()
    w0, w, wabs = merge_ref(a, b)
    o += ["#define LORA_KAT_BATCH %d" % BATCH, "#define LORA_KAT_IN %d" % IN,
          "#define LORA_KAT_OUT %d" % OUT_F, "#define LORA_KAT_RANK %d" % RANK,
          "#define LORA_KAT_ALPHA %.17g" % ALPHA, "#define LORA_KAT_COEF %.17g" % COEF, ""]
    for nm, vals in (("x", flat(x)), ("a", flat(a)), ("b", flat(b)), ("y0", flat(y0)),
                     ("w0", flat(w0))):
        o.append("static const float lora_kat_%s[%d] = {" % (nm, len(vals)))
        o += c_floats(vals) + ["};"]
    for nm, vals in (("y", y), ("yabs", yabs), ("w", w), ("wabs", wabs)):
        o.append("static const double lora_kat_%s[%d] = {" % (nm, len(vals)))
        o += c_doubles(vals) + ["};"]
    o.append("")
    # EMA
    dst, src = ema_inputs()
    o.append("#define LORA_KAT_EMA_N %d" % EMA_N)
    o.append("static const float lora_kat_ema_dst[%d] = {" % EMA_N)
    o += c_floats(dst) + ["};"]
    o.append("static const float lora_kat_ema_src[%d] = {" % EMA_N)
    o += c_floats(src) + ["};"]
    o.append("static const double lora_kat_ema_w[%d] = {%s};" % (
        len(EMA_WEIGHTS), ", ".join("%.17g" % v for v in EMA_WEIGHTS)))
    o.append("static const float lora_kat_ema_out[%d][%d] = {" % (len(EMA_WEIGHTS), EMA_N))
    for wgt in EMA_WEIGHTS:
        o.append("    {" + " ".join(cf(v) + "," for v in ema(dst, src, wgt)) + "},")
    o += ["};", ""]
    # rotation: seed table
    o.append("/* seed 000 table III over q k v o gate up down (bits 0..6), Sun .. Sat */")
    seed_nights = [mask_of(SEED_MODULES, p) for p in SEED_TABLE]
    o.append("static const uint64_t lora_kat_seed_nights[7] = {%s};" % ", ".join(
        "0x%xu" % n for n in seed_nights))
    o.append("static const uint64_t lora_kat_seed_ffn = 0x%xu;" % mask_of(
        SEED_MODULES, sorted(SEED_FFN)))
    o.append("")
    # generated schedules
    o.append("typedef struct lora_kat_gen {")
    o.append("    const char *name;\n    int n_modules;\n    const char *modules[8];\n"
             "    uint64_t ffn;\n    int per_night, n_losses;\n    int losses[4];\n"
             "    int n_nights;\n    uint64_t nights[8];\n    unsigned failed;\n"
             "    int64_t supercycle;\n} lora_kat_gen;")
    o.append("static const lora_kat_gen lora_kat_gens[] = {")
    for name, mods, ffn_names, k, losses in GEN_CASES:
        nights = generate_schedule(mods, ffn_names, k)
        ffn = mask_of(mods, [m for m in mods if m in ffn_names])
        bad, length = properties(len(mods), ffn, nights, losses)
        o.append('    {"%s", %d, {%s}, 0x%xu, %d, %d, {%s}, %d, {%s}, %du, %d},' % (
            name, len(mods), ", ".join('"%s"' % m for m in mods), ffn, k, len(losses),
            ", ".join(map(str, losses)), len(nights), ", ".join("0x%xu" % n for n in nights),
            bad, length))
    o += ["};", ""]
    # property verdicts on the seed's table and broken edits of it
    o.append("typedef struct lora_kat_rot {")
    o.append("    const char *name;\n    int n_nights;\n    uint64_t nights[7];\n"
             "    int n_losses;\n    int losses[14];\n    unsigned failed;\n"
             "    int64_t supercycle;\n} lora_kat_rot;")
    o.append("static const lora_kat_rot lora_kat_rots[] = {")
    ffn = mask_of(SEED_MODULES, sorted(SEED_FFN))
    for name, nights, losses in broken_cases():
        bad, length = properties(7, ffn, nights, losses)
        o.append('    {"%s", %d, {%s}, %d, {%s}, %du, %d},' % (
            name, len(nights), ", ".join("0x%xu" % n for n in nights), len(losses),
            ", ".join(map(str, losses)), bad, length))
    o += ["};", "", "#endif", ""]
    return "\n".join(o)


if __name__ == "__main__":
    sys.exit(katfile.main(__doc__, OUT, generate))
