"""zoq for torch tensors, CPU and CUDA, in place and without copies: a torch.optim
optimizer that needs no gradients.

    import zoq.torch
    opt = zoq.torch.Optimizer(model, lr=1e-3, eps=1e-3)   # an nn.Module, tensors or groups
    for x, y in data:
        loss = opt.step(lambda: loss_fn(model(x), y))      # run under torch.no_grad()

The tensors' storage is registered with zoq through numpy views that share
it (float32, float16; bfloat16 as its 16-bit pattern). Frozen parameters
(requires_grad=False) are left out, as torch.optim leaves them alone. Each
step evaluates every point with the same torch random numbers (dropout
masks), fresh ones each step.

CUDA tensors are registered in place too, as device memory of the CUDA
plugin (libzoq-cuda.so, `make cuda`; docs/backends.md): zoq perturbs and
updates them with its own kernels on the legacy default stream, which
PyTorch's default stream waits for; the plugin is built to follow the CPU
trajectory bit for bit (not yet observed on a GPU: docs/backends.md, "What
has been verified on a GPU"). Their random state (dropout on the GPU) is reset per point as
the CPU's is. State files refuse contexts with CUDA tensors (save() raises
UnsupportedError).
"""
import contextlib
import os
import tempfile
import warnings

import numpy as np
import torch

from . import optimizer as _opt
from ._core import StateError, UnsupportedError

#: The keys a param group may hold: its tensors, their names, and the two
#: options zoq can take per group (torch lr schedulers add "initial_lr").
GROUP_KEYS = ("params", "param_names", "lr", "weight_decay", "initial_lr")


#: zoq's dtype name of each torch dtype it trains.
_DTYPES = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


def _check_tensor(t, name):
    if not isinstance(t, torch.Tensor):
        raise TypeError("%s must be a torch.Tensor, got %s" % (name, type(t).__name__))
    if not t.is_contiguous():
        raise ValueError("%s must be contiguous (call .contiguous() and register that)" % name)
    if t.dtype not in _DTYPES:
        raise TypeError("%s must be float32, float16 or bfloat16, got %s" % (name, t.dtype))


def device_of(t):
    """zoq's device name for tensor t: "cpu" or "cuda" (UnsupportedError
    for any other)."""
    if t.device.type not in ("cpu", "cuda"):
        raise UnsupportedError(-12, "a tensor on %s: zoq.torch trains CPU and CUDA tensors"
                               % t.device)
    return t.device.type


def as_array(t, name="tensor"):
    """A numpy array sharing the storage of CPU tensor t (no copy)."""
    _check_tensor(t, name)
    if t.device.type != "cpu":
        raise UnsupportedError(-12, "%s is on %s; a numpy view needs a CPU tensor"
                               % (name, t.device))
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def frozen(t):
    """True for a frozen parameter: an nn.Parameter with requires_grad=False
    (a plain tensor is trained whatever its requires_grad)."""
    return isinstance(t, torch.nn.Parameter) and not t.requires_grad


def _named(params, names=None, start=0):
    """(name, tensor) pairs of an nn.Module (named_parameters), a {name:
    tensor} dict, a tensor, or a list of tensors (named by `names`, else by
    position from `start`) or (name, tensor) pairs; frozen ones left out."""
    if isinstance(params, torch.nn.Module):
        pairs = list(params.named_parameters())
    elif isinstance(params, dict):
        pairs = list(params.items())
    else:
        items = [params] if isinstance(params, torch.Tensor) else list(params)
        if names is not None and len(names) != len(items):
            raise ValueError("param_names has %d names for %d tensors" % (len(names), len(items)))
        pairs = [p if isinstance(p, tuple) else (names[i] if names else str(start + i), p)
                 for i, p in enumerate(items)]
    return [(n, t) for n, t in pairs if not frozen(t)]


def _training_buffers(module):
    """(name, buffer) of the submodules of module in training mode."""
    return [(p + "." + n if p else n, b) for p, sub in module.named_modules() if sub.training
            for n, b in sub.named_buffers(recurse=False)]


