"""The benchmark scripts behind the book's result files, run with tiny arguments."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tvae_common.images import load_image
from tvae_torch.cli import main

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def run_script(tmp_path, name, *args, env=None):
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, str(BENCHMARKS / name), *map(str, args), "--out", str(out)], check=True,
                   capture_output=True, env=None if env is None else {**os.environ, **env})
    return json.loads(out.read_text())


def test_scaling_times_every_point_of_every_sweep(tmp_path):
    result = run_script(tmp_path, "scaling.py", "--H", 16, 32, "--S", 8, "--N", 40, 80, "--epochs", 2, "--warmup", 0,
                        "--threads", 1)
    assert result["command"].startswith("python benchmarks/scaling.py --H 16 32 --S 8")
    assert result["threads"] == 1 and {"torch", "numpy"} <= set(result["versions"])
    sweeps = result["sweeps"]
    assert [p["H"] for p in sweeps["H"]] == [16, 32] and [p["S"] for p in sweeps["S"]] == [8]
    assert [p["N"] for p in sweeps["N"]] == [40, 80] and all(p["hidden"] == [] for p in sweeps["H_linear"])
    point = sweeps["N"][1]
    assert (point["H"], point["S"], point["hidden"]) == (300, 64, [100])
    assert point["decoder_macs_per_state"] == 300 * 100 + 100 * 256
    assert point["estep_states_per_epoch"] == 80 * (64 + 20) and len(point["cpu_seconds"]) == 2
    assert all(0 < p["active_latents_per_state"] <= p["H"] for p in sweeps["H"])
    assert all(t > 0 for p in sweeps["H"] for t in p["cpu_seconds"] + p["wall_seconds"])


def test_natural_patches_starts_the_deep_decoder_at_the_linear_bound(tmp_path):
    result = run_script(tmp_path, "natural_patches.py", "--patches", 64, "--linear-epochs", 2, "--epochs", 1,
                        "--threads", 1)
    assert result["N"] == 64 and result["D"] == 256 and result["config"]["H"] == 300
    assert result["switch"]["deep_bound"] == result["switch"]["linear_bound"]
    assert result["linear"]["hidden"] == [] and result["deep"]["hidden"] == [300]
    assert len(result["linear"]["free_energy"]) == 2 and len(result["deep"]["cpu_seconds"]) == 1
    assert len(result["linear_continued"]["sigma2"]) == 1


def test_ref_bench_times_the_reference(tmp_path):
    result = run_script(tmp_path, "ref_bench.py", "--preset", "bars", "--patches", 64, "--epochs", 2,
                        env={"OPENBLAS_NUM_THREADS": "1"})
    assert result["command"] == ("OPENBLAS_NUM_THREADS=1 python benchmarks/ref_bench.py --preset bars --patches 64 "
                                 f"--epochs 2 --out {tmp_path / 'result.json'}")
    assert result["openblas_num_threads"] == "1"
    assert result["patches"] == 64 and len(result["cpu_seconds_per_epoch"]) == 2
    assert result["estep_states_per_epoch"] == 64 * (64 + 6)



def tiny_denoise_run(tmp_path, epochs, *extra):
    """A finished `tvae denoise` run on a 20 x 20 crop of house with a tiny model: its folder."""
    tmp_path.mkdir(exist_ok=True)
    np.save(tmp_path / "crop.npy", load_image("house.png")[60:80, 120:140])
    run = tmp_path / "run"
    argv = ["denoise", "--clean", tmp_path / "crop.npy", "--sigma", 25, "--epochs", epochs, "--out", run,
            "--set", "H=8", "--set", "hidden=[8]", "--set", "S=8", "--set", "n_children=2", "--quiet", "--threads", 1]
    assert main([str(a) for a in argv + list(extra)]) == 0
    return run


def test_merge_windows_gives_back_the_run_and_merges_with_every_width(tmp_path):
    run = tiny_denoise_run(tmp_path, 2)
    result = run_script(tmp_path, "merge_windows.py", run, "--widths", 1, 3)
    (merged,) = result["runs"]
    assert merged["reproduces_denoised_npy"] and merged["epochs"] == 2 and merged["patch_size"] == 8
    summary = json.loads((run / "result.json").read_text())
    assert merged["plain"]["psnr"] == pytest.approx(summary["psnr"]["restored"], abs=1e-9)
    assert [w["width"] for w in merged["gaussian"]] == [1, 3]
    for windowed in merged["gaussian"]:  # another image than the plain mean's, but of the same estimates
        assert windowed["psnr"] != merged["plain"]["psnr"] and abs(windowed["psnr"] - merged["plain"]["psnr"]) < 1


def test_merge_windows_refuses_a_run_trained_on_a_subset(tmp_path):
    run = tiny_denoise_run(tmp_path, 1, "--patches", 50, "--sweeps", 1)
    failed = subprocess.run([sys.executable, str(BENCHMARKS / "merge_windows.py"), str(run)], capture_output=True,
                            text=True)
    assert failed.returncode != 0 and "trained on all patches" in failed.stderr


def test_subset_merge_compares_both_merges_of_a_subset_run(tmp_path):
    run = tiny_denoise_run(tmp_path, 1, "--patches", 50, "--sweeps", 1)
    result = run_script(tmp_path, "subset_merge.py", run)
    (compared,) = result["runs"]
    assert (compared["patches"], compared["trained_patches"], compared["sweeps"]) == (13 * 13, 50, 1)
    assert compared["error_pixels"] == "all" and compared["mse_trained_patches"] > 0
    assert compared["psnr_every_patch"] != compared["psnr_trained_first"]  # two images from the same estimates
    every_patch = tiny_denoise_run(tmp_path / "all", 1)
    failed = subprocess.run([sys.executable, str(BENCHMARKS / "subset_merge.py"), str(every_patch)], capture_output=True,
                            text=True)
    assert failed.returncode != 0 and "no subset to compare" in failed.stderr


def test_first_layer_times_both_ways_at_every_point(tmp_path):
    result = run_script(tmp_path, "first_layer.py", "--H", 64, 256, "--active", 2, "--states", 64, "--repeats", 2,
                        "--threads", 1)
    assert result["command"].startswith("python benchmarks/first_layer.py --H 64 256 --active 2")
    assert (result["sparse_min_H"], result["sparse_max_density"]) == (256, 1 / 8)
    assert [(p["H"], p["active_per_state"]) for p in result["points"]] == [
        (64, 2), (64, 4), (64, 8), (64, 16), (256, 2), (256, 16), (256, 32), (256, 64)]
    for p in result["points"]:
        assert all(p[f"{way}_{what}_ms"] > 0 for way in ("dense", "sum_of_rows") for what in ("forward", "forward_backward"))
        assert p["faster"] in ("dense", "sum_of_rows") and 0 < p["density"] < 0.5


def test_epoch_profile_shares_each_epoch_by_kind(tmp_path):
    result = run_script(tmp_path, "epoch_profile.py", "--presets", "house-25:40", "house-50:16", "--epochs", 2,
                        "--threads", 1)
    assert result["command"].startswith("python benchmarks/epoch_profile.py --presets house-25:40 house-50:16")
    assert result["threads"] == 1 and [p["preset"] for p in result["profiles"]] == ["house-25", "house-50"]
    house25, house50 = result["profiles"]
    assert (house25["patches"], house25["S"], house25["new_states"]) == (40, 200, 360)
    assert house25["predicted_estep_share"] == round(560 / 1160, 4) and house50["predicted_estep_share"] == round(84 / 276, 4)
    for p in result["profiles"]:
        assert len(p["estep_shares"]) == 2 and all(0 < share < 1 for share in p["estep_shares"])
        assert abs(sum(p["share_by_kind"].values()) - 1) < 1e-3 and p["profiled_seconds"] > 0
        assert {"matrix products", "optimizer (Adam)", "ranking (sort, top-k)"} <= set(p["share_by_kind"])
        assert list(p["share_by_kind"].values()) == sorted(p["share_by_kind"].values(), reverse=True)
