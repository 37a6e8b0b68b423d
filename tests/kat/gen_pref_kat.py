#!/usr/bin/env python3
"""Known answers for zoq's preference losses and statistics (lib/pref).

Written from the formulas in docs/preference.md (and ../shared/DESIGN.md),
independently of the C code: every value is computed with mpmath at 60
significant digits from the exact double inputs, then rounded once to double.
The statistics are cross-checked against scipy.stats.

    python3 tests/kat/gen_pref_kat.py           # writes tests/kat/pref_vectors.h
    python3 tests/kat/gen_pref_kat.py --check   # exit 1 if the file is stale

Needs mpmath and scipy (pip install mpmath scipy).
"""
import os
import random
import sys

import mpmath as mp
from scipy import stats as sst

import katfile

mp.mp.dps = 60
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pref_vectors.h")

DPO, IPO, SIMPO, CPO, ORPO, KTO, RPO, SPPO, GRPO, AERO = range(10)
NAMES = ["dpo", "ipo", "simpo", "cpo", "orpo", "kto", "rpo", "sppo", "grpo", "aero"]
NAN = float("nan")


def M(x):
    return mp.mpf(x)  # exact: every double is an mpf


# ---- scalar functions, straight from their definitions ----------------------

def logsig(x):
    # log σ(x) = -log(1 + e^-x); log1p keeps e^-x when it is below 1e-60
    return -mp.log1p(mp.exp(-x))


def sig(x):
    return 1 / (1 + mp.exp(-x))


def log1mexp(x):
    return mp.log(-mp.expm1(x))


def defaults(loss):
    p = dict(beta=0.1, ls=0.0, gamma=1.375, alpha=1.0, lam=0.1, wd=1.0, wu=1.0,
             clip=0.2, scale=1)
    if loss == SIMPO:
        p["beta"] = 2.5
    if loss in (GRPO, AERO):
        p["beta"] = 0.0
    return p


# ---- the losses -------------------------------------------------------------
# Each returns a dict: loss, items (per-item loss), and the diagnostics, plus
# "scale" magnitudes used for the test tolerance where terms can cancel.

def smooth_sig_loss(u, ls):
    return -(1 - M(ls)) * logsig(u) - M(ls) * logsig(-u)


def nll_of(c, i):
    if c.get("nll") is not None:
        return M(c["nll"][i])
    return -M(c["pc"][i]) / M(c["lc"][i])


def pairwise(loss, p, c):
    n = len(c["pc"])
    beta = M(p["beta"])
    items, rcs, rrs, nlls, los = [], [], [], [], []
    for i in range(n):
        pc, pr = M(c["pc"][i]), M(c["pr"][i])
        nll = mp.mpf(0)
        if loss in (DPO, RPO, SPPO):
            a = pc - M(c["rc"][i])
            b = pr - M(c["rr"][i])
            if loss == SPPO:
                t = 1 / (2 * beta)
                l = (a - t) ** 2 + (b + t) ** 2
            else:
                l = smooth_sig_loss(beta * (a - b), p["ls"])
                if loss == RPO:
                    nll = nll_of(c, i)
                    l += M(p["alpha"]) * nll
            rc, rr = beta * a, beta * b
        elif loss == IPO:
            a = (pc - M(c["rc"][i])) / M(c["lc"][i])
            b = (pr - M(c["rr"][i])) / M(c["lr"][i])
            l = (a - b - 1 / (2 * beta)) ** 2
            rc, rr = beta * a, beta * b
        elif loss == SIMPO:
            ac, ar = pc / M(c["lc"][i]), pr / M(c["lr"][i])
            l = smooth_sig_loss(beta * (ac - ar) - M(p["gamma"]), p["ls"])
            rc, rr = beta * ac, beta * ar
        elif loss == CPO:
            nll = nll_of(c, i)
            l = smooth_sig_loss(beta * (pc - pr), p["ls"]) + M(p["alpha"]) * nll
            rc, rr = beta * pc, beta * pr
        elif loss == ORPO:
            ac, ar = pc / M(c["lc"][i]), pr / M(c["lr"][i])
            lo = (ac - ar) - (log1mexp(ac) - log1mexp(ar))
            nll = nll_of(c, i)
            l = nll - M(p["lam"]) * logsig(lo)
            rc, rr = M(p["lam"]) * ac, M(p["lam"]) * ar
            los.append(lo)
        items.append(l)
        rcs.append(rc)
        rrs.append(rr)
        nlls.append(nll)
    r = dict(items=items, loss=sum(items) / n,
             rc=sum(rcs) / n, rr=sum(rrs) / n,
             acc=mp.mpf(sum(1 for x, y in zip(rcs, rrs) if x > y)) / n,
             margin=sum(x - y for x, y in zip(rcs, rrs)) / n,
             kl=mp.mpf(0), nll=sum(nlls) / n if loss in (CPO, ORPO, RPO) else mp.mpf(0),
             log_odds=sum(los) / n if loss == ORPO else mp.mpf(0), baseline=mp.mpf(0),
             adv=None)
    r["margin_scale"] = sum(abs(x) + abs(y) for x, y in zip(rcs, rrs)) / n
    return r


