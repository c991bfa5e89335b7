import numpy as np
import pytest

import tvae_ref as tr
from tvae_common.bars import bars_data, matched_bars
from tvae_ref.training import train_batch


@pytest.fixture(scope="module")
def bars_run():
    rng = np.random.default_rng(1)
    X, _ = bars_data(500, rng)
    return X, tr.train(X, tr.preset("bars"), rng)


def test_bars_training_recovers_all_bars(bars_run):
    _, result = bars_run
    one_hot = tr.decode(tr.canonical_params(result.params), np.eye(8, dtype=np.uint8))
    assert matched_bars(one_hot) == 8


def test_bars_bound_reaches_the_exact_log_likelihood(bars_run):
    X, result = bars_run
    F = tr.free_energy(result.params, X, result.K) / len(X)
    LL = tr.exact_log_likelihood(result.params, X) / len(X)
    assert F <= LL and abs(F - LL) < 0.02 * abs(LL)
    np.testing.assert_allclose(result.params.sigma2, 0.01, rtol=0.1)
    np.testing.assert_allclose(result.params.pi, 2 / 8, atol=0.05)


def test_bars_free_energy_rises_over_training(bars_run):
    _, result = bars_run
    assert result.free_energy.shape == (400,)
    assert result.free_energy[-10:].mean() > result.free_energy[:10].mean() + 5


def small_run(seed, **changes):
    rng = np.random.default_rng(seed)
    X, _ = bars_data(64, rng)
    return tr.train(X, tr.preset("bars").with_(epochs=3, **changes), rng)


def test_a_seed_reproduces_a_run():
    a, b = small_run(7), small_run(7)
    np.testing.assert_array_equal(a.free_energy, b.free_energy)
    np.testing.assert_array_equal(a.K, b.K)
    assert not np.array_equal(small_run(8).free_energy, a.free_energy)


def test_states_stay_distinct_through_training():
    assert not tr.is_duplicate(small_run(3, S=16).K).any()


@pytest.mark.parametrize("missing", ["marginalize", "fill", "tvo-compatible"])
def test_training_with_missing_entries_stays_finite(missing):
    rng = np.random.default_rng(5)
    X, _ = bars_data(64, rng)
    X[rng.random(X.shape) < 0.3] = np.nan
    result = tr.train(X, tr.preset("bars").with_(epochs=3, missing=missing, sigma2_init=None), rng)
    assert np.isfinite(result.free_energy).all() and result.params.sigma2 > 0


def test_tvo_compatible_sigma2_counts_the_spread_of_mu_at_the_filled_entries():
    """Eq. (5) as the authors' code takes it on completed patches: the filled entries add
    sum_z q(z) (x_hat_d - mu_d(z))^2 to the error and the sum divides by all D N entries."""
    rng = np.random.default_rng(4)
    X, _ = bars_data(12, rng)
    X[rng.random(X.shape) < 0.4] = np.nan
    config = tr.preset("bars").with_(S=16, sigma2_init=None)
    params = tr.init_params(8, (8,), 16, rng, tr.data_variance(X))
    K = tr.init_states(12, 16, 8, rng)
    adam = tr.adam_init(params.W + params.b)
    (_, K_fill, _, F_fill, fill), (_, K_tvo, _, F_tvo, tvo) = (
        train_batch(params, X, K, config.with_(missing=missing), adam, 0.01, np.random.default_rng(1))
        for missing in ("fill", "tvo-compatible"))
    np.testing.assert_array_equal(K_fill, K_tvo)  # the same E-step
    q = tr.posterior_weights(tr.log_joint(params, X, K_fill))
    mu = tr.layer_outputs(params, K_fill)[-1]
    spread = (q[..., None] * (tr.estimate(params, X, K_fill)[:, None, :] - mu) ** 2).sum(axis=1)  # (N, D)
    assert tvo.q_err - fill.q_err == pytest.approx(spread[np.isnan(X)].sum(), rel=1e-12)
    assert (fill.n_observed, tvo.n_observed) == ((~np.isnan(X)).sum(), X.size)
    np.testing.assert_array_equal(fill.q_z, tvo.q_z)
    assert F_fill == F_tvo and tvo.q_err / tvo.n_observed < fill.q_err / fill.n_observed


def test_on_epoch_sees_every_epoch():
    seen = []
    rng = np.random.default_rng(0)
    X, _ = bars_data(40, rng)
    tr.train(X, tr.preset("bars").with_(epochs=4), rng, on_epoch=lambda e, p, K, F: seen.append((e, F)))
    assert [e for e, _ in seen] == [0, 1, 2, 3]


def test_train_rejects_states_of_the_wrong_size():
    rng = np.random.default_rng(0)
    X, _ = bars_data(10, rng)
    with pytest.raises(ValueError, match="S=64"):
        tr.train(X, tr.preset("bars"), rng, K=tr.init_states(10, 8, 8, rng))
