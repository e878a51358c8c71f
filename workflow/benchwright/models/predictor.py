"""Load a benchmark's model at a precision and classify batches: what the LoadGen SUT calls."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import build


class Predictor:
    """``predictor(batch) -> int32 class ids``; thread-safe for concurrent calls (inference mode, no state)."""

    def __init__(self, module: torch.nn.Module, precision: str):
        self.module = module
        self.precision = precision

    def __call__(self, batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            if self.precision == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = self.module(batch)
            else:
                logits = self.module(batch)
        return logits.argmax(1).to(torch.int32).numpy()


def load_predictor(model_dir: str | os.PathLike[str], precision: str, *, architecture: str,
                   parameters: Mapping[str, Any], example: torch.Tensor) -> Predictor:
    """fp32/bf16: the reference weights in a frozen TorchScript graph; int8: the quantized TorchScript model."""
    model_dir = Path(model_dir)
    if precision == "int8":
        from .quantize import default_backend

        torch.backends.quantized.engine = default_backend()
        module = torch.jit.load(str(model_dir / "model.pt"), map_location="cpu").eval()
    elif precision in ("fp32", "bf16"):
        net = build(architecture, parameters)
        state = torch.load(model_dir / "weights.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        net.eval()
        with torch.inference_mode():
            module = torch.jit.freeze(torch.jit.trace(net, example[:1]).eval())
    else:
        raise ValueError(f"precision {precision!r} is not supported on the CPU; use fp32, bf16 or int8")
    return Predictor(module, precision)
