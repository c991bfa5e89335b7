"""The first layer of the decoder on the CPU: the dense product z^T W[0] against the sum of rows of W[0].

`tvae_torch.model.first_layer` sums rows (`sum_of_rows`) where H >= SPARSE_MIN_H and at most a share
SPARSE_MAX_DENSITY of the states' entries is non-zero, and multiplies otherwise. This script times both
ways for R random binary states (a batch of 32 points with S = 64 by default) through a first layer
H -> `--out-units`, at several numbers of active latents per state, forward alone (the E-step) and
forward with the gradient in W[0] and b[0] (the training pass). It prints JSON with the median
milliseconds of each, which of the two is faster, and the two constants, so that they can be checked
against the machine:
  python benchmarks/first_layer.py --threads 1
"""

import argparse
import json
import shlex
import statistics
import sys
import time

import torch

from tvae_torch import model
from tvae_torch.outputs import device_description, versions


def median_ms(f, repeats: int) -> float:
    f()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return round(1e3 * statistics.median(times), 3)


def time_point(H: int, out: int, active: int, R: int, repeats: int, generator: torch.Generator) -> dict:
    """Median ms of both ways, forward and forward + backward, for R states with `active` latents on average."""
    params = model.init_params(H, (out,), 1, generator)
    W0, b0 = params.W[0].requires_grad_(), params.b[0].requires_grad_()
    Z = (torch.rand(R, H, generator=generator) < active / H).to(torch.uint8)  # (R, H)
    g = torch.randn(R, out, generator=generator)  # the gradient that flows into the layer's output
    ways = {"dense": lambda: torch.addmm(b0, Z.float(), W0),
            "sum_of_rows": lambda: model.sum_of_rows(params, Z, Z.nonzero(as_tuple=True))}
    point = {"H": H, "out": out, "active_per_state": active, "density": round(float(Z.float().mean()), 5)}
    for name, way in ways.items():
        with torch.no_grad():
            point[f"{name}_forward_ms"] = median_ms(way, repeats)
        point[f"{name}_forward_backward_ms"] = median_ms(lambda: torch.autograd.grad(way(), [W0, b0], g), repeats)
    faster = min(ways, key=lambda name: point[f"{name}_forward_ms"] + point[f"{name}_forward_backward_ms"])
    point["faster"] = faster  # of the two, counting the E-step's forward and the training pass alike
    return point


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--H", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--active", type=int, nargs="+", default=[2, 8], help="active latents per state; "
                        "H/16, H/8 and H/4 are added for every H")
    parser.add_argument("--out-units", type=int, default=512, help="units of the first layer")
    parser.add_argument("--states", type=int, default=2048, help="R, states per call")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    points = [time_point(H, args.out_units, active, args.states, args.repeats, generator) for H in args.H
              for active in sorted({*args.active, H // 16, H // 8, H // 4} - {0})]
    result = {"benchmark": "first layer", "command": shlex.join(["python", "benchmarks/first_layer.py", *sys.argv[1:]]),
              "sparse_min_H": model.SPARSE_MIN_H, "sparse_max_density": model.SPARSE_MAX_DENSITY,
              "states": args.states, "device": device_description("cpu"), "versions": versions(), "points": points}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
