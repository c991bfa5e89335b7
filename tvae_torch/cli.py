"""The `tvae` command: train a preset, denoise or inpaint an image, measure speed.

    tvae train bars --epochs 50 --out runs/bars
    tvae denoise noisy.npy --preset house-25 --clean house.png --out runs/house-25
    tvae denoise --clean house.png --sigma 25 --noise-seed 0 --preset house-25   # adds the noise itself
    tvae inpaint holes.npy --preset inpaint-house-50                            # NaN = missing pixel
    tvae inpaint house.png --mask mask.png                                      # mask: non-zero = missing
    tvae bench
    torchrun --standalone --nproc-per-node 2 -m tvae_torch train house-25 --threads 1   # two processes

Every output file is written atomically (a failed run leaves no partial file). `--resume` continues
a run from its checkpoint and ends bit for bit where the uninterrupted run would have. Under torchrun,
the processes split the data points (distributed.py); process 0 writes every file.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from tvae_common.config import SELECTIONS, TrainConfig, image_settings, preset
from tvae_common.images import DataFileError, add_noise, load_image, psnr
from tvae_torch import bench
from tvae_torch.checks import check_device
from tvae_torch.data import load_config, read_config_file, set_fields, training_data
from tvae_torch.distributed import LostContact, launched, process_device, process_group
from tvae_torch.outputs import report, save_image, save_json
from tvae_torch.pipeline import check_image, restore
from tvae_torch.run import RunOptions, run_training

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def common_options(parser: argparse.ArgumentParser, default_preset: str | None) -> None:
    """Options shared by train, denoise and inpaint."""
    parser.add_argument("--preset", default=default_preset, help=f"a preset (default {default_preset})")
    parser.add_argument("--config", type=Path, help="a JSON file of TrainConfig fields (and 'preset')")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one TrainConfig field, e.g. --set H=16 --set hidden=[16]")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--selection", choices=SELECTIONS)
    parser.add_argument("--patches", type=int, help="train on a seeded random subset of this many data points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice for this machine)")
    parser.add_argument("--out", type=Path, help="output folder (default runs/COMMAND-PRESET-seedSEED)")
    parser.add_argument("--checkpoint-every", type=int, default=10, metavar="K")
    parser.add_argument("--resume", action="store_true", help="continue the run saved in the output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tvae", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a preset or a JSON config -> checkpoint and log")
    train.add_argument("preset_or_config", help="a preset name or a JSON config file")
    common_options(train, None)
    for name, default, what in (("denoise", "house-25", "NOISY"), ("inpaint", "inpaint-house-50", "IMAGE")):
        sub = commands.add_parser(name, help=f"restore {what} (.npy on the 0..255 scale, or an image file)")
        sub.add_argument("image", nargs="?", metavar=what)
        sub.add_argument("--clean", help="the clean image: reports PSNR, and makes the input when none is given")
        sub.add_argument("--patch-size", type=int, help="default: the preset's")
        sub.add_argument("--sweeps", type=int, help="E-step sweeps after training on a subset, for the patches "
                         "that cover pixels no trained patch covers, and the trained ones (default 10 with --patches, "
                         "else 0)")
        common_options(sub, default)
    denoise, inpaint = commands.choices["denoise"], commands.choices["inpaint"]
    denoise.add_argument("--sigma", type=float, help="with --clean and no NOISY: add noise of this std")
    denoise.add_argument("--noise-seed", type=int, default=0)
    inpaint.add_argument("--mask", help="missing pixels: a .npy or image file, non-zero = missing")
    inpaint.add_argument("--missing", type=float, help="with --clean and no IMAGE: remove this fraction")
    inpaint.add_argument("--mask-seed", type=int, default=0)
    bench.add_arguments(commands.add_parser("bench", help="measure seconds per epoch, print JSON"))
    return parser


def build_config(args: argparse.Namespace, name: str | None) -> TrainConfig:
    """The preset or JSON config, then --set fields, then the explicit flags."""
    config = load_config(args.config) if args.config is not None else preset(name)
    config = set_fields(config, args.set)
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "selection": args.selection}
    return config.with_(**{k: v for k, v in flags.items() if v is not None})


def run_options(args: argparse.Namespace, name: str) -> RunOptions:
    check_device(args.device)
    out = args.out or Path("runs") / f"{args.command}-{name}-seed{args.seed}"
    if args.checkpoint_every < 1:
        raise ValueError("--checkpoint-every must be positive")
    return RunOptions(out, args.seed, args.device, DTYPES[args.dtype], args.checkpoint_every, args.resume,
                      not args.quiet, args.rank, args.processes)


def cmd_train(args: argparse.Namespace) -> dict | None:
    is_file = args.preset_or_config.endswith(".json")
    name = Path(args.preset_or_config).stem if is_file else args.preset_or_config
    if is_file:
        args.config = Path(args.preset_or_config)
    config = build_config(args, name)
    options = run_options(args, name)
    X = training_data(args.config, name, args.patches, args.seed)
    result, _, seconds = run_training(X, config, options)
    if options.rank != 0:
        return None
    return report(args, config, options, result.free_energy.tolist(), result.sigma2.tolist(), seconds,
                  {"data_points": len(X)})


def input_image(args: argparse.Namespace, settings_name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The image to restore and the clean one (if given); builds the input from --clean if asked to."""
    clean = load_image(args.clean) if args.clean else None
    if args.image is not None:
        image = load_image(args.image)
        if args.command == "inpaint" and args.mask:
            mask = load_image(args.mask)
            if mask.shape != image.shape:
                raise ValueError(f"the mask {mask.shape} and the image {image.shape} differ in shape")
            image = np.where(mask != 0, np.nan, image)
        return image, clean
    if clean is None:
        raise ValueError(f"give the image to {args.command}, or --clean to make one")
    if args.command == "denoise":
        sigma = args.sigma if args.sigma is not None else image_settings(settings_name).noise_sigma
        return add_noise(clean, sigma, np.random.default_rng(args.noise_seed)), clean
    fraction = args.missing if args.missing is not None else image_settings(settings_name).missing_fraction
    return np.where(np.random.default_rng(args.mask_seed).random(clean.shape) < fraction, np.nan, clean), clean


