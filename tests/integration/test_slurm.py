"""The DAG on a real single-node Slurm cluster (slurm-wlm + munge; .ci/services/slurm.sh) through the slurm
profile: the same outputs as a local run, each job asking for its SKU's resources (read back with scontrol),
retries then a clear report for a failing job, and a cancelled job redone by the next run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.workflow.conftest import REPO, snakemake

pytestmark = [pytest.mark.service, pytest.mark.workflow]
PROFILE = str(REPO / "workflow/profiles/slurm")
SKU_SLURM = {"partition": "debug", "constraint": "benchwright", "cpus_per_task": 2, "mem_mb": 6000, "runtime_min": 20}
SKU_JOBS = {"range_performance", "loadgen_performance", "loadgen_accuracy"}
LOCAL_RULES = {"download", "accuracy_check", "submission_bundle", "submission_check", "submission_publish", "all"}


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """The partition of a Slurm cluster that answers; skip (with the reason) where there is none."""
    if shutil.which("sinfo") is None:
        pytest.skip("no Slurm here (sinfo not found); start one with .ci/services/slurm.sh")
    proc = subprocess.run(["sinfo", "-h", "-o", "%P %t %f"], capture_output=True, text=True, timeout=30)
    lines = proc.stdout.split("\n")
    if proc.returncode != 0 or not any(re.search(r"\b(idle|mix|alloc)\b", line) for line in lines):
        pytest.skip(f"Slurm does not answer or has no usable node ({proc.stderr.strip() or proc.stdout.strip()}); "
                    "start it with .ci/services/slurm.sh")
    if not any("benchwright" in line for line in lines):
        pytest.skip("the cluster's node lacks the `benchwright` feature the tests ask for; use .ci/services/slurm.sh")
    return "debug"


def campaign(root: Path, *, slurm: dict | None = SKU_SLURM, **sku_changes) -> Path:
    """A reduced campaign (digits-cnn, INT8 left out: FP32 Offline, no training) in ``root``."""
    shutil.copytree(REPO / "config", root / "config")
    path = root / "config/config.yaml"
    data = yaml.safe_load(path.read_text())
    data["benchmarks"]["digits-cnn"].update(scenarios=["Offline"], precisions=["fp32"], training=False)
    data["benchmarks"].pop("pydoc-lm", None)  # the scheduler's behaviour needs one benchmark, not the LM too
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    sku_path = root / "config/systems/cpu-host.yaml"
    sku = yaml.safe_load(sku_path.read_text())
    if slurm is not None:
        sku["slurm"] = slurm
    for key, value in sku_changes.items():
        sku[key] = {**sku[key], **value} if isinstance(value, dict) else value
    sku_path.write_text(yaml.safe_dump(sku, sort_keys=False))
    return root


def slurm_jobs(workdir: Path) -> list[dict[str, str]]:
    """Every job Slurm still knows (MinJobAge) that ran in ``workdir``, as `scontrol show job -o` fields."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, check=True).stdout
    jobs = []
    for line in out.splitlines():
        fields = dict(m.groups() for m in re.finditer(r"(\S+?)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            fields["rule"] = re.sub(r"^rule_|_wildcards.*$", "", fields.get("Comment", ""))
            jobs.append(fields)
    return jobs


def results_tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / "results").rglob("*")
            if p.is_file() and p.name != ".snakemake_timestamp" and "timings" not in p.parts}


