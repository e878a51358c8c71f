"""Fixtures for tests against real services (a Docker engine). They skip, with the reason printed, where the
machine has none; in CI a skipped service test is a failure (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine here
        pytest.skip(f"no Docker engine answers ({exc}); start one with .ci/services/docker.sh")
    return client


@pytest.fixture(scope="session")
def cpu_image(docker_client, tmp_path_factory) -> dict:
    """The cpu image, built with the same function as the DAG's build_image rule (cached by Docker's layers)."""
    try:
        docker_client.images.get("local/bookworm-python:base")
    except Exception:  # noqa: BLE001
        pytest.skip("the local base image is missing; build it with containers/base/build-base.sh")
    from benchwright.containers.image import build_image

    record = tmp_path_factory.mktemp("image") / "cpu.json"
    return build_image("cpu", containers_dir=REPO / "containers", project_root=REPO, record=record,
                       client=docker_client)


def containers_with_label(client, label: str) -> list:
    return client.containers.list(all=True, filters={"label": label})


def benchwright_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(bin_dir / "benchwright"), *args], capture_output=True, text=True, env=env, **kwargs)


def image_record(tmp_path: Path, image: dict) -> Path:
    path = tmp_path / "image.json"
    path.write_text(json.dumps(image))
    return path
