import numpy as np
import pytest

from tvae_common.images import load_image
from tvae_common.natural import clamp_highlights, fit_zca, natural_patches, random_patches


def test_clamping_touches_only_the_brightest_pixels(rng):
    image = rng.random((50, 40))
    clamped = clamp_highlights(image, 0.02)
    changed = clamped != image
    np.testing.assert_allclose(changed.mean(), 0.02, atol=0.002)
    assert (image[changed] > clamped.max()).all() or np.allclose(image[changed], clamped.max())


def test_random_patches_are_windows_of_the_image(rng):
    image = np.arange(30 * 20, dtype=float).reshape(30, 20)
    patches = random_patches(image, 4, 100, rng)
    assert patches.shape == (100, 16)
    # each patch is a 4x4 window: rows step by 20, columns by 1
    grid = patches.reshape(100, 4, 4)
    assert (np.diff(grid, axis=2) == 1).all() and (np.diff(grid, axis=1) == 20).all()
    with pytest.raises(ValueError, match="does not fit"):
        random_patches(image, 21, 1, rng)


def test_zca_whitening_gives_unit_variance_in_the_kept_subspace(rng):
    mixing = rng.standard_normal((6, 6)) * np.array([5, 3, 2, 1, 0.1, 0.01])
    X = rng.standard_normal((5000, 6)) @ mixing.T
    whitening = fit_zca(X, 0.95)
    k = len(whitening.variances)
    assert 1 <= k < 6
    cov = np.cov(whitening(X), rowvar=False)
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(eig[:k], 1.0, rtol=1e-6)
    np.testing.assert_allclose(eig[k:], 0.0, atol=1e-6)
    assert whitening.variances.sum() / np.trace(np.cov(X, rowvar=False)) >= 0.95


def test_van_hateren_patches(rng):
    X, whitening = natural_patches(load_image("vanhateren_imk.tiff"), 2000, rng)
    assert X.shape == (2000, 256) and np.isfinite(X).all()
    np.testing.assert_allclose(X.mean(0), 0.0, atol=1e-8)
    assert 10 < len(whitening.variances) < 256
