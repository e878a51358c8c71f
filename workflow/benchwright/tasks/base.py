"""What a task is: the named arrays of a sample, the preprocessors that make them, how a model's outputs become
LoadGen responses, and the accuracy script that scores those responses.

The SUT calls :meth:`Task.respond` on every batch, so it turns the backend's outputs into one contiguous array of
fixed-size response rows; LoadGen logs each row's bytes in mlperf_log_accuracy.json, which :meth:`Task.score`
reads back, as MLCommons' accuracy script for the task does.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
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

    @abstractmethod
    def respond(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        """The backend's outputs for a batch of n samples -> an (n, ...) C-contiguous array: row i is the bytes
        LoadGen returns (and logs in accuracy mode) for sample i."""

    def collate(self, columns: Sequence[np.ndarray | list[np.ndarray]]) -> list[np.ndarray]:
        """The sample library's rows -> the backend's inputs. Fixed-shape tasks need nothing; a task with
        variable-shape inputs pads or packs here."""
        return list(columns)  # type: ignore[arg-type]

    @abstractmethod
    def score(self, entries: list[dict[str, Any]], data_dir: str | os.PathLike[str], metric: str) -> Score:
        """The accuracy script: score LoadGen's accuracy log entries against the validation split's labels."""


def read_labels(data_dir: str | os.PathLike[str], name: str) -> np.ndarray:
    return np.load(Path(data_dir) / f"val_{name}.npy", allow_pickle=False)
