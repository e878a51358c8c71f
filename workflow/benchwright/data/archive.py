"""Safe, all-or-nothing extraction of dataset archives.

Every member is checked before a single byte is written: absolute paths, ``..`` components, links that
resolve outside the destination, members reached through a symlinked directory and device/fifo members
make the whole archive be refused. Accepted archives are extracted into a temporary directory beside
``dest_dir`` and renamed into place, so an interrupted extraction never leaves a partial ``dest_dir``.
For tar archives the standard library's ``filter="data"`` is applied as a second line of defence.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import staged_dir

TAR_MODES: dict[str, str] = {"tar": "r:", "tar.gz": "r:gz", "tar.bz2": "r:bz2", "tar.xz": "r:xz"}
FORMATS: tuple[str, ...] = ("zip", *TAR_MODES)

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, lzma.LZMAError, OSError
)


class ArchiveError(Exception):
    """An archive could not be read or extracted."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would escape the destination (or is a device); nothing was extracted.

    Attributes:
        archive: the refused archive.
        member: the offending member name.
        reason: why it was refused.
    """

    def __init__(self, archive: Path, member: str, reason: str) -> None:
        super().__init__(
            f"refused to extract {archive}: member {member!r} {reason}; the archive was refused and "
            "nothing was extracted (it may be malicious or corrupt: obtain a clean copy)"
        )
        self.archive = archive
        self.member = member
        self.reason = reason


@dataclass(frozen=True)
class _Member:
    """Format-neutral view of an archive member, enough to judge whether it is safe."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink" or "special"
    link: str = ""