def kto(p, c):
    n = len(c["pc"])
    beta = M(p["beta"])
    if c.get("klp") is not None:
        z0 = sum(M(x) - M(y) for x, y in zip(c["klp"], c["klr"])) / len(c["klp"])
    else:
        z0 = M(c.get("z0", 0.0))
    z0 = max(z0, mp.mpf(0))
    items, d, u, right = [], [], [], 0
    for i in range(n):
        a = M(c["pc"][i]) - M(c["rc"][i])
        if c["labels"][i] == 1:
            items.append(M(p["wd"]) * (1 - sig(beta * (a - z0))))
            d.append(beta * a)
            right += a > z0
        else:
            items.append(M(p["wu"]) * (1 - sig(beta * (z0 - a))))
            u.append(beta * a)
            right += a < z0
    rc = sum(d) / len(d) if d else mp.mpf(0)
    rr = sum(u) / len(u) if u else mp.mpf(0)
    r = dict(items=items, loss=sum(items) / n, rc=rc, rr=rr, acc=mp.mpf(right) / n,
             margin=rc - rr, kl=z0, nll=mp.mpf(0), log_odds=mp.mpf(0), baseline=mp.mpf(0),
             adv=None)
    r["margin_scale"] = abs(rc) + abs(rr)
    return r


def groups_of(c):
    n = len(c["pc"])
    g = c.get("groups")
    if g is None:
        return [list(range(n))]
    out, cur = [], [0]
    for i in range(1, n):
        if g[i] == g[i - 1]:
            cur.append(i)
        else:
            out.append(cur)
            cur = [i]
    out.append(cur)
    return out


def aero_first_base(rewards):
    r = [M(x) for x in rewards]
    m = sum(r) / len(r)
    return m, sum((x - m) ** 2 for x in r) / len(r)


