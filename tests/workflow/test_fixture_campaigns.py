"""The closed-division fixture campaigns, end to end, exactly as the README runs them: `snakemake --cores 2
--configfile config/campaigns/<benchmark>-fixture.yaml` in a working directory holding only config/. The DAG makes
its stand-in data and model (`benchwright fixture`), verifies them by their pinned hashes, runs every required
scenario in performance and accuracy modes, the compliance tests and the accuracy script, and ends with a closed
bundle that `benchwright check` accepts, labelled a fixture run everywhere."""

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
CAMPAIGNS = {"resnet50": "resnet50-fixture", "bert-99": "bert-99-fixture"}


_RUNS: dict[str, Path] = {}


def _campaign(benchmark: str, tmp_path_factory) -> Path:
    """The benchmark's fixture campaign, run once per session in a working directory of its own."""
    if benchmark not in _RUNS:
        workdir = tmp_path_factory.mktemp(CAMPAIGNS[benchmark])
        shutil.copytree(REPO / "config", workdir / "config")
        snakemake(workdir, "--cores", "2", "--configfile", f"config/campaigns/{CAMPAIGNS[benchmark]}.yaml",
                  timeout=1500)
        _RUNS[benchmark] = workdir
    return _RUNS[benchmark]


@pytest.fixture(scope="session", params=sorted(CAMPAIGNS))
def fixture_campaign(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, _campaign(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def resnet50_campaign(tmp_path_factory) -> Path:
    return _campaign("resnet50", tmp_path_factory)


def test_a_fixture_campaign_ends_in_a_checked_closed_bundle_labelled_a_fixture_run(fixture_campaign):
    benchmark, workdir = fixture_campaign
    campaign = CAMPAIGNS[benchmark]
    rules = yaml.safe_load((REPO / "workflow/benchwright/runrules/mlperf-6.1.yaml").read_text())
    bench = yaml.safe_load((REPO / f"config/benchmarks/{benchmark}.yaml").read_text())
    official = rules["inference"]["benchmarks"][bench["inference"]["mlperf_benchmark"]]
    scenarios = official["required_scenarios"]["edge"]

    # The stand-ins were made inside the DAG and are the pinned ones; nothing of the default campaign ran.
    made = workdir / "resources/fixtures" / benchmark
    assert (made / "dataset").is_dir() and any((made / "model").iterdir())
    assert not (workdir / "results/inference/cpu-host/digits-cnn").exists()
    manifest = json.loads((workdir / f"results/data/{benchmark}/manifest.json").read_text())
    assert bench["fixture"]["dataset"]["manifest_sha256"] in json.dumps(manifest)

    for scenario in scenarios:
        run = workdir / f"results/inference/cpu-host/{benchmark}/fp32/{scenario}"
        for mode in ("performance", "accuracy"):
            record = json.loads((run / mode / "record.json").read_text())
            assert record["fixture"] is True and record["spec"]["fixture"] is True
            if mode == "performance":
                assert record["result"]["result_validity"] == "VALID"
        accuracy = json.loads((run / "accuracy.json").read_text())
        assert accuracy["fixture"] is True and accuracy["target"] > 0
        text = (run / "accuracy.txt").read_text().splitlines()
        if benchmark == "bert-99":  # the SQuAD script's form: one JSON object
            assert set(json.loads(text[0])) == {"exact_match", "f1"}
        else:  # accuracy-imagenet.py's form
            assert text[0].startswith("accuracy=") and ", good=" in text[0]
        assert text[-1].startswith("hash=")
        for test in official["compliance_tests"]:
            result = json.loads((run / test / "result.json").read_text())
            assert result["passed"] is True and result["fixture"] is True

    # The closed bundle: checked by the DAG, and again here by the CLI a submitter runs.
    bundle = workdir / f"results/submission/{campaign}/bundle"
    meta = json.loads((bundle / "benchwright.json").read_text())
    assert meta["division"] == "closed" and meta["fixture"] is True and meta["submittable"] is False
    assert len(meta["inference"]) == len(scenarios) and all(e["fixture"] for e in meta["inference"])
    check = subprocess.run([str(BIN / "benchwright"), "check", str(bundle)], capture_output=True, text=True,
                           cwd=workdir)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASS" in check.stdout and "fixture run, not submittable" in check.stdout
    assert "[accuracy-target]" in check.stdout and "expected of a fixture run's stand-ins" in check.stdout
    tree = bundle / "inference/closed/benchwright/results/cpu-host" / bench["inference"]["mlperf_benchmark"]
    assert sorted(p.name for p in tree.iterdir()) == sorted(scenarios)
    for scenario in scenarios:
        assert "**Fixture run.**" in (tree / scenario / "README.md").read_text()
        for test in official["compliance_tests"]:
            assert (tree / scenario / test / "verify_performance.txt").read_text().rstrip().endswith("TEST PASS")
    assert "**Fixture run.**" in (bundle / "inference/closed/benchwright/documentation/README.md").read_text()
    report = (workdir / "results/report/cpu-host.html").read_text()
    assert "Fixture run" in report and benchmark in report
    assert "Fixture run" in (workdir / "results/report/index.html").read_text()


def test_a_changed_stand_in_stops_the_preprocessing_naming_the_file(resnet50_campaign, tmp_path):
    """The stand-ins go through the same checks as a user's data: an edited file is refused, nothing is written."""
    workdir = resnet50_campaign
    copy = tmp_path / "copy"
    shutil.copytree(workdir / "config", copy / "config")
    shutil.copytree(workdir / "resources", copy / "resources")
    shutil.copytree(workdir / ".snakemake", copy / ".snakemake", ignore=shutil.ignore_patterns("log", "locks"))
    image = copy / "resources/fixtures/resnet50/dataset/ILSVRC2012_val_00000007.JPEG"
    image.write_bytes(image.read_bytes() + b"\0")
    proc = snakemake(copy, "results/data/resnet50", "--cores", "2", "--configfile",
                     "config/campaigns/resnet50-fixture.yaml", check=False)
    assert proc.returncode != 0
    log = (copy / "logs/preprocess/resnet50.log").read_text()
    assert "ILSVRC2012_val_00000007.JPEG" in log and "does not match its manifest" in log
    assert not (copy / "results/data/resnet50").exists()
