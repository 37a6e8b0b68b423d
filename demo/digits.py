"""zoq's main job (`make demo`): zeroth-order training of a small MLP on the
UCI handwritten digits, end to end, from loss values alone.

  (a) train a 64-32-10 tanh MLP in f32 with ZO (zoq), next to the same MLP
      trained by first-order backprop (numpy) as the baseline;
  (b) quantize both layers to INT4, groups of 32 (zoq_qmatrix_quantize);
  (c) QZO: tune only the quantization scales (codes fixed) with ZO and DDC,
      next to the control: the same scales, steps and directions on the
      unrounded f32 weights (what the tuning gains without rounding);
  (d) a rank-4 LoRA adapter on the output layer of the INT4 model, trained
      with each of zoq's ten preference losses on pairs (correct label,
      the base model's strongest wrong label).

Data: sklearn's packaged copy of UCI digits (1797 8x8 images); rows whose
index is a multiple of 5 are the held-out set (360), the others train
(1437). Seeds are fixed (--seed S draws the stages' seeds 10S..10S+3; 0 is
the default) and BLAS runs on one thread: the numbers are the same on every
run. Writes build/demo/report.md and its loss-curve plot.
Usage: python3 demo/digits.py [--out build/demo] [--quick] [--seed S]
"""
import argparse
import gzip
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # reproducible and fastest for tiny GEMMs
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings",
                                "python"))
import zoq  # noqa: E402
from zoq import pref  # noqa: E402

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
HIDDEN, BATCH, GROUP, RANK = 32, 128, 32, 4
# One completion token per sequence: log-prob gaps are O(1), not O(100) as
# for text, so the reward scale beta of the DPO family is 2, not 0.1.
BETA, BETA_LOSSES = 2.0, ("dpo", "ipo", "cpo", "kto", "rpo", "sppo")
PREF_OPTIONS = dict(lr=3e-3, eps=1e-3, queries=4, optimizer="adam")


def load_digits(path=DIGITS):
    with gzip.open(path) as f:
        raw = np.loadtxt(f, delimiter=",")
    x, y = (raw[:, :64] / 16.0).astype(np.float32), raw[:, 64].astype(np.int64)
    test = np.arange(len(y)) % 5 == 0
    return x[~test], y[~test], x[test], y[test]


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


class QuantMLP:
    """The MLP with both weight matrices INT4 (g=32); forward via zoq's matmul."""

    def __init__(self, mlp):
        self.q1 = zoq.QMatrix.quantize(mlp.w1, "int4_group", GROUP)
        self.q2 = zoq.QMatrix.quantize(mlp.w2, "int4_group", GROUP)
        self.b1, self.b2 = mlp.b1.copy(), mlp.b2.copy()

    def hidden(self, x):
        return np.tanh(self.q1.matmul(x) + self.b1)

    def __call__(self, x):
        return self.q2.matmul(self.hidden(x)) + self.b2


