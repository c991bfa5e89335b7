"""The `tvae` command, run in-process through main(argv) (and once as `python -m tvae_torch`)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tvae_common.images import load_image
from tvae_torch.cli import main

FAST = ["--set", "lr_min=0.05", "--set", "lr_max=0.1"]  # the presets' rate starts at 1e-4: too slow for a test
TINY = ["--set", "H=8", "--set", "hidden=[8]", "--set", "S=8", "--set", "n_parents=3", "--set", "n_children=2",
        "--set", "n_generations=1", "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """Clean crops of house as .npy files: 48 x 48 for the smoke test, 20 x 20 for quick runs."""
    folder = tmp_path_factory.mktemp("crops")
    house = load_image("house.png")
    np.save(folder / "crop48.npy", house[100:148, 100:148])
    np.save(folder / "crop20.npy", house[60:80, 120:140])
    return folder


def run(*argv) -> int:
    return main([str(a) for a in argv])


def result(out) -> dict:
    return json.loads((out / "result.json").read_text())


def test_denoise_smoke_beats_the_noisy_input(crops, tmp_path):
    """The zero-shot pipeline on a 48 x 48 crop of house with sigma = 25: all 1681 patches of 8 x 8, a small
    model, 5 epochs at a higher learning rate than the preset's (its rate starts at 1e-4)."""
    out = tmp_path / "denoise"
    assert run("denoise", "--clean", crops / "crop48.npy", "--sigma", 25, "--noise-seed", 0, "--epochs", 5,
               "--out", out, "--set", "H=16", "--set", "hidden=[16]", "--set", "S=16", "--set", "n_parents=4",
               "--set", "n_children=3", "--set", "n_generations=2", "--set", "lr_min=0.005", "--set", "lr_max=0.02",
               "--quiet", "--threads", 1) == 0
    summary = result(out)
    assert summary["patches"] == summary["trained_patches"] == 41 * 41
    assert summary["psnr"]["restored"] > summary["psnr"]["input"] + 2.0
    assert summary["psnr"]["restored_clipped"] >= summary["psnr"]["restored"]
    for key in ("command", "seed", "versions", "device", "timings", "free_energy", "learned_sigma"):
        assert key in summary
    # float32 results repeat bit for bit only on one kind of CPU: the device names the instruction set used
    capability = torch.backends.cpu.get_cpu_capability()
    assert summary["device"].endswith(f", {capability}, 1 threads, {os.cpu_count()} cores)")
    assert len(summary["free_energy"]) == len(summary["timings"]["seconds_per_epoch"]) == 5
    assert summary["timings"]["inference_seconds"] > 0  # Eq. (15) for every patch and the merge, after training
    assert np.load(out / "denoised.npy").shape == (48, 48)
    noisy = np.load(out / "input.npy")
    assert (noisy < 0).any() or (noisy > 255).any() or np.abs(noisy - np.load(crops / "crop48.npy")).std() > 20
    assert len((out / "log.jsonl").read_text().splitlines()) == 5


def interrupt_after(monkeypatch, epochs: int):
    """Make training stop with KeyboardInterrupt when `epochs` epochs are done."""
    train_module = sys.modules["tvae_torch.training"]
    original, calls = train_module.train_epoch, []

    def stopping(*args):
        if len(calls) == epochs:
            raise KeyboardInterrupt
        calls.append(1)
        original(*args)

    monkeypatch.setattr(train_module, "train_epoch", stopping)