def cmd_restore(args: argparse.Namespace) -> dict | None:
    name = args.preset if args.config is None else args.config.stem
    settings = read_config_file(args.config).get("preset", args.preset) if args.config else args.preset
    config = build_config(args, args.preset)
    options = run_options(args, name)
    image, clean = input_image(args, settings)
    size = args.patch_size or image_settings(settings).patch_size
    check_image(image, size, allow_missing=args.command == "inpaint")
    if clean is not None and clean.shape != image.shape:
        raise ValueError(f"the clean image {clean.shape} and the input {image.shape} differ in shape")
    sweeps = args.sweeps if args.sweeps is not None else (10 if args.patches else 0)
    result = restore(image, size, config, options, args.patches, sweeps)
    if result is None:  # not process 0
        return None
    extra = {"image_shape": list(image.shape), "patch_size": size, "patches": result.n_patches,
             "trained_patches": result.n_trained, "helper_patches": len(result.rows) - result.n_trained,
             "sweeps": sweeps}
    if clean is not None:
        observed = np.where(np.isnan(image), 0.0, image)
        extra["psnr"] = {"input": psnr(observed, clean), "restored": psnr(result.image, clean),
                         "restored_clipped": psnr(np.clip(result.image, 0, 255), clean)}
    save_image(options.out / {"denoise": "denoised", "inpaint": "inpainted"}[args.command], result.image)
    save_image(options.out / "input", image)
    return report(args, config, options, result.free_energy, result.sigma2, result.seconds, extra,
                  {"inference_seconds": result.inference_seconds})


def execute(args: argparse.Namespace) -> None:
    """Run the command; process 0 writes result.json."""
    if args.command == "bench":
        bench.print_measurement(args)
        return
    summary = cmd_train(args) if args.command == "train" else cmd_restore(args)
    if summary is not None:
        save_json(Path(summary["out"]) / "result.json", summary)
        print(f"results in {summary['out']}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.threads:
        torch.set_num_threads(args.threads)
    args.rank, args.processes, local_rank = launched()
    where = f" (process {args.rank} of {args.processes})" if args.processes > 1 else ""
    try:
        if args.processes > 1:
            args.device = str(check_device(process_device(args.device, local_rank, args.processes)))
        with process_group(torch.device(args.device)) if args.processes > 1 else nullcontext():
            execute(args)
    except (ValueError, FileNotFoundError, DataFileError) as error:
        print(f"tvae {args.command}{where}: error: {error}", file=sys.stderr)
        return 1
    except LostContact as error:
        print(f"tvae {args.command}{where}: error: lost contact with the other processes, one of which has failed "
              f"or stopped answering ({error}). The last checkpoint in the output folder is intact: run the same "
              "command with --resume to continue.", file=sys.stderr)
        return 1
    return 0