class ScaledMLP:
    """The control of QZO: the f32 MLP with each weight written as its INT4
    group's scale times its unrounded code, w = s·(w/s). At the start it is
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

    def __init__(self, name, total, evals_per_step):
        self.name, self.total, self.evals = name, total, evals_per_step
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
                                              rep.eps, rate, rate * self.evals,
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
    and clips their directional derivatives at scale_clip (100) (QZO)."""
    opt = zoq.Optimizer(seed=seed, threads=1, total_steps=steps, **options)
    for pname, a in params.items():
        opt.add_param(pname, a, flags=flags)
    idxs = batches(n_train, steps, seed)
    prog = Progress(name, steps, 2 * opt.get("queries"))
    curve = []
    for t, idx in enumerate(idxs):
        rep = opt.step(lambda: loss_fn(idx))
        curve.append(rep.loss)
        prog.update(t, rep, force=t == steps - 1)
    secs = prog.done()
    return np.array(curve), secs, steps * 2 * opt.get("queries")


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
    prog = Progress("pref " + loss, steps, 2 * opt.get("queries"))
    accs, losses = [], []
    for t, idx in enumerate(batches(n, steps, seed)):
        pairs = idx[:64]  # KTO, GRPO, AERO: both sequences of each pair, side by side
        obj.set_batch(pairs if pairwise else np.stack([2 * pairs, 2 * pairs + 1], 1).ravel())
        rep = opt.step(obj)
        obj.step_done()
        losses.append(rep.loss)
        prog.update(t, rep, force=t == steps - 1)
        if t % 20 == 19:
            accs.append(accuracy(logits(h_te), y_te))
    secs = prog.done()
    train = pref.evaluate(*pairs_scores(logits(h_tr), y_tr, wrong))
    return (accuracy(logits(h_te), y_te), train.accuracy, np.array(accs), secs,
            (np.mean(losses[:20]), np.mean(losses[-20:])))


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
    args = ap.parse_args()
    s0 = 10 * args.seed
    k = 10 if args.quick else 1
    x_tr, y_tr, x_te, y_te = load_digits()
    print("zoq %s demo: UCI digits, %d train / %d held out (every 5th row), MLP 64-%d-10"
          % (zoq.version(), len(y_tr), len(y_te), HIDDEN))
    rows, curves = [], {}

    def row(stage, what, tensors, steps, evals, secs, logits):
        rows.append((stage, what, tensors, steps, evals, secs, accuracy(logits, y_te),
                     xent(logits, y_te)))

    # (a) ZO in f32, and the first-order baseline
    mlp = MLP(seed=s0)
    n_params = sum(p.size for p in mlp.params().values())
    steps = 2000 // k
    curve, secs, evals = zo_train(
        "ZO f32", mlp.params(), lambda idx: xent(mlp(x_tr[idx]), y_tr[idx]), len(y_tr), steps,
        seed=s0 + 1, lr=1e-2, eps=1e-3, queries=4, optimizer="adam", lr_schedule="cosine",
        lr_final=1e-3)
    curves["ZO (zoq), f32"] = curve
    row("a", "ZO-Adam (zoq), f32", "%d weights" % n_params, steps, evals, secs, mlp(x_te))
    fo = MLP(seed=s0)
    fo_curve, fo_secs = first_order(fo, x_tr, y_tr, 500 // k, seed=s0 + 1)
    curves["first order (backprop), f32"] = fo_curve
    row("a", "first-order Adam (numpy backprop)", "%d weights" % n_params, len(fo_curve),
        len(fo_curve), fo_secs, fo(x_te))

    # (b) INT4 round-to-nearest, groups of 32
    qm = QuantMLP(mlp)
    row("b", "INT4 g=32 round-to-nearest", "-", 0, 0, 0.0, qm(x_te))

    # (c) QZO: the scales are the trainable f32 tensors, codes and zeros fixed;
    # the control trains the same scales with the same names, seed and
    # minibatches (so the same directions) over the unrounded weights
    qzo = dict(steps=600 // k, seed=s0 + 2, flags=zoq.PARAM_SCALE, lr=5e-4, eps=1e-3,
               queries=4, optimizer="adam")
    n_scales = qm.q1.scales.size + qm.q2.scales.size
    ctrl = ScaledMLP(mlp, qm)
    for label, model, scales, what in (
            ("QZO (scales of the INT4 model)", qm, (qm.q1.scales, qm.q2.scales),
             "QZO: INT4 scales by ZO + DDC"),
            ("control (same scales, f32 weights)", ctrl, (ctrl.s1, ctrl.s2),
             "control: the same scale tuning on the f32 weights")):
        curve, secs, evals = zo_train(
            label.split(" (")[0], {"q1.scales": scales[0], "q2.scales": scales[1]},
            lambda idx: xent(model(x_tr[idx]), y_tr[idx]), len(y_tr), **qzo)
        curves[label] = curve
        row("c", what, "%d scales" % n_scales, qzo["steps"], evals, secs, model(x_te))

    # (d) LoRA on the INT4 model's output layer under each preference loss
    base = QuantMLP(mlp)
    h_tr, h_te = base.hidden(x_tr), base.hidden(x_te)
    wrong = wrong_of(base, h_tr, y_tr)
    steps = 300 // k
    pref_rows, acc_curves = [], {}
    for loss in pref.LOSSES:
        acc, pair_acc, accs, secs, (l0, l1) = preference_run(
            loss, base, h_tr, y_tr, wrong, h_te, y_te, steps, seed=s0 + 3, **PREF_OPTIONS)
        pref_rows.append((loss, l0, l1, acc, pair_acc, secs))
        acc_curves[loss] = accs
    base_acc = accuracy(base(x_te), y_te)
    base_pairs = pref.evaluate(*pairs_scores(base(x_tr), y_tr, wrong)).accuracy
    lines = table(rows, pref_rows, base_acc, base_pairs, steps)
    print("\n" + "\n".join(lines))
    os.makedirs(args.out, exist_ok=True)
    plot = write_plot(os.path.join(args.out, "loss_curves.png"), curves, acc_curves)
    write_report(os.path.join(args.out, "report.md"), lines, plot, args.seed)
    print("report: %s" % os.path.join(args.out, "report.md"))
    return 0 if args.quick or rows[0][6] >= 0.90 else 1  # the ZO f32 model's accuracy


def table(rows, pref_rows, base_acc, base_pairs, steps):
    out = ["| stage | model | trained | steps | loss evals | time s | held-out acc "
           "| held-out NLL |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for stage, what, tensors, st, ev, secs, acc, nll in rows:
        run = ("%d | %d | %.1f" % (st, ev, secs)) if st else "- | - | -"
        out.append("| %s | %s | %s | %s | %.2f%% | %.3f |"
                   % (stage, what, tensors, run, 100 * acc, nll))
    nll = [r[7] for r in rows]  # f32 ZO, first order, INT4, QZO, control
    out += ["", "INT4 rounding costs %+.4f held-out NLL (%.4f → %.4f); tuning the scales, QZO "
            "reaches %.4f and the same tuning of the unrounded f32 weights %.4f: the rounding's "
            "cost after tuning is %+.4f." % (nll[2] - nll[0], nll[0], nll[2], nll[3], nll[4],
                                             nll[3] - nll[4])]
    out += ["", "LoRA rank %d on the INT4 model's output layer (%d adapter weights), %d steps, "
            "64 pairs a step; base: %.2f%% held-out accuracy, %.2f%% of the training pairs "
            "ranked right." % (RANK, RANK * (HIDDEN + 10), steps, 100 * base_acc,
                               100 * base_pairs), "",
            "| loss | loss, first → last 20 steps | held-out acc | training pairs right | "
            "time s |", "|---|---:|---:|---:|---:|"]
    for loss, l0, l1, acc, pair_acc, secs in pref_rows:
        out.append("| %s | %.4f → %.4f | %.2f%% | %.2f%% | %.1f |"
                   % (loss, l0, l1, 100 * acc, 100 * pair_acc, secs))
    return out


def write_plot(path, curves, acc_curves):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot; apt-get install python3-matplotlib)")
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, c in curves.items():
        w = max(1, len(c) // 50)
        smooth = np.convolve(c, np.ones(w) / w, mode="valid")
        ax1.plot(np.arange(len(smooth)) + w, smooth, label=name)
    ax1.set(xlabel="step", ylabel="training loss (cross-entropy, minibatch)", yscale="log",
            title="Classification")
    ax1.legend()
    for name, a in acc_curves.items():
        ax2.plot(20 * (np.arange(len(a)) + 1), 100 * a, label=name)
    ax2.set(xlabel="step", ylabel="held-out accuracy %", title="LoRA by preference loss")
    ax2.legend(ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return os.path.basename(path)


def write_report(path, table_lines, plot, seed):
    lines = ["# zoq demo: ZO fine-tuning on UCI digits", "",
             "Produced by `make demo` (`demo/digits.py`), zoq %s. Train: the 1437 rows whose "
             "index is not a multiple of 5; held out: the other 360. MLP 64-%d-10 (tanh), "
             "minibatches of %d, seeds fixed (`--seed %d`)." % (zoq.version(), HIDDEN, BATCH, seed),
             ""]
    lines += table_lines
    if plot:
        lines += ["", "![loss curves](%s)" % plot]
    lines += ["", "Stages: (a) ZO-Adam through `zoq.Optimizer.step`, 4 directions a step "
              "(8 forward passes); the baseline trains the same MLP on the same minibatches "
              "with exact gradients. (b) `zoq_qmatrix_quantize`, INT4 with a scale and zero "
              "per 32 inputs. (c) QZO (Shang et al. 2025, arXiv:2505.13430): only the scales are "
              "perturbed and updated, directional derivatives clipped to [-100, 100] (DDC), "
              "scales floored at 0; forward through `zoq_qmatrix_matmul`. The control tunes the "
              "same scales with the same seed, steps and minibatches over the unrounded f32 "
              "weights (w = s·(w/s)): QZO minus control is what the rounding still costs. "
              "(d) zoq's preference "
              "objective; a pair is (correct label, the INT4 model's strongest wrong label), "
              "the reference is the INT4 model without the adapter.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
