import numpy as np

from tvae_common.natural import natural_patches, random_patches, zca_whiten


def test_random_patches_are_windows_of_the_image(rng):
    image = rng.random((20, 30))
    patches = random_patches(image, 50, 4, rng)
    assert patches.shape == (50, 16)
    windows = np.lib.stride_tricks.sliding_window_view(image, (4, 4)).reshape(-1, 16)
    assert all((windows == p).all(axis=1).any() for p in patches)


def test_zca_whitening_gives_unit_variance_in_the_kept_subspace(rng):
    X = rng.standard_normal((4000, 6)) @ np.diag([5.0, 3.0, 2.0, 1.0, 0.1, 0.01])
    W = zca_whiten(X, variance_kept=0.95)
    eigenvalues = np.sort(np.linalg.eigvalsh(W.T @ W / len(W)))[::-1]
    np.testing.assert_allclose(eigenvalues[:3], 1.0, rtol=1e-8)  # 25 + 9 + 4 = 38 of 39.01: 97% kept
    np.testing.assert_allclose(eigenvalues[3:], 0.0, atol=1e-8)


def test_natural_patches_from_a_given_image(rng):
    image = rng.random((64, 64)) * 1000
    X = natural_patches(300, rng, image=image, size=8)
    assert X.shape == (300, 64) and np.isfinite(X).all()
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-10)
