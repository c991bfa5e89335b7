"""Algorithm 1: mini-batch training of a TVAE on the device, composed from the pure functions of this package.

A run's whole state (parameters, packed Phi, Adam, learning-rate schedule, epoch, history) lives in a
`TrainState`, so that a run can be saved after any epoch and continued bit for bit (see checkpoint.py).
With a `Shard` (distributed.py), one of several processes trains its part of the data points and the
processes sum their gradients and statistics; without one, a single process trains on all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.distributed as dist

from tvae_common.config import TrainConfig
from tvae_torch.bound import estimate_from_means, free_energy_from_errors, log_sum_exp, posterior_weights
from tvae_torch.checks import as_tensor, check_data, check_states
from tvae_torch.distributed import Shard, batch_uniforms, even_shard
from tvae_torch.evolution import Uniforms, estep_unchecked
from tvae_torch.learning import MStepStats, adam_with_cyclic_lr, apply_mstep, statistics_from_errors
from tvae_torch.model import Params, init_params, log_joint_constant, means, observed_mask, squared_error
from tvae_torch.states import duplicate_words, init_packed_states, pack_states, unpack_states


@dataclass
class TrainState:
    """Everything a run carries from one epoch to the next. W and b are the optimizer's leaf tensors."""

    params: Params
    words: torch.Tensor  # (n, S, ceil(H / 64)) int64, packed Phi of the shard's n points (all N for one
    # process), each row fittest first as of its last E-step
    optimizer: torch.optim.Adam
    scheduler: torch.optim.lr_scheduler.CyclicLR
    epoch: int = 0  # epochs done
    free_energy: list[float] = field(default_factory=list)  # per data point, summed over batches as they ran
    sigma2: list[float] = field(default_factory=list)  # sigma^2 after each epoch's M-step


@dataclass(frozen=True)
class TrainResult:
    params: Params
    words: torch.Tensor  # (n, S, ceil(H / 64)) packed Phi of the shard's points (all N for one process)
    free_energy: torch.Tensor  # (epochs,) float64
    sigma2: torch.Tensor  # (epochs,) float64

    @property
    def K(self) -> torch.Tensor:
        """The states (N, S, H) uint8, unpacked."""
        return unpack_states(self.words, self.params.H)


def data_variance(X: torch.Tensor) -> float:
    """Mean over pixels of the variance over data points, observed entries only (sigma^2 start)."""
    centred = X - torch.nanmean(X, dim=0)
    return float(torch.nanmean(torch.nanmean(centred.square(), dim=0)))


def fill_missing(X: torch.Tensor, X_est: torch.Tensor) -> torch.Tensor:
    """Replace the NaN entries of X by an estimate (Eq. 15)."""
    return torch.where(torch.isnan(X), X_est, X)


