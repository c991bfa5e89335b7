"""Whole training runs of both backends, given the same start and one shared stream of random decisions."""

import numpy as np
import pytest

import tvae_ref as tr
import tvae_torch as tt
from tests.crosscheck.conftest import NumpyUniforms, assert_close, to_torch
from tvae_common.bars import bars_data


@pytest.mark.parametrize("changes", [
    dict(),
    dict(selection="tvo-compatible", mutation="sparseflip", crossover=False, n_parents=4, n_children=3),
    dict(missing="fill", sigma2_init=None),
    dict(missing="marginalize", sigma2_init=None, batch_size=24),
    dict(missing="tvo-compatible", sigma2_init=None),
], ids=["bars", "tvo-sparseflip", "missing-fill", "missing-marginalize", "missing-tvo"])
def test_training_runs_agree_epoch_by_epoch(changes):
    """Bars, 4 epochs of 3 batches (the last one short): F, sigma^2, Phi and the weights agree."""
    rng = np.random.default_rng(11)
    X, _ = bars_data(80, rng)
    if "missing" in changes:
        X[rng.random(X.shape) < 0.2] = np.nan
    config = tr.preset("bars").with_(epochs=4, S=16, **changes)
    params = tr.init_params(8, (8,), 16, rng, 0.01 if config.sigma2_init else tr.data_variance(X))
    K = tr.init_states(80, 16, 8, rng)
    ref = tr.train(X, config, np.random.default_rng(12), params=params, K=K)
    run = tt.train(X, config, NumpyUniforms(np.random.default_rng(12)), params=to_torch(params), K=K)
    np.testing.assert_array_equal(run.K.numpy(), ref.K)
    assert_close(run.free_energy, ref.free_energy)
    assert_close(run.sigma2, ref.sigma2)
    assert_close(run.params.W, ref.params.W)
    assert_close(run.params.b, ref.params.b)
    assert_close(run.params.pi, ref.params.pi)
    assert not np.array_equal(ref.K, K)


def test_a_model_with_many_sparse_latents_trains_alike():
    """H = 256: tvae_torch sums rows of W[0] for the first layer (model.first_layer), tvae_ref multiplies."""
    rng = np.random.default_rng(5)
    config = tr.TrainConfig(H=256, hidden=(12,), S=6, n_parents=3, n_children=2, n_generations=2, epochs=3,
                            batch_size=16, lr_max=0.01)
    params = tr.init_params(256, (12,), 10, rng, sigma2=0.5)
    X = rng.standard_normal((40, 10))
    K = tr.init_states(40, 6, 256, rng)
    ref = tr.train(X, config, np.random.default_rng(6), params=params, K=K)
    run = tt.train(X, config, NumpyUniforms(np.random.default_rng(6)), params=to_torch(params), K=K)
    np.testing.assert_array_equal(run.K.numpy(), ref.K)
    assert_close(run.free_energy, ref.free_energy)
    assert_close(run.params.W, ref.params.W)
    assert_close(run.params.b, ref.params.b)
    assert_close(run.params.pi, ref.params.pi)
    assert not np.array_equal(ref.K, K)
