"""zoq.torch: torch tensors trained in place, tested on an nn.Module (CUDA
tensors host-side through the mock plugin)."""
import contextlib
import io
import os
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import zoq  # noqa: E402
import zoq.torch as zt  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.fc(x)


def test_module_trains_in_place():
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.5
    opt = zt.Optimizer(net, lr=0.01, eps=1e-3, queries=4, seed=1)
    assert list(opt.params) == ["fc.weight", "fc.bias"]
    assert opt.params["fc.weight"].ctypes.data == net.fc.weight.data_ptr()  # no copy
    loss = lambda: torch.nn.functional.mse_loss(net(x), y)
    start = float(loss())
    for _ in range(300):
        value = opt.step(loss)  # the loss, as torch.optim's step returns it
    assert float(loss()) < 0.05 * start and net.fc.weight.grad is None
    assert opt.report.step == 299 and isinstance(value, torch.Tensor)
    assert value.dtype == torch.float64 and value.item() == opt.report.loss
    assert isinstance(opt, torch.optim.Optimizer)


def test_tensors_dict_list_and_dtypes():
    a = torch.zeros(8, dtype=torch.bfloat16)
    b = torch.zeros(8, dtype=torch.float16)
    opt = zt.Optimizer({"a": a, "b": b}, lr=0.1, eps=1e-2)
    opt.step(lambda: float(((a.float() - 1) ** 2).sum() + ((b.float() - 1) ** 2).sum()))
    assert a.float().abs().sum() > 0 and b.float().abs().sum() > 0
    c = torch.zeros(3)
    assert zt.Optimizer([c]).params["0"].ctypes.data == c.data_ptr()
    assert zt.Optimizer([("c", c)]).add_tensor("d", torch.zeros(2)) == 1


def test_materialize_tensor():
    w = torch.zeros(6)
    opt = zt.Optimizer({"w": w}, eps=0.5, seed=2)
    opt.ask()
    t = opt.materialize_tensor(0, "w")
    z = opt.point_noise(0, "w")
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), 0.5 * z, atol=1e-6)


def test_refused_tensors():
    with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
        zt.Optimizer([torch.zeros(3, dtype=torch.float64)])
    with pytest.raises(ValueError, match="contiguous"):
        zt.Optimizer([torch.zeros(4, 4).t()])
    with pytest.raises(TypeError, match="torch.Tensor"):
        zt.as_array(np.zeros(3))
    meta = torch.zeros(3, device="meta")
    with pytest.raises(zoq.UnsupportedError, match="a numpy view needs a CPU tensor"):
        zt.as_array(meta)
    with pytest.raises(zoq.UnsupportedError, match="CPU and CUDA tensors"):
        zt.Optimizer([meta])


# ---- CUDA tensors, host side: the mock plugin of tests/plugin/mock.c is the
# CPU backend behind the plugin ABI, its "device" memory host memory, so CPU
# tensors registered as CUDA tensors through it exercise zoq.torch's CUDA
# path (device descriptors, device materialize, per-device random state) on
# a machine without a GPU. On a GPU, `make check-gpu` runs the real plugin.

MOCK = os.path.join(os.path.dirname(os.environ.get("ZOQ_LIBRARY", "")), "tests", "plugins",
                    "full")


class Dropped(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 8)
        self.drop = torch.nn.Dropout(0.25)
        self.fc2 = torch.nn.Linear(8, 1)

    def forward(self, x):
        h = self.drop(torch.tanh(self.fc1(x)))
        return self.fc2(h.to(self.fc2.weight.dtype)).float()


def as_if_cuda(monkeypatch):
    """Makes zoq.torch take CPU tensors for CUDA tensors; returns the log of
    the CUDA random-state calls."""
    calls = []
    monkeypatch.setenv("ZOQ_BACKEND_PATH", MOCK)
    monkeypatch.setattr(zt, "device_of", lambda t: "cuda")
    monkeypatch.setattr(torch.cuda, "device", lambda d: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "get_rng_state",
                        lambda d: calls.append(("get", d)) or torch.zeros(1))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, d: calls.append(("set", d)))
    return calls


def train(net, steps, **opts):
    torch.manual_seed(5)
    x, y = torch.randn(32, 6), torch.randn(32, 1)
    opt = zt.Optimizer(net, lr=0.05, eps=1e-3, seed=7, **opts)
    losses = [opt.step(lambda: torch.nn.functional.mse_loss(net(x), y)).item()
              for _ in range(steps)]
    return opt, losses


