"""Energy of a run, from the counters the machine offers: Intel/AMD RAPL through the Linux powercap interface
(/sys/class/powercap/intel-rapl:N/energy_uj, one per package) and NVML's total energy counter of every NVIDIA GPU.

Both are cumulative energy counters, so the energy of a run is the counter's difference from start to end (the
integral of power over the run, computed by the hardware); a RAPL counter that wraps at max_energy_range_uj is
unwrapped. Where there is no source the result says so ("not measured") and nothing is estimated.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POWERCAP_ROOT = "/sys/class/powercap"
ROOT_ENV = "BENCHWRIGHT_POWERCAP_ROOT"  # another powercap tree (tests; containers that mount it elsewhere)
_PACKAGE = re.compile(r"^intel-rapl:\d+$")  # packages only: their sub-zones (core, uncore, dram) are inside them


@dataclass
class _Rapl:
    path: Path
    name: str
    max_uj: int

    def read(self) -> int:
        return int((self.path / "energy_uj").read_text().strip())


def rapl_zones(root: str | os.PathLike[str] | None = None) -> list[_Rapl]:
    """The readable RAPL package zones under ``root`` (default: $BENCHWRIGHT_POWERCAP_ROOT or /sys/class/powercap)."""
    base = Path(root or os.environ.get(ROOT_ENV) or POWERCAP_ROOT)
    zones = []
    for path in sorted(base.glob("intel-rapl:*")):
        if not _PACKAGE.match(path.name):
            continue
        try:
            name = (path / "name").read_text().strip() if (path / "name").exists() else path.name
            max_uj = int((path / "max_energy_range_uj").read_text().strip())
            zone = _Rapl(path, name, max_uj)
            zone.read()
        except (OSError, ValueError):
            continue  # unreadable (permissions since 2020's PLATYPUS fix) or malformed: not a source
        zones.append(zone)
    return zones


def _nvml_handles() -> list[Any]:
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        for h in handles:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(h)  # raises where the GPU has no energy counter
        return handles
    except Exception:  # noqa: BLE001 - no driver, no GPU, or no counter: not a source
        return []


def _nvml_read(handles: list[Any]) -> list[int]:
    import pynvml

    return [int(pynvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in handles]  # mJ


@dataclass
class EnergyMeter:
    """``with EnergyMeter() as meter: run()`` then ``meter.result(samples)``."""

    root: str | os.PathLike[str] | None = None
    nvml: bool = True
    _zones: list[_Rapl] = field(default_factory=list)
    _gpus: list[Any] = field(default_factory=list)
    _start: dict[str, Any] = field(default_factory=dict)
    _end: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> EnergyMeter:
        self._zones = rapl_zones(self.root)
        self._gpus = _nvml_handles() if self.nvml else []
        self._start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end = self._read()

    def _read(self) -> dict[str, Any]:
        return {"t": time.monotonic(), "rapl": [z.read() for z in self._zones],
                "nvml": _nvml_read(self._gpus) if self._gpus else []}

    def result(self, samples: int | None = None) -> dict[str, Any]:
        """Energy of the measured block: joules per source, average power, and per sample when ``samples``."""
        if not self._zones and not self._gpus:
            return {"measured": False, "sources": [],
                    "reason": "no power source: no readable RAPL zone under "
                              f"{self.root or os.environ.get(ROOT_ENV) or POWERCAP_ROOT} and no NVIDIA GPU with an "
                              "energy counter"}
        seconds = self._end["t"] - self._start["t"]
        per_zone = {}
        for zone, before, after in zip(self._zones, self._start["rapl"], self._end["rapl"]):
            delta = after - before if after >= before else after + zone.max_uj - before  # one wrap at most
            per_zone[f"rapl:{zone.name}"] = delta / 1e6
        for i, (before, after) in enumerate(zip(self._start["nvml"], self._end["nvml"])):
            per_zone[f"nvml:gpu{i}"] = (after - before) / 1e3
        joules = sum(per_zone.values())
        out = {"measured": True, "sources": sorted({k.split(":")[0] for k in per_zone}), "joules": joules,
               "seconds": seconds, "average_watts": joules / seconds if seconds > 0 else None, "zones": per_zone}
        if samples:
            out["joules_per_sample"] = joules / samples
        return out
