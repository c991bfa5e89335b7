import pytest
import torch

import tvae_torch as tt
from tvae_common.config import TrainConfig
from tvae_torch.states import init_packed_states, keep_fittest


def brute_force_duplicates(K):
    return torch.tensor([[any(torch.equal(row[t], row[s]) for s in range(t)) for t in range(len(row))] for row in K])


@pytest.mark.parametrize("H", [1, 7, 64, 65, 512])
def test_pack_unpack_round_trip_and_compact_size(gen, H):
    K = (torch.rand(3, 5, H, generator=gen) < 0.5).to(torch.uint8)
    words = tt.pack_states(K)
    assert words.shape == (3, 5, -(-H // 64)) and words.dtype == torch.int64
    assert torch.equal(tt.unpack_states(words, H), K)


@pytest.mark.parametrize("H", [3, 64, 130])
def test_duplicates_are_found_exactly(gen, H):
    K = (torch.rand(4, 20, H, generator=gen) < 0.5).to(torch.uint8)
    K[:, 11] = K[:, 3]
    if H > 64:  # equal in the first word only: not a duplicate
        K[:, 12, :64], K[:, 12, 64:] = K[:, 4, :64], 1 - K[:, 4, 64:]
    assert torch.equal(tt.is_duplicate(K), brute_force_duplicates(K))


def test_keep_fittest_prefers_distinct_then_fit_then_old():
    words = torch.tensor([[[5], [3], [5], [7], [3]]])  # states 2 and 4 repeat states 0 and 1
    fitness = torch.tensor([[1.0, 2.0, 9.0, 2.0, 9.0]])
    assert keep_fittest(words, fitness, 3).tolist() == [[1, 3, 0]]


def test_init_states_are_distinct_and_differ_between_data_points(gen):
    K = tt.init_states(40, 30, 6, gen)
    assert K.shape == (40, 30, 6) and not tt.is_duplicate(K).any()
    assert len({tuple(row.flatten().tolist()) for row in K}) == 40
    words = init_packed_states(9, 12, 100, gen, chunk=4)
    assert words.shape == (9, 12, 2) and not tt.states.duplicate_words(words).any()
    with pytest.raises(ValueError, match="impossible"):
        tt.init_states(2, 17, 4, gen)


@pytest.mark.parametrize("seed", range(10))
def test_state_update_keeps_S_distinct_states_and_never_lowers_the_bound(small, seed):
    params, X, K = small
    g = torch.Generator().manual_seed(seed)
    K_new = (torch.rand(10, 12, 8, generator=g) < 0.3).to(torch.uint8)
    K_new[:, :4] = K[:, 1:5]
    K_new[:, 8] = K_new[:, 7]
    f, f_new = tt.log_pseudo_joint(params, X, K), tt.log_pseudo_joint(params, X, K_new)
    K_up, f_up = tt.update_states(K, f, K_new, f_new)
    assert K_up.shape == K.shape and not tt.is_duplicate(K_up).any()
    assert (f_up[:, 1:] <= f_up[:, :-1]).all()
    torch.testing.assert_close(f_up, tt.log_pseudo_joint(params, X, K_up))
    assert tt.free_energy(params, X, K_up) >= tt.free_energy(params, X, K)


CONFIGS = [
    TrainConfig(H=8, hidden=(6,), S=7, n_parents=3, n_children=2, n_generations=3, crossover=True),
    TrainConfig(H=8, hidden=(6,), S=7, n_parents=2, n_children=4, n_generations=2, crossover=False,
                selection="uniform"),
    TrainConfig(H=8, hidden=(6,), S=7, n_parents=3, n_children=2, n_generations=2, mutation="sparseflip",
                selection="tvo-compatible"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
def test_estep_keeps_S_distinct_states_and_raises_the_bound(small, gen, config):
    params, X, K = small
    K_up, f_up = tt.estep(params, X, K, config, gen)
    assert K_up.shape == K.shape and K_up.dtype == torch.uint8
    assert not tt.is_duplicate(K_up).any()
    assert tt.free_energy(params, X, K_up) >= tt.free_energy(params, X, K)
    torch.testing.assert_close(f_up, tt.log_pseudo_joint(params, X, K_up))
    new, _ = tt.evolve(params, X, K, tt.log_pseudo_joint(params, X, K), config, gen)
    assert new.shape == (10, config.n_new_states, 8)


def test_randflip_children_of_one_parent_flip_different_single_bits(gen):
    parents = (torch.rand(6, 3, 10, generator=gen) < 0.3).to(torch.uint8)
    mask = tt.randflip_mask(torch.rand(parents.shape, generator=gen), 4)
    diff = tt.mutate(parents.repeat_interleave(4, dim=1), mask) != parents.repeat_interleave(4, dim=1)
    assert (diff.sum(-1) == 1).all()
    flipped = diff.int().argmax(-1).reshape(6, 3, 4)
    assert all(len(set(group.tolist())) == 4 for group in flipped.reshape(-1, 4))


def test_unknown_selection_is_refused():
    with pytest.raises(ValueError, match="unknown selection"):
        tt.select_parents(torch.zeros(2, 3), torch.zeros(2, 2), "best")


@pytest.mark.parametrize("H, C", [(8, 1), (70, 3), (130, 2)])
def test_flipping_packed_words_is_randflip(gen, H, C):
    K = (torch.rand(4, 5, H, generator=gen) < 0.2).to(torch.uint8)
    u = torch.rand(4, 5, H, generator=gen)
    expected = tt.mutate(K.repeat_interleave(C, dim=1), tt.randflip_mask(u, C))
    flipped = tt.states.flip_words(tt.pack_states(K), tt.evolution.randflip_bits(u, C))
    assert torch.equal(tt.unpack_states(flipped, H), expected)


def test_one_flipped_bit_per_child_is_uniform_over_the_latents(gen):
    """The direct draw of randflip's bit (one integer per child): chi-square, 15 dof, 99.9% quantile 37.70."""
    source = tt.Uniforms(gen, torch.device("cpu"), torch.float32)
    bits = source.flip_bits((100, 50, 16), 1)
    assert bits.shape == (100, 50, 1)
    counts = torch.bincount(bits.flatten(), minlength=16).double()
    assert ((counts - 5000 / 16) ** 2 / (5000 / 16)).sum() < 37.70
    several = source.flip_bits((100, 50, 16), 3)
    assert all(len(set(row.tolist())) == 3 for row in several.reshape(-1, 3))


def test_the_float32_ranking_is_the_stable_sort(gen):
    """keep_fittest ranks float32 fitness by topk on packed keys; it must pick what the float64 sort picks."""
    words = torch.randint(0, 6, (50, 40, 1), generator=gen)  # many repeats
    fitness = torch.randint(-4, 3, (50, 40), generator=gen).float() / 2  # many ties, negative, zero
    fitness[:, 0] = -0.0
    top32 = keep_fittest(words, fitness, 5)
    assert torch.equal(top32, keep_fittest(words, fitness.double(), 5))
