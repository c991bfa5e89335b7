"""The pieces of `restore` that decide which patch estimates make the image."""

import numpy as np
import pytest

from tvae_common.images import extract_patches, merge_patches, pixels_covered
from tvae_torch.pipeline import helper_patches, merge_preferring, training_subset

SHAPE, SIZE = (13, 11), 4
N = (13 - 4 + 1) * (11 - 4 + 1)  # 80 patches


@pytest.mark.parametrize("n_trained", [5, 12, 30])
def test_the_helpers_cover_exactly_what_the_trained_patches_leave_out(n_trained):
    trained = training_subset(N, n_trained, seed=n_trained)
    helpers = helper_patches(trained, SHAPE, SIZE)
    is_trained = np.isin(np.arange(N), trained)
    assert not is_trained[helpers].any() and np.all(np.diff(helpers) > 0)
    assert pixels_covered(is_trained | np.isin(np.arange(N), helpers), SHAPE, SIZE).all()
    uncovered = ~pixels_covered(is_trained, SHAPE, SIZE)
    for h in helpers:  # each helper holds at least one pixel that no trained patch holds
        alone = np.zeros(N, dtype=bool)
        alone[h] = True
        assert (pixels_covered(alone, SHAPE, SIZE) & uncovered).any()


def test_training_on_every_patch_needs_no_helpers():
    assert len(helper_patches(np.arange(N), SHAPE, SIZE)) == 0


def test_merging_prefers_the_trained_patches():
    trained = training_subset(N, 12, seed=1)
    helpers = helper_patches(trained, SHAPE, SIZE)
    assert len(helpers) > 0
    estimates = np.full((N, SIZE * SIZE), 100.0)  # the patches that are neither: never used
    estimates[trained], estimates[helpers] = 1.0, 5.0
    merged = merge_preferring(estimates, SHAPE, trained, helpers)
    covered = pixels_covered(np.isin(np.arange(N), trained), SHAPE, SIZE)
    assert np.all(merged[covered] == 1.0) and np.all(merged[~covered] == 5.0)


def test_with_every_patch_trained_the_merge_is_the_plain_mean(rng):
    image = rng.random(SHAPE)
    estimates = extract_patches(image, SIZE) + rng.normal(size=(N, SIZE * SIZE))
    np.testing.assert_array_equal(merge_preferring(estimates, SHAPE, np.arange(N), np.array([], dtype=int)),
                                  merge_patches(estimates, SHAPE))