def safe_extract(archive: str | os.PathLike[str], dest_dir: str | os.PathLike[str], fmt: str) -> list[Path]:
    """Extract ``archive`` (of format ``fmt``) into ``dest_dir`` after checking every member.

    Args:
        archive: the archive file.
        dest_dir: directory to create; it must not exist or be empty.
        fmt: one of :data:`FORMATS`.

    Returns:
        The sorted paths of the regular files extracted (inside ``dest_dir``).

    Raises:
        ValueError: ``fmt`` is not supported.
        UnsafeArchiveError: a member is unsafe; nothing was extracted.
        ArchiveError: the archive is unreadable.
        FileExistsError: ``dest_dir`` exists and is not empty.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unsupported archive format {fmt!r}: valid formats are {', '.join(FORMATS)}")
    archive, dest = Path(archive), Path(dest_dir)
    if not archive.is_file():
        raise ArchiveError(f"cannot extract {archive}: the archive does not exist or is not a file")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(
            f"cannot extract {archive}: {dest} already exists and is not an empty directory; remove it to "
            "re-extract"
        )
    if fmt == "zip":
        _extract_zip(archive, dest)
    else:
        _extract_tar(archive, dest, TAR_MODES[fmt])
    return sorted(p for p in dest.rglob("*") if p.is_file() and not p.is_symlink())


# --------------------------------------------------------------------------------------------------
# Member checks
# --------------------------------------------------------------------------------------------------


def _check_members(archive: Path, members: Iterable[_Member]) -> None:
    """Raise :class:`UnsafeArchiveError` for the first unsafe member."""
    members = list(members)
    symlinks = {_normalise(m.name) for m in members if m.kind == "symlink"}
    for member in members:
        reason = _unsafe_reason(member, symlinks)
        if reason:
            raise UnsafeArchiveError(archive, member.name, reason)


def _unsafe_reason(member: _Member, symlinks: set[str]) -> str | None:
    """Why ``member`` is unsafe, or None if it is fine."""
    reason = _path_problem(member.name, "has")
    if reason:
        return reason
    if member.kind == "special":
        return "is a device, fifo or other special file"
    name = _normalise(member.name)
    parents = [posixpath.join(*name.split("/")[:i]) for i in range(1, name.count("/") + 1)]
    if any(parent in symlinks for parent in parents):
        return "lies inside a directory that is a symlink in the same archive"
    if member.kind == "symlink":
        return _link_problem(member.link, posixpath.dirname(name), "symlink")
    if member.kind == "hardlink":
        return _link_problem(member.link, "", "hardlink")
    return None


def _link_problem(target: str, base: str, kind: str) -> str | None:
    """Why a link to ``target`` (relative to ``base`` inside the archive) escapes, or None."""
    problem = _path_problem(target, f"is a {kind} whose target {target!r} has", allow_dotdot=True)
    if problem:
        return problem
    resolved = posixpath.normpath(posixpath.join(base, target.replace("\\", "/")))
    if resolved == ".." or resolved.startswith("../"):
        return f"is a {kind} whose target {target!r} resolves outside the destination"
    return None


def _path_problem(name: str, lead: str, *, allow_dotdot: bool = False) -> str | None:
    """Why ``name`` is not a safe relative path, or None; ``lead`` starts the returned phrase."""
    unified = name.replace("\\", "/")
    if not unified.strip("/"):
        return f"{lead} an empty path"
    if unified.startswith("/") or _DRIVE_RE.match(unified):
        return f"{lead} an absolute path"
    if "\x00" in unified:
        return f"{lead} a NUL byte in its path"
    if not allow_dotdot and ".." in unified.split("/"):
        return f"{lead} a '..' path component"
    return None


def _normalise(name: str) -> str:
    return posixpath.normpath(name.replace("\\", "/"))


# --------------------------------------------------------------------------------------------------
# Tar
# --------------------------------------------------------------------------------------------------


def _tar_member(info: tarfile.TarInfo) -> _Member:
    if info.issym():
        return _Member(info.name, "symlink", info.linkname)
    if info.islnk():
        return _Member(info.name, "hardlink", info.linkname)
    if info.isdir():
        return _Member(info.name, "dir")
    if info.isreg():
        return _Member(info.name, "file")
    return _Member(info.name, "special")


def _extract_tar(archive: Path, dest: Path, mode: str) -> None:
    """Check every tar member, then extract with ``filter="data"`` into a staging directory."""
    try:
        with tarfile.open(archive, mode) as tar:  # type: ignore[call-overload]
            infos = tar.getmembers()
            _check_members(archive, map(_tar_member, infos))
            with _staging_dir(dest) as staging:
                tar.extractall(staging, members=infos, filter="data")
    except tarfile.FilterError as exc:  # the second line of defence caught something the checks missed
        member = exc.tarinfo.name if exc.tarinfo is not None else "?"
        raise UnsafeArchiveError(archive, member, f"was rejected by tarfile's data filter ({exc})") from exc
    except _READ_ERRORS as exc:
        raise ArchiveError(f"cannot extract {archive} ({mode}): {exc}; the archive may be corrupt") from exc


# --------------------------------------------------------------------------------------------------
# Zip
# --------------------------------------------------------------------------------------------------


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_ISDIR(mode):
        return _Member(info.filename, "dir")
    if stat.S_ISLNK(mode):
        target = zf.read(info).decode("utf-8", "surrogateescape")
        return _Member(info.filename, "symlink", target)
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        return _Member(info.filename, "special")
    return _Member(info.filename, "file")


def _extract_zip(archive: Path, dest: Path) -> None:
    """Extract a zip; symlink entries that passed the checks are written as small files, as zipfile does."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            _check_members(archive, (_zip_member(zf, info) for info in infos))
            with _staging_dir(dest) as staging:
                zf.extractall(staging, members=infos)
    except _READ_ERRORS as exc:
        raise ArchiveError(f"cannot extract {archive} (zip): {exc}; the archive may be corrupt") from exc


# --------------------------------------------------------------------------------------------------
# Staging
# --------------------------------------------------------------------------------------------------


def _staging_dir(dest: Path) -> contextlib.AbstractContextManager[Path]:
    return staged_dir(dest, suffix=".extracting")


@contextlib.contextmanager
def unpacked_bundle(archive: str | os.PathLike[str]):
    """Extract ``archive`` (tar, tar.gz or zip, safely) into a temporary folder and yield its single top folder
    (or the folder itself when the archive has several entries at its top); removed afterwards."""
    import tempfile

    path = Path(archive)
    with tempfile.TemporaryDirectory(prefix="benchwright-unpacked-") as tmp:
        fmt = "zip" if path.name.endswith(".zip") else "tar.gz" if path.name.endswith((".tar.gz", ".tgz")) else "tar"
        safe_extract(path, Path(tmp) / "x", fmt)
        tops = list((Path(tmp) / "x").iterdir())
        yield tops[0] if len(tops) == 1 and tops[0].is_dir() else Path(tmp) / "x"
