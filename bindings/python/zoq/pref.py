"""Preference losses on numpy arrays, evaluation statistics, the regression
guard, data helpers and the preference objective (docs/preference.md)."""
import ctypes as C

import numpy as np

from . import _interrupt, _lib
from ._core import check, check_free, carray, ptr
from ._generated import MDE_DESIGNS, PREF_AERO_DECAY_DEFAULT, RAFT_HIGH_DEFAULT, RAFT_LOW_DEFAULT
from ._lib import lib
from .optimizer import EvalInfo, _CALLBACK_RAISED, _CALLBACK_STOP, Stop

#: The ten losses, in zoq_pref_loss_t order ("dpo", "ipo", ...).
LOSSES = tuple(lib.zoq_pref_loss_name(i).decode() for i in range(10))

_PAIRWISE = {"dpo", "ipo", "simpo", "cpo", "orpo", "rpo", "sppo"}


def loss_find(name):
    """zoq_pref_loss_t value of a loss name (case-insensitive)."""
    out = C.c_int()
    check_free(lib.zoq_pref_loss_find(name.encode(), C.byref(out)))
    return out.value


def loss_name(loss):
    """Lower-case name of a loss value (ValueError if unknown)."""
    s = lib.zoq_pref_loss_name(int(loss))
    if s is None:
        raise ValueError("unknown preference loss %r" % loss)
    return s.decode()


def _code(loss):
    return loss_find(loss) if isinstance(loss, str) else int(loss)


_HYPER = ("scale_rewards", "beta", "label_smoothing", "gamma", "alpha", "lambda_",
          "desirable_weight", "undesirable_weight", "clip_eps")


def defaults(loss):
    """The default hyperparameters of a loss as a dict."""
    p = _lib.PrefParams()
    check_free(lib.zoq_pref_params_default(_code(loss), C.byref(p)))
    return {f: getattr(p, f) for f in _HYPER}


def _params(loss, hyper):
    p = _lib.PrefParams()
    check_free(lib.zoq_pref_params_default(_code(loss), C.byref(p)))
    for k, v in hyper.items():
        k = "lambda_" if k == "lambda" else k
        if k not in _HYPER:
            raise TypeError("unknown preference hyperparameter %r (known: %s)"
                            % (k, ", ".join(_HYPER)))
        setattr(p, k, v)
    check_free(lib.zoq_pref_params_check(C.byref(p)))
    return p


class Result:
    """One loss evaluation (zoq_pref_result_t); item_losses / advantages are
    arrays when asked for, else None."""
    __slots__ = ("loss", "reward_chosen", "reward_rejected", "reward_accuracy", "margin", "kl",
                 "nll", "log_odds", "baseline", "item_losses", "advantages")

    def __init__(self, r, item_losses=None, advantages=None):
        for f in self.__slots__[:-2]:
            setattr(self, f, getattr(r, f))
        self.item_losses, self.advantages = item_losses, advantages

    def __repr__(self):
        return "Result(loss=%.6g, reward_accuracy=%.3g, margin=%.4g)" % (
            self.loss, self.reward_accuracy, self.margin)


_BATCH_F64 = ("chosen_logps", "rejected_logps", "chosen_tokens", "rejected_tokens",
              "ref_chosen_logps", "ref_rejected_logps", "chosen_nll", "kl_logps", "kl_ref_logps",
              "rewards", "old_logps")


