"""RunResult from real LoadGen detail logs: each scenario run with a tiny in-process SUT, short settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import mlperf_loadgen as lg

from ..loadgen_helpers import start_test
import numpy as np
import pytest
from pydantic import ValidationError

from benchwright.harness.logs import DETAIL_LOG, LogError, RunResult, parse_detail, read_run
from benchwright.schemas.base import Scenario

SAMPLES = 1024
MIN_DURATION_MS = 300
# The v6.1 seeds LoadGen 6.0.16+ embeds in its mlperf.conf (docs/mlperf-formats.md).
OFFICIAL_SEEDS = {"qsl_rng_seed": 2085463073848966840, "sample_index_rng_seed": 2747215439041700203,
                  "schedule_rng_seed": 16159082839903944936}


class TinySUT:
    """Answers every sample with a 4-byte int32 (qsl_idx % 1000), optionally after ``delay_s`` per issue call."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.qsl = lg.ConstructQSL(SAMPLES, SAMPLES, lambda s: None, lambda s: None)
        self.sut = lg.ConstructSUT(self._issue, lambda: None)

    def _issue(self, queries) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        data = np.array([q.index % 1000 for q in queries], dtype="<i4")
        base = data.ctypes.data
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, base + 4 * i, 4) for i, q in enumerate(queries)])

    def run(self, outdir: Path, scenario: str, mode: str = "PerformanceOnly", *, delay_s: float = 0.0,
            configure: Callable[[lg.TestSettings], None] | None = None, **settings) -> Path:
        self.delay_s = delay_s
        ts = lg.TestSettings()
        if configure is not None:
            configure(ts)
        ts.scenario = getattr(lg.TestScenario, scenario)
        ts.mode = getattr(lg.TestMode, mode)
        for name, value in settings.items():
            setattr(ts, name, value)
        return start_test(self.sut, self.qsl, ts, outdir)

    def close(self) -> None:
        lg.DestroySUT(self.sut)
        lg.DestroyQSL(self.qsl)


def _official_run(out: Path, user_conf: Path) -> Path:
    sut = TinySUT()
    try:
        return sut.run(out, "SingleStream", delay_s=0.001,
                       configure=lambda ts: ts.FromConfig(str(user_conf), "resnet50", "SingleStream"))
    finally:
        sut.close()


