"""Run a ContainerJob on a real Docker engine (docker-py) or Apptainer, or its command on the host.

Docker: the container's output streams into this process's stderr (the rule's log); the exit code, an OOM
kill, a missing image and an unreachable daemon each become a clear error; the container is removed on
success, on failure and on SIGTERM/Ctrl-C, so no job leaves one behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from .spec import ContainerJob, apptainer_command, docker_kwargs


class ContainerError(BenchwrightError):
    pass


def _emit(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _owner(user: str | None) -> tuple[int, int] | None:
    if not user or ":" not in user:
        return None
    uid, gid = user.split(":", 1)
    return int(uid), int(gid)


def _hand_over(paths: list[str], owner: tuple[int, int]) -> None:
    """Give the read-write folders to the container's user (the host runs as root, the container does not)."""
    for path in paths:
        Path(path).mkdir(parents=True, exist_ok=True)
        os.chown(path, *owner)


def _take_back(paths: list[str]) -> None:
    uid, gid = os.getuid(), os.getgid()
    for path in paths:
        for root, dirs, files in os.walk(path):
            os.chown(root, uid, gid)
            for name in dirs + files:
                os.lchown(os.path.join(root, name), uid, gid)


def run_docker(job: ContainerJob, *, client: Any = None, emit: Callable[[str], None] = _emit) -> dict[str, Any]:
    """Run the job to completion; return {"exit_code", "container_id", "image_id"}; raise ContainerError."""
    import docker
    import requests
    from docker.errors import APIError, DockerException, ImageNotFound

    # A missing or dead daemon shows up as requests' connection errors as well as docker-py's own.
    lost = (DockerException, requests.exceptions.RequestException)
    try:
        client = client or docker.from_env()
        client.ping()
    except lost as exc:
        raise ContainerError(f"benchwright: no Docker engine answers ({exc}). fix: start dockerd, or set the SKU's "
                             "container.runtime to local or apptainer") from None
    try:
        image = client.images.get(job.image)
    except ImageNotFound:  # before RequestException: docker-py's HTTP errors subclass requests' own
        raise ContainerError(f"benchwright: the image {job.image} does not exist on this Docker engine. fix: build it "
                             "(snakemake builds results/images/<name>.json; `benchwright image --name <name>`)") from None
    except lost as exc:
        raise ContainerError(f"benchwright: lost the Docker engine ({exc}). fix: check dockerd") from None
    rw = [m.source for m in job.mounts if not m.read_only]
    owner = _owner(job.user)
    handed = owner is not None and os.getuid() == 0 and owner != (0, 0)
    if handed:
        _hand_over(rw, owner)
    container = None

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        container = client.containers.create(**docker_kwargs(job))
        container.start()
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            emit(chunk.decode("utf-8", errors="replace"))
        status = container.wait()
        state = client.api.inspect_container(container.id)["State"]
        code = int(status.get("StatusCode", state.get("ExitCode", -1)))
        if state.get("OOMKilled"):
            raise ContainerError(f"benchwright: the container of this job was killed for memory: it exceeded its "
                                 f"limit of {job.mem_limit_mb} MB. fix: raise the memory the job may use "
                                 f"(resources mem_mb) or lower the batch size in the SKU's tuning")
        if code != 0:
            raise ContainerError(f"benchwright: the command in the container ({image.id[:19]}) exited with code "
                                 f"{code}{_signal_name(code)}: {' '.join(job.command)[:300]}")
        return {"exit_code": code, "container_id": container.id, "image_id": image.id}
    except ContainerError:
        raise
    except APIError as exc:
        raise ContainerError(f"benchwright: the Docker engine refused the job: {exc.explanation or exc}") from None
    except lost as exc:
        raise ContainerError(f"benchwright: lost the Docker engine during the job ({exc}); the job did not "
                             "finish. fix: check dockerd, then run the workflow again") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if container is not None:
            try:
                container.remove(force=True)  # also stops it when interrupted
            except lost:
                pass
        if handed:
            _take_back(rw)


def _signal_name(code: int) -> str:
    if code > 128:
        try:
            return f" ({signal.Signals(code - 128).name})"
        except ValueError:
            return ""
    return ""


def run_apptainer(job: ContainerJob, *, apptainer: str = "apptainer") -> int:
    cmd = apptainer_command(job, apptainer)
    try:
        return subprocess.run(cmd).returncode
    except FileNotFoundError:
        raise ContainerError(f"benchwright: `{apptainer}` is not installed on this node. fix: load the site's "
                             "apptainer module, or set the SKU's container.runtime to docker or local") from None
