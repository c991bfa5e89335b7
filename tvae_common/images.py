"""Test images, patches and PSNR for the denoising and inpainting experiments (Appendix B.2, C).

Data files are never part of the repository. `data_path` looks for a file in the directory named by
`TVAE_DATA_DIR`, then in a user cache (`TVAE_CACHE_DIR`, default `~/.cache/tvae`), then downloads it
once from a public mirror into that cache, and otherwise stops with a message that says where to put
it. Files are checked by the SHA-256 of their decoded pixels, so any faithful copy of an image is
accepted, whatever its compression.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class DataFile:
    name: str
    pixels_sha256: str
    mirrors: tuple[str, ...]
    description: str


DATA_FILES = {
    "house.png": DataFile(
        "house.png",
        "89f9a4126518c21d8ef8920c632e738b8a8e8b9513b2a52703c2e3d3b01c8202",
        ("https://raw.githubusercontent.com/cszn/DnCNN/master/testsets/Set12/02.png",),
        "the 256x256 grey 'house' test image (image 02 of the Set12 test set)",
    ),
    "vanhateren_imk.tiff": DataFile(
        "vanhateren_imk.tiff",
        "db1aeb537877dcf2b108cdb51e64022794750ee91f8586bd1159d0aaa15f4085",
        (),
        "one 1024x1536 uint16 image of the van Hateren natural image database",
    ),
}


class DataFileError(FileNotFoundError):
    """A data file is missing or is not the expected image."""


def pixels_sha256(path: Path) -> str:
    """SHA-256 of an image's decoded pixel array."""
    with Image.open(path) as image:
        return hashlib.sha256(np.asarray(image).tobytes()).hexdigest()


def cache_dir() -> Path:
    return Path(os.environ.get("TVAE_CACHE_DIR", Path.home() / ".cache" / "tvae"))


def _download(url: str, target: Path, expected: str) -> bool:
    """Fetch `url` into `target` if its pixels match; nothing is left behind otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=target.suffix, delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            partial.write_bytes(response.read())
        if pixels_sha256(partial) != expected:
            return False
        partial.replace(target)
        return True
    except (OSError, ValueError):
        return False
    finally:
        partial.unlink(missing_ok=True)


def data_path(name: str) -> Path:
    """Path of a verified copy of data file `name`, downloading it once if it is nowhere here."""
    if name not in DATA_FILES:
        raise ValueError(f"unknown data file {name!r}; known: {sorted(DATA_FILES)}")
    entry = DATA_FILES[name]
    places = [Path(os.environ["TVAE_DATA_DIR"])] if os.environ.get("TVAE_DATA_DIR") else []
    places.append(cache_dir())
    for place in places:
        path = place / name
        if path.is_file():
            if pixels_sha256(path) != entry.pixels_sha256:
                raise DataFileError(f"{path} is not {entry.description}: its pixel checksum differs")
            return path
    for url in entry.mirrors:
        if _download(url, cache_dir() / name, entry.pixels_sha256):
            return cache_dir() / name
    raise DataFileError(
        f"{name} ({entry.description}) was not found"
        + (f" and could not be downloaded from {', '.join(entry.mirrors)}" if entry.mirrors else "")
        + f". Put it into a folder and set TVAE_DATA_DIR to that folder, or copy it to {cache_dir() / name}."
    )


def load_image(name_or_path: str | os.PathLike) -> np.ndarray:
    """A grey image as float64 on its own scale: a known data file by name, or any image file or .npy."""
    path = data_path(str(name_or_path)) if str(name_or_path) in DATA_FILES else Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    if path.suffix == ".npy":
        image = np.load(path)
    else:
        with Image.open(path) as file:
            image = np.asarray(file.convert("L") if file.mode not in ("L", "I;16", "I", "F") else file)
    if image.ndim != 2:
        raise ValueError(f"{path} holds an array of shape {image.shape}; a grey image is 2-D")
    return image.astype(np.float64)


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise of standard deviation sigma, not clipped."""
    return image + sigma * rng.standard_normal(image.shape)


