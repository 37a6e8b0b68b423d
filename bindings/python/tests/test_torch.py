"""zoq.torch: CPU torch tensors trained in place, tested on an nn.Module."""
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
        rep = opt.step(loss)
    assert float(loss()) < 0.05 * start and net.fc.weight.grad is None
    assert rep.step == 299


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
    with pytest.raises(zoq.UnsupportedError, match="CPU tensors only"):
        zt.as_array(meta)


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
