"""DAG steps of the inference stage: a LoadGen run, performance ranging, and the accuracy check."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from ..fsutil import atomic_write_json, sha256_file, staging_dir
from ..schemas.base import Scenario
from .spec import RunSpec
from .workload import model_path

RECORD_VERSION = 1
SERVER_MARGIN = 0.8
"""The Server run starts at this fraction of the highest VALID QPS found by ranging: short runs are optimistic,
and on a busy machine Python's tail latency is bimodal (p99 8 ms at 17.6k QPS in ranging, 24-100 ms in the
next run while another tenant took a core)."""
SERVER_STEP_DOWN = 0.8
SERVER_ATTEMPTS = 4
"""An INVALID performance run is repeated with its sizing adjusted (Server: SERVER_STEP_DOWN times the QPS;
Offline: twice the expected QPS when it ended before its minimum duration; SingleStream/MultiStream: half the
expected latency when LoadGen ran out of queries), up to SERVER_ATTEMPTS runs in all. Every attempt is
recorded, so the result shows how far from the ranging estimate it landed."""


def next_attempt(spec: RunSpec, result: Any) -> RunSpec | None:
    """The settings of the next attempt after an INVALID performance run, or None when no knob would help."""
    scenario = spec.scenario.value
    if scenario == "Server" and spec.target_qps:
        return spec.model_copy(update={"target_qps": round(spec.target_qps * SERVER_STEP_DOWN, 1)})
    short = result.min_duration_met is False or result.min_queries_met is False
    if scenario == "Offline" and short:
        return spec.model_copy(update={"expected_qps": round((spec.expected_qps or 1000.0) * 2, 1)})
    if scenario in ("SingleStream", "MultiStream") and short and spec.target_latency_ms:
        return spec.model_copy(update={"target_latency_ms": round(spec.target_latency_ms / 2, 6)})
    return None
OFFLINE_MARGIN = 1.25
"""Offline's expected QPS is the measured throughput times this, so the run is never shorter than its minimum."""
LATENCY_MARGIN = 0.5
"""SingleStream/MultiStream's expected latency is the measured median times this: LoadGen pre-generates queries
for the minimum duration at the expected latency, and runs out (INVALID) when the model is faster."""


class InvalidRun(BenchwrightError):
    """LoadGen judged a performance run INVALID."""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def execution_context() -> dict[str, Any]:
    """Where and with what the job ran: see :func:`benchwright.provenance.run_facts`."""
    from ..provenance import run_facts

    return run_facts()


def apply_ranging(spec: RunSpec, ranging: dict[str, Any] | None) -> RunSpec:
    if not ranging:
        return spec
    if spec.scenario.value == "Server":
        return spec.model_copy(update={"target_qps": ranging["target_qps"]})
    if spec.scenario.value == "Offline":
        return spec.model_copy(update={"expected_qps": ranging["expected_qps"]})
    return spec.model_copy(update={"target_latency_ms": ranging["expected_latency_ms"]})


