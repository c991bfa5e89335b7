import numpy as np

from tvae_common.bars import (SUPPRESSED, bar_images, bars_data, generating_weights, matched_bars,
                               superposed_bars)


def test_bar_images_are_the_four_rows_and_four_columns():
    bars = bar_images().reshape(8, 4, 4)
    assert (bars.sum(axis=(1, 2)) == 4).all()
    assert (bars[:4].sum(axis=1) == 1).all() and (bars[4:].sum(axis=2) == 1).all()


def test_bars_data_superposes_bars_with_small_noise():
    X, Z = bars_data(2000, np.random.default_rng(0))
    np.testing.assert_allclose(Z.mean(), 2 / 8, atol=0.01)
    np.testing.assert_allclose((X - Z @ bar_images()).var(), 0.01, rtol=0.05)


def test_correlated_bars_suppress_the_inhibited_bars():
    X, Z = bars_data(4000, np.random.default_rng(0), correlated=True)
    clean = np.rint(X.reshape(-1, 4, 4))
    both_01 = (Z[:, 0] == 1) & (Z[:, 1] == 1)
    assert both_01.sum() > 100
    # latent 0 on switches bar 1 off: row 1 carries only the vertical bars that cross it
    row1 = clean[both_01, 1, :]
    vertical = Z[both_01, 4:]
    np.testing.assert_array_equal(row1, vertical)


def test_matched_bars_counts_bars_drawn_by_single_latents():
    bars = bar_images()
    assert matched_bars(bars) == 8
    assert matched_bars(bars[::-1]) == 8  # any order of the latents
    assert matched_bars(bars + 0.3) == 0
    shuffled = bars.copy()
    shuffled[0] = bars[0] + bars[4]  # one latent draws two bars at once
    assert matched_bars(shuffled) == 7


def test_superposed_bars_add_the_chosen_bars():
    images = superposed_bars([(0, 4), (), (1,)]).reshape(3, 4, 4)
    assert images[0, 0, 0] == 2 and images[0].sum() == 8
    assert (images[1] == 0).all()
    np.testing.assert_array_equal(images[2], bar_images()[1].reshape(4, 4))


def test_the_correlated_network_never_draws_the_suppressed_pairs():
    _, Z = bars_data(4000, np.random.default_rng(1), correlated=True)
    (W0, _), _ = generating_weights(correlated=True)
    shown = np.maximum(Z @ W0, 0) > 0  # (N, 8): which bars each image shows
    for i, j in SUPPRESSED:
        assert shown[:, i].any() and shown[:, j].any() and not (shown[:, i] & shown[:, j]).any()