def loss(loss, chosen_logps, rejected_logps=None, *, aero=None, item_losses=False,
         advantages=False, kto_z0=0.0, labels=None, group_ids=None, **arrays_and_hyper):
    """Evaluates preference loss `loss` (name or value) on a batch of n
    items. Arrays are the zoq_pref_batch_t fields by name (chosen_logps,
    rejected_logps, chosen_tokens, ..., rewards, old_logps); hyperparameters
    (beta, label_smoothing, ...) override the loss's defaults."""
    p = _params(loss, {k: v for k, v in arrays_and_hyper.items() if k not in _BATCH_F64})
    chosen = carray(chosen_logps, np.float64, "chosen_logps")
    n = chosen.size
    b = _lib.PrefBatch(size=C.sizeof(_lib.PrefBatch), n=n, kto_z0=kto_z0)
    keep = {"chosen_logps": chosen}
    given = dict(arrays_and_hyper, rejected_logps=rejected_logps)
    for f in _BATCH_F64[1:]:
        if given.get(f) is not None:
            size = None if f in ("kl_logps", "kl_ref_logps") else n
            keep[f] = carray(given[f], np.float64, f, size)
    b.chosen_logps = ptr(chosen, C.c_double)
    for f, a in keep.items():
        setattr(b, f, ptr(a, C.c_double))
    if "kl_logps" in keep:
        b.n_kl = keep["kl_logps"].size
    if labels is not None:
        keep["labels"] = carray(labels, np.int32, "labels", n)
        b.labels = ptr(keep["labels"], C.c_int32)
    if group_ids is not None:
        keep["group_ids"] = carray(group_ids, np.int64, "group_ids", n)
        b.group_ids = ptr(keep["group_ids"], C.c_int64)
    r = _lib.PrefResult(size=C.sizeof(_lib.PrefResult))
    il = np.empty(n) if item_losses else None
    adv = np.empty(n) if advantages else None
    r.item_losses, r.advantages = ptr(il, C.c_double), ptr(adv, C.c_double)
    check_free(lib.zoq_pref_loss_eval(C.byref(p), C.byref(b), aero.handle if aero else None,
                                 C.byref(r)))
    return Result(r, il, adv)


class Aero:
    """AERO's EMA baseline of past rewards (zoq_pref_aero_t)."""

    def __init__(self, decay=PREF_AERO_DECAY_DEFAULT):
        h = C.c_void_p()
        check_free(lib.zoq_pref_aero_create(float(decay), C.byref(h)))
        self.handle = h

    def close(self):
        """Frees the state. Idempotent."""
        if getattr(self, "handle", None):
            lib.zoq_pref_aero_free(self.handle)
            self.handle = None

    __del__ = close

    def update(self, rewards):
        """Folds one batch of rewards into the baseline."""
        r = carray(rewards, np.float64, "rewards")
        check_free(lib.zoq_pref_aero_update(self.handle, ptr(r, C.c_double), r.size))

    def get(self):
        """(decay, baseline, sq_dev, count), e.g. for a checkpoint."""
        d, b, s, c = C.c_double(), C.c_double(), C.c_double(), C.c_int64()
        check_free(lib.zoq_pref_aero_get(self.handle, C.byref(d), C.byref(b), C.byref(s),
                                    C.byref(c)))
        return d.value, b.value, s.value, c.value

    def set(self, baseline, sq_dev, count):
        """Restores a state read with get() (the decay is kept)."""
        check_free(lib.zoq_pref_aero_set(self.handle, float(baseline), float(sq_dev), int(count)))


class Evaluation:
    """Held-out evaluation of n pairs (zoq_pref_eval_t)."""
    __slots__ = ("n", "correct", "ties", "accuracy", "mean_margin", "sd_margin")

    def __init__(self, e):
        for f in self.__slots__:
            setattr(self, f, getattr(e, f))

    def _struct(self):
        e = _lib.PrefEval(size=C.sizeof(_lib.PrefEval))
        for f in self.__slots__:
            setattr(e, f, getattr(self, f))
        return e

    def __repr__(self):
        return "Evaluation(n=%d, correct=%d, accuracy=%.4f, mean_margin=%.4g)" % (
            self.n, self.correct, self.accuracy, self.mean_margin)


def _pair(chosen, rejected):
    c = carray(chosen, np.float64, "chosen_scores")
    return c, carray(rejected, np.float64, "rejected_scores", c.size)


