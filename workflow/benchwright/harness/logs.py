"""A typed record of one LoadGen run, read from its ``mlperf_log_detail.txt``.

The detail log is the only source: it holds every requested and effective setting, the result keys and the
errors and warnings LoadGen raised, one ``:::MLLOG {json}`` line each. The summary and the screen output are
renderings of the same facts and are never parsed.

Key names are those mlcommons-loadgen 6.0.17 writes (checked by running it in ``tests/unit/test_harness_logs.py``):

- validity: ``result_validity`` (VALID/INVALID), ``result_invalid_reason``, ``result_min_duration_met``,
  ``result_min_queries_met``, ``result_perf_constraints_met`` (Server only);
- metrics: SingleStream ``early_stopping_latency_ss`` (0 when too few queries ran for an estimate), MultiStream
  ``early_stopping_latency_ms`` (``ms`` is MultiStream, the value is in ns), Server
  ``result_completed_samples_per_sec`` (and ``result_scheduled_samples_per_sec``), Offline
  ``result_samples_per_second``; SingleStream also has ``result_qps_with[out]_loadgen_overhead``;
- latencies: ``result_{min,max,mean}_latency_ns`` and ``result_{50.00,...,99.90}_percentile_latency_ns`` (per sample),
  MultiStream also ``result_{min,max,mean}_query_latency_ns`` and ``result_XX.XX_percentile_per_query_latency_ns``;
- early stopping: ``early_stopping_met`` (bool) and ``early_stopping_result`` (text);
- settings: ``requested_*`` and ``effective_*`` (e.g. ``effective_min_duration_ms``, ``effective_qsl_rng_seed``);
- errors and warnings: any line whose ``metadata.is_error`` / ``metadata.is_warning`` is true
  (e.g. ``error_runtime``, ``warning_generic_message``); performance runs also log ``num_errors``;
- run boundaries: ``power_begin`` / ``power_end`` (local time, millisecond resolution), logged at the end of every
  test, accuracy runs included. Accuracy runs log no ``result_*`` key at all.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from benchwright.errors import BenchwrightError
from benchwright.harness.scenarios import policy
from benchwright.schemas.base import JsonScalar, Scenario, Spec

DETAIL_LOG = "mlperf_log_detail.txt"
MLLOG_PREFIX = ":::MLLOG"

# Keys that only a finished performance run writes; an accuracy run is finished once ``power_end`` is logged.
_PERF_DONE_KEY = "result_validity"
_ACCURACY_DONE_KEY = "power_end"
_POWER_TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"

_PERCENTILES = {"p50_ns": "50.00", "p90_ns": "90.00", "p95_ns": "95.00", "p97_ns": "97.00", "p99_ns": "99.00",
                "p99_9_ns": "99.90"}


class LogError(BenchwrightError):
    """A LoadGen log is missing, empty or incomplete (e.g. the run was killed); the message names the file."""


class DetailLog(dict[str, Any]):
    """The key -> value map of a detail log (last occurrence wins), with what else the parse found.

    ``errors`` and ``warnings`` hold the full records (key, value, metadata, ...) of the lines LoadGen flagged
    ``is_error`` / ``is_warning``, in file order; ``invalid_lines`` the 1-based numbers of the non-blank lines that
    were not a valid ``:::MLLOG`` record (a run killed while writing leaves a cut last line).
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.errors: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.invalid_lines: list[int] = []
        self.record_count = 0

    @property
    def invalid_line_count(self) -> int:
        return len(self.invalid_lines)


