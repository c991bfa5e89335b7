import numpy as np
import pytest

import tvae_ref as tr
from tvae_common.config import TrainConfig


def brute_force_duplicates(K):
    return np.array([[any((row[t] == row[s]).all() for s in range(t)) for t in range(len(row))] for row in K])


@pytest.mark.parametrize("H", [3, 8, 64, 70, 130])
def test_pack_unpack_round_trip(rng, H):
    K = (rng.random((4, 7, H)) < 0.5).astype(np.uint8)
    words = tr.pack_states(K)
    assert words.shape == (4, 7, -(-H // 64)) and words.dtype == np.uint64
    np.testing.assert_array_equal(tr.unpack_states(words, H), K)


@pytest.mark.parametrize("H", [2, 4, 70])
def test_is_duplicate_marks_every_repeat_after_its_first(rng, H):
    K = (rng.random((5, 12, H)) < 0.5).astype(np.uint8)
    K[:, 7] = K[:, 2]  # sure repeats
    np.testing.assert_array_equal(tr.is_duplicate(K), brute_force_duplicates(K))
    assert tr.is_duplicate(K)[:, 7].all() and not tr.is_duplicate(K)[:, 0].any()


@pytest.mark.parametrize("N, S, H", [(50, 64, 8), (3, 16, 4), (20, 30, 100)])
def test_init_states_are_distinct_per_data_point(rng, N, S, H):
    K = tr.init_states(N, S, H, rng)
    assert K.shape == (N, S, H) and not tr.is_duplicate(K).any()
    assert len({row.tobytes() for row in K}) == N  # not the same set for every data point


def test_init_states_refuses_impossible_S(rng):
    with pytest.raises(ValueError, match="impossible"):
        tr.init_states(2, 17, 4, rng)


def test_parent_probabilities_use_a_non_negative_offset():
    fitness = np.array([[-3.0, -1.0, 0.0], [1.0, 2.0, 3.0]])
    p = tr.parent_probabilities(fitness)
    # row 0: shifted by -2 * (-3) = 6 -> (3, 5, 6); row 1 is positive already and stays as it is
    np.testing.assert_allclose(p, [[3 / 14, 5 / 14, 6 / 14], [1 / 6, 2 / 6, 3 / 6]])


def test_fitness_proportional_selection_frequencies_match_probabilities():
    """A chi-square test with a fixed seed: 9 degrees of freedom, 99.9% quantile 27.88."""
    rng = np.random.default_rng(0)
    fitness = -np.linspace(1.0, 20.0, 10)[None, :]
    p = tr.parent_probabilities(fitness)[0]
    picks = tr.select_parents(np.repeat(fitness, 200, axis=0), rng.random((200, 100)), "fitness")
    counts = np.bincount(picks.ravel(), minlength=10)
    expected = p * picks.size
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 27.88, (counts, expected)


def test_uniform_selection_covers_all_candidates_evenly():
    rng = np.random.default_rng(1)
    picks = tr.select_parents(np.zeros((100, 8)), rng.random((100, 200)), "uniform")
    counts = np.bincount(picks.ravel(), minlength=8)
    chi2 = ((counts - picks.size / 8) ** 2 / (picks.size / 8)).sum()
    assert chi2 < 24.32  # 7 degrees of freedom, 99.9% quantile


def test_tvo_compatible_selection_mostly_picks_the_best_state():
    """The authors' batch-wide normalisation: with 32 data points nearly every pick is state 0."""
    rng = np.random.default_rng(2)
    fitness = np.sort(-rng.uniform(10, 50, (32, 64)), axis=1)[:, ::-1]  # fittest first, as Phi is kept
    picks = tr.select_parents(fitness, rng.random((32, 3)), "tvo-compatible")
    assert (picks == 0).mean() > 0.9
    assert tr.select_parents(fitness, rng.random((32, 3)), "fitness").std() > 5  # the paper's spreads out


def test_randflip_children_differ_from_their_parent_in_exactly_the_flipped_bit(rng):
    parents = (rng.random((6, 3, 10)) < 0.3).astype(np.uint8)
    mask = tr.randflip_mask(rng.random(parents.shape), 4)
    children = tr.mutate(np.repeat(parents, 4, axis=1), mask)
    diff = children != np.repeat(parents, 4, axis=1)
    assert (diff.sum(-1) == 1).all()
    np.testing.assert_array_equal(diff, mask.astype(bool))
    # children of one parent flip different bits
    flipped = diff.argmax(-1).reshape(6, 3, 4)
    assert all(len(set(group)) == 4 for group in flipped.reshape(-1, 4))


def test_crossover_children_combine_their_parents(rng):
    parents = (rng.random((5, 4, 9)) < 0.5).astype(np.uint8)
    u = rng.random((5, 6))
    children = tr.crossover(parents, u)  # (5, 12, 9)
    cuts = 1 + (u * 8).astype(int)
    for n in range(5):
        for k, (i, j) in enumerate([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]):
            c = cuts[n, k]
            assert 1 <= c <= 8
            np.testing.assert_array_equal(children[n, 2 * k], np.r_[parents[n, i, :c], parents[n, j, c:]])
            np.testing.assert_array_equal(children[n, 2 * k + 1], np.r_[parents[n, j, :c], parents[n, i, c:]])


def test_sparseflip_pulls_towards_the_target_number_of_active_bits():
    rng = np.random.default_rng(3)
    H, target, p_bf = 20, 4.0, 0.1
    for active in (0, 3, 5, 9, 20):
        parents = np.zeros((1, 40000, H), dtype=np.uint8)
        parents[..., :active] = 1
        p = tr.sparseflip_probabilities(parents, target, p_bf)
        flips = (rng.random(parents.shape) < p).astype(np.uint8)
        children = tr.mutate(parents, flips)
        if abs(active - target) <= H * p_bf:  # both probabilities lie in [0, 1]: both targets are met
            np.testing.assert_allclose(flips.sum(-1).mean(), H * p_bf, rtol=0.02)
            np.testing.assert_allclose(children.sum(-1).mean(), target, rtol=0.02)
        else:  # the target is further than the flips allow: children still move towards it
            assert abs(children.sum(-1).mean() - target) < abs(active - target)


def random_update_inputs(rng, N=8, S=6, M=10, H=4):
    K = tr.init_states(N, S, H, rng, p_on=0.5)
    K_new = (rng.random((N, M, H)) < 0.5).astype(np.uint8)
    K_new[:, :3] = K[:, :3]  # some new states are already in Phi(n)
    K_new[:, 5] = K_new[:, 4]  # and some repeat each other
    return K, K_new


@pytest.mark.parametrize("seed", range(20))
def test_state_update_keeps_S_distinct_states_and_never_lowers_the_bound(tiny, seed):
    rng = np.random.default_rng(seed)
    params, X, _ = tiny
    K, K_new = random_update_inputs(rng, N=len(X))
    f, f_new = tr.log_pseudo_joint(params, X, K), tr.log_pseudo_joint(params, X, K_new)
    K_up, f_up = tr.update_states(K, f, K_new, f_new)
    assert K_up.shape == K.shape
    assert not tr.is_duplicate(K_up).any()
    assert (np.diff(f_up, axis=1) <= 0).all()  # fittest first
    np.testing.assert_allclose(f_up, tr.log_pseudo_joint(params, X, K_up))
    assert tr.free_energy(params, X, K_up) >= tr.free_energy(params, X, K)
    # the kept states are the S best of the distinct candidates
    for n in range(len(X)):
        candidates = {s.tobytes(): v for s, v in zip(np.r_[K[n], K_new[n]], np.r_[f[n], f_new[n]])}
        np.testing.assert_allclose(f_up[n], sorted(candidates.values(), reverse=True)[: K.shape[1]])


def test_estep_improves_the_bound_for_every_operator_setting(tiny):
    params, X, K = tiny
    for config in [
        TrainConfig(H=4, hidden=(3,), S=5, n_parents=3, n_children=2, n_generations=2, crossover=True),
        TrainConfig(H=4, hidden=(3,), S=5, n_parents=2, n_children=3, n_generations=2, crossover=False),
        TrainConfig(H=4, hidden=(3,), S=5, n_parents=3, n_children=2, n_generations=1, mutation="sparseflip",
                    selection="uniform"),
        TrainConfig(H=4, hidden=(3,), S=5, n_parents=3, n_children=2, n_generations=3, selection="tvo-compatible"),
    ]:
        K_up, _ = tr.estep(params, X, K, config, np.random.default_rng(0))
        assert not tr.is_duplicate(K_up).any()
        assert tr.free_energy(params, X, K_up) >= tr.free_energy(params, X, K)


def test_evolve_makes_the_configured_number_of_children(tiny):
    params, X, K = tiny
    config = TrainConfig(H=4, hidden=(3,), S=5, n_parents=3, n_children=2, n_generations=2, crossover=True)
    f = tr.log_pseudo_joint(params, X, K)
    new, f_new = tr.evolve(params, X, K, f, config, np.random.default_rng(0))
    assert new.shape == (len(X), config.n_new_states, 4) == (6, 12, 4)
    np.testing.assert_allclose(f_new, tr.log_pseudo_joint(params, X, new))
