"""A training run as the command line drives it: progress bar, JSON-lines log, checkpoints, resuming.

On several processes (`rank` of `processes`), each trains its shard of the data points; process 0
alone shows the progress bar and writes the log and the checkpoints.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from tvae_common.config import TrainConfig
from tvae_torch.checkpoint import atomic_path, load_checkpoint, save_checkpoint
from tvae_torch.distributed import Shard, even_shard
from tvae_torch.training import TrainResult, TrainState, check_shard, check_training_data, init_state, train


@dataclass(frozen=True)
class RunOptions:
    """Where a run writes, how it is seeded, where it runs, and how it reports."""

    out: Path
    seed: int = 0
    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    checkpoint_every: int = 10
    resume: bool = False
    progress: bool = True
    rank: int = 0  # this process, of
    processes: int = 1  # the processes that train together (torchrun's RANK and WORLD_SIZE)

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def log(self) -> Path:
        return self.out / "log.jsonl"


def log_line(epoch: int, free_energy: float, sigma2: float, seconds: float) -> str:
    return json.dumps({"epoch": epoch, "free_energy": free_energy, "sigma2": sigma2, "seconds": seconds}) + "\n"


def start(X: torch.Tensor, config: TrainConfig, options: RunOptions, generator: torch.Generator, shard: Shard
          ) -> tuple[TrainState, list[float]]:
    """A fresh state, or the saved one with its per-epoch timings; the log is rewritten to match it."""
    if options.resume:
        state, extra = load_checkpoint(options.checkpoint, config, X, generator, shard)
        seconds = list(extra["seconds"])
    else:
        state, seconds = init_state(X, config, generator, shard=shard), []
    if shard.rank != 0:
        return state, seconds
    with atomic_path(options.log) as tmp:
        tmp.write_text("".join(log_line(e + 1, F, s2, t) for e, (F, s2, t)
                               in enumerate(zip(state.free_energy, state.sigma2, seconds))))
    return state, seconds


def run_training(X, config: TrainConfig, options: RunOptions) -> tuple[TrainResult, torch.Tensor, list[float]]:
    """Train on X (N, D) as `options` say. Returns the result (Phi of this process's shard), the training
    data on the device and the seconds of every epoch (those before a resume included)."""
    X = check_training_data(X, options.device, options.dtype)
    shard = even_shard(len(X), options.rank, options.processes)
    check_shard(shard, X, config)  # before the start, which may take a while
    generator = torch.Generator(device=X.device).manual_seed(options.seed)
    state, seconds = start(X, config, options, generator, shard)
    bar = tqdm(total=config.epochs, initial=min(state.epoch, config.epochs), unit="epoch",
               disable=not options.progress or shard.rank != 0, dynamic_ncols=True)
    last = time.perf_counter()

    def on_epoch(state: TrainState) -> None:
        nonlocal last
        now = time.perf_counter()
        seconds.append(now - last)
        last = now
        if state.epoch % options.checkpoint_every == 0 or state.epoch == config.epochs:
            words = shard.gather(state.words)  # (N, S, W) on process 0, None on the others
            if shard.rank == 0:
                save_checkpoint(options.checkpoint, state, config, X, generator, {"seconds": seconds}, words)
        if shard.rank != 0:
            return
        with options.log.open("a") as log:
            log.write(log_line(state.epoch, state.free_energy[-1], state.sigma2[-1], seconds[-1]))
        bar.set_postfix({"F/N": f"{state.free_energy[-1]:.3f}", "sigma2": f"{state.sigma2[-1]:.4g}",
                         "s/epoch": f"{seconds[-1]:.2f}"})
        bar.update(1)

    with bar:
        result = train(X, config, generator, state=state, on_epoch=on_epoch, shard=shard)
    return result, X, seconds
