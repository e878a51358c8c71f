"""What every model backend shares: the model a run loads (``ModelSpec``), the runner it returns, and its errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import PositiveInt

from ..errors import BenchwrightError
from ..schemas.base import Identifier, JsonScalar, Spec
from ..schemas.benchmark import Backend, Endpoint, ModelFormat


class ModelLoadError(BenchwrightError):
    """The model file is missing, is not what the benchmark says, or cannot run here."""


class ModelSpec(Spec):
    """The model of one run, resolved from the benchmark and the SKU (part of the RunSpec every run records)."""

    task: Identifier
    """The task (benchwright.tasks)."""

    backend: Backend = Backend.torch
    """What runs the model."""

    harness: tuple[str, ...] | None = None
    """``backend: external``: the harness command, placeholders unexpanded (benchwright.harness.external)."""

    endpoint: Endpoint | None = None
    """``backend: endpoint``: the OpenAI-compatible server that generates (its key only named, never held)."""

    format: ModelFormat = ModelFormat.state_dict
    """How the FP32 model is stored."""

    architecture: Identifier | None = None
    """Registered architecture (state_dict)."""

    parameters: dict[str, JsonScalar] = {}
    """Architecture parameters."""

    inputs: dict[str, str] = {}
    """Task input -> model input name (unset: the task's own name)."""

    outputs: dict[str, str] = {}
    """Task output -> model output name (unset: the task's own name)."""

    task_parameters: dict[str, JsonScalar] = {}
    """The benchmark's ``model.task_parameters``: how the task reads the outputs (e.g. ``class_offset``)."""

    devices: tuple[str, ...] = ("cpu",)
    """The node's devices: cpu, or cuda:<i> per accelerator."""

    visible_devices: str | None = None
    """CUDA_VISIBLE_DEVICES of the run (MIG instances)."""

    provider: Literal["auto", "cpu", "cuda", "tensorrt"] = "auto"
    """onnxruntime's execution provider."""

    allow_cpu_fallback: bool = False
    """onnxruntime on an accelerator: may operators fall back to the CPU."""

    intra_op_threads: PositiveInt | None = None
    """Threads of one model call; unset: the job's cores divided among the workers."""

    inter_op_threads: PositiveInt | None = None
    """onnxruntime: threads running independent operators in parallel."""


class Runner(Protocol):
    """A loaded model on one device: ``runner(inputs) -> outputs`` (numpy in, numpy out, in the task's order).
    Safe to call from several threads at once."""

    device: str

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]: ...

    def describe(self) -> dict[str, Any]:
        """What ran the model (backend, device, providers, threads), for the run's record."""
        ...


def model_name(mapping: dict[str, str], task_name: str) -> str:
    return mapping.get(task_name, task_name)
