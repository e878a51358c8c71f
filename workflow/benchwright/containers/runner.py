"""Run a ContainerJob on a real Docker engine (docker-py) or Apptainer, or its command on the host.

Docker: the container's output streams into this process's stderr (the rule's log); the exit code, an OOM
kill, a missing image and an unreachable daemon each become a clear error; the container is removed on
success, on failure and on SIGTERM/Ctrl-C, so no job leaves one behind. The one exception is an engine that
dies during the job: nothing can be removed then, and the restarted engine keeps the stopped container. So
each job first removes benchwright's own leftovers: containers labelled ``MANAGED_LABEL`` that are not
running and whose run is over (its process is gone, or it is an earlier call of this process). Running
containers, containers of a run still in progress (another job's), of another host and without the label are
never touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from .spec import MANAGED_LABEL, ContainerJob, apptainer_command, docker_kwargs


class ContainerError(BenchwrightError):
    pass


def _emit(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


OWNER_LABEL = "org.benchwright.owner"
"""The process that created the container: ``<hostname> <boot id> <pid> <process start time>``."""
RUN_LABEL = "org.benchwright.run"
"""One call of run_docker (a random id), so a long-lived process can tell its finished calls from running ones."""
LEFTOVER_STATES = ("exited", "dead", "created")
_ACTIVE_RUNS: set[str] = set()


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks after boot; with the pid, it names one process), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]  # field 22; the fields after the command name start at 3


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_owner(pid: int | None = None) -> str:
    """The OWNER_LABEL value of a process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()} {_boot_id()} {pid} {_start_time(pid)}"


def is_leftover(labels: dict[str, str], state: str) -> bool:
    """Whether a container is a leftover of a finished benchwright run that may be removed."""
    if MANAGED_LABEL not in labels or state not in LEFTOVER_STATES:
        return False
    parts = labels.get(OWNER_LABEL, "").split()
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    host, boot, pid, start = parts
    if host != socket.gethostname():
        return False  # another machine's job on a shared engine: it may still be running there
    if boot != _boot_id():
        return True  # created before this machine rebooted: its process is gone
    if int(pid) == os.getpid() and start == _start_time(os.getpid()):
        return labels.get(RUN_LABEL) not in _ACTIVE_RUNS
    return _start_time(int(pid)) != start  # the process is gone (or the pid now belongs to another one)


def remove_leftovers(client: Any, emit: Callable[[str], None] = lambda _text: None) -> list[str]:
    """Remove benchwright's leftover containers (see ``is_leftover``) from the engine; return their ids."""
    from docker.errors import APIError

    removed = []
    for found in client.api.containers(all=True, filters={"label": MANAGED_LABEL}):
        if not is_leftover(found.get("Labels") or {}, found.get("State", "")):
            continue
        try:
            client.api.remove_container(found["Id"], v=True)  # no force: one that started meanwhile stays
        except APIError:
            continue  # gone already (another job removed it), or no longer stopped
        name = (found.get("Names") or ["?"])[0].lstrip("/")
        emit(f"benchwright: removed the container {name} ({found['Id'][:12]}) that an earlier job left "
             f"{found.get('State')} (that job could not remove it: its Docker engine or its process stopped)\n")
        removed.append(found["Id"])
    return removed


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
    run = uuid.uuid4().hex
    _ACTIVE_RUNS.add(run)
    try:
        remove_leftovers(client, emit)
        kwargs = docker_kwargs(job)
        kwargs["labels"].update({OWNER_LABEL: process_owner(), RUN_LABEL: run})
        container = client.containers.create(**kwargs)
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
                             "finish. fix: check dockerd, then run the workflow again (it redoes this job, and "
                             "removes this job's container if the restarted engine kept it)") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if container is not None:
            try:
                container.remove(force=True)  # also stops it when interrupted
            except lost:
                pass  # the engine is gone: the next job removes the stopped container (remove_leftovers)
        _ACTIVE_RUNS.discard(run)
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
    # passed-in variables go through APPTAINERENV_<NAME>, not --env: a key must not show on a command line
    env = {**os.environ, **{f"APPTAINERENV_{k}": v for k, v in job.passed_env().items()}}
    try:
        return subprocess.run(cmd, env=env).returncode
    except FileNotFoundError:
        raise ContainerError(f"benchwright: `{apptainer}` is not installed on this node. fix: load the site's "
                             "apptainer module, or set the SKU's container.runtime to docker or local") from None
