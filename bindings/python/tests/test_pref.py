"""zoq.pref: the ten losses, AERO, evaluation, guard, data helpers, objective."""
import math

import numpy as np
import pytest

import zoq
from zoq import pref

PC, PR = np.array([-3.0, -5.0, -2.0, -7.0]), np.array([-4.0, -4.0, -6.0, -6.5])
RC, RR = np.array([-3.5, -5.0, -3.0, -7.0]), np.array([-3.5, -4.5, -5.0, -6.0])
TOK = np.array([3.0, 4.0, 2.0, 5.0])


def batch_for(name):
    """The arrays each loss reads, for four items."""
    if name in ("kto",):
        return dict(chosen_logps=PC, chosen_tokens=TOK, ref_chosen_logps=RC,
                    labels=[1, 0, 1, 0])
    if name in ("grpo", "aero"):
        return dict(chosen_logps=PC, chosen_tokens=TOK, rewards=[1.0, 0.0, 1.0, 0.0],
                    group_ids=[0, 0, 1, 1])
    return dict(chosen_logps=PC, rejected_logps=PR, chosen_tokens=TOK, rejected_tokens=TOK,
                ref_chosen_logps=RC, ref_rejected_logps=RR)


def test_names_round_trip():
    assert pref.LOSSES == ("dpo", "ipo", "simpo", "cpo", "orpo", "kto", "rpo", "sppo", "grpo",
                           "aero")
    for i, n in enumerate(pref.LOSSES):
        assert pref.loss_find(n.upper()) == i and pref.loss_name(i) == n
    with pytest.raises(zoq.NotFoundError):
        pref.loss_find("ppo")
    with pytest.raises(ValueError):
        pref.loss_name(10)


def test_dpo_matches_its_formula():
    beta = 0.3
    r = pref.loss("dpo", PC, PR, ref_chosen_logps=RC, ref_rejected_logps=RR, beta=beta,
                  item_losses=True)
    h = (PC - RC) - (PR - RR)
    per = np.log1p(np.exp(-beta * h))
    np.testing.assert_allclose(r.item_losses, per, rtol=1e-12)
    assert math.isclose(r.loss, per.mean(), rel_tol=1e-12)
    assert math.isclose(r.margin, beta * h.mean(), rel_tol=1e-12)
    assert r.reward_accuracy == np.mean(h > 0) and r.advantages is None
    np.testing.assert_allclose([r.reward_chosen, r.reward_rejected],
                               [beta * (PC - RC).mean(), beta * (PR - RR).mean()])
    assert r.kl == 0 and r.nll == 0 and r.log_odds == 0 and r.baseline == 0
    assert "Result(loss=" in repr(r)


@pytest.mark.parametrize("name", pref.LOSSES)
def test_every_loss_evaluates(name):
    aero = pref.Aero(0.5) if name == "aero" else None
    r = pref.loss(name, aero=aero, item_losses=True,
                  advantages=name in ("grpo", "aero"), **batch_for(name))
    assert np.isfinite(r.loss) and r.item_losses.shape == (4,)
    assert math.isclose(r.loss, r.item_losses.mean(), rel_tol=1e-9, abs_tol=1e-12)
    if name == "grpo":  # group-normalized advantages: +a, -a per group
        assert r.advantages[0] > 0 and math.isclose(r.advantages[0], -r.advantages[1])


def test_hyperparameters_and_their_errors():
    d = pref.defaults("simpo")
    assert d["beta"] == 2.5 and d["gamma"] == 1.375
    assert pref.defaults(4)["lambda_"] == 0.1
    r1 = pref.loss("orpo", PC, PR, chosen_tokens=TOK, rejected_tokens=TOK, **{"lambda": 0.5})
    r2 = pref.loss("orpo", PC, PR, chosen_tokens=TOK, rejected_tokens=TOK, lambda_=0.1)
    assert r1.loss != r2.loss and r1.log_odds == r2.log_odds != 0 and r1.nll > 0
    with pytest.raises(TypeError, match="unknown preference hyperparameter"):
        pref.loss("dpo", PC, PR, temperature=1.0)
    with pytest.raises(zoq.InvalidError, match=r"dpo: params.beta = -1 must be > 0"):
        pref.loss("dpo", PC, PR, ref_chosen_logps=RC, ref_rejected_logps=RR, beta=-1.0)
    with pytest.raises(ValueError, match="4 elements"):
        pref.loss("dpo", PC, PR[:3])
    with pytest.raises(zoq.InvalidError, match="batch.ref_chosen_logps is NULL"):
        pref.loss("dpo", PC, PR)
    with pytest.raises(zoq.InvalidError, match=r"batch.labels\[0\] = 2 must be 0 or 1"):
        pref.loss("kto", **dict(batch_for("kto"), labels=[2, 0, 1, 0]))


