"""safetensors files and PEFT LoRA adapter folders (docs/formats.md) as
dicts of numpy arrays. bfloat16 tensors are uint16 arrays of the bits."""
import contextlib
import ctypes as C

import numpy as np

from . import _lib
from ._core import check
from ._generated import PEFT_UNIFORM as _PEFT_UNIFORM
from ._lib import lib

#: zoq_st_dtype_t order: the numpy dtype each stored dtype reads as.
DTYPES = ("float32", "float16", "bfloat16", "int8", "int32")
_NUMPY = (np.float32, np.float16, np.uint16, np.int8, np.int32)
_ERR_CAP = 512


def _st_dtype(a):
    """zoq_st_dtype_t of a numpy array (uint16 and ml_dtypes.bfloat16: BF16)."""
    if a.dtype.name == "bfloat16" or a.dtype == np.uint16:
        return 2
    for code, t in enumerate(_NUMPY):
        if a.dtype == t:
            return code
    raise TypeError("tensor dtype must be float32, float16, bfloat16 (uint16 bits), int8 or "
                    "int32, got %s" % a.dtype)


def _code(dtype):
    if dtype not in DTYPES:
        raise ValueError("dtype must be one of %s, got %r" % (", ".join(DTYPES), dtype))
    return DTYPES.index(dtype)


@contextlib.contextmanager
def _opened(opener, closer, *args):
    """A zoq_st / zoq_peft reader from opener(*args, &out, err, cap), closed on exit."""
    h, err = C.c_void_p(), C.create_string_buffer(_ERR_CAP)
    check(opener(*args, C.byref(h), err, _ERR_CAP), message=err)
    try:
        yield h
    finally:
        closer(h)


def _st(path):
    return _opened(lib.zoq_st_open, lib.zoq_st_free, str(path).encode())


def _read_st(st):
    tensors = {}
    info = _lib.StInfo(size=C.sizeof(_lib.StInfo))
    for i in range(lib.zoq_st_count(st)):
        check(lib.zoq_st_info(st, i, C.byref(info)))
        out = np.empty(tuple(info.shape[:info.ndim]), _NUMPY[info.dtype])
        check(lib.zoq_st_read(st, i, info.dtype, out.ctypes.data, out.nbytes))
        tensors[info.name.decode()] = out
    metadata = {}
    key, value = C.c_char_p(), C.c_char_p()
    for i in range(lib.zoq_st_metadata_count(st)):
        check(lib.zoq_st_metadata_at(st, i, C.byref(key), C.byref(value)))
        metadata[key.value.decode()] = value.value.decode()
    return tensors, metadata


def load(path, metadata=False):
    """Reads every tensor of the safetensors file at path into {name: array}
    (as stored); with metadata=True returns (tensors, {key: value})."""
    with _st(path) as st:
        tensors, meta = _read_st(st)
    return (tensors, meta) if metadata else tensors


def loads(data, metadata=False):
    """As load, from the bytes of a safetensors file."""
    data = bytes(data)
    with _opened(lib.zoq_st_open_memory, lib.zoq_st_free, data, len(data)) as st:
        tensors, meta = _read_st(st)
    return (tensors, meta) if metadata else tensors


def read_tensor(path, name, dtype=None):
    """One tensor of a safetensors file, converted to dtype (one of DTYPES;
    float32 reads any float, float16/bfloat16 convert between floats)."""
    with _st(path) as st:
        i, info = C.c_int64(), _lib.StInfo(size=C.sizeof(_lib.StInfo))
        check(lib.zoq_st_find(st, name.encode(), C.byref(i)))
        check(lib.zoq_st_info(st, i.value, C.byref(info)))
        code = info.dtype if dtype is None else _code(dtype)
        out = np.empty(tuple(info.shape[:info.ndim]), _NUMPY[code])
        check(lib.zoq_st_read(st, i.value, code, out.ctypes.data, out.nbytes))
        return out


def metadata_value(path, key):
    """The "__metadata__" value of key (NotFoundError if absent)."""
    with _st(path) as st:
        value = C.c_char_p()
        check(lib.zoq_st_metadata_get(st, key.encode(), C.byref(value)))
        return value.value.decode()


