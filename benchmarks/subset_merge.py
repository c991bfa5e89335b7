"""After training on a subset of the patches: merge every patch's estimate, or prefer the trained patches?

A run trained on a subset gives the other patches their sets Phi by E-step sweeps with the trained
model. For each finished run folder of `tvae denoise` or `tvae inpaint` trained on a subset
(result.json, input.npy, checkpoint.pt), this script gives every patch such sweeps (the run's number,
the trained patches starting from their saved Phi), computes Eq. (15) for every patch and merges the
estimates in two ways: the plain mean over all patches, and `merge_preferring` (the trained patches
wherever they cover a pixel, as `restore` does). It also reports the mean squared error of the single
patch estimates, for trained and untrained patches, on the pixels that count (the missing ones when
inpainting). The book's file comes from:
  python benchmarks/subset_merge.py RUN_FOLDER [RUN_FOLDER ...] --out book/results/subset_merge.json
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from tvae_common.config import config_from_fields
from tvae_common.images import extract_patches, load_image, merge_patches, psnr
from tvae_torch.checkpoint import read_checkpoint
from tvae_torch.evolution import Uniforms
from tvae_torch.model import Params
from tvae_torch.outputs import report_runs
from tvae_torch.pipeline import estimate_all, helper_patches, infer_states, merge_preferring, training_subset
from tvae_torch.results import read_run
from tvae_torch.states import init_packed_states


def compare_merges(folder: Path, seed: int) -> dict:
    """Both merges of one subset run's patch estimates, and the error of single estimates by kind of patch."""
    run = read_run(folder)
    summary = run.summary
    if summary["trained_patches"] == summary["patches"]:
        raise ValueError(f"{folder}: the run trained on every patch; there is no subset to compare")
    image, clean = np.load(folder / "input.npy"), load_image(run.args.clean)
    config = config_from_fields(summary["config"])
    dtype = getattr(torch, summary["dtype"].split(".")[-1])
    patches = extract_patches(image, summary["patch_size"])  # (N, D), NaN = missing
    subset = training_subset(len(patches), summary["trained_patches"], summary["seed"])
    X = torch.as_tensor(patches, dtype=dtype)
    saved = read_checkpoint(folder / "checkpoint.pt", config, X[subset])  # refuses a checkpoint of other data
    params = Params(saved["W"], saved["b"], saved["pi"], saved["sigma2"])
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    words = init_packed_states(len(patches), config.S, config.H, generator)
    words[torch.as_tensor(subset)] = saved["words"]
    words = infer_states(params, X, words, config, Uniforms(generator, X.device, dtype), summary["sweeps"])
    estimates = estimate_all(params, X, words).numpy()  # (N, D)
    seconds = time.perf_counter() - start
    missing = np.isnan(image)
    keep_observed = (lambda merged: np.where(missing, merged, image)) if missing.any() else (lambda merged: merged)
    every = keep_observed(merge_patches(estimates, image.shape))
    preferring = keep_observed(merge_preferring(estimates, image.shape, subset,
                                                helper_patches(subset, image.shape, summary["patch_size"])))
    counted = np.isnan(patches) if missing.any() else np.ones(patches.shape, dtype=bool)  # (N, D)
    squared = (estimates - extract_patches(clean, summary["patch_size"])) ** 2
    is_trained = np.isin(np.arange(len(patches)), subset)
    return {
        "folder": folder.name, "command": run.command, "epochs": run.epochs, "sweeps": summary["sweeps"],
        "patches": len(patches), "trained_patches": len(subset),
        "psnr_every_patch": psnr(every, clean), "psnr_trained_first": psnr(preferring, clean),
        "mse_trained_patches": float(squared[is_trained][counted[is_trained]].mean()),
        "mse_untrained_patches": float(squared[~is_trained][counted[~is_trained]].mean()),
        "error_pixels": "missing" if missing.any() else "all", "seconds": seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run folders of `tvae denoise` or `tvae inpaint`")
    parser.add_argument("--seed", type=int, default=1, help="seed of the untrained patches' Phi and the sweeps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report_runs("benchmarks/subset_merge.py", [compare_merges(folder, args.seed) for folder in args.folders], args.out)


if __name__ == "__main__":
    main()
