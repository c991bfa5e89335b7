import numpy as np
import pytest
import torch

import tvae_torch as tt
from tvae_common.bars import bars_data


def bars(N=64, seed=0):
    return torch.from_numpy(bars_data(N, np.random.default_rng(seed))[0])


def small_run(seed, X=None, **changes):
    X = bars() if X is None else X
    return tt.train(X, tt.preset("bars").with_(epochs=3, S=16, **changes), torch.Generator().manual_seed(seed))


def test_float32_training_raises_the_bound_and_keeps_phi_distinct():
    result = tt.train(bars(200), tt.preset("bars").with_(epochs=12), torch.Generator().manual_seed(0))
    assert result.params.dtype == torch.float32 and result.words.shape == (200, 64, 1)
    assert result.free_energy[-1] > result.free_energy[0] + 5
    assert not tt.is_duplicate(result.K).any()
    assert not result.params.W[0].requires_grad  # the result is detached from the optimizer


def test_a_seed_reproduces_a_run_bit_for_bit():
    a, b = small_run(7), small_run(7)
    assert torch.equal(a.free_energy, b.free_energy) and torch.equal(a.words, b.words)
    assert all(torch.equal(x, y) for x, y in zip(a.params.W, b.params.W))
    assert not torch.equal(small_run(8).free_energy, a.free_energy)


@pytest.mark.parametrize("missing", ["marginalize", "fill", "tvo-compatible"])
def test_training_with_missing_entries_stays_finite(missing):
    X = bars()
    X[torch.rand(X.shape, generator=torch.Generator().manual_seed(1)) < 0.3] = torch.nan
    result = small_run(2, X, missing=missing, sigma2_init=None)
    assert torch.isfinite(result.free_energy).all() and result.params.sigma2 > 0


def test_training_works_inside_no_grad():
    with torch.no_grad():
        assert torch.isfinite(small_run(3).free_energy).all()


def test_on_epoch_sees_every_epoch():
    seen = []
    tt.train(bars(40), tt.preset("bars").with_(epochs=3, S=8), torch.Generator().manual_seed(0),
             on_epoch=lambda state: seen.append((state.epoch, state.free_energy[-1])))
    assert [e for e, _ in seen] == [1, 2, 3]


@pytest.mark.parametrize("X, kwargs, match", [
    (torch.full((10, 16), torch.nan), {}, "no observed entries"),
    (torch.zeros(10, 4, 4), {}, "2-D array"),
    (torch.zeros(10, 16), {"K": tt.init_states(10, 8, 8, torch.Generator())}, "S=16"),
    (torch.zeros(10, 16), {"K": torch.zeros(10, 16, 8)}, "distinct"),
])
def test_bad_training_input_is_refused(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tt.train(X, tt.preset("bars").with_(epochs=1, S=16), torch.Generator(), **kwargs)


def test_params_of_another_shape_are_refused(gen):
    with pytest.raises(ValueError, match="H=8"):
        tt.train(bars(), tt.preset("bars").with_(epochs=1), gen, params=tt.init_params(6, (8,), 16, gen))
