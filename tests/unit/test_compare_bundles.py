"""compare_bundles (tests/faults/inject.py): what two runs of the same campaign may differ in, and what not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults.inject import compare_bundles, comparer_for

RESULT = "inference/open/benchwright/results/cpu-host/digits-cnn-fp32/Server"


def _mllog(entries: list[tuple[str, object, int]]) -> str:
    return "".join(f':::MLLOG {json.dumps({"key": k, "value": v, "time_ms": t, "namespace": ""})}\n'
                   for k, v, t in entries)


def _detail(qps: float, p99: int, *, validity: str = "VALID", seed: int = 2085463073848966840, t: int = 0) -> str:
    return _mllog([("effective_scenario", "Server", t), ("effective_qsl_rng_seed", seed, t),
                   ("effective_target_qps", qps, t), ("test_datetime", f"2026-11-23T18:3{t % 10}", t),
                   ("result_completed_samples_per_sec", qps, t + 2000),
                   ("result_99.00_percentile_latency_ns", p99, t + 2000), ("result_validity", validity, t + 2001)])


def _summary(qps: float, *, validity: str = "VALID") -> str:
    return (f"SUT name : PySUT\nScenario : Server\nMode     : PerformanceOnly\nCompleted samples per second    : {qps}\n"
            f"Result is : {validity}\nqsl_rng_seed : 2085463073848966840\ntarget_qps : {int(qps)}\n")


def _readme(qps: float) -> str:
    return ("# digits-cnn-fp32 on cpu-host: Server\n\n| | |\n|---|---|\n"
            f"| performance | {qps} samples/s (completed samples per second), VALID |\n"
            "| accuracy | accuracy=97.656%, good=1000, total=1024 |\n")


def _training(t: int, accuracy: float = 0.97) -> str:
    return _mllog([("seed", 11, t), ("run_start", None, t + 5), ("eval_accuracy", accuracy, t + 900),
                   ("run_stop", None, t + 1000)])


def _bundle(root: Path, *, qps: float, p99: int, t: int) -> Path:
    files = {
        "benchwright.json": json.dumps({"campaign": "default", "mode": "smoke"}),
        f"{RESULT}/performance/run_1/mlperf_log_detail.txt": _detail(qps, p99, t=t),
        f"{RESULT}/performance/run_1/mlperf_log_summary.txt": _summary(qps),
        f"{RESULT}/user.conf": f"# user.conf\nresnet50.Server.target_qps = {int(qps)}\nresnet50.Server.min_duration = 2000\n",
        f"{RESULT}/README.md": _readme(qps),
        f"{RESULT}/measurements.json": json.dumps({"retraining": "no"}),
        f"{RESULT}/accuracy/accuracy.txt": "accuracy=97.656%, good=1000, total=1024\nhash=" + "ab" * 32 + "\n",
        "training/benchwright/results/cpu-host/digits-cnn/result_0.txt": _training(t),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return (_bundle(tmp_path / "a", qps=4116.1, p99=5415225, t=1795459215986),
            _bundle(tmp_path / "b", qps=3921.7, p99=6120001, t=1795459999000))


def test_runs_that_differ_only_in_measurements_and_times_are_equal(pair):
    a, b = pair
    assert compare_bundles(a, b) == []


def test_a_deterministic_file_is_compared_byte_for_byte(pair):
    a, b = pair
    (b / RESULT / "measurements.json").write_text(json.dumps({"retraining": "yes"}))
    (b / "benchwright.json").write_text(json.dumps({"campaign": "default", "mode": "submission"}))
    assert compare_bundles(a, b) == ["benchwright.json: bytes differ (compared strictly)",
                                     f"{RESULT}/measurements.json: bytes differ (compared strictly)"]


def test_accuracy_results_must_match_and_only_the_log_order_may_differ(pair):
    """accuracy.txt's hash line and the kept accuracy log depend on the order samples completed in; the accuracy
    line and every sample's answer do not."""
    a, b = pair
    entries = [f'{{ "seq_id" : {i}, "qsl_idx" : {7 * i % 11}, "data" : "0{i % 10}000000" }}' for i in range(6)]
    (a / RESULT / "accuracy/mlperf_log_accuracy.json").write_text("[\n" + ",\n".join(entries) + "\n]\n")
    swapped = entries[:2] + [entries[3], entries[2]] + entries[4:]
    (b / RESULT / "accuracy/mlperf_log_accuracy.json").write_text("[\n" + ",\n".join(swapped) + "\n]\n")
    (b / RESULT / "accuracy/accuracy.txt").write_text("accuracy=97.656%, good=1000, total=1024\nhash=" + "cd" * 32 + "\n")
    assert compare_bundles(a, b) == []
    wrong = swapped[:5] + [swapped[5].replace('"data" : "05', '"data" : "04')]
    (b / RESULT / "accuracy/mlperf_log_accuracy.json").write_text("[\n" + ",\n".join(wrong) + "\n]\n")
    (b / RESULT / "accuracy/accuracy.txt").write_text("accuracy=97.559%, good=999, total=1024\nhash=" + "cd" * 32 + "\n")
    differences = compare_bundles(a, b)
    assert len(differences) == 2, differences
    assert "accuracy line" in differences[0] and "seq_id 5" in differences[1]