def group_loss(loss, p, c):
    """GRPO (group mean/std) or AERO (baseline b, mean squared deviation v)."""
    n = len(c["pc"])
    r = [M(x) for x in c["rewards"]]
    eps = mp.mpf("1e-4")
    adv = [None] * n
    if loss == GRPO:
        for g in groups_of(c):
            k = len(g)
            m = sum(r[j] for j in g) / k
            sd = mp.sqrt(sum((r[j] - m) ** 2 for j in g) / (k - 1)) if k > 1 else mp.mpf(0)
            for j in g:
                a = r[j] - m if k > 1 else mp.mpf(0)
                adv[j] = a / (sd + eps) if p["scale"] else a
    else:
        if c["aero_count"] > 0:
            b, v = M(c["aero_b"]), M(c["aero_v"])
        else:
            b, v = aero_first_base(c["rewards"])
        for j in range(n):
            a = r[j] - b
            adv[j] = a / (mp.sqrt(v) + eps) if p["scale"] else a
    items, kls = [], []
    for j in range(n):
        L = M(c["lc"][j])
        pbar = M(c["pc"][j]) / L
        A = adv[j]
        if c.get("old") is None:
            l = -A * pbar
        elif A == 0:
            l = mp.mpf(0)
        else:
            rho = mp.exp(pbar - M(c["old"][j]) / L)
            rcl = min(max(rho, 1 - M(p["clip"])), 1 + M(p["clip"]))
            l = -min(rho * A, rcl * A)
        if c.get("rc") is not None:
            dd = (M(c["rc"][j]) - M(c["pc"][j])) / L
            kl = mp.exp(dd) - dd - 1
            kls.append(kl)
            l += M(p["beta"]) * kl
        items.append(l)
    hi = [r[j] for j in range(n) if adv[j] > 0]
    lo = [r[j] for j in range(n) if adv[j] < 0]
    rc = sum(hi) / len(hi) if hi else mp.mpf(0)
    rr = sum(lo) / len(lo) if lo else mp.mpf(0)
    pairs = right = 0
    for g in groups_of(c):
        for x in range(len(g)):
            for y in range(x + 1, len(g)):
                j, k = g[x], g[y]
                if r[j] == r[k]:
                    continue
                pj = M(c["pc"][j]) / M(c["lc"][j])
                pk = M(c["pc"][k]) / M(c["lc"][k])
                pairs += 1
                right += (pj > pk) if r[j] > r[k] else (pk > pj)
    res = dict(items=items, loss=sum(items) / n, rc=rc, rr=rr,
               acc=mp.mpf(right) / pairs if pairs else None, margin=rc - rr,
               kl=sum(kls) / n if kls else mp.mpf(0), nll=mp.mpf(0), log_odds=mp.mpf(0),
               baseline=(b if loss == AERO else mp.mpf(0)), adv=adv)
    res["margin_scale"] = abs(rc) + abs(rr)
    return res


def evaluate(loss, p, c):
    if loss == KTO:
        return kto(p, c)
    if loss in (GRPO, AERO):
        return group_loss(loss, p, c)
    return pairwise(loss, p, c)


def d_loss_d_pc0(loss, p, c):
    def f(t):
        cc = dict(c)
        cc["pc"] = [t] + list(c["pc"][1:])
        return evaluate(loss, p, cc)["loss"]
    return mp.diff(f, M(c["pc"][0]))


# ---- the cases ----------------------------------------------------------------

def rnd_list(rng, n, lo, hi, digits=4):
    return [round(rng.uniform(lo, hi), digits) for _ in range(n)]


