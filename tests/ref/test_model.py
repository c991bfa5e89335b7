import numpy as np
import pytest

import tvae_ref as tr
from tests.conftest import tiny_params


def test_init_params_shapes_and_xavier_scale(rng):
    params = tr.init_params(64, (64,), 144, rng)
    assert [W.shape for W in params.W] == [(64, 64), (64, 144)]
    assert all((b == 0).all() for b in params.b)
    np.testing.assert_allclose(params.pi, 1 / 64)
    np.testing.assert_allclose(params.W[1].std(), np.sqrt(2 / (64 + 144)), rtol=0.05)


def test_decode_is_a_relu_mlp(rng):
    params = tiny_params(rng, H=3, hidden=(4, 2), D=2)
    z = np.array([1, 0, 1], dtype=np.uint8)
    h1 = np.maximum(z @ params.W[0] + params.b[0], 0)
    h2 = np.maximum(h1 @ params.W[1] + params.b[1], 0)
    np.testing.assert_allclose(tr.decode(params, z[None]), [h2 @ params.W[2] + params.b[2]])


def test_log_joint_matches_the_densities_of_eq1(tiny):
    params, X, K = tiny
    mu = tr.decode(params, K)  # (N, S, D)
    D = X.shape[1]
    log_normal = -0.5 * D * np.log(2 * np.pi * params.sigma2) - ((X[:, None] - mu) ** 2).sum(-1) / (2 * params.sigma2)
    log_bern = (K * np.log(params.pi) + (1 - K) * np.log(1 - params.pi)).sum(-1)
    np.testing.assert_allclose(tr.log_joint(params, X, K), log_normal + log_bern, rtol=1e-12)


def test_pseudo_joint_differs_from_log_joint_by_a_constant_per_data_point(tiny):
    params, X, K = tiny
    gap = tr.log_joint(params, X, K) - tr.log_pseudo_joint(params, X, K)
    np.testing.assert_allclose(gap, gap[:, :1].repeat(K.shape[1], axis=1), rtol=1e-12)


def test_shared_states_broadcast_over_data_points(tiny):
    params, X, K = tiny
    shared = K[0]  # (S, H)
    np.testing.assert_allclose(tr.log_joint(params, X, shared), tr.log_joint(params, X, np.broadcast_to(shared, K.shape)))


def test_sample_follows_the_prior(rng):
    params = tiny_params(rng)
    X, Z = tr.sample(params, 20000, rng)
    np.testing.assert_allclose(Z.mean(0), params.pi, atol=0.015)
    residual = X - tr.decode(params, Z)
    np.testing.assert_allclose(residual.var(), params.sigma2, rtol=0.03)


def test_missing_entry_only_drops_its_own_likelihood_term(tiny):
    params, X, K = tiny
    n, d = 2, 3
    X_missing = X.copy()
    X_missing[n, d] = np.nan
    lj, lj_missing = tr.log_joint(params, X, K), tr.log_joint(params, X_missing, K)
    others = np.arange(len(X)) != n
    np.testing.assert_array_equal(lj[others], lj_missing[others])
    # For data point n the result is the log-joint of a model without output d.
    keep = np.arange(X.shape[1]) != d
    reduced = tr.Params(params.W[:-1] + [params.W[-1][:, keep]], params.b[:-1] + [params.b[-1][keep]],
                        params.pi, params.sigma2)
    np.testing.assert_allclose(lj_missing[n], tr.log_joint(reduced, X[n : n + 1, keep], K[n : n + 1])[0], rtol=1e-12)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p, X, K: tr.log_joint(p, X[:, :-1], K), "X must have shape"),
        (lambda p, X, K: tr.log_joint(p, X, K[..., :-1]), "states K must have shape"),
        (lambda p, X, K: tr.log_joint(p, X, K[:-1]), "hold 5 data points"),
        (lambda p, X, K: tr.log_joint(p, X, K * 2), "binary"),
        (lambda p, X, K: tr.log_joint(p, np.where(X > 0, np.inf, X), K), "infinite"),
        (lambda p, X, K: tr.Params(p.W, p.b, p.pi, 0.0), "sigma2 must be positive"),
        (lambda p, X, K: tr.Params(p.W, p.b, p.pi, -1.0), "sigma2 must be positive"),
        (lambda p, X, K: tr.Params(p.W, p.b, p.pi * 0, 1.0), "pi_h must lie"),
        (lambda p, X, K: tr.Params(p.W[::-1], p.b[::-1], p.pi, 1.0), "do not fit|takes"),
    ],
)
def test_bad_input_gets_a_clear_error(tiny, make, message):
    params, X, K = tiny
    with pytest.raises(ValueError, match=message):
        make(params, X, K)


def test_flipping_latents_gives_the_same_model(tiny):
    params, X, K = tiny
    flip = np.array([True, False, True, False])
    flipped = tr.flip_latents(params, flip)
    np.testing.assert_allclose(tr.log_joint(flipped, X, K ^ flip.astype(np.uint8)), tr.log_joint(params, X, K),
                               rtol=1e-12)
    np.testing.assert_allclose(tr.exact_log_likelihood(flipped, X), tr.exact_log_likelihood(params, X), rtol=1e-12)
    assert not np.allclose(flipped.W[0], params.W[0])


def test_canonical_params_have_every_latent_mostly_off(tiny):
    params, _, _ = tiny
    assert (params.pi > 0.5).any()
    assert (tr.canonical_params(params).pi <= 0.5).all()


def test_deep_from_linear_starts_as_exactly_the_linear_model(rng):
    linear = tiny_params(rng, H=5, hidden=(), D=4)
    deep = tr.deep_from_linear(linear, (5, 5))
    assert [W.shape for W in deep.W] == [(5, 5), (5, 5), (5, 4)]
    K = tr.all_states(5)  # (32, 5): every binary state
    np.testing.assert_array_equal(tr.decode(deep, K), tr.decode(linear, K))
    X, _ = tr.sample(linear, 6, rng)
    np.testing.assert_array_equal(tr.log_joint(deep, X, K), tr.log_joint(linear, X, K))
    # only binary inputs pass the ReLU unchanged: a negative input shows the two decoders apart
    assert not np.allclose(tr.layer_outputs(deep, -np.ones(5))[-1], tr.layer_outputs(linear, -np.ones(5))[-1])


@pytest.mark.parametrize("hidden, message", [((4,), "equal to H=5"), ((5, 6), "equal to H=5")])
def test_deep_from_linear_needs_identity_sized_layers(rng, hidden, message):
    with pytest.raises(ValueError, match=message):
        tr.deep_from_linear(tiny_params(rng, H=5, hidden=(), D=4), hidden)


def test_deep_from_linear_needs_a_linear_model(rng):
    with pytest.raises(ValueError, match="linear decoder"):
        tr.deep_from_linear(tiny_params(rng, H=5, hidden=(5,), D=4), (5,))
