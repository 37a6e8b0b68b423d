"""zoq's counter-based random directions (docs/rng.md)."""
import ctypes as C

import numpy as np

from ._core import check, carray, ptr
from ._generated import ENUMS
from ._lib import lib

DISTS = ENUMS["dist"]


def tensor_key(seed, name):
    """The stream key of a tensor: XXH3-64 of its name seeded with seed."""
    return lib.zoq_tensor_key(int(seed) & (2**64 - 1), name.encode())


def noise(key, step, query, count, offset=0, stream=0, dist="gaussian", out=None):
    """z[offset .. offset+count) of the stream (key, step, query, stream) as
    float32: the same values any slice of the whole stream holds."""
    d = DISTS.index(dist) if isinstance(dist, str) else int(dist)
    out = np.empty(count, np.float32) if out is None else \
        carray(out, np.float32, "out", count, writable=True)
    check(lib.zoq_noise_fill(int(key), int(step), int(query), int(stream), d, int(offset),
                             int(count), ptr(out, C.c_float)))
    return out


def noise_axpy(acc, coef, key, step, query, offset=0, stream=0, dist="gaussian"):
    """acc += coef * z[offset .. offset+len(acc)) in place (float32, the product
    and the sum rounded separately, z never stored): how an engine perturbs its
    own tensor. acc must be a writable, contiguous float32 array; returns it."""
    d = DISTS.index(dist) if isinstance(dist, str) else int(dist)
    n = int(np.asarray(acc).size)
    a = carray(acc, np.float32, "acc", n, writable=True)
    check(lib.zoq_noise_axpy(int(key), int(step), int(query), int(stream), d, int(offset), n,
                             float(coef), ptr(a, C.c_float)))
    return acc
