"""One MLPerf training run: train to the quality target with the run's seed, logging through mlperf_logging.mllog.

Only rank 0 writes the log. The log has every key the training rules require (../shared/docs/mlperf-formats.md):
submission_* keys, cache_clear, init_start/init_stop, run_start/run_stop with status, epoch_start/epoch_stop
and eval_start/eval_stop with epoch_num, eval_accuracy, train_samples, eval_samples, seed, global_batch_size,
gradient_accumulation_steps and the optimizer's hyperparameters.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from ..data.preprocess import load_split
from ..fsutil import atomic_write_json, sha256_file, staging_dir
from ..harness.steps import execution_context
from ..devices import training_device
from .spec import TrainingRunSpec

LOG_NAME = "result.txt"
RECORD_VERSION = 1


def _mllogger(path: Path):
    """An MLLogger writing only to ``path`` (mllog's default logger also prints to stdout)."""
    from mlperf_logging.mllog.mllog import MLLogger

    logger = logging.getLogger(f"benchwright.mllog.{path}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return MLLogger(logger=logger, default_stack_offset=1), handler


class _NullLogger:
    def event(self, *a: Any, **k: Any) -> None: ...
    def start(self, *a: Any, **k: Any) -> None: ...
    def end(self, *a: Any, **k: Any) -> None: ...


def training_run(spec: TrainingRunSpec, data_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                 rank: int = 0, world_size: int = 1,
                 detected_file: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """Run one training run; rank 0 places result.txt (the MLPerf log) and record.json in ``out_dir``.

    ``detected_file``: the SKU's detection record; rank 0 checks that its node is the SKU's hardware."""
    from ..detect import node_check

    node = node_check(detected_file) if detected_file and rank == 0 else None
    import torch
    from mlperf_logging.mllog import constants as C

    from ..models import build
    from ..models.train import train

    out = Path(out_dir)
    staging = staging_dir(out) if rank == 0 else None
    log_path = staging / LOG_NAME if staging else None
    ml, handler = _mllogger(log_path) if log_path else (_NullLogger(), None)
    hp = dict(spec.hyperparameters)
    try:
        ml.event(key=C.CACHE_CLEAR, value=True)
        ml.start(key=C.INIT_START)
        ml.event(key=C.SUBMISSION_ORG, value=spec.submitter)
        ml.event(key=C.SUBMISSION_PLATFORM, value=spec.platform)
        ml.event(key=C.SUBMISSION_DIVISION, value=spec.division.value)
        ml.event(key=C.SUBMISSION_STATUS, value=spec.status)
        ml.event(key=C.SUBMISSION_BENCHMARK, value=spec.submission_benchmark)
        ml.event(key=C.SEED, value=spec.seed)
        ml.event(key=C.GLOBAL_BATCH_SIZE, value=int(hp["global_batch_size"]))
        ml.event(key=C.GRADIENT_ACCUMULATION_STEPS, value=1)
        ml.event(key=C.OPT_NAME, value=spec.optimizer)
        for key in sorted(hp):
            if key.startswith("opt_"):
                ml.event(key=key, value=hp[key])
        train_xy = load_split(data_dir, "train")[:2]
        eval_xy = load_split(data_dir, "val")[:2]
        ml.event(key=C.TRAIN_SAMPLES, value=int(len(train_xy[1])))
        ml.event(key=C.EVAL_SAMPLES, value=int(len(eval_xy[1])))
        model = build(spec.architecture, spec.model_parameters, seed=spec.seed)
        ml.end(key=C.INIT_STOP)
        ml.start(key=C.RUN_START)

        def epoch_start(epoch: int) -> None:
            ml.start(key=C.EPOCH_START, metadata={C.EPOCH_NUM: epoch})

        def epoch_stop(epoch: int) -> None:
            ml.end(key=C.EPOCH_STOP, metadata={C.EPOCH_NUM: epoch})

        def eval_start(epoch: int) -> None:
            ml.start(key=C.EVAL_START, metadata={C.EPOCH_NUM: epoch})

        def epoch_end(stats: Any) -> None:
            ml.event(key=C.EVAL_ACCURACY, value=round(stats.eval_accuracy, 6), metadata={C.EPOCH_NUM: stats.epoch})
            ml.end(key=C.EVAL_STOP, metadata={C.EPOCH_NUM: stats.epoch})
            if rank == 0:
                print(f"run {spec.run_index} (seed {spec.seed}): epoch {stats.epoch}, eval accuracy "
                      f"{stats.eval_accuracy:.4f} (target {spec.quality_target})", file=sys.stderr, flush=True)

        result = train(model, train_xy, eval_xy, optimizer=spec.optimizer, hyperparameters=hp, seed=spec.seed,
                       max_epochs=spec.max_epochs, quality_target=spec.quality_target,
                       eval_interval=spec.eval_interval_epochs, on_epoch_start=epoch_start,
                       on_epoch_stop=epoch_stop, on_eval_start=eval_start, on_epoch_end=epoch_end,
                       threads=spec.threads, rank=rank, world_size=world_size,
                       device=training_device(spec.backend, int(os.environ.get("LOCAL_RANK", rank))))
        status = C.SUCCESS if result.reached_target_at is not None else C.ABORTED
        ml.end(key=C.RUN_STOP, metadata={C.STATUS: status})
    except BaseException:
        if staging:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if handler:
            handler.close()
    if rank != 0:
        return None
    times = read_times(log_path)
    record = {
        "version": RECORD_VERSION,
        "spec": spec.model_dump(mode="json"),
        "status": status,
        "converged": status == C.SUCCESS,
        "epochs": len(result.epochs) * spec.eval_interval_epochs if result.reached_target_at is None
        else result.reached_target_at,
        "epochs_to_target": result.reached_target_at,
        "final_accuracy": result.final_accuracy,
        "time_to_train_ms": times["run_stop"] - times["run_start"],
        "log_sha256": sha256_file(log_path),
        "world_size": world_size,
        "torch": torch.__version__,
        "execution": execution_context(),
        "node": node,
    }
    atomic_write_json(staging / "record.json", record)
    import shutil

    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    return record


def read_times(log: str | os.PathLike[str]) -> dict[str, int]:
    """time_ms of run_start and run_stop in an MLPerf training log."""
    times: dict[str, int] = {}
    for line in Path(log).read_text().splitlines():
        if ":::MLLOG" in line:
            entry = json.loads(line.split(":::MLLOG", 1)[1])
            if entry["key"] in ("run_start", "run_stop"):
                times[entry["key"]] = int(entry["time_ms"])
    if set(times) != {"run_start", "run_stop"}:
        raise ValueError(f"{log}: no run_start/run_stop pair; the run did not finish")
    return times
