"""Provenance: what produced a result, as hashes and versions that can be re-checked.

Two halves:

* at run time, every LoadGen and training job records what it ran and where and with what it ran it
  (:func:`run_facts`: the command line, the code's commit and whether it was modified, the software versions of
  the process, the container image, the host), in its ``record.json``; the accuracy check in ``accuracy.json``;
* at bundle time, :func:`inference_provenance` and :func:`training_provenance` join that record with the
  artifacts the result descends from (dataset file hashes, the preprocessing manifest, the calibration record,
  the weights) into one provenance record per result. The bundle carries the records under ``provenance/``
  with copies of the evidence they point to, so ``benchwright verify`` can re-check every link of the chain
  without the working directory: dataset -> preprocessing manifest -> FP32 weights -> calibration -> the
  model the run loaded -> the result files.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__

FORMAT = "benchwright-provenance"
VERSION = 1
CODE_ENV = "BENCHWRIGHT_CODE"
"""`benchwright container-run` passes the host checkout's code state to a job in a container (no git there)."""
PACKAGES = ("benchwright", "torch", "mlcommons-loadgen", "mlperf-logging", "numpy", "pydantic")
# What of a checkout is "the code": the same paths the bundle's src/ copies.
CODE_PATHS = ("Snakefile", "pyproject.toml", "workflow", "containers", "config")


# --- run time ---------------------------------------------------------------------------------------------


