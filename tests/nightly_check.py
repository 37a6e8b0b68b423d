#!/usr/bin/env python3
"""Checks seven nights of examples/nightly from its files alone.

    python3 tests/nightly_check.py DIR [digits.csv.gz]

DIR holds what `nightly --dir DIR --night t` wrote for t = 0..6. Written
from seed 000 and docs/pipeline.md, not from the example's code: it reads
the adapters with its own safetensors parser and recomputes the held-out
evaluation with numpy from base.safetensors, the digits and the split the
example documents. It asserts:

  1. rotation: night t trained exactly seed 000's table III row t (typed in
     here), so the seven nights touch all seven module types; the
     candidate differs from yesterday's adapter in tonight's modules only;
  2. serving: night-t is the candidate when deployed, else yesterday's
     adapter unchanged, byte for byte;
  3. never worse: the served adapter's held-out accuracy and margin,
     recomputed here, never drop from one night to the next, and match the
     report; each report's "before" is the previous night's "served".
Exit status 0 when all hold; the first failure is printed.
"""
import gzip
import json
import os
import struct
import sys

import numpy as np

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
FFN = {"gate_proj", "up_proj", "down_proj"}
TABLE = [("q_proj", "gate_proj"), ("k_proj", "up_proj"), ("v_proj", "down_proj"),
         ("o_proj", "gate_proj"), ("q_proj", "up_proj"), ("k_proj", "down_proj"),
         ("v_proj", "o_proj")]  # seed 000, table III
LOSSES = ["orpo", "kto", "cpo"]  # seed 000 §V-C's illustrative cycle
RANK, ALPHA = 8, 16.0
NIGHTS = 7


class Failure(Exception):
    pass


def require(cond, what):
    if not cond:
        raise Failure(what)


def read_safetensors(path):
    with open(path, "rb") as fh:
        blob = fh.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        require(info["dtype"] == "F32", "%s: %s is %s, not F32" % (path, name, info["dtype"]))
        lo, hi = info["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(info["shape"])
    return out


def module_path(m):
    return "blocks.0.%s.%s" % ("mlp" if m in FFN else "attn", m)


def read_adapter(folder):
    cfg = json.load(open(os.path.join(folder, "adapter_config.json")))
    require(cfg["peft_type"] == "LORA" and cfg["r"] == RANK and cfg["lora_alpha"] == ALPHA,
            "%s: adapter_config.json %s" % (folder, cfg))
    require(sorted(cfg["target_modules"]) == sorted(map(module_path, MODULES)),
            "%s: target_modules" % folder)
    t = read_safetensors(os.path.join(folder, "adapter_model.safetensors"))
    ad = {}
    for m in MODULES:
        stem = "base_model.model.%s." % module_path(m)
        ad[m] = (t[stem + "lora_A.weight"], t[stem + "lora_B.weight"])
    return ad


def load_digits(path):
    rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",")
    return rows[:, :64] / 16.0, rows[:, 64].astype(int)


def logits(base, adapter, x):
    """The residual MLP of examples/nightly/model.h, in float64."""
    a = x
    for l in range(7):
        z = a @ base["layers.%d.weight" % l].astype(np.float64).T + base["layers.%d.bias" % l]
        if adapter is not None:
            A, B = adapter[MODULES[l]]
            z = z + (ALPHA / RANK) * (a @ A.astype(np.float64).T) @ B.astype(np.float64).T
        if l == 6:
            return z
        a = np.maximum(z, 0) if l == 0 else a + np.maximum(z, 0)


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def evaluate(base, adapter, x, y, rej):
    lp = log_softmax(logits(base, adapter, x))
    idx = np.arange(len(y))
    margin = lp[idx, y] - lp[idx, rej]
    return int((margin > 0).sum()), float(margin.mean())


def check(folder, digits_path):
    reports = [json.load(open(os.path.join(folder, "night-%d.json" % t))) for t in range(NIGHTS)]
    # 1. rotation
    touched = set()
    for t, r in enumerate(reports):
        require(sorted(r["modules"]) == sorted(TABLE[t]),
                "night %d trained %s, seed table says %s" % (t, r["modules"], TABLE[t]))
        require(r["loss"] == LOSSES[t % 3], "night %d used loss %s" % (t, r["loss"]))
        touched |= set(r["modules"])
    require(touched == set(MODULES), "seven nights touched only %s" % sorted(touched))

    base = read_safetensors(os.path.join(folder, "base.safetensors"))
    x, y = load_digits(digits_path)
    held = np.array([i for i in range(len(y)) if i % 10 >= 8])
    z = logits(base, None, x[held])
    z[np.arange(len(held)), y[held]] = -np.inf
    rej = z.argmax(axis=1)  # the base model's strongest wrong label
    xh, yh = x[held], y[held]

    prev = None  # yesterday's served adapter (None: the base model, B = 0)
    prev_eval = evaluate(base, None, xh, yh, rej)
    for t, r in enumerate(reports):
        cand = read_adapter(os.path.join(folder, "candidate-%d" % t))
        served = read_adapter(os.path.join(folder, "night-%d" % t))
        for m in MODULES:
            if prev is None:
                same = not cand[m][1].any()  # untouched modules keep B = 0
            else:
                same = all(np.array_equal(cand[m][k], prev[m][k]) for k in (0, 1))
            require(same == (m not in TABLE[t]),
                    "night %d: candidate module %s %s yesterday's" %
                    (t, m, "equals" if same else "differs from"))
        # 2. serving
        want = cand if r["deployed"] else prev
        for m in MODULES:
            if want is None:  # the initialization kept: B = 0, A as initialized
                ok = not served[m][1].any() and (
                    m in TABLE[t] or np.array_equal(served[m][0], cand[m][0]))
            else:
                ok = all(np.array_equal(served[m][k], want[m][k]) for k in (0, 1))
            require(ok, "night %d: served %s is not the %s adapter" %
                    (t, m, "candidate" if r["deployed"] else "previous"))
        # 3. never worse, recomputed
        correct, margin = evaluate(base, served, xh, yh, rej)
        n = len(held)
        require(r["served"]["n"] == n, "night %d: %d held-out pairs, not %d" %
                (t, r["served"]["n"], n))
        require(abs(correct - r["served"]["correct"]) <= 1 and
                abs(margin - r["served"]["margin"]) <= 1e-4 * (1 + abs(margin)),
                "night %d: report says %d correct, margin %.6f; recomputed %d, %.6f" %
                (t, r["served"]["correct"], r["served"]["margin"], correct, margin))
        require(correct >= prev_eval[0] and margin >= prev_eval[1] - 1e-6,
                "night %d serves a worse adapter: %d correct, margin %.6f after %d, %.6f" %
                (t, correct, margin, prev_eval[0], prev_eval[1]))
        if t:
            require(r["before"] == reports[t - 1]["served"],
                    "night %d: before %s is not night %d's served %s" %
                    (t, r["before"], t - 1, reports[t - 1]["served"]))
        prev, prev_eval = served, (correct, margin)
    deployed = sum(r["deployed"] for r in reports)
    print("nightly: 7 nights touched all 7 module types; %d deployed, %d kept yesterday's; "
          "held-out margin %.4f -> %.4f, never worse" % (deployed, NIGHTS - deployed,
                                                           reports[0]["before"]["margin"],
                                                           prev_eval[1]))


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    try:
        check(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else DIGITS)
    except Failure as e:
        print("nightly check FAILED: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
