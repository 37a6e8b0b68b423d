"""Builds the zoq package with libzoq inside it, so that `import zoq` works
anywhere without ZOQ_LIBRARY: `pip install ./bindings/python` (or `make
wheel`) runs `make lib` in the zoq repository around this folder and copies
the library into the package as zoq/libzoq.so.<version>. ZOQ_BUNDLE=path
bundles an already built libzoq.so instead. The metadata is in
pyproject.toml; build files go to the repository's build/python/.
"""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
IN_REPO = os.path.isfile(os.path.join(ROOT, "Makefile")) and \
    os.path.isfile(os.path.join(ROOT, "include", "zoq.h"))

HELP = ("libzoq is built from the zoq repository this package sits in (bindings/python), "
        "with its Makefile: install the build dependencies there first (`make deps`: gcc, make, "
        "libopenblas-dev, libxxhash-dev), or set ZOQ_BUNDLE=/path/to/libzoq.so.0 to bundle a "
        "library built elsewhere")


def libzoq():
    """The real file of the libzoq to bundle: $ZOQ_BUNDLE, or the
    repository's build/libzoq.so, (re)made now."""
    given = os.environ.get("ZOQ_BUNDLE")
    if given:
        if not os.path.isfile(given):
            raise SystemExit("zoq: ZOQ_BUNDLE=%s is not a file" % given)
        return os.path.realpath(given)
    if not IN_REPO:
        raise SystemExit("zoq: cannot build libzoq here (%s is not the zoq repository). %s"
                         % (ROOT, HELP))
    try:
        subprocess.run(["make", "-C", ROOT, "lib"], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit("zoq: `make -C %s lib` failed (%s). %s" % (ROOT, e, HELP)) from None
    return os.path.realpath(os.path.join(ROOT, "build", "libzoq.so"))


class BuildWithLibzoq(build_py):
    """build_py, plus libzoq copied into the built package."""

    def run(self):
        dest = os.path.join(self.build_lib, "zoq")
        shutil.rmtree(dest, ignore_errors=True)  # nothing stale from an earlier build
        super().run()
        lib = libzoq()
        shutil.copy2(lib, os.path.join(dest, os.path.basename(lib)))


class BinaryDistribution(Distribution):
    """The package carries a shared library: its wheel is for one platform."""

    def has_ext_modules(self):
        return True


build_dir = os.path.join(ROOT, "build", "python")
if IN_REPO:
    os.makedirs(build_dir, exist_ok=True)
setup(cmdclass={"build_py": BuildWithLibzoq}, distclass=BinaryDistribution,
      options={"build": {"build_base": build_dir}, "egg_info": {"egg_base": build_dir}}
      if IN_REPO else {})
