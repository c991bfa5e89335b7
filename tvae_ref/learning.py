"""Learning the decoder: the gradient of Eqs. (4, 11) by hand, the M-step of Eq. (5), Adam, cyclic rates."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tvae_ref.bound import posterior_weights
from tvae_ref.model import PI_MIN, Params, layer_outputs, log_joint


def decoder_gradient(params: Params, X: np.ndarray, K: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradient of the free energy (Eq. 7) w.r.t. the decoder weights and biases, Eqs. (4, 11).

    dF/dmu(z) = q(z) (x - mu(z)) / sigma^2 over observed entries, then backpropagated through the
    MLP by hand: linear output layer, ReLU hidden layers. Returns (dW, db) shaped like (W, b).
    """
    q = posterior_weights(log_joint(params, X, K))  # (N, S), Eq. (12)
    a = layer_outputs(params, K)  # [z, hidden..., mu]
    residual = np.where(np.isnan(X)[:, None, :], 0.0, X[:, None, :] - a[-1])  # (N, S, D)
    delta = q[..., None] * residual / params.sigma2  # dF/d(output of the last layer), (N, S, D)
    dW, db = [], []
    for l in reversed(range(len(params.W))):
        dW.append(np.einsum("nsi,nso->io", a[l], delta))
        db.append(delta.sum(axis=(0, 1)))
        if l > 0:
            delta = (delta @ params.W[l].T) * (a[l] > 0)  # through layer l's weights and the ReLU below
    return dW[::-1], db[::-1]


@dataclass(frozen=True)
class MStepStats:
    """Sums over data points that Eq. (5) needs; they add up over batches (and processes)."""

    q_z: np.ndarray  # sum_n sum_z q(z) z, (H,)
    q_err: float  # sum_n sum_z q(z) ||x - mu(z)||^2 over observed entries
    n_points: int  # N
    n_observed: int  # number of observed entries, D N without missing data

    def __add__(self, other: MStepStats) -> MStepStats:
        return MStepStats(self.q_z + other.q_z, self.q_err + other.q_err,
                          self.n_points + other.n_points, self.n_observed + other.n_observed)


def mstep_statistics(params: Params, X: np.ndarray, K: np.ndarray, q: np.ndarray | None = None) -> MStepStats:
    """The sums of Eq. (5) for one batch, with q of Eq. (3) unless given."""
    q = posterior_weights(log_joint(params, X, K)) if q is None else q  # (N, S)
    mu = layer_outputs(params, K)[-1]  # (N, S, D)
    residual = np.where(np.isnan(X)[:, None, :], 0.0, X[:, None, :] - mu)
    q_err = float(np.einsum("ns,nsd,nsd->", q, residual, residual))
    q_z = np.einsum("ns,nsh->h", q, np.asarray(K, dtype=np.float64))
    return MStepStats(q_z, q_err, len(X), int((~np.isnan(X)).sum()))


def apply_mstep(params: Params, stats: MStepStats) -> Params:
    """Closed-form updates of pi and sigma^2, Eq. (5); sigma^2 divides by the observed entries.

    pi is kept inside [PI_MIN, 1 - PI_MIN] so that no state gets log-probability -inf.
    """
    pi = np.clip(stats.q_z / stats.n_points, PI_MIN, 1 - PI_MIN)
    return replace(params, pi=pi, sigma2=stats.q_err / stats.n_observed)


def mstep(params: Params, X: np.ndarray, K: np.ndarray) -> Params:
    """The M-step of Eq. (5) on a whole data set."""
    return apply_mstep(params, mstep_statistics(params, X, K))


@dataclass(frozen=True)
class AdamState:
    """First and second moment estimates of Adam (Kingma and Ba, 2014) and the step count."""

    m: list[np.ndarray]
    v: list[np.ndarray]
    t: int = 0


def adam_init(theta: list[np.ndarray]) -> AdamState:
    return AdamState([np.zeros_like(p) for p in theta], [np.zeros_like(p) for p in theta])


def adam_step(theta: list[np.ndarray], grad: list[np.ndarray], state: AdamState, lr: float,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[list[np.ndarray], AdamState]:
    """One Adam step that descends `grad`, written in the same order of operations as torch.optim.Adam."""
    b1, b2 = betas
    t = state.t + 1
    m = [b1 * m_i + (1 - b1) * g for m_i, g in zip(state.m, grad)]
    v = [b2 * v_i + (1 - b2) * g * g for v_i, g in zip(state.v, grad)]
    bias1, bias2 = 1 - b1**t, 1 - b2**t
    theta = [p - (lr / bias1) * m_i / (np.sqrt(v_i) / np.sqrt(bias2) + eps) for p, m_i, v_i in zip(theta, m, v)]
    return theta, AdamState(m, v, t)


def cyclic_lr(step: int, lr_min: float, lr_max: float, half_cycle_steps: int,
              schedule: str = "triangular") -> float:
    """Cyclic learning rate (Smith, 2017): up from lr_min to lr_max and back, per step.

    `triangular` repeats the same cycle; `triangular2` halves the height above lr_min with each whole cycle.
    """
    position = step / half_cycle_steps % 2.0  # in [0, 2): rising below 1, falling above
    height = 0.5 ** (step // (2 * half_cycle_steps)) if schedule == "triangular2" else 1.0
    return lr_min + (lr_max - lr_min) * height * (1.0 - abs(position - 1.0))
