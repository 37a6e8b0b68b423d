"""zoq.io: safetensors files and PEFT adapter folders."""
import json
import os
import struct

import numpy as np
import pytest

import zoq
import zoq.io

RNG = np.random.default_rng(5)


def raw_header(path):
    """The JSON header of a safetensors file, read independently of zoq."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def tensors():
    return {"w": RNG.standard_normal((3, 4)).astype(np.float32),
            "h": np.arange(6, dtype=np.float16).reshape(2, 3),
            "bf": np.array([0x3F80, 0xC000], np.uint16),  # bfloat16 1.0, -2.0
            "q": np.array([-128, 0, 127], np.int8),
            "i": np.array(7, np.int32)}  # a scalar


def test_save_load_round_trip_with_metadata(tmp_path):
    path = tmp_path / "t.safetensors"
    t = tensors()
    zoq.io.save(path, t, metadata={"format": "pt", "night": "3"})
    back, meta = zoq.io.load(path, metadata=True)
    assert meta == {"format": "pt", "night": "3"}
    assert sorted(back) == sorted(t)
    assert zoq.io.DTYPES == ("float32", "float16", "bfloat16", "int8", "int32")
    for k in t:
        assert back[k].dtype == t[k].dtype and back[k].shape == t[k].shape
        np.testing.assert_array_equal(back[k], t[k])
    header, body = raw_header(path)
    assert header["w"]["dtype"] == "F32" and header["w"]["shape"] == [3, 4]
    assert header["bf"]["dtype"] == "BF16" and header["i"]["shape"] == []
    s, e = header["w"]["data_offsets"]
    np.testing.assert_array_equal(np.frombuffer(body[s:e], "<f4").reshape(3, 4), t["w"])
    assert zoq.io.loads(open(path, "rb").read()).keys() == back.keys()
    assert zoq.io.metadata_value(path, "night") == "3"
    with pytest.raises(zoq.NotFoundError):
        zoq.io.metadata_value(path, "absent")


def test_dtype_converts_floats_on_write_and_read(tmp_path):
    path = tmp_path / "c.safetensors"
    w = np.array([1.0, 0.5, -3.25, 65504.0], np.float32)
    zoq.io.save(path, {"w": w, "q": np.array([1, 2], np.int8)}, dtype="float16")
    header, _ = raw_header(path)
    assert header["w"]["dtype"] == "F16" and header["q"]["dtype"] == "I8"
    assert zoq.io.load(path)["w"].dtype == np.float16
    np.testing.assert_array_equal(zoq.io.read_tensor(path, "w", "float32"), w)
    bits = zoq.io.read_tensor(path, "w", "bfloat16")
    np.testing.assert_array_equal(bits[:3], [0x3F80, 0x3F00, 0xC050])
    with pytest.raises(zoq.InvalidError):
        zoq.io.read_tensor(path, "q", "float16")  # int8 does not convert to f16
    with pytest.raises(zoq.NotFoundError):
        zoq.io.read_tensor(path, "nope")
    with pytest.raises(ValueError):
        zoq.io.read_tensor(path, "w", "float64")


def test_read_and_write_errors(tmp_path):
    with pytest.raises(zoq.FileError, match="missing"):
        zoq.io.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(zoq.FormatError):
        zoq.io.load(bad)
    with pytest.raises(zoq.FormatError):
        zoq.io.loads(b"\x02\x00\x00\x00\x00\x00\x00\x00[]")
    with pytest.raises(TypeError):
        zoq.io.save(tmp_path / "x.safetensors", {"d": np.zeros(2)})  # float64
    with pytest.raises(zoq.InvalidError, match="__metadata__"):
        zoq.io.save(tmp_path / "x.safetensors", {"__metadata__": np.zeros(2, np.float32)})
    with pytest.raises(zoq.FileError):
        zoq.io.save(tmp_path / "no" / "dir" / "x.safetensors", {"a": np.zeros(1, np.float32)})
    assert not (tmp_path / "x.safetensors").exists()  # nothing half-written


def adapters():
    return [zoq.io.Adapter("model.layers.0.self_attn.q_proj",
                           RNG.standard_normal((4, 6)).astype(np.float32),
                           RNG.standard_normal((5, 4)).astype(np.float32), 16),
            zoq.io.Adapter("model.layers.0.mlp.up_proj",
                           RNG.standard_normal((2, 6)).astype(np.float32),
                           RNG.standard_normal((7, 2)).astype(np.float32), 8)]


def test_peft_folder_round_trip(tmp_path):
    ads = adapters()
    zoq.io.save_peft(tmp_path / "adapter", ads, base_model="tiny-llama")
    cfg = json.load(open(tmp_path / "adapter" / "adapter_config.json"))
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 16
    assert cfg["base_model_name_or_path"] == "tiny-llama"
    assert cfg["target_modules"] == sorted(a.module for a in ads)  # full paths
    files = zoq.io.load(tmp_path / "adapter" / "adapter_model.safetensors")
    np.testing.assert_array_equal(
        files["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"], ads[0].a)
    back = zoq.io.load_peft(tmp_path / "adapter")
    assert sorted(back) == sorted(a.module for a in ads)
    for ad in ads:
        got = back[ad.module]
        assert got.rank == ad.rank and got.alpha == ad.alpha and got.module == ad.module
        np.testing.assert_array_equal(got.a, ad.a)
        np.testing.assert_array_equal(got.b, ad.b)
    assert "rank=2" in repr(back[ads[1].module])
    one = zoq.io.load_peft(tmp_path / "adapter", modules=[ads[1].module])
    assert list(one) == [ads[1].module]


def test_peft_bfloat16_storage_and_errors(tmp_path):
    ads = adapters()
    zoq.io.save_peft(tmp_path / "a", ads, dtype="bfloat16", task_type="SEQ_CLS")
    assert json.load(open(tmp_path / "a" / "adapter_config.json"))["task_type"] == "SEQ_CLS"
    back = zoq.io.load_peft(tmp_path / "a")[ads[0].module]
    np.testing.assert_allclose(back.a, ads[0].a, rtol=2 ** -8)
    assert not np.array_equal(back.a, ads[0].a)  # really stored in 8 mantissa bits
    with pytest.raises(zoq.NotFoundError):
        zoq.io.load_peft(tmp_path / "a", modules=["no.such"])
    with pytest.raises(zoq.FileError):
        zoq.io.load_peft(tmp_path / "missing")
    with pytest.raises(zoq.InvalidError):
        zoq.io.save_peft(tmp_path / "b", [zoq.io.Adapter("m", ads[0].a, ads[0].b, -1.0)])
    with pytest.raises(ValueError):
        zoq.io.save_peft(tmp_path / "b", [zoq.io.Adapter("m", ads[0].a.ravel(), ads[0].b, 1)])
    assert not os.path.exists(tmp_path / "b")


def test_peft_uniform_refuses_mixed_rank_or_alpha(tmp_path):
    ads = adapters()  # ranks 4 and 2, alphas 16 and 8: SGLang would scale both by 16 / 4
    with pytest.raises(zoq.InvalidError, match="SGLang"):
        zoq.io.save_peft(tmp_path / "s", ads, uniform=True)
    same = [zoq.io.Adapter(ads[0].module, ads[0].a, ads[0].b, 16),
            zoq.io.Adapter(ads[1].module, ads[0].a, ads[0].b, 16)]
    zoq.io.save_peft(tmp_path / "s", same, uniform=True)
    cfg = json.load(open(tmp_path / "s" / "adapter_config.json"))
    assert cfg["rank_pattern"] == {} and cfg["alpha_pattern"] == {}
