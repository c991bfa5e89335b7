"""Truncated posteriors and the variational bound (Eqs. 2, 3, 6, 7, 12, 15), and the exact likelihood."""

from __future__ import annotations

import numpy as np

from tvae_ref.checks import check_data
from tvae_ref.model import Params, layer_outputs, log_joint, log_prior

MAX_EXACT_H = 20


def log_sum_exp(a: np.ndarray) -> np.ndarray:
    """log sum_s exp(a_s) along the last axis, computed stably. (N, S) -> (N,)."""
    a_max = a.max(axis=-1, keepdims=True)
    return np.log(np.exp(a - a_max).sum(axis=-1)) + a_max[..., 0]


def posterior_weights(log_joints: np.ndarray) -> np.ndarray:
    """Truncated posterior q(z) for z in Phi(n), Eqs. (3, 12): a softmax of the log-joints. (N, S) -> (N, S)."""
    shifted = np.exp(log_joints - log_joints.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def free_energy(params: Params, X: np.ndarray, K: np.ndarray) -> float:
    """Truncated free energy, Eq. (7): sum_n log sum_{z in Phi(n)} p(x^(n), z)."""
    return float(log_sum_exp(log_joint(params, X, K)).sum())


def _entropy_terms(q: np.ndarray) -> np.ndarray:
    """q log q with the convention 0 log 0 = 0."""
    return np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)


def free_energy_entropy_form(params: Params, X: np.ndarray, K: np.ndarray, q: np.ndarray | None = None) -> float:
    """The bound as in Eq. (2): <log p(x, z)>_q - <log q>_q, for q of Eq. (3) or any given q (N, S)."""
    lj = log_joint(params, X, K)
    q = posterior_weights(lj) if q is None else q
    return float((q * lj).sum() - _entropy_terms(q).sum())


def free_energy_kl_form(params: Params, X: np.ndarray, K: np.ndarray, q: np.ndarray | None = None) -> float:
    """The bound as in Eq. (6): <log p(x | z)>_q - KL(q || p(z)), for q of Eq. (3) or any given q."""
    lj = log_joint(params, X, K)
    q = posterior_weights(lj) if q is None else q
    lp = log_prior(params.pi, np.asarray(K, dtype=np.float64))  # (N, S) or (S,)
    kl = _entropy_terms(q).sum() - (q * lp).sum()
    return float((q * (lj - lp)).sum() - kl)


def all_states(H: int) -> np.ndarray:
    """All 2^H binary vectors, (2^H, H), with a clear error where enumeration is not sane."""
    if H > MAX_EXACT_H:
        raise ValueError(f"enumerating 2^{H} states is not feasible; exact computations allow H <= {MAX_EXACT_H}")
    codes = np.arange(2**H)[:, None]
    return ((codes >> np.arange(H)) & 1).astype(np.uint8)


def exact_log_likelihood(params: Params, X: np.ndarray) -> float:
    """sum_n log p(x^(n)) by enumerating all 2^H states (Eq. 7 with Phi(n) = {0, 1}^H)."""
    X = check_data(X, params.D)
    K = all_states(params.H)  # (2^H, H), shared by all data points
    chunk = max(1, 2**22 // (K.shape[0] * params.D))
    return float(sum(log_sum_exp(log_joint(params, X[i : i + chunk], K)).sum() for i in range(0, len(X), chunk)))


def estimate(params: Params, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Posterior mean of the decoder output, Eq. (15), with the truncated posterior. Returns (N, D).

    For denoising this is the cleaned data point; for missing entries (NaN) it is their estimate.
    """
    q = posterior_weights(log_joint(params, X, K))  # (N, S)
    mu = layer_outputs(params, K)[-1]  # (N, S, D)
    return np.einsum("ns,nsd->nd", q, mu)