def extract_patches(image: np.ndarray, size: int) -> np.ndarray:
    """All overlapping size x size patches, row by row, as data points (N, size*size)."""
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    rows, cols = image.shape
    if size < 1 or size > min(rows, cols):
        raise ValueError(f"patch size {size} does not fit an image of shape {image.shape}")
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))  # (rows', cols', size, size)
    return windows.reshape(-1, size * size).copy()


def merge_patches(patches: np.ndarray, shape: tuple[int, int], window: np.ndarray | None = None,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Inverse of `extract_patches`: each pixel is the mean of the patch values that cover it.

    The mean is plain, or weighted by `window` (size, size): the weight of each position in a patch, e.g.
    `gaussian_window` to trust a patch's centre more than its border (the paper's "weighted average").
    `weights` (N,) >= 0 weighs whole patches; a pixel that only patches of weight 0 cover is NaN.
    """
    rows, cols = shape
    size = int(round(np.sqrt(patches.shape[1])))
    grid_shape = (rows - size + 1, cols - size + 1)
    if size * size != patches.shape[1] or patches.shape[0] != grid_shape[0] * grid_shape[1]:
        raise ValueError(f"{patches.shape[0]} patches of {patches.shape[1]} pixels do not tile an image of shape {shape}")
    window = np.ones((size, size)) if window is None else np.asarray(window, dtype=np.float64)
    if window.shape != (size, size) or not (window > 0).all():
        raise ValueError(f"the window must hold {size} x {size} positive weights, got shape {window.shape}")
    weights = np.ones(len(patches)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(patches),) or not (weights >= 0).all():
        raise ValueError(f"weights must hold one non-negative weight per patch ({len(patches)}), got {weights.shape}")
    total = np.zeros(shape)
    weight = np.zeros(shape)
    grid = patches.reshape(*grid_shape, size, size)
    per_patch = weights.reshape(grid_shape)
    for i in range(size):
        for j in range(size):
            total[i : i + grid_shape[0], j : j + grid_shape[1]] += window[i, j] * per_patch * grid[:, :, i, j]
            weight[i : i + grid_shape[0], j : j + grid_shape[1]] += window[i, j] * per_patch
    with np.errstate(invalid="ignore"):
        return total / weight


def pixels_covered(patches: np.ndarray, shape: tuple[int, int], size: int) -> np.ndarray:
    """(rows, cols) bool: the pixels that at least one of the chosen patches ((N,) bool) holds."""
    rows, cols = shape
    grid = np.asarray(patches, dtype=bool).reshape(rows - size + 1, cols - size + 1)
    covered = np.zeros(shape, dtype=bool)
    for i in range(size):
        for j in range(size):
            covered[i : i + rows - size + 1, j : j + cols - size + 1] |= grid
    return covered


def patches_covering(pixels: np.ndarray, size: int) -> np.ndarray:
    """(N,) bool: which of the size x size patches of `extract_patches` hold at least one of `pixels` (2-D bool)."""
    return np.lib.stride_tricks.sliding_window_view(pixels, (size, size)).any(axis=(2, 3)).ravel()


def gaussian_window(size: int, width: float) -> np.ndarray:
    """(size, size) weights exp(-r^2 / (2 width^2)), r the distance of a position from the patch's centre."""
    if width <= 0:
        raise ValueError(f"the width of a Gaussian window must be positive, got {width}")
    offsets = np.arange(size) - (size - 1) / 2
    return np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * width**2))


def psnr(estimate: np.ndarray, clean: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over the whole image, 10 log10(peak^2 / MSE)."""
    mse = float(np.mean((np.asarray(estimate, dtype=np.float64) - clean) ** 2))
    return float(10 * np.log10(peak**2 / mse))
