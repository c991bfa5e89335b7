"""Input checks at the public entry points: clear errors for wrong shapes, values and settings.

These checks read values back from the device, so the training loop calls them once, on the whole
data set, and never per batch.
"""

from __future__ import annotations

import torch


def check_device(device: str | torch.device) -> torch.device:
    """A device this machine has: 'cpu', or 'cuda' / 'cuda:K' where CUDA is available."""
    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}: use cpu or cuda") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was asked for, but this machine has no CUDA device for torch")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device} is not supported: use cpu or cuda")
    return device


def as_tensor(A, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """An array or tensor on the model's device in the model's dtype (no copy when it is already)."""
    return torch.as_tensor(A, dtype=dtype, device=device)


def check_data(X, D: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """X must be (N, D) floats; NaN marks a missing entry, infinities are errors."""
    X = as_tensor(X, device, dtype)
    if X.ndim != 2 or X.shape[1] != D:
        raise ValueError(f"X must have shape (N, {D}), got {tuple(X.shape)}")
    if torch.isinf(X).any():
        raise ValueError("X holds infinite values; only NaN (a missing entry) is allowed")
    return X


def check_states(K, H: int, N: int | None = None, device: torch.device | None = None) -> torch.Tensor:
    """K must be (S, H) or (N, S, H) with entries 0/1; returned as uint8."""
    K = torch.as_tensor(K, device=device)
    if K.ndim not in (2, 3) or K.shape[-1] != H:
        raise ValueError(f"states K must have shape (N, S, {H}) or (S, {H}), got {tuple(K.shape)}")
    if K.ndim == 3 and N is not None and K.shape[0] != N:
        raise ValueError(f"states K hold {K.shape[0]} data points but X holds {N}")
    if K.is_floating_point() and not torch.isfinite(K).all():
        raise ValueError("states K must be binary (entries 0 or 1)")
    if not ((K == 0) | (K == 1)).all():
        raise ValueError("states K must be binary (entries 0 or 1)")
    return K.to(torch.uint8)


def check_model(W, b, pi, sigma2) -> None:
    """Layer shapes must chain, pi must lie in (0, 1) and sigma^2 must be positive; one device, one dtype."""
    if len(W) == 0 or len(W) != len(b):
        raise ValueError(f"need one bias per weight matrix and at least one layer, got {len(W)} and {len(b)}")
    for l, (W_l, b_l) in enumerate(zip(W, b)):
        if W_l.ndim != 2 or b_l.shape != (W_l.shape[1],):
            raise ValueError(f"layer {l}: W {tuple(W_l.shape)} and b {tuple(b_l.shape)} do not fit (in, out) and (out,)")
        if l > 0 and W[l - 1].shape[1] != W_l.shape[0]:
            raise ValueError(f"layer {l} takes {W_l.shape[0]} inputs but layer {l - 1} gives {W[l - 1].shape[1]}")
    tensors = [*W, *b, pi, sigma2]
    if len({(t.device, t.dtype) for t in tensors}) != 1:
        raise ValueError("all parameters must share one device and one floating dtype")
    if not W[0].is_floating_point():
        raise ValueError(f"parameters must be floating point, got {W[0].dtype}")
    if pi.shape != (W[0].shape[0],):
        raise ValueError(f"pi must have shape ({W[0].shape[0]},), got {tuple(pi.shape)}")
    if not ((pi > 0) & (pi < 1)).all():
        raise ValueError("every pi_h must lie strictly between 0 and 1")
    if sigma2.ndim != 0 or not (torch.isfinite(sigma2) & (sigma2 > 0)):
        raise ValueError(f"sigma2 must be a positive finite scalar, got {sigma2}")
