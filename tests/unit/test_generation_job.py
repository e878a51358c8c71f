"""A text-generation benchmark through the DAG's own steps (issue 18): ``loadgen_job`` runs the model in a fresh
process with LoadGen's token latencies, in Offline, Server and Interactive (LoadGen's Server under the model's
``-interactive`` settings); the record carries TTFT, TPOT and tokens per second; ``accuracy_job`` scores the accuracy
run with ROUGE; ``range_job`` records the token latencies of its trials for the report's plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchwright.harness.spec import RunSpec
from benchwright.harness.steps import accuracy_job, loadgen_job, range_job

from ..generation_helpers import tiny_lm

NEW_TOKENS = 8
pytestmark = pytest.mark.usefixtures("fresh_processes")  # tests/conftest.py


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> tuple[Path, Path]:
    return tiny_lm(tmp_path_factory.mktemp("genjob"), name="fp32")


def spec(scenario: str, mode: str = "performance", **update) -> RunSpec:
    base = dict(benchmark="pydoc-lm", system="cpu-host", loadgen_model="llama3_1-8b", scenario=scenario, mode=mode,
                precision="fp32", run_mode="smoke", performance_sample_count=64, min_duration_ms=300,
                min_query_count=8, batch_size=4, threads=1, batching_timeout_us=2000, target_qps=20,
                expected_qps=20, progress_interval_s=60,
                model={"task": "text_generation", "backend": "transformers", "format": "transformers",
                       "task_parameters": {"max_new_tokens": NEW_TOKENS}, "intra_op_threads": 1})
    return RunSpec(**{**base, **update})


@pytest.mark.parametrize("scenario", ["Offline", "Server", "Interactive"])
def test_a_generation_run_records_token_latencies(lm, tmp_path, scenario):
    model_dir, data_dir = lm
    record = loadgen_job(spec(scenario), model_dir, data_dir, tmp_path / "performance", require_valid=False)
    result = record["result"]
    assert result["tokens_per_second"] > 0
    assert record["backend"]["backend"] == "transformers"
    assert len(record["model_sha256"]) == 64  # the model.safetensors that ran
    detail = (tmp_path / "performance/mlperf_log_detail.txt").read_text()
    assert '"key": "requested_use_token_latencies", "value": true' in detail
    conf = (tmp_path / "performance/user.conf").read_text()
    if scenario == "Offline":
        assert result["first_token_latency"] is None  # Offline is one query: no per-token latencies
        return
    assert 0 < result["first_token_latency"]["p50_ns"] <= result["first_token_latency"]["p99_ns"]
    assert result["time_per_output_token"]["p99_ns"] > 0
    assert result["scenario"] == "Server"  # LoadGen ran its Server scenario either way
    limits = {"Server": (2_000_000_000, 100_000_000), "Interactive": (500_000_000, 30_000_000)}[scenario]
    assert (result["requested"]["server_ttft_latency"], result["requested"]["server_tpot_latency"]) == limits
    assert ("llama3_1-8b-interactive.Server.target_qps" in conf) == (scenario == "Interactive")


def test_the_accuracy_run_is_scored_with_rouge(lm, tmp_path):
    model_dir, data_dir = lm
    loadgen_job(spec("Offline", "accuracy"), model_dir, data_dir, tmp_path / "accuracy")
    # a random-weight model scores nothing: fixture=True writes accuracy.txt whatever the score
    text = accuracy_job(tmp_path / "accuracy", data_dir, tmp_path / "accuracy.txt", benchmark="pydoc-lm",
                        reference=10.0, target_fraction=0.99, task="text_generation", metric="rougeL", fixture=True)
    scores = json.loads(text.splitlines()[0])
    assert set(scores) >= {"rouge1", "rouge2", "rougeL", "rougeLsum", "gen_len", "gen_num", "tokens_per_sample"}
    assert scores["gen_num"] == len(np.load(data_dir / "val_prompt.npy"))  # every prompt, once
    assert 0 < scores["tokens_per_sample"] <= NEW_TOKENS
    assert text.rstrip().splitlines()[-1].startswith("hash=")


def test_server_ranging_records_ttft_and_tpot_of_each_trial(lm, tmp_path):
    model_dir, data_dir = lm
    ranging = range_job(spec("Server", min_duration_ms=2000), model_dir, data_dir, tmp_path / "Server.json", steps=3)
    assert ranging.trials and all(t.ttft_p99_ns and t.tpot_p99_ns for t in ranging.trials if t.target_qps)
