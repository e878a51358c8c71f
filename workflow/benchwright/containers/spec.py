"""What a containerized job is, and the exact docker-py call and Apptainer command built from it (pure
functions: tested without a daemon, like docker-py's own unit tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..schemas.system import System

CONTAINER_USER = "1000:1000"
"""The unprivileged user benchmark containers run as when the host user is root."""

MANAGED_LABEL = "org.benchwright.managed"
"""Set on every container benchwright creates, so it can find (and clean up) its own and no one else's."""


@dataclass(frozen=True)
class Mount:
    source: str
    """Absolute host path; mounted at the same path inside, so commands need no path translation."""
    read_only: bool = True


@dataclass(frozen=True)
class ContainerJob:
    image: str
    """Image reference: an id (sha256:...) for Docker, a .sif path for Apptainer."""
    command: tuple[str, ...]
    mounts: tuple[Mount, ...] = ()
    workdir: str = "/"
    env: Mapping[str, str] = field(default_factory=dict)
    cpus: float | None = None
    mem_limit_mb: int | None = None
    shm_size: str = "1g"
    gpus: int = 0
    """NVIDIA GPUs the job gets (0: none)."""
    gpu_ids: tuple[str, ...] = ()
    """Specific GPUs (e.g. from CUDA_VISIBLE_DEVICES or Slurm's allocation); overrides ``gpus``."""
    user: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    network: bool = False
    """The host's network (a job that talks to a server the campaign names: an OpenAI-compatible endpoint);
    otherwise none (Docker)."""
    pass_env: tuple[str, ...] = ()
    """Environment variables passed in by name, their values read from the runner's environment when the
    container starts (an endpoint's API key): never part of the job, its command line or a record."""

    def passed_env(self) -> dict[str, str]:
        return {name: os.environ[name] for name in self.pass_env if name in os.environ}


def job_for(system: System, image: str, command: Sequence[str], *, read_only: Sequence[str | os.PathLike[str]] = (),
            read_write: Sequence[str | os.PathLike[str]] = (), workdir: str | os.PathLike[str] | None = None,
            cpus: float | None = None, mem_limit_mb: int | None = None, env: Mapping[str, str] | None = None,
            gpu_ids: Sequence[str] = (), label: str = "", network: bool = False,
            pass_env: Sequence[str] = ()) -> ContainerJob:
    """The container job of one step on a SKU: inputs read-only, outputs read-write, the SKU's shm and GPUs."""
    def absolute(paths: Sequence[str | os.PathLike[str]], ro: bool) -> list[Mount]:
        return [Mount(str(Path(p).resolve()), ro) for p in paths]

    mounts = absolute(read_only, True) + absolute(read_write, False)
    acc = system.accelerators
    gpus = acc.count if acc.vendor == "nvidia" else 0
    uid = os.getuid()
    return ContainerJob(
        image=image, command=tuple(command), mounts=_dedupe(mounts), workdir=str(Path(workdir or os.getcwd()).resolve()),
        env=dict(env or {}), cpus=cpus, mem_limit_mb=mem_limit_mb, shm_size=system.container.shm_size, gpus=gpus,
        gpu_ids=tuple(gpu_ids), user=CONTAINER_USER if uid == 0 else f"{uid}:{os.getgid()}",
        labels={"org.benchwright.system": system.id, **({"org.benchwright.job": label} if label else {})},
        network=network, pass_env=tuple(pass_env),
    )


def _dedupe(mounts: list[Mount]) -> tuple[Mount, ...]:
    """One mount per path; read-write wins over read-only."""
    by_path: dict[str, Mount] = {}
    for m in mounts:
        if m.source not in by_path or not m.read_only:
            by_path[m.source] = m
    return tuple(sorted(by_path.values(), key=lambda m: m.source))


def docker_kwargs(job: ContainerJob) -> dict[str, Any]:
    """Keyword arguments of ``client.containers.create`` (docker-py) for the job: no network (the host's for a job
    that talks to an endpoint), the job's user,
    read-only inputs, CPU/memory/shm limits, NVIDIA device requests, and the job's labels plus
    ``MANAGED_LABEL``."""
    import docker.types

    kwargs: dict[str, Any] = {
        "image": job.image,
        "command": list(job.command),
        "working_dir": job.workdir,
        "environment": {**job.env, **job.passed_env()},
        "network_mode": "host" if job.network else "none",
        "user": job.user,
        "volumes": {m.source: {"bind": m.source, "mode": "ro" if m.read_only else "rw"} for m in job.mounts},
        "shm_size": job.shm_size,
        "labels": {**job.labels, MANAGED_LABEL: "true"},
        "detach": True,
    }
    if job.cpus:
        kwargs["nano_cpus"] = int(job.cpus * 1e9)
    if job.mem_limit_mb:
        kwargs["mem_limit"] = f"{job.mem_limit_mb}m"
        kwargs["memswap_limit"] = f"{job.mem_limit_mb}m"  # no swap: a job over its limit is killed, not slowed
    if job.gpu_ids:
        kwargs["device_requests"] = [docker.types.DeviceRequest(driver="nvidia", device_ids=list(job.gpu_ids),
                                                                capabilities=[["gpu"]])]
    elif job.gpus:
        kwargs["device_requests"] = [docker.types.DeviceRequest(driver="nvidia", count=job.gpus,
                                                                capabilities=[["gpu"]])]
    return kwargs


def apptainer_command(job: ContainerJob, apptainer: str = "apptainer") -> list[str]:
    """The ``apptainer exec`` command for the job: a clean environment and no home, the same binds (read-only
    where the job only reads), ``--nv`` for NVIDIA GPUs. The network stays the host's: Apptainer has no
    ``--network none`` without root; HPC jobs run on compute nodes."""
    cmd = [apptainer, "exec", "--containall", "--cleanenv", "--no-home", "--pwd", job.workdir]
    for m in job.mounts:
        cmd += ["--bind", f"{m.source}:{m.source}:{'ro' if m.read_only else 'rw'}"]
    for key, value in sorted(job.env.items()):
        cmd += ["--env", f"{key}={value}"]
    if job.gpus or job.gpu_ids:
        cmd.append("--nv")
        if job.gpu_ids:
            cmd += ["--env", f"CUDA_VISIBLE_DEVICES={','.join(job.gpu_ids)}"]
    return [*cmd, job.image, *job.command]