def build_cases():
    rng = random.Random(20260515)
    cases = []

    def add(name, loss, fd_sign, over=None, **arrays):
        p = defaults(loss)
        p.update(over or {})
        c = dict(arrays)
        c.setdefault("aero_count", 0)
        c.setdefault("aero_b", 0.0)
        c.setdefault("aero_v", 0.0)
        cases.append(dict(name=name, loss=loss, p=p, c=c, fd_sign=fd_sign))

    def pair_arrays(n, scale=60.0, ref_spread=5.0, tok=(5, 60)):
        pc = rnd_list(rng, n, -scale, -1.0)
        pr = rnd_list(rng, n, -scale, -1.0)
        rc = [round(x + rng.uniform(-ref_spread, ref_spread), 4) for x in pc]
        rr = [round(x + rng.uniform(-ref_spread, ref_spread), 4) for x in pr]
        lc = [float(rng.randint(*tok)) for _ in range(n)]
        lr = [float(rng.randint(*tok)) for _ in range(n)]
        return dict(pc=pc, pr=pr, rc=rc, rr=rr, lc=lc, lr=lr)

    # DPO: typical; |βh| = 1000 both ways and h = 0; label smoothing; huge values
    add("dpo_typical", DPO, -1, **pair_arrays(5))
    add("dpo_extreme", DPO, 0, pc=[-10.0, -10010.0, -5.0, -7.5], pr=[-10010.0, -10.0, -5.0, -7.5],
        rc=[-10.0, -10.0, -5.0, -7.0], rr=[-10.0, -10.0, -5.0, -8.0])
    add("dpo_smooth", DPO, -1, {"beta": 0.5, "ls": 0.1}, **pair_arrays(4))
    add("dpo_large", DPO, -1, {"beta": 0.01},
        pc=[-123456.5, -98765.25, -4000.0], pr=[-123400.0, -98770.0, -4100.0],
        rc=[-123450.0, -98760.0, -4001.0], rr=[-123399.0, -98769.0, -4099.5])
    # IPO: typical; tokens 1 and 1e6; small β (target 50)
    add("ipo_typical", IPO, -1, **pair_arrays(5))
    add("ipo_tokens", IPO, -1, pc=[-3.0, -2.5e5, -40.0], pr=[-4.0, -3.0e5, -41.0],
        rc=[-2.5, -2.6e5, -39.0], rr=[-4.5, -2.9e5, -40.0], lc=[1.0, 1e6, 1.0],
        lr=[1.0, 1e6, 1e6])
    add("ipo_small_beta", IPO, -1, {"beta": 0.01}, **pair_arrays(4))
    # SimPO: typical; β(ā_c - ā_r) - γ = ±1000; tokens 1 and 1e6; smoothing
    add("simpo_typical", SIMPO, -1, **pair_arrays(5))
    add("simpo_extreme", SIMPO, 0, {"beta": 10.0, "gamma": 0.0},
        pc=[-1.0, -101.0, -2.0], pr=[-101.0, -1.0, -3.0], lc=[1.0, 1.0, 1e6], lr=[1.0, 1.0, 1.0])
    add("simpo_smooth", SIMPO, -1, {"ls": 0.2, "gamma": 0.5}, **pair_arrays(4))
    # CPO: derived NLL; explicit NLL; β(π_c - π_r) = ±1000
    add("cpo_typical", CPO, -1, **pair_arrays(5))
    c = pair_arrays(4)
    c["nll"] = [round(rng.uniform(0.2, 3.0), 4) for _ in range(4)]
    add("cpo_nll", CPO, -1, {"alpha": 0.5, "ls": 0.05}, **c)
    add("cpo_extreme", CPO, -1, pc=[-10.0, -10010.0], pr=[-10010.0, -10.0], lc=[10.0, 1e6],
        lr=[10.0, 10.0])
    # ORPO: typical; mean log-prob -1e-12 (tokens 1e6); both sides of -ln 2; -50
    c = pair_arrays(5, scale=60.0, tok=(10, 60))
    add("orpo_typical", ORPO, -1, **c)
    add("orpo_edges", ORPO, -1, pc=[-0.69, -1e-6, -50.0, -0.7], pr=[-0.7, -2.0, -60.0, -0.69],
        lc=[1.0, 1e6, 1.0, 1.0], lr=[1.0, 1.0, 1.0, 1.0])
    c = pair_arrays(4, tok=(10, 60))
    c["nll"] = [round(rng.uniform(0.2, 3.0), 4) for _ in range(4)]
    add("orpo_nll", ORPO, -1, {"lam": 0.5}, **c)
    # KTO: mismatched-KL estimate; given z0; clamp of a negative estimate;
    # |βa| = 1000; weights; an undesirable first item (loss rises with π)
    add("kto_kl", KTO, -1, pc=[-20.0, -35.5, -12.25, -40.0, -18.0],
        rc=[-22.0, -33.0, -12.0, -41.5, -18.5], labels=[1, 0, 1, 0, 1],
        klp=[-30.0, -25.5, -40.0], klr=[-31.25, -26.0, -39.0])
    add("kto_z0", KTO, -1, {"wd": 1.33, "wu": 0.75}, pc=[-20.0, -35.5, -12.25],
        rc=[-22.0, -33.0, -12.0], labels=[1, 0, 0], z0=0.8)
    add("kto_clamp", KTO, -1, pc=[-20.0, -35.5], rc=[-22.0, -33.0], labels=[1, 0],
        klp=[-30.0, -25.0], klr=[-29.0, -24.0])
    add("kto_extreme", KTO, 0, pc=[-10010.0, -10.0, -10.0, -10010.0],
        rc=[-10.0, -10010.0, -10010.0, -10.0], labels=[1, 1, 0, 0])
    add("kto_undesirable", KTO, +1, pc=[-15.0, -20.0], rc=[-16.0, -21.0], labels=[0, 1], z0=0.5)
    # RPO: derived NLL; explicit NLL with α and smoothing
    add("rpo_typical", RPO, -1, **pair_arrays(5))
    c = pair_arrays(4)
    c["nll"] = [round(rng.uniform(0.2, 3.0), 4) for _ in range(4)]
    add("rpo_nll", RPO, -1, {"alpha": 0.25, "ls": 0.1, "beta": 0.2}, **c)
    # SPPO: typical (below target); small β; big values
    add("sppo_typical", SPPO, -1, **pair_arrays(5))
    add("sppo_small_beta", SPPO, -1, {"beta": 0.01}, **pair_arrays(4))
    add("sppo_large", SPPO, -1, pc=[-5000.0, -3.0], pr=[-2.0, -7000.0], rc=[-4000.0, -1.0],
        rr=[-1.0, -6000.5])
    # GRPO: two groups with a KL term; one group; clipped ratios; unscaled;
    # equal rewards in a group and a group of one
    pc = [-30.0, -45.5, -12.0, -60.25, -22.0, -18.5, -41.0, -9.75]
    lc = [30.0, 41.0, 15.0, 52.0, 20.0, 22.0, 35.0, 11.0]
    add("grpo_groups", GRPO, -1, {"beta": 0.04}, pc=pc, lc=lc,
        rc=[x + d for x, d in zip(pc, [1.5, -2.0, 0.25, 3.0, -1.0, 0.5, -0.75, 0.125])],
        rewards=[1.0, 0.0, 0.5, 0.0, 0.25, 1.0, 0.75, 0.0], groups=[7, 7, 7, 7, 3, 3, 3, 3])
    add("grpo_one_group", GRPO, -1, pc=pc[:5], lc=lc[:5], rewards=[0.9, 0.1, 0.4, 0.4, 0.0])
    add("grpo_clip", GRPO, -1, {"clip": 0.2}, pc=pc[:6], lc=lc[:6],
        old=[-31.0, -40.0, -12.5, -60.0, -28.0, -18.0],
        rewards=[1.0, 0.0, 0.5, 0.0, 0.25, 1.0], groups=[1, 1, 1, 2, 2, 2])
    add("grpo_unscaled", GRPO, -1, {"scale": 0, "beta": 0.1}, pc=pc[:4], lc=lc[:4],
        rc=[x - 0.5 for x in pc[:4]], rewards=[2.0, -1.0, 0.5, 3.0], groups=[5, 5, 5, 5])
    # reference within 1e-6 nats per token: the k3 KL is ~d²/2 = 5e-13
    add("grpo_kl_tiny", GRPO, -1, {"beta": 0.04}, pc=pc[:4], lc=lc[:4],
        rc=[x + 1e-6 * L for x, L in zip(pc[:4], lc[:4])], rewards=[1.0, 0.0, 0.5, 0.25])
    # mean token log-ratios on both sides of the series/expm1 switch at |d| = 1
    add("grpo_kl_far", GRPO, -1, {"beta": 0.04}, pc=pc[:5], lc=lc[:5],
        rc=[x + d * L for x, d, L in zip(pc[:5], [0.01, -0.9, 0.9, 2.5, -3.0], lc[:5])],
        rewards=[1.0, 0.0, 0.5, 0.25, 0.75])
    add("grpo_degenerate", GRPO, 0, pc=pc[:5], lc=lc[:5], rewards=[0.5, 0.5, 0.5, 1.0, 0.0],
        groups=[1, 1, 1, 2, 3])
    # AERO: fresh state; a state with history; unscaled with a KL term
    add("aero_fresh", AERO, -1, pc=pc[:5], lc=lc[:5], rewards=[0.9, 0.1, 0.45, 0.6, 0.0])
    add("aero_history", AERO, -1, pc=pc[:6], lc=lc[:6], rewards=[0.9, 0.1, 0.4, 0.6, 0.0, 0.7],
        aero_b=0.35, aero_v=0.0625, aero_count=7, groups=[1, 1, 1, 2, 2, 2])
    add("aero_unscaled", AERO, -1, {"scale": 0, "beta": 0.05}, pc=pc[:4], lc=lc[:4],
        rc=[x + 0.25 for x in pc[:4]], rewards=[2.0, -1.0, 0.5, 3.0], aero_b=1.0,
        aero_v=4.0, aero_count=2)
    return cases


