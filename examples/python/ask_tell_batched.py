"""Ask/tell with a batched forward: all points of a step in one evaluation.

zoq_ask lists the step's points θ + c·z_q; materialize writes each into a
slot of a stacked weight tensor, one einsum scores them all, tell applies
the update. The parameters never move in between. Run:
ZOQ_LIBRARY=build/libzoq.so python3 examples/python/ask_tell_batched.py
"""
import sys

import numpy as np

import zoq

rng = np.random.default_rng(0)
x = rng.standard_normal((512, 16)).astype(np.float32)
w_true = rng.standard_normal((16, 4)).astype(np.float32)
y = np.tanh(x @ w_true)

w = np.zeros((16, 4), np.float32)
opt = zoq.Optimizer({"w": w}, lr=0.05, eps=1e-3, queries=16, optimizer="adam", seed=2)


def batched_losses(ws):  # ws: (points, 16, 4) -> one loss per point
    pred = np.tanh(x @ ws)  # (points, 512, 4): one batched matmul
    return ((pred - y) ** 2).mean(axis=(1, 2))


start = batched_losses(w[None])[0]
stack = None
for t in range(200):
    points = opt.ask()  # 32 points: ±eps along 16 directions
    if stack is None:
        stack = np.empty((len(points),) + w.shape, np.float32)
    for i in range(len(points)):
        opt.materialize(i, "w", out=stack[i])  # θ + coef·z of point i, w untouched
    report = opt.tell(batched_losses(stack))
    if t % 50 == 0:
        print("step %3d  loss %.5f  points %d" % (t, report.loss, len(points)))
end = batched_losses(w[None])[0]
print("loss %.5f -> %.5f" % (start, end))
sys.exit(0 if end < 0.05 * start else 1)