def test_an_interrupted_run_resumes_bit_for_bit(crops, tmp_path, monkeypatch):
    common = ["denoise", "--clean", crops / "crop20.npy", "--sigma", 25, "--epochs", 4, "--checkpoint-every", 1,
              "--patch-size", 6, *TINY]
    assert run(*common, "--out", tmp_path / "whole") == 0
    with monkeypatch.context() as patch:
        interrupt_after(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            run(*common, "--out", tmp_path / "cut")
    assert not (tmp_path / "cut" / "denoised.npy").exists()
    assert len((tmp_path / "cut" / "log.jsonl").read_text().splitlines()) == 3
    assert run(*common, "--out", tmp_path / "cut", "--resume") == 0
    whole, cut = result(tmp_path / "whole"), result(tmp_path / "cut")
    assert whole["free_energy"] == cut["free_energy"] and whole["sigma2"] == cut["sigma2"]
    assert np.array_equal(np.load(tmp_path / "whole" / "denoised.npy"), np.load(tmp_path / "cut" / "denoised.npy"))
    a, b = (torch.load(tmp_path / name / "checkpoint.pt", weights_only=True) for name in ("whole", "cut"))
    assert all(torch.equal(x, y) for x, y in zip(a["W"] + [a["words"]], b["W"] + [b["words"]]))


def test_a_finished_run_can_be_continued_and_matches_a_longer_run(tmp_path):
    assert run("train", "bars", "--epochs", 3, "--out", tmp_path / "long", *TINY) == 0
    assert run("train", "bars", "--epochs", 1, "--out", tmp_path / "short", *TINY) == 0
    assert run("train", "bars", "--epochs", 3, "--out", tmp_path / "short", "--resume", *TINY) == 0
    assert result(tmp_path / "long")["free_energy"] == result(tmp_path / "short")["free_energy"]


def test_train_from_a_json_config(tmp_path):
    config = tmp_path / "small.json"
    config.write_text(json.dumps({"preset": "correlated-bars", "epochs": 2, "S": 8, "selection": "uniform"}))
    assert run("train", config, "--out", tmp_path / "run", "--quiet") == 0
    summary = result(tmp_path / "run")
    assert summary["config"]["selection"] == "uniform" and summary["data_points"] == 500
    assert len(summary["free_energy"]) == 2


def test_inpainting_replaces_only_the_missing_pixels(crops, tmp_path):
    clean = np.load(crops / "crop20.npy")
    mask = np.random.default_rng(0).random(clean.shape) < 0.3
    np.save(tmp_path / "mask.npy", mask.astype(np.uint8))
    out = tmp_path / "inpaint"
    assert run("inpaint", crops / "crop20.npy", "--mask", tmp_path / "mask.npy", "--clean", crops / "crop20.npy",
               "--patch-size", 6, "--epochs", 10, "--out", out, *TINY, *FAST) == 0
    restored = np.load(out / "inpainted.npy")
    assert np.array_equal(restored[~mask], clean[~mask]) and np.isfinite(restored).all()
    summary = result(out)
    assert summary["psnr"]["restored"] > summary["psnr"]["input"] + 10


def test_a_training_subset_still_restores_every_patch(crops, tmp_path):
    out = tmp_path / "subset"
    assert run("denoise", "--clean", crops / "crop20.npy", "--patch-size", 6, "--patches", 50, "--sweeps", 2,
               "--epochs", 2, "--out", out, *TINY) == 0
    summary = result(out)
    assert (summary["trained_patches"], summary["patches"]) == (50, 15 * 15)
    assert 0 < summary["helper_patches"] <= 15 * 15 - 50  # for the pixels that no trained patch covers
    assert np.isfinite(np.load(out / "denoised.npy")).all()


def test_a_training_subset_without_sweeps_is_refused_before_training(crops, tmp_path, capsys):
    out = tmp_path / "no-sweeps"
    assert run("denoise", "--clean", crops / "crop20.npy", "--patch-size", 6, "--patches", 50, "--sweeps", 0,
               "--epochs", 2, "--out", out, *TINY) != 0
    assert "helper patches" in capsys.readouterr().err and not (out / "log.jsonl").exists()


def test_progress_bars_show_the_epochs_and_the_sweeps(crops, tmp_path, capsys):
    loud = [a for a in TINY if a != "--quiet"]
    assert run("denoise", "--clean", crops / "crop20.npy", "--patch-size", 6, "--patches", 50, "--sweeps", 2,
               "--epochs", 2, "--out", tmp_path / "loud", *loud) == 0
    err = capsys.readouterr().err
    assert "| 2/2 [" in err and "epoch" in err  # training: 2 epochs
    assert "E-step sweeps: 100%" in err and "chunk" in err  # 2 sweeps of one chunk of 225 patches


def bad(tmp_path, *argv):
    """Run a command that must fail: exit status 1 and no output file in its folder."""
    out = tmp_path / "bad"
    assert run(*argv, "--out", out, "--quiet") == 1
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_bad_input_gives_a_clear_error_and_no_output(crops, tmp_path, capsys):
    np.save(tmp_path / "cube.npy", np.zeros((4, 20, 20)))
    np.save(tmp_path / "holes.npy", np.full((20, 20), np.nan))
    np.save(tmp_path / "nan.npy", np.where(np.eye(20) > 0, np.nan, 100.0))
    cases = [
        (("denoise", tmp_path / "cube.npy"), "a grey image is 2-D"),
        (("denoise", crops / "crop20.npy", "--patch-size", 21), "larger than the image"),
        (("inpaint", tmp_path / "holes.npy", "--patch-size", 6), "every pixel of the image is missing"),
        (("denoise", tmp_path / "nan.npy", "--patch-size", 6), "tvae inpaint"),
        (("train", "house-99"), "unknown preset 'house-99'"),
        (("denoise", tmp_path / "missing.npy"), "no image file"),
        (("train", "bars", "--set", "Q=3"), "unknown TrainConfig fields"),
        (("train", "bars", "--device", "tpu"), "unknown device 'tpu'"),
    ]
    for argv, message in cases:
        assert bad(tmp_path, *argv) == []
        assert message in capsys.readouterr().err


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert run("train", "bars", "--epochs", 1, "--out", out, *TINY) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run("train", "bars", "--epochs", 2, "--out", out, "--resume", *TINY, "--set", "S=9") == 1
    assert "belongs to another run" in capsys.readouterr().err
    assert run("train", "bars", "--epochs", 2, "--out", out, "--resume", "--seed", 1, *TINY) == 1
    assert "other training data" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_checkpoint_older_than_a_config_field_resumes_with_its_default(tmp_path):
    """A checkpoint written before `lr_schedule` existed lacks the field: it resumes as the default,
    and ends where the run trained in one go ends; asked for the other schedule it is refused."""
    out, whole = tmp_path / "run", tmp_path / "whole"
    assert run("train", "bars", "--epochs", 1, "--out", out, *TINY) == 0
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    del payload["config"]["lr_schedule"]
    torch.save(payload, out / "checkpoint.pt")
    assert run("train", "bars", "--epochs", 2, "--out", out, "--resume", "--set", "lr_schedule=triangular2",
               *TINY) == 1
    assert run("train", "bars", "--epochs", 2, "--out", out, "--resume", *TINY) == 0
    assert run("train", "bars", "--epochs", 2, "--out", whole, *TINY) == 0
    assert result(out)["free_energy"] == result(whole)["free_energy"]
    assert result(out)["config"]["lr_schedule"] == "triangular"


def test_bench_prints_json(capsys):
    assert run("bench", "--preset", "bars", "--patches", 64, "--epochs", 1, "--threads", 1) == 0
    measured = json.loads(capsys.readouterr().out)
    assert measured["patches"] == 64 and len(measured["seconds_per_epoch"]) == 1
    assert measured["estep_states_per_epoch"] == 64 * (64 + 6) and measured["estep_states_per_second"] > 0
    assert measured["command"] == "tvae bench --preset bars --patches 64 --epochs 1 --threads 1"


def test_python_m_tvae_torch_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "tvae_torch", "train", "nonsense"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1 and "unknown preset 'nonsense'" in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_clear_error(tmp_path, capsys):
    assert bad(tmp_path, "train", "bars", "--device", "cuda") == []
    assert "no CUDA device" in capsys.readouterr().err
