"""Runs the tests against bindings/python/zoq and, unless ZOQ_LIBRARY says
otherwise, the repository's build/libzoq.so (what `make check` builds)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))


def header_text():
    """The public headers as one text: include/zoq.h and its parts."""
    inc = os.path.join(ROOT, "include")
    parts = sorted(os.path.join(inc, "zoq", f) for f in os.listdir(os.path.join(inc, "zoq")))
    return "".join(open(p).read() for p in [os.path.join(inc, "zoq.h")] + parts)


if "ZOQ_LIBRARY" in os.environ:  # absolute: some tests run python in other folders
    os.environ["ZOQ_LIBRARY"] = os.path.abspath(os.environ["ZOQ_LIBRARY"])
elif os.path.exists(os.path.join(ROOT, "build", "libzoq.so")):
    os.environ["ZOQ_LIBRARY"] = os.path.join(ROOT, "build", "libzoq.so")
