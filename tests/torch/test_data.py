import json

import numpy as np
import pytest

from tvae_common.config import preset
from tvae_torch.data import load_config, preset_data, set_fields, training_data


def test_set_fields_reads_json_values():
    config = set_fields(preset("bars"), ["H=16", "hidden=[16, 4]", "crossover=false", "selection=uniform"])
    assert (config.H, config.hidden, config.crossover, config.selection) == (16, (16, 4), False, "uniform")
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        set_fields(preset("bars"), ["H"])


def test_a_config_file_without_a_preset_needs_every_field(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"H": 4}))
    with pytest.raises(ValueError, match="misses TrainConfig fields"):
        load_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        load_config(path)


def test_a_config_file_can_point_at_its_data(tmp_path):
    np.save(tmp_path / "X.npy", np.arange(40.0).reshape(10, 4))
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"H": 3, "hidden": [], "S": 4, "n_parents": 2, "n_children": 1,
                                "n_generations": 1, "data": "X.npy"}))
    assert load_config(path).hidden == ()
    assert training_data(path, "c", 6, seed=0).shape == (6, 4)


def test_preset_data_sets():
    house = preset_data("house-25", 0, None)
    assert house.shape == (249 * 249, 64) and not np.isnan(house).any()
    holes = preset_data("inpaint-house-50", 0, None)
    assert holes.shape == (245 * 245, 144) and 0.45 < np.isnan(holes).mean() < 0.55
    assert preset_data("natural-patches", 0, 300).shape == (300, 256)
    assert preset_data("correlated-bars", 0, None).shape == (500, 16)
