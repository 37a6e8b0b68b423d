"""zoq for CPU torch tensors, in place and without copies.

    import zoq.torch
    opt = zoq.torch.Optimizer(model, lr=1e-3, eps=1e-3)   # an nn.Module or tensors
    for x, y in data:
        opt.step(lambda: loss_fn(model(x), y))             # run under torch.no_grad()

The tensors' storage is registered with zoq through numpy views that share
it (float32, float16; bfloat16 as its 16-bit pattern). CUDA tensors are not
supported yet (UnsupportedError).
"""
import numpy as np
import torch

from . import optimizer as _opt
from ._core import UnsupportedError


def as_array(t, name="tensor"):
    """A numpy array sharing the storage of CPU tensor t (no copy)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError("%s must be a torch.Tensor, got %s" % (name, type(t).__name__))
    if t.device.type != "cpu":
        raise UnsupportedError(-12, "%s is on %s; zoq.torch handles CPU tensors only"
                               % (name, t.device))
    if not t.is_contiguous():
        raise ValueError("%s must be contiguous (call .contiguous() and register that)" % name)
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    if t.dtype not in (torch.float32, torch.float16):
        raise TypeError("%s must be float32, float16 or bfloat16, got %s" % (name, t.dtype))
    return t.numpy()


def _named(params):
    if isinstance(params, torch.nn.Module):
        return list(params.named_parameters())
    if isinstance(params, dict):
        return list(params.items())
    return [p if isinstance(p, tuple) else (str(i), p) for i, p in enumerate(params)]


class Optimizer(_opt.Optimizer):
    """zoq.Optimizer over torch tensors: an nn.Module (its named_parameters),
    a {name: tensor} dict, or a list of tensors or (name, tensor) pairs."""

    def __init__(self, params, **options):
        named = _named(params)
        self.tensors = dict(named)
        super().__init__([(n, as_array(t, n)) for n, t in named], **options)

    def add_tensor(self, name, tensor, **kw):
        """Registers one more tensor (keywords as Optimizer.add_param)."""
        pid = self.add_param(name, as_array(tensor, name), **kw)
        self.tensors[name] = tensor
        return pid

    def step(self, closure):
        """Optimizer.step with the closure run under torch.no_grad()."""
        with torch.no_grad():
            return super().step(closure)

    def materialize_tensor(self, point, name):
        """Parameter `name` at point `point` of the pending step, as a new tensor."""
        t = self.tensors[name]
        out = torch.empty_like(t, memory_format=torch.contiguous_format)
        self.materialize(point, name, out=as_array(out, name))
        return out
