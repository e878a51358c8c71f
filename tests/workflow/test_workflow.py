"""The DAG as a user runs it: lint, dry run, bad config, the data stage end to end, and a no-op re-run."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import shutil

import pytest
import yaml

from .conftest import REPO, snakemake

pytestmark = pytest.mark.workflow

DIGITS = importlib.resources.files("sklearn") / "datasets" / "data" / "digits.csv.gz"


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


def test_dry_run_lists_every_stage(workdir):
    proc = snakemake(workdir, "-n")
    for rule in ("download", "preprocess", "detect_system", "all"):
        assert f"rule {rule}:" in proc.stdout, rule


def test_bad_config_stops_before_any_job(workdir):
    (workdir / "bad.yaml").write_text("mode: submission\nloadgen: {min_duration_ms: 1000}\n")
    proc = snakemake(workdir, "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert "bad.yaml: loadgen.min_duration_ms" in proc.stderr
    assert "under the run rules' minimum of 600000 ms" in proc.stderr
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


def _serve_digits(workdir, file_server, payload: bytes | None = None) -> None:
    base, served = file_server
    (served / "digits.csv.gz").write_bytes(payload if payload is not None else DIGITS.read_bytes())
    path = workdir / "config/benchmarks/digits-cnn.yaml"
    bench = yaml.safe_load(path.read_text())
    bench["dataset"]["files"][0]["url"] = f"{base}/digits.csv.gz"
    path.write_text(yaml.safe_dump(bench, sort_keys=False))


def test_http_dataset_goes_through_the_same_rule_and_gives_the_same_data(workdir, file_server, tmp_path):
    # Reference: the package:// source, as in the default campaign.
    local = tmp_path / "local"
    shutil.copytree(workdir / "config", local / "config")
    snakemake(local, "--cores", "2", "results/data/digits-cnn")
    # The same dataset served over HTTP on 127.0.0.1.
    _serve_digits(workdir, file_server)
    proc = snakemake(workdir, "--cores", "2", "results/data/digits-cnn")
    assert "rule download:" in proc.stdout + proc.stderr
    log = (workdir / "logs/download/sklearn-digits/digits.csv.gz.log").read_text()
    assert "127.0.0.1" in log
    remote = json.loads((workdir / "results/data/digits-cnn/manifest.json").read_text())
    reference = json.loads((local / "results/data/digits-cnn/manifest.json").read_text())
    assert remote == reference


def test_checksum_mismatch_fails_the_rule_and_leaves_nothing(workdir, file_server):
    _serve_digits(workdir, file_server, payload=b"not the digits file\n")
    proc = snakemake(workdir, "--cores", "1", "results/data/digits-cnn", check=False)
    assert proc.returncode != 0
    log = (workdir / "logs/download/sklearn-digits/digits.csv.gz.log").read_text()
    assert "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22" in log  # expected

    assert hashlib.sha256(b"not the digits file\n").hexdigest() in log  # actual
    assert not (workdir / "resources/datasets/sklearn-digits/digits.csv.gz").exists()
    assert list((workdir / "resources/quarantine/sklearn-digits").iterdir())
    assert not (workdir / "results/data/digits-cnn").exists()


def test_default_campaign_runs_and_a_second_run_has_nothing_to_do(workdir):
    snakemake(workdir, "--cores", "2")
    manifest = json.loads((workdir / "results/data/digits-cnn/manifest.json").read_text())
    assert manifest["inputs"] == {"digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"}
    detected = json.loads((workdir / "results/systems/cpu-host/detected.json").read_text())
    assert detected["system"] == "cpu-host" and detected["differences"] == []
    again = snakemake(workdir, "--cores", "2", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_declared_hardware_that_is_absent_stops_the_run(workdir):
    path = workdir / "config/config.yaml"
    campaign = yaml.safe_load(path.read_text())
    campaign["benchmarks"]["digits-cnn"].update(systems=["a100-sxm4-80gb-x8"], precisions=["fp32"])
    path.write_text(yaml.safe_dump(campaign))
    proc = snakemake(workdir, "--cores", "1", "results/systems/a100-sxm4-80gb-x8/detected.json", check=False)
    assert proc.returncode != 0
    log = (workdir / "logs/detect/a100-sxm4-80gb-x8.log").read_text()
    assert "accelerators.count: declared 8, detected 0" in log
    # Accepting the difference explicitly lets it through, and it is recorded.
    campaign["accept_system_mismatch"] = ["a100-sxm4-80gb-x8"]
    path.write_text(yaml.safe_dump(campaign))
    snakemake(workdir, "--cores", "1", "results/systems/a100-sxm4-80gb-x8/detected.json")
    record = json.loads((workdir / "results/systems/a100-sxm4-80gb-x8/detected.json").read_text())
    assert record["differences_accepted"] is True
