"""Input checks at the public entry points: clear errors for wrong shapes, values and settings."""

from __future__ import annotations

import numpy as np


def check_data(X: np.ndarray, D: int) -> np.ndarray:
    """X must be (N, D) floats; NaN marks a missing entry, infinities are errors."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != D:
        raise ValueError(f"X must have shape (N, {D}), got {X.shape}")
    if np.isinf(X).any():
        raise ValueError("X holds infinite values; only NaN (a missing entry) is allowed")
    return X


def check_states(K: np.ndarray, H: int, N: int | None = None) -> np.ndarray:
    """K must be (S, H) or (N, S, H) with entries 0/1."""
    K = np.asarray(K)
    if K.ndim not in (2, 3) or K.shape[-1] != H:
        raise ValueError(f"states K must have shape (N, S, {H}) or (S, {H}), got {K.shape}")
    if K.ndim == 3 and N is not None and K.shape[0] != N:
        raise ValueError(f"states K hold {K.shape[0]} data points but X holds {N}")
    if not np.isin(K, (0, 1)).all():
        raise ValueError("states K must be binary (entries 0 or 1)")
    return K


def check_model(W, b, pi, sigma2) -> None:
    """Layer shapes must chain, pi must lie in (0, 1) and sigma^2 must be positive."""
    if len(W) == 0 or len(W) != len(b):
        raise ValueError(f"need one bias per weight matrix and at least one layer, got {len(W)} and {len(b)}")
    for l, (W_l, b_l) in enumerate(zip(W, b)):
        if W_l.ndim != 2 or b_l.shape != (W_l.shape[1],):
            raise ValueError(f"layer {l}: W {W_l.shape} and b {b_l.shape} do not fit (in, out) and (out,)")
        if l > 0 and W[l - 1].shape[1] != W_l.shape[0]:
            raise ValueError(f"layer {l} takes {W_l.shape[0]} inputs but layer {l - 1} gives {W[l - 1].shape[1]}")
    if pi.shape != (W[0].shape[0],):
        raise ValueError(f"pi must have shape ({W[0].shape[0]},), got {pi.shape}")
    if not ((pi > 0) & (pi < 1)).all():
        raise ValueError("every pi_h must lie strictly between 0 and 1")
    if not np.isfinite(sigma2) or sigma2 <= 0:
        raise ValueError(f"sigma2 must be positive and finite, got {sigma2}")