def _in_fresh_process(func, *args):
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(func, *args).result(timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("loadgen")
    sut = TinySUT()
    short = {"min_duration_ms": MIN_DURATION_MS}
    user_conf = root / "user.conf"
    user_conf.write_text("*.SingleStream.min_duration = 200\n*.SingleStream.min_query_count = 10\n"
                         "*.SingleStream.target_latency = 1\n")
    try:
        yield {
            # A 1 ms SUT with a matching expected latency: LoadGen pre-generates enough queries, so these are VALID.
            "SingleStream": sut.run(root / "ss", "SingleStream", delay_s=0.001, min_query_count=100,
                                    single_stream_expected_latency_ns=1_000_000, **short),
            # Early stopping for the MultiStream 99th percentile needs at least 662 queries.
            "MultiStream": sut.run(root / "ms", "MultiStream", delay_s=0.001, min_query_count=662,
                                   multi_stream_expected_latency_ns=1_000_000, **short),
            "Server": sut.run(root / "server", "Server", min_query_count=500, server_target_qps=1000,
                              server_target_latency_ns=15_000_000, **short),
            # One query of 1000 qps x 0.3 s x 1.1 = 330 samples; answered after 0.35 s, so min_duration holds.
            "Offline": sut.run(root / "offline", "Offline", delay_s=0.35, min_query_count=1,
                               offline_expected_qps=1000, **short),
            "accuracy": sut.run(root / "acc", "SingleStream", "AccuracyOnly"),
            # A null SUT answers in microseconds: the 601 queries pre-generated for 1 ms each run out long before
            # min_duration, which LoadGen reports as an error and an INVALID run.
            "ran_out": sut.run(root / "ran_out", "SingleStream", min_query_count=100,
                               single_stream_expected_latency_ns=1_000_000, **short),
            # 20 queries are fewer than the 64 the SingleStream early-stopping estimate needs.
            "few": sut.run(root / "few", "SingleStream", delay_s=0.001, min_duration_ms=20, min_query_count=10,
                           single_stream_expected_latency_ns=1_000_000),
            # The official mlperf.conf (built into LoadGen) plus a user.conf, loaded once: in a process of its
            # own, since LoadGen applies mlperf.conf only on a process's first load (another test may have had it).
            "official": _in_fresh_process(_official_run, root / "official", user_conf),
        }
    finally:
        sut.close()


# --- parse_detail -------------------------------------------------------------------------------------------------


def test_parse_detail_reads_every_record(runs):
    log = parse_detail(runs["SingleStream"] / DETAIL_LOG)
    assert log.invalid_line_count == 0
    assert log.record_count >= 90
    assert log["effective_scenario"] == "SingleStream"
    assert log["effective_min_duration_ms"] == MIN_DURATION_MS
    assert log["result_validity"] == "VALID"
    assert log["loadgen_version"].startswith("6.")
    assert log["num_errors"] == 0 and log.errors == []


def test_parse_detail_collects_loadgen_errors(runs):
    log = parse_detail(runs["ran_out"] / DETAIL_LOG)
    assert [e["key"] for e in log.errors] == ["error_runtime"]
    assert "Ran out of generated queries" in log.errors[0]["value"]
    assert log["num_errors"] == 1
    assert all(w["metadata"]["is_warning"] for w in log.warnings)


# --- performance runs ---------------------------------------------------------------------------------------------

EXPECTED = {
    "SingleStream": ("90th percentile latency", "ns", "early_stopping_latency_ss"),
    "MultiStream": ("99th percentile latency", "ns", "early_stopping_latency_ms"),
    "Server": ("completed samples per second", "samples/s", "result_completed_samples_per_sec"),
    "Offline": ("samples per second", "samples/s", "result_samples_per_second"),
}


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_performance_run_is_valid_with_its_metric(runs, scenario):
    result = read_run(runs[scenario])
    log = parse_detail(runs[scenario] / DETAIL_LOG)
    name, unit, key = EXPECTED[scenario]
    assert result.scenario is Scenario(scenario)
    assert result.mode == "PerformanceOnly"
    assert (result.metric, result.metric_unit, result.metric_key) == (name, unit, key)
    assert result.metric_value == pytest.approx(log[key]) and result.metric_value > 0
    assert result.result_validity == "VALID" and result.valid, result.invalid_reason
    assert result.early_stopping_met is True
    assert result.min_duration_met is True and result.min_queries_met is True
    assert result.errors == []
    assert result.effective["min_duration_ms"] == MIN_DURATION_MS
    assert result.requested["min_duration_ms"] == MIN_DURATION_MS
    assert result.effective["scenario"] == scenario
    assert {"qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed", "performance_sample_count",
            "min_query_count", "target_qps", "target_latency_ns", "samples_per_query"} <= result.effective.keys()
    assert result.effective["performance_sample_count"] == SAMPLES
    assert result.query_count >= result.effective["min_query_count"]
    assert result.sample_count == result.query_count * result.effective["samples_per_query"]
    assert result.duration_ns is not None and result.duration_ns >= MIN_DURATION_MS * 1_000_000
    lat = result.latency
    assert 0 < lat.min_ns <= lat.p50_ns <= lat.p90_ns <= lat.p95_ns <= lat.p97_ns <= lat.p99_ns <= lat.p99_9_ns
    assert lat.p99_9_ns <= lat.max_ns and lat.min_ns <= lat.mean_ns <= lat.max_ns
    assert result.loadgen["loadgen_version"].startswith("6.")
    assert result.unparsed_lines == 0


def test_single_stream_metric_is_the_early_stopping_estimate(runs):
    result = read_run(runs["SingleStream"])
    # The estimate discards the highest latencies less aggressively than the plain percentile: never below it.
    assert result.metric_value >= result.latency.p90_ns >= 1_000_000  # the SUT sleeps 1 ms per query
    assert result.qps_with_loadgen_overhead > 0 and result.qps_without_loadgen_overhead > 0
    assert "90.0th percentile estimate" in result.early_stopping_detail
    assert result.query_latency is None and result.perf_constraints_met is None


def test_multi_stream_reports_per_query_latency(runs):
    result = read_run(runs["MultiStream"])
    assert result.effective["samples_per_query"] == 8
    assert result.query_latency is not None
    assert result.metric_value >= result.query_latency.p99_ns >= 1_000_000
    assert result.sample_count == 8 * result.query_count


def test_server_reports_rates_and_latency_bound(runs):
    result = read_run(runs["Server"])
    assert result.effective["target_qps"] == 1000
    assert result.effective["target_latency_ns"] == 15_000_000
    assert result.scheduled_samples_per_sec > 0 and result.completed_samples_per_sec == result.metric_value
    assert result.perf_constraints_met is True
    assert result.overlatency_query_count == 0
    assert result.latency.p99_ns < 15_000_000


def test_offline_issues_one_query_of_all_samples(runs):
    result = read_run(runs["Offline"])
    assert result.query_count == 1
    assert result.sample_count == result.effective["samples_per_query"] == 330
    assert result.samples_per_second == result.metric_value
    # 330 samples answered after a 0.35 s sleep: just under 1000 samples/s.
    assert 300 < result.metric_value < 1000


def test_accuracy_run_has_no_metric_and_no_verdict(runs):
    result = read_run(runs["accuracy"])
    assert result.mode == "AccuracyOnly" and result.scenario is Scenario.SingleStream
    assert result.metric == "90th percentile latency" and result.metric_value is None and result.metric_key is None
    assert result.result_validity is None and result.early_stopping_met is None and not result.valid
    assert result.query_count == SAMPLES and result.sample_count == SAMPLES
    assert result.latency.p90_ns is None
    assert result.errors == []


def test_run_that_ran_out_of_queries_is_invalid_with_the_reason(runs):
    result = read_run(runs["ran_out"])
    assert result.result_validity == "INVALID"
    assert result.min_duration_met is False
    assert result.invalid_reason.startswith("Decrease the expected latency")
    assert len(result.errors) == 1 and result.errors[0].startswith("error_runtime: Ending early: Ran out")


def test_too_few_queries_for_early_stopping(runs):
    result = read_run(runs["few"])
    log = parse_detail(runs["few"] / DETAIL_LOG)
    assert result.result_validity == "INVALID"
    assert result.early_stopping_met is False
    assert "at least 64 queries" in result.early_stopping_detail
    # LoadGen logs a 0 estimate then; the metric falls back to the plain percentile and says so.
    assert log["early_stopping_latency_ss"] == 0
    assert result.metric_key == "result_90.00_percentile_latency_ns"
    assert result.metric_value == result.latency.p90_ns > 0


def test_official_config_carries_the_v61_seeds(runs):
    result = read_run(runs["official"])
    for key, seed in OFFICIAL_SEEDS.items():
        assert result.effective[key] == seed and result.requested[key] == seed
    assert result.effective["min_duration_ms"] == 200
    assert result.errors == []  # FromConfig called once: no "Multiple conf files are used"
    assert result.valid


# --- the record itself ---------------------------------------------------------------------------------------------


def test_run_result_round_trips_and_is_strict(runs):
    result = read_run(runs["official"])
    again = RunResult.model_validate_json(result.model_dump_json())
    assert again == result
    assert again.effective["schedule_rng_seed"] == OFFICIAL_SEEDS["schedule_rng_seed"]  # > 2**63, kept exact
    with pytest.raises(ValidationError):
        RunResult.model_validate({**result.model_dump(), "bogus": 1})
    with pytest.raises(ValidationError):
        result.metric_value = 1.0  # frozen


def test_every_field_is_documented():
    assert all(field.description for field in RunResult.model_fields.values())


# --- broken logs --------------------------------------------------------------------------------------------------


def _cut_at(src: Path, dst_dir: Path, key: str, keep_chars: int) -> Path:
    """Copy the real log up to the line holding ``key``, keeping ``keep_chars`` of that line (a killed write)."""
    text = (src / DETAIL_LOG).read_text()
    start = text.index(f'"key": "{key}"')
    start = text.rindex("\n", 0, start) + 1
    dst_dir.mkdir()
    (dst_dir / DETAIL_LOG).write_text(text[: start + keep_chars])
    return dst_dir


def test_killed_run_before_its_results_is_an_error(runs, tmp_path):
    killed = _cut_at(runs["Server"], tmp_path / "killed", "result_validity", 30)
    log = parse_detail(killed / DETAIL_LOG)
    assert log.invalid_line_count == 1  # the cut line: skipped, counted
    assert "effective_target_qps" in log and "result_validity" not in log
    with pytest.raises(LogError) as info:
        read_run(killed)
    message = str(info.value)
    assert str(killed / DETAIL_LOG) in message and "did not finish" in message


def test_killed_accuracy_run_is_an_error(runs, tmp_path):
    killed = _cut_at(runs["accuracy"], tmp_path / "killed", "power_end", 12)
    with pytest.raises(LogError, match="did not finish"):
        read_run(killed)


def test_cut_last_line_after_the_results_is_skipped_and_counted(runs, tmp_path):
    cut = _cut_at(runs["Server"], tmp_path / "cut", "num_errors", 40)
    result = read_run(cut)
    assert result.valid and result.unparsed_lines == 1
    assert result.metric_value == read_run(runs["Server"]).metric_value


def test_missing_and_empty_logs_are_errors(tmp_path):
    with pytest.raises(LogError, match="missing") as info:
        read_run(tmp_path)
    assert str(tmp_path / DETAIL_LOG) in str(info.value)
    (tmp_path / DETAIL_LOG).write_bytes(b"")
    with pytest.raises(LogError, match="empty"):
        read_run(tmp_path)
