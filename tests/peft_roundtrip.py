#!/usr/bin/env python3
"""peft_roundtrip.py - zoq's PEFT adapter folders against Hugging Face PEFT
itself, on a tiny random Llama built in-process (nothing is downloaded):

1. zoq -> PEFT: an adapter zoq writes for some layers only, with modules of
   different rank and alpha, stored as f32, f16 and bf16, loads in
   PeftModel.from_pretrained without a missing/unexpected-key warning and
   wraps exactly its modules; PEFT holds zoq's factors bit for bit, scales
   each module by its alpha / r, and its logits equal the base model's with
   s * B(A x) added at each module by hand (max |diff| 0).
2. PEFT -> zoq -> PEFT: an adapter PEFT saves with layers_to_transform and
   regex rank_pattern / alpha_pattern keys reads in zoq with PEFT's modules,
   factors, ranks and alphas; zoq writes it again, and PEFT loads that copy
   with the same wrapped modules, scalings and logits (max |diff| 0).

Usage: ZOQ_LIBRARY=build/libzoq.so PYTHONPATH=bindings/python peft_roundtrip.py
(make check runs it with Debian's python3 where tools/deps.sh could install
PEFT; exit 0 when everything matches).
"""
import copy
import os
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from transformers import LlamaConfig, LlamaForCausalLM

import zoq.io

PREFIX = "base_model.model."
# Mixed ranks and alphas, layer 0's q/v and layer 1's down_proj only.
ZOQ_MODULES = [("model.layers.0.self_attn.q_proj", 4, 8.0),
               ("model.layers.0.self_attn.v_proj", 2, 3.0),
               ("model.layers.1.mlp.down_proj", 4, 5.5)]


def tiny_llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    return LlamaForCausalLM(cfg).eval()


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def lora_layers(peft_model):
    """{module path: LoRA layer} of the modules PEFT wrapped."""
    return {name[len(PREFIX):]: mod for name, mod in peft_model.named_modules()
            if isinstance(mod, LoraLayer)}


def load_in_peft(base, folder):
    """PeftModel.from_pretrained on a copy of base; fails on a key warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(copy.deepcopy(base), folder).eval()
    keys = [str(w.message) for w in caught if "keys" in str(w.message)]
    assert not keys, f"PEFT warned while loading {folder}: {keys}"
    return model


def by_hand(base, ids, factors):
    """Logits of base with y += s * B(A x) added at each module, as PEFT's
    Linear computes it; factors: {module: (A, B, s)} as torch tensors."""
    model = copy.deepcopy(base)
    hooks = []
    for name, (a, b, s) in factors.items():
        def add(_mod, inputs, out, a=a, b=b, s=s):
            return out + F.linear(F.linear(inputs[0], a), b) * s
        hooks.append(model.get_submodule(name).register_forward_hook(add))
    out = logits(model, ids)
    for h in hooks:
        h.remove()
    return out


def zoq_to_peft(base, ids, tmp):
    rng = np.random.default_rng(3)
    ads = []
    for name, r, alpha in ZOQ_MODULES:
        lin = base.get_submodule(name)
        ads.append(zoq.io.Adapter(
            name, rng.standard_normal((r, lin.in_features)).astype(np.float32) * 0.3,
            rng.standard_normal((lin.out_features, r)).astype(np.float32) * 0.3, alpha))
    for dtype in ("float32", "float16", "bfloat16"):
        folder = os.path.join(tmp, "zoq_" + dtype)
        zoq.io.save_peft(folder, ads, dtype=dtype)
        stored = zoq.io.load_peft(folder)  # the factors as stored, in f32
        model = load_in_peft(base, folder)
        layers = lora_layers(model)
        assert sorted(layers) == sorted(a.module for a in ads), sorted(layers)
        factors = {}
        for ad in ads:
            layer, got = layers[ad.module], stored[ad.module]
            a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
            assert np.array_equal(a.detach().numpy(), got.a), (dtype, ad.module, "A")
            assert np.array_equal(b.detach().numpy(), got.b), (dtype, ad.module, "B")
            if dtype == "float32":
                assert np.array_equal(got.a, ad.a) and np.array_equal(got.b, ad.b)
            s = layer.scaling["default"]
            assert s == ad.alpha / ad.rank, (ad.module, s, ad.alpha, ad.rank)
            factors[ad.module] = (a.detach(), b.detach(), s)
        diff = (logits(model, ids) - by_hand(base, ids, factors)).abs().max().item()
        assert diff == 0, f"{dtype}: PEFT's logits differ from the hand-made ones by {diff}"
        assert (logits(model, ids) - logits(base, ids)).abs().max().item() > 1e-3
    return len(ads)


def peft_to_zoq_to_peft(base, ids, tmp):
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "down_proj"],
                     layers_to_transform=[1],
                     rank_pattern={"layers.1.*k_proj": 2},
                     alpha_pattern={"layers.1.*k_proj": 3,
                                    r"model\.layers\.1\.mlp\.down_proj": 6})
    model = get_peft_model(copy.deepcopy(base), cfg).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in lora_layers(model).values():  # B = 0 at init: make the adapter act
            layer.lora_A["default"].weight.normal_(0, 0.3)
            layer.lora_B["default"].weight.normal_(0, 0.3)
    first = os.path.join(tmp, "peft")
    model.save_pretrained(first)
    want = logits(model, ids)
    layers = lora_layers(model)
    assert sorted(layers) == ["model.layers.1.mlp.down_proj", "model.layers.1.self_attn.k_proj",
                              "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"]

    ads = zoq.io.load_peft(first)
    assert sorted(ads) == sorted(layers), sorted(ads)
    for name, layer in layers.items():
        ad = ads[name]
        assert ad.rank == layer.r["default"] and ad.alpha == layer.lora_alpha["default"], \
            (name, ad.rank, ad.alpha, layer.r["default"], layer.lora_alpha["default"])
        assert np.array_equal(ad.a, layer.lora_A["default"].weight.detach().numpy())
        assert np.array_equal(ad.b, layer.lora_B["default"].weight.detach().numpy())
    assert {n: (a.rank, a.alpha) for n, a in ads.items()}["model.layers.1.self_attn.k_proj"] == \
        (2, 3) and ads["model.layers.1.mlp.down_proj"].alpha == 6

    second = os.path.join(tmp, "peft_zoq")
    zoq.io.save_peft(second, list(ads.values()))
    again = load_in_peft(base, second)
    again_layers = lora_layers(again)
    assert sorted(again_layers) == sorted(layers)
    for name, layer in layers.items():
        assert again_layers[name].scaling["default"] == layer.scaling["default"], name
    diff = (logits(again, ids) - want).abs().max().item()
    assert diff == 0, f"PEFT -> zoq -> PEFT changed the logits by {diff}"
    return len(ads)


def main():
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    import peft
    import transformers
    base = tiny_llama()
    ids = torch.randint(0, 64, (2, 7), generator=torch.Generator().manual_seed(5))
    with tempfile.TemporaryDirectory() as tmp:
        a = zoq_to_peft(base, ids, tmp)
        b = peft_to_zoq_to_peft(base, ids, tmp)
    print(f"peft {peft.__version__}, transformers {transformers.__version__}, torch "
          f"{torch.__version__}: zoq -> PEFT ({a} modules, f32/f16/bf16) and PEFT -> zoq -> "
          f"PEFT ({b} modules) bit-identical, logits max |diff| 0")


if __name__ == "__main__":
    main()
