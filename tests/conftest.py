"""Shared fixtures: a copy of the real config tree in tmp_path, editable per test."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


class ConfigTree:
    """A campaign, its benchmarks and SKUs under a temporary root, loaded and edited as dicts."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(REPO / "config", root / "config")
        self.campaign: dict[str, Any] = yaml.safe_load((root / "config/config.yaml").read_text())

    def path(self, kind: str, name: str) -> Path:
        return self.root / "config" / kind / f"{name}.yaml"

    def read(self, kind: str, name: str) -> dict[str, Any]:
        return yaml.safe_load(self.path(kind, name).read_text())

    def write(self, kind: str, name: str, data: dict[str, Any]) -> None:
        self.path(kind, name).write_text(yaml.safe_dump(data, sort_keys=False))

    def edit(self, kind: str, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        data = copy.deepcopy(self.read(kind, name))
        change(data)
        self.write(kind, name, data)

    def load(self):
        from benchwright.config import load_plan

        config_file = self.root / "config/config.yaml"
        config_file.write_text(yaml.safe_dump(self.campaign, sort_keys=False))
        return load_plan(self.campaign, [config_file], root=self.root)


@pytest.fixture
def config_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigTree:
    monkeypatch.chdir(tmp_path)
    return ConfigTree(tmp_path)



def in_ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) a skipped service test is a failure: .ci/run provides every service."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and item.get_closest_marker("service") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"service test skipped in CI ({reason}); .ci/run must provide the service"


@pytest.fixture
def fresh_processes(monkeypatch):
    """Every ``loadgen_job`` run in a fresh process: it runs a process's first LoadGen test in that process, and
    the test process keeps its one official settings load for the tests that need it."""
    from benchwright.harness import settings

    monkeypatch.setattr(settings, "_loads_in_this_process", 1)


@pytest.fixture(scope="session")
def default_models(tmp_path_factory):
    """The default benchmark's data, FP32 reference weights and INT8 model, built once per test session with
    the same functions the DAG's rules call (about 15 s on 2 cores)."""
    import importlib.resources

    from benchwright.config import load_plan_file
    from benchwright.data.preprocess import preprocess
    from benchwright.models.steps import quantize, train_reference

    root = tmp_path_factory.mktemp("default-models")
    plan = load_plan_file(REPO / "config/config.yaml", root=REPO)
    bench = plan.benchmarks["digits-cnn"]
    digits = importlib.resources.files("sklearn") / "datasets" / "data" / "digits.csv.gz"
    pre = bench.preprocessing
    preprocess(pre.name, pre.version, pre.parameters, [str(digits)], root / "data")
    spec = {"architecture": bench.model.architecture, "parameters": bench.model.parameters,
            "optimizer": bench.training.optimizer, "hyperparameters": bench.training.hyperparameters,
            "epochs": bench.training.max_epochs, "seed": 0, "declared_accuracy": bench.accuracy.reference}
    record = train_reference(spec, root / "data", root / "fp32", threads=2)
    calibration = quantize({"architecture": bench.model.architecture, "parameters": bench.model.parameters,
                            "calibration_sha256": bench.calibration.sha256}, root / "fp32", root / "data",
                           REPO / "config/benchmarks" / bench.calibration.sample_list, root / "int8")
    return {"root": root, "data": root / "data", "fp32": root / "fp32", "int8": root / "int8", "plan": plan,
            "reference": record, "calibration": calibration}


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium for the report pages' browser tests (a service: .ci/run installs it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no headless Chromium here (apt-get install chromium; .ci/run installs it)")