def save(path, tensors, metadata=None, dtype=None):
    """Writes {name: array} (and {key: value} metadata) to a safetensors file,
    atomically. dtype (float32, float16 or bfloat16) stores every float
    tensor in that type; None stores each as it is."""
    w = C.c_void_p()
    check(lib.zoq_st_writer_create(C.byref(w)))
    try:
        keep = []  # the writer borrows each array until write
        for name, a in tensors.items():
            a = np.require(a, requirements="C")  # keeps 0-d arrays 0-d
            code = _st_dtype(a)
            file_code = _code(dtype) if dtype is not None and code <= 2 else code
            shape = (C.c_int64 * max(a.ndim, 1))(*a.shape)
            keep.append(a)
            check(lib.zoq_st_writer_add(w, name.encode(), a.ndim, shape, a.ctypes.data, code,
                                        file_code), message=lib.zoq_st_writer_last_error(w))
        for key, value in (metadata or {}).items():
            check(lib.zoq_st_writer_set_metadata(w, key.encode(), value.encode()),
                  message=lib.zoq_st_writer_last_error(w))
        check(lib.zoq_st_writer_write(w, str(path).encode()),
              message=lib.zoq_st_writer_last_error(w))
    finally:
        lib.zoq_st_writer_free(w)


class Adapter:
    """One LoRA module of a PEFT adapter: ΔW = (alpha/rank)·b @ a with `a`
    (rank x in_features) and `b` (out_features x rank) float arrays."""

    def __init__(self, module, a, b, alpha):
        self.module, self.a, self.b, self.alpha = module, a, b, float(alpha)

    @property
    def rank(self):
        return self.a.shape[0]

    def __repr__(self):
        return "Adapter(%r, rank=%d, %d -> %d, alpha=%g)" % (
            self.module, self.rank, self.a.shape[1], self.b.shape[0], self.alpha)


def save_peft(path, adapters, base_model=None, task_type=None, dtype="float32", uniform=False):
    """Writes a PEFT LoRA adapter folder (adapter_model.safetensors and
    adapter_config.json) from a list of Adapter, atomically; dtype is the
    stored type of the factors (float32, float16 or bfloat16). uniform=True
    (for SGLang, which uses one lora_alpha / r per adapter) raises
    InvalidError if the adapters differ in rank or alpha."""
    mods = (_lib.PeftModule * max(len(adapters), 1))()
    keep = []  # zoq_peft_save reads the factors through these pointers
    for m, ad in zip(mods, adapters):
        a, b = np.ascontiguousarray(ad.a), np.ascontiguousarray(ad.b)
        if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype:
            raise ValueError("adapter %r: a and b must be 2-D arrays of one dtype" % ad.module)
        keep += [a, b]
        m.size, m.module, m.rank, m.dtype = C.sizeof(m), ad.module.encode(), a.shape[0], \
            _st_dtype(a)
        m.in_features, m.out_features, m.alpha = a.shape[1], b.shape[0], ad.alpha
        m.a, m.b = a.ctypes.data, b.ctypes.data
    cfg = _lib.PeftConfig(size=C.sizeof(_lib.PeftConfig),
                          base_model=base_model.encode() if base_model else None,
                          task_type=task_type.encode() if task_type else None,
                          file_dtype=_code(dtype), flags=_PEFT_UNIFORM if uniform else 0)
    err = C.create_string_buffer(_ERR_CAP)
    check(lib.zoq_peft_save(str(path).encode(), C.byref(cfg), mods, len(adapters), err,
                            _ERR_CAP), message=err)


def load_peft(path, dtype="float32", modules=None):
    """Reads a PEFT LoRA adapter folder into {module: Adapter} with factors
    in dtype; `modules` (a list of module paths) reads only those."""
    with _opened(lib.zoq_peft_open, lib.zoq_peft_free, str(path).encode()) as p:
        if modules is None:
            index = range(lib.zoq_peft_count(p))
        else:
            index, i = [], C.c_int64()
            for name in modules:
                check(lib.zoq_peft_find(p, name.encode(), C.byref(i)))
                index.append(i.value)
        code, out = _code(dtype), {}
        info = _lib.PeftModule(size=C.sizeof(_lib.PeftModule))
        for i in index:
            check(lib.zoq_peft_module_info(p, i, C.byref(info)))
            a = np.empty((info.rank, info.in_features), _NUMPY[code])
            b = np.empty((info.out_features, info.rank), _NUMPY[code])
            check(lib.zoq_peft_read(p, i, code, a.ctypes.data, a.nbytes, b.ctypes.data,
                                    b.nbytes))
            name = info.module.decode()
            out[name] = Adapter(name, a, b, info.alpha)
        return out
