"""zoq steps across processes that share only loss values (docs/distributed.md).

Every process holds the same parameters and an Optimizer with the same
options; a step's points are dealt out among the processes (query-parallel)
and/or each process evaluates them on its own data shard (data-parallel);
the processes exchange a few numbers per step through any all-gather
function, and every one applies the same update, so the parameters stay
identical without being sent. The protocol of libzoq-mpi (include/zoq_mpi.h)
over Python objects: with mpi4py, ``comm.allgather``; under torchrun,
``torch_allgather()``::

    d = zoq.distributed.Distributed(opt, comm.allgather, comm.rank, comm.size)
    report = d.step_inplace(closure)        # instead of opt.step(closure)

``step_inplace`` gives the parameters of ``opt.step`` in one process, bit for
bit; ``step`` is the ask/tell form (``point_loss(i)`` materializes point i).
"""
import hashlib
import math
import pickle

import numpy as np

from ._core import _CLASSES, CallbackError, Error, strerror
from .optimizer import Stop

OK, STOPPED, E_STATE, E_CALLBACK, E_NONFINITE, E_MISMATCH = 0, 1, -3, -6, -7, -11


class PeerError(CallbackError):
    """Another process failed at one of its points (its own exception is
    raised there); the step was abandoned everywhere. ``rank`` and ``point``
    say where."""

    def __init__(self, rank, point, message):
        self.rank, self.point = rank, point
        super().__init__(E_CALLBACK, message)


class DivergedError(Error):
    """The parameters' digests differ between processes (ZOQ_E_MISMATCH)."""

    def __init__(self, rank, message):
        self.rank = rank
        super().__init__(E_MISMATCH, message)


def torch_allgather(group=None):
    """An all-gather over torch.distributed (all_gather_object) for Distributed."""
    import torch.distributed as dist

    def allgather(obj):
        out = [None] * dist.get_world_size(group)
        dist.all_gather_object(out, obj, group=group)
        return out
    return allgather


