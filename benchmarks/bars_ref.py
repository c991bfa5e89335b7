"""Bars and correlated bars with tvae_ref at the paper's settings (Appendix B.1): results over seeds.

Seed s draws its own 500 data points (`bars_data` with `default_rng(s)`) and trains on them with the
same generator. A run recovers the bars when, after flipping the latents that are on more often than
off (an exact symmetry of the model, `tvae_ref.canonical_params`), every bar is drawn by one latent
alone. Log-likelihoods are exact (all 2^8 states enumerated) and per data point, for the learned
model and for the model that generated the data, on the seed's training data and on a test set of
2000 points that is the same for all seeds; `probe_log_likelihoods` are log p(x) of the noiseless
images of `tvae_common.bars.PROBES`.

Prints a JSON summary; `--out PATH` also writes the whole result (per-epoch free energies, the
learned parameters) as JSON. Children come from bit flips alone, as in the presets (the authors' runs);
`--crossover` makes them by one-point crossover and a flip, the full Algorithm 1 of the paper. The
book's result files come from:
  python benchmarks/bars_ref.py --seeds 10 --out book/results/bars.json
  python benchmarks/bars_ref.py --seeds 10 --crossover --out book/results/bars_crossover.json
  python benchmarks/bars_ref.py --seeds 10 --selection tvo-compatible --out book/results/bars_tvo.json
  python benchmarks/bars_ref.py --seeds 10 --linear --out book/results/bars_linear.json
  python benchmarks/bars_ref.py --seeds 10 --correlated --out book/results/correlated_bars.json
  python benchmarks/bars_ref.py --seeds 10 --correlated --linear --out book/results/correlated_bars_linear.json
"""

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version

import numpy as np

import tvae_ref as tr
from tvae_common import bars
from tvae_common.machine import cpu_name

N = 500
N_TEST, TEST_SEED = 2000, 12345  # held-out data, drawn with a seed that no run trains on


def generating_model(correlated: bool) -> tr.Params:
    W, b = bars.generating_weights(correlated)
    return tr.Params(W, b, np.full(2 * bars.SIDE, bars.PI), bars.SIGMA2)


def rounded(values, digits: int) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def log_likelihood(params: tr.Params, X: np.ndarray) -> float:
    """Exact log p(x) per data point, all 2^H states enumerated."""
    return tr.exact_log_likelihood(params, X) / len(X)


def probe_log_likelihoods(params: tr.Params) -> list:
    """Exact log p(x) of each noiseless image of `bars.PROBES`."""
    probes = bars.superposed_bars(bars.PROBES)  # (len(PROBES), 16)
    return rounded(tr.log_sum_exp(tr.log_joint(params, probes, tr.all_states(params.H))), 3)


def held_out_data(correlated: bool) -> np.ndarray:
    return bars.bars_data(N_TEST, np.random.default_rng(TEST_SEED), correlated=correlated)[0]


def run(seed: int, config: tr.TrainConfig, correlated: bool) -> dict:
    """Train one seed; everything per data point, log-likelihoods exact."""
    rng = np.random.default_rng(seed)
    X, _ = bars.bars_data(N, rng, correlated=correlated)
    start = time.perf_counter()
    result = tr.train(X, config, rng)
    seconds = time.perf_counter() - start
    params = result.params
    one_hot = tr.decode(tr.canonical_params(params), np.eye(params.H, dtype=np.uint8))  # (H, 16)
    return dict(
        seed=seed, seconds=round(seconds, 2),
        free_energy=round(tr.free_energy(params, X, result.K) / N, 4),
        log_likelihood=round(log_likelihood(params, X), 4),
        generating_log_likelihood=round(log_likelihood(generating_model(correlated), X), 4),
        test_log_likelihood=round(log_likelihood(params, held_out_data(correlated)), 4),
        bars_matched=bars.matched_bars(one_hot), recovered=bars.matched_bars(one_hot) == 8,
        flipped=np.flatnonzero(params.pi > 0.5).tolist(),
        probe_log_likelihoods=probe_log_likelihoods(params),
        free_energy_per_epoch=rounded(result.free_energy, 3),
        params=dict(W=[rounded(W, 5) for W in params.W], b=[rounded(b, 5) for b in params.b],
                    pi=rounded(params.pi, 5), sigma2=round(params.sigma2, 7)),
    )


def environment() -> dict:
    return dict(cpu=cpu_name(), cpu_count=os.cpu_count(), system=platform.system(),
                python=platform.python_version(), numpy=np.__version__, tvae=version("tvae"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="run seeds 0 .. SEEDS-1")
    parser.add_argument("--selection", default="fitness", choices=["fitness", "uniform", "tvo-compatible"])
    parser.add_argument("--correlated", action="store_true", help="correlated bars (Figs. 8, 9)")
    parser.add_argument("--linear", action="store_true", help="linear decoder, hidden=() (binary sparse coding)")
    parser.add_argument("--crossover", action="store_true",
                        help="children by one-point crossover before the flips (Algorithm 1 in full)")
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--out", help="write the full result as JSON to this path")
    args = parser.parse_args()
    preset = "correlated-bars" if args.correlated else "bars"
    config = tr.preset(preset).with_(selection=args.selection, epochs=args.epochs, crossover=args.crossover,
                                     hidden=() if args.linear else tr.preset(preset).hidden)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    runs = [run(seed, config, args.correlated) for seed in range(args.seeds)]
    summary = dict(
        benchmark="bars_ref", command=" ".join(["python", "benchmarks/bars_ref.py", *sys.argv[1:]]),
        started=started, preset=preset, correlated=args.correlated, linear=args.linear,
        crossover=args.crossover, N=N,
        config=asdict(config), N_test=N_TEST, test_seed=TEST_SEED,
        generating_test_log_likelihood=round(
            log_likelihood(generating_model(args.correlated), held_out_data(args.correlated)), 4),
        probes=[list(p) for p in bars.PROBES],
        probe_generating_log_likelihoods=probe_log_likelihoods(generating_model(args.correlated)),
        seeds=list(range(args.seeds)), environment=environment(),
        seconds_per_run=round(float(np.mean([r["seconds"] for r in runs])), 2),
        recovered=sum(r["recovered"] for r in runs),
    )
    per_seed = ("seed", "seconds", "free_energy", "log_likelihood", "generating_log_likelihood",
                "test_log_likelihood", "bars_matched", "flipped")
    print(json.dumps(dict(summary, runs=[{k: r[k] for k in per_seed} for r in runs]), indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(summary, runs=runs), f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