def parse_detail(path: str | os.PathLike[str]) -> DetailLog:
    """Parse every ``:::MLLOG {json}`` line of ``path`` into a :class:`DetailLog` (a ``dict[str, Any]``).

    Lines that are not valid records are skipped and counted in ``invalid_lines``; the file must exist.
    """
    path = Path(path)
    log = DetailLog(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            record = _record(text)
            if record is None:
                log.invalid_lines.append(number)
                continue
            log.record_count += 1
            log[record["key"]] = record.get("value")
            metadata = record.get("metadata")
            if isinstance(metadata, dict):
                if metadata.get("is_error") is True:
                    log.errors.append(record)
                if metadata.get("is_warning") is True:
                    log.warnings.append(record)
    return log


def _record(text: str) -> dict[str, Any] | None:
    if not text.startswith(MLLOG_PREFIX):
        return None
    try:
        record = json.loads(text[len(MLLOG_PREFIX):])
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return None
    return record


class LatencyStats(Spec):
    """Latency statistics of a run in nanoseconds, as LoadGen logged them (None when absent)."""

    min_ns: int | None = None
    """Smallest latency."""
    max_ns: int | None = None
    """Largest latency."""
    mean_ns: int | None = None
    """Mean latency (rounded to whole ns)."""
    p50_ns: int | None = None
    """50th percentile."""
    p90_ns: int | None = None
    """90th percentile."""
    p95_ns: int | None = None
    """95th percentile."""
    p97_ns: int | None = None
    """97th percentile."""
    p99_ns: int | None = None
    """99th percentile."""
    p99_9_ns: int | None = None
    """99.9th percentile."""


class RunResult(Spec):
    """What one LoadGen run measured and under which settings, read from its mlperf_log_detail.txt."""

    version: int = 1
    """Version of this record's layout."""
    scenario: Scenario
    """The LoadGen scenario that ran (``effective_scenario``)."""
    mode: Literal["PerformanceOnly", "AccuracyOnly"]
    """The LoadGen test mode (``effective_test_mode``)."""
    sut_name: str | None = None
    """Name the SUT reported to LoadGen."""
    test_datetime: str | None = None
    """When the test started, UTC, as LoadGen logged it."""

    metric: str
    """The scenario's MLPerf metric, e.g. "90th percentile latency" or "samples per second"."""
    metric_unit: Literal["ns", "samples/s"]
    """Unit of ``metric_value``."""
    metric_value: float | None = None
    """The metric's value; None in accuracy mode (and when LoadGen logged none)."""
    metric_key: str | None = None
    """The LoadGen key ``metric_value`` was read from: the early-stopping estimate for SingleStream/MultiStream,
    or the plain percentile when too few queries ran for an estimate (LoadGen then logs 0)."""

    scheduled_samples_per_sec: float | None = None
    """Server: the rate LoadGen scheduled queries at (``result_scheduled_samples_per_sec``)."""
    completed_samples_per_sec: float | None = None
    """Server: the rate queries completed at (``result_completed_samples_per_sec``)."""
    samples_per_second: float | None = None
    """Offline: samples per second (``result_samples_per_second``)."""
    qps_with_loadgen_overhead: float | None = None
    """SingleStream: queries per second including LoadGen's overhead."""
    qps_without_loadgen_overhead: float | None = None
    """SingleStream: queries per second excluding LoadGen's overhead."""

    latency: LatencyStats = LatencyStats()
    """Per-sample latencies (``result_*_latency_ns``); all None in accuracy mode."""
    query_latency: LatencyStats | None = None
    """MultiStream: per-query latencies (``result_*_query_latency_ns``), the basis of its metric."""

    first_token_latency: LatencyStats | None = None
    """Runs with ``use_token_latencies`` (LLMs): time to first token (``result_first_token_*_latency_ns``)."""
    time_per_output_token: LatencyStats | None = None
    """Runs with ``use_token_latencies``: time per output token after the first
    (``result_time_per_output_token_XX.XX_percentile_ns``; min/max/mean from ``result_time_to_output_token_*``)."""
    tokens_per_second: float | None = None
    """Runs with ``use_token_latencies``: output tokens per second (Server ``result_completed_tokens_per_second``,
    Offline ``result_tokens_per_second``)."""

    early_stopping_met: bool | None = None
    """Whether LoadGen's early-stopping criterion was met; None in accuracy mode."""
    early_stopping_detail: str | None = None
    """LoadGen's explanation of the early-stopping outcome (``early_stopping_result``)."""
    result_validity: Literal["VALID", "INVALID"] | None = None
    """LoadGen's verdict on the performance run; None in accuracy mode."""
    invalid_reason: str | None = None
    """LoadGen's recommendation when the run is INVALID (``result_invalid_reason``), None when empty."""
    min_duration_met: bool | None = None
    """``result_min_duration_met``."""
    min_queries_met: bool | None = None
    """``result_min_queries_met``."""
    perf_constraints_met: bool | None = None
    """Server: the latency bound held (``result_perf_constraints_met``); None in other scenarios."""
    overlatency_query_count: int | None = None
    """Server: queries over the latency bound (``result_overlatency_query_count``)."""

    effective: dict[str, JsonScalar] = {}
    """Every ``effective_*`` setting with the prefix removed: min_duration_ms, min_query_count, target_qps,
    target_latency_ns, samples_per_query, qsl_rng_seed, sample_index_rng_seed, schedule_rng_seed,
    performance_sample_count, ..."""
    requested: dict[str, JsonScalar] = {}
    """Every ``requested_*`` setting with the prefix removed."""
    duration_ns: int | None = None
    """Length of the timed run, from ``power_begin`` to ``power_end`` (millisecond resolution)."""
    loadgen: dict[str, JsonScalar] = {}
    """LoadGen's build facts: every scalar ``loadgen_*`` key (loadgen_version, loadgen_git_commit_date, ...)."""

    errors: list[str] = []
    """Lines LoadGen flagged as errors, as "key: value"."""
    warnings: list[str] = []
    """Lines LoadGen flagged as warnings, as "key: value"."""
    unparsed_lines: int = 0
    """Non-blank lines of the detail log that were not valid records (e.g. a cut last line)."""

    query_count: int
    """Queries the run issued (``result_query_count``, or ``generated_query_count`` in accuracy mode)."""
    sample_count: int
    """Samples the run issued: queries x samples per query."""

    @property
    def valid(self) -> bool:
        """True for a performance run LoadGen declared VALID."""
        return self.result_validity == "VALID"


def read_run(run_dir: str | os.PathLike[str]) -> RunResult:
    """Read the :class:`RunResult` of the LoadGen run whose logs are in ``run_dir``.

    Raises :class:`LogError` naming the file when mlperf_log_detail.txt is missing, empty, or ends before the
    run's results (a killed run).
    """
    path = Path(run_dir) / DETAIL_LOG
    if not path.is_file():
        raise LogError(f"{path}: LoadGen's detail log is missing; did the run start, and was this folder its "
                       f"log_output.outdir?")
    if path.stat().st_size == 0:
        raise LogError(f"{path}: LoadGen's detail log is empty; the run did not get as far as logging its settings "
                       f"(killed at start?). Run it again.")
    log = parse_detail(path)
    if log.record_count == 0:
        raise LogError(f"{path}: no ':::MLLOG' record in the file ({log.invalid_line_count} unreadable lines); "
                       f"this is not a LoadGen detail log.")
    return run_result(log)


def run_result(log: DetailLog) -> RunResult:
    """Build the :class:`RunResult` of a parsed detail log (see :func:`read_run`)."""
    path = log.path
    scenario_name = log.get("effective_scenario", log.get("requested_scenario"))
    mode = log.get("effective_test_mode", log.get("requested_test_mode"))
    try:
        scenario = Scenario(scenario_name)
    except ValueError:
        raise LogError(f"{path}: no known scenario in the log (effective_scenario={scenario_name!r}); expected one "
                       f"of {', '.join(s.value for s in Scenario)}.") from None
    if mode not in ("PerformanceOnly", "AccuracyOnly"):
        raise LogError(f"{path}: test mode {mode!r} is not supported; run PerformanceOnly and AccuracyOnly "
                       f"separately, each into a folder of its own.")
    done_key = _PERF_DONE_KEY if mode == "PerformanceOnly" else _ACCURACY_DONE_KEY
    if done_key not in log:
        raise LogError(f"{path}: the log has no result keys ({done_key!r} missing after {log.record_count} records, "
                       f"{log.invalid_line_count} unreadable lines): the {mode} run did not finish (killed, crashed "
                       f"or timed out). Run it again.")

    metric = policy(scenario).metric  # the early-stopping estimates are what MLCommons' checker reports
    name, unit, keys = metric.name, metric.unit, metric.keys
    metric_value: float | None = None
    metric_key: str | None = None
    if mode == "PerformanceOnly":
        for key in keys:
            value = _number(log.get(key))
            if value is not None and value > 0:
                metric_value, metric_key = value, key
                break

    samples_per_query = _int(log.get("generated_samples_per_query", log.get("effective_samples_per_query"))) or 1
    query_count = _int(log.get("result_query_count", log.get("generated_query_count"))) or 0
    validity = log.get("result_validity")

    return RunResult(
        scenario=scenario,
        mode=mode,
        sut_name=_str(log.get("sut_name")),
        test_datetime=_str(log.get("test_datetime")),
        metric=name,
        metric_unit=unit,
        metric_value=metric_value,
        metric_key=metric_key,
        scheduled_samples_per_sec=_number(log.get("result_scheduled_samples_per_sec")),
        completed_samples_per_sec=_number(log.get("result_completed_samples_per_sec")),
        samples_per_second=_number(log.get("result_samples_per_second")),
        qps_with_loadgen_overhead=_number(log.get("result_qps_with_loadgen_overhead")),
        qps_without_loadgen_overhead=_number(log.get("result_qps_without_loadgen_overhead")),
        latency=_latency(log, "result_{}_latency_ns", "result_{}_percentile_latency_ns"),
        query_latency=(_latency(log, "result_{}_query_latency_ns", "result_{}_percentile_per_query_latency_ns")
                       if "result_min_query_latency_ns" in log else None),
        first_token_latency=(_latency(log, "result_first_token_{}_latency_ns",
                                      "result_first_token_{}_percentile_latency_ns")
                             if "result_first_token_min_latency_ns" in log else None),
        time_per_output_token=(_latency(log, "result_time_to_output_token_{}",
                                        "result_time_per_output_token_{}_percentile_ns")
                               if "result_time_per_output_token_50.00_percentile_ns" in log else None),
        tokens_per_second=_number(log.get("result_completed_tokens_per_second", log.get("result_tokens_per_second"))),
        early_stopping_met=_bool(log.get("early_stopping_met")),
        early_stopping_detail=_str(log.get("early_stopping_result")),
        result_validity=validity if validity in ("VALID", "INVALID") else None,
        invalid_reason=_str(log.get("result_invalid_reason")),
        min_duration_met=_bool(log.get("result_min_duration_met")),
        min_queries_met=_bool(log.get("result_min_queries_met")),
        perf_constraints_met=_bool(log.get("result_perf_constraints_met")),
        overlatency_query_count=_int(log.get("result_overlatency_query_count")),
        effective=_prefixed(log, "effective_"),
        requested=_prefixed(log, "requested_"),
        duration_ns=_duration_ns(log.get("power_begin"), log.get("power_end")),
        loadgen={k: v for k, v in log.items() if k.startswith("loadgen_") and _is_scalar(v)},
        errors=[_describe(r) for r in log.errors],
        warnings=[_describe(r) for r in log.warnings],
        unparsed_lines=log.invalid_line_count,
        query_count=query_count,
        sample_count=query_count * samples_per_query,
    )


def _latency(log: DetailLog, plain: str, percentile: str) -> LatencyStats:
    values: dict[str, int | None] = {f"{stat}_ns": _int(log.get(plain.format(stat))) for stat in ("min", "max", "mean")}
    for field, pct in _PERCENTILES.items():
        values[field] = _int(log.get(percentile.format(pct)))
    return LatencyStats(**values)


def _prefixed(log: DetailLog, prefix: str) -> dict[str, JsonScalar]:
    return {k.removeprefix(prefix): v for k, v in log.items() if k.startswith(prefix) and _is_scalar(v)}


def _duration_ns(begin: Any, end: Any) -> int | None:
    if not isinstance(begin, str) or not isinstance(end, str):
        return None
    try:
        delta = datetime.strptime(end, _POWER_TIME_FORMAT) - datetime.strptime(begin, _POWER_TIME_FORMAT)
    except ValueError:
        return None
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _describe(record: dict[str, Any]) -> str:
    value = record.get("value")
    return f"{record['key']}: {value if isinstance(value, str) else json.dumps(value)}"


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _number(value)
    return None if number is None else round(number)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None
