"""zoq.distributed: processes stepping together through an all-gather.

The protocol is checked with ranks as threads sharing an in-memory
all-gather (always runs), and under mpirun with mpi4py's comm.allgather
(mpi_worker.py; skipped without mpirun and mpi4py). The reference is always
the same run in one process: opt.step for step_inplace, ask/every point/tell
for step."""
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import zoq
from zoq import distributed

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mpi_worker as W  # noqa: E402  (the model and loss shared with the MPI worker)


class Threads:
    """`size` ranks as threads; allgather(rank) is that rank's all-gather."""

    def __init__(self, size):
        self.size, self.slots = size, [None] * size
        self.enter, self.leave = threading.Barrier(size), threading.Barrier(size)

    def allgather(self, rank):
        def gather(obj):
            self.slots[rank] = obj
            self.enter.wait()
            out = list(self.slots)
            self.leave.wait()
            return out
        return gather

    def run(self, fn):
        """fn(rank, allgather) on every rank; returns [result or exception]."""
        out = [None] * self.size

        def body(r):
            try:
                out[r] = fn(r, self.allgather(r))
            except BaseException as e:  # noqa: B902 - handed to the test
                out[r] = e
        ts = [threading.Thread(target=body, args=(r,)) for r in range(self.size)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        return out


def reference(options, steps, mode, shards):
    opt, p = W.model(options)
    for _ in range(steps):
        W.single_step(opt, p, mode, shards)
    return p


@pytest.mark.parametrize("mode", ["inplace", "asktell"])
@pytest.mark.parametrize("size,query_ranks", [(1, 1), (2, 2), (3, 3), (2, 1), (4, 2)])
@pytest.mark.parametrize("options", W.OPTION_SETS, ids=lambda o: "-".join(map(str, o.values())))
def test_bit_identical_to_one_process(size, query_ranks, options, mode):
    def rank(r, gather):
        opt, p = W.model(options)
        d = distributed.Distributed(opt, gather, r, size, query_ranks=query_ranks,
                                    shard_weight=W.shard_weight(r // query_ranks),
                                    check_every=10)
        for _ in range(30):
            W.dist_step(d, p, mode, r // query_ranks)
        assert opt.get("exact_restore") == 0  # the caller's setting survives step_inplace
        return p, d.bytes_sent
    out = Threads(size).run(rank)
    ref = reference(options, 30, mode, size // query_ranks)
    for r, res in enumerate(out):
        assert not isinstance(res, BaseException), res
        p, _ = res
        for k in ref:
            assert np.array_equal(p[k].view(np.uint32), ref[k].view(np.uint32)), (r, k)
    assert not np.array_equal(ref["w"], W.model(options)[1]["w"])  # it trained


def test_ask_tell_and_in_place_differ_in_rounding_only():
    """Why there are two steps: the in-place walk rounds differently from the
    materialized points, so each is compared with its own one-process form."""
    a = reference(W.OPTION_SETS[0], 30, "inplace", 1)
    b = reference(W.OPTION_SETS[0], 30, "asktell", 1)
    assert not np.array_equal(a["w"], b["w"])
    assert np.allclose(a["w"], b["w"], atol=1e-4)


@pytest.mark.parametrize("mode", ["inplace", "asktell"])
@pytest.mark.parametrize("kind", ["raise", "nan", "stop"])
def test_failure_on_one_rank_abandons_the_step_everywhere(mode, kind):
    size, n_points = 3, 8

    def rank(r, gather):
        opt, p = W.model(W.OPTION_SETS[0])
        d = distributed.Distributed(opt, gather, r, size)
        W.dist_step(d, p, mode, 0)
        results = []
        for i in range(n_points):
            before = {k: v.copy() for k, v in p.items()}
            fail = (r == i % size, i, kind)
            try:
                res = W.dist_step(d, p, mode, 0, fail=fail)
                results.append("stopped" if res is None else "applied")
            except W.Injected:
                results.append("own")
            except distributed.PeerError as e:
                results.append("peer %d %d" % (e.rank, e.point))
            except zoq.NonFiniteError as e:
                results.append("nonfinite" + (" named" if "rank %d" % (i % size) in str(e)
                                              else ""))
            moved = any(not np.array_equal(before[k], p[k]) for k in p)
            results.append("moved" if moved else "kept")
            assert opt.step_count == 1
        return results
    out = Threads(size).run(rank)
    for r, res in enumerate(out):
        assert not isinstance(res, BaseException), res
        for i in range(n_points):
            owner = i % size
            want = {"raise": "own" if r == owner else "peer %d %d" % (owner, i),
                    "nan": "nonfinite named", "stop": "stopped"}[kind]
            assert res[2 * i:2 * i + 2] == [want, "kept"], (r, i, res)


def test_divergence_is_named():
    def rank(r, gather):
        opt, p = W.model(W.OPTION_SETS[0])
        d = distributed.Distributed(opt, gather, r, 3, check_every=5)
        for t in range(5):
            if t == 3 and r == 2:
                p["v"][0] = np.nextafter(p["v"][0], np.float32(1))
            W.dist_step(d, p, "inplace", 0)
    out = Threads(3).run(rank)
    for res in out:
        assert isinstance(res, distributed.DivergedError) and res.rank == 2, res


def test_checkpoint_round_trip(tmp_path):
    path = str(tmp_path / "run.zoqstate")

    def rank(r, gather):
        opt, p = W.model(W.OPTION_SETS[1])  # Adam: its moments are in the state
        d = distributed.Distributed(opt, gather, r, 2)
        for _ in range(5):
            W.dist_step(d, p, "inplace", 0)
        d.save(path)
        saved = {k: v.copy() for k, v in p.items()}
        for _ in range(5):
            W.dist_step(d, p, "inplace", 0)
        opt2, p2 = W.model(W.OPTION_SETS[1])
        for k in p2:
            p2[k][...] = saved[k]
        d2 = distributed.Distributed(opt2, gather, r, 2)
        d2.load(path)
        for _ in range(5):
            W.dist_step(d2, p2, "inplace", 0)
        return all(np.array_equal(p[k], p2[k]) for k in p)
    assert Threads(2).run(rank) == [True, True]


def test_bad_arguments():
    opt, _ = W.model(W.OPTION_SETS[0])
    for kw in (dict(rank=2, size=2), dict(rank=0, size=3, query_ranks=2),
               dict(rank=0, size=1, shard_weight=float("nan"))):
        with pytest.raises(ValueError):
            distributed.Distributed(opt, lambda o: [o], **kw)


def test_bytes_per_step_do_not_grow_with_the_parameters():
    def per_step(numel):
        w = np.zeros(numel, np.float32)
        opt = zoq.Optimizer({"w": w}, queries=4, threads=1)
        d = distributed.Distributed(opt, lambda o: [o], 0, 1)
        before = d.bytes_sent
        for _ in range(3):
            d.step_inplace(lambda: float(w[:16].sum()))
        return (d.bytes_sent - before) / 3
    assert per_step(10_000) == per_step(10_000_000) < 200


def test_torch_allgather_drives_a_step(tmp_path):
    """The torchrun form, on a world of one process (gloo)."""
    torch = pytest.importorskip("torch")
    import torch.distributed as tdist
    tdist.init_process_group("gloo", init_method="file://" + str(tmp_path / "store"), rank=0,
                             world_size=1)
    try:
        gather = distributed.torch_allgather()
        assert gather({"x": 1}) == [{"x": 1}]
        opt, p = W.model(W.OPTION_SETS[0])
        d = distributed.Distributed(opt, gather, tdist.get_rank(), tdist.get_world_size())
        ref = reference(W.OPTION_SETS[0], 3, "inplace", 1)
        for _ in range(3):
            W.dist_step(d, p, "inplace", 0)
        assert all(np.array_equal(p[k], ref[k]) for k in p)
        assert torch.distributed.is_initialized()
    finally:
        tdist.destroy_process_group()


MPIRUN = shutil.which("mpirun")


def _has_mpi4py():
    return subprocess.run([sys.executable, "-c", "import mpi4py"],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not MPIRUN or not _has_mpi4py(), reason="needs mpirun and mpi4py "
                    "(make deps: openmpi-bin, python3-mpi4py)")
@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""),
                    reason="not with the sanitizer runtimes preloaded into mpirun")
@pytest.mark.parametrize("np_", [1, 2, 3])
def test_mpi4py_ranks_match_one_process(np_):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl="self,vader", PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([MPIRUN, "--oversubscribe", "-np", str(np_), sys.executable,
                          os.path.join(HERE, "mpi_worker.py")], env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [ln.split() for ln in out.stdout.splitlines() if ln.startswith("digest")]
    assert len(lines) == 2 * np_
    for mode in ("inplace", "asktell"):
        ref = reference(W.OPTION_SETS[1], W.MPI_STEPS, mode, 1)
        want = W.digest(ref)
        got = {ln[3] for ln in lines if ln[1] == mode}
        assert got == {want}, (mode, got, want)
