"""An external training implementation, end to end: digits-cnn's training part with `training.implementation`,
played by tests/external/mllog_player.py (numpy and mlperf_logging.mllog, nothing from benchwright) with an
NVIDIA-style config file. benchwright runs it once per seeded run, checks and records each MLPerf log, runs
mlperf-logging's compliance checker on it, scores the result and bundles it. An implementation that exits 0
without a log stops the run with the reason."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.workflow.conftest import REPO, snakemake

pytestmark = pytest.mark.workflow
BIN = Path(sys.executable).parent
PLAYER = REPO / "tests/external/mllog_player.py"
CONFIG = "config_CPU_1x1x32.sh"


def _setup(workdir: Path, *extra: str) -> str:
    shutil.copytree(REPO / "config", workdir / "config")
    shutil.copyfile(REPO / "tests/external" / CONFIG, workdir / "config/benchmarks" / CONFIG)
    path = workdir / "config/benchmarks/digits-cnn.yaml"
    bench = yaml.safe_load(path.read_text())
    bench["training"]["implementation"] = {"config": CONFIG, "command": [
        sys.executable, str(PLAYER), "--config", "{config}", "--seed", "{seed}", "--log", "{log}", "--data", "{data}",
        "--benchmark", "{benchmark}", "--submitter", "{submitter}", "--platform", "{platform}",
        "--division", "{division}", "--status", "{status}", "--quality-target", "{quality_target}",
        "--max-epochs", "{max_epochs}", *extra]}
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    campaign = {"name": "external-training",
                "benchmarks": {"digits-cnn": {"systems": ["cpu-host"], "scenarios": [], "training": True},
                               "pydoc-lm": None}}  # a --configfile extends the default campaign: training only
    (workdir / "config/campaigns/external-training.yaml").write_text(yaml.safe_dump(campaign))
    return "config/campaigns/external-training.yaml"


def test_an_external_implementation_makes_every_seeded_run_and_lands_in_the_bundle(tmp_path):
    snakemake(tmp_path, "--cores", "2", "--configfile", _setup(tmp_path), timeout=900)
    runs = sorted((tmp_path / "results/training/cpu-host/digits-cnn").glob("run_*/record.json"))
    assert len(runs) == 5  # the benchmark's required runs
    records = [json.loads(r.read_text()) for r in runs]
    assert len({r["spec"]["seed"] for r in records}) == 5  # each run its own seed, passed as {seed} and logged
    config_sha = records[0]["implementation"]["config_sha256"]
    for r in records:
        command = r["implementation"]["command"]
        assert command[:2] == [sys.executable, str(PLAYER)]
        assert command[command.index("--seed") + 1] == str(r["spec"]["seed"])
        assert r["implementation"]["config_sha256"] == config_sha and r["time_to_train_ms"] > 0
        assert r["converged"] and r["epochs_to_target"] >= 1
    for i in range(5):  # mlperf-logging's compliance checker accepted every log
        assert "SUCCESS" in (tmp_path / f"results/training/cpu-host/digits-cnn/run_{i}.compliance.txt").read_text()
    score = json.loads((tmp_path / "results/training/cpu-host/digits-cnn/score.json").read_text())
    assert score["non_converged"] == 0 and len(score["runs"]) == 5

    bundle = tmp_path / "results/submission/external-training/bundle"
    check = subprocess.run([str(BIN / "benchwright"), "check", str(bundle)], capture_output=True, text=True,
                           cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 training results" in check.stdout
    results = bundle / "training/benchwright/results/cpu-host/digits-cnn"
    assert sorted(p.name for p in results.glob("result_*.txt")) == [f"result_{i}.txt" for i in range(5)]
    assert list(bundle.rglob(CONFIG))  # the implementation's config travels with the bundle


def test_an_implementation_that_exits_0_without_a_log_stops_the_run(tmp_path):
    configfile = _setup(tmp_path, "--write-no-log")
    target = "results/training/cpu-host/digits-cnn/run_0"
    proc = snakemake(tmp_path, target, "--cores", "2", "--configfile", configfile, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/training/cpu-host/digits-cnn/run_0.log").read_text()
    assert "the training implementation exited 0 but wrote no MLPerf log" in log
    assert "fix: write the mllog of the run to {log}" in log
    assert not (tmp_path / target).exists()
    assert not list((tmp_path / target).parent.glob("run_0.*"))
