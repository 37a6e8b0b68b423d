"""zoq's main job (`make demo`): zeroth-order training of a small MLP on the
UCI handwritten digits, end to end, from loss values alone.

  (a) train a 64-32-10 tanh MLP in f32 with ZO (zoq), next to the same MLP
      trained by first-order backprop (numpy) as the baseline;
  (b) quantize both layers to 3-bit codes, a scale and zero per group of 32
      inputs (GPTQ's layout, round-to-nearest), stored in zoq's INT4_GROUP
      container and run through zoq_qmatrix_matmul;
  (c) QZO: tune only the quantization scales (codes fixed) with ZO and DDC,
      next to the control: the same scales, steps and directions on the
      unrounded f32 weights (what the tuning gains without rounding);
  (d) a rank-4 LoRA adapter on the output layer of the quantized model,
      trained with each of zoq's ten preference losses on pairs (correct
      label, the base model's strongest wrong label).

Data: sklearn's packaged copy of UCI digits (1797 8x8 images); rows whose
index is a multiple of 5 are the held-out set (360), the others train
(1437). --dev never reads the held-out rows: it trains on four fifths of the
training rows and reports on the fifth (the dev split the settings were
chosen on). Seeds are fixed (--seed S draws the stages' seeds 10S..10S+3; 0
is the default), BLAS runs on one thread with OpenBLAS's generic x86-64
kernel: the numbers are the same on every run. Writes build/demo/report.md
and its plot.
Usage: python3 demo/digits.py [--out build/demo] [--quick] [--seed S] [--dev]
"""
import argparse
import ctypes
import gzip
import os
import platform
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # reproducible and fastest for tiny GEMMs
# The figures depend on the BLAS kernel (summation order): a DYNAMIC_ARCH
# OpenBLAS picks one per CPU, so pin the generic one on x86-64.
if platform.machine() == "x86_64":
    os.environ.setdefault("OPENBLAS_CORETYPE", "Prescott")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings",
                                "python"))
import zoq  # noqa: E402
from zoq import pref  # noqa: E402

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
HIDDEN, BATCH, GROUP, RANK = 32, 128, 32, 4
BITS = 2  # codes 0..3 (chosen on --dev): at 4 bits the rounding costs this MLP nothing measurable,
#          at 3 bits about a tenth of the NLL and no accuracy that one seed can show
# Stage (a), chosen on the dev split by demo/dev_sweep.py (docs/demo.md):
# one-sided differences give 7 directions for 8 forward passes (central: 4).
ZO_OPTIONS = dict(lr=2e-2, lr_final=1e-3, lr_schedule="cosine", eps=1e-3, queries=7,
                  estimator="forward", dist="rademacher", optimizer="adam")
# One completion token per sequence: log-prob gaps are O(1), not O(100) as
# for text, so the reward scale beta of the DPO family is 2, not 0.1.
BETA, BETA_LOSSES = 2.0, ("dpo", "ipo", "cpo", "kto", "rpo", "sppo")
PREF_OPTIONS = dict(lr=3e-3, eps=1e-3, queries=4, optimizer="adam")


def load_digits(path=DIGITS, dev=False):
    """(train x, y, evaluation x, y): the held-out rows (index a multiple of
    5) or, with dev, every 5th training row, the held-out rows dropped."""
    with gzip.open(path) as f:
        raw = np.loadtxt(f, delimiter=",")
    x, y = (raw[:, :64] / 16.0).astype(np.float32), raw[:, 64].astype(np.int64)
    test = np.arange(len(y)) % 5 == 0
    x, y = (x[~test], y[~test]) if dev else (x, y)
    test = np.arange(len(y)) % 5 == 0
    return x[~test], y[~test], x[test], y[test]