def aero_sequence():
    """Updates with decay 0.8: the state after each batch, and the advantages
    a scaled evaluation of each batch sees before its update."""
    batches = [[0.5, 1.0, 0.0, 0.25], [1.0, 1.0, 0.75], [0.0, 0.125, 0.5, 0.5, 1.0]]
    decay = M(0.8)
    b = v = None
    out = []
    for rs in batches:
        r = [M(x) for x in rs]
        if b is None:
            b0, v0 = aero_first_base(rs)
        else:
            b0, v0 = b, v
        adv = [(x - b0) / (mp.sqrt(v0) + mp.mpf("1e-4")) for x in r]
        m = sum(r) / len(r)
        if b is None:
            b, v = b0, v0
        else:
            v = decay * v + (1 - decay) * sum((x - b) ** 2 for x in r) / len(r)
            b = decay * b + (1 - decay) * m
        out.append(dict(rewards=rs, adv=adv, b=b, v=v))
    return out


# ---- statistics -----------------------------------------------------------------

def ztest(x1, n1, x2, n2):
    p1, p2 = mp.mpf(x1) / n1, mp.mpf(x2) / n2
    pool = mp.mpf(x1 + x2) / (n1 + n2)
    se = mp.sqrt(pool * (1 - pool) * (mp.mpf(1) / n1 + mp.mpf(1) / n2))
    if p1 == p2 or se == 0:
        return mp.mpf(0), mp.mpf(1)
    z = (p2 - p1) / se
    p = mp.erfc(abs(z) / mp.sqrt(2))
    # cross-check with scipy (double precision)
    ps = 2 * sst.norm.sf(abs(float(z)))
    assert abs(ps - float(p)) <= 1e-12 * float(p), (x1, n1, x2, n2, ps, p)
    return z, p