@pytest.mark.skipif(not os.path.exists(os.path.join(MOCK, "libzoq-cuda.so")),
                    reason="the mock plugin is built by make check (build/tests/plugins)")
@pytest.mark.parametrize("opts", [dict(queries=2), dict(optimizer="adam", hessian=1)])
def test_cuda_tensors_go_through_the_plugin_and_follow_the_cpu(monkeypatch, opts):
    torch.manual_seed(0)
    ref = Dropped()
    dev = Dropped()
    dev.load_state_dict(ref.state_dict())
    for net in (ref, dev):
        net.fc2.to(torch.bfloat16)  # a 16-bit layer: the plugin's bf16 path
    ref_opt, want = train(ref, 6, **opts)
    calls = as_if_cuda(monkeypatch)
    opt, got = train(dev, 6, **opts)
    assert got == want  # bit for bit, losses and weights
    for a, b in zip(ref.parameters(), dev.parameters()):
        assert torch.equal(a, b)
    assert opt.params["fc1.weight"] is dev.fc1.weight  # kept, not viewed through numpy
    assert opt.handle and zoq.Optimizer.get(opt, "hessian") == opts.get("hessian", 0)
    points = 2 * opts.get("queries", 1)  # + and - per query; HiZOO adds θ itself
    gets = sum(1 for c in calls if c[0] == "get")
    sets = sum(1 for c in calls if c[0] == "set")
    assert gets == 6 and sets >= 6 * (points - 1)  # saved once a step, reset at each other point
    last = len(opt.ask()) - 1  # a perturbed point (HiZOO's first is θ)
    ref_opt.ask()
    for name in ("fc1.weight", "fc2.bias"):  # f32 and bf16, written to "device" memory
        t = opt.materialize_tensor(last, name)
        assert t.dtype == opt.tensors[name].dtype
        assert torch.equal(t, ref_opt.materialize_tensor(last, name))
        assert name != "fc1.weight" or not torch.equal(t, opt.tensors[name])  # perturbed
        np.testing.assert_array_equal(opt.point_noise(last, name),
                                      ref_opt.point_noise(last, name))
    opt.cancel()
    with pytest.raises(zoq.UnsupportedError, match="CUDA"):
        opt.save(os.path.join(os.path.dirname(MOCK), "never-written.zoqstate"))


def test_cuda_tensors_without_the_plugin_say_why(monkeypatch, tmp_path):
    as_if_cuda(monkeypatch)
    monkeypatch.setenv("ZOQ_BACKEND_PATH", str(tmp_path))
    with pytest.raises(zoq.UnsupportedError, match="CUDA backend unavailable: no libzoq-cuda.so"):
        zt.Optimizer([torch.zeros(4)])


def test_exception_in_closure_restores_the_module():
    net = Net()
    before = [p.detach().clone() for p in net.parameters()]
    opt = zt.Optimizer(net, lr=0.1)

    def closure():
        raise ValueError("bad batch")
    with pytest.raises(ValueError, match="bad batch"):
        opt.step(closure)
    for p, q in zip(net.parameters(), before):
        torch.testing.assert_close(p.detach(), q, atol=1e-6, rtol=0)


def test_frozen_parameters_are_left_out():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    net[0].requires_grad_(False)  # a frozen base, a trained head
    assert zt.frozen(net[0].weight) and not zt.frozen(torch.zeros(1))
    frozen = net[0].weight.detach().clone()
    opt = zt.Optimizer(net, lr=0.1, eps=1e-2)
    assert list(opt.params) == ["1.weight", "1.bias"]
    assert list(zt.Optimizer(net.parameters()).params) == ["2", "3"]  # positions in the list
    x = torch.randn(16, 4)
    for _ in range(10):
        opt.step(lambda: net(x).pow(2).mean())
    assert torch.equal(net[0].weight, frozen) and not torch.equal(net[1].weight, net[1].weight * 0)
    plain = torch.zeros(3)  # a plain tensor (requires_grad False) is trained when given
    assert zt.Optimizer([plain]).params["0"].ctypes.data == plain.data_ptr()
    with pytest.raises(ValueError, match="no parameter to train"):
        zt.Optimizer(net[0])


def draws_per_step(opt, steps=3):
    """What torch.rand drew at each evaluation of each step."""
    seen = {}
    for _ in range(steps):
        opt.step(lambda: seen.setdefault(opt.current_eval.step, []).append(torch.rand(1).item())
                 or 0.0)
    return [v for _, v in sorted(seen.items())]


