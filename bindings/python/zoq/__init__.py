"""zoq: zeroth-order optimization of numpy (and torch) parameters in place.

    import numpy as np, zoq
    w = np.zeros(10, np.float32)
    opt = zoq.Optimizer({"w": w}, lr=1e-2, eps=1e-3, queries=4)
    for _ in range(100):
        report = opt.step(lambda: float(((w - 1) ** 2).sum()))

Submodules: zoq.pref (preference losses), zoq.io (safetensors files and
PEFT adapter folders), zoq.lora (LoRA pairs, merging, module rotation),
zoq.torch (torch tensors); the
quantized formats (QMatrix) and the random streams are here. Guide:
docs/python.md.
"""
from ._core import (CallbackError, Error, ExistsError, FileError, FormatError, InvalidError,
                    NoMemoryError, NonFiniteError, NotFoundError, StateError, UnsupportedError,
                    strerror)
from ._lib import LibraryError, lib
from .optimizer import (ENUMS, PARAM_DISABLED, PARAM_LORA_A, PARAM_LORA_B, PARAM_NO_DECAY,
                        PARAM_SCALE, EvalInfo, Optimizer, Point, Report, Stop, options)
from .quant import FORMATS, QMatrix, q4_pack, q4_unpack, qmatrix_sizes
from .rng import noise, noise_axpy, tensor_key
from . import pref  # noqa: E402  (needs the optimizer module first)
from . import io, lora  # noqa: E402  (lora needs pref)

__version__ = "0.1.0"


def version():
    """Version string of the loaded libzoq ("MAJOR.MINOR.PATCH")."""
    return lib.zoq_version().decode()


def version_number():
    """Version of the loaded libzoq as MAJOR·10000 + MINOR·100 + PATCH."""
    return lib.zoq_version_number()


__all__ = ["CallbackError", "Error", "ExistsError", "FileError", "FormatError", "InvalidError",
           "NoMemoryError", "NonFiniteError", "NotFoundError", "StateError", "UnsupportedError",
           "LibraryError", "strerror", "ENUMS", "PARAM_DISABLED", "PARAM_LORA_A", "PARAM_LORA_B",
           "PARAM_NO_DECAY", "PARAM_SCALE", "EvalInfo", "Optimizer", "Point", "Report", "Stop",
           "options", "FORMATS", "QMatrix", "q4_pack", "q4_unpack", "qmatrix_sizes", "noise",
           "noise_axpy", "tensor_key", "pref", "io", "lora", "version", "version_number"]
