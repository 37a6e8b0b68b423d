"""Every public name of the Python package is exercised by some test."""
import inspect
import os
import re

import pytest

import zoq
import zoq.distributed
import zoq.io
import zoq.lora
import zoq.pref
import zoq.quant

zt = pytest.importorskip("zoq.torch")  # the adapter needs torch

HERE = os.path.dirname(os.path.abspath(__file__))


def public_names():
    """zoq.__all__, the names each submodule defines, and their classes' members."""
    names = set(zoq.__all__)
    for mod in (zoq.pref, zoq.quant, zoq.io, zoq.lora, zoq.distributed, zt):
        names |= {n for n, o in vars(mod).items() if not n.startswith("_")
                  and getattr(o, "__module__", None) == mod.__name__}
        names |= {n for n in ("LOSSES", "FORMATS", "DTYPES", "PROPS") if hasattr(mod, n)}
    for name in list(names):
        for mod in (zoq, zoq.pref, zoq.quant, zoq.io, zoq.lora, zoq.distributed, zt):
            obj = getattr(mod, name, None)
            if inspect.isclass(obj) and obj.__module__.startswith("zoq"):
                names |= {m for m in vars(obj) if not m.startswith("_")}
    return names


def test_every_public_name_appears_in_a_test():
    src = "".join(open(os.path.join(HERE, f)).read() for f in os.listdir(HERE)
                  if f.startswith("test_") and f != "test_coverage.py")
    used = set(re.findall(r"\b\w+\b", src))
    assert sorted(public_names() - used) == []
