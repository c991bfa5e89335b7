"""What a run leaves behind: images (.npy and .png) and a JSON summary, each file written atomically."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tvae_common.config import TrainConfig
from tvae_common.machine import cpu_name
from tvae_torch.checkpoint import atomic_path


def save_json(path: Path, content: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(content, indent=1) + "\n")


def report_runs(script: str, runs: list[dict], out: str | None) -> None:
    """A benchmark script's result over run folders: its command, the versions and `runs`, printed as JSON
    and also written to `out` when given."""
    result = {"command": shlex.join(["python", script, *sys.argv[1:]]), "versions": versions(), "runs": runs}
    print(json.dumps(result, indent=1))
    if out:
        save_json(out, result)


def save_image(stem: Path, image: np.ndarray) -> None:
    """`stem`.npy (float64, as computed) and `stem`.png (clipped to 0..255, rounded; NaN shown black)."""
    with atomic_path(stem.with_suffix(".npy")) as tmp, tmp.open("wb") as file:
        np.save(file, image)
    pixels = np.clip(np.nan_to_num(np.round(image), nan=0.0), 0, 255).astype(np.uint8)
    with atomic_path(stem.with_suffix(".png")) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def versions() -> dict:
    try:
        tvae = metadata.version("tvae")
    except metadata.PackageNotFoundError:
        tvae = "not installed"
    return {"tvae": tvae, "torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
            "platform": platform.platform()}


def device_description(device: str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    # float32 sums differ in their last bits between vector instruction sets, so a seeded run repeats bit
    # for bit on one kind of CPU; the description names the CPU and the instructions torch uses on it
    return f"cpu ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, " \
           f"{os.cpu_count()} cores)"


def report(args, config: TrainConfig, options, free_energy: list[float], sigma2: list[float],
           seconds: list[float], extra: dict, more_timings: dict | None = None) -> dict:
    """The JSON summary of a run: command, seed, versions, device, timings, the bound and sigma per epoch."""
    return {
        "command": shlex.join(["tvae", *args.argv]),
        "out": str(options.out), "seed": options.seed, "config": asdict(config), "dtype": str(options.dtype),
        "device": device_description(options.device), "processes": options.processes, "versions": versions(),
        "timings": {"seconds_per_epoch": seconds, "train_seconds": sum(seconds), **(more_timings or {})},
        "free_energy": free_energy, "sigma2": sigma2,
        "learned_sigma": math.sqrt(sigma2[-1]) if sigma2 else None, **extra,
    }
