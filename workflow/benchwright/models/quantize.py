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

from .records import CALIBRATION_RECORD_VERSION


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


def torchscript_bytes(module: torch.jit.ScriptModule) -> bytes:
    """``torch.jit.save`` of ``module``, made to depend on the module only.

    TorchScript's archive carries a random ``serialization_id`` and, for a traced module, ``*.debug_pkl`` files
    with the Python call stack of the trace (paths and line numbers of the code that traced it): two saves of the
    same model differ. Here the debug records are dropped (loading does not need them; errors then point at the
    TorchScript code instead of the Python source), the id is derived from the archive's content, and every
    entry gets a fixed time, so the same model gives the same bytes and sha256 on any machine and checkout.
    TorchScript numbers the classes it compiles with a counter of the process (``___torch_mangle_<n>``), so this
    holds for a quantization in a fresh process, as the DAG runs it, not for a second one inside a process.
    """
    import hashlib
    import io
    import zipfile

    raw = io.BytesIO()
    torch.jit.save(module, raw)
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src:
        entries = [(info.filename, src.read(info)) for info in src.infolist()
                   if not info.filename.endswith(".debug_pkl")]
    digest = hashlib.sha256()
    for name, blob in entries:
        if not name.endswith("/.data/serialization_id"):
            digest.update(name.encode() + b"\0" + blob)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name, blob in entries:
            if name.endswith("/.data/serialization_id"):
                blob = str(int(digest.hexdigest()[:32], 16)).encode()
            dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), blob)
    return out.getvalue()