def test_common_random_numbers_same_within_a_step_new_across_steps():
    torch.manual_seed(0)
    steps = draws_per_step(zt.Optimizer([torch.zeros(4)], queries=2))
    assert all(len(s) == 4 and len(set(s)) == 1 for s in steps)  # 2 queries x (+, -)
    assert len({s[0] for s in steps}) == 3
    off = draws_per_step(zt.Optimizer([torch.zeros(4)], queries=2, common_random_numbers=False))
    assert all(len(set(s)) == 4 for s in off)
    w = torch.zeros(4)  # run() too, step by step
    opt, seen = zt.Optimizer([w], queries=2), {}
    opt.run(lambda: seen.setdefault(opt.current_eval.step, set()).add(torch.rand(1).item())
            or 0.0, 3)
    assert [len(v) for v in seen.values()] == [1, 1, 1] and len(set.union(*seen.values())) == 3


def test_buffers_changing_in_evaluation_warn_once():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    x = torch.randn(8, 4)
    opt = zt.Optimizer(net, lr=0.01)
    with pytest.warns(UserWarning, match=r"buffers of 1 \(BatchNorm1d\) changed.*eval mode"):
        opt.step(lambda: net(x).pow(2).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step(lambda: net(x).pow(2).mean())  # once
        net.eval()
        zt.Optimizer(net, lr=0.01).step(lambda: net(x).pow(2).mean())  # eval mode: silent


def test_param_groups_lr_and_weight_decay():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 2)
    opt = zt.Optimizer([{"params": [net.weight], "param_names": ["w"]},
                        {"params": {"b": net.bias}, "lr": 0.05}], lr=0.05)
    assert list(opt.params) == ["w", "b"] and opt.get("lr") == 0.05
    assert [g["param_names"] for g in opt.param_groups] == [["w"], ["b"]]
    assert opt.param_groups[0]["params"][0] is net.weight
    opt.add_param_group({"params": [torch.zeros(2)], "param_names": ["extra"]})
    assert list(opt.params) == ["w", "b", "extra"] and opt.param_groups[2]["lr"] == 0.05
    with pytest.raises(zoq.UnsupportedError, match=r"different lr \(0.01, 0.1\).*one lr"):
        zt.Optimizer([{"params": [net.weight], "lr": 0.1}, {"params": [net.bias], "lr": 0.01}])
    with pytest.raises(zoq.UnsupportedError, match=r"weight_decay 0.01, 0.1: .*explicit"):
        zt.Optimizer([{"params": [net.weight], "weight_decay": 0.1},
                      {"params": [net.bias], "weight_decay": 0.01}])
    with pytest.raises(TypeError, match="param group with weight_decay=0"):
        zt.Optimizer(net, no_decay=["bias"])
    with pytest.raises(ValueError, match="'momentum'.*only lr and weight_decay"):
        zt.Optimizer([{"params": [net.weight], "momentum": 0.9}])
    opt.param_groups[0]["lr"] = 0.2  # one group changed: refused at the step
    with pytest.raises(zoq.UnsupportedError, match="different lr"):
        opt.step(lambda: 0.0)
    for g in opt.param_groups:
        g["lr"] = 0.2
    opt.step(lambda: 0.0)
    assert opt.report.lr == 0.2 and opt.get("lr") == 0.2
    opt.set(lr=0.3, weight_decay=0.01)  # zoq's own setter updates the groups
    assert {(g["lr"], g["weight_decay"]) for g in opt.param_groups} == {(0.3, 0.01)}


def test_param_group_with_weight_decay_0_is_exempt():
    w, b, c = torch.ones(3), torch.ones(2), torch.ones(2)
    opt = zt.Optimizer([{"params": {"w": w}}, {"params": {"b": b}, "weight_decay": 0}],
                       lr=0.1, weight_decay=0.5)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.5, 0]
    opt.step(lambda: 0.0)  # no slope: the update is the decay alone, w <- (1 - 0.1 * 0.5) w
    torch.testing.assert_close(w, torch.full((3,), 0.95), atol=1e-6, rtol=0)
    torch.testing.assert_close(b, torch.ones(2), atol=1e-6, rtol=0)
    opt.set(weight_decay=0.2)  # moves the decaying groups only
    assert [g["weight_decay"] for g in opt.param_groups] == [0.2, 0]
    opt.param_groups[1]["weight_decay"] = 0.2
    with pytest.raises(zoq.UnsupportedError, match="group 1 was added with weight_decay 0"):
        opt.step(lambda: 0.0)
    late = zt.Optimizer({"c": c}, lr=0.1)  # the default group decays once decay is set
    late.set(weight_decay=0.5)
    late.step(lambda: 0.0)
    torch.testing.assert_close(c, torch.full((2,), 0.95), atol=1e-6, rtol=0)


