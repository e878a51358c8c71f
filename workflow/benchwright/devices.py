"""Which device each run, SUT worker and training rank uses, decided from the SKU.

A CPU SKU runs on ``cpu``. An NVIDIA SKU runs on ``cuda:0`` .. ``cuda:<count-1>`` (or its listed MIG instances,
made visible through ``CUDA_VISIBLE_DEVICES``), with one SUT worker per accelerator, each on a model replica of its
own. Everything here is plain logic, so the CUDA path is unit-tested on machines without a GPU; the checks that
need a real device (:func:`require_device`) fail a job with a clear message where the device is missing.
"""

from __future__ import annotations

from typing import Any

from .errors import BenchwrightError
from .schemas.base import Precision

DEVICE_PRECISIONS: dict[str, tuple[Precision, ...]] = {
    "cpu": (Precision.fp32, Precision.bf16, Precision.int8),
    "cuda": (Precision.fp32, Precision.fp16, Precision.bf16),
}
"""What each kind of device runs here: int8 is torch.ao's quantized CPU kernels; fp16 needs CUDA (CPU fp16 kernels
are emulated and not what any SKU would be measured at); bf16 on the CPU runs under autocast."""


class DeviceError(BenchwrightError):
    """The device a run needs is not there, or cannot run the precision."""


def sku_devices(system: Any) -> tuple[str, ...]:
    """The devices of one node of a SKU: ``("cpu",)``, or one ``cuda:<i>`` per accelerator or MIG instance."""
    acc = system.accelerators
    if acc.vendor == "nvidia" and acc.count > 0:
        n = len(acc.mig_instances) or acc.count
        return tuple(f"cuda:{i}" for i in range(n))
    return ("cpu",)


def visible_devices(system: Any) -> str | None:
    """``CUDA_VISIBLE_DEVICES`` for a SKU that runs on MIG instances (CUDA then numbers them cuda:0..n-1)."""
    mig = system.accelerators.mig_instances
    return ",".join(mig) if mig else None


def device_kind(device: str) -> str:
    kind = device.split(":", 1)[0]
    if kind not in DEVICE_PRECISIONS:
        raise DeviceError(f"unknown device {device!r}; benchwright runs on cpu and cuda:<i>")
    return kind


def precision_problem(device: str, precision: Precision | str) -> str | None:
    """Why ``device`` cannot run ``precision``, or None."""
    kind = device_kind(device)
    p = Precision(precision)
    if p in DEVICE_PRECISIONS[kind]:
        return None
    allowed = ", ".join(x.value for x in DEVICE_PRECISIONS[kind])
    return f"{p.value} does not run on {'the CPU' if kind == 'cpu' else 'CUDA'} here (it runs: {allowed})"


def worker_devices(devices: tuple[str, ...], threads: int | None) -> list[str]:
    """The device of each SUT worker: on the CPU ``threads`` workers share one model; on GPUs every accelerator
    gets ``threads`` workers (default 1) on its own replica."""
    per_device = threads or 1
    if devices == ("cpu",):
        return ["cpu"] * per_device
    return [d for d in devices for _ in range(per_device)]


def training_device(backend: str, local_rank: int) -> str:
    """NCCL reduces CUDA tensors: each rank trains on its own GPU; gloo trains on the CPU."""
    return f"cuda:{local_rank}" if backend == "nccl" else "cpu"


def require_device(device: str, *, sku: str = "", sku_file: str = "") -> None:
    """Fail with a clear message when ``device`` is not on this machine."""
    if device_kind(device) == "cpu":
        return
    import torch

    where = f"the SKU `{sku}` ({sku_file}) " if sku else ""
    if not torch.cuda.is_available():
        raise DeviceError(
            f"benchwright: {where}runs on {device}, but this machine has no usable CUDA device "
            f"(torch.cuda.is_available() is False; torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda or 'none'}).\n"
            "  fix: run the job on the SKU's GPU nodes (with the NVIDIA driver and a CUDA build of torch), or "
            "select a CPU SKU for this benchmark in the campaign")
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise DeviceError(f"benchwright: {where}runs on {device}, but this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s).\n  fix: set `accelerators.count` in the "
                          "SKU file to the GPUs of one node, or run on the SKU's nodes")


def place(tensor: Any, device: str) -> Any:
    """A batch on its worker's device (a no-op on the CPU; asynchronous host-to-device copies on CUDA)."""
    if device == "cpu":
        return tensor
    return tensor.to(device, non_blocking=True)


def torch_dtype(precision: Precision | str, device: str) -> Any:
    """The dtype a model runs at: fp16/bf16 weights on CUDA; fp32 otherwise (bf16 on the CPU runs under autocast,
    int8 is a quantized model)."""
    import torch

    p = Precision(precision)
    if device_kind(device) == "cuda" and p is Precision.fp16:
        return torch.float16
    if device_kind(device) == "cuda" and p is Precision.bf16:
        return torch.bfloat16
    return torch.float32


def ort_providers(provider: str, device: str, precision: Precision | str = Precision.fp32) -> list[Any]:
    """onnxruntime's providers for a run, in priority order. The CPU provider is listed only for CPU runs: on an
    accelerator a fallback is allowed only where the campaign says so (:func:`ort_session_options`)."""
    kind = device_kind(device)
    if provider == "auto":
        provider = "cuda" if kind == "cuda" else "cpu"
    if provider == "cpu":
        if kind != "cpu":
            raise DeviceError(f"the onnxruntime provider `cpu` cannot run on {device}; set `onnxruntime.provider` "
                              "to cuda or tensorrt in the SKU file")
        return ["CPUExecutionProvider"]
    if kind != "cuda":
        raise DeviceError(f"the onnxruntime provider `{provider}` needs a CUDA device, the run is on {device}; set "
                          "`onnxruntime.provider: cpu` (or auto) in the SKU file")
    index = int(device.split(":", 1)[1])
    cuda = ("CUDAExecutionProvider", {"device_id": index})
    if provider == "tensorrt":
        trt = {"device_id": index, "trt_fp16_enable": Precision(precision) is Precision.fp16,
               "trt_engine_cache_enable": True}
        return [("TensorrtExecutionProvider", trt), cuda]
    return [cuda]


def provider_names(providers: list[Any]) -> list[str]:
    return [p if isinstance(p, str) else p[0] for p in providers]