def blas_kernel():
    """"OpenBLAS <version> <kernel>" of the BLAS numpy runs on, or "unknown"."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({ln.split()[-1] for ln in f if "openblas" in ln and ".so" in ln})
        for lib in libs:
            so = ctypes.CDLL(lib)
            if hasattr(so, "openblas_get_corename"):
                so.openblas_get_corename.restype = ctypes.c_char_p
                so.openblas_get_config.restype = ctypes.c_char_p
                version = so.openblas_get_config().decode().split()[1]
                return "OpenBLAS %s %s" % (version, so.openblas_get_corename().decode())
    except (OSError, IndexError):
        pass
    return "unknown"


def log_softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def xent(logits, y):
    return float(-log_softmax(logits)[np.arange(len(y)), y].mean())


def accuracy(logits, y):
    return float((logits.argmax(axis=1) == y).mean())


class MLP:
    """64 -> HIDDEN (tanh) -> 10; float32 arrays zoq trains in place."""

    def __init__(self, seed):
        r = np.random.default_rng(seed)
        self.w1 = (r.standard_normal((HIDDEN, 64)) / 8).astype(np.float32)
        self.b1 = np.zeros(HIDDEN, np.float32)
        self.w2 = (r.standard_normal((10, HIDDEN)) / np.sqrt(HIDDEN)).astype(np.float32)
        self.b2 = np.zeros(10, np.float32)

    def params(self):
        return {"w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": self.b2}

    def hidden(self, x):
        return np.tanh(x @ self.w1.T + self.b1)

    def __call__(self, x):
        return self.hidden(x) @ self.w2.T + self.b2


def quantize_bits(w, bits):
    """w as BITS-bit codes 0..2^bits-1 with a scale and a zero per GROUP inputs,
    in zoq's INT4_GROUP container (which holds any code 0..15): zoq's int4
    rule (docs/quantized.md) with 2^bits - 1 steps instead of 15: the grid
    contains 0, s = (hi - lo)/(2^bits - 1), z = round(-lo/s), q = round(w/s) + z
    clamped, ties to even. bits = 4 gives zoq_qmatrix_quantize's codes except
    where it raises s by an ulp to keep both ends within half a step."""
    top = 2 ** bits - 1
    rows, cols = w.shape
    g = w.astype(np.float64).reshape(rows, cols // GROUP, GROUP)
    lo, hi = np.minimum(g.min(axis=2), 0), np.maximum(g.max(axis=2), 0)
    s = ((hi - lo) / top).astype(np.float32)
    s = np.where(s > 0, s, np.float32(1))
    z = np.minimum(np.round(-lo / s), top)
    q = np.clip(np.round(g / s[:, :, None]) + z[:, :, None], 0, top)
    m = zoq.QMatrix(rows, cols, "int4_group", GROUP)
    m.codes[:] = zoq.q4_pack(q.astype(np.uint8).ravel())
    m.scales[:] = s
    m.zeros[:] = z.astype(np.uint8)
    return m


class QuantMLP:
    """The MLP with both weight matrices quantized to BITS-bit codes per
    group of GROUP inputs; forward via zoq's matmul on the codes."""

    def __init__(self, mlp):
        self.q1, self.q2 = quantize_bits(mlp.w1, BITS), quantize_bits(mlp.w2, BITS)
        self.b1, self.b2 = mlp.b1.copy(), mlp.b2.copy()

    def hidden(self, x):
        return np.tanh(self.q1.matmul(x) + self.b1)

    def __call__(self, x):
        return self.q2.matmul(self.hidden(x)) + self.b2


class ScaledMLP:
    """The control of QZO: the f32 MLP with each weight written as its
    quantization group's scale times its unrounded code, w = s·(w/s). At the start it is
    the f32 model exactly; training the same scales as QZO separates what the
    scale tuning gains by itself from what it wins back from the rounding."""

    def __init__(self, mlp, qm):
        self.s1, self.s2 = qm.q1.scales.copy(), qm.q2.scales.copy()
        self.u1, self.u2 = mlp.w1 / self._wide(self.s1), mlp.w2 / self._wide(self.s2)
        self.b1, self.b2 = mlp.b1.copy(), mlp.b2.copy()

    @staticmethod
    def _wide(scales):
        return np.repeat(scales, GROUP, axis=1)

    def __call__(self, x):
        h = np.tanh(x @ (self._wide(self.s1) * self.u1).T + self.b1)
        return h @ (self._wide(self.s2) * self.u2).T + self.b2


