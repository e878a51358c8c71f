"""DAG steps of the inference stage: a LoadGen run, performance ranging, and the accuracy check."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write_json, atomic_write_text, sha256_file, staging_dir
from .scenarios import InvalidRun, Ranging, RangingTrial, policy
from .spec import RunSpec
from .workload import model_path

RECORD_VERSION = 1
SERVER_ATTEMPTS = 4
"""An INVALID performance run is repeated with its sizing adjusted by its scenario policy's ``next_attempt``
(Server: SERVER_STEP_DOWN times the QPS;
Offline: twice the expected QPS when it ended before its minimum duration; SingleStream/MultiStream: half the
expected latency when LoadGen ran out of queries), up to SERVER_ATTEMPTS runs in all. Every attempt is
recorded, so the result shows how far from the ranging estimate it landed."""


def next_attempt(spec: RunSpec, result: Any) -> RunSpec | None:
    """The settings of the next attempt after an INVALID performance run, or None when no knob would help."""
    return policy(spec.scenario).next_attempt(spec, result)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def execution_context() -> dict[str, Any]:
    """Where and with what the job ran: see :func:`benchwright.provenance.run_facts`."""
    from ..provenance import run_facts

    return run_facts()


def read_ranging(spec: RunSpec, path: str | os.PathLike[str]) -> Ranging:
    """The ranging result of the spec's scenario, read from ``path``."""
    return policy(spec.scenario).ranging_model().model_validate_json(Path(path).read_text())


def apply_ranging(spec: RunSpec, ranging: Ranging | dict[str, Any] | None) -> RunSpec:
    """The spec sized by a ranging result (a dict is validated as the scenario's ranging model)."""
    if not ranging:
        return spec
    scenario = policy(spec.scenario)
    if isinstance(ranging, dict):
        ranging = scenario.ranging_model().model_validate(ranging)
    return scenario.apply_ranging(spec, ranging)


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
    ranging = read_ranging(spec, ranging_file) if ranging_file else None
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
            "fixture": spec.fixture,
            "result": result.model_dump(mode="json"),
            "attempts": attempts,
            "sut": {"samples_issued": outcome.issued, "samples_completed": outcome.completed,
                    "batches": outcome.batches, "wall_s": round(outcome.wall_s, 3)},
            "energy": outcome.energy,
            "backend": outcome.backend,
            "model_sha256": sha256_file(model_path(spec, model_dir)),
            "ranging": ranging.model_dump(mode="json") if ranging else None,
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


def range_job(spec: RunSpec, model_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str],
              out_file: str | os.PathLike[str], *, work_dir: str | os.PathLike[str] | None = None,
              steps: int = 6) -> Ranging:
    """Size a scenario's run from short runs (its policy's ``range``) and write the result to ``out_file``."""
    import tempfile

    from .isolate import run_isolated
    from .logs import read_run

    scratch = Path(work_dir or tempfile.mkdtemp(prefix="benchwright-ranging-"))
    trials: list[RangingTrial] = []

    def trial(s: RunSpec, name: str) -> Any:
        # Each trial in a process of its own, so it runs with the official mlperf.conf like the real run.
        run_isolated(s, model_dir, data_dir, scratch / name)
        result = read_run(scratch / name)
        ttft, tpot = result.first_token_latency, result.time_per_output_token
        trials.append(RangingTrial(target_qps=s.target_qps, expected_qps=s.expected_qps,
                                   validity=result.result_validity, metric=result.metric_value,
                                   p99_ns=result.latency.p99_ns, ttft_p99_ns=ttft.p99_ns if ttft else None,
                                   tpot_p99_ns=tpot.p99_ns if tpot else None))
        _log(f"ranging {s.scenario.value}: {name}: {result.metric} {result.metric_value}, {result.result_validity}")
        return result

    outcome = policy(spec.scenario).range(spec, trial, trials, steps)
    if work_dir is None:
        shutil.rmtree(scratch, ignore_errors=True)
    atomic_write_text(out_file, outcome.model_dump_json(indent=2) + "\n")
    return outcome


__all__ = ["InvalidRun", "apply_ranging", "loadgen_job", "range_job"]


def accuracy_job(run_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str], out_file: str | os.PathLike[str],
                 *, benchmark: str, reference: float, target_fraction: float, task: str = "image_classification",
                 metric: str = "top1", fixture: bool = False, keep_below_target: bool = False) -> str:
    """The task's accuracy script on an AccuracyOnly run: writes accuracy.txt (official form + hash line) when the
    accuracy reaches reference x target_fraction; raises AccuracyBelowTarget otherwise (nothing written).

    ``fixture``: the run is on `benchwright fixture` stand-ins (a random-weight model), which cannot reach the
    target: accuracy.txt is written whatever the score, and a miss is logged, not raised. ``keep_below_target``:
    the same for a real model (the DAG: a miss is a result that the report shows and the bundle refuses)."""
    from ..data.store import open_array
    from ..fsutil import atomic_write_text
    from ..tasks import get_task
    from .accuracy import AccuracyBelowTarget, check_accuracy, read_accuracy_log

    log = Path(run_dir) / "mlperf_log_accuracy.json"
    kind = get_task(task)
    labels = open_array(data_dir, "val", kind.labels[0])  # fixed-shape or ragged: one row per sample
    samples = len(labels)
    labels.close()
    score = kind.score(read_accuracy_log(log), data_dir, metric)
    text = f"{score.text}\nhash={sha256_file(log)}\n"
    _log(text.rstrip())
    if score.total != samples:
        raise InvalidRun(f"benchwright: the accuracy run {run_dir} answered {score.total} of {samples} samples; "
                         "an accuracy run must cover the whole sample set")
    try:
        check_accuracy(score, benchmark=benchmark, reference=reference, target_fraction=target_fraction,
                       log_path=log)
    except AccuracyBelowTarget as exc:
        if fixture:
            _log(f"fixture run: {str(exc).splitlines()[0]} (expected of a random-weight stand-in; not gated)")
        elif keep_below_target:
            _log(f"{str(exc).splitlines()[0]}: recorded as the result (the report shows it, the bundle refuses it)")
        else:
            raise
    atomic_write_text(out_file, text)
    return text
