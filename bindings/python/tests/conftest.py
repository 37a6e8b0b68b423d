"""Runs the tests against bindings/python/zoq and, unless ZOQ_LIBRARY says
otherwise, the repository's build/libzoq.so (what `make check` builds)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
if "ZOQ_LIBRARY" in os.environ:  # absolute: some tests run python in other folders
    os.environ["ZOQ_LIBRARY"] = os.path.abspath(os.environ["ZOQ_LIBRARY"])
elif os.path.exists(os.path.join(ROOT, "build", "libzoq.so")):
    os.environ["ZOQ_LIBRARY"] = os.path.join(ROOT, "build", "libzoq.so")
