"""Detect the machine a job runs on, and compare it with the SKU the campaign says it runs on.

Detection uses psutil and py-cpuinfo for the host and NVML (nvidia-ml-py) for NVIDIA GPUs. The record is
written per run, so the system description reflects the node that produced a result. A difference that
matters (declared 8 GPUs, found 0; a different CPU model) stops the run unless the campaign accepts it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BenchwrightError
from .schemas.system import System

RECORD_VERSION = 1
PACKAGES = ("benchwright", "torch", "mlcommons-loadgen", "mlperf-logging", "numpy", "pydantic", "snakemake")


class SystemMismatch(BenchwrightError):
    """The detected machine differs from the declared SKU in a way that changes results."""


def _package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cpu() -> dict[str, Any]:
    import cpuinfo
    import psutil

    info = cpuinfo.get_cpu_info()
    hz = info.get("hz_advertised") or info.get("hz_actual") or [0]
    return {
        "model_name": info.get("brand_raw") or platform.processor() or "unknown",
        "vendor": info.get("vendor_id_raw", ""),
        "arch": info.get("arch", platform.machine()),
        "physical_cores": psutil.cpu_count(logical=False) or psutil.cpu_count() or 0,
        "logical_cores": psutil.cpu_count() or 0,
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "frequency_mhz": round(hz[0] / 1e6) if hz and hz[0] else None,
        "flags": sorted(f for f in info.get("flags", []) if f.startswith(("avx", "amx", "sve", "asimd"))),
        "caches": {k: info.get(k) for k in ("l1_data_cache_size", "l2_cache_size", "l3_cache_size") if info.get(k)},
    }


def _gpus() -> list[dict[str, Any]]:
    """NVIDIA GPUs through NVML; an empty list where there is no driver or no GPU."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            try:
                memory_gb: float | None = round(pynvml.nvmlDeviceGetMemoryInfo(handle).total / 1e9, 1)
            except pynvml.NVMLError:  # integrated GPUs (Jetson) share host memory and do not report it
                memory_gb = None
            gpus.append({"index": i, "name": pynvml.nvmlDeviceGetName(handle), "memory_gb": memory_gb,
                         "driver": driver})
        return gpus
    except pynvml.NVMLError:
        return []
    finally:
        pynvml.nvmlShutdown()


def _os_name() -> str:
    try:
        release = platform.freedesktop_os_release()
        return release.get("PRETTY_NAME") or release.get("NAME") or platform.system()
    except OSError:
        return f"{platform.system()} {platform.release()}"


def _container() -> str:
    if os.path.exists("/.dockerenv"):
        return "docker"
    if os.environ.get("APPTAINER_CONTAINER") or os.environ.get("SINGULARITY_CONTAINER"):
        return "apptainer"
    return "none"