def qnorm(p):
    return mp.sqrt(2) * mp.erfinv(2 * M(p) - 1)


def mde(n, p0, alpha, power, design):
    za = -qnorm(0.5 * alpha)  # 0.5*alpha is exact in binary
    zb = qnorm(power)
    for q in (0.5 * alpha, power):
        assert abs(sst.norm.ppf(q) - float(qnorm(q))) <= 1e-13 * abs(float(qnorm(q)))
    k = 2 if design == 0 else 1
    return (za + zb) * mp.sqrt(k * M(p0) * (1 - M(p0)) / n)


ZTESTS = [(33, 55, 40, 55), (33, 55, 33, 55), (40, 55, 33, 55), (0, 10, 0, 10),
          (10, 10, 10, 10), (5, 100, 30, 120), (500, 1000, 560, 1000), (0, 100, 30, 100),
          (1, 3, 2, 7)]
MDES = [(55, 0.5, 0.05, 0.8, 0), (55, 0.5, 0.05, 0.8, 1), (55, 0.6, 0.05, 0.8, 0),
        (55, 0.6, 0.05, 0.8, 1), (200, 0.5, 0.05, 0.8, 0), (100, 0.5, 0.05, 0.8, 1),
        (1000, 0.7, 0.01, 0.9, 0), (10, 0.5, 1e-12, 0.999999, 1), (30, 0.25, 0.2, 0.3, 0)]


def pairs_eval_case():
    rng = random.Random(7)
    c = [round(rng.uniform(-3, 3), 2) for _ in range(23)]
    r = [round(rng.uniform(-3, 3), 2) for _ in range(23)]
    r[3] = c[3]
    r[11] = c[11]  # ties
    d = [M(x) - M(y) for x, y in zip(c, r)]
    n = len(d)
    mean = sum(d) / n
    sd = mp.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    correct = sum(1 for x, y in zip(c, r) if x > y)
    ties = sum(1 for x, y in zip(c, r) if x == y)
    return dict(c=c, r=r, correct=correct, ties=ties, mean=mean, sd=sd,
                acc=mp.mpf(correct) / n, scale=sum(abs(M(x)) + abs(M(y)) for x, y in zip(c, r)) / n)


