"""Seconds per training epoch of tvae_ref at a preset's settings: the NumPy counterpart of `tvae bench`.

Default: house-25 (noise of standard deviation 25 drawn with the seed) on a seeded subset of 6200 of
its 62001 patches, the setting that `tvae bench` times for tvae_torch. Each epoch is one call of
`tvae_ref.train` that continues the last one's parameters and states. Prints JSON with the wall and
CPU seconds of every epoch; `--out` also writes it. NumPy's BLAS threads are set by the environment
(OPENBLAS_NUM_THREADS), which the result records; one thread compares with `tvae bench --threads 1`.
The book's file comes from:
  OPENBLAS_NUM_THREADS=1 python benchmarks/ref_bench.py --epochs 2 --out book/results/bench_ref_house25_cpu.json
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from datetime import datetime, timezone

import numpy as np

import tvae_ref as tr
from tvae_common.bars import bars_data
from tvae_common.config import IMAGE_SETTINGS
from tvae_common.images import add_noise, extract_patches, load_image


def preset_data(name: str, rng: np.random.Generator) -> np.ndarray:
    """The training data of a bars or house preset: 500 bars images, or all patches of the noisy image."""
    if name in ("bars", "correlated-bars"):
        return bars_data(500, rng, correlated=name == "correlated-bars")[0]
    settings = IMAGE_SETTINGS[name]
    return extract_patches(add_noise(load_image(settings.image), settings.noise_sigma, rng), settings.patch_size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="house-25", choices=["bars", "correlated-bars", "house-15", "house-25",
                                                                  "house-50"])
    parser.add_argument("--patches", type=int, default=6200, help="a seeded subset of this many data points")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rng = np.random.default_rng(args.seed)
    X = preset_data(args.preset, rng)
    X = X[np.sort(rng.choice(len(X), min(args.patches, len(X)), replace=False))]
    config = tr.preset(args.preset).with_(epochs=1)
    params, K, wall, cpu = None, None, [], []
    load = os.getloadavg()[0]
    for _ in range(args.epochs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = tr.train(X, config, rng, params=params, K=K)
        wall.append(round(time.perf_counter() - start, 3))
        cpu.append(round(time.process_time() - start_cpu, 3))
        params, K = result.params, result.K
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS")
    env = [f"OPENBLAS_NUM_THREADS={blas_threads}"] if blas_threads else []
    summary = dict(
        benchmark="ref_bench", command=shlex.join([*env, "python", "benchmarks/ref_bench.py", *sys.argv[1:]]),
        openblas_num_threads=blas_threads,
        started=started, preset=args.preset, patches=len(X), epochs=args.epochs, seed=args.seed,
        seconds_per_epoch=wall, cpu_seconds_per_epoch=cpu, median_seconds_per_epoch=statistics.median(wall),
        estep_states_per_epoch=len(X) * (config.S + config.n_new_states), gradient_states_per_epoch=len(X) * config.S,
        load_average_1min=[round(load, 2), round(os.getloadavg()[0], 2)], cpu_count=os.cpu_count(),
        numpy=np.__version__, python=sys.version.split()[0],
    )
    print(json.dumps(summary, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
