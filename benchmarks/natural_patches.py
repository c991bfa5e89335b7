"""Fig. 3 with tvae_torch: a linear TVAE on natural image patches, then a deep decoder started from it.

The data are N random 16 x 16 patches of the van Hateren image, the brightest 2% of pixel values
clamped, ZCA-whitened keeping 95% of the variance (`tvae_common.natural`); the paper used N = 100,000.
The settings are the natural-patches preset (H = 300 -> 300 -> 256, S = 100, 8 parents x 7 children x
2 generations). First a linear decoder (hidden=(), binary sparse coding) trains `--linear-epochs`
epochs (the paper: 100). Then `deep_from_linear` builds the deep decoder (the linear map as its output
layer, an identity hidden layer in front), which has exactly the linear model's bound on the linear
run's states; from the same parameters and states the deep decoder and, for comparison, the linear
one train `--epochs` more epochs, each with a fresh Adam state and the same random source. The
learning rate cycles every 20 epochs; the defaults (100 and 40) end every phase where it is lowest.

Prints a JSON summary and writes it with `--out`: the free energy per data point of every epoch (as
summed over the batches while they ran), sigma^2, the wall and CPU seconds of every epoch, and the
bound of each model recomputed at the switch and at the end. The book's file comes from:
  python benchmarks/natural_patches.py --threads 1 --out book/results/natural_patches.json
"""

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone

import numpy as np
import torch

import tvae_torch as tt
from tvae_common.images import load_image
from tvae_common.natural import natural_patches
from tvae_torch.outputs import device_description, save_json, versions

CHUNK = 250  # data points per chunk when the bound is recomputed for all of them


def bound(params: tt.Params, X: torch.Tensor, K: torch.Tensor) -> float:
    """Eq. (7) per data point for states K (N, S, H), chunk by chunk."""
    with torch.no_grad():
        total = sum(float(tt.free_energy(params, X[i : i + CHUNK], K[i : i + CHUNK])) for i in range(0, len(X), CHUNK))
    return total / len(X)


def phase(X: torch.Tensor, config: tt.TrainConfig, seed: int, params=None, K=None) -> tuple[tt.TrainResult, dict]:
    """Train; the free energy, sigma^2 and wall and CPU seconds of every epoch."""
    wall, cpu = [], []
    clock = [time.perf_counter(), time.process_time()]

    def on_epoch(state):
        wall.append(round(time.perf_counter() - clock[0], 3))
        cpu.append(round(time.process_time() - clock[1], 3))
        clock[:] = time.perf_counter(), time.process_time()
        print(f"epoch {state.epoch}: F/N = {state.free_energy[-1]:.3f}", file=sys.stderr)

    result = tt.train(X, config, torch.Generator().manual_seed(seed), params=params, K=K, on_epoch=on_epoch)
    record = dict(
        hidden=list(config.hidden), epochs=config.epochs, wall_seconds=wall, cpu_seconds=cpu,
        free_energy=np.round(result.free_energy.numpy(), 4).tolist(),
        sigma2=np.round(result.sigma2.numpy(), 6).tolist(),
        final_bound=round(bound(result.params, X, result.K), 4),
        prior_active_latents=round(float(result.params.pi.sum()), 3),
    )
    return result, record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=5000, help="N, the number of patches")
    parser.add_argument("--linear-epochs", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=40, help="epochs of each continuation")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    X, whitening = natural_patches(load_image("vanhateren_imk.tiff"), args.patches, np.random.default_rng(args.seed))
    X = torch.as_tensor(X, dtype=torch.float32)
    config = tt.preset("natural-patches")
    linear, linear_record = phase(X, config.with_(hidden=(), epochs=args.linear_epochs), args.seed)
    K = linear.K  # (N, S, H): the states both continuations start from
    deep_start = tt.deep_from_linear(linear.params, config.hidden)
    switch = dict(linear_bound=bound(linear.params, X, K), deep_bound=bound(deep_start, X, K))
    _, deep_record = phase(X, config.with_(epochs=args.epochs), args.seed + 1, deep_start, K)
    _, more_linear_record = phase(X, config.with_(hidden=(), epochs=args.epochs), args.seed + 1, linear.params, K)
    result = dict(
        benchmark="natural_patches", command=shlex.join(["python", "benchmarks/natural_patches.py", *sys.argv[1:]]),
        started=started, seed=args.seed, N=args.patches, D=X.shape[1], whitened_components=len(whitening.variances),
        config=asdict(config), device=device_description("cpu"), cpu_count=os.cpu_count(),
        threads=torch.get_num_threads(), versions=versions(), switch=switch,
        linear=linear_record, deep=deep_record, linear_continued=more_linear_record,
    )
    print(json.dumps({k: v for k, v in result.items() if k not in ("linear", "deep", "linear_continued")}, indent=1))
    if args.out:
        save_json(args.out, result)


if __name__ == "__main__":
    main()
