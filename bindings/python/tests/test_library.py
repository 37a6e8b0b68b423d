"""Loading the library, versions, status names, option discovery."""
import os
import shutil
import subprocess
import sys

import pytest

import zoq
from zoq import _lib

from conftest import ROOT, header_text


def test_version_matches_header():
    header = header_text()
    num = {k: int(header.split("#define ZOQ_VERSION_%s " % k)[1].split()[0])
           for k in ("MAJOR", "MINOR", "PATCH")}
    assert zoq.version() == "%(MAJOR)d.%(MINOR)d.%(PATCH)d" % num
    assert zoq.version_number() == num["MAJOR"] * 10000 + num["MINOR"] * 100 + num["PATCH"]
    assert _lib.VERSION_MAJOR == num["MAJOR"]


def test_strerror_names_pinned_codes():
    assert zoq.strerror(0) == "ok"
    assert zoq.strerror(-1) == "invalid argument"
    assert zoq.strerror(-999) == "unknown status"


def test_options_lists_every_key_with_its_type():
    opts = zoq.options()
    assert opts["seed"] == (1, "int")
    assert opts["lr"] == (5, "double")
    assert opts["lozo_interval"] == (30, "int")
    assert len(opts) >= 30


def test_generated_option_list_is_the_librarys():
    """_generated.py (tools/gen_options.py) against the library itself: every
    key, type and default, and no option the library has that it lacks."""
    from zoq import _generated
    import ctypes as C
    for name, (key, typ, default) in _generated.OPTIONS.items():
        k, t = C.c_int(), C.c_int()
        assert _lib.lib.zoq_opt_find(name.encode(), C.byref(k), C.byref(t)) == 0, name
        assert (k.value, ("int", "double")[t.value]) == (key, typ)
        assert _lib.lib.zoq_opt_name(key).decode() == name
    opt = zoq.Optimizer()
    got = {name: opt.get(name) for name in _generated.OPTIONS}
    named = {n: v.index(got[n]) for n, v in _generated.ENUMS.items()}
    got.update(named)
    assert got == {n: d for n, (_, _, d) in _generated.OPTIONS.items()}
    keys = {k for k, _, _ in _generated.OPTIONS.values()}
    assert [k for k in range(1, 4096) if _lib.lib.zoq_opt_name(k) is not None and k not in keys] == []


def test_wrong_version_is_refused(monkeypatch):
    monkeypatch.setattr(_lib, "VERSION_MIN", zoq.version_number() + 1)
    with pytest.raises(zoq.LibraryError, match="these bindings need"):
        _lib.load()
    monkeypatch.setattr(_lib, "VERSION_MIN", 0)
    monkeypatch.setattr(_lib, "VERSION_MAJOR", _lib.VERSION_MAJOR + 1)
    with pytest.raises(zoq.LibraryError, match="version"):
        _lib.load()


def _import_in(env, path):
    code = "import zoq, zoq._lib; print(zoq._lib.lib._name)"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=path,
                          capture_output=True, text=True)


def test_missing_library_is_a_clear_import_error(tmp_path):
    env = dict(os.environ, ZOQ_LIBRARY=str(tmp_path / "nowhere.so"),
               PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
    r = _import_in(env, tmp_path)
    assert r.returncode != 0
    assert "LibraryError" in r.stderr and "ZOQ_LIBRARY" in r.stderr
    assert "pip install ./bindings/python" in r.stderr and "make install" in r.stderr  # what to do


def test_library_copied_into_the_package_is_found(tmp_path):
    pkg = tmp_path / "zoq"
    shutil.copytree(os.path.join(ROOT, "bindings", "python", "zoq"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.realpath(os.environ["ZOQ_LIBRARY"]), pkg / "libzoq.so.0")
    env = {k: v for k, v in os.environ.items() if k not in ("ZOQ_LIBRARY", "PYTHONPATH")}
    r = _import_in(env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(pkg / "libzoq.so.0")


def test_every_header_function_is_declared_for_ctypes():
    """A new zoq_* function in the headers fails this until it is bound: add it to
    PROTOTYPES in zoq/_lib.py (one line) and wrap it."""
    import re
    header = header_text()
    declared = set(re.findall(r"^ZOQ_API [^;(]*?\b(zoq_\w+)\s*\(", header, re.M))
    assert len(declared) >= 66
    assert sorted(declared - set(_lib.PROTOTYPES)) == []
    assert sorted(set(_lib.PROTOTYPES) - declared) == []
