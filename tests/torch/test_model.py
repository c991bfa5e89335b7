import dataclasses
import math

import numpy as np
import pytest
import torch

import tvae_torch as tt
from tvae_torch import model


def test_float32_is_the_default_and_float64_is_available(gen):
    assert tt.init_params(4, (3,), 2, gen).dtype == torch.float32
    params = tt.init_params(4, (3,), 2, gen, dtype=torch.float64)
    assert all(t.dtype == torch.float64 for t in params.W + params.b + [params.pi, params.sigma2])


def test_float32_and_float64_give_the_same_bound(small):
    params, X, K = small
    p64 = tt.Params([w.double() for w in params.W], [v.double() for v in params.b], params.pi.double(),
                    params.sigma2.double())
    F32, F64 = tt.free_energy(params, X, K), tt.free_energy(p64, X.double(), K)
    assert F32.dtype == torch.float32
    np.testing.assert_allclose(float(F32), float(F64), rtol=1e-5)


def test_xavier_scale_and_prior_start(gen):
    params = tt.init_params(64, (64,), 144, gen)
    np.testing.assert_allclose(float(params.W[1].std()), math.sqrt(2 / (64 + 144)), rtol=0.05)
    assert (params.pi == 1 / 64).all() and all((b == 0).all() for b in params.b)


def draw(seed):
    return tt.sample(tt.init_params(5, (4,), 3, torch.Generator().manual_seed(seed)), 20,
                     torch.Generator().manual_seed(seed + 1))


def test_a_generator_seed_reproduces_sampling():
    (X1, Z1), (X2, Z2) = draw(3), draw(3)
    assert torch.equal(X1, X2) and torch.equal(Z1, Z2)
    assert not torch.equal(draw(4)[0], X1)


@pytest.mark.parametrize("bad, match", [
    (lambda p, X, K: tt.log_joint(p, X[:, :3], K), r"shape \(N, 5\)"),
    (lambda p, X, K: tt.log_joint(p, X, K[..., :4]), r"\(N, S, 8\)"),
    (lambda p, X, K: tt.log_joint(p, X, K[:3]), "7 data points|3 data points"),
    (lambda p, X, K: tt.log_joint(p, X, K * 2), "binary"),
    (lambda p, X, K: tt.log_joint(p, torch.where(X > 0, torch.inf, X), K), "infinite"),
])
def test_bad_input_is_refused_with_a_clear_error(small, bad, match):
    params, X, K = small
    with pytest.raises(ValueError, match=match):
        bad(params, X, K)


@pytest.mark.parametrize("change, match", [
    (dict(pi=torch.full((8,), 1.0)), "strictly between"),
    (dict(sigma2=-1.0), "positive"),
    (dict(pi=torch.full((7,), 0.5)), r"pi must have shape \(8,\)"),
])
def test_bad_parameters_are_refused(small, change, match):
    params, _, _ = small
    fields = dict(W=params.W, b=params.b, pi=params.pi, sigma2=params.sigma2) | change
    with pytest.raises(ValueError, match=match):
        tt.Params(**fields)


def test_layers_that_do_not_chain_are_refused(gen):
    with pytest.raises(ValueError, match="takes 3 inputs"):
        tt.Params([torch.zeros(2, 4), torch.zeros(3, 1)], [torch.zeros(4), torch.zeros(1)], torch.full((2,), 0.5), 1.0)


def test_missing_entries_are_left_out_of_the_log_joint(small):
    params, X, K = small
    X_missing = X.clone()
    X_missing[:, 0] = torch.nan
    lj = tt.log_joint(params, X_missing, K)
    smaller = tt.Params([params.W[0], params.W[1][:, 1:]], [params.b[0], params.b[1][1:]], params.pi, params.sigma2)
    torch.testing.assert_close(lj, tt.log_joint(smaller, X[:, 1:], K))


def test_deep_from_linear_starts_as_exactly_the_linear_model(gen):
    linear = tt.init_params(6, (), 4, gen, sigma2=0.3)
    linear = tt.Params(linear.W, [torch.randn(4, generator=gen)], linear.pi, linear.sigma2)
    deep = tt.deep_from_linear(linear, (6,))
    K = tt.all_states(6)  # (64, 6)
    assert torch.equal(tt.decode(deep, K), tt.decode(linear, K))
    X, _ = tt.sample(linear, 5, gen)
    assert torch.equal(tt.log_joint(deep, X, K), tt.log_joint(linear, X, K))
    assert deep.dtype == linear.dtype and deep.W[1] is not linear.W[0]  # a copy, not a view
    with pytest.raises(ValueError, match="equal to H=6"):
        tt.deep_from_linear(linear, (5,))
    with pytest.raises(ValueError, match="linear decoder"):
        tt.deep_from_linear(deep, (6,))


