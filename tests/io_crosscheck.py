#!/usr/bin/env python3
"""io_crosscheck.py - libzoq's safetensors reader and writer against the
`safetensors` package from PyPI (the reference implementation), through
ctypes on build/libzoq.so:

1. files the package writes (every zoq dtype, metadata, scalars, empty
   tensors, random shapes) load in zoq with the same names, shapes, bytes
   and f32 values;
2. files zoq writes load in the package with the same values and metadata,
   and are byte-identical to what the package writes for the same tensors
   and at most one metadata entry (the package orders two or more entries
   differently in each process; zoq sorts them);
3. a PEFT adapter folder zoq writes has the tensor names, shapes and values
   PEFT expects, and an adapter_config.json whose keys are all fields of
   PEFT's LoraConfig/PeftConfig (the field list below is taken from its
   source: src/peft/config.py PeftConfigMixin/PeftConfig and
   src/peft/tuners/lora/config.py LoraConfig, so this runs without torch;
   tests/peft_roundtrip.py loads the folders in PEFT itself).

Usage: io_crosscheck.py BUILD_DIR   (exit 0 when everything matches)
"""
import ctypes as C
import json
import os
import sys
import tempfile

import numpy as np
import safetensors
import safetensors.numpy

# Fields of PeftConfig (peft_type, task_type, base_model_name_or_path,
# revision, inference_mode, auto_mapping) and LoraConfig (the rest) in PEFT
# 0.13 - 0.17. A key outside this set breaks LoraConfig(**json) in older
# PEFT releases and is dropped with a warning by newer ones.
PEFT_FIELDS = {
    "peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode",
    "auto_mapping", "peft_version",
    "r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout", "fan_in_fan_out",
    "bias", "use_rslora", "modules_to_save", "init_lora_weights", "layers_to_transform",
    "layers_pattern", "rank_pattern", "alpha_pattern", "megatron_config", "megatron_core",
    "loftq_config", "eva_config", "corda_config", "use_dora", "layer_replication",
    "runtime_config", "lora_bias", "trainable_token_indices", "target_parameters",
}
# What vLLM's PEFTHelper requires and checks, and what PEFT needs to build layers.
REQUIRED = {"peft_type": str, "r": int, "lora_alpha": (int, float), "target_modules": list,
            "bias": str, "task_type": str}

ST_F32, ST_F16, ST_BF16, ST_I8, ST_I32 = range(5)
NAMES = {ST_F32: "F32", ST_F16: "F16", ST_BF16: "BF16", ST_I8: "I8", ST_I32: "I32"}
NP = {ST_F32: np.float32, ST_F16: np.float16, ST_BF16: np.uint16, ST_I8: np.int8,
      ST_I32: np.int32}


class Info(C.Structure):
    _fields_ = [("size", C.c_size_t), ("name", C.c_char_p), ("dtype", C.c_int32),
                ("ndim", C.c_int32), ("shape", C.c_int64 * 8), ("numel", C.c_int64),
                ("nbytes", C.c_uint64), ("offset", C.c_uint64)]


class PeftModule(C.Structure):
    _fields_ = [("size", C.c_size_t), ("module", C.c_char_p), ("rank", C.c_int32),
                ("dtype", C.c_int32), ("in_features", C.c_int64),
                ("out_features", C.c_int64), ("alpha", C.c_double), ("a", C.c_void_p),
                ("b", C.c_void_p)]


