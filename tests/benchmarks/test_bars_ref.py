import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tvae_ref as tr

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "bars_ref.py"


def run_script(tmp_path, *args):
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(out)], check=True, capture_output=True)
    return json.loads(out.read_text())


def test_result_file_holds_what_the_chapters_read(tmp_path):
    result = run_script(tmp_path, "--seeds", "2", "--epochs", "2", "--correlated", "--linear")
    assert result["command"].startswith("python benchmarks/bars_ref.py --seeds 2 --epochs 2 --correlated --linear")
    assert result["correlated"] and result["linear"] and result["config"]["hidden"] == []
    assert not result["crossover"] and not result["config"]["crossover"]  # the presets' bit flips alone
    assert result["seeds"] == [0, 1] and [r["seed"] for r in result["runs"]] == [0, 1]
    assert {"numpy", "python", "cpu"} <= set(result["environment"])
    run = result["runs"][0]
    assert len(run["free_energy_per_epoch"]) == 2 and len(run["probe_log_likelihoods"]) == len(result["probes"])
    assert run["free_energy"] <= run["log_likelihood"] + 1e-3
    params = tr.Params(run["params"]["W"], run["params"]["b"], run["params"]["pi"], run["params"]["sigma2"])
    assert params.H == 8 and len(params.W) == 1  # a linear decoder


@pytest.mark.parametrize("crossover", [False, True])
def test_a_seed_gives_the_same_numbers_as_training_it_directly(tmp_path, crossover):
    from tvae_common.bars import bars_data

    result_file = run_script(tmp_path, "--seeds", "1", "--epochs", "3", *(["--crossover"] if crossover else []))
    assert result_file["crossover"] == result_file["config"]["crossover"] == crossover
    assert ("--crossover" in result_file["command"].split()) == crossover
    run = result_file["runs"][0]
    rng = np.random.default_rng(0)
    X, _ = bars_data(500, rng)
    result = tr.train(X, tr.preset("bars").with_(epochs=3, crossover=crossover), rng)
    np.testing.assert_allclose(run["free_energy_per_epoch"], result.free_energy, atol=1e-3)
    np.testing.assert_allclose(run["log_likelihood"], tr.exact_log_likelihood(result.params, X) / 500, atol=1e-4)
