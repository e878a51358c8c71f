"""ONNX Runtime: an .onnx file in an InferenceSession, threads from the SKU's tuning, the execution provider from
the SKU (CPU here; CUDA or TensorRT on NVIDIA SKUs, with a CPU fallback only where the campaign allows it)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..devices import DeviceError, device_kind, ort_providers, provider_names
from ..schemas.base import Precision
from .base import ModelLoadError, ModelSpec, model_name

ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
              "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
              "tensor(bool)": "bool"}


def describe_io(args: Sequence[Any]) -> str:
    return ", ".join(f"{a.name} {ORT_DTYPES.get(a.type, a.type)} {list(a.shape)}" for a in args)


class OrtRunner:
    def __init__(self, session: Any, input_names: list[str], output_names: list[str], input_dtypes: list[str],
                 device: str, threads: tuple[int, int]):
        self.session, self.device = session, device
        self.input_names, self.output_names, self.input_dtypes = input_names, output_names, input_dtypes
        self.threads = threads
        self._run = session.run

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {name: (a if a.dtype == dt else a.astype(dt))
                for name, a, dt in zip(self.input_names, inputs, self.input_dtypes)}
        return self._run(self.output_names, feed)

    def describe(self) -> dict[str, Any]:
        import onnxruntime

        return {"backend": "onnxruntime", "onnxruntime": onnxruntime.__version__, "device": self.device,
                "providers": self.session.get_providers(), "intra_op_threads": self.threads[0],
                "inter_op_threads": self.threads[1]}


def session_options(intra: int, inter: int, *, on_accelerator: bool, allow_cpu_fallback: bool) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = intra
    so.inter_op_num_threads = inter
    so.execution_mode = ort.ExecutionMode.ORT_PARALLEL if inter > 1 else ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if on_accelerator and not allow_cpu_fallback:
        so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    return so


def load_ort(spec: ModelSpec, model_file: str | os.PathLike[str], precision: Precision | str, device: str,
             task_inputs: Sequence[str], task_outputs: Sequence[str], intra_threads: int) -> OrtRunner:
    """An InferenceSession for one device, its input and output names checked against the benchmark's mapping."""
    import onnxruntime as ort

    path = Path(model_file)
    if not path.is_file():
        raise ModelLoadError(f"benchwright: the model file {path} does not exist.\n  fix: check `model.weights` "
                             "in the benchmark file (the DAG copies and checks it into results/models/)")
    p = Precision(precision)
    if p is not Precision.fp32 and not (p is Precision.fp16 and spec.provider == "tensorrt"):
        raise ModelLoadError(f"benchwright: the onnxruntime backend runs an ONNX model at the precision it is stored "
                             f"in (fp32); {p.value} is not available.\n  fix: run fp32, or fp16 with "
                             "`onnxruntime.provider: tensorrt` on an NVIDIA SKU")
    providers = ort_providers(spec.provider, device, p)
    available = ort.get_available_providers()
    missing = [n for n in provider_names(providers) if n not in available]
    if missing:
        raise DeviceError(f"benchwright: the run needs onnxruntime's {', '.join(missing)} on {device}, but this "
                          f"onnxruntime ({ort.__version__}) has only {', '.join(available)}.\n  fix: install "
                          "onnxruntime-gpu (CUDA/TensorRT) in the SKU's image, or run on a CPU SKU")
    intra = spec.intra_op_threads or intra_threads
    inter = spec.inter_op_threads or 1
    options = session_options(intra, inter, on_accelerator=device_kind(device) != "cpu",
                              allow_cpu_fallback=spec.allow_cpu_fallback)
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelLoadError(f"benchwright: onnxruntime could not load {path} on {device} "
                             f"({', '.join(provider_names(providers))}): {str(exc).strip().splitlines()[0]}\n"
                             "  fix: check that the file is the benchmark's ONNX model; on an accelerator, an "
                             "operator its provider lacks needs `allow_cpu_fallback: true` in the campaign") from None
    real_in, real_out = session.get_inputs(), session.get_outputs()
    want_in = [model_name(spec.inputs, n) for n in task_inputs]
    want_out = [model_name(spec.outputs, n) for n in task_outputs]
    names_in, names_out = [a.name for a in real_in], [a.name for a in real_out]
    wrong = [n for n in want_in if n not in names_in] + [n for n in want_out if n not in names_out]
    if wrong or len(names_in) != len(want_in):
        raise ModelLoadError(
            f"benchwright: {path} does not have the inputs and outputs the benchmark maps "
            f"(inputs {want_in}, outputs {want_out}"
            + (f"; not in the model: {wrong}" if wrong else "")
            + (f"; the model takes {len(names_in)} input(s), the task gives {len(want_in)}"
               if len(names_in) != len(want_in) else "") + ").\n"
            f"  the model's inputs:  {describe_io(real_in)}\n"
            f"  the model's outputs: {describe_io(real_out)}\n"
            "  fix: map the task's names to these under `model.inputs` / `model.outputs` in the benchmark file")
    dtypes = [ORT_DTYPES.get(next(a for a in real_in if a.name == n).type, "float32") for n in want_in]
    return OrtRunner(session, want_in, want_out, dtypes, device, (intra, inter))