@pytest.mark.parametrize("H, hidden", [(8, ()), (70, (5,)), (64, (6, 4))])
def test_the_byte_table_gives_the_log_pseudo_joint_of_packed_states(gen, H, hidden):
    params = tt.init_params(H, hidden, 7, gen, sigma2=0.3, dtype=torch.float64)
    params = dataclasses.replace(params, pi=torch.rand(H, generator=gen, dtype=torch.float64) * 0.9 + 0.05)
    X = torch.randn(4, 7, generator=gen, dtype=torch.float64)
    X[1, 2] = X[3, 0] = torch.nan
    K = (torch.rand(4, 6, H, generator=gen) < 0.3).to(torch.uint8)
    words = tt.pack_states(K)
    table = model.byte_table(params, words.shape[-1])
    assert table.shape == (256 * 8 * words.shape[-1], params.W[0].shape[1] + 1)
    expected = tt.log_pseudo_joint(params, X, K)
    for observed in (model.observed_mask(X), None):
        X_used = X if observed is not None else torch.nan_to_num(X)
        want = expected if observed is not None else tt.log_pseudo_joint(params, X_used, K)
        got = model.log_pseudo_joint_of_words(params, table, X_used, words, observed)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
        torch.testing.assert_close(model.log_pseudo_joint_of_words(params, None, X_used, words, observed), want,
                                   rtol=1e-12, atol=0)


def test_a_byte_table_too_large_for_the_cache_is_not_built(gen):
    assert model.byte_table(tt.init_params(512, (512,), 144, gen), 8) is None  # 33 MB: the product is faster
    assert model.byte_table(tt.init_params(64, (64,), 64, gen), 1) is not None  # 0.5 MB


def count_calls(monkeypatch, module, name):
    """Wrap module.name so that each call is counted; returns the list of calls (one None per call)."""
    calls, original = [], getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(None)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("dtype", [torch.float64, torch.uint8])
def test_the_first_layer_of_sparse_states_sums_rows_of_W(monkeypatch, gen, dtype):
    params = tt.init_params(512, (300,), 9, gen, dtype=torch.float64)
    params = dataclasses.replace(params, b=[torch.randn(300, generator=gen, dtype=torch.float64), params.b[1]])
    K = (torch.rand(40, 512, generator=gen) < 3 / 512).to(dtype)  # about 3 active latents per state
    K[0], K[1, :64] = 0, 1  # no active latent; 64 of them (1/8, the most the sparse sum takes)
    dense = torch.addmm(params.b[0], K.double(), params.W[0])
    calls = count_calls(monkeypatch, model.F, "embedding_bag")
    torch.testing.assert_close(model.first_layer(params, K), dense, rtol=1e-13, atol=1e-13)
    assert len(calls) == 1
    torch.testing.assert_close(model.first_layer(params, K[:0]), dense[:0])
    assert len(calls) == 2


def test_the_first_layer_weights_each_row_by_its_entry(gen):
    params = tt.init_params(256, (8,), 3, gen, dtype=torch.float64)
    Z = torch.zeros(5, 256, dtype=torch.float64)
    Z[:, [3, 100, 255]] = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64)  # numbers, not only 0/1
    torch.testing.assert_close(model.first_layer(params, Z), torch.addmm(params.b[0], Z, params.W[0]),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("H, p_on", [(255, 0.01), (512, 0.2)], ids=["few-latents", "dense-states"])
def test_the_first_layer_is_the_dense_product_where_that_is_faster(monkeypatch, gen, H, p_on):
    params = tt.init_params(H, (8,), 3, gen)
    K = (torch.rand(50, H, generator=gen) < p_on).to(torch.uint8)
    calls = count_calls(monkeypatch, model.F, "embedding_bag")
    assert torch.equal(model.first_layer(params, K), torch.addmm(params.b[0], K.float(), params.W[0]))
    assert not calls


def test_the_sparse_first_layer_gives_the_dense_gradient(monkeypatch, gen):
    """The gradient of Eq. (7) in W and b is the same with the sparse sum and with the dense product."""
    params = tt.init_params(512, (16,), 6, gen, sigma2=0.5, dtype=torch.float64)
    X = torch.randn(12, 6, generator=gen, dtype=torch.float64)
    K = tt.init_states(12, 5, 512, gen, p_on=4 / 512)
    sparse = tt.decoder_gradient(params, X, K)
    monkeypatch.setattr(model, "SPARSE_MIN_H", 10**9)  # every product dense
    dense = tt.decoder_gradient(params, X, K)
    for got, want in zip(sparse[0] + sparse[1], dense[0] + dense[1]):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    assert sparse[0][0].abs().sum() > 0  # the rows of the active latents did get a gradient