def check_training_data(X, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """X (N, D) with N >= 1 and at least one observed entry."""
    X = as_tensor(X, torch.device(device), dtype)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (N, D) of data points, got shape {tuple(X.shape)}")
    X = check_data(X, X.shape[1], X.device, dtype)
    if len(X) == 0 or torch.isnan(X).all():
        raise ValueError("X holds no observed entries: there is nothing to learn from")
    return X


def init_state(X: torch.Tensor, config: TrainConfig, generator: torch.Generator | None,
               params: Params | None = None, K=None, shard: Shard | None = None) -> TrainState:
    """A fresh run as Sec. 3 says (unless `params` or `K` are given): Xavier weights, random distinct Phi.

    X (N, D) is the whole data set; with a shard, the state keeps Phi of the shard's points only.
    """
    N, D = X.shape
    rows = slice(None) if shard is None else shard.rows
    if params is None:
        sigma2 = config.sigma2_init if config.sigma2_init is not None else data_variance(X)
        params = init_params(config.H, config.hidden, D, generator, sigma2, X.device, X.dtype)
    if (params.H, params.D) != (config.H, D):
        raise ValueError(f"params have H={params.H}, D={params.D} but config and data ask for H={config.H}, D={D}")
    if K is None:
        words = init_packed_states(N, config.S, config.H, generator, X.device, rows=rows)
    else:
        words = pack_states(check_states(K, config.H, N, X.device)[rows])
        if duplicate_words(words).any():
            raise ValueError("K must hold distinct states for every data point")
    if words.shape[1] != config.S:
        raise ValueError(f"K holds {words.shape[1]} states per data point but the config asks for S={config.S}")
    theta = [t.detach().clone().requires_grad_() for t in params.W + params.b]
    L = len(params.W)
    optimizer, scheduler = adam_with_cyclic_lr(theta, config, -(-N // config.batch_size))
    return TrainState(replace(params, W=theta[:L], b=theta[L:]), words, optimizer, scheduler)


def train_batch(params: Params, X: torch.Tensor, words: torch.Tensor, config: TrainConfig, rng: Uniforms,
                observed: torch.Tensor | None, optimizer: torch.optim.Adam, shard: Shard | None = None,
                B: int | None = None) -> tuple[torch.Tensor, torch.Tensor, MStepStats]:
    """One batch of Algorithm 1: E-step on Phi, then Adam on W. Returns new words, the batch's F, M-step sums.

    With a shard, X and words are this process's rows of a batch of B points: the gradient of the
    batch's free energy is summed over the processes before the step. F and the sums are this process's.
    """
    with torch.no_grad():
        K, words, fitness = estep_unchecked(params, X, words, config, rng, observed)
        log_joints = fitness + log_joint_constant(params, X)[:, None]  # of the updated Phi(n)
        q = posterior_weights(log_joints)  # (B, S), Eq. (12)
    theta, Z = params.W + params.b, K.to(params.dtype)  # Z (B, S, H): the states as numbers
    with torch.enable_grad():
        mu = means(params, K)  # (B, S, D), one differentiable pass for Eq. (5), Eq. (15) and the gradient
        errors = squared_error(X, mu, observed)  # (B, S) over the observed entries
        X_grad, mstep_errors, mstep_observed = X, errors, observed
        if config.missing != "marginalize" and observed is not None:
            X_grad = fill_missing(X, estimate_from_means(q, mu.detach()))
            errors = squared_error(X_grad, mu, None)  # over all entries of the completed patches
            if config.missing == "tvo-compatible":  # sigma^2 of Eq. (5) counts the filled entries too
                mstep_errors, mstep_observed = errors, None
        stats = statistics_from_errors(q, mstep_errors.detach(), Z, mstep_observed, X.numel())
        grads = list(torch.autograd.grad(free_energy_from_errors(params, X_grad, Z, errors), theta))
    grads = grads if shard is None else shard.sum(grads)
    B = len(X) if B is None else B
    for t, g in zip(theta, grads):
        t.grad = -g / B  # Adam descends the loss -F / B
    optimizer.step()
    return words, log_sum_exp(log_joints).sum(), stats


def train_epoch(state: TrainState, X: torch.Tensor, config: TrainConfig, rng: Uniforms,
                observed: torch.Tensor | None, shard: Shard | None = None) -> None:
    """One epoch: W by Adam after every batch, then pi and sigma^2 by Eq. (5). Updates `state`.

    X (n, D) and `observed` are the shard's points (all N without a shard); the epoch's permutation
    and batches are those of all N points.
    """
    shard = even_shard(len(X)) if shard is None else shard
    order = rng.permutation(shard.N)
    F, stats = torch.zeros((), dtype=torch.float64, device=X.device), None
    for B, rows, idx in shard.batches(order, config.batch_size):
        batch_observed = None if observed is None else observed[idx]
        words, F_batch, batch_stats = train_batch(state.params, X[idx], state.words[idx], config,
                                                  batch_uniforms(rng, rows, B), batch_observed, state.optimizer,
                                                  shard, B)
        state.scheduler.step()
        state.words[idx] = words
        F += F_batch
        stats = batch_stats if stats is None else stats + batch_stats
    F, stats = summed(shard, F, stats)
    with torch.no_grad():
        state.params = apply_mstep(state.params, stats)
    state.epoch += 1
    state.free_energy.append(float(F) / shard.N)
    state.sigma2.append(float(state.params.sigma2))


def summed(shard: Shard, F: torch.Tensor, stats: MStepStats) -> tuple[torch.Tensor, MStepStats]:
    """The epoch's free energy and sums of Eq. (5) over all processes (as they are for one)."""
    if shard.size == 1:
        return F, stats
    (F,) = shard.sum([F])
    q_err, q_z = shard.sum([stats.q_err, stats.q_z])
    counts = torch.stack([torch.as_tensor(n, device=F.device) for n in (stats.n_points, stats.n_observed)])
    n_points, n_observed = shard.sum([counts])[0].tolist()
    return F, MStepStats(q_z, q_err, n_points, n_observed)


def check_shard(shard: Shard, X: torch.Tensor, config: TrainConfig) -> None:
    """A shard of X's points in a process group that matches it, and an E-step that treats every point alone."""
    if shard.N != len(X):
        raise ValueError(f"the shard splits {shard.N} data points but X holds {len(X)}")
    if shard.size > 1 and config.selection == "tvo-compatible":
        raise ValueError("tvo-compatible selection normalises the fitness over the whole batch, which a split "
                         "batch does not see; train it in one process, or use 'fitness' or 'uniform'")
    group = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    if shard.size > 1 and group != (shard.rank, shard.size):
        raise ValueError(f"a shard of process {shard.rank} of {shard.size} needs torch.distributed's default "
                         "group of as many processes, with this process at that rank (see distributed.py)")


def detached(params: Params) -> Params:
    return replace(params, W=[w.detach() for w in params.W], b=[v.detach() for v in params.b])


def train(X, config: TrainConfig, rng: torch.Generator | Uniforms, params: Params | None = None, K=None,
          on_epoch: Callable[[TrainState], None] | None = None, *, device: torch.device | str = "cpu",
          dtype: torch.dtype = torch.float32, state: TrainState | None = None, shard: Shard | None = None
          ) -> TrainResult:
    """Algorithm 1 for `config.epochs` epochs, or the epochs left of `state` (a resumed run).

    X (N, D) with NaN for missing entries. `params` and `K` start the run where given (their device
    and dtype win); otherwise it starts as Sec. 3 says. `rng` draws every random decision: a
    torch.Generator on `device`, or a `Uniforms` source. `on_epoch(state)` sees the end of every epoch.
    With a `shard`, this is one of several processes: every process passes the same arguments (the
    whole X, the same seed) and trains Phi of its shard's points; the result holds that part of Phi.
    """
    if params is not None or state is not None:
        given = params if params is not None else state.params
        device, dtype = given.device, given.dtype
    X = check_training_data(X, device, dtype)
    shard = even_shard(len(X)) if shard is None else shard
    check_shard(shard, X, config)
    rng = rng if isinstance(rng, Uniforms) else Uniforms(rng, X.device, dtype)
    state = init_state(X, config, rng.generator, params, K, shard) if state is None else state
    X = X[shard.rows]  # (n, D), a view
    observed = observed_mask(X)
    while state.epoch < config.epochs:
        train_epoch(state, X, config, rng, observed, shard)
        if on_epoch is not None:
            on_epoch(state)
    return TrainResult(detached(state.params), state.words, torch.tensor(state.free_energy, dtype=torch.float64),
                       torch.tensor(state.sigma2, dtype=torch.float64))