def loadgen_job(spec: RunSpec, model_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str],
                out_dir: str | os.PathLike[str], *, ranging_file: str | os.PathLike[str] | None = None,
                detected_file: str | os.PathLike[str] | None = None,
                audit_config: str | None = None, require_valid: bool = True) -> dict[str, Any]:
    """Run LoadGen and place its logs, user.conf and record.json in ``out_dir`` atomically.

    A performance run that LoadGen judges INVALID is kept as ``<out_dir>.invalid`` for inspection and fails.
    """
    from ..detect import node_check
    from .isolate import run_isolated, run_model
    from .logs import read_run
    from .settings import loads_in_this_process

    node = node_check(detected_file) if detected_file else None  # the node this job runs on is the SKU's
    ranging = json.loads(Path(ranging_file).read_text()) if ranging_file else None
    spec = apply_ranging(spec, ranging)
    out = Path(out_dir)
    attempts: list[dict[str, Any]] = []
    tries = SERVER_ATTEMPTS if spec.mode == "performance" else 1
    for attempt in range(1, tries + 1):
        staging = staging_dir(out)
        try:
            if attempt == 1 and not loads_in_this_process():  # this process's first LoadGen run
                outcome = run_model(spec, str(model_dir), str(data_dir), str(staging), audit_config)
            else:
                outcome = run_isolated(spec, model_dir, data_dir, staging, audit=audit_config)
            result = read_run(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        attempts.append({"target_qps": spec.target_qps, "expected_qps": spec.expected_qps,
                         "target_latency_ms": spec.target_latency_ms, "validity": result.result_validity,
                         "metric": result.metric_value, "p99_ns": result.latency.p99_ns})
        following = next_attempt(spec, result) if result.result_validity != "VALID" else None
        if following is None or attempt == tries:
            break
        shutil.rmtree(staging, ignore_errors=True)
        _log(f"{spec.scenario.value} run is INVALID ({result.invalid_reason}); retrying with "
             f"{ {k: v for k, v in following.model_dump().items() if v != spec.model_dump()[k]} }")
        spec = following
    try:
        record = {
            "version": RECORD_VERSION,
            "spec": spec.model_dump(mode="json"),
            "smoke": spec.run_mode.value == "smoke",
            "result": result.model_dump(mode="json"),
            "attempts": attempts,
            "sut": {"samples_issued": outcome.issued, "samples_completed": outcome.completed,
                    "batches": outcome.batches, "wall_s": round(outcome.wall_s, 3)},
            "energy": outcome.energy,
            "backend": outcome.backend,
            "model_sha256": sha256_file(model_path(spec, model_dir)),
            "ranging": ranging,
            "detected": node["effective"] if node else None,
            "node": node,
            "execution": execution_context(),
        }
        atomic_write_json(staging / "record.json", record)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    invalid = spec.mode == "performance" and result.result_validity != "VALID"
    target = out.with_name(out.name + ".invalid") if invalid and require_valid else out
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    if result.errors:
        _log(f"LoadGen reported {len(result.errors)} error(s): {result.errors[:3]}")
    if invalid and require_valid:
        raise InvalidRun(
            f"benchwright: the {spec.scenario.value} {spec.precision.value} performance run of {spec.benchmark} on "
            f"{spec.system} is INVALID ({result.invalid_reason or 'see the summary'}).\n"
            f"  logs: {target}/mlperf_log_summary.txt\n"
            "  fix: for Server lower target_qps (or let ranging find it), for Offline raise expected_qps, "
            "for SingleStream/MultiStream check target_latency_ms in the SKU's tuning")
    _log(f"{spec.scenario.value} {spec.precision.value} {spec.mode}: {result.metric} = {result.metric_value} "
         f"{result.metric_unit}, {result.result_validity or 'accuracy run'}")
    return record


def _short(spec: RunSpec, **update: Any) -> RunSpec:
    duration = 2000 if spec.run_mode.value == "smoke" else 10000
    return spec.model_copy(update={"mode": "performance", "min_duration_ms": min(duration, spec.min_duration_ms or duration),
                                   "progress_interval_s": 60.0, **update})


def _bisect_server(spec: RunSpec, throughput: float, steps: int, trial: Any, trials: list) -> dict[str, Any]:
    lo, hi = 0.0, throughput  # Server can never sustain more than the Offline throughput
    best = None
    for i in range(steps):
        qps = hi if i == 0 else (lo + hi) / 2
        result = trial(_short(spec, target_qps=round(qps, 1)), f"server-{i}")
        if result.result_validity == "VALID":
            best, lo = qps, qps
            if i == 0:
                break  # the Offline throughput itself meets the latency bound
        else:
            hi = qps
    if best is None:
        raise InvalidRun(f"benchwright: no Server QPS between 0 and {throughput:.0f} was VALID for {spec.benchmark} on "
                         f"{spec.system} within the {spec.target_latency_ms} ms latency bound; check the SKU's "
                         f"batch_size and batching_timeout_us (trials: {trials})")
    return {"scenario": "Server", "max_valid_qps": round(best, 1),
            "target_qps": round(max(1.0, math.floor(best * SERVER_MARGIN)), 1), "offline_qps": throughput}


def range_job(spec: RunSpec, model_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str],
              out_file: str | os.PathLike[str], *, work_dir: str | os.PathLike[str] | None = None,
              steps: int = 6) -> dict[str, Any]:
    """Size a scenario's run from short runs: Offline's expected QPS (one run), the highest VALID Server QPS
    (bisection under the Offline throughput), SingleStream/MultiStream's expected latency (one run)."""
    import tempfile

    from .isolate import run_isolated
    from .logs import read_run

    scratch = Path(work_dir or tempfile.mkdtemp(prefix="benchwright-ranging-"))
    trials: list[dict[str, Any]] = []

    def trial(s: RunSpec, name: str) -> Any:
        # Each trial in a process of its own, so it runs with the official mlperf.conf like the real run.
        run_isolated(s, model_dir, data_dir, scratch / name)
        result = read_run(scratch / name)
        trials.append({"target_qps": s.target_qps, "expected_qps": s.expected_qps,
                       "validity": result.result_validity, "metric": result.metric_value,
                       "p99_ns": result.latency.p99_ns})
        _log(f"ranging {s.scenario.value}: {name}: {result.metric} {result.metric_value}, {result.result_validity}")
        return result

    if spec.scenario.value in ("SingleStream", "MultiStream"):
        result = trial(_short(spec), "latency-0")
        median_ms = (result.latency.p50_ns or 1_000_000) / 1e6
        outcome: dict[str, Any] = {"scenario": spec.scenario.value, "measured_p50_ms": round(median_ms, 4),
                                   "expected_latency_ms": round(max(0.001, median_ms * LATENCY_MARGIN), 4)}
    else:
        guess = spec.expected_qps or 1000.0
        offline = trial(_short(spec.model_copy(update={"scenario": Scenario.Offline}), expected_qps=guess,
                               target_qps=None, target_latency_ms=None, target_latency_percentile=None), "offline-0")
        throughput = float(offline.metric_value or guess)
        if spec.scenario.value == "Offline":
            outcome = {"scenario": "Offline", "expected_qps": round(throughput * OFFLINE_MARGIN, 1),
                       "measured_qps": throughput}
        else:
            outcome = _bisect_server(spec, throughput, steps, trial, trials)
    outcome.update({"version": RECORD_VERSION, "benchmark": spec.benchmark, "system": spec.system,
                    "precision": spec.precision.value, "trials": trials})
    if work_dir is None:
        shutil.rmtree(scratch, ignore_errors=True)
    atomic_write_json(out_file, outcome)
    return outcome


