"""Tasks by name, as benchmark files refer to them (``task:``). Adding a task is one module and one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ArraySpec, Score, Task, TaskParameterError
from .image_classification import ImageClassification
from .question_answering import QuestionAnswering
from .text_generation import TextGeneration

TASKS: dict[str, Task] = {task.name: task for task in (ImageClassification(), QuestionAnswering(), TextGeneration())}


class UnknownTask(ValueError):
    pass


def get_task(name: str, parameters: Mapping[str, Any] | None = None) -> Task:
    """The task ``name``, configured with a benchmark's ``model.task_parameters`` when given."""
    key = str(getattr(name, "value", name))
    try:
        task = TASKS[key]
    except KeyError:
        raise UnknownTask(f"benchwright has no implementation of the task {key!r} yet; implemented: "
                          f"{', '.join(sorted(TASKS))}") from None
    return task.configure(parameters) if parameters else task


__all__ = ["TASKS", "ArraySpec", "Score", "Task", "TaskParameterError", "UnknownTask", "get_task"]