def detect(gpu_probe: Callable[[], list[dict[str, Any]]] = _gpus) -> dict[str, Any]:
    """Facts about this machine, as a JSON-serialisable record."""
    import psutil

    return {
        "version": RECORD_VERSION,
        "hostname": socket.gethostname(),
        "cpu": _cpu(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": {"name": _os_name(), "kernel": platform.release(), "machine": platform.machine()},
        "python": platform.python_version(),
        "packages": _package_versions(),
        "gpus": gpu_probe(),
        "container": _container(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("(r)", "").replace("(tm)", "").replace("cpu", "").split())


@dataclass(frozen=True)
class Difference:
    field: str
    declared: Any
    detected: Any

    def render(self) -> str:
        return f"{self.field}: declared {self.declared!r}, detected {self.detected!r}"


def compare(system: System, facts: dict[str, Any]) -> list[Difference]:
    """The differences between a SKU and the detected facts that change what a result means."""
    diffs: list[Difference] = []
    host = system.host
    cpu = facts["cpu"]
    if host.processor_model_name != "auto" and _norm(host.processor_model_name) not in _norm(cpu["model_name"]):
        diffs.append(Difference("host.processor_model_name", host.processor_model_name, cpu["model_name"]))
    if host.processor_core_count != "auto":
        declared = host.processor_core_count * host.processors_per_node
        if declared != cpu["physical_cores"]:
            diffs.append(Difference("host.processor_core_count x processors_per_node", declared, cpu["physical_cores"]))
    if host.memory_capacity_gb != "auto":
        found = facts["memory_gb"]
        if abs(found - host.memory_capacity_gb) > 0.1 * host.memory_capacity_gb:
            diffs.append(Difference("host.memory_capacity_gb", host.memory_capacity_gb, found))
    acc = system.accelerators
    if acc.vendor in ("nvidia", "none"):
        found_gpus = facts["gpus"]
        if acc.count != len(found_gpus):
            diffs.append(Difference("accelerators.count", acc.count, len(found_gpus)))
        elif acc.count and _norm(acc.model_name).replace("nvidia", "").strip() not in _norm(found_gpus[0]["name"]):
            diffs.append(Difference("accelerators.model_name", acc.model_name, found_gpus[0]["name"]))
    packages = facts["packages"]
    for field_, pkg in (("torch_version", "torch"), ("loadgen_version", "mlcommons-loadgen")):
        want = getattr(system.software, field_)
        have = packages.get(pkg)
        if want is not None and (have is None or have.split("+")[0] != want):
            diffs.append(Difference(f"software.{field_}", want, have))
    return diffs


def check_pins(facts: dict[str, Any], pins: dict[str, str]) -> list[Difference]:
    """Installed packages that break the run rules' version pins (package -> PEP 440 specifier)."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    diffs = []
    for package, spec in sorted(pins.items()):
        have = facts["packages"].get(package)
        if have is None:
            have = _installed(package)
        if have is None or Version(have) not in SpecifierSet(spec, prereleases=True):
            diffs.append(Difference(f"run rules: {package}", spec, have))
    return diffs


def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check(system: System, facts: dict[str, Any], *, accept: bool, system_file: str,
          pins: dict[str, str] | None = None) -> list[Difference]:
    """Raise SystemMismatch for differences that are not accepted; return them (accepted or none).

    ``pins`` are the run rules' version pins, enforced in submission mode; they cannot be accepted away.
    """
    broken = check_pins(facts, pins or {})
    if broken:
        lines = "\n".join(f"  - {d.field}: requires {d.declared}, installed {d.detected}" for d in broken)
        raise SystemMismatch(
            f"benchwright: the software on {facts['hostname']} breaks the run rules' version pins:\n{lines}\n"
            "fix: install versions that satisfy them (pip install 'PACKAGE<spec>'), or run in `mode: smoke`.")
    diffs = compare(system, facts)
    if diffs and not accept:
        lines = "\n".join(f"  - {d.render()}" for d in diffs)
        raise SystemMismatch(
            f"benchwright: this machine ({facts['hostname']}) is not the SKU `{system.id}` declared in "
            f"{system_file}:\n{lines}\n"
            f"fix: run on the hardware the SKU describes, correct {system_file}, or accept the difference with "
            f"`accept_system_mismatch: [{system.id}]` in the campaign (it is recorded with every result).")
    return diffs


def effective_description(system: System, facts: dict[str, Any]) -> dict[str, Any]:
    """The SKU's host facts with every `auto` field replaced by the detected value."""
    host = system.host
    cpu = facts["cpu"]
    return {
        "processor_model_name": cpu["model_name"] if host.processor_model_name == "auto" else host.processor_model_name,
        "processor_core_count": (cpu["physical_cores"] // host.processors_per_node
                                 if host.processor_core_count == "auto" else host.processor_core_count),
        "processor_vcpu_count": cpu["logical_cores"] if host.processor_vcpu_count == "auto" else host.processor_vcpu_count,
        "memory_capacity_gb": facts["memory_gb"] if host.memory_capacity_gb == "auto" else host.memory_capacity_gb,
        "operating_system": facts["os"]["name"] if system.software.operating_system == "auto"
        else system.software.operating_system,
    }


def detection_record(system: System, facts: dict[str, Any], *, accept: bool, system_file: str,
                     pins: dict[str, str] | None = None, enforce_pins: bool = False) -> dict[str, Any]:
    """Detect-and-compare result written per run: the facts, the differences and whether they were accepted.

    Version pins are always recorded; ``enforce_pins`` (submission mode) makes a broken pin stop the run.
    """
    pins = pins or {}
    diffs = check(system, facts, accept=accept, system_file=system_file, pins=pins if enforce_pins else None)
    return {
        "version": RECORD_VERSION,
        "system": system.id,
        "declared": system.model_dump(mode="json"),
        "facts": facts,
        "effective": effective_description(system, facts),
        "differences": [d.__dict__ for d in diffs],
        "differences_accepted": bool(diffs) and accept,
        "version_pins": {pkg: {"requires": spec, "ok": not check_pins(facts, {pkg: spec})}
                         for pkg, spec in sorted(pins.items())},
    }


def node_check(detected_file: str | os.PathLike[str], facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Detection inside a job: the node it runs on, compared with the SKU of ``detected_file`` (the record of
    `detect_system`). A node that is not the SKU stops the job, unless the campaign accepted differences for it.

    Returns what the result records: host name, Slurm job, the SKU's fields filled from this node, differences.
    """
    record = json.loads(Path(detected_file).read_text())
    facts = facts if facts is not None else detect()
    declared = record.get("declared")
    if declared is None:  # a record from before SKUs were kept in it: the detect job's view
        return {"hostname": facts["hostname"], "slurm_job_id": facts.get("slurm_job_id"),
                "effective": record["effective"], "differences": record.get("differences", [])}
    system = System.model_validate(declared)
    diffs = compare(system, facts)
    if diffs and not record.get("differences_accepted"):
        lines = "\n".join(f"  - {d.render()}" for d in diffs)
        job = f" (Slurm job {facts['slurm_job_id']})" if facts.get("slurm_job_id") else ""
        raise SystemMismatch(
            f"benchwright: this job runs on {facts['hostname']}{job}, which is not the SKU `{system.id}`:\n{lines}\n"
            f"fix: on a cluster, the SKU's `slurm` section (partition, constraint, gpu_model) must select nodes "
            f"with this hardware; or accept the difference with `accept_system_mismatch: [{system.id}]`.")
    return {"hostname": facts["hostname"], "slurm_job_id": facts.get("slurm_job_id"),
            "effective": effective_description(system, facts), "differences": [d.__dict__ for d in diffs]}