def evaluate(chosen_scores, rejected_scores):
    """Accuracy and margin of n pairs' scores."""
    c, r = _pair(chosen_scores, rejected_scores)
    e = _lib.PrefEval(size=C.sizeof(_lib.PrefEval))
    check_free(lib.zoq_pref_evaluate(ptr(c, C.c_double), ptr(r, C.c_double), c.size, C.byref(e)))
    return Evaluation(e)


def ztest_2prop(x1, n1, x2, n2):
    """Pooled two-proportion z-test of x1/n1 against x2/n2: (z, two-sided p)."""
    z, p = C.c_double(), C.c_double()
    check_free(lib.zoq_stats_ztest_2prop(x1, n1, x2, n2, C.byref(z), C.byref(p)))
    return z.value, p.value


def mde(n, p0, alpha=0.05, power=0.8, design="two_sample"):
    """Minimum detectable accuracy difference of an evaluation of n pairs."""
    out = C.c_double()
    if design not in MDE_DESIGNS:
        raise ValueError("design must be one of %s, got %r" % (", ".join(MDE_DESIGNS), design))
    d = MDE_DESIGNS[design]
    check_free(lib.zoq_stats_mde(int(n), float(p0), float(alpha), float(power), d, C.byref(out)))
    return out.value


def guard_defaults():
    """The default deploy rule of the regression guard as a dict."""
    g = _lib.PrefGuard()
    check_free(lib.zoq_pref_guard_default(C.byref(g)))
    return {"alpha": g.alpha, "min_accuracy_gain": g.min_accuracy_gain,
            "min_margin_gain": g.min_margin_gain,
            "require_significant": bool(g.require_significant)}


def guard_decide(before, after, **rule):
    """Whether the candidate evaluated as `after` (an Evaluation) replaces the
    one evaluated as `before`: (deploy, p_value). rule overrides
    guard_defaults()."""
    g = _lib.PrefGuard()
    check_free(lib.zoq_pref_guard_default(C.byref(g)))
    for k, v in rule.items():
        if k not in guard_defaults():
            raise TypeError("unknown guard field %r" % k)
        setattr(g, k, int(v) if k == "require_significant" else float(v))
    deploy, p = C.c_int(), C.c_double()
    b, a = before._struct(), after._struct()
    check_free(lib.zoq_pref_guard_decide(C.byref(g), C.byref(b), C.byref(a), C.byref(deploy),
                                         C.byref(p)))
    return bool(deploy.value), p.value


def raft_filter(chosen_scores, rejected_scores, high=RAFT_HIGH_DEFAULT, low=RAFT_LOW_DEFAULT):
    """Indices of the pairs RAFT keeps (not both scores > high or < low)."""
    c, r = _pair(chosen_scores, rejected_scores)
    keep, n = np.empty(c.size, np.int64), C.c_int64()
    check_free(lib.zoq_pref_raft_filter(ptr(c, C.c_double), ptr(r, C.c_double), c.size,
                                   float(high), float(low), ptr(keep, C.c_int64), C.byref(n)))
    return keep[:n.value].copy()


def curriculum_sort(chosen_scores, rejected_scores, idx=None):
    """The pair indices idx (default: all) sorted easy first (largest gap)."""
    c, r = _pair(chosen_scores, rejected_scores)
    idx = np.arange(c.size, dtype=np.int64) if idx is None else \
        np.array(idx, dtype=np.int64)
    check_free(lib.zoq_pref_curriculum_sort(ptr(c, C.c_double), ptr(r, C.c_double), c.size,
                                       ptr(idx, C.c_int64), idx.size))
    return idx


