import functools
import http.server
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from tvae_common import images
from tvae_common.images import (DataFileError, add_noise, data_path, extract_patches, gaussian_window, load_image,
                                merge_patches, patches_covering, pixels_covered, psnr)

@pytest.fixture
def house_file():
    """A verified copy of house.png, found before a test hides the data directory."""
    return data_path("house.png")


@pytest.fixture
def empty_places(tmp_path, monkeypatch):
    """No data directory and an empty cache."""
    monkeypatch.delenv("TVAE_DATA_DIR", raising=False)
    monkeypatch.setenv("TVAE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_house_is_found_and_verified():
    house = load_image("house.png")
    assert house.shape == (256, 256) and house.min() == 16 and house.max() == 239


def test_missing_file_says_where_to_put_it(empty_places, monkeypatch):
    monkeypatch.setitem(images.DATA_FILES, "house.png",
                        images.DATA_FILES["house.png"].__class__("house.png", "0" * 64, (), "the house"))
    with pytest.raises(DataFileError, match="set TVAE_DATA_DIR"):
        data_path("house.png")


def test_a_wrong_file_is_refused(empty_places, monkeypatch):
    monkeypatch.setenv("TVAE_DATA_DIR", str(empty_places))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(empty_places / "house.png")
    with pytest.raises(DataFileError, match="checksum differs"):
        data_path("house.png")


def test_download_from_a_mirror_lands_in_the_cache_once(house_file, empty_places, monkeypatch):
    served = empty_places / "mirror"
    served.mkdir()
    shutil.copy(house_file, served / "02.png")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/02.png"
        entry = images.DATA_FILES["house.png"]
        monkeypatch.setitem(images.DATA_FILES, "house.png", entry.__class__(entry.name, entry.pixels_sha256, (url,), ""))
        path = data_path("house.png")
        assert path == empty_places / "cache" / "house.png" and path.is_file()
        (served / "02.png").unlink()  # a second call must not need the mirror
        assert data_path("house.png") == path
    finally:
        server.shutdown()
        server.server_close()


def test_patches_merge_back_into_the_image(rng):
    image = rng.random((11, 9))
    patches = extract_patches(image, 4)
    assert patches.shape == (8 * 6, 16)
    np.testing.assert_array_equal(patches[1], image[0:4, 1:5].ravel())
    np.testing.assert_allclose(merge_patches(patches, image.shape), image)


def test_merging_averages_the_overlapping_estimates():
    patches = np.stack([np.full(4, 1.0), np.full(4, 3.0)])  # two 2x2 patches of a 2x3 image
    np.testing.assert_allclose(merge_patches(patches, (2, 3)), [[1, 2, 3], [1, 2, 3]])


def test_a_window_weights_the_positions_of_a_patch():
    patches = np.stack([np.full(4, 1.0), np.full(4, 3.0)])  # two 2x2 patches of a 2x3 image
    window = np.array([[1.0, 3.0], [1.0, 3.0]])  # the right column of a patch counts three times
    # the middle column is the right column of the first patch and the left one of the second
    np.testing.assert_allclose(merge_patches(patches, (2, 3), window), [[1, 1.5, 3], [1, 1.5, 3]])
    np.testing.assert_allclose(merge_patches(patches, (2, 3), np.full((2, 2), 7.0)), merge_patches(patches, (2, 3)))


def test_windowed_merging_keeps_an_image_that_every_patch_agrees_with(rng):
    image = rng.random((11, 9))
    merged = merge_patches(extract_patches(image, 5), image.shape, gaussian_window(5, 1.5))
    np.testing.assert_allclose(merged, image)


def test_gaussian_window_peaks_at_the_centre():
    window = gaussian_window(4, 1.0)
    assert window.shape == (4, 4) and np.allclose(window, window.T) and np.allclose(window, window[::-1, ::-1])
    np.testing.assert_allclose(window[1, 1], np.exp(-0.25))  # (0.5, 0.5) from the centre of a 4 x 4 patch
    assert window[1, 1] > window[0, 1] > window[0, 0]


def test_patch_weights_leave_out_patches_and_mark_uncovered_pixels():
    patches = np.stack([np.full(4, 1.0), np.full(4, 3.0)])  # two 2x2 patches of a 2x3 image
    np.testing.assert_allclose(merge_patches(patches, (2, 3), weights=np.array([1.0, 3.0])), [[1, 2.5, 3], [1, 2.5, 3]])
    only_first = merge_patches(patches, (2, 3), weights=np.array([1.0, 0.0]))
    np.testing.assert_array_equal(only_first[:, :2], 1.0)
    assert np.isnan(only_first[:, 2]).all()  # no patch of positive weight covers the last column
    with pytest.raises(ValueError, match="one non-negative weight per patch"):
        merge_patches(patches, (2, 3), weights=np.array([1.0, -1.0]))


def test_covered_pixels_and_covering_patches_are_each_others_duals():
    chosen = np.zeros(4 * 3, dtype=bool)  # the 2 x 2 patches of a 5 x 4 image: a 4 x 3 grid of positions
    chosen[0] = True  # the patch at the top left
    covered = pixels_covered(chosen, (5, 4), 2)
    assert covered.sum() == 4 and covered[:2, :2].all()
    pixel = np.zeros((5, 4), dtype=bool)
    pixel[1, 1] = True
    holding = patches_covering(pixel, 2).reshape(4, 3)
    assert holding.sum() == 4 and holding[:2, :2].all()  # the patches at (0..1, 0..1) hold pixel (1, 1)


def test_bad_windows_are_refused():
    patches = np.ones((2, 4))
    with pytest.raises(ValueError, match="2 x 2 positive weights"):
        merge_patches(patches, (2, 3), np.ones((3, 3)))
    with pytest.raises(ValueError, match="positive"):
        merge_patches(patches, (2, 3), np.array([[1.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="width"):
        gaussian_window(4, 0.0)


def test_patch_larger_than_the_image_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        extract_patches(np.zeros((5, 5)), 6)


def test_psnr_of_known_noise(rng):
    clean = np.full((100, 100), 128.0)
    noisy = add_noise(clean, 25.0, rng)
    np.testing.assert_allclose(psnr(noisy, clean), 20 * np.log10(255 / 25), atol=0.1)
