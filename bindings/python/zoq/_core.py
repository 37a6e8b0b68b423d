"""Errors, status checking and numpy <-> C argument helpers."""
import ctypes as C

import numpy as np

from ._lib import lib


class Error(RuntimeError):
    """A zoq call failed. ``status`` is the zoq_status_t value, ``message``
    zoq's explanation (zoq_last_error, or zoq_strerror without a context)."""

    def __init__(self, status, message):
        self.status = status
        self.message = message
        super().__init__("%s (%s)" % (message, strerror(status)) if message else strerror(status))


class InvalidError(Error, ValueError):
    """ZOQ_E_INVALID: an argument is NULL, out of range or of the wrong type."""


class NoMemoryError(Error, MemoryError):
    """ZOQ_E_NOMEM."""


class StateError(Error):
    """ZOQ_E_STATE: the call is not valid now (e.g. tell without ask)."""


class NotFoundError(Error, LookupError):
    """ZOQ_E_NOT_FOUND: no such parameter, group or option."""


class ExistsError(Error):
    """ZOQ_E_EXISTS: a parameter with this name, or one whose memory
    overlaps this one (the same array twice, overlapping views), is
    already registered."""


class CallbackError(Error):
    """ZOQ_E_CALLBACK: the objective returned an error; the step was abandoned."""


class NonFiniteError(Error, ArithmeticError):
    """ZOQ_E_NONFINITE: a loss was NaN or infinite; the step was abandoned."""


class FileError(Error, OSError):
    """ZOQ_E_IO: a file could not be opened, read, written or renamed."""


class FormatError(Error):
    """ZOQ_E_FORMAT, ZOQ_E_CHECKSUM, ZOQ_E_MISMATCH, ZOQ_E_VERSION: a file
    that is not a zoq file, is corrupt, or does not fit this optimizer."""


class UnsupportedError(Error, NotImplementedError):
    """ZOQ_E_UNSUPPORTED: a valid request this build cannot do."""


_CLASSES = {-1: InvalidError, -2: NoMemoryError, -3: StateError, -4: NotFoundError,
            -5: ExistsError, -6: CallbackError, -7: NonFiniteError, -8: FileError,
            -9: FormatError, -10: FormatError, -11: FormatError, -12: UnsupportedError,
            -13: FormatError}


def strerror(status):
    """zoq's short name of a status code."""
    return lib.zoq_strerror(int(status)).decode()


def check(status, ctx=None, message=None):
    """Raises the Error subclass of a negative status, with zoq_last_error(ctx)
    or, for the context-free calls that fill a message buffer, `message`."""
    if status < 0:
        msg = lib.zoq_last_error(ctx).decode() if ctx is not None else ""
        if message is not None:
            msg = message.value.decode(errors="replace") if hasattr(message, "value") \
                else str(message)
        raise _CLASSES.get(status, Error)(status, msg)
    return status


def check_free(status):
    """check() for a call without a context: zoq records its message in
    thread-local storage, read with zoq_last_error(NULL) right after the
    failure (ctypes calls run on the calling thread)."""
    if status < 0:
        check(status, message=lib.zoq_last_error(None).decode(errors="replace"))
    return status


# ---- numpy arrays as C arguments -------------------------------------------

def carray(a, dtype, name, n=None, writable=False):
    """`a` as a C-contiguous numpy array of `dtype` (copying only read-only
    inputs that are not already one), checked to hold n elements."""
    if writable:
        if not isinstance(a, np.ndarray) or a.dtype != dtype or not a.flags.c_contiguous \
                or not a.flags.writeable:
            raise TypeError("%s must be a writable C-contiguous %s array" % (name, np.dtype(dtype)))
    else:
        a = np.ascontiguousarray(a, dtype=dtype)
    if n is not None and a.size != n:
        raise ValueError("%s must have %d elements, got %d" % (name, n, a.size))
    return a


def ptr(a, ctype):
    """A ctypes pointer to the data of numpy array a (None for None)."""
    return None if a is None else a.ctypes.data_as(C.POINTER(ctype))
