"""zoq.lora: LoRA pairs, merging across runs and the module rotation."""
import numpy as np
import pytest

import zoq
import zoq.lora

RNG = np.random.default_rng(9)


def pair(module="m.q_proj", n_in=6, n_out=5, rank=2, alpha=4.0, type="q_proj"):
    lo = zoq.lora.Lora(module, n_in, n_out, rank, alpha, type=type)
    lo.a[:] = RNG.standard_normal(lo.a.shape)
    lo.b[:] = RNG.standard_normal(lo.b.shape)
    return lo


def test_apply_and_merge_match_the_formula():
    lo = pair()
    x = RNG.standard_normal((3, 6)).astype(np.float32)
    y = np.ones((3, 5), np.float32)
    delta = (lo.alpha / 2) * lo.b.astype(np.float64) @ lo.a
    assert lo.apply(x, y) is y
    np.testing.assert_allclose(y, 1 + x @ delta.T, rtol=1e-5, atol=1e-5)
    w = np.zeros((5, 6), np.float32)
    np.testing.assert_allclose(lo.merge(w), delta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lo.merge(w, coef=-1.0), 0, atol=1e-6)
    assert "rank=2" in repr(lo)
    with pytest.raises(ValueError):
        lo.apply(np.ones((3, 4), np.float32), y)
    with pytest.raises(TypeError):
        lo.merge(np.zeros((5, 6)))  # float64
    with pytest.raises(zoq.InvalidError):
        zoq.lora.Lora("m", 6, 5, 2, alpha=float("inf")).merge(w)


def test_add_to_registers_and_initializes_like_peft():
    opt = zoq.Optimizer(seed=7)
    lo = zoq.lora.Lora("layer.0.q_proj", 16, 8, rank=4, type="q_proj")
    a_id, b_id = lo.add_to(opt)
    assert (a_id, b_id) == (0, 1)
    assert opt.param_id("layer.0.q_proj.lora_B.weight") == 1
    assert opt.params["layer.0.q_proj.lora_A.weight"] is lo.a
    bound = 1 / np.sqrt(16)
    assert np.all(np.abs(lo.a) <= bound) and lo.a.std() > bound / 4
    assert not lo.b.any()
    assert opt.set_group_enabled("q_proj", False) == 2
    warm = zoq.lora.Lora("layer.0.k_proj", 16, 8, rank=4, type="k_proj")
    warm.add_to(opt, enabled=False, b_sigma=0.1)
    assert 0.05 < warm.b.std() < 0.2 and opt.enabled_numel == 0
    raw = zoq.lora.Lora("layer.0.v_proj", 16, 8, rank=4)
    raw.add_to(opt, init=False)
    assert not raw.a.any()
    with pytest.raises(zoq.ExistsError):
        lo.add_to(opt)
    with pytest.raises(zoq.InvalidError):
        opt.init_normal("layer.0.v_proj.lora_A.weight", -1)


def test_lora_pair_trains_through_the_optimizer():
    lo = zoq.lora.Lora("m", 4, 3, rank=2, alpha=2.0, type="m")
    x = RNG.standard_normal((16, 4)).astype(np.float32)
    target = x @ RNG.standard_normal((4, 3)).astype(np.float32) * 0.5

    def loss():
        return float(((lo.apply(x, np.zeros((16, 3), np.float32)) - target) ** 2).mean())

    opt = zoq.Optimizer(lr=2e-2, eps=1e-3, queries=4, seed=1)
    lo.add_to(opt, b_sigma=0.1)
    start = loss()
    assert opt.run(loss, 500) == 500
    assert loss() < 0.5 * start


def test_ema_and_best():
    dst = np.array([0.0, 1.0, 2.0], np.float32)
    zoq.lora.ema(dst, np.array([1.0, 1.0, 1.0], np.float32))
    np.testing.assert_allclose(dst, [0.3, 1.0, 1.7], rtol=1e-7)
    zoq.lora.ema(dst, np.zeros(3, np.float32), w=1 - zoq.lora.BLEND_BETA_DEFAULT)
    np.testing.assert_allclose(dst, np.array([0.3, 1.0, 1.7]) * 0.95, rtol=1e-6)
    with pytest.raises(zoq.InvalidError):
        zoq.lora.ema(dst, np.zeros(3, np.float32), w=1.5)
    with pytest.raises(ValueError):
        zoq.lora.ema(dst, np.zeros(2, np.float32))
    assert zoq.lora.EMA_ALPHA_DEFAULT == 0.3
    best = zoq.lora.Best()
    assert best.score is None and best.tag is None
    assert best.offer(0.5, tag=1) and not best.offer(0.4, tag=2) and best.offer(0.7, tag=3)
    assert (best.score, best.tag) == (0.7, 3)
    with pytest.raises(zoq.InvalidError):
        best.offer(float("nan"))


def test_default_rotation_is_seed_000s_table():
    r = zoq.lora.Rotation()
    assert r.modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                         "down_proj"]
    assert r.losses == ["orpo", "kto", "cpo"]
    assert r.supercycle == 21
    assert r.check() == {}
    mods, loss = r.night(0)
    assert len(mods) == 2 and loss == "orpo"
    assert r.night(7) == (mods, "kto")  # the module cycle is 7 nights, the loss cycle 3
    seen = set()
    for t in range(7):
        seen |= set(r.night(t)[0])
    assert seen == set(r.modules)
    with pytest.raises(zoq.InvalidError):
        r.night(-1)


def test_generate_check_and_apply():
    r = zoq.lora.Rotation.generate(["q", "k", "up", "down"], 2, ["dpo", "simpo", "kto"],
                                   ffn=("up", "down"))
    assert r.supercycle == 6 and r.losses == ["dpo", "simpo", "kto"]
    for t in range(2):  # each night mixes attention and FFN
        mods, _ = r.night(t)
        assert len({m in ("up", "down") for m in mods}) == 2
    bad = zoq.lora.Rotation.generate(["q", "k"], 1, ["dpo", "kto"])
    failed = bad.check()
    assert "coprime" in failed and failed["coprime"]  # gcd(2, 2) = 2, with a reason
    assert set(failed) <= set(zoq.lora.PROPS)
    with pytest.raises(zoq.InvalidError):
        zoq.lora.Rotation.generate(["q", "q"], 1, ["dpo"])
    with pytest.raises(ValueError):
        zoq.lora.Rotation.generate(["q"], 1, ["no_such_loss"])
    opt = zoq.Optimizer(seed=0)
    for m in ("q", "k", "up", "down"):
        zoq.lora.Lora("l." + m, 4, 4, rank=2, type=m).add_to(opt)
    assert r.apply(opt, 1) == 4  # night 1's two modules, A and B each
    assert opt.enabled_numel == 2 * (8 + 8)
    with pytest.raises(zoq.NotFoundError):
        zoq.lora.Rotation().apply(opt, 0)
    assert zoq.lora.RANK_DEFAULT == 8 and zoq.lora.ALPHA_DEFAULT == 16.0
