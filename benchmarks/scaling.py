"""How the time per epoch of tvae_torch grows with H, S and N (Sec. 3, Appendix A): JSON of wall and CPU seconds.

The data are natural image patches (16 x 16, clamped and ZCA-whitened, `tvae_common.natural`), the
decoder H -> 100 -> 256 as in the paper's run with up to H = 1000 latents, S = 64 states and the E-step
of house-50 (5 parents x 4 children x 1 generation, M' = 20 new states per data point). One quantity
is varied at a time from the base point (H = 300, S = 64, N = 2000), and H once more with a linear
decoder H -> 256 (binary sparse coding) for comparison; every point starts a fresh run,
trains `--warmup` untimed epochs and times the next `--epochs`, and records how many latents are active
in the states of Phi at the end (the first layer's cost where `tvae_torch.model.first_layer` sums rows
of W[0] instead of multiplying). The CPU seconds are those of this
process; on a machine shared with other work they are the steadier figure, the wall seconds wait for
the others too. The book's file comes from:
  python benchmarks/scaling.py --threads 1 --out book/results/scaling_cpu.json
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
from dataclasses import asdict
from datetime import datetime, timezone

import numpy as np
import torch

from tvae_common.config import preset
from tvae_common.images import load_image
from tvae_common.natural import natural_patches
from tvae_torch.bench import time_epochs
from tvae_torch.checks import check_device
from tvae_torch.outputs import device_description, save_json, versions
from tvae_torch.states import unpack_states

BASE = preset("house-50").with_(H=300, hidden=(100,), S=64)  # house-50's E-step and learning rates
BASE_N = 2000


def cpu_name() -> str:
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            return names[0]
    return platform.processor() or platform.machine()


def point(X: torch.Tensor, changes: dict, args: argparse.Namespace) -> dict:
    """Time one setting: the base config with `changes`, on the first N data points of X."""
    config = BASE.with_(**{k: v for k, v in changes.items() if k != "N"})
    X = X[: changes.get("N", BASE_N)]
    generator = torch.Generator(device=X.device).manual_seed(args.seed)
    load = os.getloadavg()[0]
    wall, cpu, state = time_epochs(X, config, generator, args.epochs, args.warmup)
    active = unpack_states(state.words, config.H).sum(-1, dtype=torch.float64).mean()  # per state of Phi, at the end
    D = X.shape[1]
    sizes = (config.H, *config.hidden, D)
    return dict(
        changes, H=config.H, hidden=config.hidden, S=config.S, N=len(X), new_states=config.n_new_states,
        decoder_macs_per_state=sum(a * b for a, b in zip(sizes, sizes[1:])),
        estep_states_per_epoch=len(X) * (config.S + config.n_new_states), gradient_states_per_epoch=len(X) * config.S,
        active_latents_per_state=round(float(active), 3),
        wall_seconds=[round(t, 4) for t in wall], cpu_seconds=[round(t, 4) for t in cpu],
        median_wall_seconds=round(statistics.median(wall), 4), median_cpu_seconds=round(statistics.median(cpu), 4),
        load_average_1min=[round(load, 2), round(os.getloadavg()[0], 2)],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--H", type=int, nargs="+", default=[100, 200, 300, 500, 700, 1000])
    parser.add_argument("--S", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--N", type=int, nargs="+", default=[500, 1000, 2000, 4000, 8000])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per point")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs before them")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = check_device(args.device)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    n_max = max(args.N + [BASE_N])
    X, whitening = natural_patches(load_image("vanhateren_imk.tiff"), n_max, np.random.default_rng(args.seed))
    X = torch.as_tensor(X, dtype=torch.float32, device=device)
    sweeps = {name: [point(X, {name: value}, args) for value in getattr(args, name)] for name in ("H", "S", "N")}
    sweeps["H_linear"] = [point(X, {"H": H, "hidden": ()}, args) for H in args.H]
    result = dict(
        benchmark="scaling", command=shlex.join(["python", "benchmarks/scaling.py", *sys.argv[1:]]),
        started=started, base=dict(asdict(BASE), N=BASE_N), data="natural patches 16x16, "
        f"{len(whitening.variances)} whitened components", epochs=args.epochs, warmup=args.warmup,
        device=device_description(args.device), cpu=cpu_name(), cpu_count=os.cpu_count(),
        threads=torch.get_num_threads(), versions=versions(), sweeps=sweeps,
    )
    print(json.dumps(result, indent=1))
    if args.out:
        save_json(args.out, result)


if __name__ == "__main__":
    main()
