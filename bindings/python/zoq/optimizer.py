"""zoq.Optimizer: a zoq context over numpy arrays, torch.optim-style."""
import contextlib
import ctypes as C
import os
import warnings

import numpy as np

from . import _interrupt, _lib
from ._core import Error, StateError, check, carray, ptr
from ._generated import (DEVICES, DTYPES, ENUMS, OPTIONS, PARAM_DISABLED,  # noqa: F401
                         PARAM_LORA_A, PARAM_LORA_B, PARAM_NO_DECAY, PARAM_SCALE)
from ._lib import lib

# What an objective returns to stop the run (ZOQ_CALLBACK_STOP), and what
# zoq_step then returns (ZOQ_STOPPED).
_CALLBACK_STOP = 1
_STOPPED = 1
# What the trampoline returns when the closure raised (any non-zero but STOP).
_CALLBACK_RAISED = -1000


def dtype_code(a):
    """zoq_dtype_t of a numpy array: float32, float16, bfloat16 as either
    ml_dtypes.bfloat16 or a uint16 view of the bits, and int8 integer codes."""
    if a.dtype == np.float32:
        return 0
    if a.dtype == np.float16:
        return 1
    if a.dtype == np.uint16 or a.dtype.name == "bfloat16":
        return 2
    if a.dtype == np.int8:
        return 3
    raise TypeError("parameter dtype must be float32, float16, bfloat16 (a uint16 view) or "
                    "int8, got %s" % a.dtype)


def options():
    """Every option of the library these bindings were made with:
    {name: (key, 'int' or 'double')}, from the option table (_generated.py)."""
    return {name: (key, typ) for name, (key, typ, _) in OPTIONS.items()}


def _type(name):
    key, typ = C.c_int(), C.c_int()
    check(lib.zoq_opt_find(name.encode(), C.byref(key), C.byref(typ)))
    return key.value, ("int", "double")[typ.value]


class Stop(Exception):
    """Raise from a closure to stop the run: the step is abandoned, the
    parameters restored, and step() returns a report with stopped=True."""


class Point:
    """One point of an ask/tell step: the parameters θ + coef·z_query
    (query -1 and coef 0 for θ itself)."""
    __slots__ = ("query", "coef")

    def __init__(self, query, coef):
        self.query, self.coef = query, coef

    def __repr__(self):
        return "Point(query=%d, coef=%g)" % (self.query, self.coef)


class EvalInfo:
    """What zoq asked the closure to evaluate (zoq_eval_t)."""
    __slots__ = ("step", "point", "n_points", "query", "coef", "lr", "eps")

    def __init__(self, ev):
        for f in self.__slots__:
            setattr(self, f, getattr(ev, f))

    def __repr__(self):
        return "EvalInfo(%s)" % ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.__slots__)


class Report:
    """The result of one step (zoq_report_t), with the arrays copied."""
    __slots__ = ("step", "loss", "lr", "eps", "grad_norm", "n_points", "n_queries", "losses",
                 "proj_grads", "failed_point", "callback_status", "passes", "applied",
                 "n_clipped", "stopped")

    def __init__(self, r, stopped=False):
        for f in self.__slots__[:-1]:
            if f not in ("losses", "proj_grads"):
                setattr(self, f, getattr(r, f))
        self.applied = bool(r.applied)
        self.losses = np.ctypeslib.as_array(r.losses, (r.n_points,)).copy() \
            if r.losses and r.n_points > 0 else np.zeros(0)
        self.proj_grads = np.ctypeslib.as_array(r.proj_grads, (r.n_queries,)).copy() \
            if r.proj_grads and r.n_queries > 0 else np.zeros(0)
        self.stopped = stopped

    def __repr__(self):
        return ("Report(step=%d, loss=%.6g, lr=%.3g, eps=%.3g, grad_norm=%.3g, n_points=%d%s)"
                % (self.step, self.loss, self.lr, self.eps, self.grad_norm, self.n_points,
                   ", stopped" if self.stopped else ""))


def _report_struct():
    r = _lib.Report()
    r.size = C.sizeof(r)
    return r