def test_errors_of_context_free_calls_name_the_argument():
    """zoq_last_error(NULL) is the thread's message; each error shows its own,
    never the previous call's."""
    with pytest.raises(zoq.InvalidError, match=r"rejected_tokens\[2\] = 0 must be > 0"):
        pref.loss("simpo", PC, PR, chosen_tokens=TOK, rejected_tokens=[1.0, 2.0, 0.0, 3.0])
    with pytest.raises(zoq.InvalidError, match=r"power = 1\.5 must be in \(0, 1\)"):
        pref.mde(100, 0.6, power=1.5)
    with pytest.raises(zoq.InvalidError, match="second proportion"):
        pref.ztest_2prop(3, 10, 11, 10)
    with pytest.raises(zoq.InvalidError, match=r"chosen_scores\[1\] = nan is not finite"):
        pref.evaluate([1.0, float("nan")], [0.0, 0.0])


def test_guard_compares_counts():
    """28/100 -> 35/100 gains exactly 0.07 (0.35 - 0.28 is 0.06999999999999995)."""
    def ev(correct, n):
        return pref.evaluate(np.r_[np.ones(correct), np.zeros(n - correct)],
                             np.r_[np.zeros(correct), np.full(n - correct, 0.5)])
    before = ev(28, 100)
    assert pref.guard_decide(before, ev(35, 100), min_accuracy_gain=0.07)[0]
    assert not pref.guard_decide(before, ev(34, 100), min_accuracy_gain=0.07)[0]


def test_grpo_rewards_near_the_largest_double():
    """Two rewards of 1e308 overflowed the group mean: loss NaN, no error.
    Expected values from the formula in 40-digit arithmetic (mpmath)."""
    pc, tok = np.array([-2.0, -4.0, -1.0]), np.array([2.0, 2.0, 2.0])
    r = pref.loss("grpo", pc[:2], chosen_tokens=tok[:2], rewards=[1e308, 1e308],
                  advantages=True)
    assert r.loss == 0.0 and list(r.advantages) == [0.0, 0.0]
    r = pref.loss("grpo", pc, chosen_tokens=tok, rewards=[1.5e308, -1.5e308, 1.5e308],
                  advantages=True)
    assert np.allclose(r.advantages, [0.57735026918962576451, -1.154700538379251529,
                                      0.57735026918962576451], rtol=1e-15, atol=0)
    assert math.isclose(r.loss, -0.48112522432468813709, rel_tol=1e-15)


def test_kto_with_mismatched_kl_pairs():
    r = pref.loss("kto", kl_logps=[-4.0, -5.0], kl_ref_logps=[-4.5, -5.5], **batch_for("kto"))
    assert math.isclose(r.kl, 0.5)


def test_aero_state():
    a = pref.Aero(0.9)
    assert a.get() == (0.9, 0.0, 0.0, 0)
    a.update([1.0, 0.0])
    decay, base, sq, count = a.get()
    assert decay == 0.9 and count == 1 and 0 < base <= 1
    a.set(0.25, 0.1, 7)
    assert a.get() == (0.9, 0.25, 0.1, 7)
    with pytest.raises(zoq.InvalidError):
        a.set(0.0, -1.0, 1)
    with pytest.raises(zoq.InvalidError):
        a.update([float("nan")])
    with pytest.raises(zoq.InvalidError):
        pref.Aero(1.5)
    a.close()
    a.close()


def test_evaluate_ztest_mde():
    e = pref.evaluate([1.0, 2.0, 0.5], [0.0, 3.0, 0.5])
    assert (e.n, e.correct, e.ties) == (3, 1, 1) and math.isclose(e.accuracy, 1 / 3)
    assert math.isclose(e.mean_margin, 0.0, abs_tol=1e-15) and "Evaluation(n=3" in repr(e)
    assert math.isclose(e.sd_margin, math.sqrt(1.0))
    z, p = pref.ztest_2prop(50, 100, 70, 100)
    assert z > 0 and 0.003 < p < 0.006  # z = 2.89
    assert pref.ztest_2prop(5, 10, 5, 10) == (0.0, 1.0)
    m2, m1 = pref.mde(55, 0.5), pref.mde(55, 0.5, design="one_sample")
    assert math.isclose(m2 / m1, math.sqrt(2)) and 0.2 < m2 < 0.3
    with pytest.raises(zoq.InvalidError):
        pref.mde(0, 0.5)
    with pytest.raises(ValueError):
        pref.mde(10, 0.5, design="paired")
    with pytest.raises(zoq.InvalidError):
        pref.evaluate([], [])
    with pytest.raises(zoq.InvalidError):
        pref.ztest_2prop(11, 10, 1, 10)


def test_guard():
    assert pref.guard_defaults() == {"alpha": 0.05, "min_accuracy_gain": 0.0,
                                     "min_margin_gain": 0.0, "require_significant": False}
    before = pref.evaluate(np.zeros(100), np.r_[np.ones(50), -np.ones(50)])
    after = pref.evaluate(np.zeros(100), np.r_[np.ones(20), -np.ones(80)])
    deploy, p = pref.guard_decide(before, after)
    assert deploy and p < 1e-4
    assert not pref.guard_decide(after, before)[0]
    assert not pref.guard_decide(before, after, min_accuracy_gain=0.5)[0]
    assert pref.guard_decide(before, after, require_significant=True)[0]
    with pytest.raises(TypeError):
        pref.guard_decide(before, after, beta=1)
    with pytest.raises(zoq.InvalidError):
        pref.guard_decide(before, after, alpha=2.0)


