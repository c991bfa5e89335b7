"""Algorithm 1: mini-batch training of a TVAE, composed from the pure functions of this package."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from tvae_common.config import TrainConfig
from tvae_ref.bound import estimate, log_sum_exp, posterior_weights
from tvae_ref.checks import check_data, check_states
from tvae_ref.evolution import estep, init_states
from tvae_ref.learning import (AdamState, MStepStats, adam_init, adam_step, apply_mstep, cyclic_lr,
                               decoder_gradient, mstep_statistics)
from tvae_ref.model import Params, init_params, log_joint_constant


@dataclass(frozen=True)
class TrainResult:
    params: Params
    K: np.ndarray  # (N, S, H), each row sorted fittest first as of its last E-step
    free_energy: np.ndarray  # (epochs,) per data point, summed over the epoch's batches as they ran
    sigma2: np.ndarray  # (epochs,) sigma^2 after each epoch's M-step


def data_variance(X: np.ndarray) -> float:
    """Mean over pixels of the variance over data points, observed entries only (sigma^2 start)."""
    return float(np.nanmean(np.nanvar(X, axis=0)))


def fill_missing(X: np.ndarray, X_est: np.ndarray) -> np.ndarray:
    """Replace the NaN entries of X by an estimate (Eq. 15)."""
    return np.where(np.isnan(X), X_est, X)


def _descend(params: Params, grad: tuple[list, list], adam: AdamState, lr: float, batch: int) -> tuple[Params, AdamState]:
    """Adam on the loss -F / batch: ascent on the free energy per data point."""
    theta = params.W + params.b
    loss_grad = [-g / batch for g in grad[0] + grad[1]]
    theta, adam = adam_step(theta, loss_grad, adam, lr)
    L = len(params.W)
    return replace(params, W=theta[:L], b=theta[L:]), adam


def train_batch(params: Params, X: np.ndarray, K: np.ndarray, config: TrainConfig, adam: AdamState, lr: float,
                rng: np.random.Generator) -> tuple[Params, np.ndarray, AdamState, float, MStepStats]:
    """One batch of Algorithm 1: E-step on Phi, then Adam on W. Returns the batch's F and M-step sums."""
    K, fitness = estep(params, X, K, config, rng)
    lj = fitness + log_joint_constant(params, X)[:, None]  # log-joints of the updated Phi(n)
    X_grad = X if config.missing == "marginalize" else fill_missing(X, estimate(params, X, K))
    stats = mstep_statistics(params, X_grad if config.missing == "tvo-compatible" else X, K, posterior_weights(lj))
    params, adam = _descend(params, decoder_gradient(params, X_grad, K), adam, lr, len(X))
    return params, K, adam, float(log_sum_exp(lj).sum()), stats


def train(X: np.ndarray, config: TrainConfig, rng: np.random.Generator, params: Params | None = None,
          K: np.ndarray | None = None, on_epoch: Callable[[int, Params, np.ndarray, float], None] | None = None
          ) -> TrainResult:
    """Algorithm 1: W by Adam after every batch, pi and sigma^2 by Eq. (5) once per epoch.

    X (N, D) with NaN for missing entries. `params` and `K` continue an earlier run; otherwise they
    start as Sec. 3 says. `on_epoch(epoch, params, K, free_energy_per_point)` sees every epoch's end.
    """
    X = np.asarray(X, dtype=np.float64)
    N, D = X.shape
    check_data(X, D)
    if params is None:
        sigma2 = config.sigma2_init if config.sigma2_init is not None else data_variance(X)
        params = init_params(config.H, config.hidden, D, rng, sigma2)
    K = init_states(N, config.S, config.H, rng) if K is None else check_states(K, config.H, N).astype(np.uint8)
    if K.shape[1] != config.S:
        raise ValueError(f"K holds {K.shape[1]} states per data point but the config asks for S={config.S}")
    adam = adam_init(params.W + params.b)
    steps_per_epoch = -(-N // config.batch_size)
    free_energies, sigma2s = [], []
    for epoch in range(config.epochs):
        order = rng.permutation(N)
        F, stats = 0.0, None
        for start in range(0, N, config.batch_size):
            idx = order[start : start + config.batch_size]
            lr = cyclic_lr(adam.t, config.lr_min, config.lr_max, config.half_cycle * steps_per_epoch,
                           config.lr_schedule)
            params, K[idx], adam, F_batch, batch_stats = train_batch(params, X[idx], K[idx], config, adam, lr, rng)
            F += F_batch
            stats = batch_stats if stats is None else stats + batch_stats
        params = apply_mstep(params, stats)
        free_energies.append(F / N)
        sigma2s.append(params.sigma2)
        if on_epoch is not None:
            on_epoch(epoch, params, K, F / N)
    return TrainResult(params, K, np.array(free_energies), np.array(sigma2s))
