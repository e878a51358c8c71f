"""External inference harnesses (benchwright.harness.external): the command's placeholders, the schema, and real
LoadGen runs of tests/external/loadgen_player.py through run_isolated and run_compliance."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from benchwright.fixtures import onnx_classifier
from benchwright.harness.compliance import run_compliance
from benchwright.harness.external import PLACEHOLDERS, ExternalHarnessError, harness_command
from benchwright.harness.isolate import run_isolated
from benchwright.harness.logs import read_run
from benchwright.harness.spec import RunSpec
from benchwright.schemas import Benchmark
from tests.conftest import REPO

PLAYER = REPO / "tests/external/loadgen_player.py"
COMMAND = [sys.executable, str(PLAYER), "--scenario", "{scenario}", "--mode", "{mode}", "--user-conf", "{user_conf}",
           "--output", "{output}", "--model", "{model}", "--data", "{data}", "--loadgen-model", "{loadgen_model}"]


def test_placeholders_are_filled_in_and_an_unknown_one_is_named(monkeypatch):
    monkeypatch.setenv("HARNESS_HOME", "/opt/vendor")
    values = {k: f"<{k}>" for k in PLACEHOLDERS}
    assert harness_command(["$HARNESS_HOME/run", "--s={scenario}", "{output}/x", "{{literal}}"], values) == [
        "/opt/vendor/run", "--s=<scenario>", "<output>/x", "{literal}"]
    with pytest.raises(ExternalHarnessError, match=r"(?s)unknown placeholder\(s\) \{scenery\}.*use only \{scenario\}"):
        harness_command(["run", "--s={scenery}"], values)


def test_the_readme_documents_every_placeholder():
    readme = (REPO / "README.md").read_text()
    section = readme.split("### External inference harnesses", 1)[1].split("\n##", 1)[0]
    assert sorted(re.findall(r"^\| `\{(\w+)\}` \|", section, flags=re.M)) == sorted(PLACEHOLDERS)


def test_backend_external_and_harness_go_together():
    data = yaml.safe_load((REPO / "config/benchmarks/resnet50.yaml").read_text())
    data["model"]["backend"] = "external"
    with pytest.raises(ValidationError, match="`backend: external` and `harness` go together"):
        Benchmark.model_validate(data)
    data["model"]["harness"] = {"command": COMMAND}
    assert Benchmark.model_validate(data).model.harness.command == tuple(COMMAND)
    data["model"]["backend"] = "onnxruntime"
    with pytest.raises(ValidationError, match="go together"):
        Benchmark.model_validate(data)


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    root = tmp_path_factory.mktemp("external")
    (root / "model").mkdir()
    onnx_classifier(root / "model/model.onnx", input_shape=(3, 16, 16), classes=10, seed=0)
    (root / "data").mkdir()
    rng = np.random.default_rng(0)
    np.save(root / "data/val_x.npy", rng.standard_normal((64, 3, 16, 16), dtype=np.float32))
    np.save(root / "data/val_y.npy", rng.integers(0, 10, 64))
    np.save(root / "data/val_ids.npy", np.arange(64))
    return root


def spec(mode: str = "performance", harness_args: tuple[str, ...] = ()) -> RunSpec:
    """A short SingleStream run of the player (the same query count every time, as in test_compliance)."""
    return RunSpec(benchmark="resnet50", system="test-host", loadgen_model="resnet50", scenario="SingleStream",
                   mode=mode, precision="fp32", run_mode="smoke",
                   model={"task": "image_classification", "backend": "external", "format": "onnx",
                          "harness": COMMAND + list(harness_args)},
                   performance_sample_count=64, min_duration_ms=500, min_query_count=1000,
                   target_latency_ms=0.01, target_latency_percentile=90)


def test_a_run_through_the_harness_leaves_the_logs_of_the_run_asked_for(workload, tmp_path):
    outcome = run_isolated(spec(mode="accuracy"), workload / "model", workload / "data", tmp_path / "run")
    run = read_run(tmp_path / "run")
    assert run.mode == "AccuracyOnly" and run.scenario.value == "SingleStream"
    assert outcome.completed == run.sample_count == 64
    assert outcome.backend["backend"] == "external" and outcome.backend["exit_code"] == 0
    log = json.loads((tmp_path / "run/mlperf_log_accuracy.json").read_text())
    assert len(log) == 64 and all(len(e["data"]) == 8 for e in log)  # one int32 class each
    assert "performance_sample_count_override = 64" in (tmp_path / "run/user.conf").read_text()


def test_compliance_runs_the_harness_with_audit_config_in_its_working_directory(workload, tmp_path):
    reference = tmp_path / "performance"
    run_isolated(spec(), workload / "model", workload / "data", reference)
    result = run_compliance("TEST04", spec(), workload / "model", workload / "data", tmp_path / "TEST04",
                            reference_perf_dir=reference, emit=lambda message: None)
    assert result["checks"]["audit_config"]["passed"] and result["checks"]["audit_config"]["found"]
    assert result["checks"]["audit_config"]["settings"]["effective_performance_issue_same"] is True
    assert (tmp_path / "TEST04/audit.config").is_file()


def test_a_harness_that_exits_0_without_a_log_is_refused(workload, tmp_path):
    with pytest.raises(ExternalHarnessError, match=r"exited 0 but wrote no LoadGen log .*mlperf_log_summary.txt"):
        run_isolated(spec(harness_args=("--write-no-log",)), workload / "model", workload / "data", tmp_path / "r")


def test_a_harness_that_fails_is_refused_with_its_exit_code(workload, tmp_path):
    with pytest.raises(ExternalHarnessError, match="the external harness exited 2"):
        run_isolated(spec(harness_args=("--no-such-option",)), workload / "model", workload / "data", tmp_path / "r")


def test_a_log_of_another_run_than_asked_for_is_refused(workload, tmp_path):
    wrong = [a if a != "{mode}" else "AccuracyOnly" for a in COMMAND]
    bad = spec().model_copy(update={"model": spec().model.model_copy(update={"harness": tuple(wrong)})})
    with pytest.raises(ExternalHarnessError, match="ran SingleStream AccuracyOnly, not SingleStream PerformanceOnly"):
        run_isolated(bad, workload / "model", workload / "data", tmp_path / "r")