def test_torch_lr_scheduler_drives_the_lr():
    w = torch.zeros(4)
    opt = zt.Optimizer({"w": w}, lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        opt.step(lambda: float((w - 1).pow(2).sum()))
        lrs.append(opt.report.lr)
        sched.step()
    assert lrs == [0.1, 0.1, 0.05, 0.05, 0.025]
    opt = zt.Optimizer({"w": torch.zeros(4)}, lr=0.1, lr_schedule="cosine", total_steps=10)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    opt.step(lambda: 0.0)
    sched.step()
    with pytest.raises(zoq.StateError, match="lr_schedule='cosine'.*one of them"):
        opt.step(lambda: 0.0)


def test_state_dict_through_torch_save_resumes_bit_for_bit():
    def make(w):
        return zt.Optimizer({"w": w}, lr=0.05, optimizer="adam", seed=4)
    w1 = torch.zeros(16)
    o1 = make(w1)
    loss = lambda w: (lambda: float((w - torch.arange(16.0)).pow(2).sum()))
    for _ in range(3):
        o1.step(loss(w1))
    buf = io.BytesIO()
    torch.save(o1.state_dict(), buf)
    w2 = w1.clone()
    o2 = zt.Optimizer({"w": w2}, lr=0.9)  # options come from the state
    buf.seek(0)
    o2.load_state_dict(torch.load(buf))
    assert o2.step_count == 3 and o2.get("optimizer") == "adam"
    assert o2.param_groups[0]["lr"] == 0.05 and o2.get("lr") == 0.05
    for _ in range(3):
        o1.step(loss(w1))
        o2.step(loss(w2))
    assert torch.equal(w1, w2)
    other = zt.Optimizer({"v": torch.zeros(16)})
    with pytest.raises(ValueError, match="param groups hold"):
        other.load_state_dict(o1.state_dict())
    with pytest.raises(ValueError, match="not a zoq.torch state_dict"):
        other.load_state_dict(torch.optim.SGD([torch.zeros(1)], lr=1).state_dict())


def test_closure_errors_and_the_same_tensor_twice():
    w = torch.zeros(3)
    opt = zt.Optimizer({"w": w})
    with pytest.raises(TypeError, match="the closure must return the loss"):
        opt.step(lambda: None)
    with pytest.raises(TypeError, match="zoq needs the closure"):
        opt.step()

    def stop():
        raise zoq.Stop
    assert opt.step(stop) is None and opt.report.stopped
    with pytest.raises(zoq.ExistsError, match="overlaps parameter 'a'"):
        zt.Optimizer({"a": w, "b": w})
    with pytest.raises(zoq.ExistsError, match="overlaps"):
        zt.Optimizer({"a": w[:2], "b": w[1:]})


def test_add_device_param_checks_its_arguments_and_registers_device_memory(monkeypatch):
    opt = zoq.Optimizer(lr=0.1)
    w = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="device must be one of"):
        opt.add_device_param("w", w.ctypes.data, "f32", 5, w, device="cpu")
    with pytest.raises(TypeError, match="'f32', 'f16' or 'bf16'"):
        opt.add_device_param("w", w.ctypes.data, "i8", 5, w)
    if not os.path.exists(os.path.join(MOCK, "libzoq-cuda.so")):
        pytest.skip("the mock plugin is built by make check (build/tests/plugins)")
    monkeypatch.setenv("ZOQ_BACKEND_PATH", MOCK)  # "device" memory is host memory there
    assert opt.add_device_param("w", w.ctypes.data, "f32", 5, w) == 0
    assert opt.params["w"] is w
    coef = np.float32(opt.ask()[1].coef)  # θ = 0: the point is coef·z, one f32 rounding
    np.testing.assert_array_equal(opt.materialize(1, "w", out=np.empty(5, np.float32)),
                                  coef * opt.point_noise(1, "w"))
    opt.cancel()
    with pytest.raises(zoq.UnsupportedError, match="CUDA"):
        opt.save(os.path.join(os.path.dirname(MOCK), "never-written.zoqstate"))
