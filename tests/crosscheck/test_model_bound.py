"""Eqs. (1)-(3), (6), (7), (9), (12), (15) and the exact likelihood: tvae_torch against tvae_ref."""

import numpy as np
import torch

import tvae_ref as tr
import tvae_torch as tt
from tests.conftest import tiny_params
from tests.crosscheck.conftest import assert_close, t64, to_torch


def test_decoded_means_and_every_layer(problem):
    params, tparams, _, K = problem
    assert_close(tt.decode(tparams, K), tr.decode(params, K))
    assert_close(tt.layer_outputs(tparams, torch.from_numpy(K)), tr.layer_outputs(params, K))


def test_log_joints(problem):
    params, tparams, X, K = problem
    assert_close(tt.log_prior(tparams.pi, torch.from_numpy(K)), tr.log_prior(params.pi, K))
    assert_close(tt.log_pseudo_joint(tparams, X, K), tr.log_pseudo_joint(params, X, K))
    assert_close(tt.log_joint_constant(tparams, t64(X)), tr.log_joint_constant(params, X))
    assert_close(tt.log_joint(tparams, X, K), tr.log_joint(params, X, K))


def test_log_joints_of_states_shared_by_all_data_points(problem):
    params, tparams, X, K = problem
    assert_close(tt.log_joint(tparams, X, K[0]), tr.log_joint(params, X, K[0]))


def test_posterior_weights(problem):
    params, _, X, K = problem
    lj = tr.log_joint(params, X, K)
    assert_close(tt.posterior_weights(t64(lj)), tr.posterior_weights(lj))
    assert_close(tt.log_sum_exp(t64(lj)), tr.log_sum_exp(lj))


def test_free_energy_in_all_three_forms(problem):
    params, tparams, X, K = problem
    assert_close(tt.free_energy(tparams, X, K), tr.free_energy(params, X, K))
    assert_close(tt.free_energy_entropy_form(tparams, X, K), tr.free_energy_entropy_form(params, X, K))
    assert_close(tt.free_energy_kl_form(tparams, X, K), tr.free_energy_kl_form(params, X, K))


def test_free_energy_forms_with_another_q(problem):
    params, tparams, X, K = problem
    q = np.random.default_rng(0).dirichlet(np.ones(K.shape[1]), size=len(X))
    q[0, :3] = 0.0  # 0 log 0 = 0
    q /= q.sum(1, keepdims=True)
    assert_close(tt.free_energy_entropy_form(tparams, X, K, t64(q)), tr.free_energy_entropy_form(params, X, K, q))
    assert_close(tt.free_energy_kl_form(tparams, X, K, t64(q)), tr.free_energy_kl_form(params, X, K, q))


def test_exact_log_likelihood_and_all_states(problem):
    params, tparams, X, _ = problem
    np.testing.assert_array_equal(tt.all_states(6).numpy(), tr.all_states(6))
    assert_close(tt.exact_log_likelihood(tparams, X), tr.exact_log_likelihood(params, X))


def test_eq15_estimate(problem):
    params, tparams, X, K = problem
    assert_close(tt.estimate(tparams, X, K), tr.estimate(params, X, K))


def test_deep_from_linear():
    linear = tiny_params(np.random.default_rng(3), H=6, hidden=(), D=5)
    deep, tdeep = tr.deep_from_linear(linear, (6, 6)), tt.deep_from_linear(to_torch(linear), (6, 6))
    assert_close(tdeep.W, deep.W)
    assert_close(tdeep.b, deep.b)
    assert_close(tdeep.pi, deep.pi)
    assert_close(tdeep.sigma2, deep.sigma2)
