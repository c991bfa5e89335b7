"""`tvae bench`: seconds per training epoch at a preset's settings, printed as JSON (not a test).

CPU default: house-25 on a seeded subset of 6200 noisy patches (the figure the issue compares with the
authors' ~10 s per epoch); CUDA default: house-50 on all 60025 patches, with the peak GPU memory.
A decoder evaluation is one state z passed through the decoder: per epoch the E-step evaluates
N (S + new states) of them and the gradient passes N S of them forward and backward. Wall and CPU
seconds are both reported, with the load average of the machine: on a shared CPU they differ.
Under torchrun the processes split the patches as in training; the CPU seconds are summed over them.
`time_epochs` is the timing loop; the book and `benchmarks/scaling.py` use it too.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import time

import torch

from tvae_common.config import TrainConfig, preset
from tvae_torch.checks import check_device
from tvae_torch.data import preset_data
from tvae_torch.distributed import Shard, even_shard
from tvae_torch.evolution import Uniforms
from tvae_torch.outputs import device_description, versions
from tvae_torch.training import TrainState, check_training_data, init_state, train_epoch

DEFAULTS = {"cpu": ("house-25", 6200), "cuda": ("house-50", None)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--preset", help="default: house-25 on the CPU, house-50 on CUDA")
    parser.add_argument("--patches", type=int, help="default: 6200 on the CPU, all on CUDA")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice for this machine)")
    parser.add_argument("--seed", type=int, default=0)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_epochs(X: torch.Tensor, config: TrainConfig, generator: torch.Generator, epochs: int, warmup: int = 0,
                shard: Shard | None = None) -> tuple[list[float], list[float], TrainState]:
    """Train a fresh run for `warmup` untimed and `epochs` timed epochs on X (N, D).

    Returns the wall and the CPU seconds (of this process, all its threads) of each timed epoch, and the
    run's state. On a GPU the wall time waits for the device; the CPU time is then the host's share.
    With a shard (under torchrun), this process trains on the shard's rows of X as in `train`.
    """
    shard = even_shard(len(X)) if shard is None else shard
    state = init_state(X, config, generator, shard=shard)
    rng = Uniforms(generator, X.device, X.dtype)
    wall, cpu = [], []
    for epoch in range(warmup + epochs):
        synchronize(X.device)
        start, start_cpu = time.perf_counter(), time.process_time()
        train_epoch(state, X[shard.rows], config, rng, None, shard)
        synchronize(X.device)
        if epoch >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return wall, cpu, state


def measure(args: argparse.Namespace) -> dict:
    device = check_device(args.device)
    name, n_default = DEFAULTS["cuda" if device.type == "cuda" else "cpu"]
    name = args.preset or name
    config = preset(name)
    X = check_training_data(preset_data(name, args.seed, None), device, getattr(torch, args.dtype))
    n = args.patches or n_default or len(X)
    X = X[torch.randperm(len(X), generator=torch.Generator().manual_seed(args.seed))[:n].to(device)]
    generator = torch.Generator(device=device).manual_seed(args.seed)
    shard = even_shard(len(X), args.rank, args.processes)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    load_before = os.getloadavg()[0]
    wall, cpu, state = time_epochs(X, config, generator, args.epochs, shard=shard)
    cpu = shard.sum([torch.tensor(cpu, dtype=torch.float64, device=device)])[0].tolist()  # all processes
    median = statistics.median(wall)
    estep_states = len(X) * (config.S + config.n_new_states)
    return {
        "benchmark": "tvae bench", "command": shlex.join(["tvae", *args.argv]),
        "preset": name, "patches": len(X), "epochs": args.epochs, "dtype": args.dtype,
        "device": device_description(args.device), "processes": shard.size, "threads": torch.get_num_threads(),
        "seconds_per_epoch": [round(t, 3) for t in wall], "median_seconds_per_epoch": round(median, 3),
        "cpu_seconds_per_epoch": [round(t, 3) for t in cpu],
        "estep_states_per_epoch": estep_states, "estep_states_per_second": round(estep_states / median),
        "gradient_states_per_epoch": len(X) * config.S,
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after: others' work
        "free_energy": state.free_energy, "versions": versions(),
    }


def print_measurement(args: argparse.Namespace) -> None:
    """Measure; process 0 prints."""
    measured = measure(args)
    if args.rank == 0:
        print(json.dumps(measured, indent=1))
