"""The generative model, Eq. (1), and its log-joint probability (Eqs. 1, 9)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tvae_ref.checks import check_data, check_model, check_states

PI_MIN = 1e-5  # the M-step keeps every pi_h inside [PI_MIN, 1 - PI_MIN]


@dataclass(frozen=True)
class Params:
    """Theta = {W, pi, sigma^2} of Eq. (1): decoder weights W[l] (in, out) and biases b[l] (out,)."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    pi: np.ndarray  # (H,)
    sigma2: float

    def __post_init__(self):
        object.__setattr__(self, "W", [np.asarray(w, dtype=np.float64) for w in self.W])
        object.__setattr__(self, "b", [np.asarray(v, dtype=np.float64) for v in self.b])
        object.__setattr__(self, "pi", np.asarray(self.pi, dtype=np.float64))
        object.__setattr__(self, "sigma2", float(self.sigma2))
        check_model(self.W, self.b, self.pi, self.sigma2)

    @property
    def H(self) -> int:
        return self.W[0].shape[0]

    @property
    def D(self) -> int:
        return self.W[-1].shape[1]


def init_params(H: int, hidden: tuple[int, ...], D: int, rng: np.random.Generator, sigma2: float = 0.01) -> Params:
    """Xavier-normal weights, zero biases, pi = 1/H (Sec. 3 of the paper)."""
    sizes = (H, *hidden, D)
    W = [rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / (n_in + n_out)) for n_in, n_out in zip(sizes, sizes[1:])]
    b = [np.zeros(n_out) for n_out in sizes[1:]]
    return Params(W, b, np.full(H, 1.0 / H), sigma2)


def layer_outputs(params: Params, K: np.ndarray) -> list[np.ndarray]:
    """The decoder's input z and every layer's output; the last one is mu(z; W) of Eq. (1)."""
    a = [np.asarray(K, dtype=np.float64)]  # (..., H)
    for l, (W, b) in enumerate(zip(params.W, params.b)):
        h = a[-1] @ W + b  # (..., out)
        a.append(h if l == len(params.W) - 1 else np.maximum(h, 0.0))
    return a


def decode(params: Params, K: np.ndarray) -> np.ndarray:
    """The decoder mean mu(z; W) of Eq. (1): ReLU hidden layers, linear output. (..., H) -> (..., D)."""
    return layer_outputs(params, check_states(K, params.H))[-1]


def sample(params: Params, N: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ancestral sampling from Eq. (1): z ~ Bern(pi), x ~ N(mu(z), sigma^2 I). Returns X (N, D), Z (N, H)."""
    Z = (rng.random((N, params.H)) < params.pi).astype(np.uint8)  # (N, H)
    X = decode(params, Z) + np.sqrt(params.sigma2) * rng.standard_normal((N, params.D))  # (N, D)
    return X, Z


def log_prior(pi: np.ndarray, K: np.ndarray) -> np.ndarray:
    """log Bern(z; pi) of Eq. (1), for states (..., H) -> (...)."""
    return K @ np.log(pi) + (1 - K) @ np.log1p(-pi)


def squared_error(X: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """||x - mu(z)||^2 over the observed (non-NaN) entries: X (N, D), mu (N, S, D) or (S, D) -> (N, S)."""
    diff = np.where(np.isnan(X)[:, None, :], 0.0, X[:, None, :] - mu)  # (N, S, D)
    return np.einsum("nsd,nsd->ns", diff, diff)


def log_pseudo_joint(params: Params, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The z-dependent part of log p(x, z), Eq. (9) divided by 2 sigma^2. Returns (N, S).

    -||x - mu(z)||^2 / (2 sigma^2) - pi_tilde^T z with pi_tilde_h = log((1 - pi_h) / pi_h).
    Comparing these values is the same as comparing log-joints (Eq. 8).
    """
    X = check_data(X, params.D)
    K = check_states(K, params.H, len(X))
    mu = layer_outputs(params, K)[-1]  # (N, S, D) or (S, D)
    pi_tilde = np.log1p(-params.pi) - np.log(params.pi)  # (H,)
    return -squared_error(X, mu) / (2 * params.sigma2) - K @ pi_tilde


def log_joint_constant(params: Params, X: np.ndarray) -> np.ndarray:
    """log p(x, z) - log_pseudo_joint: the terms of Eq. (1) that do not depend on z. Returns (N,)."""
    D_observed = (~np.isnan(X)).sum(axis=1)  # (N,)
    return -0.5 * D_observed * np.log(2 * np.pi * params.sigma2) + np.log1p(-params.pi).sum()


def log_joint(params: Params, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """log p(x, z) = log N(x; mu(z), sigma^2 I) + log Bern(z; pi) with all constants, Eq. (1).

    NaN entries of X are missing and are left out of the likelihood. X (N, D), K (N, S, H) or (S, H)
    shared by all data points. Returns (N, S).
    """
    return log_pseudo_joint(params, X, K) + log_joint_constant(params, np.asarray(X, dtype=np.float64))[:, None]


def flip_latents(params: Params, flip: np.ndarray) -> Params:
    """The same model with latents z_h replaced by 1 - z_h where `flip` (H,) is True.

    The first layer sees z W0 + b0 only, so W0[h] -> -W0[h], b0 -> b0 + sum of the flipped W0[h] and
    pi_h -> 1 - pi_h give log p(x, z) = log p'(x, z') for every x and z, z' = z with the flips applied.
    Training can land on either of these equivalent models.
    """
    flip = np.asarray(flip, dtype=bool)
    W0 = np.where(flip[:, None], -params.W[0], params.W[0])
    b0 = params.b[0] + params.W[0][flip].sum(axis=0)
    pi = np.where(flip, 1 - params.pi, params.pi)
    return Params([W0, *params.W[1:]], [b0, *params.b[1:]], pi, params.sigma2)


def deep_from_linear(params: Params, hidden: tuple[int, ...]) -> Params:
    """A deep decoder that equals the linear decoder `params` on binary states (Sec. 3, Fig. 3).

    The linear map z W + b becomes the output layer; each hidden layer in front of it starts as the
    identity with zero bias, so for z in {0, 1}^H every ReLU passes z through unchanged and the deep
    model starts as exactly the linear one. Every hidden layer must therefore have H units.
    """
    if len(params.W) != 1:
        raise ValueError(f"params must be a linear decoder (one layer), got {len(params.W)} layers")
    if any(size != params.H for size in hidden):
        raise ValueError(f"identity layers need hidden sizes equal to H={params.H}, got {tuple(hidden)}")
    W = [np.eye(params.H) for _ in hidden] + [params.W[0]]
    b = [np.zeros(params.H) for _ in hidden] + [params.b[0]]
    return Params(W, b, params.pi, params.sigma2)


def canonical_params(params: Params) -> Params:
    """The equivalent model (see `flip_latents`) in which every latent is off more often than on."""
    return flip_latents(params, params.pi > 0.5)