def test_an_unknown_or_new_file_is_compared_strictly(pair):
    a, b = pair
    for root, text in ((a, "x"), (b, "y")):
        (root / "provenance").mkdir()
        (root / "provenance/timings.json").write_text(text)
    (b / "provenance/extra.json").write_text("{}")
    assert comparer_for("provenance/timings.json") is None
    assert compare_bundles(a, b) == [f"provenance/extra.json: only in {b}",
                                     "provenance/timings.json: bytes differ (compared strictly)"]


def test_a_missing_file_is_a_difference(pair):
    a, b = pair
    (b / RESULT / "user.conf").unlink()
    assert compare_bundles(a, b) == [f"{RESULT}/user.conf: only in {a}"]


@pytest.mark.parametrize("change, expected", [
    (lambda b: (b / RESULT / "performance/run_1/mlperf_log_detail.txt").write_text(
        _detail(3921.7, 6120001, validity="INVALID")), "result_validity: 'VALID' != 'INVALID'"),
    (lambda b: (b / RESULT / "performance/run_1/mlperf_log_detail.txt").write_text(
        _detail(3921.7, 6120001, seed=1)), "effective_qsl_rng_seed"),
    (lambda b: (b / RESULT / "performance/run_1/mlperf_log_summary.txt").write_text(
        _summary(3921.7, validity="INVALID")), "Result is: 'VALID' != 'INVALID'"),
    (lambda b: (b / RESULT / "user.conf").write_text(
        "resnet50.Server.target_qps = 3921\nresnet50.Server.min_duration = 600000\n"), "min_duration"),
    (lambda b: (b / RESULT / "README.md").write_text(_readme(3921.7).replace("97.656%", "97.000%")), "line 6"),
    (lambda b: (b / "training/benchwright/results/cpu-host/digits-cnn/result_0.txt").write_text(
        _training(1795459999000, accuracy=0.96)), "eval_accuracy"),
    (lambda b: (b / "training/benchwright/results/cpu-host/digits-cnn/result_0.txt").write_text(
        _training(1795459999000) + ":::MLLOG {\"key\": \"run_stop\", \"value\": null, \"time_ms\": 1}\n"),
     "4 vs 5 log entries"),
])
def test_a_measurement_file_must_match_in_everything_but_its_measurements(pair, change, expected):
    a, b = pair
    change(b)
    differences = compare_bundles(a, b)
    assert len(differences) == 1 and expected in differences[0], differences


def test_a_provenance_record_may_differ_only_in_the_hashes_of_measurement_files(pair):
    a, b = pair
    for root, perf, log in ((a, "11" * 32, "33" * 32), (b, "22" * 32, "44" * 32)):
        (root / "provenance/inference/cpu-host/digits-cnn-fp32").mkdir(parents=True)
        (root / "provenance/inference/cpu-host/digits-cnn-fp32/Server.json").write_text(json.dumps(
            {"kind": "inference", "validity": "VALID", "files": {
                f"{RESULT}/performance/run_1/mlperf_log_detail.txt": perf, f"{RESULT}/measurements.json": "55" * 32}}))
        (root / "provenance/training/cpu-host/digits-cnn").mkdir(parents=True)
        (root / "provenance/training/cpu-host/digits-cnn/result_0.json").write_text(json.dumps(
            {"kind": "training", "log_sha256": log, "seeds": {"training": 11}}))
    assert compare_bundles(a, b) == []
    (b / "provenance/inference/cpu-host/digits-cnn-fp32/Server.json").write_text(json.dumps(
        {"kind": "inference", "validity": "VALID", "files": {
            f"{RESULT}/performance/run_1/mlperf_log_detail.txt": "22" * 32, f"{RESULT}/measurements.json": "66" * 32}}))
    (b / "provenance/training/cpu-host/digits-cnn/result_0.json").write_text(json.dumps(
        {"kind": "training", "log_sha256": "44" * 32, "seeds": {"training": 12}}))
    differences = compare_bundles(a, b)
    assert len(differences) == 2 and "files" in differences[0] and "seeds" in differences[1], differences
