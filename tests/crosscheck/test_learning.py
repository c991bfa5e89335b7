"""Eqs. (4, 11) by autograd against the hand-written gradient, Eq. (5), and torch.optim against tvae_ref."""

import numpy as np
import pytest

import tvae_ref as tr
import tvae_torch as tt
from tests.crosscheck.conftest import assert_close, t64
from tvae_common.config import TrainConfig


def test_autograd_gradient_equals_the_hand_written_one(problem):
    params, tparams, X, K = problem
    dW, db = tr.decoder_gradient(params, X, K)
    tdW, tdb = tt.decoder_gradient(tparams, X, K)
    assert_close(tdW, dW)
    assert_close(tdb, db)


def test_mstep_statistics_and_update(problem):
    params, tparams, X, K = problem
    stats, tstats = tr.mstep_statistics(params, X, K), tt.mstep_statistics(tparams, X, K)
    assert_close(tstats.q_z, stats.q_z)
    assert_close(tstats.q_err, stats.q_err)
    assert (tstats.n_points, int(tstats.n_observed)) == (stats.n_points, stats.n_observed)
    new, tnew = tr.mstep(params, X, K), tt.mstep(tparams, X, K)
    assert_close(tnew.pi, new.pi)
    assert_close(tnew.sigma2, new.sigma2)


def test_mstep_with_given_weights(problem):
    params, tparams, X, K = problem
    q = np.random.default_rng(1).dirichlet(np.ones(K.shape[1]), size=len(X))
    assert_close(tt.mstep_statistics(tparams, X, K, t64(q)).q_err, tr.mstep_statistics(params, X, K, q).q_err)


@pytest.mark.parametrize("schedule", ["triangular", "triangular2"])
@pytest.mark.parametrize("steps_per_epoch", [1, 3])
def test_torch_adam_and_cyclic_lr_follow_the_reference(steps_per_epoch, schedule):
    """Twenty steps through more than a whole learning-rate cycle, with gradients of changing sign and size."""
    rng = np.random.default_rng(3)
    config = TrainConfig(H=2, hidden=(), S=2, n_parents=2, n_children=1, n_generations=1, lr_min=1e-3,
                         lr_max=0.2, half_cycle=2, lr_schedule=schedule)
    theta = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    leaves = [t64(p).requires_grad_() for p in theta]
    optimizer, scheduler = tt.adam_with_cyclic_lr(leaves, config, steps_per_epoch)
    adam = tr.adam_init(theta)
    for step in range(20):
        grad = [rng.standard_normal(p.shape) * 10.0 ** rng.integers(-3, 3) for p in theta]
        lr = tr.cyclic_lr(step, config.lr_min, config.lr_max, config.half_cycle * steps_per_epoch, schedule)
        assert_close(optimizer.param_groups[0]["lr"], lr)
        theta, adam = tr.adam_step(theta, grad, adam, lr)
        for leaf, g in zip(leaves, grad):
            leaf.grad = t64(g)
        optimizer.step()
        scheduler.step()
        assert_close(leaves, theta)