def _git(checkout: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def checkout_of_package() -> Path:
    """The checkout benchwright runs from (``workflow/benchwright`` -> the checkout's root)."""
    return Path(__file__).resolve().parents[2]


def code_state(checkout: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The code's commit and whether tracked files under CODE_PATHS differ from it.

    A job in a container has no checkout: it reads the state its host computed (``BENCHWRIGHT_CODE``).
    Outside a git checkout the commit is None and ``reason`` says why.
    """
    if checkout is None and os.environ.get(CODE_ENV):
        return json.loads(os.environ[CODE_ENV])
    root = Path(checkout) if checkout is not None else checkout_of_package()
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return {"commit": None, "dirty": None, "modified": [], "reason": f"{root} is not a git checkout"}
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS) or ""
    modified = sorted(line[3:] for line in status.splitlines() if line.strip())
    return {"commit": head.strip(), "dirty": bool(modified), "modified": modified[:50]}


def _torch_build() -> dict[str, Any] | None:
    torch = sys.modules.get("torch")  # never import torch only to describe it
    if torch is None:
        return None
    compiler = None
    try:
        for line in torch.__config__.show().splitlines():
            text = line.strip().lstrip("- ").strip()
            if text.startswith(("GCC ", "clang ", "MSVC ", "Clang ")):
                compiler = text
                break
    except Exception:  # noqa: BLE001 - a build that cannot describe itself is recorded as unknown
        compiler = None
    cudnn = None
    try:
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except Exception:  # noqa: BLE001
        cudnn = None
    return {"version": torch.__version__, "compiler": compiler, "cuda": torch.version.cuda, "cudnn": cudnn,
            "threads": torch.get_num_threads()}


@functools.cache
def _package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def software() -> dict[str, Any]:
    """The versions this process runs with: Python and its compiler, the packages, torch's build."""
    return {"python": platform.python_version(), "python_compiler": platform.python_compiler(),
            "packages": dict(_package_versions()), "torch_build": _torch_build(), "benchwright": __version__,
            "os": platform.platform()}


_INVOCATION: list[tuple[str, ...]] = []
"""The `benchwright` command lines this process is running, innermost last (`container-run` on a local SKU runs
its job's command in the same process)."""


@contextlib.contextmanager
def invocation(argv: Sequence[str]) -> Iterator[None]:
    """Within this block the process runs ``benchwright ARGV`` (ARGV: the arguments after the program name, as
    :func:`benchwright.cli.main` parsed them); :func:`run_facts` records that command."""
    _INVOCATION.append(("benchwright", *map(str, argv)))
    try:
        yield
    finally:
        _INVOCATION.pop()


def command_line() -> str | None:
    """The `benchwright ...` command this process runs, shell-quoted (``shlex.split`` gives back its argv);
    None outside :func:`invocation` (the package called from Python)."""
    return shlex.join(_INVOCATION[-1]) if _INVOCATION else None


def run_facts() -> dict[str, Any]:
    """What a job ran and where (recorded as ``execution`` in its record.json): the command line (exactly as the
    rule called it, its paths relative to the campaign's working directory), the container runtime and image id
    (set by `benchwright container-run`), the hostname (a Docker container's is its id), whether /.dockerenv
    exists (only a container has it), the code and the software."""
    return {"command": command_line(), "runtime": os.environ.get("BENCHWRIGHT_RUNTIME", "local"),
            "image_id": os.environ.get("BENCHWRIGHT_IMAGE_ID"), "hostname": socket.gethostname(),
            "in_docker": os.path.exists("/.dockerenv"), "code": code_state(), "software": software()}


class MissingCommand(ValueError):
    """A job's record names no command (written by an older benchwright, or by a job not run as a command)."""


def recorded_command(record_file: str | os.PathLike[str]) -> str:
    """The command a job recorded (``execution.command`` of its record.json or accuracy.json).

    Raises FileNotFoundError for a missing record and MissingCommand, naming the file, for one without a
    command."""
    path = Path(record_file)
    try:
        record = json.loads(path.read_text())
    except ValueError as err:
        raise MissingCommand(f"{path} is not JSON ({err}); it should be the record of the job that wrote it") from None
    command = (record.get("execution") or {}).get("command") if isinstance(record, dict) else None
    if not isinstance(command, str) or not command.strip():
        raise MissingCommand(f"{path} records no command (execution.command): it was written by a job that "
                             "predates command records, or not by the `benchwright` command")
    return command


# --- bundle time ------------------------------------------------------------------------------------------


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _sha(path: str | os.PathLike[str]) -> str:
    from .fsutil import sha256_file

    return sha256_file(path)


def _execution(record: dict[str, Any]) -> dict[str, Any]:
    execution = dict(record.get("execution") or {})
    node = record.get("node") or {}
    return {
        "code": execution.get("code") or {"commit": None, "dirty": None, "reason": "not recorded by this run"},
        "software": execution.get("software") or {"reason": "not recorded by this run"},
        "container": {"runtime": execution.get("runtime"), "image_id": execution.get("image_id"),
                      "in_docker": execution.get("in_docker")},
        "host": {"hostname": node.get("hostname") or execution.get("hostname"),
                 "slurm_job_id": node.get("slurm_job_id"), "facts": node.get("effective") or record.get("detected")},
    }


def topology(system: Any, world_size: int | None = None) -> dict[str, Any]:
    """How the SKU is put together (from its validated description)."""
    out = {"nodes": system.number_of_nodes, "processors_per_node": system.host.processors_per_node,
           "accelerators_per_node": system.accelerators.count, "accelerator": system.accelerators.model_name,
           "accelerator_interconnect": system.accelerators.interconnect,
           "networking": system.host.networking}
    if world_size is not None:
        out["world_size"] = world_size
    return out


def data_evidence(data_manifest: str | os.PathLike[str]) -> dict[str, Any]:
    """The dataset's file hashes and the preprocessing manifest's hash."""
    manifest = _read(data_manifest)
    return {"dataset": {"files": manifest.get("inputs", {})},
            "preprocessing": {"manifest_sha256": _sha(data_manifest),
                              "outputs": {k: v["sha256"] for k, v in sorted(manifest.get("outputs", {}).items())}}}


def inference_provenance(*, run: str | os.PathLike[str], system: Any, precision: str,
                         data_manifest: str | os.PathLike[str], fp32_record: str | os.PathLike[str] | None,
                         weights_sha256: str | None, calibration: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The provenance of one inference result (``run``: results/inference/<sku>/<benchmark>/<precision>/<scenario>).

    The FP32 weights' hash comes from their training record (``fp32_record``) or, for fetched weights, from the
    sha256 the download was verified against (``weights_sha256``)."""
    run = Path(run)
    perf = _read(run / "performance/record.json")
    acc = _read(run / "accuracy/record.json")
    spec, result = perf["spec"], perf["result"]
    effective = result.get("effective") or {}
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "kind": "inference"}
    out.update(data_evidence(data_manifest))
    fp32 = _read(fp32_record)["weights_sha256"] if fp32_record is not None else weights_sha256
    out["weights"] = {"fp32_sha256": fp32, "model_sha256": perf.get("model_sha256"),
                      "accuracy_run_model_sha256": acc.get("model_sha256")}
    if calibration is not None:
        cal = _read(calibration)
        out["calibration"] = {"list_sha256": cal.get("calibration_list_sha256"), "samples": cal.get("samples"),
                              "method": cal.get("method"), "record_sha256": _sha(calibration)}
    else:
        out["calibration"] = None
    out["seeds"] = {k: effective.get(k) for k in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")}
    out["precision"] = precision
    # what ran the model: backend, device, threads; for an endpoint, the served model and the server's version
    out["backend"] = perf.get("backend")
    out["batch"] = {"batch_size": spec.get("batch_size"), "threads": spec.get("threads"),
                    "batching_timeout_us": spec.get("batching_timeout_us"),
                    "performance_sample_count": spec.get("performance_sample_count")}
    out["loadgen"] = (result.get("loadgen") or {}).get("loadgen_version")
    out["run_mode"] = spec.get("run_mode")
    out["validity"] = result.get("result_validity")
    out["topology"] = topology(system)
    out["power_limit_w"] = system.power_limit_w
    out.update(_execution(perf))
    runs_code = {json.dumps(_execution(r)["code"], sort_keys=True) for r in (perf, acc)}
    out["consistent_runs"] = len(runs_code) == 1
    return out


def training_provenance(*, run: str | os.PathLike[str], system: Any,
                        data_manifest: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance of one seeded training run (``run``: results/training/<sku>/<benchmark>/run_<i>)."""
    record = _read(Path(run) / "record.json")
    spec = record["spec"]
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "kind": "training"}
    out.update(data_evidence(data_manifest))
    out["seeds"] = {"training": spec.get("seed")}
    out["precision"] = "fp32"
    out["batch"] = {"global_batch_size": (spec.get("hyperparameters") or {}).get("global_batch_size")}
    out["hyperparameters"] = spec.get("hyperparameters")
    out["log_sha256"] = record.get("log_sha256")
    out["run_mode"] = spec.get("run_mode")
    out["status"] = record.get("status")
    out["topology"] = topology(system, record.get("world_size"))
    out["power_limit_w"] = system.power_limit_w
    out.update(_execution(record))
    return out


# --- drift ------------------------------------------------------------------------------------------------

DRIFT_FIELDS = {
    "code commit": lambda e: (e.get("code") or {}).get("commit"),
    "modified code": lambda e: (e.get("code") or {}).get("dirty"),
    "benchwright": lambda e: ((e.get("software") or {}).get("packages") or {}).get("benchwright"),
    "torch": lambda e: ((e.get("software") or {}).get("packages") or {}).get("torch"),
    "LoadGen": lambda e: ((e.get("software") or {}).get("packages") or {}).get("mlcommons-loadgen"),
    "mlperf-logging": lambda e: ((e.get("software") or {}).get("packages") or {}).get("mlperf-logging"),
    "Python": lambda e: (e.get("software") or {}).get("python"),
    "image": lambda e: e.get("image_id"),
}
HOST_FIELDS = ("processor_model_name", "processor_core_count", "processor_vcpu_count", "memory_capacity_gb",
               "accelerator_model_name", "accelerators_per_node", "operating_system")


def fingerprint(record: dict[str, Any]) -> dict[str, Any]:
    """The facts of a run record that must agree across a SKU's results (versions, code, image, hardware).

    A fact the run did not record is absent, never a difference."""
    execution = record.get("execution") or {}
    out = {name: get(execution) for name, get in DRIFT_FIELDS.items()}
    if "code" not in execution:
        out.pop("code commit"), out.pop("modified code")
    if "software" not in execution:
        for name in ("benchwright", "torch", "LoadGen", "mlperf-logging", "Python"):
            out.pop(name)
    host = (record.get("node") or {}).get("effective") or record.get("detected") or {}
    out.update({f"host {k}": host[k] for k in HOST_FIELDS if k in host})
    return out


def drift(fingerprints: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Which runs differ from the others: run id -> one message per differing fact.

    For every fact, the value most runs share is the reference; a run with another value is flagged, naming
    both values and how many runs have each. Facts a run did not record are not compared."""
    from collections import Counter

    flags: dict[str, list[str]] = {run: [] for run in fingerprints}
    names = sorted({k for fp in fingerprints.values() for k in fp})
    for name in names:
        values = {run: json.dumps(fp[name], sort_keys=True) for run, fp in fingerprints.items() if name in fp}
        counts = Counter(values.values())
        if len(counts) < 2:
            continue
        reference, n_ref = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        for run, value in values.items():
            if value != reference:
                flags[run].append(f"{name} {json.loads(value)} (the other {n_ref} run(s): {json.loads(reference)})")
    return {run: msgs for run, msgs in flags.items() if msgs}
