"""Tasks by name, as benchmark files refer to them (``task:``). Adding a task is one module and one line here."""

from __future__ import annotations

from .base import ArraySpec, Score, Task
from .image_classification import ImageClassification

TASKS: dict[str, Task] = {task.name: task for task in (ImageClassification(),)}


class UnknownTask(ValueError):
    pass


def get_task(name: str) -> Task:
    key = str(getattr(name, "value", name))
    try:
        return TASKS[key]
    except KeyError:
        raise UnknownTask(f"benchwright has no implementation of the task {key!r} yet; implemented: "
                          f"{', '.join(sorted(TASKS))}") from None


__all__ = ["TASKS", "ArraySpec", "Score", "Task", "UnknownTask", "get_task"]
