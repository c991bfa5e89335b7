"""Data-parallel training on several processes with torch.distributed, as torchrun launches them.

The data points are split into contiguous shards, one per process. A process keeps Phi(n) only for
the points of its shard and runs the E-step and the decoder passes on them; every process holds
the parameters and the data set X (6 to 7 times smaller than Phi for the house presets). All
processes draw every random decision of the run from the same generator in the order of a single
process: the epoch's permutation, and for each batch the uniforms of all its B points, of which a
process keeps the rows of its own points. The batch is therefore the single-process batch; the
gradient of its free energy (Eq. 7) is summed over the processes before every Adam step, and the
sums of Eq. (5) and the free energy at the end of every epoch. Every process then takes the same
steps, and a run on K processes ends with the states and parameters of a run on one, up to the
order of floating-point sums. (On CUDA, the numbers a generator draws can depend on the GPU model:
the processes should run on GPUs of one model.)

`Shard` says which points a process owns and does the sums, the gathering (checkpoints, estimates
for rank 0) and the scattering (resuming). `process_group` joins the processes that torchrun
started: gloo on the CPU, nccl on CUDA with one GPU per process.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from tvae_torch.evolution import Uniforms

TIMEOUT = timedelta(minutes=10)  # a process that waits longer than this for the others stops with an error


class LostContact(RuntimeError):
    """Another process of the run has failed or stopped answering."""


@contextmanager
def as_lost_contact():
    """Turn the errors of a transfer between processes (gloo: RuntimeError, nccl: DistBackendError) into LostContact."""
    try:
        yield
    except RuntimeError as error:
        raise LostContact(str(error).splitlines()[0]) from error


@dataclass(frozen=True)
class Shard:
    """Process `rank` of len(bounds) - 1 owns data points bounds[rank] .. bounds[rank + 1] - 1 of N = bounds[-1].

    With several processes, the sums and transfers go through torch.distributed's default group.
    """

    bounds: tuple[int, ...]
    rank: int = 0

    @property
    def N(self) -> int:
        return self.bounds[-1]

    @property
    def size(self) -> int:
        return len(self.bounds) - 1

    @property
    def lo(self) -> int:
        return self.bounds[self.rank]

    @property
    def hi(self) -> int:
        return self.bounds[self.rank + 1]

    @property
    def rows(self) -> slice:
        """This process's points, as rows of an array over all N."""
        return slice(self.lo, self.hi)

    def within(self, start: int, stop: int) -> tuple[slice, slice]:
        """This process's points among start .. stop - 1 of all N: as rows of the shard, and of that range."""
        lo = min(max(start, self.lo), self.hi)
        hi = max(min(stop, self.hi), lo)
        return slice(lo - self.lo, hi - self.lo), slice(lo - start, hi - start)

    def batches(self, order: torch.Tensor, batch_size: int) -> Iterator[tuple[int, torch.Tensor | None, torch.Tensor]]:
        """For every batch of the epoch's `order` (N,): its size B, the positions in the batch of this
        process's points (None: all of them) and their indices in the shard. One read-back per epoch."""
        N = len(order)
        if self.size == 1:
            for start in range(0, N, batch_size):
                idx = order[start : start + batch_size]
                yield len(idx), None, idx
            return
        positions = torch.nonzero((order >= self.lo) & (order < self.hi)).squeeze(1)  # (n,) ascending
        counts = torch.bincount(positions // batch_size, minlength=-(-N // batch_size)).tolist()
        for b, part in enumerate(torch.split(positions, counts)):
            yield min(batch_size, N - b * batch_size), part - b * batch_size, order[part] - self.lo

    def sum(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Element-wise sums over all processes of tensors of one dtype (one all-reduce); as given for one."""
        if self.size == 1:
            return tensors
        flat = torch.cat([t.reshape(-1) for t in tensors])
        with as_lost_contact():
            dist.all_reduce(flat)
        return [part.view_as(t) for part, t in zip(flat.split([t.numel() for t in tensors]), tensors)]

    def gather(self, A: torch.Tensor) -> torch.Tensor | None:
        """Every process's rows A (n, ...) stacked to (N, ...) in host memory of process 0; None elsewhere
        (A itself for one process). Process 0 receives one shard at a time, so that its device holds
        at most one other shard at once."""
        if self.size == 1:
            return A
        if self.rank != 0:
            if len(A):
                with as_lost_contact():
                    dist.send(A.contiguous(), dst=0)
            return None
        out = torch.empty((self.N, *A.shape[1:]), dtype=A.dtype)
        out[self.rows] = A.cpu()
        for r in range(1, self.size):
            lo, hi = self.bounds[r], self.bounds[r + 1]
            if hi > lo:
                part = torch.empty((hi - lo, *A.shape[1:]), dtype=A.dtype, device=A.device)
                with as_lost_contact():
                    dist.recv(part, src=r)
                out[lo:hi] = part.cpu()
        return out

    def scatter(self, A: torch.Tensor | None, shape: tuple[int, ...], dtype: torch.dtype,
                device: torch.device) -> torch.Tensor:
        """The inverse of `gather`: process 0 holds A (N, *shape) (on the host, perhaps memory-mapped),
        every process gets its rows on `device`, sent one shard at a time."""
        if self.size == 1:
            return A.to(device, copy=True)
        if self.rank != 0:
            part = torch.empty((self.hi - self.lo, *shape), dtype=dtype, device=device)
            if len(part):
                with as_lost_contact():
                    dist.recv(part, src=0)
            return part
        for r in range(1, self.size):
            lo, hi = self.bounds[r], self.bounds[r + 1]
            if hi > lo:
                with as_lost_contact():
                    dist.send(A[lo:hi].to(device).contiguous(), dst=r)
        return A[self.rows].to(device, copy=True)

    def broadcast(self, obj):
        """Process 0's `obj` (any picklable value) on every process."""
        if self.size == 1:
            return obj
        box = [obj]
        with as_lost_contact():
            dist.broadcast_object_list(box, src=0)
        return box[0]


def even_shard(N: int, rank: int = 0, size: int = 1) -> Shard:
    """Contiguous shards of N points whose sizes differ by at most one."""
    return Shard(tuple(N * r // size for r in range(size + 1)), rank)


def spanning_shard(shard: Shard, subset: torch.Tensor | list[int], N: int) -> Shard:
    """A shard of all N points that holds the points of `shard` when `shard` splits the ascending
    indices `subset` of a training subset: process r owns from subset[bounds[r]] to the next one's start."""
    starts = [int(subset[b]) if b < len(subset) else N for b in shard.bounds[1:-1]]
    return Shard((0, *starts, N), shard.rank)


class RowsOf(Uniforms):
    """The random decisions of a whole batch of B points, of which this process keeps the rows `rows`.

    Every draw has the batch's shape (B, ...), as one process draws it, so that the generator moves
    on identically in every process; the kept rows are those of the process's own points.
    """

    def __init__(self, source: Uniforms, rows: torch.Tensor | slice, B: int):
        super().__init__(source.generator, source.device, source.dtype)
        self.source, self.rows, self.B = source, rows, B

    def random(self, shape: tuple[int, ...]) -> torch.Tensor:
        return self.source.random((self.B, *shape[1:]))[self.rows]

    def flip_bits(self, shape: tuple[int, int, int], n_children: int) -> torch.Tensor:
        return self.source.flip_bits((self.B, *shape[1:]), n_children)[self.rows]

    def permutation(self, n: int) -> torch.Tensor:
        raise TypeError("a batch's random source draws no permutation")


def batch_uniforms(rng: Uniforms, rows: torch.Tensor | slice | None, B: int) -> Uniforms:
    """The source for one batch: `rng` itself when this process holds the whole batch (rows None)."""
    return rng if rows is None else RowsOf(rng, rows, B)


def launched() -> tuple[int, int, int]:
    """(rank, number of processes, local rank) as torchrun sets them; (0, 1, 0) for a plain process."""
    return tuple(int(os.environ.get(name, default)) for name, default in
                 (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)))


def process_device(device: str, local_rank: int, size: int) -> str:
    """The device of one process: with several processes, `cuda` means the GPU of the local rank."""
    if size == 1 or not device.startswith("cuda"):
        return device
    if device != "cuda":
        raise ValueError(f"with several processes each takes the GPU of its local rank: give --device cuda, "
                         f"not {device}")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"process of local rank {local_rank} finds only {torch.cuda.device_count()} GPUs")
    return f"cuda:{local_rank}"


def _stop_on_sigterm(signum, frame):
    raise LostContact("stopped by SIGTERM, which torchrun sends to every process when one of them fails")


@contextmanager
def process_group(device: torch.device):
    """Join the processes that torchrun started (its environment names them): nccl for CUDA, gloo for the
    CPU, every transfer bounded by TIMEOUT. SIGTERM (torchrun's signal to stop when another process has
    failed) raises LostContact, so that no partial file stays behind. Leaves the group at the end."""
    if device.type == "cuda":
        torch.cuda.set_device(device)  # before the group forms, so that nccl binds this process to its GPU
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        dist.destroy_process_group()
