import numpy as np
import pytest

import tvae_ref as tr


def exact_posterior(params, X):
    """p(z | x) over all 2^H states, by Bayes' rule on the enumerated joint."""
    K = tr.all_states(params.H)
    joint = np.exp(tr.log_joint(params, X, K))  # (N, 2^H)
    return K, joint / joint.sum(axis=1, keepdims=True)


def test_posterior_weights_are_normalised_joints(tiny):
    params, X, K = tiny
    q = tr.posterior_weights(tr.log_joint(params, X, K))
    joint = np.exp(tr.log_joint(params, X, K))
    np.testing.assert_allclose(q, joint / joint.sum(1, keepdims=True), rtol=1e-12)


def test_posterior_weights_are_stable_for_huge_log_joints():
    q = tr.posterior_weights(np.array([[-1e6, -1e6 - np.log(3.0)]]))
    np.testing.assert_allclose(q, [[0.75, 0.25]])


def test_full_state_space_gives_the_exact_log_likelihood(tiny, rng):
    params, X, _ = tiny
    K_all = np.stack([rng.permutation(tr.all_states(params.H)) for _ in X])  # (N, 2^H, H)
    np.testing.assert_allclose(tr.free_energy(params, X, K_all), tr.exact_log_likelihood(params, X), rtol=1e-12)


def test_truncated_bound_is_strictly_lower(tiny):
    params, X, K = tiny
    assert tr.free_energy(params, X, K) < tr.exact_log_likelihood(params, X)
    # and grows with Phi: adding states can only add terms to each sum of Eq. (7)
    assert tr.free_energy(params, X, K[:, :3]) < tr.free_energy(params, X, K)


def test_exact_likelihood_matches_a_direct_sum(tiny):
    params, X, _ = tiny
    K = tr.all_states(params.H)
    direct = sum(np.log(np.exp(tr.log_joint(params, X[n : n + 1], K)).sum()) for n in range(len(X)))
    np.testing.assert_allclose(tr.exact_log_likelihood(params, X), direct, rtol=1e-12)


def test_exact_likelihood_refuses_large_H(rng):
    params = tr.init_params(tr.bound.MAX_EXACT_H + 1, (), 2, rng)
    with pytest.raises(ValueError, match="not feasible"):
        tr.exact_log_likelihood(params, np.zeros((1, 2)))


def test_eq2_eq6_and_eq7_forms_agree(tiny):
    params, X, K = tiny
    F7 = tr.free_energy(params, X, K)
    np.testing.assert_allclose(tr.free_energy_entropy_form(params, X, K), F7, rtol=1e-12)
    np.testing.assert_allclose(tr.free_energy_kl_form(params, X, K), F7, rtol=1e-12)


def test_eq2_with_another_q_is_lower(tiny, rng):
    params, X, K = tiny
    q_other = rng.dirichlet(np.ones(K.shape[1]), size=len(X))
    assert tr.free_energy_entropy_form(params, X, K, q_other) < tr.free_energy(params, X, K)
    np.testing.assert_allclose(tr.free_energy_entropy_form(params, X, K, q_other),
                               tr.free_energy_kl_form(params, X, K, q_other), rtol=1e-12)


def test_estimate_with_all_states_is_the_exact_posterior_mean(tiny):
    params, X, _ = tiny
    K, post = exact_posterior(params, X)
    exact = post @ tr.decode(params, K)  # (N, D)
    K_all = np.broadcast_to(K, (len(X), *K.shape))
    np.testing.assert_allclose(tr.estimate(params, X, K_all), exact, rtol=1e-10)


def test_estimate_fills_missing_entries_from_the_observed_ones(tiny):
    params, X, K = tiny
    X_missing = X.copy()
    X_missing[:, 0] = np.nan
    est = tr.estimate(params, X_missing, K)
    assert np.isfinite(est).all()
    q = tr.posterior_weights(tr.log_joint(params, X_missing, K))
    np.testing.assert_allclose(est, np.einsum("ns,nsd->nd", q, tr.decode(params, K)), rtol=1e-12)
