"""Reading the folders that `tvae denoise` and `tvae inpaint` leave behind, and tables of them for the book.

A folder holds `result.json` (see outputs.report) and the images as PNG. The book keeps them under
`book/results/<command>/<preset>-seed<k>[-<variant>]/`: `k` is the noise (or mask) seed and the
optional variant names a change of the preset's settings, e.g. `tvo` for the authors' selection.
What was run is read from the recorded command itself, parsed by the `tvae` parser.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tvae_common.config import TrainConfig, config_from_fields, image_settings
from tvae_common.images import load_image
from tvae_torch.cli import build_parser

FOLDER = re.compile(r"(?P<name>.+)-seed(?P<seed>\d+)(?:-(?P<variant>.+))?")


@dataclass(frozen=True)
class RunResult:
    folder: Path
    summary: dict  # result.json
    args: argparse.Namespace  # its command, parsed

    @property
    def command(self) -> str:
        return self.summary["command"]

    @property
    def config(self) -> TrainConfig:
        """The run's settings (a field the result file predates at its default)."""
        return config_from_fields(self.summary["config"])

    @property
    def preset(self) -> str:
        return self.args.preset

    @property
    def variant(self) -> str | None:
        """What the folder name says after `-seed<k>-`, or None."""
        match = FOLDER.fullmatch(self.folder.name)
        return match["variant"] if match else None

    @property
    def data_seed(self) -> int:
        """The seed of the added noise (denoise) or of the missing pixels (inpaint)."""
        return self.args.noise_seed if self.args.command == "denoise" else self.args.mask_seed

    @property
    def true_sigma(self) -> float | None:
        """The standard deviation of the noise the command added; None for noise that came with the image."""
        if self.args.command != "denoise" or self.args.image is not None:
            return None
        return self.args.sigma if self.args.sigma is not None else image_settings(self.preset).noise_sigma

    @property
    def psnr(self) -> float | None:
        """PSNR (dB) of the restored image, not clipped, as the paper reports it; None without a clean image."""
        return self.summary["psnr"]["restored"] if "psnr" in self.summary else None

    @property
    def epochs(self) -> int:
        """Epochs trained (the config's `epochs` is what was asked for)."""
        return len(self.summary["free_energy"])

    @property
    def seconds_per_epoch(self) -> float:
        return statistics.fmean(self.summary["timings"]["seconds_per_epoch"])

    def image(self, name: str) -> np.ndarray:
        """One of the run's PNG images (`input`, `denoised`, `inpainted`), clipped and rounded to 0..255."""
        return load_image(self.folder / f"{name}.png")


EPOCH_SUFFIX = re.compile(r"(?:^|-)epoch(\d+)$")  # the `epoch<e>` that ends the variant of a shorter run


def read_run(folder: str | Path) -> RunResult:
    """The result of one run, from `folder/result.json`."""
    folder = Path(folder)
    summary = json.loads((folder / "result.json").read_text())
    args = build_parser().parse_args(shlex.split(summary["command"])[1:])
    if args.command not in ("denoise", "inpaint"):
        raise ValueError(f"{folder}: the result of `tvae {args.command}`, not of denoise or inpaint")
    run = RunResult(folder, summary, args)
    named = EPOCH_SUFFIX.search(run.variant or "")  # an earlier reading says its length
    if named and int(named[1]) != run.epochs:
        raise ValueError(f"{folder}: the name says {named[1]} epochs, but the run trained {run.epochs}")
    return run


