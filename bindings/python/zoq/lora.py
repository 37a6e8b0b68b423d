"""LoRA pairs, their merging across runs and the cyclic module rotation of
the nightly pipeline (docs/lora.md, docs/pipeline.md)."""
import ctypes as C

import numpy as np

from . import _lib
from ._core import check, carray, ptr
from ._generated import LORA_ALPHA_DEFAULT as ALPHA_DEFAULT
from ._generated import LORA_BLEND_BETA_DEFAULT as BLEND_BETA_DEFAULT
from ._generated import LORA_EMA_ALPHA_DEFAULT as EMA_ALPHA_DEFAULT
from ._generated import LORA_RANK_DEFAULT as RANK_DEFAULT
from ._generated import ROTATION_PROPS as PROPS
from ._lib import lib
from .pref import LOSSES



class Lora:
    """A LoRA pair on a linear module y = W x (W out x in): float32 arrays
    `a` (rank x in) and `b` (out x rank), used in place; the adapted module
    computes y = W x + (alpha/rank)·b a x. New pairs start at zero."""

    def __init__(self, module, in_features, out_features, rank=RANK_DEFAULT,
                 alpha=ALPHA_DEFAULT, type="", a=None, b=None):
        self.module, self.type, self.alpha = module, type, float(alpha)
        self.a = np.zeros((rank, in_features), np.float32) if a is None else \
            carray(a, np.float32, "a", rank * in_features, writable=True).reshape(rank, -1)
        self.b = np.zeros((out_features, rank), np.float32) if b is None else \
            carray(b, np.float32, "b", out_features * rank, writable=True).reshape(-1, rank)

    def _desc(self, flags=0):
        return _lib.Lora(size=C.sizeof(_lib.Lora), module=self.module.encode(),
                         type=self.type.encode(), in_features=self.a.shape[1],
                         out_features=self.b.shape[0], rank=self.a.shape[0], flags=flags,
                         alpha=self.alpha, a=ptr(self.a, C.c_float), b=ptr(self.b, C.c_float))

    def add_to(self, opt, enabled=True, init=True, b_sigma=0.0):
        """Registers a and b in an Optimizer (as <module>.lora_A.weight /
        .lora_B.weight, group `type`) and, with init, initializes them as
        PEFT does (A Kaiming-uniform, B = 0 or N(0, b_sigma²)); returns the ids."""
        a_id, b_id = C.c_int32(), C.c_int32()
        opt._check(lib.zoq_lora_add(opt.handle, C.byref(self._desc(0 if enabled else 1)),
                                    C.byref(a_id), C.byref(b_id)))
        opt._arrays[self.module + ".lora_A.weight"] = self.a
        opt._arrays[self.module + ".lora_B.weight"] = self.b
        if init:
            opt._check(lib.zoq_lora_init(opt.handle, a_id, b_id, float(b_sigma)))
        return a_id.value, b_id.value

    def apply(self, x, y):
        """y += (alpha/rank)·(x aᵀ) bᵀ for x (batch x in) into y (batch x out),
        in place; returns y."""
        x = carray(x, np.float32, "x")
        batch = x.shape[0] if x.ndim == 2 else 1
        y = carray(y, np.float32, "y", batch * self.b.shape[0], writable=True)
        if x.size != batch * self.a.shape[1]:
            raise ValueError("x must be (batch, %d), got %s" % (self.a.shape[1], x.shape))
        check(lib.zoq_lora_apply(C.byref(self._desc()), ptr(x, C.c_float), batch,
                                 ptr(y, C.c_float)))
        return y

    def merge(self, w, coef=1.0):
        """w += coef·(alpha/rank)·b a in place (coef -1 unmerges); returns w."""
        w = carray(w, np.float32, "w", self.b.shape[0] * self.a.shape[1], writable=True)
        check(lib.zoq_lora_merge(C.byref(self._desc()), float(coef), ptr(w, C.c_float)))
        return w

    def __repr__(self):
        return "Lora(%r, %d -> %d, rank=%d, alpha=%g)" % (
            self.module, self.a.shape[1], self.b.shape[0], self.a.shape[0], self.alpha)


