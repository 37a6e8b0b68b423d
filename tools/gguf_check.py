#!/usr/bin/env python3
"""gguf_check.py - says what a GGUF model is, and fails unless it is the
SmolLM2-135M 4-bit model examples/llama expects.

Reads the file with llama.cpp's own gguf-py (PYTHONPATH=build/llm/src/gguf-py,
as tools/llm_deps.sh sets it): architecture, shape, parameter count (summed
over the tensors) and the quantization type of every tensor.

Usage: gguf_check.py MODEL.gguf
"""
import collections
import sys

import gguf


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    r = gguf.GGUFReader(argv[1])
    arch = field(r, "general.architecture")
    blocks = field(r, f"{arch}.block_count")
    n_embd = field(r, f"{arch}.embedding_length")
    n_params = sum(int(t.n_elements) for t in r.tensors)
    types = collections.Counter(t.tensor_type.name for t in r.tensors)
    ftype = field(r, "general.file_type")
    proj = collections.Counter(t.tensor_type.name for t in r.tensors
                               if t.name.endswith(("attn_q.weight", "attn_k.weight",
                                                   "attn_v.weight", "attn_output.weight",
                                                   "ffn_gate.weight", "ffn_up.weight",
                                                   "ffn_down.weight")))
    print(f"gguf: {field(r, 'general.name')!r} ({field(r, 'general.basename')} "
          f"{field(r, 'general.size_label')}, {field(r, 'general.finetune')})")
    print(f"gguf: architecture {arch}, {blocks} blocks, n_embd {n_embd}, "
          f"{n_params:,} parameters, file_type {ftype} "
          f"({gguf.LlamaFileType(ftype).name if ftype is not None else '?'})")
    print("gguf: tensor types " + ", ".join(f"{k} {v}" for k, v in sorted(types.items())))
    ok = (arch == "llama" and blocks == 30 and n_embd == 576
          and 130e6 < n_params < 140e6 and set(proj) == {"Q4_1"} and sum(proj.values()) == 210)
    if not ok:
        sys.exit("gguf: not the SmolLM2-135M Q4_1 model examples/llama was written for")
    print("gguf: SmolLM2-135M with every attention/MLP projection in Q4_1 (4-bit)")


if __name__ == "__main__":
    main(sys.argv)
