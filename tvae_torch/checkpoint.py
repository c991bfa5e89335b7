"""Checkpoints of a training run, and atomic writing of every output file.

A checkpoint holds everything `train` carries between epochs (parameters, packed Phi, Adam and the
learning-rate schedule, the epoch, the history) plus the state of the random generator, so that a
resumed run ends bit for bit where the uninterrupted run would. It also records the configuration,
the dtype, the device type and a fingerprint of the training data: a checkpoint of another run is
refused. `epochs` may differ, so that a finished run can be continued.

A run on several processes writes the same file: process 0 gathers Phi from the others, one shard at
a time, and writes it. On resuming, process 0 reads the file (Phi memory-mapped) and sends every
process its rows, so that a checkpoint can be resumed on any number of processes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from dataclasses import MISSING, asdict, fields
from pathlib import Path

import numpy as np
import torch

from tvae_common.config import TrainConfig
from tvae_torch.distributed import Shard, even_shard
from tvae_torch.learning import adam_with_cyclic_lr
from tvae_torch.model import Params
from tvae_torch.training import TrainState

FORMAT = 1
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; it replaces `path` only if the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # as an ordinary new file, not mkstemp's owner-only mode
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def fingerprint(X: torch.Tensor) -> str:
    """SHA-256 of the training data (float64 bytes, NaN included) and its shape."""
    data = np.ascontiguousarray(X.detach().cpu().double().numpy())
    return hashlib.sha256(str(data.shape).encode() + data.tobytes()).hexdigest()


def _defaults() -> dict:
    """The TrainConfig fields that have a default, with it."""
    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


def _identity(config: TrainConfig, X: torch.Tensor) -> dict:
    """What must agree between a checkpoint and the run that resumes it."""
    settings = asdict(config)
    settings.pop("epochs")
    settings["hidden"] = list(settings["hidden"])
    return {"config": settings, "dtype": str(X.dtype), "device_type": X.device.type, "data": fingerprint(X)}


def save_checkpoint(path: str | os.PathLike, state: TrainState, config: TrainConfig, X: torch.Tensor,
                    generator: torch.Generator, extra: dict, words: torch.Tensor | None = None) -> None:
    """Write the run's state after `state.epoch` epochs (atomically). `extra` holds plain values (timings).

    `words` (N, S, W) is Phi of all points where the state holds a shard of it (see Shard.gather).
    """
    p = state.params
    payload = {
        "format": FORMAT, **_identity(config, X), "epoch": state.epoch,
        "W": [w.detach() for w in p.W], "b": [v.detach() for v in p.b], "pi": p.pi, "sigma2": p.sigma2,
        "words": state.words if words is None else words, "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "generator": generator.get_state(), "free_energy": state.free_energy, "sigma2_history": state.sigma2,
        "extra": extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | os.PathLike, config: TrainConfig, X: torch.Tensor) -> dict:
    """The checkpoint's content on the host, Phi memory-mapped; refuses another run's file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no checkpoint to resume at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tvae checkpoint of format {FORMAT}")
    for key, value in _identity(config, X).items():
        if key == "config":  # fields added to TrainConfig after the checkpoint was written hold their defaults
            payload[key] = {**{k: v for k, v in _defaults().items() if k in value}, **payload[key]}
        if payload[key] != value:
            what = "other training data" if key == "data" else f"{key} {payload[key]} instead of {value}"
            raise ValueError(f"checkpoint {path} belongs to another run: it has {what}")
    return payload


def load_checkpoint(path: str | os.PathLike, config: TrainConfig, X: torch.Tensor, generator: torch.Generator,
                    shard: Shard | None = None) -> tuple[TrainState, dict]:
    """The TrainState saved at `path`, with `generator` set to its saved state; refuses another run's file.

    X (N, D) is the whole data set. With a shard, every process calls this: process 0 reads the file,
    and every process gets the saved parameters and the rows of Phi of its own points.
    """
    shard = even_shard(len(X)) if shard is None else shard
    payload, error = None, None
    if shard.rank == 0:
        try:
            payload = read_checkpoint(path, config, X)
        except (FileNotFoundError, ValueError) as caught:
            error = caught
    words = None if payload is None else payload.pop("words")
    payload, error = shard.broadcast((payload, error))
    if error is not None:
        raise error
    words = shard.scatter(words, (config.S, -(-config.H // 64)), torch.int64, X.device)  # (n, S, W)
    theta = [t.to(X.device, copy=True).requires_grad_() for t in payload["W"] + payload["b"]]
    L = len(payload["W"])
    optimizer, scheduler = adam_with_cyclic_lr(theta, config, -(-len(X) // config.batch_size))
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    generator.set_state(payload["generator"].cpu())
    params = Params(theta[:L], theta[L:], payload["pi"], payload["sigma2"])
    state = TrainState(params, words, optimizer, scheduler, payload["epoch"],
                       list(payload["free_energy"]), list(payload["sigma2_history"]))
    return state, payload["extra"]