class Objective:
    """A preference loss over a scorer you write, as a ZO objective.

    scorer(ev, seqs) -> (logps, tokens): for the int64 sequence ids seqs,
    their completion log-probs summed over tokens and their token counts
    (arrays of len(seqs)). ev is None for the reference (the model without
    the adapter), else the EvalInfo of the point the parameters hold.
    Pairwise losses: pair i is sequences 2i (chosen) and 2i+1 (rejected);
    KTO, GRPO, AERO: item i is sequence i. Pass it to Optimizer.step().
    """

    def __init__(self, loss, n_items, scorer, labels=None, kto_z0=0.0, group_ids=None,
                 rewards=None, aero=None, **hyper):
        p = _params(loss, hyper)
        self._scorer, self._exc = scorer, None
        self._sigint = _interrupt.Deferred()
        self._cb = _lib.SCORER_FN(self._score)
        d = _lib.PrefObjectiveDesc(size=C.sizeof(_lib.PrefObjectiveDesc), params=C.pointer(p),
                                   n_items=int(n_items), scorer=self._cb, kto_z0=kto_z0,
                                   aero=aero.handle if aero else None)
        keep = []
        if labels is not None:
            keep.append(carray(labels, np.int32, "labels", n_items))
            d.labels = ptr(keep[-1], C.c_int32)
        if group_ids is not None:
            keep.append(carray(group_ids, np.int64, "group_ids", n_items))
            d.group_ids = ptr(keep[-1], C.c_int64)
        if rewards is not None:
            keep.append(carray(rewards, np.float64, "rewards", n_items))
            d.rewards = ptr(keep[-1], C.c_double)
        h = C.c_void_p()
        check_free(lib.zoq_pref_objective_create(C.byref(d), C.byref(h)))
        self.handle, self.aero = h, aero  # the AERO state is borrowed: keep it alive

    def close(self):
        """Frees the objective. Idempotent."""
        if getattr(self, "handle", None):
            lib.zoq_pref_objective_free(self.handle)
            self.handle = None

    __del__ = close

    def _score(self, user, ev, seqs, n, logps, tokens):
        try:
            ids = np.ctypeslib.as_array(seqs, (n,)).copy()
            lp, tk = self._sigint.call(self._scorer, EvalInfo(ev.contents) if ev else None, ids)
            np.ctypeslib.as_array(logps, (n,))[:] = lp
            np.ctypeslib.as_array(tokens, (n,))[:] = tk
            return 0
        except Stop:
            return _CALLBACK_STOP
        except BaseException as e:
            self._exc = e
            return _CALLBACK_RAISED

    def set_batch(self, items):
        """The item indices every evaluation uses until the next call."""
        it = carray(items, np.int64, "items")
        check_free(lib.zoq_pref_objective_set_batch(self.handle, ptr(it, C.c_int64), it.size))

    def step_done(self):
        """Call once after each applied step (AERO folds its rewards)."""
        check_free(lib.zoq_pref_objective_step_done(self.handle))

    def last(self):
        """Diagnostics of the last successful evaluation (a Result)."""
        r = _lib.PrefResult(size=C.sizeof(_lib.PrefResult))
        check_free(lib.zoq_pref_objective_last(self.handle, C.byref(r)))
        return Result(r)

    def eval_point(self, opt, point):
        """Ask/tell: the loss of point `point` of opt's pending step, after you
        materialized that point into the model the scorer reads."""
        out = C.c_double()
        with self._sigint:
            status = lib.zoq_pref_objective_eval_point(self.handle, opt.handle, int(point),
                                                       C.byref(out))
        exc, self._exc = self._exc, None
        if exc is not None:
            raise exc
        self._sigint.raise_pending()
        if status == _CALLBACK_STOP:
            raise Stop()
        if status == -3:  # no pending step or no minibatch: the optimizer says which
            check(status, opt.handle)
        check_free(status)
        return out.value

    def _step(self, opt, r):
        fn = C.cast(lib.zoq_pref_objective_eval, C.c_void_p)
        opt._check(lib.zoq_set_objective(opt.handle, fn, self.handle))
        try:
            with opt._stepping(self._sigint):
                status = lib.zoq_step(opt.handle, C.byref(r))
        finally:
            lib.zoq_set_objective(opt.handle, None, None)
        return opt._finish(status, r, self)
