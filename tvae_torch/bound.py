"""Truncated posteriors and the variational bound (Eqs. 2, 3, 6, 7, 12, 15), and the exact likelihood."""

from __future__ import annotations

import torch

from tvae_torch.checks import check_data, check_states
from tvae_torch.model import (Params, log_joint, log_joint_constant, log_prior, means, observed_mask,
                              pseudo_joint_from_errors, squared_error)

MAX_EXACT_H = 20
CHUNK_ELEMENTS = 2**24  # how many numbers one chunk of a large evaluation may hold per layer


def log_sum_exp(a: torch.Tensor) -> torch.Tensor:
    """log sum_s exp(a_s) along the last axis, computed stably. (N, S) -> (N,)."""
    return torch.logsumexp(a, dim=-1)


def posterior_weights(log_joints: torch.Tensor) -> torch.Tensor:
    """Truncated posterior q(z) for z in Phi(n), Eqs. (3, 12): a softmax of the log-joints. (N, S) -> (N, S)."""
    return torch.softmax(log_joints, dim=-1)


def free_energy_from_errors(params: Params, X: torch.Tensor, K: torch.Tensor, errors: torch.Tensor
                            ) -> torch.Tensor:
    """Eq. (7) for unchecked inputs whose squared errors (N, S) are given; differentiable in them and Theta."""
    log_joints = pseudo_joint_from_errors(params, K, errors) + log_joint_constant(params, X)[:, None]
    return log_sum_exp(log_joints).sum()


def free_energy_from_means(params: Params, X: torch.Tensor, K: torch.Tensor, mu: torch.Tensor,
                           observed: torch.Tensor | None) -> torch.Tensor:
    """Eq. (7) for unchecked inputs whose decoder means mu are given; differentiable in mu and Theta."""
    return free_energy_from_errors(params, X, K, squared_error(X, mu, observed))


def free_energy(params: Params, X, K) -> torch.Tensor:
    """Truncated free energy, Eq. (7): sum_n log sum_{z in Phi(n)} p(x^(n), z). A scalar tensor."""
    X = check_data(X, params.D, params.device, params.dtype)
    K = check_states(K, params.H, len(X), params.device)
    return free_energy_from_means(params, X, K, means(params, K), observed_mask(X))


def free_energy_entropy_form(params: Params, X, K, q: torch.Tensor | None = None) -> torch.Tensor:
    """The bound as in Eq. (2): <log p(x, z)>_q - <log q>_q, for q of Eq. (3) or any given q (N, S)."""
    lj = log_joint(params, X, K)
    q = posterior_weights(lj) if q is None else torch.as_tensor(q, device=params.device, dtype=params.dtype)
    return (q * lj).sum() - torch.xlogy(q, q).sum()


def free_energy_kl_form(params: Params, X, K, q: torch.Tensor | None = None) -> torch.Tensor:
    """The bound as in Eq. (6): <log p(x | z)>_q - KL(q || p(z)), for q of Eq. (3) or any given q."""
    lj = log_joint(params, X, K)
    q = posterior_weights(lj) if q is None else torch.as_tensor(q, device=params.device, dtype=params.dtype)
    lp = log_prior(params.pi, check_states(K, params.H, device=params.device))  # (N, S) or (S,)
    kl = torch.xlogy(q, q).sum() - (q * lp).sum()
    return (q * (lj - lp)).sum() - kl


def all_states(H: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """All 2^H binary vectors, (2^H, H) uint8, with a clear error where enumeration is not sane."""
    if H > MAX_EXACT_H:
        raise ValueError(f"enumerating 2^{H} states is not feasible; exact computations allow H <= {MAX_EXACT_H}")
    codes = torch.arange(2**H, device=device)[:, None]
    return ((codes >> torch.arange(H, device=device)) & 1).to(torch.uint8)


def exact_log_likelihood(params: Params, X) -> torch.Tensor:
    """sum_n log p(x^(n)) by enumerating all 2^H states (Eq. 7 with Phi(n) = {0, 1}^H). A scalar tensor."""
    X = check_data(X, params.D, params.device, params.dtype)
    K = all_states(params.H, params.device)  # (2^H, H), shared by all data points
    mu = means(params, K)  # (2^H, D)
    observed = observed_mask(X)
    chunk = max(1, CHUNK_ELEMENTS // (K.shape[0] * params.D))
    return sum(free_energy_from_means(params, X[i : i + chunk], K, mu,
                                      None if observed is None else observed[i : i + chunk])
               for i in range(0, len(X), chunk))


def estimate_from_means(q: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """sum_z q(z) mu(z): q (N, S), mu (N, S, D) or (S, D) shared. Returns (N, D)."""
    return q @ mu if mu.ndim == 2 else torch.bmm(q[:, None, :], mu)[:, 0]


def estimate(params: Params, X, K) -> torch.Tensor:
    """Posterior mean of the decoder output, Eq. (15), with the truncated posterior. Returns (N, D).

    For denoising this is the cleaned data point; for missing entries (NaN) it is their estimate.
    """
    q = posterior_weights(log_joint(params, X, K))  # (N, S)
    return estimate_from_means(q, means(params, check_states(K, params.H, device=params.device)))
