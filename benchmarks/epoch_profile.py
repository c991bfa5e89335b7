"""Where a tvae_torch epoch spends its CPU time: the E-step's share, and the operations by kind.

For each preset (house-25 on 320 patches, house-50 on 96, by default) a fresh run trains one untimed
epoch; then `--epochs` epochs are timed with the E-step wrapped (`estep_share`: the E-step's share of
each epoch's CPU time) and as many again under PyTorch's profiler (`seconds_by_kind`: the operations'
own CPU seconds, sorted into the kinds of KINDS). By the count of Appendix A the E-step does the share
(S + M') / (4S + M') of the decoder work; the JSON gives that share beside the measured ones. The
performance chapter reads the book's file, which comes from:
  python benchmarks/epoch_profile.py --threads 1 --out book/results/epoch_profile_cpu.json
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from unittest import mock

import torch
from torch.profiler import ProfilerActivity, profile

import tvae_torch.training
from tvae_common.config import preset
from tvae_torch.bench import time_epochs
from tvae_torch.data import preset_data
from tvae_torch.evolution import Uniforms
from tvae_torch.outputs import device_description, save_json, versions

KINDS = {  # operation name (without "aten::") -> kind
    "matrix products": ("addmm", "mm", "bmm", "addmv_", "matmul", "AddmmBackward0", "MmBackward0"),
    "first layer by table or rows": ("embedding_bag", "_embedding_bag_forward_only", "_embedding_bag",
                                     "_embedding_bag_backward", "_embedding_bag_dense_backward", "nonzero",
                                     "bincount"),
    "ranking (sort, top-k)": ("sort", "topk", "argsort"),
    "bit operations": ("__lshift__", "__rshift__", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
                       "bitwise_left_shift", "bitwise_right_shift", "__and__", "__or__", "__xor__"),
    "random numbers": ("uniform_", "rand", "randperm", "normal_"),
    "copies and indexing": ("copy_", "gather", "index_select", "index", "index_put_", "slice", "as_strided", "view",
                            "_to_copy", "to", "cat", "stack", "empty", "empty_strided", "reshape", "select",
                            "unsqueeze", "expand", "contiguous", "clone", "resolve_conj", "t", "transpose",
                            "_reshape_alias", "_unsafe_view", "zeros", "zero_", "fill_", "constant_pad_nd", "pad"),
    "optimizer (Adam)": ("Optimizer.step#Adam.step",),
}
OTHER = "other arithmetic and reductions"
KIND_OF = {op: kind for kind, ops in KINDS.items() for op in ops}


def estep_share(state, X, config, rng) -> float:
    """The E-step's share of the CPU time of one epoch (which continues the run in `state`)."""
    real_estep, seconds = tvae_torch.training.estep_unchecked, []

    def timed_estep(*args):
        start = time.process_time()
        result = real_estep(*args)
        seconds.append(time.process_time() - start)
        return result

    start = time.process_time()
    with mock.patch.object(tvae_torch.training, "estep_unchecked", timed_estep):
        tvae_torch.training.train_epoch(state, X, config, rng, None)
    return sum(seconds) / (time.process_time() - start)


def seconds_by_kind(state, X, config, rng, epochs: int) -> dict[str, float]:
    """Profiled CPU seconds of `epochs` epochs by kind of operation (each operation's own time, without its
    callees)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(epochs):
            tvae_torch.training.train_epoch(state, X, config, rng, None)
    by_kind = {}
    for event in prof.key_averages():
        kind = KIND_OF.get(event.key.removeprefix("aten::"), OTHER)
        by_kind[kind] = by_kind.get(kind, 0.0) + event.self_cpu_time_total / 1e6
    return by_kind


def profile_preset(name: str, patches: int, epochs: int, seed: int) -> dict:
    """The E-step's share of `epochs` epochs and their profiled seconds by kind, after one warm-up epoch."""
    config = preset(name)
    X = torch.as_tensor(preset_data(name, seed, None)[:patches], dtype=torch.float32)  # (patches, D)
    generator = torch.Generator().manual_seed(seed)
    _, _, state = time_epochs(X, config, generator, 1)  # one epoch to warm up; the run continues below
    rng = Uniforms(generator, X.device, X.dtype)
    shares = [estep_share(state, X, config, rng) for _ in range(epochs)]
    by_kind = seconds_by_kind(state, X, config, rng, epochs)
    total = sum(by_kind.values())
    new = config.n_new_states
    return {"preset": name, "patches": patches, "S": config.S, "new_states": new,
            "predicted_estep_share": round((config.S + new) / (4 * config.S + new), 4),  # Appendix A
            "estep_shares": [round(share, 4) for share in shares], "estep_share": round(statistics.median(shares), 4),
            "share_by_kind": {kind: round(seconds / total, 4)
                              for kind, seconds in sorted(by_kind.items(), key=lambda item: -item[1])},
            "profiled_seconds": round(total, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["house-25:320", "house-50:96"],
                        help="PRESET:PATCHES, the first patches of the preset's noisy image (noise seed --seed)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed, and as many profiled")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["KINETO_LOG_LEVEL"] = "6"  # keeps the profiler's C++ log lines off the output
    load = os.getloadavg()[0]
    profiles = [profile_preset(name, int(patches), args.epochs, args.seed)
                for name, patches in (item.split(":") for item in args.presets)]
    command = shlex.join(["python", "benchmarks/epoch_profile.py", *sys.argv[1:]])
    result = {"benchmark": "epoch profile", "command": command, "epochs": args.epochs, "seed": args.seed,
              "device": device_description("cpu"), "threads": torch.get_num_threads(),
              "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],  # before, after: others' work
              "versions": versions(), "profiles": profiles}
    print(json.dumps(result, indent=1))
    if args.out:
        save_json(args.out, result)


if __name__ == "__main__":
    main()