class Optimizer(_opt.Optimizer, torch.optim.Optimizer):
    """zoq.Optimizer over torch tensors, usable as a torch.optim.Optimizer.

    params: an nn.Module (its named_parameters), a {name: tensor} dict, a
    list of tensors or (name, tensor) pairs, or a list of param groups
    (dicts with "params" -- any of the above -- and optionally
    "param_names", "lr", "weight_decay"). Frozen parameters
    (requires_grad=False) are not registered. options: zoq options by name
    (lr=1e-3, eps=1e-3, queries=4, optimizer="adam", ...).
    common_random_numbers (default True): every evaluation of a step starts
    from the same torch random state (the CPU's and that of each CUDA
    device holding a registered tensor), so dropout masks (and random
    batches drawn in the closure) are the same at each point of a step and
    new at each step; False leaves torch's generator alone.
    """

    def __init__(self, params, common_random_numbers=True, **options):
        if "no_decay" in options:
            raise TypeError("zoq.torch.Optimizer takes no no_decay: put those parameters in a "
                            "param group with weight_decay=0")
        _opt.Optimizer.__init__(self, (), **options)
        self.tensors = {}
        self._cuda_devices = set()  # devices of the registered CUDA tensors
        self.common_random_numbers = common_random_numbers
        self.report = None  # the Report of the last step()
        self._modules_watched, self._buffers_warned = [], False
        self._no_decay = []  # per param group: its tensors are PARAM_NO_DECAY
        self._lr, self._wd = self.get("lr"), self.get("weight_decay")
        groups = list(params) if isinstance(params, (list, tuple)) and params \
            and all(isinstance(g, dict) for g in params) else [{"params": params}]
        try:
            torch.optim.Optimizer.__init__(self, groups,
                                           {"lr": self._lr, "weight_decay": self._wd})
            if len(self) == 0:
                raise ValueError("no parameter to train (frozen ones, requires_grad=False, are "
                                 "left out)")
        except BaseException:
            self.close()
            raise

    # ---- param groups ------------------------------------------------------
    def add_param_group(self, param_group):
        """Registers a param group's tensors (frozen ones left out); its lr and
        weight_decay default to the optimizer's."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError("a param group is a dict with a 'params' entry")
        unknown = sorted(set(param_group) - set(GROUP_KEYS))
        if unknown:
            raise ValueError("param group keys %s: a group sets only lr and weight_decay; other "
                             "options apply to the whole optimizer (Optimizer(..., name=value))"
                             % ", ".join(map(repr, unknown)))
        params = param_group["params"]
        if isinstance(params, torch.nn.Module):
            self._modules_watched.append(params)
        named = _named(params, param_group.get("param_names"), len(self.tensors))
        group = dict(self.defaults)
        group.update(param_group)
        group["params"], group["param_names"] = [t for _, t in named], [n for n, _ in named]
        off = param_group.get("weight_decay", None) == 0  # explicitly exempt, for good
        self._settings(self.param_groups + [group], self._no_decay + [off])
        for name, tensor in named:
            self.add_tensor(name, tensor, flags=_opt.PARAM_NO_DECAY if off else 0)
        self.param_groups.append(group)
        self._no_decay.append(off)
        self._sync_groups()

    @staticmethod
    def _settings(groups, exempt):
        """The (lr, weight_decay) zoq applies to `groups`: one lr, and one
        weight_decay for all groups but those added with an explicit
        weight_decay 0 (`exempt`: PARAM_NO_DECAY, must stay 0);
        UnsupportedError for per-group values zoq cannot express."""
        lrs = sorted({g["lr"] for g in groups})
        if len(lrs) > 1:
            raise UnsupportedError(-12, "param groups with different lr (%s): zoq applies one lr "
                                   "to every parameter of an optimizer; give the groups one lr, "
                                   "or train each group with its own zoq.torch.Optimizer"
                                   % ", ".join(map(str, lrs)))
        for i, (g, off) in enumerate(zip(groups, exempt)):
            if off and g["weight_decay"] != 0:
                raise UnsupportedError(-12, "param group %d was added with weight_decay 0 (its "
                                       "tensors are exempt from decay for good), now has %g"
                                       % (i, g["weight_decay"]))
        wds = sorted({g["weight_decay"] for g, off in zip(groups, exempt) if not off})
        if len(wds) > 1:
            raise UnsupportedError(-12, "param groups with weight_decay %s: zoq applies one "
                                   "weight_decay, exempting the groups added with an explicit "
                                   "weight_decay=0" % ", ".join(map(str, wds)))
        return lrs[0], wds[0] if wds else 0.0

    def _sync_groups(self):
        """Hands zoq the lr and weight_decay of param_groups (a torch lr
        scheduler or the user may have changed them)."""
        lr, wd = self._settings(self.param_groups, self._no_decay)
        if lr != self._lr and (self.get("lr_schedule") != "constant" or self.get("lr_warmup")):
            raise StateError(-3, "param_groups' lr changed (%g -> %g: a torch lr scheduler?) while "
                             "zoq's own lr schedule is on (lr_schedule=%r, lr_warmup=%d): use "
                             "one of them, not both" % (self._lr, lr, self.get("lr_schedule"),
                                                        self.get("lr_warmup")))
        if (lr, wd) != (self._lr, self._wd):
            _opt.Optimizer.set(self, lr=lr, weight_decay=wd)
            self._lr, self._wd = lr, wd

    def set(self, **options):
        """Optimizer.set; lr and weight_decay also go to every param group."""
        _opt.Optimizer.set(self, **options)
        self._options_to_groups()

    def _options_to_groups(self):
        lr, wd = self.get("lr"), self.get("weight_decay")
        for g, off in zip(getattr(self, "param_groups", ()), getattr(self, "_no_decay", ())):
            g["lr"], g["weight_decay"] = lr, 0.0 if off else wd
        self._lr, self._wd = lr, wd

    # ---- tensors -----------------------------------------------------------
    def add_tensor(self, name, tensor, **kw):
        """Registers one more tensor (keywords as Optimizer.add_param),
        outside the param groups: a CPU tensor through a numpy view, a CUDA
        tensor as device memory (on its own device)."""
        _check_tensor(tensor, name)
        if device_of(tensor) == "cpu":
            pid = self.add_param(name, as_array(tensor, name), **kw)
        else:
            shape = kw.pop("shape", tuple(tensor.shape) if tensor.dim() == 2 else None)
            with torch.cuda.device(tensor.device):
                pid = self.add_device_param(name, tensor.data_ptr(), _DTYPES[tensor.dtype],
                                            tensor.numel(), tensor, device="cuda", shape=shape,
                                            **kw)
            self._cuda_devices.add(tensor.device)
        self.tensors[name] = tensor
        return pid

    def materialize_tensor(self, point, name):
        """Parameter `name` at point `point` of the pending step, as a new
        tensor on the parameter's device."""
        t = self.tensors[name]
        out = torch.empty_like(t, memory_format=torch.contiguous_format)
        if device_of(t) == "cpu":
            self.materialize(point, name, out=as_array(out, name))
        else:
            self._materialize_to(point, name, out.data_ptr())
        return out

    # ---- the step ----------------------------------------------------------
    def step(self, closure=None):
        """One ZO step, as torch.optim's step(closure): the closure (no
        arguments, run under torch.no_grad() at each point of the step)
        returns the loss. Returns the step's loss estimate as a 0-dim float64
        tensor (None if the closure raised zoq.Stop); opt.report holds the
        Report."""
        if closure is None:
            raise TypeError("zoq needs the closure: opt.step(lambda: loss_fn(model(x), y)) "
                            "evaluates the loss at each perturbed point")
        self._sync_groups()
        with torch.no_grad(), self._watch_buffers():
            self.report = _opt.Optimizer.step(self, self._same_randomness(closure))
        return None if self.report.stopped else torch.tensor(self.report.loss,
                                                              dtype=torch.float64)

    def run(self, closure, steps):
        """Optimizer.run under torch.no_grad(), with common random numbers."""
        self._sync_groups()
        with torch.no_grad(), self._watch_buffers():
            return _opt.Optimizer.run(self, self._same_randomness(closure), steps)

    def _same_randomness(self, closure):
        """The closure, run at every point of a step from the torch random
        state the step's first evaluation started with."""
        from .pref import Objective
        if not self.common_random_numbers or isinstance(closure, Objective):
            return closure
        start = {}

        cuda = sorted(self._cuda_devices, key=lambda d: d.index or 0)

        def closure_crn():
            step = self.current_eval.step
            if start.get("step") == step:
                torch.set_rng_state(start["state"])
                for d, s in zip(cuda, start["cuda"]):
                    torch.cuda.set_rng_state(s, d)
            else:
                start["step"], start["state"] = step, torch.get_rng_state()
                start["cuda"] = [torch.cuda.get_rng_state(d) for d in cuda]
            return closure()
        return closure_crn

    @contextlib.contextmanager
    def _watch_buffers(self):
        """Warns once if buffers of the registered modules' submodules in
        training mode change while the losses are evaluated (BatchNorm)."""
        if self._buffers_warned or not self._modules_watched:
            yield
            return
        before = [(m, {n: b.clone() for n, b in _training_buffers(m)})
                  for m in self._modules_watched]
        try:
            yield
        finally:
            for module, old in before:
                moved = [n for n, b in _training_buffers(module) if n in old
                         and not torch.equal(b, old[n])]
                if moved:
                    self._warn_buffers(module, moved)

    def _warn_buffers(self, module, moved):
        kinds = dict(module.named_modules())
        owners = sorted({"%s (%s)" % (n.rpartition(".")[0] or "<model>",
                                      type(kinds[n.rpartition(".")[0]]).__name__)
                         for n in moved})
        warnings.warn("buffers of %s changed while zoq evaluated the loss (%s): each point of a "
                      "ZO step then sees a different model, which corrupts the estimate; put "
                      "such modules in eval mode (model.eval(), or .eval() on each BatchNorm) "
                      "while training with zoq (warned once)"
                      % (", ".join(owners), ", ".join(moved)), stacklevel=3)
        self._buffers_warned = True

    # ---- state -------------------------------------------------------------
    def load(self, path):
        """Optimizer.load; the param groups take the file's lr and weight_decay."""
        _opt.Optimizer.load(self, path)
        self._options_to_groups()

    def state_dict(self):
        """torch.optim's state_dict: {"state": {"zoq": the bytes of a zoq
        state file}, "param_groups": the groups with "params" as indices};
        torch.save holds it, load_state_dict takes it back."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "state.zoqstate")
            self.save(path)
            with open(path, "rb") as f:
                data = f.read()
        groups, at = [], 0
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k not in ("params", "param_names")}
            packed["params"] = list(range(at, at + len(g["params"])))
            packed["param_names"] = list(g["param_names"])
            groups.append(packed)
            at += len(g["params"])
        return {"state": {"zoq": data}, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Loads what state_dict() returned: the zoq state (options, step
        counter, optimizer buffers) and the groups' settings. The groups must
        hold the same parameter names; on error nothing changes."""
        saved = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if not saved or not isinstance(state_dict.get("state"), dict) \
                or "zoq" not in state_dict["state"]:
            raise ValueError("not a zoq.torch state_dict (it has no state['zoq'])")
        mine = [g["param_names"] for g in self.param_groups]
        if [list(g["param_names"]) for g in saved] != mine:
            raise ValueError("the state_dict's param groups hold %s, this optimizer's %s"
                             % ([g["param_names"] for g in saved], mine))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "state.zoqstate")
            with open(path, "wb") as f:
                f.write(state_dict["state"]["zoq"])
            with warnings.catch_warnings():  # replacing the options is the point here
                warnings.simplefilter("ignore")
                _opt.Optimizer.load(self, path)
        for g, s in zip(self.param_groups, saved):
            g.update({k: v for k, v in s.items() if k not in ("params", "param_names")})
        self._lr, self._wd = self.get("lr"), self.get("weight_decay")
        self._sync_groups()
