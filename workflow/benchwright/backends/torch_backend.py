"""PyTorch in-process: a registered architecture with its state_dict, a TorchScript archive, a torch.export
archive, or benchwright's own INT8 TorchScript model, on the CPU or a CUDA device."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..devices import device_kind, place, precision_problem, torch_dtype
from ..schemas.base import Precision
from ..schemas.benchmark import ModelFormat
from .base import ModelLoadError, ModelSpec


class TorchRunner:
    def __init__(self, module: Any, device: str, precision: Precision, dtype: Any, how: str):
        import torch

        self.module, self.device, self.precision, self.dtype, self.how = module, device, precision, dtype, how
        self._autocast = precision is Precision.bf16 and device == "cpu"
        self._torch = torch

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            tensors = [place(torch.from_numpy(a), self.device) for a in inputs]
            if self.dtype is not torch.float32:
                tensors = [t.to(self.dtype) if t.is_floating_point() else t for t in tensors]
            if self._autocast:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = self.module(*tensors)
            else:
                out = self.module(*tensors)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            return [(o.float() if o.is_floating_point() and o.dtype is not torch.float32 else o).cpu().numpy()
                    for o in outs]

    def describe(self) -> dict[str, Any]:
        return {"backend": "torch", "device": self.device, "loaded_as": self.how,
                "torch_threads": self._torch.get_num_threads()}


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise ModelLoadError(f"benchwright: the model file {path} does not exist.\n  fix: run the workflow's model "
                             "step again (the DAG makes it), or check the benchmark's `model.weights`")


def load_torch(spec: ModelSpec, model_file: str | os.PathLike[str], precision: Precision | str, device: str,
               example: Sequence[np.ndarray]) -> TorchRunner:
    """Load the model for one device; fp32/bf16 state_dicts become a frozen TorchScript graph, as before."""
    import torch

    path = Path(model_file)
    _check_file(path)
    p = Precision(precision)
    problem = precision_problem(device, p)
    if problem:
        raise ModelLoadError(f"benchwright: {problem}.\n  fix: run {p.value} on a SKU whose device runs it, or "
                             "drop it from the campaign's precisions")
    dtype = torch_dtype(p, device)
    map_location = device if device_kind(device) == "cuda" else "cpu"
    try:
        if p is Precision.int8:
            from ..models.quantize import default_backend

            torch.backends.quantized.engine = default_backend()
            module, how = torch.jit.load(str(path), map_location="cpu").eval(), "int8 torchscript"
        elif spec.format is ModelFormat.state_dict:
            from ..models import build

            net = build(spec.architecture or "", spec.parameters)
            state = torch.load(path, map_location=map_location, weights_only=True)
            net.load_state_dict(state)
            net = net.eval().to(device=map_location, dtype=dtype)
            ex = [place(torch.from_numpy(np.ascontiguousarray(a[:1])), device).to(dtype) for a in example]
            with torch.inference_mode():
                module = torch.jit.freeze(torch.jit.trace(net, tuple(ex)).eval())
            how = "state_dict, traced and frozen"
        elif spec.format is ModelFormat.torchscript:
            module, how = torch.jit.load(str(path), map_location=map_location).eval(), "torchscript"
            if dtype is not torch.float32:
                module = module.to(dtype)
        elif spec.format is ModelFormat.torch_export:
            program = torch.export.load(str(path))
            module, how = program.module().to(map_location), "torch.export"
            if dtype is not torch.float32:
                module = module.to(dtype)
        else:
            raise ModelLoadError(f"the torch backend does not load {spec.format.value} models")
    except ModelLoadError:
        raise
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        raise ModelLoadError(f"benchwright: {path} could not be loaded as a {spec.format.value} model at "
                             f"{p.value} on {device}: {exc}\n  fix: check `model.format` and `model.architecture` "
                             "in the benchmark file against the file") from None
    return TorchRunner(module, device, p, dtype, how)
