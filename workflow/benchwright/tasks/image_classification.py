"""Image classification: one image tensor in, the class out, scored by top-1 as MLCommons' accuracy-imagenet.py.

The model's first output is either scores (n, classes), whose argmax is the class, or the class itself (n,) or
(n, 1) of an integer type (a model with an ArgMax output). A response is the class plus the task parameter
``class_offset``, as one little-endian int32: the labels' numbering. MLCommons' official resnet50_v1.onnx has 1001
classes (0 is "background"), so its classes are val_map.txt's plus one; its benchmark sets ``class_offset: -1``, as
the reference post-processes that model (main.py: ``PostProcessCommon(offset=-1)`` for the imagenet dataset).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .base import ArraySpec, Score, Task, read_labels


class ImageClassification(Task):
    name: ClassVar[str] = "image_classification"
    inputs: ClassVar[tuple[ArraySpec, ...]] = (ArraySpec("x", "float32"),)
    outputs: ClassVar[tuple[str, ...]] = ("logits",)
    labels: ClassVar[tuple[str, ...]] = ("y",)
    preprocessors: ClassVar[tuple[str, ...]] = ("digits", "imagenet")
    metrics: ClassVar[tuple[str, ...]] = ("top1",)
    parameters: ClassVar[dict[str, int | float | str | bool]] = {"class_offset": 0}

    def respond(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        out = outputs[0]
        if out.dtype.kind == "f" or (out.ndim == 2 and out.shape[1] > 1):
            classes = out.argmax(axis=1)
        else:
            classes = out.reshape(len(out))
        offset = int(self.settings["class_offset"])
        return np.ascontiguousarray(classes.astype(np.int64) + offset if offset else classes, dtype="<i4")

    def score(self, entries: list[dict[str, Any]], data_dir: str | os.PathLike[str], metric: str) -> Score:
        from ..harness.accuracy import top1_accuracy

        result = top1_accuracy(entries, read_labels(data_dir, "y"))
        return Score(metrics={"top1": result.accuracy}, primary="top1", total=result.total, text=result.line())