def ema(dst, src, w=EMA_ALPHA_DEFAULT):
    """dst <- w·src + (1 - w)·dst in place (float32 arrays of one size); returns dst."""
    dst = carray(dst, np.float32, "dst", writable=True)
    src = carray(src, np.float32, "src", dst.size)
    check(lib.zoq_lora_ema(ptr(dst, C.c_float), ptr(src, C.c_float), dst.size, float(w)))
    return dst


class Best:
    """Tracks the best adapter by score (higher is better): offer() says
    whether a candidate is the new best; score and tag are the best's."""

    def __init__(self):
        self._b = _lib.LoraBest(size=C.sizeof(_lib.LoraBest))

    def offer(self, score, tag=0):
        improved = C.c_int()
        check(lib.zoq_lora_best_offer(C.byref(self._b), float(score), int(tag),
                                      C.byref(improved)))
        return bool(improved.value)

    @property
    def score(self):
        return self._b.score if self._b.valid else None

    @property
    def tag(self):
        return self._b.tag if self._b.valid else None


def _loss(loss):
    return LOSSES.index(loss) if isinstance(loss, str) else int(loss)


class Rotation:
    """Which module types train on which night and with which preference
    loss (Morgan 2026, §V): night t trains nights[t mod n] with losses[t mod m].
    Rotation() is Morgan's (2026) schedule; Rotation.generate makes others."""

    def __init__(self):
        self._r = _lib.Rotation(size=C.sizeof(_lib.Rotation))
        check(lib.zoq_rotation_default(C.byref(self._r)))

    @classmethod
    def generate(cls, modules, per_night, losses, ffn=()):
        """A schedule over `modules` (names = parameter groups), per_night a
        night, the subsystems (`ffn` names vs the rest) alternating."""
        names = (C.c_char_p * max(len(modules), 1))(*[m.encode() for m in modules])
        ids = (C.c_int32 * max(len(losses), 1))(*[_loss(x) for x in losses])
        mask = sum(1 << i for i, m in enumerate(modules) if m in ffn)
        self = cls.__new__(cls)
        self._r = _lib.Rotation(size=C.sizeof(_lib.Rotation))
        check(lib.zoq_rotation_generate(names, len(modules), mask, int(per_night), ids,
                                        len(losses), C.byref(self._r)))
        return self

    @property
    def modules(self):
        return [self._r.modules[i].value.decode() for i in range(self._r.n_modules)]

    @property
    def losses(self):
        return [LOSSES[self._r.losses[i]] for i in range(self._r.n_losses)]

    @property
    def supercycle(self):
        """lcm(nights, losses): the period of the dual rotation."""
        n = C.c_int64()
        check(lib.zoq_rotation_supercycle(C.byref(self._r), C.byref(n)))
        return n.value

    def night(self, t):
        """(module names, loss name) of night t >= 0."""
        bits, loss = C.c_uint64(), C.c_int32()
        check(lib.zoq_rotation_night(C.byref(self._r), int(t), C.byref(bits), C.byref(loss)))
        mods = self.modules
        return [mods[i] for i in range(len(mods)) if bits.value >> i & 1], LOSSES[loss.value]

    def check(self):
        """{property: why it fails} for the paper's four properties ({} = all hold)."""
        failed, msg = C.c_uint32(), C.create_string_buffer(2048)
        check(lib.zoq_rotation_check(C.byref(self._r), C.byref(failed), msg, len(msg)))
        lines = msg.value.decode().splitlines()
        bad = [p for p, bit in PROPS.items() if failed.value & bit]
        return {p: (lines[i] if i < len(lines) else "") for i, p in enumerate(bad)}

    def apply(self, opt, t):
        """Enables in Optimizer opt the groups of night t's modules and disables
        the other modules' groups; returns the parameters enabled."""
        n = C.c_int32()
        opt._check(lib.zoq_rotation_apply(opt.handle, C.byref(self._r), int(t), C.byref(n)))
        return n.value
