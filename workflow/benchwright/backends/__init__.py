"""Model backends by name (``model.backend``): each loads a model file for one device and returns a runner.

Adding a backend is one module with a ``load`` function and one entry in :func:`load_runner`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..schemas.base import Precision
from ..schemas.benchmark import Backend
from ..tasks import Task
from .base import ModelLoadError, ModelSpec, Runner


def load_runner(spec: ModelSpec, task: Task, model_file: str | os.PathLike[str], precision: Precision | str,
                device: str, *, example: Sequence[np.ndarray], intra_threads: int) -> Runner:
    """Load ``model_file`` with the benchmark's backend on ``device``."""
    if spec.backend is Backend.onnxruntime:
        from .ort import load_ort

        return load_ort(spec, model_file, precision, device, [a.name for a in task.inputs], task.outputs,
                        intra_threads)
    import torch

    from .torch_backend import load_torch

    torch.set_num_threads(spec.intra_op_threads or intra_threads)
    return load_torch(spec, model_file, precision, device, example)


__all__ = ["ModelLoadError", "ModelSpec", "Runner", "load_runner"]
