"""Reading the result folders of `tvae denoise` and `tvae inpaint`, made here by the command itself."""

import json
import shutil

import numpy as np
import pytest

from tvae_common.images import load_image
from tvae_torch.cli import main
from tvae_torch.results import (
    earlier_readings,
    final_readings,
    find_runs,
    group_runs,
    markdown_table,
    natural_order,
    patches_text,
    read_run,
    readings_of_runs,
    pairs_differing_in,
    same_settings_but,
)

TINY = ["--patch-size", "6", "--epochs", "2", "--set", "H=8", "--set", "hidden=[8]", "--set", "S=8",
        "--set", "n_parents=3", "--set", "n_children=2", "--set", "n_generations=1", "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A book-like results folder: two noise seeds and one `tvo` variant of house-25, one inpainting run,
    and a folder of a run that has not finished (no result.json)."""
    root = tmp_path_factory.mktemp("results")
    clean = root / "clean.npy"
    np.save(clean, load_image("house.png")[60:80, 120:140])
    for seed, variant, extra in ((0, "", []), (1, "", []), (0, "-tvo", ["--selection", "tvo-compatible"])):
        out = root / "denoise" / f"house-25-seed{seed}{variant}"
        assert main(["denoise", "--clean", str(clean), "--sigma", "25", "--noise-seed", str(seed),
                     "--preset", "house-25", "--out", str(out), *TINY, *extra]) == 0
    assert main(["inpaint", "--clean", str(clean), "--missing", "0.5", "--mask-seed", "3", "--preset",
                 "inpaint-house-50", "--out", str(root / "inpaint" / "inpaint-house-50-seed3"), *TINY]) == 0
    (root / "denoise" / "house-50-seed0").mkdir()
    (root / "denoise" / "house-50-seed0" / "log.jsonl").write_text("")
    return root


def test_no_folder_means_no_runs(tmp_path):
    assert find_runs(tmp_path / "absent") == [] and find_runs(tmp_path) == []


def test_runs_are_grouped_by_preset_and_variant(results):
    groups = group_runs(find_runs(results / "denoise"))
    assert list(groups) == [("house-25", None), ("house-25", "tvo")]
    assert [run.data_seed for run in groups["house-25", None]] == [0, 1]
    tvo = groups["house-25", "tvo"][0]
    assert tvo.summary["config"]["selection"] == "tvo-compatible" and tvo.data_seed == 0


def test_a_run_read_at_fewer_epochs_is_an_earlier_reading_of_it(results, tmp_path):
    """A copy kept at 1 epoch, the run continued to 2: only the continued run is a final reading."""
    clean = results / "clean.npy"
    command = ["denoise", "--clean", str(clean), "--sigma", "25", "--preset", "house-25", *TINY]
    short, long = tmp_path / "house-25-seed0-epoch1", tmp_path / "house-25-seed0"
    assert main([*command, "--epochs", "1", "--checkpoint-every", "1", "--out", str(short)]) == 0
    shutil.copytree(short, long)
    assert main([*command, "--epochs", "2", "--resume", "--out", str(long)]) == 0
    other_seed = tmp_path / "house-25-seed1"
    assert main([*command, "--noise-seed", "1", "--epochs", "1", "--out", str(other_seed)]) == 0
    runs = find_runs(tmp_path)
    assert [run.folder.name for run in runs] == ["house-25-seed0", "house-25-seed0-epoch1", "house-25-seed1"]
    assert runs[0].summary["free_energy"][:1] == runs[1].summary["free_energy"]  # the resumed run kept epoch 1
    assert [run.folder for run in final_readings(runs)] == [long, other_seed]
    assert earlier_readings(runs[0], runs) == [runs[1]] and earlier_readings(runs[1], runs) == []
    assert earlier_readings(runs[2], runs) == []  # one epoch of another noise: a run of its own
    assert final_readings(runs[1:]) == runs[1:]  # without the longer run, the short one is final
    assert readings_of_runs(runs) == [(runs[0], [runs[1], runs[0]]), (runs[2], [runs[2]])]
    assert readings_of_runs(runs[1:]) == [(runs[1], [runs[1]]), (runs[2], [runs[2]])]


def test_a_shorter_run_of_the_same_settings_gives_way_to_the_longer(results, tmp_path):
    """The same command run to 1 epoch on a machine whose sums differ in the last bits (simulated by
    nudging its free energy) is no earlier reading of the 2-epoch run, yet it is not final either; a
    1-epoch run with another learning rate is."""
    clean = results / "clean.npy"
    command = ["denoise", "--clean", str(clean), "--sigma", "25", "--preset", "house-25", *TINY]
    long, short, other_rate = (tmp_path / name for name in ("house-25-seed0", "house-25-seed0-epoch1",
                                                          "house-25-seed0-lr"))
    assert main([*command, "--epochs", "2", "--out", str(long)]) == 0
    assert main([*command, "--epochs", "1", "--out", str(short)]) == 0
    assert main([*command, "--epochs", "1", "--set", "lr_max=0.02", "--out", str(other_rate)]) == 0
    result = json.loads((short / "result.json").read_text())
    result["free_energy"][0] *= 1 + 1e-12
    (short / "result.json").write_text(json.dumps(result))
    runs = {run.folder: run for run in find_runs(tmp_path)}
    assert earlier_readings(runs[long], list(runs.values())) == []
    assert same_settings_but("epochs", runs[short], runs[long])
    assert not same_settings_but("epochs", runs[other_rate], runs[long])
    assert same_settings_but("lr_max", runs[other_rate], runs[short])
    assert pairs_differing_in("lr_max", 0.01, 0.02, list(runs.values())) == [(runs[short], runs[other_rate])]
    assert pairs_differing_in("lr_max", 0.02, 0.01, list(runs.values())) == [(runs[other_rate], runs[short])]
    result = json.loads((long / "result.json").read_text())
    del result["config"]["lr_schedule"]  # a result written before the field existed: it ran the default
    (long / "result.json").write_text(json.dumps(result))
    assert same_settings_but("epochs", runs[short], read_run(long))
    assert [run.folder for run in final_readings(list(runs.values()))] == [long, other_rate]


def test_a_folder_named_after_other_epochs_is_refused(results, tmp_path):
    shutil.copytree(results / "denoise" / "house-25-seed0", tmp_path / "house-25-seed0-epoch7")
    with pytest.raises(ValueError, match="the name says 7 epochs, but the run trained 2"):
        find_runs(tmp_path)
    shutil.copytree(results / "denoise" / "house-25-seed0", tmp_path / "house-25-seed0-tvo-epoch2")
    assert read_run(tmp_path / "house-25-seed0-tvo-epoch2").epochs == 2


def test_folders_and_variants_are_in_natural_order(results, tmp_path):
    names = ["house-25-seed0-sub15000", "house-25-seed0", "house-25-seed0-sub4000", "house-25-seed10"]
    assert sorted(names, key=natural_order) == [names[1], names[2], names[0], names[3]]
    for name in names:
        shutil.copytree(results / "denoise" / "house-25-seed0", tmp_path / name)
    assert [run.folder.name for run in find_runs(tmp_path)] == sorted(names, key=natural_order)
    variants = [variant for _, variant in group_runs(find_runs(tmp_path))]
    assert variants == [None, "sub4000", "sub15000"]


def test_a_denoising_run_is_read_from_its_files(results):
    run = read_run(results / "denoise" / "house-25-seed1")
    summary = json.loads((run.folder / "result.json").read_text())
    assert run.command == summary["command"] and run.command.startswith("tvae denoise --clean")
    assert (run.preset, run.variant, run.data_seed, run.true_sigma) == ("house-25", None, 1, 25.0)
    assert run.psnr == summary["psnr"]["restored"] and run.epochs == 2 == summary["config"]["epochs"]
    assert run.seconds_per_epoch == pytest.approx(np.mean(summary["timings"]["seconds_per_epoch"]))
    denoised = np.load(run.folder / "denoised.npy")
    assert np.array_equal(run.image("denoised"), np.clip(np.round(denoised), 0, 255))


def test_an_inpainting_run_has_a_mask_seed_and_no_noise(results):
    (run,) = find_runs(results / "inpaint")
    assert (run.preset, run.data_seed, run.true_sigma) == ("inpaint-house-50", 3, None)
    assert run.image("inpainted").shape == (20, 20) and run.psnr > run.summary["psnr"]["input"]


def test_noise_that_came_with_the_image_has_no_known_level(results, tmp_path):
    noisy = tmp_path / "noisy.npy"
    np.save(noisy, load_image("house.png")[60:80, 120:140] + 10.0)
    assert main(["denoise", str(noisy), "--out", str(tmp_path / "run"), *TINY]) == 0
    run = read_run(tmp_path / "run")
    assert run.true_sigma is None and run.psnr is None and run.variant is None


def test_a_training_result_is_refused(tmp_path):
    assert main(["train", "bars", "--epochs", "1", "--out", str(tmp_path / "bars"), "--quiet"]) == 0
    with pytest.raises(ValueError, match="not of denoise or inpaint"):
        read_run(tmp_path / "bars")


def test_markdown_table():
    table = markdown_table(["preset", "PSNR"], [["house-25", "32.65"]])
    assert table.splitlines() == ["| preset | PSNR |", "| :-- | --: |", "| house-25 | 32.65 |"]
    with pytest.raises(ValueError, match="one entry per column"):
        markdown_table(["a", "b"], [["only one"]])


def test_patches_text_names_the_helpers_only_after_a_subset():
    assert patches_text({"trained_patches": 10, "patches": 10, "sweeps": 0}) == "10 of 10"
    subset = {"trained_patches": 4, "patches": 10, "helper_patches": 3, "sweeps": 2}
    assert patches_text(subset) == "4 of 10 (+ 3 helper patches, 2 E-step sweeps)"
