"""Bars with tvae_ref at the paper's settings (400 epochs): wall time per run and recovery over seeds.

A run recovers the bars when, after flipping the latents that are on more often than off (an exact
symmetry of the model, `tvae_ref.canonical_params`), every bar is drawn by one latent alone.

Prints one JSON object. Usage: python benchmarks/bars_ref.py [--seeds 10] [--selection fitness]
"""

import argparse
import json
import platform
import time

import numpy as np

import tvae_ref as tr
from tvae_common.bars import bars_data, matched_bars


def run(seed: int, selection: str, correlated: bool) -> dict:
    rng = np.random.default_rng(seed)
    X, _ = bars_data(500, rng, correlated=correlated)
    start = time.perf_counter()
    result = tr.train(X, tr.preset("bars").with_(selection=selection), rng)
    seconds = time.perf_counter() - start
    F = tr.free_energy(result.params, X, result.K) / len(X)
    LL = tr.exact_log_likelihood(result.params, X) / len(X)
    bars = matched_bars(tr.decode(tr.canonical_params(result.params), np.eye(8, dtype=np.uint8)))
    return dict(seed=seed, seconds=round(seconds, 2), free_energy=round(F, 4), log_likelihood=round(LL, 4),
                bars_matched=bars, recovered=bars == 8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--selection", default="fitness", choices=["fitness", "uniform", "tvo-compatible"])
    parser.add_argument("--correlated", action="store_true")
    args = parser.parse_args()
    runs = [run(seed, args.selection, args.correlated) for seed in range(args.seeds)]
    print(json.dumps(dict(
        benchmark="bars_ref", selection=args.selection, correlated=args.correlated, machine=platform.processor()
        or platform.machine(), numpy=np.__version__,
        seconds_per_run=round(float(np.mean([r["seconds"] for r in runs])), 2),
        recovered=f"{sum(r['recovered'] for r in runs)}/{len(runs)}", runs=runs), indent=1))


if __name__ == "__main__":
    main()
