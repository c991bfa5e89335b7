import pytest

from tvae_common.config import PRESETS, TrainConfig, preset


def test_presets_have_the_paper_settings():
    house = preset("house-25")
    assert (house.H, house.hidden, house.S, house.n_parents, house.n_children, house.n_generations) == (
        64, (64,), 200, 10, 9, 4)
    assert house.n_new_states == 10 * 9 * 4
    assert preset("bars").n_new_states == 6
    assert preset("inpaint-house-50").lr_max == 0.01 and preset("house-50").lr_max == 0.05
    assert set(PRESETS) >= {"bars", "correlated-bars", "house-15", "house-25", "house-50", "inpaint-house-50",
                            "natural-patches"}


def test_unknown_preset_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown preset 'house-99'"):
        preset("house-99")


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(S=257), "impossible"),
        (dict(crossover=True, n_children=5), "n_parents - 1"),
        (dict(selection="best"), "selection must be one of"),
        (dict(mutation="flip"), "mutation must be one of"),
        (dict(lr_min=0.1, lr_max=0.01), "lr_min <= lr_max"),
        (dict(lr_schedule="cosine"), "lr_schedule must be one of"),
        (dict(sigma2_init=0.0), "sigma2_init must be > 0"),
        (dict(batch_size=0), "batch_size must be a positive"),
        (dict(crossover=False, n_children=9), "n_children=9 > H=8"),
        (dict(hidden=(8, 0)), "hidden layer sizes"),
    ],
)
def test_impossible_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        preset("bars").with_(**changes)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        TrainConfig(H=2, hidden=(), S=2, n_parents=2, n_children=1, n_generations=1).S = 3


def test_image_presets_fix_patch_size_and_noise():
    from tvae_common.config import IMAGE_SETTINGS, image_settings

    assert [(s.patch_size, s.noise_sigma) for s in (image_settings(f"house-{k}") for k in (15, 25, 50))] == [
        (8, 15.0), (8, 25.0), (12, 50.0)]
    assert image_settings("inpaint-house-50").missing_fraction == 0.5
    assert set(IMAGE_SETTINGS) <= set(PRESETS)
    with pytest.raises(ValueError, match="no image settings"):
        image_settings("bars")