__all__ = ["InvalidRun", "apply_ranging", "loadgen_job", "range_job"]


def accuracy_job(run_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str], out_file: str | os.PathLike[str],
                 *, benchmark: str, reference: float, target_fraction: float, task: str = "image_classification",
                 metric: str = "top1") -> str:
    """The task's accuracy script on an AccuracyOnly run: writes accuracy.txt (official form + hash line) when the
    accuracy reaches reference x target_fraction; raises AccuracyBelowTarget otherwise (nothing written)."""
    from ..data.store import load_array
    from ..fsutil import atomic_write_text
    from ..tasks import get_task
    from .accuracy import check_accuracy, read_accuracy_log

    log = Path(run_dir) / "mlperf_log_accuracy.json"
    kind = get_task(task)
    samples = len(load_array(data_dir, "val", kind.labels[0]))
    score = kind.score(read_accuracy_log(log), data_dir, metric)
    text = f"{score.text}\nhash={sha256_file(log)}\n"
    _log(text.rstrip())
    if score.total != samples:
        raise InvalidRun(f"benchwright: the accuracy run {run_dir} answered {score.total} of {samples} samples; "
                         "an accuracy run must cover the whole sample set")
    check_accuracy(score, benchmark=benchmark, reference=reference, target_fraction=target_fraction,
                   log_path=log)
    atomic_write_text(out_file, text)
    return text