def natural_order(text: str) -> list:
    """Sort key that reads the digits in `text` as numbers: `...-epoch60` comes before `...-epoch240`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def find_runs(root: str | Path) -> list[RunResult]:
    """Every run in the subfolders of `root` that holds a result.json, in natural order of the folder names;
    [] if none."""
    folders = [path.parent for path in Path(root).glob("*/result.json")]
    return [read_run(folder) for folder in sorted(folders, key=lambda folder: natural_order(folder.name))]


def earlier_readings(run: RunResult, runs: list[RunResult]) -> list[RunResult]:
    """The runs among `runs` that are earlier readings of `run`, by their epochs.

    A run continued with `--resume` keeps the free energy of every epoch it trained, so a copy kept at
    fewer epochs has free energies that begin the longer run's.
    """
    energies = run.summary["free_energy"]
    earlier = [other for other in runs
               if other.epochs < run.epochs and energies[: other.epochs] == other.summary["free_energy"]]
    return sorted(earlier, key=lambda other: other.epochs)


def readings_of_runs(runs: list[RunResult]) -> list[tuple[RunResult, list[RunResult]]]:
    """Each run of `runs` that no other run continues, with its readings by epochs, itself the last:
    [(run, [earlier readings..., run])]. A figure draws one line per run through its readings."""
    continued = {reading.folder for run in runs for reading in earlier_readings(run, runs)}
    return [(run, [*earlier_readings(run, runs), run]) for run in runs if run.folder not in continued]


def same_settings_but(field: str, run: RunResult, other: RunResult) -> bool:
    """Whether two runs differ at most in the config field `field`: the same command on the same data
    (preset, noise or mask seed, and so the same input PSNR), the same training seed, dtype, patches and
    E-step sweeps, and every other config field equal (a field the result file predates at its default)."""
    config, other_config = ({**asdict(r.config), field: None} for r in (run, other))
    data, other_data = ((r.args.command, r.preset, r.data_seed, r.summary.get("psnr", {}).get("input"))
                        for r in (run, other))
    keys = ("seed", "dtype", "patch_size", "trained_patches", "sweeps")
    return data == other_data and config == other_config and all(run.summary[k] == other.summary[k] for k in keys)


def pairs_differing_in(field: str, value, other_value, runs: list[RunResult]) -> list[tuple[RunResult, RunResult]]:
    """Pairs (run, other) of `runs`, read after the same number of epochs, whose settings differ only in the
    config field `field`: `value` in the run, `other_value` in the other."""
    return [(run, other) for run in runs for other in runs
            if getattr(run.config, field) == value and getattr(other.config, field) == other_value
            and run.epochs == other.epochs and same_settings_but(field, run, other)]


def final_readings(runs: list[RunResult]) -> list[RunResult]:
    """The runs of `runs` that no longer run of the same settings outlasts. An earlier reading of a run
    gives way to the run, and so does a shorter run of the same command made on another machine, whose
    float32 sums (and so its states) differ in the last bits: plots and tables of whole runs show the
    longer one."""
    return [run for run in runs
            if not any(other.epochs > run.epochs and same_settings_but("epochs", run, other) for other in runs)]


def group_runs(runs: list[RunResult]) -> dict[tuple[str, str | None], list[RunResult]]:
    """Runs by (preset, variant), each group sorted by its data seed."""
    groups: dict[tuple[str, str | None], list[RunResult]] = {}
    for run in runs:
        groups.setdefault((run.preset, run.variant), []).append(run)
    # a preset's plain runs before its variants, and `...-epoch60` before `...-epoch240`
    order = sorted(groups, key=lambda key: (key[0], natural_order(key[1] or "")))
    return {key: sorted(groups[key], key=lambda run: run.data_seed) for key in order}


def markdown_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A Markdown table; `align` holds one of l, r, c per column (default: first left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header) or any(len(row) != len(header) for row in rows):
        raise ValueError("every row and the alignment need one entry per column of the header")
    rule = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = [header, [rule[a] for a in align], *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def patches_text(summary: dict) -> str:
    """'trained of all' patches, with the helper patches and their E-step sweeps after training on a subset."""
    text = f"{summary['trained_patches']} of {summary['patches']}"
    if summary["trained_patches"] < summary["patches"]:
        text += f" (+ {summary['helper_patches']} helper patches, {summary['sweeps']} E-step sweeps)"
    return text
