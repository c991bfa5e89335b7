"""Both backends on the same small problems, in float64, fed the same random decisions."""

import numpy as np
import pytest
import torch

import tvae_ref as tr
import tvae_torch as tt
from tests.conftest import tiny_params

RTOL = 1e-10

torch.set_num_threads(1)  # CI runs two test processes on two cores: one thread each keeps them from fighting


def t64(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def to_torch(params: tr.Params) -> tt.Params:
    """The same model as a float64 tvae_torch.Params on the CPU."""
    return tt.Params([t64(w) for w in params.W], [t64(v) for v in params.b], t64(params.pi), params.sigma2)


def assert_close(actual, expected, rtol=RTOL):
    """actual (tensor, list of tensors or float) equals the reference to rtol; entries far below the
    largest one are compared relative to it (an absolute tolerance of rtol * 1e-3 * max |expected|)."""
    if isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol)
        return
    actual = actual.detach().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.abs(expected).max() if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * 1e-3 * scale)


class NumpyUniforms(tt.Uniforms):
    """A tvae_torch random source that draws from a NumPy generator exactly as tvae_ref does."""

    def __init__(self, rng: np.random.Generator):
        super().__init__(None, torch.device("cpu"), torch.float64)
        self.rng = rng

    def random(self, shape):
        return torch.from_numpy(self.rng.random(shape))

    def permutation(self, n):
        return torch.from_numpy(self.rng.permutation(n))

    def flip_bits(self, shape, n_children):
        return tt.evolution.randflip_bits(self.random(shape), n_children)


PROBLEMS = [  # (hidden layers, fraction of missing entries)
    ((3,), 0.0),
    ((3,), 0.3),
    ((5, 4), 0.0),
    ((5, 4), 0.3),
]


@pytest.fixture(params=PROBLEMS, ids=[f"hidden={h}-missing={m}" for h, m in PROBLEMS])
def problem(request):
    """(ref params, torch params, X with NaN for missing entries, K): 7 data points, H=6, D=5, S=9."""
    hidden, missing = request.param
    rng = np.random.default_rng(42)
    params = tiny_params(rng, H=6, hidden=hidden, D=5)
    X, _ = tr.sample(params, 7, rng)
    X[rng.random(X.shape) < missing] = np.nan
    K = tr.init_states(7, 9, 6, rng, p_on=0.4)
    return params, to_torch(params), X, K