def data_case():
    rng = random.Random(11)
    n = 40
    c = [round(rng.randint(0, 20) * 0.05, 2) for _ in range(n)]
    r = [round(rng.randint(0, 20) * 0.05, 2) for _ in range(n)]
    hi, lo = 0.8, 0.2
    keep = [i for i in range(n) if not ((c[i] > hi and r[i] > hi) or (c[i] < lo and r[i] < lo))]
    # gaps from the doubles, ordered with exact arithmetic on those doubles
    order = sorted(keep, key=lambda i: (-(M(c[i]) - M(r[i])), i))
    return dict(c=c, r=r, keep=keep, order=order)


# ---- output ---------------------------------------------------------------------

def f(x):
    """C literal of the double nearest to x."""
    if x is None:
        return "NAN"
    v = float(x)
    if v != v:
        return "NAN"
    s = repr(v)
    if "e" not in s and "." not in s and "inf" not in s:
        s += ".0"
    return s


def arr(name, xs, ctype="double"):
    if ctype == "double":
        body = ", ".join(f(x) for x in xs)
    else:
        body = ", ".join(str(int(x)) for x in xs)
    return "static const %s %s[] = {%s};\n" % (ctype, name, body)


def render():
    o = []
    o.append("/* pref_vectors.h - known answers for lib/pref. GENERATED by\n"
             " * tests/kat/gen_pref_kat.py from the formulas (mpmath, 60 digits);\n"
             " * do not edit. Regenerate: python3 tests/kat/gen_pref_kat.py */\n")
    o.append("#ifndef ZOQ_TESTS_PREF_VECTORS_H\n#define ZOQ_TESTS_PREF_VECTORS_H\n\n")
    o.append("#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n")
    o.append("""typedef struct pref_kat {
    const char *name;
    int loss_id;
    double beta, label_smoothing, gamma, alpha, lambda, wd, wu, clip_eps;
    int scale_rewards;
    int64_t n;
    const double *pc, *pr, *lc, *lr, *rc, *rr, *nll, *klp, *klr, *rewards, *old;
    const int32_t *labels;
    const int64_t *groups;
    int64_t n_kl;
    double kto_z0;
    double aero_b, aero_v;
    int64_t aero_count;
    /* expected */
    double loss, loss_scale, reward_chosen, reward_rejected, accuracy, margin, margin_scale;
    double kl, nll_mean, log_odds, baseline;
    const double *items, *advantages;
    double dloss_dpc0;  /* exact derivative of the loss in pc[0] */
    int fd_sign;        /* claimed sign of dloss/dpc0 (0: not checked) */
} pref_kat;

""")
    cases = build_cases()
    rows = []
    for k, cs in enumerate(cases):
        loss, p, c = cs["loss"], cs["p"], cs["c"]
        res = evaluate(loss, p, c)
        n = len(c["pc"])
        pre = "kat%d_" % k
        names = {}
        for key in ("pc", "pr", "lc", "lr", "rc", "rr", "nll", "klp", "klr", "rewards", "old"):
            if c.get(key) is not None:
                o.append(arr(pre + key, c[key]))
                names[key] = pre + key
        if c.get("labels") is not None:
            o.append(arr(pre + "labels", c["labels"], "int32_t"))
            names["labels"] = pre + "labels"
        if c.get("groups") is not None:
            o.append(arr(pre + "groups", c["groups"], "int64_t"))
            names["groups"] = pre + "groups"
        o.append(arr(pre + "items", res["items"]))
        if res["adv"] is not None:
            o.append(arr(pre + "adv", res["adv"]))
        d = d_loss_d_pc0(loss, p, c)
        if cs["fd_sign"] != 0:
            assert mp.sign(d) == cs["fd_sign"], (cs["name"], d)
        loss_scale = sum(abs(x) for x in res["items"]) / n

        def nm(key):
            return names.get(key, "NULL")
        rows.append("    {\"%s\", %d, %s, %s, %s, %s, %s, %s, %s, %s, %d, %d,\n"
                    "     %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %d, %s,\n"
                    "     %s, %s, %d,\n"
                    "     %s, %s, %s, %s, %s, %s, %s,\n"
                    "     %s, %s, %s, %s, %s, %s, %s, %d},\n" % (
                        cs["name"], loss, f(p["beta"]), f(p["ls"]), f(p["gamma"]),
                        f(p["alpha"]), f(p["lam"]), f(p["wd"]), f(p["wu"]), f(p["clip"]),
                        p["scale"], n,
                        nm("pc"), nm("pr"), nm("lc"), nm("lr"), nm("rc"), nm("rr"), nm("nll"),
                        nm("klp"), nm("klr"), nm("rewards"), nm("old"), nm("labels"),
                        nm("groups"), len(c["klp"]) if c.get("klp") else 0,
                        f(c.get("z0", 0.0)),
                        f(c["aero_b"]), f(c["aero_v"]), c["aero_count"],
                        f(res["loss"]), f(loss_scale), f(res["rc"]), f(res["rr"]),
                        f(res["acc"]), f(res["margin"]), f(res["margin_scale"]),
                        f(res["kl"]), f(res["nll"]), f(res["log_odds"]), f(res["baseline"]),
                        pre + "items", (pre + "adv") if res["adv"] is not None else "NULL",
                        f(d), cs["fd_sign"]))
    o.append("\nstatic const pref_kat pref_kats[] = {\n")
    o.extend(rows)
    o.append("};\n#define PREF_KAT_COUNT (sizeof pref_kats / sizeof pref_kats[0])\n\n")

    # AERO update sequence
    seq = aero_sequence()
    o.append("/* AERO, decay 0.8: per batch, the scaled advantages seen before the\n"
             " * update and the state (baseline, sq_dev) after it. */\n")
    o.append("#define AERO_SEQ_DECAY 0.8\n")
    for k, s in enumerate(seq):
        o.append(arr("aero_seq%d_r" % k, s["rewards"]))
        o.append(arr("aero_seq%d_adv" % k, s["adv"]))
    o.append("static const struct { const double *r, *adv; int64_t n; double b, v; } "
             "aero_seq[] = {\n")
    for k, s in enumerate(seq):
        o.append("    {aero_seq%d_r, aero_seq%d_adv, %d, %s, %s},\n" % (
            k, k, len(s["rewards"]), f(s["b"]), f(s["v"])))
    o.append("};\n\n")

    # statistics
    o.append("static const struct { int64_t x1, n1, x2, n2; double z, p; } ztest_kats[] = {\n")
    for x1, n1, x2, n2 in ZTESTS:
        z, p = ztest(x1, n1, x2, n2)
        o.append("    {%d, %d, %d, %d, %s, %s},\n" % (x1, n1, x2, n2, f(z), f(p)))
    o.append("};\n\n")
    o.append("static const struct { int64_t n; double p0, alpha, power; int design; double mde; }"
             " mde_kats[] = {\n")
    for n, p0, a, pw, dsg in MDES:
        o.append("    {%d, %s, %s, %s, %d, %s},\n" % (n, f(p0), f(a), f(pw), dsg,
                                                      f(mde(n, p0, a, pw, dsg))))
    o.append("};\n\n")
    pe = pairs_eval_case()
    o.append(arr("eval_c", pe["c"]))
    o.append(arr("eval_r", pe["r"]))
    o.append("#define EVAL_N %d\n#define EVAL_CORRECT %d\n#define EVAL_TIES %d\n" % (
        len(pe["c"]), pe["correct"], pe["ties"]))
    o.append("#define EVAL_ACC %s\n#define EVAL_MEAN %s\n#define EVAL_SD %s\n"
             "#define EVAL_SCALE %s\n\n" % (f(pe["acc"]), f(pe["mean"]), f(pe["sd"]),
                                            f(pe["scale"])))
    dc = data_case()
    o.append(arr("data_c", dc["c"]))
    o.append(arr("data_r", dc["r"]))
    o.append("#define DATA_N %d\n" % len(dc["c"]))
    o.append(arr("data_keep", dc["keep"], "int64_t"))
    o.append("#define DATA_N_KEEP %d\n" % len(dc["keep"]))
    o.append(arr("data_order", dc["order"], "int64_t"))
    o.append("\n#endif /* ZOQ_TESTS_PREF_VECTORS_H */\n")
    return "".join(o)


if __name__ == "__main__":
    sys.exit(katfile.main(__doc__, OUT, render))
