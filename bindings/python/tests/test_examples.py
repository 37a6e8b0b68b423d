"""examples/python/*.py and the demo run and reach their goals."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

EXAMPLES = sorted(f for f in os.listdir(os.path.join(ROOT, "examples", "python"))
                  if f.endswith(".py"))


def run(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def test_the_four_examples_are_there():
    assert EXAMPLES == ["ask_tell_batched.py", "quickstart.py", "torch_dropout.py",
                        "torch_module.py"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_and_learns(name):
    if name.startswith("torch"):
        pytest.importorskip("torch")
    if name == "torch_dropout.py" and not os.path.exists(DIGITS):
        pytest.skip("needs %s (python3-sklearn: make deps)" % DIGITS)
    path = os.path.join(ROOT, "examples", "python", name)
    assert sum(1 for _ in open(path)) < 60
    r = run(path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "loss" in r.stdout or "accuracy" in r.stdout


def test_demo_quick_writes_its_report(tmp_path):
    r = run(os.path.join(ROOT, "demo", "digits.py"), "--quick", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    report = (tmp_path / "report.md").read_text()
    for needle in ("ZO-Adam (zoq), f32", "first-order", "2-bit codes, g=32", "QZO", "control:",
                   "QZO wins back", "| aero |", "| dpo |", "1437", "(a) From loss values",
                   "(d) Each preference loss falls", "BLAS OpenBLAS"):
        assert needle in report
    assert "held-out" in report and "dev" not in report.split("\n")[2]
    assert "step" in r.stderr and "ETA" in r.stderr  # the progress line


def test_dev_split_is_made_of_training_rows_only():
    """--dev and demo/dev_sweep.py choose settings without the held-out rows:
    their train and dev rows are exactly the demo's training rows."""
    sys.path.insert(0, os.path.join(ROOT, "demo"))
    import digits
    x_tr, y_tr, x_te, _ = digits.load_digits()
    xd_tr, yd_tr, xd_dev, yd_dev = digits.load_digits(dev=True)
    assert (len(y_tr), len(x_te), len(yd_tr), len(yd_dev)) == (1437, 360, 1149, 288)
    i = np.arange(len(y_tr))
    assert (xd_dev == x_tr[i % 5 == 0]).all() and (xd_tr == x_tr[i % 5 != 0]).all()
    assert (yd_dev == y_tr[i % 5 == 0]).all() and (yd_tr == y_tr[i % 5 != 0]).all()


def test_dev_sweep_runs_a_setting():
    r = run(os.path.join(ROOT, "demo", "dev_sweep.py"), "--seeds", "0", "--steps", "20",
            "queries=2", "eps=1e-2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "seed 0: dev accuracy" in r.stdout
    assert "eps=0.01" in r.stdout and "queries=2" in r.stdout and "20 steps of 128" in r.stdout
