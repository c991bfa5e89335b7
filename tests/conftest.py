"""Shared fixtures: tiny models whose every state can be enumerated."""

import numpy as np
import pytest

import tvae_ref as tr


def tiny_params(rng: np.random.Generator, H: int = 4, hidden: tuple[int, ...] = (3,), D: int = 5) -> tr.Params:
    """A random model with non-zero biases and a prior away from 0 and 1."""
    params = tr.init_params(H, hidden, D, rng, sigma2=0.3)
    b = [rng.standard_normal(v.shape) * 0.5 for v in params.b]
    return tr.Params(params.W, b, rng.uniform(0.1, 0.9, H), 0.3)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def tiny(rng):
    """(params, X, K): 6 data points of a 4 -> 3 -> 5 model, 5 distinct states each."""
    params = tiny_params(rng)
    X, _ = tr.sample(params, 6, rng)
    K = tr.init_states(6, 5, 4, rng, p_on=0.4)
    return params, X, K
