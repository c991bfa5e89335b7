"""`tvae` on two processes under torchrun (gloo on the CPU) against the same command in one process.

Every torchrun call is bounded by a timeout, so that a broken run fails the test instead of hanging CI.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from tvae_common.images import load_image
from tvae_torch.cli import main

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
TIMEOUT = 240  # seconds for one torchrun call: two fresh Python processes import torch on a loaded CI machine
TINY = ["--set", "H=8", "--set", "hidden=[8]", "--set", "S=8", "--set", "n_parents=3", "--set", "n_children=2",
        "--set", "n_generations=1"]
BARS = ["train", "bars", "--dtype", "float64", "--set", "lr_min=0.01", "--set", "lr_max=0.05"]  # W moves fast
QUIET = ["--quiet", "--threads", "1"]


def launch(argv: list[str], **env) -> subprocess.Popen:
    """torchrun in a session of its own, so that its workers can be stopped with it."""
    return subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def stop(run: subprocess.Popen) -> None:
    """End torchrun and its workers if they still run (after a failed assertion or a timeout)."""
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()


def torchrun(*argv) -> None:
    """`tvae ARGV` on two processes; fails the test with torchrun's report unless it succeeds."""
    run = launch([*TORCHRUN, "-m", "tvae_torch", *map(str, argv), *QUIET])
    try:
        _, stderr = run.communicate(timeout=TIMEOUT)
    finally:
        stop(run)
    assert run.returncode == 0, stderr


def one_process(*argv) -> None:
    assert main([*map(str, argv), *QUIET]) == 0


def result(out: Path) -> dict:
    return json.loads((out / "result.json").read_text())


def checkpoint(out: Path) -> dict:
    return torch.load(out / "checkpoint.pt", weights_only=True)


def assert_same_run(a: Path, b: Path) -> None:
    """The same free energy per epoch (to float sums in another order), the same Phi, W to rounding."""
    np.testing.assert_allclose(result(b)["free_energy"], result(a)["free_energy"], rtol=1e-6, atol=0)
    ca, cb = checkpoint(a), checkpoint(b)
    assert ca["epoch"] == cb["epoch"] and torch.equal(ca["words"], cb["words"])
    for x, y in zip(ca["W"] + ca["b"], cb["W"] + cb["b"]):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)


def worker_pid(marker: str, rank: int) -> int | None:
    """The process that torchrun started as `rank` of the run whose environment holds `marker`."""
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if f"TVAE_TEST_RUN={marker}".encode() in environ and f"RANK={rank}".encode() in environ:
            return int(proc.name)
    return None


def log_lines(out: Path) -> int:
    log = out / "log.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> tuple[Path, int, str]:
    """A two-process bars run with a checkpoint every epoch whose process 1 is killed (SIGKILL) after
    two epochs: its output folder, torchrun's exit status and the run's stderr."""
    out, marker = tmp_path_factory.mktemp("killed") / "run", uuid.uuid4().hex
    argv = [*TORCHRUN, "--monitor-interval", "1", "-m", "tvae_torch", *BARS, "--epochs", "100000",
            "--checkpoint-every", "1", "--out", str(out), *QUIET]
    run = launch(argv, TVAE_TEST_RUN=marker)
    try:
        deadline = time.monotonic() + TIMEOUT
        while log_lines(out) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log_lines(out) >= 2, "the run did not get going"
        os.kill(worker_pid(marker, rank=1), signal.SIGKILL)
        _, stderr = run.communicate(timeout=60)  # no hang: torchrun stops the other process and fails
    finally:
        stop(run)
    return out, run.returncode, stderr


def test_a_killed_process_stops_the_run_with_a_clear_message_and_an_intact_checkpoint(killed):
    out, returncode, stderr = killed
    assert returncode != 0
    assert "SIGKILL" in stderr  # torchrun names the process that died
    assert "lost contact with the other processes" in stderr and "--resume" in stderr  # process 0 says what to do
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "log.jsonl"]  # no partial file
    saved = checkpoint(out)
    assert saved["epoch"] >= 2 and len(saved["free_energy"]) == saved["epoch"]
    assert saved["words"].shape == (500, 64, 1)  # Phi of all points, from both processes


def test_two_processes_resume_the_killed_run_and_end_as_one_process_does(killed, tmp_path):
    """The epochs before the kill and the two after the restart ran on two processes: the free energy
    of every epoch, Phi and W are those of the same run on one process."""
    out = tmp_path / "two"
    shutil.copytree(killed[0], out)
    epochs = checkpoint(out)["epoch"] + 2
    torchrun(*BARS, "--epochs", epochs, "--checkpoint-every", 1, "--out", out, "--resume")
    one_process(*BARS, "--epochs", epochs, "--out", tmp_path / "one")
    assert_same_run(tmp_path / "one", out)
    assert len(result(out)["free_energy"]) == epochs and result(out)["processes"] == 2
    assert log_lines(out) == epochs  # written once, by process 0
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "log.jsonl", "result.json"]
    one_process(*BARS, "--epochs", epochs + 2, "--out", out, "--resume")  # one process takes over Phi of all points
    one_process(*BARS, "--epochs", epochs + 2, "--out", tmp_path / "one", "--resume")
    assert_same_run(tmp_path / "one", out)


def test_two_processes_inpaint_as_one(tmp_path):
    """A training subset of 150 of 35 x 35 patches, then E-step sweeps over them and the helper patches that
    cover the pixels they leave out: every process infers and estimates the patches around its training
    points, process 0 merges them."""
    np.save(tmp_path / "crop.npy", load_image("house.png")[60:100, 120:160])
    argv = ["inpaint", "--clean", tmp_path / "crop.npy", "--missing", 0.3, "--patch-size", 6, "--patches", 150,
            "--sweeps", 2, "--epochs", 3, "--dtype", "float64", *TINY, "--set", "lr_min=0.01", "--set", "lr_max=0.05"]
    torchrun(*argv, "--out", tmp_path / "two")
    one_process(*argv, "--out", tmp_path / "one")
    one, two = result(tmp_path / "one"), result(tmp_path / "two")
    assert two["patches"] == 35 * 35 and two["trained_patches"] == 150 and two["processes"] == 2
    assert two["helper_patches"] == one["helper_patches"] > 0
    np.testing.assert_allclose(two["free_energy"], one["free_energy"], rtol=1e-6, atol=0)
    restored = [np.load(tmp_path / name / "inpainted.npy") for name in ("one", "two")]
    np.testing.assert_allclose(restored[1], restored[0], rtol=1e-9)
    assert np.isnan(np.load(tmp_path / "two" / "input.npy")).any() and np.isfinite(restored[1]).all()
