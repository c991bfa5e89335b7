"""Training configurations from files and flags, and the training data of each preset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tvae_common.bars import bars_data
from tvae_common.config import IMAGE_SETTINGS, PRESETS, TrainConfig, config_from_fields, preset, typed_fields
from tvae_common.images import add_noise, extract_patches, load_image
from tvae_common.natural import natural_patches

BARS_N = 500  # data points of the bars data sets (Appendix B.1)
NATURAL_N = 100_000  # patches of the natural-image experiment (Sec. 3)
def read_config_file(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"no config file at {path}")
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(content, dict):
        raise ValueError(f"{path} must hold a JSON object of TrainConfig fields")
    return content


def load_config(path: Path) -> TrainConfig:
    """A JSON object of TrainConfig fields; with "preset" the fields change that preset's settings.
    A "data" entry (a .npy of data points) is read by `training_data`."""
    content = read_config_file(path)
    settings = {k: v for k, v in content.items() if k not in ("preset", "data")}
    if "preset" in content:
        return preset(content["preset"]).with_(**typed_fields(settings))
    try:
        return config_from_fields(settings)
    except TypeError as error:
        raise ValueError(f"{path} does not name a preset and misses TrainConfig fields: {error}") from error


def set_fields(config: TrainConfig, assignments: list[str]) -> TrainConfig:
    """Apply FIELD=VALUE strings; a VALUE is read as JSON where it can be (numbers, lists, true)."""
    changes = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise ValueError(f"--set needs FIELD=VALUE, got {assignment!r}")
        try:
            changes[name] = json.loads(value)
        except json.JSONDecodeError:
            changes[name] = value
    return config.with_(**typed_fields(changes))


def preset_data(name: str, seed: int, n_points: int | None) -> np.ndarray:
    """The data set of a preset: bars, patches of the noisy (or incomplete) house image, natural patches."""
    rng = np.random.default_rng(seed)
    if name in ("bars", "correlated-bars"):
        return bars_data(BARS_N, rng, correlated=name == "correlated-bars")[0]
    if name == "natural-patches":
        return natural_patches(load_image("vanhateren_imk.tiff"), n_points or NATURAL_N, rng)[0]
    if name not in IMAGE_SETTINGS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)} or give a config file")
    settings = IMAGE_SETTINGS[name]
    image = add_noise(load_image(settings.image), settings.noise_sigma, rng)
    image[rng.random(image.shape) < settings.missing_fraction] = np.nan
    return extract_patches(image, settings.patch_size)


def training_data(config_path: Path | None, name: str, n_points: int | None, seed: int) -> np.ndarray:
    """The data to train on: the config file's "data" .npy or its preset's data, optionally a seeded subset."""
    content = read_config_file(config_path) if config_path is not None else {"preset": name}
    if "data" in content:
        X = np.load(config_path.parent / content["data"])
    elif "preset" in content:
        X = preset_data(content["preset"], seed, n_points)
    else:
        raise ValueError(f"{config_path} names neither a preset nor a \"data\" file to train on")
    if X.ndim != 2:
        raise ValueError(f"training data must be (N, D), got shape {X.shape}")
    if n_points is not None and n_points < len(X):
        X = X[np.sort(np.random.default_rng(seed).choice(len(X), n_points, replace=False))]
    return X