class Distributed:
    """Steps `opt` together with the other processes of `allgather`.

    allgather(obj) -> [obj of rank 0, obj of rank 1, ...] (every process calls
    it in the same order); rank, size: this process's place. The processes
    form a grid of query_ranks x (size // query_ranks): rank r evaluates the
    points i with i % query_ranks == r % query_ranks, on data shard
    r // query_ranks whose weight in the mean is shard_weight (e.g. its row
    count). check_every=K compares the parameters' digests every K steps.
    """

    def __init__(self, opt, allgather, rank, size, query_ranks=None, shard_weight=1.0,
                 check_every=0):
        query_ranks = size if query_ranks is None else int(query_ranks)
        if size < 1 or not 0 <= rank < size or query_ranks < 1 or size % query_ranks:
            raise ValueError("rank %r of %r ranks, query_ranks %r (must divide the ranks)"
                             % (rank, size, query_ranks))
        if not (math.isfinite(shard_weight) and shard_weight > 0) or check_every < 0:
            raise ValueError("shard_weight must be finite and > 0, check_every >= 0")
        self.opt, self._allgather = opt, allgather
        self.rank, self.size, self.query_ranks = rank, size, query_ranks
        self.data_ranks = size // query_ranks
        self.query_rank, self.data_rank = rank % query_ranks, rank // query_ranks
        self.check_every = int(check_every)
        self.bytes_sent = 0
        self.weights = self._gather(float(shard_weight))

    def _gather(self, obj):
        """The all-gather, counting the bytes of what this process hands it
        (pickled, as mpi4py and all_gather_object send it)."""
        self.bytes_sent += len(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))
        return self._allgather(obj)

    def _mine(self, n_points):
        return range(self.query_rank, n_points, self.query_ranks)

    def _agree(self, status, failed, n_points, losses, exc):
        """The exchange: every process's (status, point, step, n, losses,
        message); returns the agreed losses or raises the same error class on
        every process (the failing one raises its own exception)."""
        step = self.opt.step_count
        msg = repr(exc) if exc is not None else ""
        blocks = self._gather((status, failed, step, n_points, losses, msg))
        for r, (st, pt, t, n, _, m) in enumerate(blocks):
            if st == OK and (t, n) == (step, n_points):
                continue
            if st == OK:
                raise Error(E_MISMATCH, "rank %d is at step %d with %d points, rank %d at "
                            "step %d with %d: the optimizers differ"
                            % (r, t, n, self.rank, step, n_points))
            if st == STOPPED:
                return None
            if r == self.rank and exc is not None:
                raise exc
            text = "rank %d failed at point %d of step %d: %s; step abandoned on every rank" % (
                r, pt, t, m or strerror(st)) if pt >= 0 else "rank %d could not start step %d: %s" % (
                r, t, m or strerror(st))
            if st == E_CALLBACK:
                raise PeerError(r, pt, text)
            raise _CLASSES.get(st, Error)(st, text)
        return [self._loss(blocks, i) for i in range(n_points)]

    def _loss(self, blocks, i):
        """Point i's loss: its query rank's value, weighted over the data
        ranks in order (the formula of include/zoq_mpi.h)."""
        q, j = i % self.query_ranks, i // self.query_ranks
        if self.data_ranks == 1:
            return blocks[q][4][j]
        num = den = 0.0
        for d in range(self.data_ranks):
            r = d * self.query_ranks + q
            num += self.weights[r] * blocks[r][4][j]
            den += self.weights[r]
        return num / den

    def step(self, point_loss):
        """One ask/tell step: point_loss(i) -> the loss at point i of the
        pending step (materialize it with opt.materialize), called for this
        process's points. Returns opt.tell's Report, None when a process
        raised Stop; errors as described in the module (parameters untouched)."""
        n = len(self.opt.ask())
        status, failed, losses, exc = OK, -1, [], None
        try:
            for i in self._mine(n):
                failed = i
                loss = float(point_loss(i))
                if not math.isfinite(loss):
                    status = E_NONFINITE
                    break
                losses.append(loss)
            else:
                failed = -1
        except Stop:
            status = STOPPED
        except BaseException as e:  # noqa: B902 - every process must hear of it
            status, exc = E_CALLBACK, e
        try:
            agreed = self._agree(status, failed, n, losses, exc)
        except BaseException:
            self.opt.cancel()
            raise
        if agreed is None:
            self.opt.cancel()
            return None
        report = self.opt.tell(agreed)
        self._maybe_check()
        return report

    def step_inplace(self, closure):
        """The distributed opt.step(closure): the closure (no arguments;
        opt.current_eval says which point) runs at this process's points with
        the parameters moved there exactly as opt.step moves them; zoq undoes
        the walk bit for bit (exact_restore on for it), and after the exchange
        opt.step runs again with the agreed losses. Same parameters and Report as
        opt.step in one process; None when a process raised Stop."""
        n = self._n_points()
        mine = list(self._mine(n))
        state = {"status": OK, "failed": -1, "exc": None, "losses": []}

        def relay():
            i = self.opt.current_eval.point
            if i % self.query_ranks == self.query_rank:
                state["failed"] = i
                try:
                    loss = float(closure())
                except Stop:
                    state["status"] = STOPPED
                    raise
                except BaseException as e:  # noqa: B902
                    state["status"], state["exc"] = E_CALLBACK, e
                    raise Stop() from e
                if not math.isfinite(loss):
                    state["status"] = E_NONFINITE
                    raise Stop()
                state["losses"].append(loss)
                state["failed"] = -1
            if i >= mine[-1]:
                raise Stop()  # every point of this process is done: undo the walk
            return 0.0

        if mine:  # zoq puts the parameters back bit for bit after this rank's walk
            exact = self.opt.get("exact_restore")
            self.opt.set(exact_restore=1)
            try:
                self.opt.step(relay)
            except Error as e:  # zoq itself refused the step: the others must hear of it
                state["status"], state["failed"], state["exc"] = e.status, -1, e
            finally:
                self.opt.set(exact_restore=exact)
        agreed = self._agree(state["status"], state["failed"], n, state["losses"], state["exc"])
        if agreed is None:
            return None
        report = self.opt.step(lambda: agreed[self.opt.current_eval.point])
        self._maybe_check()
        return report

    def _n_points(self):
        n = len(self.opt.ask())
        self.opt.cancel()
        return n

    def _maybe_check(self):
        if self.check_every and self.opt.step_count % self.check_every == 0:
            self.check()

    def digest(self):
        """8-byte BLAKE2b of the parameters' bytes, in registration order (hex)."""
        h = hashlib.blake2b(digest_size=8)
        for a in self.opt.params.values():
            h.update(np.ascontiguousarray(a).view(np.uint8).data)
        return h.hexdigest()

    def check(self):
        """Compares every process's digest with rank 0's; DivergedError naming
        the first process that differs."""
        digests = self._gather(self.digest())
        for r, d in enumerate(digests):
            if d != digests[0]:
                raise DivergedError(r, "parameters diverged: rank %d's digest %s differs from "
                                    "rank 0's %s (first such rank)" % (r, d, digests[0]))

    def save(self, path):
        """Rank 0 saves the optimizer state (opt.save); every process raises
        if it failed."""
        err = None
        if self.rank == 0:
            try:
                self.opt.save(path)
            except Error as e:
                err = (e.status, str(e))
        err = self._gather(err)[0]
        if err is not None:
            raise _CLASSES.get(err[0], Error)(err[0], "rank 0 could not save %s: %s"
                                              % (path, err[1]))

    def load(self, path):
        """Every process loads the state at path (opt.load); every process
        raises the first failure's error if any failed."""
        err = None
        try:
            self.opt.load(path)
        except Error as e:
            err = (e.status, str(e))
        for r, e in enumerate(self._gather(err)):
            if e is not None:
                raise _CLASSES.get(e[0], Error)(e[0], "rank %d could not load %s: %s"
                                                % (r, path, e[1]))


__all__ = ["Distributed", "DivergedError", "PeerError", "torch_allgather"]
