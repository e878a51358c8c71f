"""External training implementations: a benchmark's ``training.implementation`` command makes one seeded run.

benchwright runs the command in the run's staging folder with the placeholders below filled in, then holds the
MLPerf log it wrote to ``{log}`` to what a run of its own leaves: run_start and run_stop, the seed it was given,
eval_accuracy per evaluation. It records the run like its own (time to train from the log, status, epochs to the
target) beside the log, so mlperf-logging's checkers, the score and the bundle treat both alike.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from ..fsutil import atomic_write_json, sha256_file, staging_dir
from ..harness.external import harness_command
from .spec import TrainingRunSpec

PLACEHOLDERS: dict[str, str] = {
    "seed": "this run's seed (log it as `seed`)",
    "run_index": "the run's index among the benchmark's required runs (0, 1, ...)",
    "log": "where to write the run's MLPerf log (mllog), result.txt in {output}",
    "output": "the run's folder; also the working directory",
    "data": "the preprocessed data folder",
    "config": "the implementation's config file (`training.implementation.config`), or empty",
    "world_size": "the SKU's accelerators (1 on a CPU SKU)",
    "benchmark": "the name to log as submission_benchmark",
    "submitter": "submission_org",
    "platform": "submission_platform (the SKU's system name)",
    "division": "submission_division",
    "status": "submission_status",
    "quality_target": "the evaluation accuracy that ends the run (a fraction)",
    "max_epochs": "the epochs after which an unconverged run is logged aborted",
}
"""Every placeholder of a training implementation's command, with what it becomes (paths are absolute)."""

LOG_NAME = "result.txt"
RECORD_VERSION = 1


class ExternalTrainingError(BenchwrightError):
    """The implementation failed, or its MLPerf log is not a run benchwright can score."""


def _entries(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if ":::MLLOG" in line:
            try:
                out.append(json.loads(line.split(":::MLLOG", 1)[1]))
            except ValueError:
                continue
    return out


def external_training_run(spec: TrainingRunSpec, data_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                          *, detected_file: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Run the implementation once for ``spec``; place result.txt and record.json in ``out_dir`` atomically."""
    from mlperf_logging.mllog import constants as C

    from ..detect import node_check
    from ..harness.steps import execution_context

    assert spec.implementation is not None
    node = node_check(detected_file) if detected_file else None
    out = Path(out_dir)
    staging = staging_dir(out).resolve()
    log = staging / LOG_NAME
    config = Path(spec.implementation_config).resolve() if spec.implementation_config else None
    values = {"seed": str(spec.seed), "run_index": str(spec.run_index), "log": str(log), "output": str(staging),
              "data": str(Path(data_dir).resolve()), "config": str(config) if config else "",
              "world_size": str(spec.world_size), "benchmark": spec.submission_benchmark,
              "submitter": spec.submitter, "platform": spec.platform, "division": spec.division.value,
              "status": spec.status, "quality_target": f"{spec.quality_target:g}", "max_epochs": str(spec.max_epochs)}
    try:
        if config is not None and not config.is_file():
            raise ExternalTrainingError(f"benchwright: the implementation's config file {config} does not exist.\n"
                                        "  fix: put it beside the benchmark file, or correct "
                                        "`training.implementation.config`")
        cmd = _command(spec.implementation, values)
        shown = shlex.join(cmd)
        print(f"benchwright: external training run {spec.run_index} (seed {spec.seed}): {shown}", file=sys.stderr,
              flush=True)
        try:
            proc = subprocess.run(cmd, cwd=staging, stdout=sys.stderr, stderr=sys.stderr)
        except FileNotFoundError:
            raise ExternalTrainingError(f"benchwright: the implementation's command {cmd[0]!r} was not found.\n  "
                                        "fix: check `training.implementation.command` in the benchmark file") from None
        if proc.returncode != 0:
            raise ExternalTrainingError(f"benchwright: the training implementation exited {proc.returncode}: "
                                        f"{shown}\n  fix: its output above says why")
        if not log.is_file() or not log.stat().st_size:
            raise ExternalTrainingError(f"benchwright: the training implementation exited 0 but wrote no MLPerf log "
                                        f"at {log}: {shown}\n  fix: write the mllog of the run to {{log}}")
        record = _record(spec, log, _entries(log), C)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    record.update(implementation={"command": cmd, "config": spec.implementation_config,
                                  "config_sha256": sha256_file(config) if config else None},
                  execution=execution_context(), node=node)
    atomic_write_json(staging / "record.json", record)
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    return record


def _command(template: tuple[str, ...], values: dict[str, str]) -> list[str]:
    try:
        return harness_command(template, values, known=PLACEHOLDERS, field="training.implementation.command")
    except BenchwrightError as exc:
        raise ExternalTrainingError(str(exc)) from None


def _record(spec: TrainingRunSpec, log: Path, entries: list[dict[str, Any]], C: Any) -> dict[str, Any]:
    """The run's record from its log, as benchwright.training.run records its own runs."""
    def values(key: str) -> list[dict[str, Any]]:
        return [e for e in entries if e.get("key") == key]

    starts, stops = values(C.RUN_START), values(C.RUN_STOP)
    if len(starts) != 1 or len(stops) != 1:
        raise ExternalTrainingError(f"benchwright: {log} has {len(starts)} run_start and {len(stops)} run_stop "
                                    "lines; a run logs one of each.\n  fix: log run_start before training and "
                                    "run_stop (with metadata status) at its end")
    seeds = [e.get("value") for e in values(C.SEED)]
    if seeds != [spec.seed]:
        raise ExternalTrainingError(f"benchwright: {log} logs seed {seeds or 'none'}, but this run's seed is "
                                    f"{spec.seed}.\n  fix: pass {{seed}} to the implementation and log it as `seed`")
    status = (stops[0].get("metadata") or {}).get(C.STATUS)
    evals = [(int((e.get("metadata") or {}).get(C.EPOCH_NUM, 0)), float(e["value"])) for e in values(C.EVAL_ACCURACY)]
    reached = next((epoch for epoch, acc in evals if acc >= spec.quality_target), None)
    converged = status == C.SUCCESS and reached is not None
    return {
        "version": RECORD_VERSION,
        "spec": spec.model_dump(mode="json"),
        "status": status,
        "converged": converged,
        "epochs": reached if converged else (evals[-1][0] if evals else 0),
        "epochs_to_target": reached if converged else None,
        "final_accuracy": evals[-1][1] if evals else None,
        "time_to_train_ms": int(stops[0]["time_ms"]) - int(starts[0]["time_ms"]),
        "log_sha256": sha256_file(log),
        "world_size": spec.world_size,
    }
