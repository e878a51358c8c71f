"""What a task is: the named arrays of a sample, the preprocessors that make them, how a model's outputs become
LoadGen responses, and the accuracy script that scores those responses.

The SUT calls :meth:`Task.respond` on every batch, so it turns the backend's outputs into one contiguous array of
fixed-size response rows; LoadGen logs each row's bytes in mlperf_log_accuracy.json, which :meth:`Task.score`
reads back, as MLCommons' accuracy script for the task does.
"""

from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..schemas.base import Spec


@dataclass(frozen=True)
class ArraySpec:
    """One named array of a sample. ``shape`` is per sample, ``None`` where it varies (taken from the data)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None = None
    """None: any fixed shape, read from the preprocessed data."""


class TaskParameterError(ValueError):
    """A benchmark sets a task parameter the task does not declare, or a value of the wrong type."""


class Score(Spec):
    """An accuracy script's result: the metrics, and the lines of accuracy.txt in the official form."""

    metrics: dict[str, float]
    """Metric name -> value (percent where the official script prints percent)."""
    primary: str
    """The metric the target applies to."""
    total: int
    """Distinct samples scored."""
    text: str
    """accuracy.txt without its hash line, as the official script prints it."""

    @property
    def value(self) -> float:
        return self.metrics[self.primary]


class Task(ABC):
    """One kind of ML task. Subclasses are registered in :data:`benchwright.tasks.TASKS` by ``name``."""

    name: ClassVar[str]
    inputs: ClassVar[tuple[ArraySpec, ...]]
    """What the model takes, in order; stored as ``<split>_<name>.npy`` by the preprocessors."""
    outputs: ClassVar[tuple[str, ...]]
    """The model outputs the task reads, in order."""
    labels: ClassVar[tuple[str, ...]]
    """Ground-truth arrays of the validation split the accuracy script reads."""
    preprocessors: ClassVar[tuple[str, ...]]
    """Registered preprocessors (benchwright.data.preprocess) that produce this task's arrays."""
    metrics: ClassVar[tuple[str, ...]]
    """Metrics a benchmark's ``accuracy.metric`` may name."""
    parameters: ClassVar[dict[str, int | float | str | bool]] = {}
    """The task's own parameters and their defaults; a benchmark sets them in ``model.task_parameters``."""

    def configure(self, values: Mapping[str, Any] | None = None) -> Task:
        """This task with ``values`` over its declared ``parameters`` (``self.settings``); raises
        :class:`TaskParameterError` for a name the task does not declare or a value of another type."""
        values = dict(values or {})
        for key, value in values.items():
            if key not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                raise TaskParameterError(f"the {self.name} task has no parameter `{key}` (its parameters: {known})")
            default = self.parameters[key]
            if isinstance(default, float):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                ok = type(value) is type(default)
            if not ok:
                raise TaskParameterError(f"the {self.name} task's parameter `{key}` takes a "
                                         f"{type(default).__name__} (default {default!r}), got {value!r}")
        task = copy.copy(self)
        task.settings = {**self.parameters, **values}
        return task

    @property
    def settings(self) -> dict[str, Any]:
        """The parameters in force: the declared defaults unless :meth:`configure` set others."""
        return self.__dict__.get("_settings", dict(self.parameters))

    @settings.setter
    def settings(self, values: dict[str, Any]) -> None:
        self.__dict__["_settings"] = dict(values)

    @abstractmethod
    def respond(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        """The backend's outputs for a batch of n samples -> an (n, ...) C-contiguous array: row i is the bytes
        LoadGen returns (and logs in accuracy mode) for sample i."""

    def collate(self, columns: Sequence[np.ndarray | list[np.ndarray]]) -> list[np.ndarray]:
        """The sample library's rows -> the backend's inputs. Fixed-shape tasks need nothing; a task with
        variable-shape inputs pads or packs here."""
        return list(columns)  # type: ignore[arg-type]

    def check_model(self, model_file: str | os.PathLike[str], runner: Any, data_dir: str | os.PathLike[str]) -> None:
        """Called once a model is loaded for a run: raise ``ModelLoadError`` (with a fix) when the model cannot fit
        the preprocessed data (question_answering: the vocabulary's size). Most tasks need nothing."""

    @abstractmethod
    def score(self, entries: list[dict[str, Any]], data_dir: str | os.PathLike[str], metric: str) -> Score:
        """The accuracy script: score LoadGen's accuracy log entries against the validation split's labels."""


def read_labels(data_dir: str | os.PathLike[str], name: str) -> np.ndarray:
    return np.load(Path(data_dir) / f"val_{name}.npy", allow_pickle=False)