class Optimizer:
    """A zoq context training numpy arrays in place.

    params: {name: array} or a list of arrays (named "0", "1", ...) or of
    (name, array) pairs. Arrays are used in place, never copied: they must be
    C-contiguous, writable, float32/float16/bfloat16, and stay alive while the
    optimizer uses them (the optimizer keeps a reference). options: any zoq
    option by name (lr=1e-3, eps=1e-3, queries=4, optimizer="adam", ...).
    no_decay: names of parameters exempt from weight_decay (PARAM_NO_DECAY),
    or a function name -> bool (e.g. biases and norm weights); a name that is
    not among params is a ValueError.
    """

    def __init__(self, params=(), no_decay=(), **options):
        h = C.c_void_p()
        check(lib.zoq_create(C.byref(h)))
        self._h = h
        self._arrays = {}
        self._device_numel = {}  # elements of each device parameter (no array to ask)
        self._scales = {}
        self._exc = None
        self._closure = None
        self._user_options = set()  # names set() was given, for load()'s warning
        self._in_step = False
        self._sigint = _interrupt.Deferred()
        self.current_eval = None
        self._trampoline = _lib.OBJECTIVE_FN(self._call_closure)
        items = list(params.items() if isinstance(params, dict) else
                     ((p if isinstance(p, tuple) else (str(i), p)) for i, p in enumerate(params)))
        exempt = no_decay if callable(no_decay) else set(no_decay).__contains__
        try:
            unknown = set() if callable(no_decay) else set(no_decay) - {n for n, _ in items}
            if unknown:
                raise ValueError("no_decay names unknown parameters: %s"
                                 % ", ".join(sorted(map(repr, unknown))))
            for name, a in items:
                self.add_param(name, a, flags=PARAM_NO_DECAY if exempt(name) else 0)
            self.set(**options)
        except BaseException:
            self.close()
            raise

    # ---- lifetime ----------------------------------------------------------
    def close(self):
        """Destroys the context (the arrays are left as they are). Idempotent.
        StateError inside a step's closure (the step still needs it)."""
        if getattr(self, "_h", None):
            if self._in_step:
                raise StateError(-3, "close() inside the closure of a step is refused; close "
                                 "the optimizer after step() returns")
            lib.zoq_destroy(self._h)
            self._h = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def handle(self):
        """The zoq_ctx pointer (for calls the bindings do not wrap)."""
        if not self._h:
            raise StateError(-3, "optimizer is closed")
        return self._h

    def _check(self, status):
        return check(status, self.handle)

    @property
    def last_error(self):
        """zoq_last_error of this context ("" if no call failed)."""
        return lib.zoq_last_error(self.handle).decode()

    # ---- options -----------------------------------------------------------
    def set(self, **options):
        """Sets options by name; enum options also take names (optimizer="adam")."""
        for name, value in options.items():
            try:
                key, typ = _type(name)
            except Error:
                raise self._unknown(name) from None
            if name in ENUMS and isinstance(value, str):
                if value not in ENUMS[name]:
                    raise ValueError("option %r must be one of %s, got %r"
                                     % (name, ", ".join(ENUMS[name]), value))
                value = ENUMS[name].index(value)
            if typ == "int":
                if isinstance(value, float) and value != int(value):
                    raise TypeError("option %r is an integer, got %r" % (name, value))
                self._check(lib.zoq_set_int(self.handle, key, int(value)))
            else:
                self._check(lib.zoq_set_double(self.handle, key, float(value)))
            self._user_options.add(name)

    def get(self, name):
        """Reads an option by name: an int or float, or for an enum option
        (ENUMS) its name ("adam")."""
        try:
            key, typ = _type(name)
        except Error:
            raise self._unknown(name) from None
        if typ == "int":
            out = C.c_int64()
            self._check(lib.zoq_get_int(self.handle, key, C.byref(out)))
            if name in ENUMS and 0 <= out.value < len(ENUMS[name]):
                return ENUMS[name][out.value]
        else:
            out = C.c_double()
            self._check(lib.zoq_get_double(self.handle, key, C.byref(out)))
        return out.value

    @staticmethod
    def _unknown(name):
        from ._core import NotFoundError
        return NotFoundError(-4, "unknown option %r (known: %s)"
                             % (name, ", ".join(sorted(options()))))

    # ---- parameters --------------------------------------------------------
    def add_param(self, name, array, group="", enabled=True, flags=0, shape=None):
        """Registers `array` in place under `name`; returns its id. 2-D arrays
        record their shape (rows, cols) for low-rank directions (lozo_rank);
        `shape` overrides it. flags: PARAM_LORA_A/B, PARAM_SCALE, PARAM_NO_DECAY
        bits. A 1-D float view with a stride (e.g. the f16 scale of each block
        of a quantized buffer: blocks[:, :2].view(np.float16)[:, 0]) is
        registered as a strided view; the bytes between its elements are never
        written."""
        if not isinstance(array, np.ndarray):
            raise TypeError("parameter %r must be a numpy array, got %s"
                            % (name, type(array).__name__))
        dtype = dtype_code(array)
        stride = 0
        if array.ndim == 1 and array.size > 1 and array.strides[0] != array.itemsize:
            stride = array.strides[0]
        elif not array.flags.c_contiguous:
            raise ValueError("parameter %r must be C-contiguous, or a 1-D strided view" % name)
        if not array.flags.writeable:
            raise ValueError("parameter %r must be writable" % name)
        if shape is None and array.ndim == 2:
            shape = array.shape
        return self._register(name, array.ctypes.data, dtype, DEVICES["cpu"], array.size,
                              array, group, enabled, flags, shape, stride)

    def add_device_param(self, name, data_ptr, dtype, numel, keep, device="cuda", group="",
                         enabled=True, flags=0, shape=None):
        """Registers `numel` elements of device memory at address `data_ptr`
        (on the current CUDA device; dtype "f32", "f16" or "bf16") in place
        under `name`; returns its id. The first one loads the CUDA plugin
        (libzoq-cuda.so; UnsupportedError with the reason when it cannot).
        `keep` (e.g. the tensor that owns the memory) is held while the
        parameter is registered. Other arguments as add_param."""
        if device not in DEVICES or device == "cpu":
            raise ValueError("device must be one of %s, got %r"
                             % ([d for d in DEVICES if d != "cpu"], device))
        if dtype not in ("f32", "f16", "bf16"):
            raise TypeError("a device parameter's dtype is 'f32', 'f16' or 'bf16', got %r"
                            % (dtype,))
        return self._register(name, int(data_ptr), DTYPES[dtype], DEVICES[device], int(numel),
                              keep, group, enabled, flags, shape, 0)

    def _register(self, name, data, dtype, device, numel, keep, group, enabled, flags, shape,
                  stride):
        d = _lib.ParamDesc(size=C.sizeof(_lib.ParamDesc), name=name.encode(), data=data,
                           dtype=dtype, device=device, numel=numel, group=group.encode(),
                           flags=flags | (0 if enabled else PARAM_DISABLED),
                           rows=shape[0] if shape else 0, cols=shape[1] if shape else 0,
                           stride=stride)
        pid = C.c_int32()
        self._check(lib.zoq_param_add_desc(self.handle, C.byref(d), C.byref(pid)))
        self._arrays[name] = keep
        if device != DEVICES["cpu"]:
            self._device_numel[name] = numel
        return pid.value

    @property
    def params(self):
        """{name: array} of the registered parameters, in registration order."""
        return dict(self._arrays)

    def __len__(self):
        return lib.zoq_param_count(self.handle)

    def param_id(self, name):
        """The id of parameter `name` (NotFoundError if absent)."""
        pid = C.c_int32()
        self._check(lib.zoq_param_find(self.handle, name.encode(), C.byref(pid)))
        return pid.value

    def set_data(self, name, array):
        """Points parameter `name` at another array of the same dtype and size."""
        pid = self.param_id(name)
        old = self._arrays[name]
        if not isinstance(array, np.ndarray) or array.dtype != old.dtype \
                or array.size != old.size or array.strides != old.strides \
                or not (array.flags.c_contiguous or array.ndim == 1) \
                or not array.flags.writeable:
            raise ValueError("new data for %r must be a writable %s array of %d elements laid "
                             "out as the old one" % (name, old.dtype, old.size))
        self._check(lib.zoq_param_set_data(self.handle, pid, array.ctypes.data))
        self._arrays[name] = array

    def set_enabled(self, name, on=True):
        """Enables or disables one parameter for training."""
        self._check(lib.zoq_param_set_enabled(self.handle, self.param_id(name), int(bool(on))))

    def set_group_enabled(self, group, on=True):
        """Enables or disables every parameter of a group; returns how many."""
        n = C.c_int32()
        self._check(lib.zoq_group_set_enabled(self.handle, group.encode(), int(bool(on)),
                                              C.byref(n)))
        return n.value

    @property
    def enabled_numel(self):
        """Total elements of the enabled parameters."""
        n = C.c_int64()
        self._check(lib.zoq_param_enabled_numel(self.handle, C.byref(n)))
        return n.value

    def set_codes(self, name, lo=-127, hi=127, scales=None, group=0):
        """Code range [lo, hi] of int8 parameter `name` and its float32 scales
        (numel/group of them, scale k for elements [k·group, (k+1)·group); None:
        eps and lr count in codes). The scales are used in place and kept alive."""
        pid = self.param_id(name)
        if scales is not None:
            if not isinstance(scales, np.ndarray) or scales.dtype != np.float32 \
                    or not scales.flags.c_contiguous:
                raise TypeError("scales must be a C-contiguous float32 array")
        self._check(lib.zoq_param_set_codes(self.handle, pid, int(lo), int(hi),
                                            ptr(scales, C.c_float), int(group)))
        self._scales[name] = scales

    def _add_q(self, fn, name, qm, arrays):
        pid = C.c_int32()
        self._check(fn(self.handle, name.encode(), C.byref(qm._desc()), C.byref(pid)))
        self._arrays[name] = arrays
        return pid.value

    def add_qscales(self, name, qmatrix):
        """QZO: registers a zoq.QMatrix's scales as a trainable PARAM_SCALE
        tensor (codes fixed); returns its id. The matrix is updated in place."""
        return self._add_q(lib.zoq_param_add_qscales, name, qmatrix, qmatrix.scales)

    def add_qcodes(self, name, qmatrix):
        """QuZO/ZOQO: registers an int8_row QMatrix's codes as an int8 tensor
        (range [-127, 127], the matrix's row scales); returns its id.
        UnsupportedError for int4_group (unpack it and use set_codes)."""
        return self._add_q(lib.zoq_param_add_qcodes, name, qmatrix, qmatrix.codes)

    def init_normal(self, name, sigma):
        """Fills parameter `name` with sigma·z from its own stream (reproducible)."""
        self._check(lib.zoq_param_init_normal(self.handle, self.param_id(name), float(sigma)))

    def lora_b_warm_start(self, sigma):
        """init_normal on every PARAM_LORA_B parameter; returns how many."""
        n = C.c_int32()
        self._check(lib.zoq_lora_b_warm_start(self.handle, float(sigma), C.byref(n)))
        return n.value

    # ---- the step, in place ------------------------------------------------
    def _call_closure(self, user, ev, loss):
        try:
            self.current_eval = EvalInfo(ev.contents)
            value = self._sigint.call(self._closure)
            if value is None:
                raise TypeError("the closure must return the loss (a number or a one-element "
                                "tensor), got None")
            loss[0] = float(value)
            return 0
        except Stop:
            return _CALLBACK_STOP
        except BaseException as e:  # re-raised by step() once zoq restored the parameters
            self._exc = e
            return _CALLBACK_RAISED

    def step(self, closure):
        """One ZO step: zoq perturbs the parameters in place and calls
        closure() (no arguments; self.current_eval says which point) for each
        loss. Returns a Report. An exception raised by the closure propagates
        from here after zoq restored the parameters; raising Stop abandons the
        step and returns a report with stopped=True. `closure` may also be a
        zoq.pref.Objective."""
        from .pref import Objective
        r = _report_struct()
        if isinstance(closure, Objective):
            return closure._step(self, r)
        self._closure, self._exc = closure, None
        self._check(lib.zoq_set_objective(self.handle, C.cast(self._trampoline, C.c_void_p),
                                          None))
        try:
            with self._stepping(self._sigint):
                status = lib.zoq_step(self.handle, C.byref(r))
        finally:
            self._closure, self.current_eval = None, None
            lib.zoq_set_objective(self.handle, None, None)
        return self._finish(status, r, self)

    def run(self, closure, steps):
        """`steps` steps with the same closure in one C call (zoq_run: the
        points, losses and parameters of calling step() that many times, with
        fewer passes for central SPSA); returns the steps applied. Exceptions
        and Stop behave as in step() (the parameters hold the last applied
        step; step_count says how many were)."""
        r = _report_struct()
        done = C.c_int64()
        self._closure, self._exc = closure, None
        self._check(lib.zoq_set_objective(self.handle, C.cast(self._trampoline, C.c_void_p),
                                          None))
        try:
            with self._stepping(self._sigint):
                status = lib.zoq_run(self.handle, int(steps), C.byref(done), C.byref(r))
        finally:
            self._closure, self.current_eval = None, None
            lib.zoq_set_objective(self.handle, None, None)
        self._finish(status, r, self)
        return done.value

    @contextlib.contextmanager
    def _stepping(self, sigint):
        """Around zoq_step/zoq_run: close() refuses, Ctrl-C is deferred (sigint)."""
        self._in_step = True
        try:
            with sigint:
                yield
        finally:
            self._in_step = False

    def _finish(self, status, r, holder):
        """Turns zoq_step's status into a Report or the exception to raise
        (a Ctrl-C that no callback raised comes out here, as KeyboardInterrupt)."""
        exc, holder._exc = holder._exc, None
        if exc is not None:
            raise exc
        holder._sigint.raise_pending()
        self._check(status)
        return Report(r, stopped=status == _STOPPED)

    # ---- ask/tell ----------------------------------------------------------
    def ask(self):
        """Lists the points of the next step (parameters untouched until tell)."""
        pts, n = C.POINTER(_lib.Point)(), C.c_int32()
        self._check(lib.zoq_ask(self.handle, C.byref(pts), C.byref(n)))
        return [Point(pts[i].query, pts[i].coef) for i in range(n.value)]

    def materialize(self, point, name, out=None):
        """Parameter `name` at point `point` of the pending step, written to
        `out` (an array like the parameter) or a new array."""
        a = self._arrays.get(name)
        if a is None:
            self.param_id(name)  # raises NotFoundError with zoq's message
        if out is None:
            out = np.empty_like(a)
        elif not isinstance(out, np.ndarray) or out.dtype != a.dtype or out.size != a.size \
                or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("out must be a writable C-contiguous %s array of %d elements"
                             % (a.dtype, a.size))
        self._materialize_to(point, name, out.ctypes.data)
        return out

    def _materialize_to(self, point, name, address):
        """zoq_materialize of parameter `name` into memory at `address` (on
        the parameter's device)."""
        self._check(lib.zoq_materialize(self.handle, int(point), self.param_id(name), address))

    def point_noise(self, point, name, offset=0, count=None, out=None):
        """The f32 direction of point `point` for elements [offset,
        offset+count) of parameter `name` (all from offset by default)."""
        pid = self.param_id(name)
        if count is None:
            count = self._device_numel.get(name, None) or self._arrays[name].size
            count -= offset
        out = np.empty(count, np.float32) if out is None else \
            carray(out, np.float32, "out", count, writable=True)
        self._check(lib.zoq_point_noise(self.handle, int(point), pid, int(offset), int(count),
                                        ptr(out, C.c_float)))
        return out

    def tell(self, losses):
        """Takes the losses of the asked points (in order); applies the update."""
        losses = carray(losses, np.float64, "losses")
        r = _report_struct()
        self._check(lib.zoq_tell(self.handle, ptr(losses, C.c_double), losses.size,
                                 C.byref(r)))
        return Report(r)

    def cancel(self):
        """Abandons a pending ask/tell step (no-op if none)."""
        self._check(lib.zoq_cancel(self.handle))

    # ---- counters and state ------------------------------------------------
    @property
    def step_count(self):
        """Steps applied so far (the step counter)."""
        n = C.c_uint64()
        self._check(lib.zoq_get_step(self.handle, C.byref(n)))
        return n.value

    def skip_step(self):
        """Advances the step counter without an update."""
        self._check(lib.zoq_skip_step(self.handle))

    def save(self, path):
        """Saves the optimizer state (not the parameters) to path, atomically."""
        self._check(lib.zoq_state_save(self.handle, os.fsencode(path)))

    def load(self, path):
        """Loads a state saved by save(); on error the optimizer is unchanged.
        The file's options replace every option (optimizer, seed, lr, ...):
        warns (UserWarning) naming those set on this optimizer that change."""
        before = {n: self.get(n) for n in self._user_options}
        self._check(lib.zoq_state_load(self.handle, os.fsencode(path)))
        changed = ["%s=%r (was %r)" % (n, self.get(n), v) for n, v in sorted(before.items())
                   if self.get(n) != v]
        if changed:
            warnings.warn("%s: the state file's options replace those set on this optimizer: "
                          "%s; set them again after load() to override" % (path, ", ".join(changed)),
                          stacklevel=2)
