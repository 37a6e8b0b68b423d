"""Dropout left on (model.train()) during ZO training, with zoq.torch's common
random numbers: every point of a step sees the same dropout masks, so the
MLP trains as well as with dropout off (model.eval()). Without them (the
last line) the two sides of each difference see different masks and the
estimate is noise. UCI digits (python3-sklearn's copy), median of 3 seeds,
whose accuracies spread over about 5 points: the medians must agree within
5, and without common random numbers it must not learn.
Run: ZOQ_LIBRARY=build/libzoq.so python3 examples/python/torch_dropout.py
"""
import gzip
import statistics
import sys

import numpy as np
import torch

import zoq.torch

torch.set_num_threads(1)
DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
raw = np.loadtxt(gzip.open(DIGITS), delimiter=",")
x, y = torch.tensor(raw[:, :64] / 16, dtype=torch.float32), torch.tensor(raw[:, 64]).long()
held_out = torch.arange(len(y)) % 5 == 0  # every 5th row, as the demo


def accuracy(seed, dropout_on, crn=True, steps=400):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Dropout(0.1),
                                torch.nn.Linear(32, 10))
    model.train(dropout_on)
    opt = zoq.torch.Optimizer(model, lr=0.01, eps=1e-3, queries=4, optimizer="adam",
                              seed=seed, threads=1, common_random_numbers=crn)
    xt, yt = x[~held_out], y[~held_out]
    for _ in range(steps):
        i = torch.randint(0, len(yt), (128,))
        opt.step(lambda: torch.nn.functional.cross_entropy(model(xt[i]), yt[i]))
    model.eval()
    with torch.no_grad():
        return (model(x[held_out]).argmax(1) == y[held_out]).float().mean().item()


runs = {"dropout off (eval mode)": [accuracy(s, False) for s in range(3)],
        "dropout on (train mode)": [accuracy(s, True) for s in range(3)]}
for name, accs in runs.items():
    print("%-24s held-out accuracy %s  median %.3f"
          % (name, " ".join("%.3f" % a for a in accs), statistics.median(accs)))
gap = statistics.median(runs["dropout off (eval mode)"]) - \
    statistics.median(runs["dropout on (train mode)"])
print("gap %.1f points (must be within 5)" % (100 * gap))
no_crn = accuracy(0, True, False)
print("dropout on, common_random_numbers=False: accuracy %.3f (seed 0)" % no_crn)
sys.exit(0 if abs(gap) <= 0.05 and no_crn < 0.5 else 1)
