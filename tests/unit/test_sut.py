"""The SUT answers every sample with the model's prediction, batches as configured, and reports failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchwright.harness.isolate import call_in_fresh_process
from benchwright.harness.spec import RunSpec

BASE = dict(benchmark="digits-cnn", system="cpu-host", loadgen_model="resnet50", precision="fp32", run_mode="smoke",
            architecture="digits-resnet", performance_sample_count=1024, min_duration_ms=500,
            progress_interval_s=0.2)


class Oracle:
    """Answers each sample with its label and records the batch sizes it was given."""

    def __init__(self, labels: np.ndarray, images: np.ndarray):
        self.by_pixel = {images[i].tobytes(): int(labels[i]) for i in range(len(labels))}
        self.batches: list[int] = []

    def __call__(self, batch):
        self.batches.append(len(batch))
        return np.array([self.by_pixel[row.numpy().tobytes()] for row in batch], dtype=np.int32)


def _run(spec, data_dir, out_dir, broken=False):
    from benchwright.data.preprocess import load_split
    from benchwright.harness.logs import read_run
    from benchwright.harness.run import run_loadgen

    images, labels, _ = load_split(data_dir, "val")
    oracle = Oracle(labels, images)
    messages = []
    warm_up_calls = 3 * max(spec.batch_size, spec.samples_per_query or 1)  # run.warm_up: 3 passes of 1..N

    def breaks_after_warm_up(batch):
        oracle.batches.append(len(batch))
        if len(oracle.batches) > warm_up_calls:
            raise ValueError("broken model")
        return np.zeros(len(batch), dtype=np.int32)

    predict = breaks_after_warm_up if broken else oracle
    error = None
    try:
        run_loadgen(spec, predict, images, out_dir, emit=messages.append)
    except RuntimeError as exc:
        error = str(exc)
    return {"batches": oracle.batches[warm_up_calls:], "messages": messages, "error": error,
            "result": read_run(out_dir).model_dump(mode="json")}


@pytest.mark.parametrize("scenario,extra", [
    ("Offline", {"expected_qps": 20000, "batch_size": 64, "threads": 2}),
    ("Server", {"target_qps": 2000, "target_latency_ms": 15, "batch_size": 8, "threads": 2,
                "batching_timeout_us": 2000}),
    ("MultiStream", {"target_latency_ms": 1, "samples_per_query": 8, "batch_size": 8}),
])
def test_batches_never_exceed_batch_size(default_models, tmp_path, scenario, extra):
    spec = RunSpec(scenario=scenario, mode="performance", **BASE, **extra)
    out = call_in_fresh_process(_run, spec, default_models["data"], tmp_path / "run")
    assert out["error"] is None
    assert max(out["batches"]) <= extra["batch_size"]
    assert sum(out["batches"]) == out["result"]["sample_count"]
    if scenario in ("Offline", "MultiStream"):
        assert max(out["batches"]) == extra["batch_size"]  # full batches are formed
    if scenario == "Server":
        assert max(out["batches"]) > 1  # the batcher gathers queries that arrive within the timeout
    assert any("finished" in m for m in out["messages"]) and any("warm-up" in m for m in out["messages"])


def test_accuracy_mode_logs_the_real_predictions(default_models, tmp_path):
    from benchwright.data.preprocess import load_split
    from benchwright.harness.accuracy import read_accuracy_log, top1_accuracy

    spec = RunSpec(scenario="Offline", mode="accuracy", expected_qps=20000, batch_size=32, **BASE)
    out = call_in_fresh_process(_run, spec, default_models["data"], tmp_path / "run")
    entries = read_accuracy_log(tmp_path / "run" / "mlperf_log_accuracy.json")
    _, labels, _ = load_split(default_models["data"], "val")
    result = top1_accuracy(entries, labels)
    assert (result.good, result.total) == (1024, 1024)  # the oracle's answers, through LoadGen's log
    assert out["result"]["mode"] == "AccuracyOnly"


def test_a_failing_model_is_reported_not_hung(default_models, tmp_path):
    spec = RunSpec(scenario="Offline", mode="performance", expected_qps=5000, batch_size=64, **BASE)
    out = call_in_fresh_process(_run, spec, default_models["data"], tmp_path / "run", broken=True)
    assert out["error"] is not None and "broken model" in out["error"]


def test_progress_is_reported_during_a_run(default_models, tmp_path):
    spec = RunSpec(scenario="SingleStream", mode="performance", target_latency_ms=0.01,
                   **{**BASE, "min_duration_ms": 1000, "progress_interval_s": 0.1})
    out = call_in_fresh_process(_run, spec, default_models["data"], tmp_path / "run")
    progress = [m for m in out["messages"] if "minimum" in m and "issued" in m]
    assert progress, out["messages"]
    assert json.dumps(out["result"])  # the typed record serialises
