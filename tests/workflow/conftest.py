"""Run the real Snakefile as a subprocess in a temporary working directory."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """`snakemake -s REPO/Snakefile ARGS` run inside WORKDIR, with this interpreter's tools on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory with a copy of the default config/ tree."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path


@pytest.fixture(scope="session")
def default_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default campaign run once per session (`snakemake --cores 2`) in a working directory of its own.

    Shared by the tests that need a finished campaign (its results, and the uninterrupted baseline of the fault
    injection test): they read it and must not change it."""
    workdir = tmp_path_factory.mktemp("default-campaign")
    shutil.copytree(REPO / "config", workdir / "config")
    snakemake(workdir, "--cores", "2", timeout=1200)
    return workdir


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a temporary folder: (base URL, folder)."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):  # keep test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
