"""The model and loss of test_distributed.py, and, run as a script under
mpirun, its MPI worker: 40 steps of zoq.distributed over mpi4py's
comm.allgather in place and ask/tell; prints "digest MODE RANK HEX" per rank."""
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import zoq  # noqa: E402
from zoq import distributed  # noqa: E402

MPI_STEPS = 40
OPTION_SETS = [dict(dist="gaussian", optimizer="sgd"),
               dict(dist="rademacher", optimizer="adam"),
               dict(dist="gaussian", optimizer="sgd", hessian=1, hessian_alpha=1e-3),
               dict(dist="rademacher", optimizer="momentum", sparse="magnitude")]


class Injected(Exception):
    """The failure a test injects at one point."""


def model(options):
    p = {"w": (0.3 * np.sin(np.arange(40) * 0.7)).astype(np.float32),
         "v": (0.2 * np.cos(np.arange(9) * 1.3)).astype(np.float32)}
    lr = 1e-3 if options.get("optimizer") == "adam" else 2e-2
    opt = zoq.Optimizer(p, seed=99, queries=4, threads=1, lr=lr, eps=1e-3, **options)
    return opt, p


def shard_weight(shard):
    return 1.0 + 0.5 * shard


def shard_loss(w, v, shard):
    j = np.arange(w.size)
    d = w.astype(np.float64) - 0.01 * ((j * 7 + shard * 13) % 50)
    e = v.astype(np.float64) + 0.02 * ((np.arange(v.size) + shard) % 9)
    return float(((1 + j % 5) * d * d).sum() + (e ** 4 + e * e).sum()) / (w.size + v.size)


def mean_loss(w, v, shards):
    if shards == 1:
        return shard_loss(w, v, 0)
    num = den = 0.0
    for s in range(shards):
        num += shard_weight(s) * shard_loss(w, v, s)
        den += shard_weight(s)
    return num / den


def single_step(opt, p, mode, shards):
    """One step in one process: opt.step, or ask / every point / tell."""
    if mode == "inplace":
        return opt.step(lambda: mean_loss(p["w"], p["v"], shards))
    n = len(opt.ask())
    return opt.tell([mean_loss(opt.materialize(i, "w"), opt.materialize(i, "v"), shards)
                     for i in range(n)])


def dist_step(d, p, mode, shard, fail=None):
    """One distributed step on `shard`; fail = (here, point, kind) injects."""
    opt = d.opt

    def at(i, w, v):
        if fail and fail[0] and i == fail[1]:
            if fail[2] == "raise":
                raise Injected("injected at point %d" % i)
            if fail[2] == "stop":
                raise zoq.Stop()
            return float("nan")
        return shard_loss(w, v, shard)
    if mode == "inplace":
        return d.step_inplace(lambda: at(opt.current_eval.point, p["w"], p["v"]))
    return d.step(lambda i: at(i, opt.materialize(i, "w"), opt.materialize(i, "v")))


def digest(p):
    h = hashlib.blake2b(digest_size=8)
    for a in p.values():
        h.update(a.view(np.uint8).data)
    return h.hexdigest()


def main():
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    for mode in ("inplace", "asktell"):
        opt, p = model(OPTION_SETS[1])
        d = distributed.Distributed(opt, comm.allgather, comm.rank, comm.size, check_every=10)
        for _ in range(MPI_STEPS):
            dist_step(d, p, mode, 0)
        assert d.digest() == digest(p)
        digests = comm.gather(digest(p))  # rank 0 prints: lines of ranks would interleave
        for r, h in enumerate(digests or []):
            print("digest", mode, r, h, flush=True)


if __name__ == "__main__":
    main()
