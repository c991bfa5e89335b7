"""Small float32 problems for the torch backend's own tests."""

import pytest
import torch

import tvae_torch as tt

torch.set_num_threads(1)  # CI runs two test processes on two cores: one thread each keeps them from fighting


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def small(gen):
    """(params, X, K) in float32: 10 data points of a 8 -> 6 -> 5 model, 7 distinct states each."""
    params = tt.init_params(8, (6,), 5, gen, sigma2=0.2)
    X, _ = tt.sample(params, 10, gen)
    K = tt.init_states(10, 7, 8, gen, p_on=0.3)
    return params, X, K
