import numpy as np
import pytest

import tvae_ref as tr
from tests.conftest import tiny_params


def numerical_gradient(params, X, K, which, l, eps=1e-6):
    """Central finite differences of the free energy w.r.t. every entry of W[l] or b[l]."""
    arrays = params.W if which == "W" else params.b
    grad = np.zeros_like(arrays[l])
    for i in np.ndindex(arrays[l].shape):
        F = []
        for sign in (1, -1):
            changed = [a.copy() for a in arrays]
            changed[l][i] += sign * eps
            W, b = (changed, params.b) if which == "W" else (params.W, changed)
            F.append(tr.free_energy(tr.Params(W, b, params.pi, params.sigma2), X, K))
        grad[i] = (F[0] - F[1]) / (2 * eps)
    return grad


@pytest.mark.parametrize("hidden", [(), (3,), (4, 3)])
@pytest.mark.parametrize("missing", [False, True])
def test_gradient_matches_finite_differences(rng, hidden, missing):
    params = tiny_params(rng, hidden=hidden)
    X, _ = tr.sample(params, 6, rng)
    if missing:
        X[rng.random(X.shape) < 0.3] = np.nan
    K = tr.init_states(6, 5, 4, rng, p_on=0.5)
    dW, db = tr.decoder_gradient(params, X, K)
    for l in range(len(params.W)):
        np.testing.assert_allclose(dW[l], numerical_gradient(params, X, K, "W", l), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(db[l], numerical_gradient(params, X, K, "b", l), rtol=1e-5, atol=1e-7)


def test_gradient_is_the_q_weighted_mse_gradient_of_eq4(rng):
    """Eq. (4) for a linear decoder: -1/(2 sigma^2) sum q grad ||x - W^T z - b||^2, written out."""
    params = tiny_params(rng, hidden=())
    X, _ = tr.sample(params, 6, rng)
    K = tr.init_states(6, 5, 4, rng, p_on=0.5)
    q = tr.posterior_weights(tr.log_joint(params, X, K))
    residual = X[:, None] - tr.decode(params, K)  # (N, S, D)
    dW = np.einsum("ns,nsh,nsd->hd", q, K.astype(float), residual) / params.sigma2
    np.testing.assert_allclose(tr.decoder_gradient(params, X, K)[0][0], dW, rtol=1e-12)


def em_bound(params, X, K, q, pi=None, sigma2=None):
    """Eq. (2) with q held fixed, as a function of pi and sigma^2."""
    changed = tr.Params(params.W, params.b, params.pi if pi is None else pi, params.sigma2 if sigma2 is None else sigma2)
    return tr.free_energy_entropy_form(changed, X, K, q)


@pytest.mark.parametrize("missing", [False, True])
def test_mstep_maximises_the_bound_in_pi_and_sigma2(tiny, missing):
    params, X, K = tiny
    if missing:
        X = X.copy()
        X[0, :2] = np.nan
    q = tr.posterior_weights(tr.log_joint(params, X, K))
    new = tr.mstep(params, X, K)
    best = em_bound(params, X, K, q, new.pi, new.sigma2)
    for delta in (1e-3, -1e-3):
        assert em_bound(params, X, K, q, new.pi, new.sigma2 * (1 + delta)) < best
        for h in range(params.H):
            pi = new.pi.copy()
            pi[h] += delta
            assert em_bound(params, X, K, q, pi, new.sigma2) < best
    # and the truncated bound itself cannot go down (an EM step)
    assert tr.free_energy(new, X, K) >= tr.free_energy(params, X, K)


def test_mstep_divides_by_the_observed_entries(tiny):
    params, X, K = tiny
    X_missing = X.copy()
    X_missing[:, -1] = np.nan
    q = tr.posterior_weights(tr.log_joint(params, X_missing, K))
    err = (q[..., None] * (X[:, None, :-1] - tr.decode(params, K)[..., :-1]) ** 2).sum()
    np.testing.assert_allclose(tr.mstep(params, X_missing, K).sigma2, err / X_missing[:, :-1].size, rtol=1e-12)


def test_mstep_statistics_add_up_over_batches(tiny):
    params, X, K = tiny
    parts = tr.mstep_statistics(params, X[:2], K[:2]) + tr.mstep_statistics(params, X[2:], K[2:])
    whole = tr.mstep(params, X, K)
    split = tr.apply_mstep(params, parts)
    np.testing.assert_allclose(split.pi, whole.pi, rtol=1e-12)
    np.testing.assert_allclose(split.sigma2, whole.sigma2, rtol=1e-12)


def test_mstep_keeps_pi_away_from_0_and_1(tiny):
    params, X, K = tiny
    K = K.copy()
    K[..., 0] = 0  # no state uses latent 0
    assert tr.mstep(params, X, K).pi[0] == tr.model.PI_MIN


def test_cyclic_learning_rate_is_triangular():
    lrs = [tr.cyclic_lr(t, 0.1, 1.1, 4) for t in range(10)]
    np.testing.assert_allclose(lrs, [0.1, 0.35, 0.6, 0.85, 1.1, 0.85, 0.6, 0.35, 0.1, 0.35])


def test_triangular2_halves_the_height_of_each_cycle():
    lrs = [tr.cyclic_lr(t, 0.1, 1.1, 2, "triangular2") for t in range(13)]
    np.testing.assert_allclose(lrs, [0.1, 0.6, 1.1, 0.6, 0.1, 0.35, 0.6, 0.35, 0.1, 0.225, 0.35, 0.225, 0.1])


def test_adam_descends_a_quadratic():
    theta, state = [np.array([3.0, -2.0])], tr.adam_init([np.zeros(2)])
    for _ in range(2000):
        theta, state = tr.adam_step(theta, [2 * theta[0]], state, lr=0.05)
    np.testing.assert_allclose(theta[0], 0.0, atol=1e-3)
    assert state.t == 2000


def test_adam_first_step_has_the_size_of_the_learning_rate():
    theta, _ = tr.adam_step([np.array([1.0, 1.0])], [np.array([1e-3, -5.0])], tr.adam_init([np.zeros(2)]), lr=0.1)
    np.testing.assert_allclose(theta[0], [0.9, 1.1], atol=1e-5)  # |m / sqrt(v)| = 1 up to eps
