"""An external inference harness, end to end: resnet50 on its fixture stand-ins with `model.backend: external`,
played by tests/external/loadgen_player.py (LoadGen and onnxruntime, nothing from benchwright). benchwright
writes user.conf, runs the command per LoadGen test (ranging, performance, accuracy), and parses, scores, bundles
and checks the logs the harness leaves, as for its own runs. A harness that exits 0 without a LoadGen log stops
the job with the reason, and nothing is kept."""

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
PLAYER = REPO / "tests/external/loadgen_player.py"
SCENARIOS = ["SingleStream", "Offline"]


def _setup(workdir: Path, *extra: str) -> str:
    """config/ with resnet50 on the player; a campaign running it on the fixture stand-ins in the open division."""
    shutil.copytree(REPO / "config", workdir / "config")
    path = workdir / "config/benchmarks/resnet50.yaml"
    bench = yaml.safe_load(path.read_text())
    bench["model"]["backend"] = "external"
    bench["model"]["harness"] = {"command": [
        sys.executable, str(PLAYER), "--scenario", "{scenario}", "--mode", "{mode}", "--user-conf", "{user_conf}",
        "--output", "{output}", "--model", "{model}", "--data", "{data}", "--loadgen-model", "{loadgen_model}",
        "--class-offset", "-1", *extra]}
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    campaign = yaml.safe_load((REPO / "config/campaigns/resnet50-fixture.yaml").read_text())
    campaign.update(name="resnet50-external", division="open")
    campaign["benchmarks"]["resnet50"]["scenarios"] = SCENARIOS
    (workdir / "config/campaigns/resnet50-external.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    return "config/campaigns/resnet50-external.yaml"


@pytest.fixture(scope="session")
def external_campaign(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("external-harness")
    snakemake(workdir, "--cores", "2", "--configfile", _setup(workdir), timeout=1200)
    return workdir


def test_an_external_harness_runs_every_test_and_lands_in_a_checked_bundle(external_campaign):
    workdir = external_campaign
    for scenario in SCENARIOS:
        run = workdir / f"results/inference/cpu-host/resnet50/fp32/{scenario}"
        for mode, loadgen_mode in (("performance", "PerformanceOnly"), ("accuracy", "AccuracyOnly")):
            record = json.loads((run / mode / "record.json").read_text())
            assert record["backend"]["backend"] == "external"
            command = record["backend"]["command"]
            assert command[:2] == [sys.executable, str(PLAYER)]
            # The placeholders were filled in: this run's scenario, mode, user.conf and folder.
            assert command[command.index("--scenario") + 1] == scenario
            assert command[command.index("--mode") + 1] == loadgen_mode
            assert Path(command[command.index("--user-conf") + 1]).name == "user.conf"
            assert (run / mode / "user.conf").is_file() and (run / mode / "mlperf_log_detail.txt").is_file()
            if mode == "performance":
                assert record["result"]["result_validity"] == "VALID"
        assert (run / "accuracy.txt").read_text().startswith("accuracy=")  # the harness's answers were scored
    log = (workdir / "logs/inference/cpu-host/resnet50/fp32/Offline/performance.log").read_text()
    assert "benchwright: external harness:" in log and str(PLAYER) in log

    bundle = workdir / "results/submission/resnet50-external/bundle"
    check = subprocess.run([str(BIN / "benchwright"), "check", str(bundle)], capture_output=True, text=True,
                           cwd=workdir)
    assert check.returncode == 0, check.stdout + check.stderr
    tree = bundle / "inference/open/benchwright/results/cpu-host/resnet50-fp32"
    assert sorted(p.name for p in tree.iterdir()) == sorted(SCENARIOS)
    for scenario in SCENARIOS:
        assert (tree / scenario / "performance/run_1/mlperf_log_detail.txt").is_file()
        readme = (tree / scenario / "README.md").read_text()
        assert str(PLAYER) in readme  # the command the job recorded, as recorded


def test_an_external_harness_that_exits_0_without_a_log_stops_the_run(tmp_path):
    configfile = _setup(tmp_path, "--write-no-log")
    target = "results/inference/cpu-host/resnet50/fp32/SingleStream/accuracy"
    proc = snakemake(tmp_path, target, "--cores", "2", "--configfile", configfile, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/inference/cpu-host/resnet50/fp32/SingleStream/accuracy.log").read_text()
    assert "the external harness exited 0 but wrote no LoadGen log" in log
    assert "mlperf_log_summary.txt" in log and "fix: pass {output} to LoadGen as its log folder" in log
    assert not (tmp_path / target).exists()
    assert not list((tmp_path / target).parent.glob("accuracy.*"))  # no staging folder left behind
