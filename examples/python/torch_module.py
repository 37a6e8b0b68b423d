"""A torch nn.Module trained by zoq: no backward pass, no autograd graph.

zoq.torch registers the module's CPU tensors in place (zero copy) and runs
the closure under torch.no_grad(). Run: ZOQ_LIBRARY=build/libzoq.so python3
examples/python/torch_module.py
"""
import sys

import torch

import zoq.torch

torch.manual_seed(0)
x = torch.rand(512, 2) * 4 - 2
y = (x[:, 0] * x[:, 1] > 0).long()  # XOR-like quadrants: needs the hidden layer

model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
opt = zoq.torch.Optimizer(model, lr=0.05, eps=1e-3, queries=4, optimizer="adam", seed=1)
print("registered:", ", ".join("%s %s" % (n, tuple(t.shape)) for n, t in opt.tensors.items()))


def accuracy():
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


for t in range(500):
    idx = torch.randint(0, len(x), (128,))
    loss = opt.step(lambda: torch.nn.functional.cross_entropy(model(x[idx]), y[idx]))
    if t % 100 == 0:  # opt.report: the step's zoq.Report
        print("step %4d  loss %.4f  accuracy %.3f  |g| %.3g"
              % (t, loss, accuracy(), opt.report.grad_norm))
print("accuracy %.3f" % accuracy())
sys.exit(0 if accuracy() > 0.9 else 1)
