"""Build a SKU's container image offline: a wheelhouse made with the host's pip (benchwright's own wheel and
the image's lock), a docker-py build on a local base image, and a record of the image id that run rules
depend on, so rebuilding an image re-runs exactly what used it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from ..fsutil import atomic_write_json, sha256_file

LOCAL_BASE = "local/bookworm-python:base"
RECORD_VERSION = 1


class ImageError(BenchwrightError):
    pass


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def wheelhouse(image_dir: Path, project_root: Path, out: Path, log: Callable[[str], None] = _log) -> None:
    """benchwright's wheel and every wheel the image's lock pins, into ``out`` (the host's pip, its indexes)."""
    out.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    steps = [
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(project_root)],
        # `wheel`, not `download`: a pin published only as an sdist (rouge-score) is built into a wheel here, so the
        # image installs everything offline without a build backend
        [*pip, "wheel", "--no-deps", "-w", str(out), "-r", str(image_dir / "requirements.lock")],
    ]
    for cmd in steps:
        log(f"wheelhouse: {' '.join(cmd[3:5])} ...")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ImageError(f"benchwright: building the wheelhouse for {image_dir.name} failed:\n"
                             f"{proc.stderr[-3000:]}\nfix: check that the lock's versions are on the package index")


def lock(image_dir: str | os.PathLike[str]) -> str:
    """Resolve ``requirements.in`` with pip into exact pins and write ``requirements.lock``; return its text."""
    image_dir = Path(image_dir)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
               str(report), "-r", str(image_dir / "requirements.in")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ImageError(f"benchwright: resolving {image_dir}/requirements.in failed:\n{proc.stderr[-3000:]}")
        import json

        installs = json.loads(report.read_text())["install"]
    pins = sorted(f"{i['metadata']['name']}=={i['metadata']['version'].split('+')[0]}" for i in installs)
    text = "\n".join([
        f"# Exact versions installed in the {image_dir.name} image, resolved from requirements.in by pip:",
        "#   pip install --dry-run --ignore-installed --report report.json -r requirements.in",
        f"# (benchwright image --lock {image_dir.name}). The image installs them offline from a wheelhouse.",
        *sorted(pins, key=str.lower), ""])
    from ..fsutil import atomic_write_text

    atomic_write_text(image_dir / "requirements.lock", text)
    return text


def docker_client():
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env()
        client.ping()
        return client
    except DockerException as exc:
        raise ImageError(f"benchwright: no Docker engine answers ({exc}). fix: start dockerd (.ci/services/docker.sh "
                         "here), or set the SKU's container.runtime to local or apptainer") from None


def build_image(name: str, *, containers_dir: str | os.PathLike[str] = "containers", project_root: str | os.PathLike[str] = ".",
                record: str | os.PathLike[str], base: str | None = None, client: Any = None,
                log: Callable[[str], None] = _log) -> dict[str, Any]:
    """Build ``containers/<name>`` and write its record (image id, tag, base, lock hash)."""
    image_dir = Path(containers_dir) / name
    if not (image_dir / "Dockerfile").is_file():
        raise ImageError(f"benchwright: no image `{name}`: {image_dir}/Dockerfile does not exist")
    client = client or docker_client()
    if base is None:
        base = LOCAL_BASE if _exists(client, LOCAL_BASE) else None
    from .. import __version__

    tag = f"benchwright/{name}:{__version__}"
    with tempfile.TemporaryDirectory(prefix=f"benchwright-image-{name}-") as tmp:
        context = Path(tmp)
        for item in ("Dockerfile", "requirements.lock"):
            shutil.copy(image_dir / item, context / item)
        wheelhouse(image_dir, Path(project_root).resolve(), context / "wheels", log)
        log(f"building {tag} on {base or 'the Dockerfile default base'} ...")
        from docker.errors import APIError, BuildError, ImageNotFound

        try:
            previous = client.images.get(tag).id
        except ImageNotFound:
            previous = None

        try:
            image, stream = client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, pull=False,
                                                buildargs={"BASE": base} if base else {})
        except BuildError as exc:
            lines = "".join(chunk.get("stream", "") or chunk.get("error", "") for chunk in exc.build_log)
            raise ImageError(f"benchwright: building image {name} failed: {exc.msg}\n{lines[-3000:]}") from None
    info = {
        "version": RECORD_VERSION,
        "name": name,
        "tag": tag,
        "id": image.id,
        "base": base,
        "lock_sha256": sha256_file(image_dir / "requirements.lock"),
        "dockerfile_sha256": sha256_file(image_dir / "Dockerfile"),
        "size_bytes": image.attrs.get("Size"),
    }
    atomic_write_json(record, info)
    log(f"image {tag}: {image.id}")
    if previous and previous != image.id:
        # The tag moved: the image it named has no name left. Remove it, or every rebuild leaves a full image
        # behind (1.6 GB for cpu); one still used by a container or another tag stays.
        try:
            client.images.remove(previous, noprune=False)
            log(f"removed the superseded image {previous}")
        except APIError as exc:
            log(f"kept the superseded image {previous}: {exc.explanation or exc}")
    return info


def _exists(client: Any, ref: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False