def load(build):
    lib = C.CDLL(os.path.join(build, "libzoq.so"))
    P = C.c_void_p
    sig = {
        "zoq_st_open": (C.c_int, [C.c_char_p, C.POINTER(P), C.c_char_p, C.c_size_t]),
        "zoq_st_free": (None, [P]),
        "zoq_st_count": (C.c_int64, [P]),
        "zoq_st_info": (C.c_int, [P, C.c_int64, C.POINTER(Info)]),
        "zoq_st_read": (C.c_int, [P, C.c_int64, C.c_int, P, C.c_size_t]),
        "zoq_st_metadata_count": (C.c_int64, [P]),
        "zoq_st_metadata_at": (C.c_int, [P, C.c_int64, C.POINTER(C.c_char_p),
                                         C.POINTER(C.c_char_p)]),
        "zoq_st_writer_create": (C.c_int, [C.POINTER(P)]),
        "zoq_st_writer_free": (None, [P]),
        "zoq_st_writer_add": (C.c_int, [P, C.c_char_p, C.c_int32, C.POINTER(C.c_int64), P,
                                        C.c_int, C.c_int]),
        "zoq_st_writer_set_metadata": (C.c_int, [P, C.c_char_p, C.c_char_p]),
        "zoq_st_writer_write": (C.c_int, [P, C.c_char_p]),
        "zoq_st_writer_last_error": (C.c_char_p, [P]),
        "zoq_peft_save": (C.c_int, [C.c_char_p, P, C.POINTER(PeftModule), C.c_int64,
                                    C.c_char_p, C.c_size_t]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def bf16_to_f32(u16):
    # np.uint32 shift count: with a Python int, numpy 1.x promotes a 0-d
    # uint32 array to int64 (value-based casting) and the view fails
    return (np.asarray(u16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def zoq_read_all(lib, path):
    """Every tensor of path as (dtype, shape, raw bytes, f32 values), and the metadata."""
    st, err = C.c_void_p(), C.create_string_buffer(256)
    rc = lib.zoq_st_open(path.encode(), C.byref(st), err, 256)
    assert rc == 0, f"zoq refused {path}: {rc} {err.value.decode()}"
    out = {}
    for i in range(lib.zoq_st_count(st)):
        info = Info(size=C.sizeof(Info))
        assert lib.zoq_st_info(st, i, C.byref(info)) == 0
        raw = (C.c_ubyte * max(int(info.nbytes), 1))()
        f32 = np.empty(max(info.numel, 1), np.float32)
        assert lib.zoq_st_read(st, i, info.dtype, raw, info.nbytes) == 0
        assert lib.zoq_st_read(st, i, ST_F32, f32.ctypes.data, 4 * info.numel) == 0
        out[info.name.decode()] = (info.dtype, list(info.shape[:info.ndim]),
                                   bytes(raw)[:info.nbytes], f32[:info.numel])
    meta = {}
    for i in range(lib.zoq_st_metadata_count(st)):
        k, v = C.c_char_p(), C.c_char_p()
        assert lib.zoq_st_metadata_at(st, i, C.byref(k), C.byref(v)) == 0
        meta[k.value.decode()] = v.value.decode()
    lib.zoq_st_free(st)
    return out, meta


def package_write(path, tensors, metadata):
    """tensors: name -> (zoq dtype, array); BF16 arrays are uint16 bit patterns."""
    specs, keep = {}, []  # TensorSpec holds raw pointers: keep the arrays alive
    for name, (dt, arr) in tensors.items():
        arr = np.require(arr, requirements="C")
        keep.append(arr)
        specs[name] = safetensors.TensorSpec(
            dtype="bfloat16" if dt == ST_BF16 else arr.dtype.name, shape=list(arr.shape),
            data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    data = bytes(safetensors.serialize(specs, metadata=metadata))
    with open(path, "wb") as f:
        f.write(data)
    return data


def random_tensors(rng, count):
    tensors = {}
    for k in range(count):
        dt = int(rng.integers(0, 5))
        shape = tuple(int(x) for x in rng.integers(0, 5, size=int(rng.integers(0, 4))))
        if dt == ST_BF16:
            arr = rng.integers(0, 65536, size=shape).astype(np.uint16)
            arr[(arr & 0x7F80) == 0x7F80] = 0x3F80  # no NaN/inf patterns: compare by value
        elif dt in (ST_I8, ST_I32):
            info = np.iinfo(NP[dt])
            arr = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(NP[dt])
        else:
            arr = (rng.standard_normal(shape) * 100).astype(NP[dt])
        tensors[f"t{k}.w\u00e9ight" if k % 3 == 0 else f"layer.{k}"] = (dt, arr)
    return tensors


def expected_f32(dt, arr):
    return bf16_to_f32(arr) if dt == ST_BF16 else arr.astype(np.float32)


def check_package_to_zoq(lib, tmp, rng):
    cases = [
        ({"w": (ST_F32, np.arange(6, dtype=np.float32).reshape(2, 3)),
          "h": (ST_F16, np.array([1.5, -2, 65504, 6e-8], np.float16)),
          "b": (ST_BF16, np.array([0x3F80, 0xC0A0, 0x3DCD], np.uint16)),
          "b0": (ST_BF16, np.array(0x4049, np.uint16)),  # 0-d: numpy 1.x promotion
          "i": (ST_I8, np.array([[-128, 127]], np.int8)),
          "j": (ST_I32, np.array(-7, np.int32)),
          "e": (ST_F32, np.zeros((0, 3), np.float32))},
         {"format": "pt", "quote\"tab\t": "\u00e9\u4e2d\U0001F600"}),
    ] + [(random_tensors(rng, int(rng.integers(1, 12))), None) for _ in range(40)]
    for n, (tensors, meta) in enumerate(cases):
        path = os.path.join(tmp, f"pkg{n}.safetensors")
        package_write(path, tensors, meta)
        got, got_meta = zoq_read_all(lib, path)
        assert set(got) == set(tensors), (set(got), set(tensors))
        assert got_meta == (meta or {}), got_meta
        for name, (dt, arr) in tensors.items():
            gdt, shape, raw, f32 = got[name]
            assert gdt == dt and shape == list(arr.shape), (name, gdt, shape)
            assert raw == np.require(arr, requirements="C").astype(arr.dtype.newbyteorder("<")).tobytes()
            np.testing.assert_array_equal(f32, expected_f32(dt, arr).ravel(), err_msg=name)
    return len(cases)


def zoq_write(lib, path, tensors, metadata):
    w = C.c_void_p()
    assert lib.zoq_st_writer_create(C.byref(w)) == 0
    keep = []
    for name, (dt, arr) in tensors.items():
        arr = np.require(arr, requirements="C")
        keep.append(arr)
        shape = (C.c_int64 * max(arr.ndim, 1))(*arr.shape)
        rc = lib.zoq_st_writer_add(w, name.encode(), arr.ndim, shape, arr.ctypes.data, dt, dt)
        assert rc == 0, lib.zoq_st_writer_last_error(w)
    for k, v in (metadata or {}).items():
        assert lib.zoq_st_writer_set_metadata(w, k.encode(), v.encode()) == 0
    rc = lib.zoq_st_writer_write(w, path.encode())
    assert rc == 0, lib.zoq_st_writer_last_error(w)
    lib.zoq_st_writer_free(w)


def check_zoq_to_package(lib, tmp, rng):
    cases = [(random_tensors(rng, int(rng.integers(0, 12))),
              {"format": "np"} if k % 2 else None) for k in range(40)]
    for n, (tensors, meta) in enumerate(cases):
        path = os.path.join(tmp, f"zoq{n}.safetensors")
        zoq_write(lib, path, tensors, meta)
        with open(path, "rb") as f:
            data = f.read()
        ref = package_write(os.path.join(tmp, "ref.safetensors"), tensors, meta)
        assert data == ref, f"case {n}: zoq's file differs from the package's"
        with safetensors.safe_open(path, framework="np") as f:
            assert (f.metadata() or {}) == (meta or {})
        back = dict(safetensors.deserialize(data))
        assert set(back) == set(tensors)
        for name, (dt, arr) in tensors.items():
            t = back[name]
            assert t["dtype"] == NAMES[dt] and list(t["shape"]) == list(arr.shape)
            got = np.frombuffer(bytes(t["data"]), dtype=np.dtype(NP[dt]).newbyteorder("<"))
            np.testing.assert_array_equal(got, arr.ravel(), err_msg=name)
    return len(cases)


def check_peft(lib, tmp):
    rng = np.random.default_rng(7)
    mods = [("model.layers.0.self_attn.q_proj", 4, 16, 8, 32.0),
            ("model.layers.0.self_attn.v_proj", 4, 16, 8, 32.0),
            ("model.layers.1.mlp.down_proj", 2, 24, 16, 8.0)]
    arrays, structs = [], (PeftModule * len(mods))()
    for k, (m, r, fin, fout, alpha) in enumerate(mods):
        a = rng.standard_normal((r, fin)).astype(np.float32)
        b = rng.standard_normal((fout, r)).astype(np.float32)
        arrays.append((a, b))
        structs[k] = PeftModule(C.sizeof(PeftModule), m.encode(), r, ST_F32, fin, fout, alpha,
                                a.ctypes.data, b.ctypes.data)
    folder = os.path.join(tmp, "adapter")
    err = C.create_string_buffer(256)
    rc = lib.zoq_peft_save(folder.encode(), None, structs, len(mods), err, 256)
    assert rc == 0, err.value
    loaded = safetensors.numpy.load_file(os.path.join(folder, "adapter_model.safetensors"))
    assert len(loaded) == 2 * len(mods)
    for (m, r, fin, fout, _), (a, b) in zip(mods, arrays):
        np.testing.assert_array_equal(loaded[f"base_model.model.{m}.lora_A.weight"], a)
        np.testing.assert_array_equal(loaded[f"base_model.model.{m}.lora_B.weight"], b)
    with open(os.path.join(folder, "adapter_config.json")) as f:
        cfg = json.load(f)
    unknown = set(cfg) - PEFT_FIELDS
    assert not unknown, f"keys PEFT's LoraConfig does not define: {unknown}"
    for key, typ in REQUIRED.items():
        assert isinstance(cfg.get(key), typ), f"{key} = {cfg.get(key)!r}"
    assert cfg["peft_type"] == "LORA" and cfg["bias"] == "none"
    assert cfg["r"] == 4 and cfg["lora_alpha"] == 32
    assert cfg["target_modules"] == sorted(m for m, *_ in mods)  # full paths
    assert cfg["rank_pattern"] == {"model.layers.1.mlp.down_proj": 2}
    assert cfg["alpha_pattern"] == {"model.layers.1.mlp.down_proj": 8}
    assert cfg.get("use_dora") is False and cfg.get("use_rslora") is False
    assert cfg.get("fan_in_fan_out") is False
    assert isinstance(cfg.get("lora_dropout"), float)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lib = load(sys.argv[1])
    rng = np.random.default_rng(2024)
    with tempfile.TemporaryDirectory() as tmp:
        a = check_package_to_zoq(lib, tmp, rng)
        b = check_zoq_to_package(lib, tmp, rng)
        check_peft(lib, tmp)
    print(f"safetensors {safetensors.__version__}: {a} package files read by zoq, "
          f"{b} zoq files identical to the package's; PEFT folder ok")


if __name__ == "__main__":
    main()
