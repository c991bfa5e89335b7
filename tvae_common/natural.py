"""Natural image patches as in the paper's scalability experiment (Sec. 3, Fig. 3).

Random 16 x 16 patches of a van Hateren image, with the brightest 2% of pixel values clamped and the
patches ZCA-whitened keeping 95% of their variance (the preprocessing of Guiraud et al., 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def clamp_highlights(image: np.ndarray, fraction: float = 0.02) -> np.ndarray:
    """Clamp the brightest `fraction` of pixel values to the value at that quantile."""
    return np.minimum(image, np.quantile(image, 1 - fraction))


def random_patches(image: np.ndarray, size: int, N: int, rng: np.random.Generator) -> np.ndarray:
    """N patches of size x size at uniformly random positions, as data points (N, size*size)."""
    rows, cols = image.shape
    if size > min(rows, cols):
        raise ValueError(f"patch size {size} does not fit an image of shape {image.shape}")
    r = rng.integers(0, rows - size + 1, N)
    c = rng.integers(0, cols - size + 1, N)
    offsets = np.arange(size)
    return image[(r[:, None] + offsets)[:, :, None], (c[:, None] + offsets)[:, None, :]].reshape(N, size * size)


@dataclass(frozen=True)
class Whitening:
    """ZCA whitening fitted to data: x -> (x - mean) U diag(1/sqrt(lambda)) U^T over the kept components."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (D, k) eigenvectors of the covariance, largest first
    variances: np.ndarray  # (k,) their eigenvalues

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) @ self.components / np.sqrt(self.variances)) @ self.components.T


def fit_zca(X: np.ndarray, variance: float = 0.95) -> Whitening:
    """ZCA whitening that keeps the leading principal components holding `variance` of the total."""
    mean = X.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(X - mean, rowvar=False))
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    k = int(np.searchsorted(np.cumsum(eigenvalues) / eigenvalues.sum(), variance) + 1)
    return Whitening(mean, eigenvectors[:, :k], eigenvalues[:k])


def natural_patches(image: np.ndarray, N: int, rng: np.random.Generator, size: int = 16,
                    variance: float = 0.95) -> tuple[np.ndarray, Whitening]:
    """The preprocessed data set: clamped, random patches, ZCA-whitened. Returns X (N, size^2) and the map."""
    patches = random_patches(clamp_highlights(image), size, N, rng)
    whitening = fit_zca(patches, variance)
    return whitening(patches), whitening
