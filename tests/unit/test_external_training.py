"""benchwright.training.external on a real run of tests/external/mllog_player.py, and on logs that are not a run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchwright.training.external import ExternalTrainingError, external_training_run
from benchwright.training.spec import TrainingRunSpec
from tests.conftest import REPO

PLAYER = REPO / "tests/external/mllog_player.py"
COMMAND = (sys.executable, str(PLAYER), "--config", "{config}", "--seed", "{seed}", "--log", "{log}", "--data",
           "{data}", "--benchmark", "{benchmark}", "--submitter", "{submitter}", "--platform", "{platform}",
           "--division", "{division}", "--status", "{status}", "--quality-target", "{quality_target}",
           "--max-epochs", "{max_epochs}")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two separable classes of 8x8 'images' in the digits layout (train/val splits)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split, n in (("train", 200), ("val", 100)):
        y = rng.integers(0, 2, n)
        x = rng.normal(0, 0.3, (n, 1, 8, 8)) + y[:, None, None, None]
        np.save(root / f"{split}_x.npy", x.astype(np.float32))
        np.save(root / f"{split}_y.npy", y)
    return root


def spec(command=COMMAND, seed: int = 7) -> TrainingRunSpec:
    return TrainingRunSpec(benchmark="digits-cnn", submission_benchmark="digits-cnn", system="cpu-host",
                           submitter="benchwright", platform="test", division="open", run_mode="smoke", run_index=0,
                           seed=seed, optimizer="sgd", hyperparameters={}, quality_target=0.9, max_epochs=5,
                           implementation=command,
                           implementation_config=str(REPO / "tests/external/config_CPU_1x1x32.sh"))


def test_a_run_is_recorded_from_the_implementations_log(data, tmp_path):
    record = external_training_run(spec(), data, tmp_path / "run_0")
    assert record["converged"] and record["status"] == "success" and record["epochs_to_target"] >= 1
    assert record["spec"]["seed"] == 7 and record["time_to_train_ms"] >= 0
    assert json.loads((tmp_path / "run_0/record.json").read_text())["log_sha256"] == record["log_sha256"]
    assert (tmp_path / "run_0/result.txt").read_text().count(":::MLLOG") > 10


def test_a_log_with_another_seed_is_refused(data, tmp_path):
    command = tuple("123" if a == "{seed}" else a for a in COMMAND)
    with pytest.raises(ExternalTrainingError, match="logs seed \\[123\\], but this run's seed is 7"):
        external_training_run(spec(command), data, tmp_path / "run_0")
    assert not (tmp_path / "run_0").exists() and not list(tmp_path.iterdir())


def test_an_unknown_placeholder_names_the_field(data, tmp_path):
    with pytest.raises(ExternalTrainingError, match=r"(?s)\{epochs\}.*training\.implementation\.command"):
        external_training_run(spec(COMMAND + ("--x", "{epochs}")), data, tmp_path / "run_0")


def test_a_failing_implementation_is_refused_with_its_exit_code(data, tmp_path):
    with pytest.raises(ExternalTrainingError, match="exited 2"):
        external_training_run(spec(COMMAND + ("--bogus",)), data, tmp_path / "run_0")


def test_the_readme_documents_every_placeholder():
    import re

    from benchwright.training.external import PLACEHOLDERS

    section = (REPO / "README.md").read_text().split("### External training implementations", 1)[1].split("\n##", 1)[0]
    assert sorted(re.findall(r"^\| `\{(\w+)\}` \|", section, flags=re.M)) == sorted(PLACEHOLDERS)
