"""Whitened natural image patches for the scaling experiment of Sec. 3 (Fig. 3), as NOTES.md describes.

Random 16 x 16 patches of a van Hateren image whose brightest 2% of pixel values are clamped; the
patches are centred and ZCA-whitened in the subspace that keeps 95% of their variance.
"""

from __future__ import annotations

import numpy as np

from tvae_common.images import load_image

SIZE = 16
CLAMP_QUANTILE = 0.98
VARIANCE_KEPT = 0.95


def random_patches(image: np.ndarray, N: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """N patches (N, size*size) at uniformly random positions of a 2-D image."""
    if size > min(image.shape):
        raise ValueError(f"patch size {size} does not fit an image of shape {image.shape}")
    rows = rng.integers(0, image.shape[0] - size + 1, N)
    cols = rng.integers(0, image.shape[1] - size + 1, N)
    offsets = np.arange(size)
    return image[(rows[:, None] + offsets)[:, :, None], (cols[:, None] + offsets)[:, None, :]].reshape(N, -1)


def zca_whiten(X: np.ndarray, variance_kept: float = VARIANCE_KEPT) -> np.ndarray:
    """Centre X (N, D) and whiten it along the leading principal axes that hold `variance_kept` of the
    variance; the result is rotated back to pixel space (ZCA), so it stays (N, D)."""
    X = X - X.mean(axis=0)
    eigenvalues, U = np.linalg.eigh(X.T @ X / len(X))  # ascending
    eigenvalues, U = eigenvalues[::-1], U[:, ::-1]
    k = int(np.searchsorted(np.cumsum(eigenvalues) / eigenvalues.sum(), variance_kept)) + 1
    W = U[:, :k] / np.sqrt(eigenvalues[:k]) @ U[:, :k].T  # (D, D)
    return X @ W


def natural_patches(N: int, rng: np.random.Generator, image: np.ndarray | None = None, size: int = SIZE
                    ) -> np.ndarray:
    """N whitened patches (N, size*size) of the van Hateren image (or of `image`)."""
    image = load_image("vanhateren_imk.tiff") if image is None else np.asarray(image, dtype=np.float64)
    image = np.minimum(image, np.quantile(image, CLAMP_QUANTILE))
    return zca_whiten(random_patches(image, N, size, rng))
