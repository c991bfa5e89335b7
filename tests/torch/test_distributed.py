"""The pieces of data-parallel training that need no second process: shards, split batches, split draws.

The runs on several processes are tested in tests/distributed.
"""

import numpy as np
import pytest
import torch

import tvae_torch as tt
from tvae_common.bars import bars_data
from tvae_torch.distributed import RowsOf, Shard, even_shard, spanning_shard
from tvae_torch.evolution import Uniforms, estep_unchecked
from tvae_torch.states import init_packed_states


def test_even_shards_cover_every_point_once_with_sizes_one_apart():
    shards = [even_shard(11, r, 4) for r in range(4)]
    assert [(s.lo, s.hi) for s in shards] == [(0, 2), (2, 5), (5, 8), (8, 11)]
    assert even_shard(3, 3, 5).rows == slice(1, 2) and even_shard(3, 0, 5).rows == slice(0, 0)


def test_a_spanning_shard_holds_the_training_points_of_its_process():
    subset = np.array([1, 4, 5, 9, 12, 13, 17])  # trained points among 20
    for size in (1, 2, 3, 9):
        bounds = spanning_shard(even_shard(len(subset), 0, size), subset, 20).bounds
        assert bounds[0] == 0 and bounds[-1] == 20 and list(bounds) == sorted(bounds)
        for r in range(size):
            trained, span = even_shard(len(subset), r, size), Shard(bounds, r)
            assert all(span.lo <= i < span.hi for i in subset[trained.rows])


@pytest.mark.parametrize("start, stop, own, rows", [
    (0, 4, slice(0, 0), slice(5, 5)),  # before the shard 5 .. 8
    (4, 7, slice(0, 2), slice(1, 3)),
    (6, 8, slice(1, 3), slice(0, 2)),
    (8, 12, slice(3, 4), slice(0, 1)),
    (9, 12, slice(4, 4), slice(0, 0)),  # after it
])
def test_within_finds_the_shards_points_in_a_range(start, stop, own, rows):
    assert Shard((0, 5, 9, 20), 1).within(start, stop) == (own, rows)
    points = torch.arange(start, stop)
    assert torch.equal(torch.arange(5, 9)[own], points[rows])


def test_split_batches_are_the_batches_of_one_process():
    order = torch.randperm(23, generator=torch.Generator().manual_seed(0))
    whole = list(even_shard(23).batches(order, 5))
    assert [(B, rows) for B, rows, _ in whole] == [(5, None)] * 4 + [(3, None)]
    split = [list(even_shard(23, r, 3).batches(order, 5)) for r in range(3)]
    for b, (B, _, idx) in enumerate(whole):
        assert all(parts[b][0] == B for parts in split)
        batch = torch.full((B,), -1)
        for r, parts in enumerate(split):
            _, rows, local = parts[b]
            batch[rows] = local + even_shard(23, r, 3).lo  # every position filled once, by its owner
        assert torch.equal(batch, idx)


def test_split_draws_are_the_rows_of_the_whole_batch_and_keep_the_generators_in_step():
    def source():
        return Uniforms(torch.Generator().manual_seed(5), torch.device("cpu"), torch.float64)

    whole, halves = source(), [source(), source()]
    rows = [torch.tensor([0, 3, 4]), torch.tensor([1, 2, 5, 6])]
    u = whole.random((7, 3))
    flips = whole.flip_bits((7, 4, 10), 3)
    for half, r in zip(halves, rows):
        assert torch.equal(RowsOf(half, r, 7).random((len(r), 3)), u[r])
        assert torch.equal(RowsOf(half, r, 7).flip_bits((len(r), 4, 10), 3), flips[r])
        assert torch.equal(half.generator.get_state(), whole.generator.get_state())


@pytest.mark.parametrize("changes", [dict(), dict(mutation="sparseflip", n_generations=2), dict(crossover=True)])
def test_an_estep_on_split_rows_gives_the_rows_of_the_whole_estep(changes):
    """The E-step of each data point depends on that point alone, so two processes holding parts of a
    batch, drawing the whole batch's decisions, find the states one process finds (the empty part too)."""
    config = tt.preset("bars").with_(S=16, n_children=2, **changes)
    gen = torch.Generator().manual_seed(0)
    params = tt.init_params(8, (8,), 16, gen, 0.05, dtype=torch.float64)
    X = torch.from_numpy(bars_data(9, np.random.default_rng(0))[0])
    words = init_packed_states(9, 16, 8, gen)

    def estep(rows):
        rng = Uniforms(torch.Generator().manual_seed(1), torch.device("cpu"), torch.float64)
        rng = rng if rows is None else RowsOf(rng, rows, 9)
        idx = slice(None) if rows is None else rows
        return estep_unchecked(params, X[idx], words[idx], config, rng, None)[1:]

    new_words, fitness = estep(None)
    assert not torch.equal(new_words, words)
    for rows in (torch.tensor([0, 2, 3, 7]), torch.tensor([1, 4, 5, 6, 8]), torch.tensor([], dtype=torch.long)):
        part_words, part_fitness = estep(rows)
        assert torch.equal(part_words, new_words[rows]) and torch.equal(part_fitness, fitness[rows])


def test_initial_states_of_a_shard_are_its_rows_of_all_states():
    gen_all, gen_part = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    everything = init_packed_states(50, 12, 70, gen_all, chunk=16)
    part = init_packed_states(50, 12, 70, gen_part, chunk=16, rows=slice(13, 37))
    assert torch.equal(part, everything[13:37])
    assert torch.equal(gen_part.get_state(), gen_all.get_state())


def test_split_training_refuses_the_batch_wide_selection_and_a_missing_process_group():
    X = torch.from_numpy(bars_data(20, np.random.default_rng(0))[0])
    with pytest.raises(ValueError, match="whole batch"):
        tt.train(X, tt.preset("bars").with_(selection="tvo-compatible", epochs=1), torch.Generator(),
                 shard=even_shard(20, 0, 2))
    with pytest.raises(ValueError, match="splits 21 data points"):
        tt.train(X, tt.preset("bars").with_(epochs=1), torch.Generator(), shard=even_shard(21, 0, 2))
    with pytest.raises(ValueError, match="default group of as many processes"):
        tt.train(X, tt.preset("bars").with_(epochs=1), torch.Generator(), shard=even_shard(20, 1, 2))