class Progress:
    """One status line: step, loss, lr, eps, throughput, ETA."""

    def __init__(self, name, total):
        self.name, self.total = name, total
        self.t0 = self.last = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, step, rep, force=False):
        now = time.perf_counter()
        if not force and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        rate = (step + 1) / max(now - self.t0, 1e-9)
        line = ("%-14s step %5d/%d  loss %.4f  lr %.2e  eps %.1e  %6.0f steps/s "
                "%7.0f evals/s  ETA %4.1fs" % (self.name, step + 1, self.total, rep.loss, rep.lr,
                                              rep.eps, rate, rate * rep.n_points,
                                              (self.total - step - 1) / rate))
        sys.stderr.write(("\r" + line + "\033[K") if self.tty else line + "\n")
        sys.stderr.flush()

    def done(self):
        if self.tty:
            sys.stderr.write("\n")
        return time.perf_counter() - self.t0


def batches(n, steps, seed):
    r = np.random.default_rng(seed)
    return [r.integers(0, n, BATCH) for _ in range(steps)]


def zo_train(name, params, loss_fn, n_train, steps, seed, flags=0, **options):
    """ZO-trains `params` in place; loss_fn(idx) is the loss of the minibatch
    idx (indices into the n_train training rows). flags: zoq.PARAM_* of every
    tensor; zoq floors PARAM_SCALE tensors at scale_floor (0) after each step
    and clips their directional derivatives at scale_clip (100) (QZO).
    Returns the loss at θ per step, the forward passes up to each step, the
    seconds taken."""
    opt = zoq.Optimizer(seed=seed, threads=1, total_steps=steps, **options)
    for pname, a in params.items():
        opt.add_param(pname, a, flags=flags)
    idxs = batches(n_train, steps, seed)
    prog = Progress(name, steps)
    curve, passes = [], []
    for t, idx in enumerate(idxs):
        rep = opt.step(lambda: loss_fn(idx))
        curve.append(rep.loss)
        passes.append(rep.n_points)
        prog.update(t, rep, force=t == steps - 1)
    secs = prog.done()
    return np.array(curve), np.cumsum(passes), secs


def first_order(mlp, x, y, steps, seed, lr=1e-2):
    """The baseline: the same MLP and minibatches, exact gradients, Adam."""
    ps = [mlp.w1, mlp.b1, mlp.w2, mlp.b2]
    m, v = [np.zeros_like(p) for p in ps], [np.zeros_like(p) for p in ps]
    curve, t0 = [], time.perf_counter()
    for t, idx in enumerate(batches(len(y), steps, seed), 1):
        xb, yb = x[idx], y[idx]
        h = mlp.hidden(xb)
        logits = h @ mlp.w2.T + mlp.b2
        curve.append(xent(logits, yb))
        d = np.exp(log_softmax(logits))
        d[np.arange(len(yb)), yb] -= 1
        d /= len(yb)
        dh = (d @ mlp.w2) * (1 - h * h)
        for i, g in enumerate((dh.T @ xb, dh.sum(0), d.T @ h, d.sum(0))):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            ps[i] -= (lr * m[i] / (1 - 0.9 ** t) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
                      ).astype(np.float32)
    return np.array(curve), time.perf_counter() - t0


