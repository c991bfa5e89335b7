"""The bars and correlated-bars data sets of the paper's Appendix B.1 (Figs. 7-9).

Both are drawn from a TVAE-shaped generating model: H = 8 Bernoulli latents with pi = 2/8, a first
layer W0 (8 x 8) followed by a ReLU, a second layer W1 whose 8 rows are the 4 horizontal and 4
vertical bars of a 4 x 4 image, zero biases and Gaussian noise with sigma^2 = 0.01. For plain bars
W0 is the identity, so the data are a superposition of bars. For correlated bars W0[0, 1] = -2 and
W0[7, 0] = -2: latent 0 switches bar 1 off and latent 7 switches bar 0 off, so these two
combinations of bars never appear together.
"""

from __future__ import annotations

import numpy as np

SIDE = 4
PI = 2 / 8
SIGMA2 = 0.01
SUPPRESSED = ((0, 1), (0, 7))  # pairs of bars that the correlated network never draws together
# Bar combinations whose likelihood tells whether a model learned the correlations: the suppressed
# pairs first, then ordinary images of the correlated data (bars 0, 1 and 7 alone and in allowed
# pairs, other bars, and no bar at all).
PROBES = (*SUPPRESSED, (0,), (1,), (7,), (1, 7), (0, 4), (2, 5), (3, 4, 6), ())


def bar_images(side: int = SIDE) -> np.ndarray:
    """The 2*side bars as flattened images: horizontal bars first, then vertical ones."""
    bars = np.zeros((2 * side, side, side))  # (H, side, side)
    for i in range(side):
        bars[i, i, :] = 1.0
        bars[side + i, :, i] = 1.0
    return bars.reshape(2 * side, side * side)


def superposed_bars(bar_sets) -> np.ndarray:
    """Noiseless images (len(bar_sets), 16) that show exactly the given bars, each a tuple of bar indices."""
    bars = bar_images()
    return np.stack([bars[list(bar_set)].sum(axis=0) for bar_set in bar_sets])


def generating_weights(correlated: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights W = [W0, W1] and biases b of the generating network (shapes (in, out) and (out,))."""
    W0 = np.eye(2 * SIDE)
    if correlated:
        W0[0, 1] = -2.0
        W0[7, 0] = -2.0
    W1 = bar_images()
    return [W0, W1], [np.zeros(2 * SIDE), np.zeros(SIDE * SIDE)]


def bars_data(N: int, rng: np.random.Generator, correlated: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Draw N data points X (N, 16) and their latent causes Z (N, 8) as in Appendix B.1."""
    (W0, W1), _ = generating_weights(correlated)
    Z = (rng.random((N, 2 * SIDE)) < PI).astype(np.uint8)  # (N, H)
    hidden = np.maximum(Z @ W0, 0.0)  # (N, H)
    X = hidden @ W1 + np.sqrt(SIGMA2) * rng.standard_normal((N, SIDE * SIDE))  # (N, D)
    return X, Z


def matched_bars(one_hot_images: np.ndarray, tol: float = 0.25) -> int:
    """How many of the 8 generating bars are drawn by some latent alone.

    `one_hot_images` (H, 16) holds the decoder's output for each one-hot latent vector. A bar counts as
    recovered when one of these images is within `tol` of it in every pixel. Two bars differ by 1 in
    some pixel, so with tol < 0.5 no image can match two bars: a full score means a one-to-one match.
    """
    bars = bar_images()
    close = np.abs(one_hot_images[:, None, :] - bars[None, :, :]).max(axis=-1) < tol  # (H, bars)
    return int(close.any(axis=0).sum())
