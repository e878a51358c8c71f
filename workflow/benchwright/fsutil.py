"""Small file-system helpers shared by every stage: atomic writes and hashing.

Every artifact benchwright produces is written to a temporary file in the target directory and renamed
into place, so a reader never sees a half-written file and an interrupted job leaves no output behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import DiskWriteError

CHUNK = 1 << 20


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; results are shared (HPC project folders), so the
# final file gets the permissions an ordinary open() would give it.
_FILE_MODE = 0o666 & ~_current_umask()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- leftovers of killed writers -------------------------------------------------------------------------
# Temporary files and staging folders are named ``.<target>.<host>-<pid>.<random>``: a writer killed with SIGKILL
# cannot remove its own, so the next writer of the same target removes those whose process is gone. Only the
# same host's can be judged (a pid means nothing on another node of a shared file system, or in a container
# with its own pid namespace and hostname); a live pid, even a reused one, is left alone.

_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def _owner_prefix(target: Path) -> str:
    return f".{target.name}.{_HOST}-{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files and staging folders of ``target`` left by writers on this host that are gone."""
    target = Path(target)
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.{re.escape(_HOST)}-(\d+)\.")
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if not m or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync and rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=_owner_prefix(target), suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        disk = _disk_error(exc, target.parent)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if disk is not None:
            raise _naming(disk, target, "nothing was written there; the previous file, if any, is unchanged") from exc
        raise


_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS)


def _disk_error(exc: BaseException, folder: Path) -> OSError | None:
    """A failed write of the disk (a plain OSError that names no file), as an OSError with its errno: numpy's
    writers report a full disk as "49472 requested and 22496 written", without one; a full file system says it."""
    if type(exc) is not OSError or exc.filename is not None:
        return None
    if exc.errno in _DISK_ERRNOS:
        return exc
    if exc.errno is None:
        with contextlib.suppress(OSError):
            st = os.statvfs(folder)
            if st.f_bavail * st.f_frsize < 64 * 1024:
                return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({exc})")
    return None


def _naming(exc: OSError, target: Path, kept: str) -> DiskWriteError:
    """The same error naming the file it was writing (a failed write() names none: "[Errno 28] No space left on
    device" alone does not say where)."""
    fix = "free space on that file system" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the disk"
    return DiskWriteError(exc.errno, f"{exc.strerror or exc} while writing {target}: {kept}. fix: {fix}, then run "
                          "again", str(target))


def staging_dir(target: str | os.PathLike[str], suffix: str = "") -> Path:
    """A fresh hidden folder beside ``target``, to be filled and then renamed onto it (``os.replace``).

    It gets the permissions ``mkdir`` would give it (``mkdtemp`` alone makes it private to its owner).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    path = Path(tempfile.mkdtemp(prefix=_owner_prefix(target), suffix=suffix, dir=target.parent))
    os.chmod(path, 0o777 & ~_current_umask())
    return path


@contextlib.contextmanager
def staged_dir(target: str | os.PathLike[str], suffix: str = "", *, replace: bool = False) -> Iterator[Path]:
    """Yield a fresh folder beside ``target`` to fill; on success rename it onto ``target`` (a folder appears
    complete or not at all), on any exception delete it. ``replace``: remove an existing ``target`` first."""
    target = Path(target)
    staging = staging_dir(target, suffix)
    try:
        yield staging
        if replace and target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)  # atomic; allowed onto an empty folder
    except BaseException as exc:
        disk = _disk_error(exc, staging)
        shutil.rmtree(staging, ignore_errors=True)
        if disk is not None:
            raise _naming(disk, target, "its staging folder was removed and nothing was placed there") from exc
        raise


def plain_file_modes(folder: str | os.PathLike[str]) -> None:
    """Give the files of ``folder`` the mode a plain ``open`` would (umask applied): a library that saves through
    a private temporary file (safetensors: 0600) would otherwise leave them unreadable to a container's user."""
    for path in Path(folder).iterdir():
        if path.is_file():
            os.chmod(path, _FILE_MODE)


@contextlib.contextmanager
def staged_file(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a path, in a fresh hidden folder beside ``target``, to write a file to; on success rename it onto
    ``target``, on any exception delete it (for writers that need a path rather than a handle)."""
    target = Path(target)
    folder = staging_dir(target)
    try:
        yield folder / target.name
        os.replace(folder / target.name, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, fixed separators, trailing newline."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, canonical_json(obj))
