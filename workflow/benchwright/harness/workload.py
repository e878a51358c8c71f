"""What a LoadGen run loads before LoadGen starts: the task, one predictor per SUT worker (a model replica per
device), and the validation split on disk for the sample library."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import load_runner
from ..data.store import Split
from ..devices import require_device, worker_devices
from ..paths import model_file_name
from ..tasks import Task, get_task
from .spec import RunSpec
from .sut import Predict


@dataclass
class Workload:
    task: Task
    predictors: list[Predict]
    """One per SUT worker."""
    samples: Split
    """The validation split, read as LoadGen loads samples."""
    backend: dict[str, Any]
    """What ran the model (the first replica's description), for the run's record."""


class Predictor:
    """A runner and its task: ``predictor(*inputs) -> response rows`` (what the SUT calls). Picklable wrappers
    (tests' steady or caching SUTs) take it as their ``predict``."""

    def __init__(self, runner: Any, task: Task):
        self.runner, self.task = runner, task

    def __call__(self, *inputs: Any) -> Any:
        return self.task.respond(self.runner(self.task.collate(inputs)))


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def model_path(spec: RunSpec, model_dir: str | os.PathLike[str]) -> Path:
    return Path(model_dir) / model_file_name(spec.model.format, spec.precision.value)


def load_workload(spec: RunSpec, model_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str]) -> Workload:
    """Open the validation split and load the model once per device; the SUT's workers share the replicas."""
    m = spec.model
    if m.visible_devices and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = m.visible_devices  # before CUDA initialises
    task = get_task(m.task, m.task_parameters)
    workers = worker_devices(m.devices, spec.threads)
    for device in dict.fromkeys(workers):
        require_device(device, sku=spec.system)
    samples = Split(data_dir, "val", [a.name for a in task.inputs])
    example = samples.rows([0])
    intra = max(1, cores() // (spec.threads if m.devices == ("cpu",) else len(workers)))
    path = model_path(spec, model_dir)
    replicas = {device: Predictor(load_runner(m, task, path, spec.precision, device, example=example,
                                              intra_threads=intra), task)
                for device in dict.fromkeys(workers)}
    first = next(iter(replicas.values()))
    task.check_model(path, first.runner, data_dir)
    return Workload(task, [replicas[d] for d in workers], samples, first.runner.describe())
