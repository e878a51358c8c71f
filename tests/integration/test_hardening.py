"""Hardening catalog (docs/reliability.md), the cases that need root or kill processes: a full disk (a real 1 MiB
tmpfs) and a bundle assembly killed with SIGKILL."""

from __future__ import annotations

import errno
import importlib.resources
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchwright.errors import DiskWriteError
from benchwright.fsutil import atomic_write_bytes, atomic_write_text, staged_dir

from ..conftest import in_ci
from ..unit.test_submission import REPO, make_campaign

DIGITS = importlib.resources.files("sklearn") / "datasets" / "data" / "digits.csv.gz"


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs, mounted for the test and unmounted after it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        reason = f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}); needs root"
        if in_ci():
            pytest.fail(reason + "; CI must provide it")
        pytest.skip(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int = 100_000) -> None:
    """Take all but ``leave`` bytes of the disk with a file named `filler`."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave))


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_full_disk_fails_atomic_writes_naming_the_file_and_keeps_the_previous_one(full_disk):
    previous = full_disk / "summary.json"
    atomic_write_text(previous, "previous\n")
    with pytest.raises(DiskWriteError) as info:
        atomic_write_bytes(previous, b"x" * (2 << 20))
    err = info.value
    assert err.errno == errno.ENOSPC and str(previous) in str(err) and "No space left on device" in str(err)
    assert "free space" in str(err)
    assert previous.read_text() == "previous\n" and _names(full_disk) == ["summary.json"]  # no temp file


def test_a_full_disk_fails_a_staged_folder_and_keeps_the_previous_one(full_disk):
    out = full_disk / "out"
    with staged_dir(out) as staging:
        (staging / "kept.txt").write_text("previous")
    with pytest.raises(DiskWriteError, match=f"No space left on device while writing {out}"):
        with staged_dir(out, replace=True) as staging:
            with open(staging / "big.npy", "wb") as handle:
                handle.write(b"x" * (2 << 20))
    assert _names(full_disk) == ["out"] and _names(out) == ["kept.txt"]


def test_a_full_disk_fails_preprocessing_with_the_output_named(full_disk, tmp_path):
    """The preprocess stage's outputs (about 0.5 MB of arrays) do not fit: the error names the output folder, and
    the previous output is untouched."""
    from benchwright.data.preprocess import preprocess

    out = full_disk / "digits-cnn"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    _fill(full_disk)
    with pytest.raises(DiskWriteError) as info:
        preprocess("digits", 1, {}, [str(DIGITS)], out)
    assert f"while writing {out}" in str(info.value) and "No space left on device" in str(info.value)
    assert _names(full_disk) == ["digits-cnn", "filler"] and _names(out) == ["manifest.json"]


def test_a_full_disk_fails_a_download_and_leaves_no_part_file(full_disk, tmp_path):
    from benchwright.data.fetch import FetchError, fetch
    from benchwright.fsutil import sha256_file

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 << 20))
    dest = full_disk / "big.bin"
    with pytest.raises(FetchError) as info:
        fetch(big.as_uri(), dest, sha256_file(big), log=lambda m: None)
    message = str(info.value)
    assert f"{dest}.part" in message and "No space left on device" in message and "free space" in message
    assert _names(full_disk) == []


def test_the_cli_reports_a_full_disk_in_one_line(full_disk):
    """`benchwright preprocess` (a DAG step) prints the error without a traceback and exits 1."""
    bin_dir = Path(sys.executable).parent
    _fill(full_disk)
    proc = subprocess.run([str(bin_dir / "benchwright"), "preprocess", "--spec", '{"name": "digits", "version": 1}',
                           "--inputs", str(DIGITS), "--out", str(full_disk / "out")], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and f"while writing {full_disk / 'out'}" in proc.stderr
    assert _names(full_disk) == ["filler"]


# --- a bundle assembly killed with SIGKILL -----------------------------------------------------------------------


def _bundle(root: Path) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    return subprocess.Popen([str(bin_dir / "benchwright"), "bundle", "--configfile", "config/config.yaml",
                             "--checkout", str(REPO), "--out", "results/bundle", "--tarball", "results/bundle.tar.gz"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("moment", ["folder-staged", "tarball-staged"])
def test_a_killed_bundle_assembly_leaves_nothing_and_the_next_run_succeeds(tmp_path, moment):
    from benchwright.submission.check import check_bundle

    reference = make_campaign(tmp_path / "reference", recorded="smoke-int8-offline", training=True, mode="smoke")
    assert _bundle(reference).wait(timeout=300) == 0
    root = make_campaign(tmp_path / "killed", recorded="smoke-int8-offline", training=True, mode="smoke")
    results = root / "results"
    pattern = ".bundle.*" if moment == "folder-staged" else ".bundle.tar.gz.*/*"
    proc = _bundle(root)
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not list(results.glob(pattern)):
            time.sleep(0.002)
        assert proc.poll() is None, f"the assembly ended before it could be killed: {proc.stderr.read()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (results / "bundle").exists() and not (results / "bundle.tar.gz").exists()
    leftovers = [p.name for p in results.iterdir() if p.name.startswith(".bundle")]
    assert leftovers  # the staging folders SIGKILL left (hidden, never at a result's path)

    again = _bundle(root)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert (results / "bundle.tar.gz").read_bytes() == (reference / "results/bundle.tar.gz").read_bytes()
    assert check_bundle(results / "bundle").ok
    assert not any(".bundle" in p.name for p in (results / "bundle").rglob("*"))  # leftovers not in the bundle
