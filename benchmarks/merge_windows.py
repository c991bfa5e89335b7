"""Would a weighted merge of the overlapping patch estimates denoise better? PSNR of finished runs, merged again.

The paper merges the Eq. (15) estimates of the patches that cover a pixel with "a weighted average"
(Appendix B.2, after Burger et al., 2012); `restore` takes their plain mean, as the authors' code does.
For each finished `tvae denoise` run folder trained on all patches (result.json, input.npy, denoised.npy,
checkpoint.pt), this script computes Eq. (15) for every patch with the saved model and Phi, merges the
estimates once with the plain mean (which must give back denoised.npy exactly) and once with a Gaussian
window of each width, and prints the PSNRs as JSON. The book's file comes from:
  python benchmarks/merge_windows.py RUN_FOLDER [RUN_FOLDER ...] --out book/results/merge_windows.json
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from tvae_common.config import config_from_fields
from tvae_common.images import extract_patches, gaussian_window, load_image, merge_patches, psnr
from tvae_torch.checkpoint import read_checkpoint
from tvae_torch.model import Params
from tvae_torch.outputs import report_runs
from tvae_torch.pipeline import estimate_all
from tvae_torch.results import read_run


def merged_again(folder: Path, widths: list[float]) -> dict:
    """Eq. (15) for every patch of the run in `folder`, merged plainly and with each Gaussian window."""
    run = read_run(folder)
    summary = run.summary
    if run.args.command != "denoise" or summary["trained_patches"] != summary["patches"]:
        raise ValueError(f"{folder}: needs a `tvae denoise` run trained on all patches (its checkpoint then "
                         "holds Phi of every patch)")
    noisy, clean = np.load(folder / "input.npy"), load_image(run.args.clean)
    size = summary["patch_size"]
    config = config_from_fields(summary["config"])
    X = torch.as_tensor(extract_patches(noisy, size), dtype=getattr(torch, summary["dtype"].split(".")[-1]))
    saved = read_checkpoint(folder / "checkpoint.pt", config, X)  # refuses a checkpoint of other data
    if saved["epoch"] != run.epochs:
        raise ValueError(f"{folder}: the checkpoint is of epoch {saved['epoch']}, the results of epoch {run.epochs}")
    params = Params(saved["W"], saved["b"], saved["pi"], saved["sigma2"])
    estimates = estimate_all(params, X, saved["words"]).numpy()  # (N, D)
    plain = merge_patches(estimates, noisy.shape)
    return {
        "folder": folder.name, "command": run.command, "epochs": run.epochs, "patch_size": size,
        "reproduces_denoised_npy": bool(np.array_equal(plain, np.load(folder / "denoised.npy"))),
        "plain": {"psnr": psnr(plain, clean), "psnr_clipped": psnr(np.clip(plain, 0, 255), clean)},
        "gaussian": [{"width": width, "psnr": psnr(image, clean), "psnr_clipped": psnr(np.clip(image, 0, 255), clean)}
                     for width in widths
                     for image in [merge_patches(estimates, noisy.shape, gaussian_window(size, width))]],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run folders of `tvae denoise`")
    parser.add_argument("--widths", type=float, nargs="+", default=[1, 2, 3, 4, 6],
                        help="standard deviations of the Gaussian windows, in pixels")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report_runs("benchmarks/merge_windows.py", [merged_again(folder, args.widths) for folder in args.folders], args.out)


if __name__ == "__main__":
    main()
