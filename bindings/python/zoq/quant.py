"""Quantized weight formats (docs/quantized.md): int8 per output channel and
GPTQ-like int4 per group, their quantizer, dequantizer and forward pass."""
import ctypes as C

import numpy as np

from . import _lib
from ._core import check, carray, ptr
from ._generated import QFORMATS
from ._lib import lib

FORMATS = tuple(QFORMATS)


def _format(fmt):
    if isinstance(fmt, str):
        if fmt not in FORMATS:
            raise ValueError("format must be one of %s, got %r" % (", ".join(FORMATS), fmt))
        return FORMATS.index(fmt)
    return int(fmt)


def qmatrix_sizes(fmt, rows, cols, group_size=0):
    """Bytes of the (codes, scales, zeros) buffers of a rows x cols matrix."""
    c, s, z = C.c_size_t(), C.c_size_t(), C.c_size_t()
    check(lib.zoq_qmatrix_sizes(_format(fmt), int(rows), int(cols), int(group_size),
                                C.byref(c), C.byref(s), C.byref(z)))
    return c.value, s.value, z.value


class QMatrix:
    """A quantized rows x cols matrix W (rows = outputs) owning its buffers:
    `codes` (uint8: packed nibbles for int4, int8 for int8_row), `scales`
    (float32, shape (rows, groups)) and `zeros` (uint8, int4 only, else None).
    The arrays may be edited in place — e.g. register `scales` with an
    Optimizer to tune them (QZO) while the codes stay fixed."""

    def __init__(self, rows, cols, fmt="int4_group", group_size=32):
        code = _format(fmt)
        group_size = group_size if code == 1 else 0
        cb, sb, zb = qmatrix_sizes(code, rows, cols, group_size)
        self.format, self.rows, self.cols, self.group_size = FORMATS[code], rows, cols, group_size
        self.codes = np.zeros(cb, np.int8 if code == 0 else np.uint8)
        self.scales = np.zeros((rows, sb // 4 // rows), np.float32)
        self.zeros = np.zeros((rows, zb // rows), np.uint8) if zb else None

    @classmethod
    def quantize(cls, w, fmt="int4_group", group_size=32):
        """Round-to-nearest quantization of the 2-D float32 matrix w."""
        w = np.asarray(w)
        if w.ndim != 2:
            raise ValueError("w must be 2-D (rows x cols), got shape %s" % (w.shape,))
        m = cls(w.shape[0], w.shape[1], fmt, group_size)
        w = carray(w, np.float32, "w")
        check(lib.zoq_qmatrix_quantize(ptr(w, C.c_float), C.byref(m._desc())))
        return m

    def _desc(self):
        for a in (self.codes, self.scales, self.zeros):
            if a is not None and not a.flags.c_contiguous:
                raise ValueError("QMatrix buffers must stay C-contiguous")
        return _lib.QMatrix(size=C.sizeof(_lib.QMatrix), format=FORMATS.index(self.format),
                            group_size=self.group_size, rows=self.rows, cols=self.cols,
                            codes=self.codes.ctypes.data, scales=ptr(self.scales, C.c_float),
                            zeros=ptr(self.zeros, C.c_uint8))

    def dequantize(self, out=None):
        """The float32 matrix (rows, cols) the codes and scales represent."""
        out = np.empty((self.rows, self.cols), np.float32) if out is None else \
            carray(out, np.float32, "out", self.rows * self.cols, writable=True)
        check(lib.zoq_qmatrix_dequantize(C.byref(self._desc()), ptr(out, C.c_float)))
        return out

    def matvec(self, x):
        """y = W x for x of cols floats."""
        x = carray(x, np.float32, "x", self.cols)
        y = np.empty(self.rows, np.float32)
        check(lib.zoq_qmatrix_matvec(C.byref(self._desc()), ptr(x, C.c_float),
                                     ptr(y, C.c_float)))
        return y

    def matmul(self, x, out=None):
        """Y = X Wᵀ for X of shape (batch, cols): Y is (batch, rows)."""
        x = carray(x, np.float32, "x")
        if x.ndim != 2 or x.shape[1] != self.cols:
            raise ValueError("x must be (batch, %d), got %s" % (self.cols, x.shape))
        y = np.empty((x.shape[0], self.rows), np.float32) if out is None else \
            carray(out, np.float32, "out", x.shape[0] * self.rows, writable=True)
        check(lib.zoq_qmatrix_matmul(C.byref(self._desc()), ptr(x, C.c_float), x.shape[0],
                                     ptr(y, C.c_float)))
        return y

    def __repr__(self):
        return "QMatrix(%d x %d, %s%s)" % (self.rows, self.cols, self.format,
                                           ", g=%d" % self.group_size if self.group_size else "")


def q4_pack(codes):
    """Packs an even number of 4-bit codes (one per byte) two per byte."""
    c = carray(codes, np.uint8, "codes")
    out = np.empty(c.size // 2, np.uint8)
    check(lib.zoq_q4_pack(ptr(c, C.c_uint8), c.size, ptr(out, C.c_uint8)))
    return out


def q4_unpack(packed, n=None):
    """Unpacks n (default: all 2·len(packed)) 4-bit codes, one per byte."""
    p = carray(packed, np.uint8, "packed")
    n = 2 * p.size if n is None else int(n)
    if n > 2 * p.size:
        raise ValueError("%d codes need %d packed bytes, got %d" % (n, (n + 1) // 2, p.size))
    out = np.empty(n, np.uint8)
    check(lib.zoq_q4_unpack(ptr(p, C.c_uint8), n, ptr(out, C.c_uint8)))
    return out