@pytest.fixture(scope="module")
def slurm_and_local_runs(slurm_cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("slurm")
    on_slurm, local = campaign(base / "slurm"), campaign(base / "local")
    run = snakemake(on_slurm, "--workflow-profile", PROFILE, timeout=1200)
    snakemake(local, "--cores", "2", timeout=1200)
    return on_slurm, local, run


def test_a_reduced_campaign_on_slurm_gives_the_outputs_of_a_local_run(slurm_and_local_runs):
    on_slurm, local, _ = slurm_and_local_runs
    assert results_tree(on_slurm) == results_tree(local)
    for same in ("results/data/digits-cnn/manifest.json", "results/models/digits-cnn/fp32/weights.pt"):
        assert (on_slurm / same).read_bytes() == (local / same).read_bytes(), same
    # The same accuracy (the accuracy log's hash differs: LoadGen logs samples in the order they complete).
    accuracy = "results/inference/cpu-host/digits-cnn/fp32/Offline/accuracy.txt"
    assert (on_slurm / accuracy).read_text().splitlines()[0] == (local / accuracy).read_text().splitlines()[0]
    record = json.loads((on_slurm / "results/inference/cpu-host/digits-cnn/fp32/Offline/performance/record.json"
                         ).read_text())
    assert record["result"]["result_validity"] == "VALID"
    # Detection ran inside the job, on the node Slurm gave it.
    assert record["node"]["slurm_job_id"] and record["node"]["differences"] == []
    local_record = json.loads((local / "results/inference/cpu-host/digits-cnn/fp32/Offline/performance/record.json"
                               ).read_text())
    assert local_record["node"]["slurm_job_id"] is None
    from benchwright.submission.check import check_bundle

    assert check_bundle(on_slurm / "submissions/default/v1/bundle").ok


def test_each_job_asked_slurm_for_what_its_sku_needs(slurm_and_local_runs):
    on_slurm, _, run = slurm_and_local_runs
    jobs = slurm_jobs(on_slurm)
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    assert SKU_JOBS <= set(by_rule), sorted(by_rule)
    assert not LOCAL_RULES & set(by_rule), "light rules must run on the submitting host"
    for rule in SKU_JOBS:
        for job in by_rule[rule]:
            assert job["JobState"] == "COMPLETED"
            assert (job["Partition"], job["Features"]) == ("debug", "benchwright"), rule
            assert (job["NumCPUs"], job["MinMemoryNode"], job["TimeLimit"]) == ("2", "6000M", "00:20:00"), rule
            assert job["OverSubscribe"] == "NO", f"{rule} must hold the node exclusively"
    detect = by_rule["detect_system"][0]
    assert (detect["Partition"], detect["Features"], detect["NumCPUs"], detect["MinMemoryNode"],
            detect["TimeLimit"]) == ("debug", "benchwright", "1", "2000M", "00:10:00")
    for job in by_rule["train_reference"] + by_rule["preprocess"]:  # not a SKU's: the profile's defaults
        assert (job["MinMemoryNode"], job["TimeLimit"]) == ("4000M", "01:00:00")
    # The submitted sbatch command lines say the same (Snakemake logs them with --verbose; here its job list).
    assert "SLURM jobid" in run.stdout + run.stderr


def test_a_failing_job_is_retried_then_reported(slurm_cluster, tmp_path):
    # The SKU declares 64 cores; the node has fewer: detection fails inside the Slurm job, every attempt.
    workdir = campaign(tmp_path, host={"processor_core_count": 64})
    proc = snakemake(workdir, "--workflow-profile", PROFILE, "results/systems/cpu-host/detected.json", check=False,
                     timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    attempts = [j for j in slurm_jobs(workdir) if j["rule"] == "detect_system"]
    assert len(attempts) == 3, attempts  # the profile's retries: 2
    assert all(j["JobState"] == "FAILED" for j in attempts)
    assert "is not the SKU `cpu-host`" in output and "declared 64" in output
    assert not (workdir / "results/systems/cpu-host/detected.json").exists()


def test_a_cancelled_job_is_redone_by_the_next_run_and_nothing_finished_is_redone(slurm_cluster, tmp_path):
    workdir = campaign(tmp_path)
    config = workdir / "config/config.yaml"
    data = yaml.safe_load(config.read_text())
    data["loadgen"] = {"min_duration_ms": 60000}  # a performance run long enough to cancel
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    perf = "results/inference/cpu-host/digits-cnn/fp32/Offline/performance"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    first = subprocess.Popen([str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"),
                              "--workflow-profile", PROFILE, "--retries", "0"], cwd=workdir, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        target = None
        while time.monotonic() < deadline and target is None:
            running = [j for j in slurm_jobs(workdir)
                       if j["rule"] == "loadgen_performance" and j["JobState"] == "RUNNING"]
            if running and time.monotonic():
                target = running[0]["JobId"]
            time.sleep(2)
        assert target, "the performance job never started"
        time.sleep(10)  # mid-run
        subprocess.run(["scancel", target], check=True)
        out, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode != 0, out[-3000:]
    assert not (workdir / perf).exists()  # nothing half-written in its place
    finished = {j["JobId"] for j in slurm_jobs(workdir) if j["JobState"] == "COMPLETED"}
    assert finished

    second = snakemake(workdir, "--workflow-profile", PROFILE, timeout=1200)
    again = [j for j in slurm_jobs(workdir) if j["JobId"] not in finished and j["JobId"] != target]
    assert {j["rule"] for j in again} == {"loadgen_performance"}, [(j["rule"], j["JobId"]) for j in again]
    assert json.loads((workdir / perf / "record.json").read_text())["result"]["result_validity"] == "VALID"
    assert "loadgen_performance" in second.stdout + second.stderr