def test_raft_and_curriculum():
    c, r = [0.9, 0.5, 0.15, 0.95], [0.85, 0.3, 0.05, 0.1]
    np.testing.assert_array_equal(pref.raft_filter(c, r), [1, 3])
    np.testing.assert_array_equal(pref.raft_filter(c, r, high=1.0, low=0.0), [0, 1, 2, 3])
    np.testing.assert_array_equal(pref.curriculum_sort(c, r), [3, 1, 2, 0])
    np.testing.assert_array_equal(pref.curriculum_sort(c, r, [0, 2]), [2, 0])
    with pytest.raises(zoq.InvalidError):
        pref.raft_filter(c, r, high=0.1, low=0.9)
    with pytest.raises(zoq.InvalidError):
        pref.curriculum_sort(c, r, [4])


# ---- the objective ---------------------------------------------------------

class Toy:
    """logp(seq) = -(w - target(seq))²: pair i prefers target +1 over -1."""

    def __init__(self):
        self.w = np.zeros(1, np.float32)
        self.calls = []

    def scorer(self, ev, seqs):
        self.calls.append((ev, seqs))
        w = 0.0 if ev is None else float(self.w[0])  # the reference is w = 0
        target = np.where(seqs % 2 == 0, 1.0, -1.0)
        return -(w - target) ** 2, np.ones(len(seqs))


@pytest.mark.parametrize("name", ["dpo", "kto", "aero"])
def test_objective_trains_in_place(name):
    toy = Toy()
    n = 8
    kw = {}
    if name == "kto":
        kw = dict(labels=np.arange(2 * n) % 2 == 0)
    elif name == "aero":
        kw = dict(rewards=(np.arange(2 * n) + 1) % 2,
                  group_ids=np.arange(2 * n) // 2, aero=pref.Aero())
    n_items = n if name == "dpo" else 2 * n
    obj = pref.Objective(name, n_items, toy.scorer, **kw)
    opt = zoq.Optimizer({"w": toy.w}, lr=0.5, eps=1e-2)
    obj.set_batch(np.arange(n_items))
    for _ in range(50):
        rep = opt.step(obj)
        obj.step_done()
    assert toy.w[0] > 0.1 and rep.applied
    # the reference is scored once (AERO with beta 0 has no KL term: never)
    assert sum(ev is None for ev, _ in toy.calls) == (0 if name == "aero" else 1)
    last = obj.last()
    assert np.isfinite(last.loss)
    if name == "aero":
        assert obj.aero.get()[3] == 50 and last.baseline != 0


def test_objective_ask_tell_and_errors():
    toy = Toy()
    obj = pref.Objective("dpo", 4, toy.scorer, beta=1.0)
    opt = zoq.Optimizer({"w": toy.w}, lr=0.5)
    with pytest.raises(zoq.StateError):
        obj.last()
    obj.set_batch([0, 1, 2, 3])
    with pytest.raises(zoq.StateError):
        obj.eval_point(opt, 0)  # no step pending
    pts = opt.ask()
    losses = []
    for i in range(len(pts)):
        w = toy.w.copy()
        toy.w[:] = opt.materialize(i, "w")
        losses.append(obj.eval_point(opt, i))
        toy.w[:] = w
    opt.tell(losses)
    assert toy.w[0] > 0 and math.isclose(obj.last().loss, losses[-1])
    with pytest.raises(zoq.InvalidError):
        obj.set_batch([7])
    with pytest.raises(zoq.InvalidError):
        pref.Objective("kto", 4, toy.scorer)  # KTO needs labels
    with pytest.raises(ValueError):
        pref.Objective("kto", 4, toy.scorer, labels=[1, 0])


def test_scorer_exception_propagates_and_stop_stops():
    toy = Toy()
    obj = pref.Objective("simpo", 2, toy.scorer)
    opt = zoq.Optimizer({"w": toy.w}, lr=0.5)
    obj.set_batch([0, 1])
    opt.step(obj)
    w = toy.w.copy()

    def failing(ev, seqs):
        raise RuntimeError("server down")
    toy_scorer, obj._scorer = obj._scorer, failing
    with pytest.raises(RuntimeError, match="server down"):
        opt.step(obj)
    np.testing.assert_allclose(toy.w, w, atol=1e-6)
    opt.ask()
    with pytest.raises(RuntimeError, match="server down"):
        obj.eval_point(opt, 0)
    opt.cancel()

    def stopping(ev, seqs):
        raise zoq.Stop()
    obj._scorer = stopping
    assert opt.step(obj).stopped and opt.step_count == 1
    opt.ask()
    with pytest.raises(zoq.Stop):
        obj.eval_point(opt, 0)
    opt.cancel()
    obj._scorer = lambda ev, seqs: (np.full(len(seqs), np.nan), np.ones(len(seqs)))
    with pytest.raises(zoq.CallbackError):
        opt.step(obj)
    obj._scorer = toy_scorer
    opt.step(obj)
    assert opt.step_count == 2
    obj.close()
    obj.close()
