"""Learning the decoder: the gradient of Eqs. (4, 11) by autograd, the M-step of Eq. (5), Adam, cyclic rates."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from tvae_common.config import TrainConfig
from tvae_torch.bound import free_energy, posterior_weights
from tvae_torch.checks import check_data, check_states
from tvae_torch.model import PI_MIN, Params, log_joint, means, observed_mask, squared_error


def decoder_gradient(params: Params, X, K) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Gradient of the free energy (Eq. 7) w.r.t. the decoder weights and biases, Eqs. (4, 11).

    Autograd of Eq. (7): d/dW log sum_z p(x, z) = sum_z q(z) d/dW log p(x | z), which is Eq. (4) with
    q of Eq. (12). Returns (dW, db) shaped like (W, b).
    """
    leaves = [t.detach().requires_grad_() for t in params.W + params.b]
    L = len(params.W)
    with torch.enable_grad():
        F = free_energy(replace(params, W=leaves[:L], b=leaves[L:]), X, K)
        grads = torch.autograd.grad(F, leaves)
    return list(grads[:L]), list(grads[L:])


@dataclass(frozen=True)
class MStepStats:
    """Sums over data points that Eq. (5) needs; they add up over batches (and processes)."""

    q_z: torch.Tensor  # sum_n sum_z q(z) z, (H,)
    q_err: torch.Tensor  # () sum_n sum_z q(z) ||x - mu(z)||^2 over observed entries
    n_points: int  # N
    n_observed: int | torch.Tensor  # observed entries: D N without missing data, else a () tensor

    def __add__(self, other: MStepStats) -> MStepStats:
        return MStepStats(self.q_z + other.q_z, self.q_err + other.q_err,
                          self.n_points + other.n_points, self.n_observed + other.n_observed)


def statistics_from_errors(q: torch.Tensor, errors: torch.Tensor, K: torch.Tensor, observed: torch.Tensor | None,
                           n_entries: int) -> MStepStats:
    """The sums of Eq. (5) from weights q (N, S), squared errors over observed entries (N, S) and states K
    (N, S, H); `observed` (N, D) or None when all `n_entries` entries of the data are observed."""
    q_z = torch.einsum("ns,nsh->h", q, K.to(q.dtype))
    n_observed = n_entries if observed is None else observed.sum()  # counted on the device: no read-back
    return MStepStats(q_z, (q * errors).sum(), len(q), n_observed)


def mstep_statistics(params: Params, X, K, q: torch.Tensor | None = None) -> MStepStats:
    """The sums of Eq. (5) for one batch, with q of Eq. (3) unless given."""
    X = check_data(X, params.D, params.device, params.dtype)
    K = check_states(K, params.H, len(X), params.device)
    q = posterior_weights(log_joint(params, X, K)) if q is None else q  # (N, S)
    observed = observed_mask(X)
    return statistics_from_errors(q, squared_error(X, means(params, K), observed), K, observed, X.numel())


def apply_mstep(params: Params, stats: MStepStats) -> Params:
    """Closed-form updates of pi and sigma^2, Eq. (5); sigma^2 divides by the observed entries.

    pi is kept inside [PI_MIN, 1 - PI_MIN] so that no state gets log-probability -inf.
    """
    pi = torch.clamp(stats.q_z / stats.n_points, PI_MIN, 1 - PI_MIN)
    return replace(params, pi=pi, sigma2=stats.q_err / stats.n_observed)


def mstep(params: Params, X, K) -> Params:
    """The M-step of Eq. (5) on a whole data set."""
    return apply_mstep(params, mstep_statistics(params, X, K))


def adam_with_cyclic_lr(theta: list[torch.Tensor], config: TrainConfig, steps_per_epoch: int
                        ) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.CyclicLR]:
    """Adam (Kingma and Ba, 2014) with the cyclic learning rate (Smith, 2017), stepped per batch.

    The rate rises from lr_min to lr_max over `half_cycle` epochs and falls back over as many; the
    config's `lr_schedule` says whether every cycle is alike (`triangular`) or half as high as the last.
    """
    optimizer = torch.optim.Adam(theta, lr=config.lr_min, fused=True)  # one kernel per tensor, not ~10 ops
    scheduler = torch.optim.lr_scheduler.CyclicLR(
        optimizer, base_lr=config.lr_min, max_lr=config.lr_max, step_size_up=config.half_cycle * steps_per_epoch,
        mode=config.lr_schedule, cycle_momentum=False)
    return optimizer, scheduler
