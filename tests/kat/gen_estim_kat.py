#!/usr/bin/env python3
"""Known answers for the update rules (docs/algorithms.md), written from the
equations alone: SGD with weight decay, DDC clipping, ZO-SGD-Sign, momentum,
ZO-Adam, gradient accumulation, HiZOO's diagonal Hessian and Sparse MeZO's
magnitude and random masks (the random bits and the mask epoch of
docs/rng.md section 4b), each over a few steps with a fixed
table of losses; then LoZO and LOZO-M on a 2-D tensor beside a 1-D one, over
steps that redraw V (the factors' reprojection, and directions gathered in
an earlier V period). Directions come from gen_rng_kat.py (an implementation of
docs/rng.md written without the C code); the arithmetic here is float64, so
the C test compares with a relative tolerance.

    python3 tests/kat/gen_estim_kat.py           rewrite tests/kat/estim_vectors.h
    python3 tests/kat/gen_estim_kat.py --check   exit 1 if it is out of date
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_rng_kat as rng  # noqa: E402
import katfile  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "estim_vectors.h")
N, STEPS, SEED, NAME = 37, 6, 5, "w"
MAX_POINTS = 5

# (name, estimator 0 central / 1 forward, queries, optimizer 0 sgd / 1 momentum / 2 adam,
#  sign, accumulate, lr, eps, weight decay, clip, momentum, beta1, beta2, adam eps,
#  hessian, hessian alpha, hessian floor, sparse 0 off / 1 magnitude / 2 random,
#  sparse keep, sparse every)
S0 = (0, 0.5, 1)
H0 = (0, 1e-8, 1e-8) + S0
CASES = [
    ("sgd", 0, 2, 0, 0, 1, 0.05, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8) + H0,
    ("sgd_wd_clip", 0, 2, 0, 0, 1, 0.05, 0.01, 0.1, 5.0, 0.9, 0.9, 0.999, 1e-8) + H0,
    ("sign", 0, 2, 0, 1, 1, 0.01, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8) + H0,
    ("momentum", 0, 2, 1, 0, 1, 0.02, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8) + H0,
    ("adam", 0, 2, 2, 0, 1, 0.01, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8) + H0,
    ("accumulate3", 0, 2, 0, 0, 3, 0.05, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8) + H0,
    ("adam_acc2_clip_wd", 0, 2, 2, 0, 2, 0.01, 0.01, 0.05, 10.0, 0.9, 0.8, 0.99, 1e-6) + H0,
    ("forward_momentum_sign", 1, 3, 1, 1, 1, 0.003, 0.02, 0.0, 0.0, 0.5, 0.9, 0.999, 1e-8) + H0,
    ("hizoo_sgd", 0, 1, 0, 0, 1, 0.01, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8, 1, 1e-4, 1e-8)
    + S0,
    ("hizoo_momentum_floor", 0, 2, 1, 0, 1, 0.005, 1.0, 0.02, 0.0, 0.9, 0.9, 0.999, 1e-8,
     1, 0.9, 0.5) + S0,
    ("hizoo_adam_acc2_clip", 0, 2, 2, 0, 2, 0.01, 0.01, 0.0, 20.0, 0.9, 0.9, 0.999, 1e-8,
     1, 1e-3, 1e-8) + S0,
    # sparse masks: epochs change inside the run (every 3 steps; every 2 windows of 2 steps)
    ("random_every3", 0, 2, 0, 0, 1, 0.05, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8, 0, 1e-8, 1e-8,
     2, 0.4, 3),
    ("random_acc2_every2_momentum", 0, 2, 1, 0, 2, 0.05, 0.01, 0.1, 0.0, 0.8, 0.9, 0.999, 1e-8,
     0, 1e-8, 1e-8, 2, 0.6, 2),
    ("random_forward_acc3", 1, 3, 0, 0, 3, 0.01, 0.02, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8,
     0, 1e-8, 1e-8, 2, 0.5, 1),
    ("magnitude_every2", 0, 2, 0, 0, 1, 0.2, 0.01, 0.0, 0.0, 0.9, 0.9, 0.999, 1e-8, 0, 1e-8, 1e-8,
     1, 0.4, 2),
    ("magnitude_acc2_every2_adam_wd", 0, 2, 2, 0, 2, 0.05, 0.01, 0.5, 0.0, 0.9, 0.9, 0.999, 1e-8,
     0, 1e-8, 1e-8, 1, 0.3, 2),
]


def theta0():
    return [float(np.float32(0.5 * math.sin(i + 1))) for i in range(N)]


def losses():
    return [[1.0 + 0.3 * math.sin(7 * t + 3 * p) + 0.05 * p for p in range(MAX_POINTS)]
            for t in range(STEPS)]


def random_mask(key, epoch, keep):
    """docs/rng.md 4b: element i is perturbed iff u < keep (binary32), u from word i mod 4 of
    block i // 4 of stream 2 of (key, epoch, query 0)."""
    u = [(rng.block(key, epoch, 0, 2, i // 4)[i % 4] >> 8) * 2.0 ** -24 for i in range(N)]
    return [1.0 if u[i] < float(np.float32(keep)) else 0.0 for i in range(N)]


def magnitude_tau(th, keep):
    """The ceil(keep * N)-th smallest |θ| of the binary32 θ, asserting that no other |θ| lies
    within a relative 1e-4 of it (so that float64 here and binary32 in C order them alike)."""
    a = sorted(abs(float(np.float32(x))) for x in th)
    k = max(math.ceil(keep * N) - 1, 0)
    assert all(abs(x - a[k]) > 1e-4 * a[k] for j, x in enumerate(a) if j != k), "|θ| tie"
    return a[k]


def run(case):
    (_, est, nq, opt, sign, acc, lr, eps, wd, clip, mu, b1, b2, aeps, hz, alpha, floor,
     sparse, keep, every) = case
    key = rng.tensor_key(SEED, NAME)
    th = theta0()
    m, v, sig = [0.0] * N, [0.0] * N, [1.0] * N
    gathered, updates, clipped, applied = [], 0, [], []
    mask, epoch, tau = [1.0] * N, -1, 0.0
    L = losses()
    for t in range(STEPS):
        if sparse and not gathered:  # a window opens: its mask epoch is updates // every
            if sparse == 2:
                mask = random_mask(key, updates // every, keep)
            else:  # τ is recomputed when the epoch changes, |θ| <= τ from θ as it is now
                if updates // every != epoch:
                    tau = magnitude_tau(th, keep)
                a = [abs(float(np.float32(x))) for x in th]
                assert all(abs(x - tau) > 1e-4 * tau or x == tau for x in a), "|θ| near τ"
                mask = [1.0 if x <= tau else 0.0 for x in a]
            epoch = updates // every
        if hz:  # points: θ, then θ ± ε z_q/√Σ
            g = [(L[t][1 + 2 * q] - L[t][2 + 2 * q]) / (2 * eps) for q in range(nq)]
            h = [abs(L[t][1 + 2 * q] + L[t][2 + 2 * q] - 2 * L[t][0]) / (2 * eps * eps)
                 for q in range(nq)]
        elif est == 0:
            g = [(L[t][2 * q] - L[t][2 * q + 1]) / (2 * eps) for q in range(nq)]
        else:
            g = [(L[t][q + 1] - L[t][0]) / eps for q in range(nq)]
        c = 0
        for q in range(nq):
            w = g[q]
            if clip > 0 and abs(w) > clip:
                w, c = math.copysign(clip, w), c + 1
            if sign:
                w = (w > 0) - (w < 0)
            gathered.append((t, q, w))
        clipped.append(c)
        if hz:  # Σ ← (1 − α)Σ + α (1/n) Σ_q h_q Σ ⊙ z_q², floored; every step
            zs = [rng.noise(key, t, q, 0, 0, 0, N) for q in range(nq)]
            for i in range(N):
                s = (1 - alpha) * sig[i] + sum(alpha * h[q] / nq * sig[i] * float(zs[q][i]) ** 2
                                               for q in range(nq))
                sig[i] = max(s, floor)
        done = len(gathered) // nq >= acc
        applied.append(int(done))
        if not done:
            continue
        gh = [0.0] * N
        for (s, q, w) in gathered:  # the window's one mask (all ones when sparse is off)
            z = rng.noise(key, s, q, 0, 0, 0, N)
            for i in range(N):
                gh[i] += w * float(z[i]) * mask[i] / math.sqrt(sig[i]) / len(gathered)
        gathered, updates = [], updates + 1
        for i in range(N):
            th[i] *= 1 - lr * wd
            if opt == 0:
                th[i] -= lr * gh[i]
            elif opt == 1:
                m[i] = mu * m[i] + gh[i]
                th[i] -= lr * m[i]
            else:
                m[i] = b1 * m[i] + (1 - b1) * gh[i]
                v[i] = b2 * v[i] + (1 - b2) * gh[i] ** 2
                mh, vh = m[i] / (1 - b1 ** updates), v[i] / (1 - b2 ** updates)
                th[i] -= lr * mh / (math.sqrt(vh) + aeps)
    return th, clipped, applied


# LoZO: a ROWS x COLS tensor "W" (low-rank directions) and a 1-D "b" (plain z).
ROWS, COLS, NB = 6, 9, 5
# (name, queries, optimizer 0 sgd / 1 momentum, accumulate, rank, interval nu,
#  lr, eps, weight decay, clip, momentum)
LOZO_CASES = [
    ("lozo_sgd", 1, 0, 1, 3, 2, 0.02, 0.01, 0.0, 0.0, 0.9),
    ("lozo_m", 1, 1, 1, 3, 2, 0.02, 0.01, 0.0, 0.0, 0.7),
    ("lozo_m_q2_acc2_wd_clip", 2, 1, 2, 2, 3, 0.01, 0.01, 0.1, 5.0, 0.8),
]


def lozo_theta0():
    w = [float(np.float32(0.3 * math.cos(0.7 * i + 0.2))) for i in range(ROWS * COLS)]
    b = [float(np.float32(0.1 * (i - 2))) for i in range(NB)]
    return w, b


def lozo_run(case):
    _, nq, opt, acc, r, nu, lr, eps, wd, clip, mu = case
    kw, kb = rng.tensor_key(SEED, "W"), rng.tensor_key(SEED, "b")
    w0, b0 = lozo_theta0()
    W = np.array(w0, dtype=np.float64).reshape(ROWS, COLS)
    b = np.array(b0, dtype=np.float64)

    def U(step, q):
        return np.array(rng.noise(kw, step, q, 3, 0, 0, ROWS * r), np.float64).reshape(ROWS, r)

    def V(step, q):
        vs = step - step % nu
        return np.array(rng.noise(kw, vs, q, 4, 0, 0, COLS * r), np.float64).reshape(COLS, r)

    def zb(step, q):
        return np.array(rng.noise(kb, step, q, 0, 0, 0, NB), np.float64)

    N = [np.zeros((ROWS, r)) for _ in range(nq)]  # LOZO-M factors: momentum = sum N_q V_qᵀ
    fac_v, mb = 0, np.zeros(NB)  # the V step the factors pair with; b's momentum
    gathered = []
    L = losses()
    for t in range(STEPS):
        for q in range(nq):
            g = (L[t][2 * q] - L[t][2 * q + 1]) / (2 * eps)
            if clip > 0 and abs(g) > clip:
                g = math.copysign(clip, g)
            gathered.append((t, q, g))
        if len(gathered) // nq < acc:
            continue
        ng, vcur = len(gathered), t - t % nu
        gb = sum(wt * zb(s, q) for (s, q, wt) in gathered) / ng
        W *= 1 - lr * wd
        b *= 1 - lr * wd
        if opt == 0:
            W -= lr * sum(wt * U(s, q) @ V(s, q).T / math.sqrt(r) for (s, q, wt) in gathered) / ng
            b -= lr * gb
        else:
            for q in range(nq):
                if fac_v != vcur:  # reproject onto the new V: N V_oldᵀ V_new / cols
                    N[q] = N[q] @ (V(fac_v, q).T @ V(vcur, q)) / COLS
                N[q] = mu * N[q]
                for (s, qe, wt) in gathered:
                    if qe != q:
                        continue
                    term = wt / ng / math.sqrt(r) * U(s, q)
                    if s - s % nu != vcur:  # gathered under an earlier V
                        term = term @ (V(s, q).T @ V(vcur, q)) / COLS
                    N[q] = N[q] + term
            fac_v = vcur
            W -= lr * sum(N[q] @ V(vcur, q).T for q in range(nq))
            mb = mu * mb + gb
            b -= lr * mb
        gathered = []
    return list(W.reshape(-1)), list(b)


def lozo_generate():
    w0, b0 = lozo_theta0()
    out = [f"#define KAT_LOZO_ROWS {ROWS}", f"#define KAT_LOZO_COLS {COLS}",
           f"#define KAT_LOZO_NB {NB}", "",
           "static const float kat_lozo_w0[KAT_LOZO_ROWS * KAT_LOZO_COLS] = {"]
    out += ["    %.9ef," % x for x in w0] + ["};", ""]
    out += ["static const float kat_lozo_b0[KAT_LOZO_NB] = {"]
    out += ["    %.9ef," % x for x in b0] + ["};", ""]
    out += ["typedef struct {", "    const char *name;",
            "    int queries, optimizer, accumulate, rank, interval;",
            "    double lr, eps, weight_decay, clip, momentum;",
            "    double w[KAT_LOZO_ROWS * KAT_LOZO_COLS], b[KAT_LOZO_NB];", "} kat_lozo_t;", "",
            "static const kat_lozo_t kat_lozo[] = {"]
    for case in LOZO_CASES:
        w, b = lozo_run(case)
        ints = ", ".join(str(x) for x in case[1:6])
        reals = ", ".join("%.17g" % x for x in case[6:])
        out.append(f'    {{"{case[0]}", {ints}, {reals},')
        out.append("     {" + ", ".join("%.17g" % x for x in w) + "},")
        out.append("     {" + ", ".join("%.17g" % x for x in b) + "}},")
    out += ["};", ""]
    return out


def generate():
    out = ["/* Generated by tests/kat/gen_estim_kat.py from docs/algorithms.md -- DO NOT EDIT.",
           " * Regenerate: python3 tests/kat/gen_estim_kat.py   (check: --check) */",
           "#ifndef ZOQ_TESTS_KAT_ESTIM_VECTORS_H", "#define ZOQ_TESTS_KAT_ESTIM_VECTORS_H", "",
           f"#define KAT_ESTIM_N {N}", f"#define KAT_ESTIM_STEPS {STEPS}",
           f"#define KAT_ESTIM_SEED {SEED}", f'#define KAT_ESTIM_NAME "{NAME}"', "",
           "static const float kat_estim_theta0[KAT_ESTIM_N] = {"]
    out += ["    %.9gf," % x for x in theta0()] + ["};", ""]
    out.append(f"static const double kat_estim_losses[KAT_ESTIM_STEPS][{MAX_POINTS}] = {{")
    out += ["    {" + ", ".join("%.17g" % x for x in row) + "}," for row in losses()] + ["};", ""]
    out += ["typedef struct {", "    const char *name;",
            "    int estimator, queries, optimizer, sign, accumulate;",
            "    double lr, eps, weight_decay, clip, momentum, beta1, beta2, adam_eps;",
            "    int hessian;",
            "    double hessian_alpha, hessian_floor;",
            "    int sparse;",
            "    double sparse_keep;",
            "    int sparse_every;",
            "    int clipped[KAT_ESTIM_STEPS], applied[KAT_ESTIM_STEPS];",
            "    double theta[KAT_ESTIM_N];", "} kat_estim_t;", "",
            "static const kat_estim_t kat_estim[] = {"]
    for case in CASES:
        th, clipped, applied = run(case)
        ints = ", ".join(str(x) for x in case[1:6])
        reals = ", ".join("%.17g" % x for x in case[6:14])
        hz = "%d, %.17g, %.17g, %d, %.17g, %d" % case[14:]
        out.append(f'    {{"{case[0]}", {ints}, {reals}, {hz},')
        out.append("     {" + ", ".join(map(str, clipped)) + "}, {" +
                   ", ".join(map(str, applied)) + "},")
        out.append("     {" + ", ".join("%.17g" % x for x in th) + "}},")
    out += ["};", ""] + lozo_generate() + ["#endif", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(katfile.main(__doc__, OUT, generate))
