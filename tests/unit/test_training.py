"""Training: seeded, MLPerf-logged, compliance-checked time-to-train runs, scored by the olympic mean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchwright.training.check import ComplianceCheckFailed, check_training_log
from benchwright.training.run import read_times, training_run
from benchwright.training.score import TrainingFailed, olympic_mean, score
from benchwright.training.spec import TrainingRunSpec

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "config/benchmarks/digits-cnn.compliance.yaml"
BASE = dict(benchmark="digits-cnn", submission_benchmark="digits-cnn", system="cpu-host", submitter="benchwright",
            platform="CPU host", division="open", run_mode="smoke", architecture="digits-resnet",
            model_parameters={"width": 16, "blocks": 2, "classes": 10}, optimizer="sgd",
            hyperparameters={"global_batch_size": 32, "opt_base_learning_rate": 0.05, "opt_momentum": 0.9,
                             "opt_weight_decay": 0.0001},
            quality_target=0.93, max_epochs=15, threads=1)


def spec(**update) -> TrainingRunSpec:
    return TrainingRunSpec(**{**BASE, "run_index": 0, "seed": 11, **update})


def _entries(log: Path) -> list[dict]:
    return [json.loads(line.split(":::MLLOG", 1)[1]) for line in log.read_text().splitlines() if ":::MLLOG" in line]


def test_same_seed_gives_same_epochs_and_accuracy(default_models, tmp_path):
    a = training_run(spec(), default_models["data"], tmp_path / "a")
    b = training_run(spec(), default_models["data"], tmp_path / "b")
    training_run(spec(seed=12), default_models["data"], tmp_path / "c")
    assert a["converged"] and b["converged"]
    assert (a["epochs_to_target"], a["final_accuracy"]) == (b["epochs_to_target"], b["final_accuracy"])
    accuracies = [[e["value"] for e in _entries(d / "result.txt") if e["key"] == "eval_accuracy"] for d in
                  (tmp_path / "a", tmp_path / "b", tmp_path / "c")]
    assert accuracies[0] == accuracies[1] != accuracies[2]


def test_log_passes_the_compliance_checker_with_our_rules(default_models, tmp_path):
    record = training_run(spec(), default_models["data"], tmp_path / "run")
    log = tmp_path / "run/result.txt"
    report = check_training_log(log, ruleset="4.1.0", rules=RULES)
    assert report.strip().endswith("SUCCESS")
    keys = [e["key"] for e in _entries(log)]
    for key in ("submission_org", "submission_platform", "submission_division", "submission_benchmark",
                "cache_clear", "init_start", "init_stop", "run_start", "run_stop", "epoch_start", "epoch_stop",
                "eval_accuracy", "train_samples", "eval_samples", "seed", "global_batch_size", "opt_name",
                "opt_base_learning_rate"):
        assert key in keys, key
    assert keys.index("init_stop") < keys.index("run_start") < keys.index("run_stop")
    stop = [e for e in _entries(log) if e["key"] == "run_stop"][0]
    assert stop["metadata"]["status"] == "success" and Path(stop["metadata"]["file"]).name == "run.py"
    times = read_times(log)
    assert record["time_to_train_ms"] == times["run_stop"] - times["run_start"] > 0


def test_a_log_missing_a_key_fails_the_check(default_models, tmp_path):
    training_run(spec(), default_models["data"], tmp_path / "run")
    log = tmp_path / "run/result.txt"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines() if '"key": "seed"' not in line))
    with pytest.raises(ComplianceCheckFailed, match="fails the MLPerf training compliance check"):
        check_training_log(log, ruleset="4.1.0", rules=RULES)


def test_unreachable_target_is_logged_aborted_and_two_fail_the_benchmark(default_models, tmp_path):
    records = []
    for i in range(5):
        unreachable = i in (1, 3)
        records.append(training_run(
            spec(run_index=i, seed=100 + i, quality_target=0.9999 if unreachable else 0.9,
                 max_epochs=2 if unreachable else 15), default_models["data"], tmp_path / f"run_{i}"))
    assert [r["status"] for r in records] == ["success", "aborted", "success", "aborted", "success"]
    stop = [e for e in _entries(tmp_path / "run_1/result.txt") if e["key"] == "run_stop"][0]
    assert stop["metadata"]["status"] == "aborted"
    check_training_log(tmp_path / "run_1/result.txt", ruleset="4.1.0", rules=RULES)  # aborted logs are compliant
    with pytest.raises(TrainingFailed) as info:
        score(records, benchmark="digits-cnn", system="cpu-host", required_runs=5)
    message = str(info.value)
    assert "2 of 5 training runs of digits-cnn on cpu-host did not reach the quality target" in message
    assert "allow 1" in message and "101" in message and "103" in message  # the seeds of the failed runs


def test_one_non_converged_run_counts_as_the_slowest():
    def rec(i, minutes, converged=True):
        return {"spec": {"run_index": i, "seed": i, "quality_target": 0.9, "max_epochs": 5},
                "converged": converged, "status": "success" if converged else "aborted", "epochs": 3,
                "epochs_to_target": 3 if converged else None, "time_to_train_ms": minutes * 60000}

    result = score([rec(0, 1.0), rec(1, 2.0), rec(2, 3.0), rec(3, 4.0), rec(4, 0.5, converged=False)],
                   benchmark="b", system="s", required_runs=5, reference_epochs=4.0)
    assert result["olympic_mean_min"] == pytest.approx((2.0 + 3.0 + 4.0) / 3)  # 1.0 dropped, aborted = slowest
    assert result["non_converged"] == 1
    assert result["reference_convergence"] == {"reference_epochs": 4.0, "ratio": 0.75, "faster_than_reference": True}
    assert olympic_mean([5, 1, 3]) == 3
    with pytest.raises(TrainingFailed, match="the run rules require 5"):
        score([rec(0, 1.0)] * 3, benchmark="b", system="s", required_runs=5)


def test_two_processes_train_data_parallel_with_gloo_and_leave_one_log(default_models, tmp_path):
    two = spec(world_size=2, backend="gloo", model_parameters={"width": 8, "blocks": 1, "classes": 10},
               quality_target=0.85)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([str(Path(sys.executable).parent / "benchwright"), "train", "--spec", two.model_dump_json(),
                           "--data", str(default_models["data"]), "--out", str(tmp_path / "ddp")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 processes: " in proc.stderr and "torch.distributed.run --standalone --nproc_per_node=2" in proc.stderr
    log = tmp_path / "ddp/result.txt"
    keys = [e["key"] for e in _entries(log)]
    assert keys.count("run_start") == 1 and keys.count("run_stop") == 1 and keys.count("init_start") == 1
    epochs = [e["metadata"]["epoch_num"] for e in _entries(log) if e["key"] == "epoch_start"]
    assert epochs == list(range(1, len(epochs) + 1))  # one coherent sequence, not two interleaved
    record = json.loads((tmp_path / "ddp/record.json").read_text())
    assert record["world_size"] == 2 and record["converged"]
    check_training_log(log, ruleset="4.1.0", rules=RULES)
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["record.json", "result.txt"]


def test_training_tree_is_accepted_by_the_package_checker(default_models, tmp_path):
    # A benchmark with the ruleset's structure: logged as `ssd` in the open division, 5 runs as ssd requires.
    from benchwright.config import load_plan_file
    from benchwright.detect import detect, effective_description
    from benchwright.submission.training import assemble_training, check_training_package
    from benchwright.sysdesc import training_description

    plan = load_plan_file(REPO / "config/config.yaml", root=REPO)
    system = plan.systems["cpu-host"]
    logs = []
    for i in range(5):
        training_run(spec(submission_benchmark="ssd", run_index=i, seed=200 + i, quality_target=0.9),
                     default_models["data"], tmp_path / f"run_{i}")
        logs.append(tmp_path / f"run_{i}/result.txt")
    desc = training_description(system, effective_description(system, detect(gpu_probe=lambda: [])),
                                division="open", submitter="benchwright")
    org = assemble_training(tmp_path / "bundle", submitter="benchwright", system="cpu-host", system_description=desc,
                            benchmark="ssd", result_logs=logs, implementation="pytorch-cpu",
                            source=REPO / "workflow/benchwright/training", readme="# how to run\n")
    assert sorted(p.name for p in (org / "results/cpu-host/ssd").iterdir()) == [f"result_{i}.txt" for i in range(5)]
    report = check_training_package(org, "4.1.0")
    assert "SUCCESS" in report
    # The validator on the bare training tree: mlperf-logging's package checker and result summarizer both run.
    from benchwright.submission.check import check_bundle

    checked = check_bundle(org)
    assert checked.ok and checked.checked["training results"] == 1, checked.text()
    assert any("result summarizer" in n and "cpu-host" in n for n in checked.notes), checked.notes
    with pytest.raises(FileExistsError, match="never overwritten"):
        assemble_training(tmp_path / "bundle", submitter="benchwright", system="cpu-host", system_description=desc,
                          benchmark="ssd", result_logs=logs, implementation="pytorch-cpu")


def test_terminating_a_distributed_run_leaves_no_processes(default_models, tmp_path):
    import signal
    import time

    import psutil

    slow = spec(world_size=2, quality_target=0.9999, max_epochs=500,
                model_parameters={"width": 8, "blocks": 1, "classes": 10})
    proc = subprocess.Popen([str(Path(sys.executable).parent / "benchwright"), "train", "--spec",
                             slow.model_dump_json(), "--data", str(default_models["data"]),
                             "--out", str(tmp_path / "ddp")], stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    workers: list = []
    while time.monotonic() < deadline and len(workers) < 3:  # torchrun + 2 ranks
        workers = [p for p in psutil.process_iter(["cmdline"]) if "benchwright.cli" in " ".join(p.info["cmdline"] or [])
                   and p.pid != proc.pid]
        time.sleep(0.5)
    assert len(workers) >= 3, "torchrun did not start its workers"
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"left behind: {[p.pid for p in alive]}"
    assert not parent.is_running() or parent.status() == psutil.STATUS_ZOMBIE
    assert not (tmp_path / "ddp").exists()  # nothing half-written takes the run's place
