"""numpy quickstart: fit a linear model from loss values alone.

zoq perturbs the arrays in place, calls the closure for each loss, and
updates them; nothing is copied. Run: ZOQ_LIBRARY=build/libzoq.so python3
examples/python/quickstart.py (or pip install bindings/python first).
"""
import os
import sys
import tempfile

import numpy as np

import zoq

rng = np.random.default_rng(0)
x = rng.standard_normal((256, 8)).astype(np.float32)
y = x @ np.arange(1, 9, dtype=np.float32) + 0.5

w = np.zeros(8, np.float32)  # the parameters: plain numpy arrays
b = np.zeros(1, np.float32)


def loss():
    return float(np.mean((x @ w + b - y) ** 2))  # a forward pass, no gradients


opt = zoq.Optimizer({"w": w, "b": b}, lr=0.01, eps=1e-3, queries=4, seed=1)
start = loss()
for t in range(600):
    report = opt.step(loss)  # perturb, evaluate 8 points, restore, update
    if t % 200 == 0:
        print("step %3d  loss %8.4f  lr %.3g  |g| %.3g" % (t, report.loss, report.lr,
                                                         report.grad_norm))
print("loss %.4f -> %.4f; w = %s" % (start, loss(), np.round(w, 2)))

try:  # errors are exceptions carrying zoq's message
    opt.set(eps=0.0)
except zoq.InvalidError as e:
    print("refused:", e)

path = os.path.join(tempfile.mkdtemp(), "run.zoqstate")
opt.save(path)  # optimizer state (step counter, options); resume with opt.load(path)
print("saved", path, "at step", opt.step_count)
sys.exit(0 if loss() < 0.01 * start else 1)
