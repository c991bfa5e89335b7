"""The evolutionary operators fed the same uniforms: identical parents, children, Phi and fitness."""

import numpy as np
import pytest
import torch

import tvae_ref as tr
import tvae_torch as tt
from tests.crosscheck.conftest import NumpyUniforms, assert_close, t64
from tvae_common.config import SELECTIONS, TrainConfig


def equal(actual: torch.Tensor, expected: np.ndarray):
    np.testing.assert_array_equal(actual.numpy(), expected)


@pytest.mark.parametrize("H", [3, 8, 64, 70, 130])
def test_packed_words_are_the_reference_words(H):
    K = (np.random.default_rng(H).random((4, 7, H)) < 0.5).astype(np.uint8)
    equal(tt.pack_states(torch.from_numpy(K)), tr.pack_states(K).view(np.int64))
    equal(tt.unpack_states(tt.pack_states(torch.from_numpy(K)), H), K)


@pytest.mark.parametrize("H", [2, 5, 70])
def test_duplicates(H):
    rng = np.random.default_rng(H)
    K = (rng.random((6, 15, H)) < 0.5).astype(np.uint8)
    K[:, 9] = K[:, 1]
    equal(tt.is_duplicate(torch.from_numpy(K)), tr.is_duplicate(K))


@pytest.mark.parametrize("selection", SELECTIONS)
def test_selected_parents(selection):
    rng = np.random.default_rng(0)
    fitness = np.sort(-rng.uniform(1, 30, (16, 12)), axis=1)[:, ::-1].copy()
    fitness[3] += 40.0  # a row with positive fitness: no offset
    u = rng.random((16, 5))
    equal(tt.select_parents(t64(fitness), t64(u), selection), tr.select_parents(fitness, u, selection))
    assert_close(tt.parent_probabilities(t64(fitness)), tr.parent_probabilities(fitness))


@pytest.mark.parametrize("P, H", [(2, 2), (3, 6), (5, 9), (4, 64), (3, 130)])
def test_crossover_children(P, H):
    rng = np.random.default_rng(P)
    parents = (rng.random((4, P, H)) < 0.5).astype(np.uint8)
    u = rng.random((4, P * (P - 1) // 2))
    equal(tt.crossover(torch.from_numpy(parents), t64(u)), tr.crossover(parents, u))


@pytest.mark.parametrize("n_children", [1, 3])
def test_randflip_children(n_children):
    rng = np.random.default_rng(n_children)
    parents = (rng.random((5, 4, 7)) < 0.3).astype(np.uint8)
    u = rng.random(parents.shape)
    mask = tr.randflip_mask(u, n_children)
    equal(tt.randflip_mask(t64(u), n_children), mask)
    repeated = np.repeat(parents, n_children, axis=1)
    equal(tt.mutate(torch.from_numpy(repeated), torch.from_numpy(mask)), tr.mutate(repeated, mask))


def test_sparseflip_children():
    rng = np.random.default_rng(4)
    parents = (rng.random((6, 5, 8)) < 0.4).astype(np.uint8)
    parents[0, 0], parents[0, 1] = 0, 1  # no bit and every bit on
    p = tr.sparseflip_probabilities(parents, 2.5, 0.2)
    assert_close(tt.sparseflip_probabilities(torch.from_numpy(parents), 2.5, 0.2), p)
    u = rng.random(parents.shape)
    tp = tt.sparseflip_probabilities(torch.from_numpy(parents), 2.5, 0.2)
    equal(tt.mutate(torch.from_numpy(parents), (t64(u) < tp).to(torch.uint8)),
          tr.mutate(parents, (u < p).astype(np.uint8)))


def test_updated_phi_and_fitness(problem):
    params, _, X, K = problem
    rng = np.random.default_rng(5)
    K_new = (rng.random((len(X), 12, 6)) < 0.4).astype(np.uint8)
    K_new[:, :3] = K[:, 2:5]  # already in Phi
    K_new[:, 7] = K_new[:, 6]  # repeated among the new states
    f, f_new = tr.log_pseudo_joint(params, X, K), tr.log_pseudo_joint(params, X, K_new)
    f_new[:, 9] = f[:, 0]  # an exact tie with an old state: the old one ranks first
    K_up, f_up = tr.update_states(K, f, K_new, f_new)
    tK_up, tf_up = tt.update_states(torch.from_numpy(K), t64(f), torch.from_numpy(K_new), t64(f_new))
    equal(tK_up, K_up)
    equal(tf_up, f_up)


CONFIGS = [
    TrainConfig(H=6, hidden=(3,), S=9, n_parents=3, n_children=2, n_generations=2, crossover=True),
    TrainConfig(H=6, hidden=(3,), S=9, n_parents=2, n_children=3, n_generations=2, crossover=False),
    TrainConfig(H=6, hidden=(3,), S=9, n_parents=3, n_children=2, n_generations=1, mutation="sparseflip",
                selection="uniform"),
    TrainConfig(H=6, hidden=(3,), S=9, n_parents=4, n_children=2, n_generations=3, crossover=False,
                mutation="sparseflip", bitflip_frequency=0.3, selection="tvo-compatible"),
    TrainConfig(H=6, hidden=(3,), S=9, n_parents=3, n_children=2, n_generations=3, selection="tvo-compatible"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
def test_evolve_and_estep_with_the_same_uniforms(problem, config):
    params, tparams, X, K = problem
    f = tr.log_pseudo_joint(params, X, K)
    new, f_new = tr.evolve(params, X, K, f, config, np.random.default_rng(6))
    t_new, t_f_new = tt.evolve(tparams, X, K, t64(f), config, NumpyUniforms(np.random.default_rng(6)))
    equal(t_new, new)
    assert_close(t_f_new, f_new)
    K_up, f_up = tr.estep(params, X, K, config, np.random.default_rng(7))
    tK_up, tf_up = tt.estep(tparams, X, K, config, NumpyUniforms(np.random.default_rng(7)))
    equal(tK_up, K_up)
    assert_close(tf_up, f_up)
    assert not (K_up == K).all()  # the E-step changed Phi: the comparison is not between two copies of K