def preference_run(loss, base, h_tr, y_tr, wrong, h_te, y_te, steps, seed, **options):
    """A LoRA adapter (W2 + B·A) on the INT4 model's output layer trained by
    preference loss `loss` through zoq's preference objective. Pair i is
    training example i: sequence 2i its correct label, 2i+1 `wrong[i]`;
    a sequence's log-prob is the log-softmax of its label (one token)."""
    w2 = base.q2.dequantize()
    a = np.zeros((RANK, HIDDEN), np.float32)
    b = np.zeros((10, RANK), np.float32)

    def logits(h, adapter=True):
        w = w2 + b @ a if adapter else w2
        return h @ w.T + base.b2

    def scorer(ev, seqs):
        ex = seqs // 2
        label = np.where(seqs % 2 == 0, y_tr[ex], wrong[ex])
        lp = log_softmax(logits(h_tr[ex], adapter=ev is not None))
        return lp[np.arange(len(seqs)), label], np.ones(len(seqs))

    n = len(y_tr)
    pairwise = loss not in ("kto", "grpo", "aero")
    kw = {}
    if loss == "kto":
        kw = dict(labels=np.arange(2 * n) % 2 == 0)
    elif loss in ("grpo", "aero"):
        kw = dict(rewards=(np.arange(2 * n) + 1) % 2, group_ids=np.arange(2 * n) // 2)
        if loss == "aero":
            kw["aero"] = pref.Aero()
    if loss in BETA_LOSSES:
        kw["beta"] = BETA
    obj = pref.Objective(loss, n if pairwise else 2 * n, scorer, **kw)
    opt = zoq.Optimizer(seed=seed, threads=1, **options)
    opt.add_param("lora.a", a, flags=zoq.PARAM_LORA_A)
    opt.add_param("lora.b", b, flags=zoq.PARAM_LORA_B)
    opt.init_normal("lora.a", 1 / np.sqrt(HIDDEN))
    prog = Progress("pref " + loss, steps)
    losses = []
    for t, idx in enumerate(batches(n, steps, seed)):
        pairs = idx[:64]  # KTO, GRPO, AERO: both sequences of each pair, side by side
        obj.set_batch(pairs if pairwise else np.stack([2 * pairs, 2 * pairs + 1], 1).ravel())
        rep = opt.step(obj)
        obj.step_done()
        losses.append(rep.loss)
        prog.update(t, rep, force=t == steps - 1)
    secs = prog.done()
    train = pref.evaluate(*pairs_scores(logits(h_tr), y_tr, wrong))
    return accuracy(logits(h_te), y_te), train.accuracy, np.array(losses), secs


def wrong_of(base, h, y):
    """The wrong label the INT4 model scores highest, per example."""
    z = base.q2.matmul(h) + base.b2
    z[np.arange(len(y)), y] = -np.inf
    return z.argmax(axis=1)


def pairs_scores(logits, y, wrong):
    lp = log_softmax(logits)
    i = np.arange(len(y))
    return lp[i, y], lp[i, wrong]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/demo")
    ap.add_argument("--quick", action="store_true", help="a tenth of the steps (tests)")
    ap.add_argument("--seed", type=int, default=0, help="stage seeds 10S..10S+3 (default 0)")
    ap.add_argument("--dev", action="store_true",
                    help="report on a dev split of the training rows; never read the held-out")
    args = ap.parse_args()
    s0 = 10 * args.seed
    k = 10 if args.quick else 1
    x_tr, y_tr, x_te, y_te = load_digits(dev=args.dev)
    split = "dev" if args.dev else "held-out"
    print("zoq %s demo: UCI digits, %d train / %d %s%s, MLP 64-%d-10; BLAS: %s"
          % (zoq.version(), len(y_tr), len(y_te), split,
             " (every 5th training row)" if args.dev else " (every 5th row)", HIDDEN,
             blas_kernel()))
    rows, curves, says = [], {}, []

    def row(stage, what, tensors, steps, evals, secs, logits):
        rows.append((stage, what, tensors, steps, evals, secs, accuracy(logits, y_te),
                     xent(logits, y_te)))

    # (a) ZO in f32, and the first-order baseline
    mlp = MLP(seed=s0)
    n_params = sum(p.size for p in mlp.params().values())
    curve, passes, secs = zo_train(
        "ZO f32", mlp.params(), lambda idx: xent(mlp(x_tr[idx]), y_tr[idx]), len(y_tr),
        2000 // k, seed=s0 + 1, **ZO_OPTIONS)
    curves["ZO (zoq), f32"] = (passes, curve)
    row("a", "ZO-Adam (zoq), f32", "%d weights" % n_params, len(curve), passes[-1], secs,
        mlp(x_te))
    fo = MLP(seed=s0)
    fo_curve, fo_secs = first_order(fo, x_tr, y_tr, 500 // k, seed=s0 + 1)
    curves["first order (backprop), f32"] = (np.arange(1, len(fo_curve) + 1), fo_curve)
    row("a", "first-order Adam (numpy backprop)", "%d weights" % n_params, len(fo_curve),
        len(fo_curve), fo_secs, fo(x_te))
    za, fa = rows[0][6], rows[1][6]
    says.append("(a) From loss values alone, %d forward passes and no gradient bring the MLP to "
                "%.1f%% %s accuracy; backprop reaches %.1f%% in %d steps (a forward and a "
                "backward each): ZO trails by %.1f points, the price of seeing the gradient "
                "along 7 random directions out of %d a step."
                % (passes[-1], 100 * za, split, 100 * fa, len(fo_curve), 100 * (fa - za),
                   n_params))

    # (b) BITS-bit codes, round-to-nearest, groups of GROUP
    qm = QuantMLP(mlp)
    qname = "%d-bit codes, g=%d, round-to-nearest" % (BITS, GROUP)
    row("b", qname, "-", 0, 0, 0.0, qm(x_te))
    says.append("(b) Rounding the weights to %d-bit codes (%d levels per group of %d) costs "
                "%+.3f %s NLL and %+.1f accuracy points: the loss QZO can try to win back."
                % (BITS, 2 ** BITS, GROUP, rows[2][7] - rows[0][7], split,
                   100 * (rows[2][6] - rows[0][6])))

    # (c) QZO: the scales are the trainable f32 tensors, codes and zeros fixed;
    # the control trains the same scales with the same names, seed and
    # minibatches (so the same directions) over the unrounded weights
    qzo = dict(steps=600 // k, seed=s0 + 2, flags=zoq.PARAM_SCALE, lr=5e-4, eps=1e-3,
               queries=4, optimizer="adam")
    n_scales = qm.q1.scales.size + qm.q2.scales.size
    ctrl = ScaledMLP(mlp, qm)
    for label, model, scales, what in (
            ("QZO (scales of the %d-bit model)" % BITS, qm, (qm.q1.scales, qm.q2.scales),
             "QZO: the %d-bit model's scales by ZO + DDC" % BITS),
            ("control (same scales, f32 weights)", ctrl, (ctrl.s1, ctrl.s2),
             "control: the same scale tuning on the f32 weights")):
        curve, passes, secs = zo_train(
            label.split(" (")[0], {"q1.scales": scales[0], "q2.scales": scales[1]},
            lambda idx: xent(model(x_tr[idx]), y_tr[idx]), len(y_tr), **qzo)
        curves[label] = (passes, curve)
        row("c", what, "%d scales" % n_scales, qzo["steps"], passes[-1], secs, model(x_te))
    cost0, cost1 = rows[2][7] - rows[0][7], rows[3][7] - rows[4][7]
    says.append("(c) Tuning only the %d scales, QZO takes the %d-bit model's %s NLL from %.3f "
                "to %.3f (accuracy %.1f%% -> %.1f%%). The same tuning of the unrounded weights "
                "(control) reaches %.3f, so part of the gain is calibration, not recovery; "
                "what the rounding costs falls from %+.3f to %+.3f: QZO wins back %.0f%% of it."
                % (n_scales, BITS, split, rows[2][7], rows[3][7], 100 * rows[2][6],
                   100 * rows[3][6], rows[4][7], cost0, cost1,
                   100 * (1 - cost1 / cost0) if cost0 > 0 else float("nan")))

    # (d) LoRA on the quantized model's output layer under each preference loss
    base = QuantMLP(mlp)
    h_tr, h_te = base.hidden(x_tr), base.hidden(x_te)
    wrong = wrong_of(base, h_tr, y_tr)
    steps = 300 // k
    pref_rows, loss_curves = [], {}
    for loss in pref.LOSSES:
        acc, pair_acc, losses, secs = preference_run(
            loss, base, h_tr, y_tr, wrong, h_te, y_te, steps, seed=s0 + 3, **PREF_OPTIONS)
        pref_rows.append((loss, np.mean(losses[:20]), np.mean(losses[-20:]), acc, pair_acc,
                          secs))
        loss_curves[loss] = losses
    base_acc = accuracy(base(x_te), y_te)
    base_pairs = pref.evaluate(*pairs_scores(base(x_tr), y_tr, wrong)).accuracy
    moved = [100 * (r[3] - base_acc) for r in pref_rows]
    pairs_after = [100 * r[4] for r in pref_rows]
    says.append("(d) Each preference loss falls (table, plot). A pair is (correct label, the "
                "model's strongest wrong label), so widening its margin is also a classification "
                "objective: %s accuracy moves by %+.1f to %+.1f points from the base's %.1f%% "
                "(one image is %.2f points), the training pairs ranked right from %.1f%% to "
                "%.1f..%.1f%%." % (split, min(moved), max(moved), 100 * base_acc,
                                   100 / len(y_te), 100 * base_pairs, min(pairs_after),
                                   max(pairs_after)))
    lines = table(rows, pref_rows, base_acc, base_pairs, steps, split)
    print("\n" + "\n".join(lines) + "\n\n" + "\n".join(says))
    os.makedirs(args.out, exist_ok=True)
    plot = write_plot(os.path.join(args.out, "loss_curves.png"), curves, loss_curves)
    write_report(os.path.join(args.out, "report.md"), lines, says, plot, args)
    print("report: %s" % os.path.join(args.out, "report.md"))
    return 0 if args.quick or za >= 0.90 else 1  # the ZO f32 model's accuracy


def table(rows, pref_rows, base_acc, base_pairs, steps, split):
    out = ["| stage | model | trained | steps | forward passes | time s | %s acc "
           "| %s NLL |" % (split, split), "|---|---|---|---:|---:|---:|---:|---:|"]
    for stage, what, tensors, st, ev, secs, acc, nll in rows:
        run = ("%d | %d | %.1f" % (st, ev, secs)) if st else "- | - | -"
        out.append("| %s | %s | %s | %s | %.2f%% | %.3f |"
                   % (stage, what, tensors, run, 100 * acc, nll))
    out += ["", "LoRA rank %d on the quantized model's output layer (%d adapter weights), %d "
            "steps, 64 pairs a step; base: %.2f%% %s accuracy, %.2f%% of the training pairs "
            "ranked right." % (RANK, RANK * (HIDDEN + 10), steps, 100 * base_acc, split,
                               100 * base_pairs), "",
            "| loss | loss, first → last 20 steps | %s acc | training pairs right | "
            "time s |" % split, "|---|---:|---:|---:|---:|"]
    for loss, l0, l1, acc, pair_acc, secs in pref_rows:
        out.append("| %s | %.4f → %.4f | %.2f%% | %.2f%% | %.1f |"
                   % (loss, l0, l1, 100 * acc, 100 * pair_acc, secs))
    return out


def smooth(c, points=50):
    """Trailing mean over len(c)/points steps (fewer at the start)."""
    w = max(1, len(c) // points)
    cs = np.concatenate([[0.0], np.cumsum(c)])
    i = np.arange(1, len(c) + 1)
    lo = np.maximum(i - w, 0)
    return (cs[i] - cs[lo]) / (i - lo)


def write_plot(path, curves, loss_curves):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot; apt-get install python3-matplotlib)")
        return None
    fig = plt.figure(figsize=(13, 8.5))
    grid = fig.add_gridspec(3, 5)
    panels = ((fig.add_subplot(grid[0, :3]), "(a) f32 MLP: ZO against backprop"),
              (fig.add_subplot(grid[0, 3:]), "(c) tuning the %d-bit model's scales" % BITS))
    for j, (name, (x, c)) in enumerate(curves.items()):
        ax = panels[0 if j < 2 else 1][0]
        ax.plot(x, smooth(c), label=name, color="C%d" % j)
    for ax, title in panels:
        ax.set(xscale="log", yscale="log", title=title)
        ax.set_xlabel("forward passes (a backprop step counts its one forward;\nits backward "
                      "costs about two more)" if ax is panels[0][0] else "forward passes",
                      fontsize=9)
        ax.set_ylabel("training loss (cross-entropy)", fontsize=9)
        ax.legend(fontsize=8)
    for j, (name, c) in enumerate(loss_curves.items()):
        ax = fig.add_subplot(grid[1 + j // 5, j % 5])
        ax.plot(np.arange(1, len(c) + 1), smooth(c, 30), color="C%d" % j)
        ax.set_title("(d) %s loss" % name, fontsize=9)
        ax.tick_params(labelsize=7)
        if j >= 5:
            ax.set_xlabel("step", fontsize=8)
    fig.suptitle("(d) LoRA on the %d-bit model, one panel per preference loss: minibatch loss "
                 "(mean of the step's points), each on its own scale" % BITS, y=0.005,
                 va="bottom", fontsize=9)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.path.basename(path)


def write_report(path, table_lines, says, plot, args):
    split = "dev" if args.dev else "held-out"
    lines = ["# zoq demo: ZO fine-tuning on UCI digits", "",
             "Produced by `make demo` (`demo/digits.py%s%s`), zoq %s, BLAS %s. Train: %s; "
             "%s: the other %s. MLP 64-%d-10 (tanh), minibatches of %d, seeds fixed."
             % (" --dev" if args.dev else "", " --seed %d" % args.seed if args.seed else "",
                zoq.version(), blas_kernel(),
                "4/5 of the 1437 training rows" if args.dev else
                "the 1437 rows whose index is not a multiple of 5",
                split, "fifth of them" if args.dev else "360", HIDDEN, BATCH), ""]
    lines += table_lines + [""] + says
    if plot:
        lines += ["", "![loss curves](%s)" % plot]
    lines += ["", "Stages: (a) ZO-Adam through `zoq.Optimizer.step`, 7 Rademacher directions a "
              "step with one-sided differences (8 forward passes); the baseline trains the same "
              "MLP on the same minibatches with exact gradients. (b) %d-bit codes with a scale "
              "and zero per %d inputs (zoq's int4 rule with %d steps), in zoq's INT4_GROUP "
              "container. (c) QZO (Shang et al. 2025, arXiv:2505.13430): only the scales are "
              "perturbed and updated, directional derivatives clipped to [-100, 100] (DDC), "
              "scales floored at 0; forward through `zoq_qmatrix_matmul`. The control tunes the "
              "same scales with the same seed, steps and minibatches over the unrounded f32 "
              "weights (w = s·(w/s)): QZO minus control is what the rounding still costs. "
              "(d) zoq's preference objective; a pair is (correct label, the quantized model's "
              "strongest wrong label), the reference is the quantized model without the "
              "adapter." % (BITS, GROUP, 2 ** BITS - 1), ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
