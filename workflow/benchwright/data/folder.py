"""Datasets given as a local directory, verified against one manifest.

A large dataset (ImageNet, a tokenized corpus) is not downloaded by benchwright: it already lies in a folder. The
folder is pinned by one manifest in ``sha256sum`` format (``<sha256>  <relative path>`` per file), and the benchmark
file pins the manifest's own sha256, so one hash in the config covers every byte of the dataset. Verification
reports every missing, extra and changed file at once, and is incremental: a cache of (size, mtime_ns, sha256) per
file lets a re-run skip files that were not touched since they last verified.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BenchwrightError
from ..paths import SNAKEMAKE_MARK
from ..fsutil import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file

MAX_LISTED = 20
"""Files named per kind (missing, extra, changed) in a mismatch error; the rest are counted."""

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VAR = re.compile(r"\$(?:\{([^}]*)\}?|([A-Za-z_][A-Za-z0-9_]*))")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MANIFEST, MANIFEST_SHA256 = "dataset.manifest", "dataset.manifest_sha256"
"""The benchmark-file fields of a manifest's errors (DatasetFolderError.field)."""


class DatasetFolderError(BenchwrightError):
    """A dataset folder, its manifest or its path is wrong. ``missing``, ``extra``: relative paths;
    ``changed``: relative paths whose sha256 differs, with ``hashes[path] == (actual, manifest)``.

    ``field``: the benchmark-file field to correct, where one is: ``dataset.manifest`` or
    ``dataset.manifest_sha256`` for a manifest, the ``field`` given to :func:`expand_path` for a path; None for
    the folder and its contents."""

    def __init__(self, message: str, *, field: str | None = None, missing: Sequence[str] = (),
                 extra: Sequence[str] = (), changed: Sequence[tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.missing: tuple[str, ...] = tuple(missing)
        self.extra: tuple[str, ...] = tuple(extra)
        self.changed: tuple[str, ...] = tuple(path for path, _, _ in changed)
        self.hashes: dict[str, tuple[str, str]] = {path: (actual, want) for path, actual, want in changed}

    @classmethod
    def mismatch(cls, directory: Path, manifest: Path, missing: Sequence[str], extra: Sequence[str],
                 changed: Sequence[tuple[str, str, str]]) -> DatasetFolderError:
        """The error listing every missing, extra and changed file (at most MAX_LISTED of each)."""
        lines = [f"benchwright: dataset folder {directory} does not match its manifest {manifest}:"]
        lines += _listing("missing", missing, _show)
        lines += _listing("extra", extra, _show)
        lines += _listing("changed", changed, lambda c: f"{_show(c[0])} (sha256 {c[1]}, manifest {c[2]})")
        lines.append(f"  fix: restore the missing and changed files from the original dataset and remove the extra "
                     f"ones; if the dataset changed on purpose, regenerate the manifest with "
                     f"`{_regen(directory, manifest)}` and update dataset.manifest_sha256 in the benchmark file to the "
                     "hash it prints")
        return cls("\n".join(lines), missing=missing, extra=extra, changed=changed)


@dataclass(frozen=True)
class FolderReport:
    """What a successful verification covered: files and bytes in the manifest, files hashed this time."""

    files: int
    bytes: int
    hashed: int
    manifest_sha256: str


# --- manifest ----------------------------------------------------------------------------------------------


def write_manifest(directory: str | os.PathLike[str], out_file: str | os.PathLike[str]) -> str:
    """Hash every regular file below ``directory`` into ``out_file`` (sha256sum format, sorted by path); return
    the manifest's own sha256, the value a benchmark file pins as ``dataset.manifest_sha256``."""
    directory, out_file = Path(directory), Path(out_file)
    files = _walk(directory, exclude=[out_file], strict=True)
    if not files:
        raise DatasetFolderError(f"benchwright: dataset folder {directory} contains no files; fix: point it at the "
                                 "folder that holds the dataset")
    data = "".join(f"{_hash(path)}  {rel}\n" for rel, path in files.items()).encode("utf-8")
    atomic_write_bytes(out_file, data)
    return sha256_bytes(data)


def read_manifest(path: str | os.PathLike[str], expected_sha256: str | None = None) -> dict[str, str]:
    """Parse a manifest strictly into {relative path: sha256}; with ``expected_sha256``, first check the
    manifest file's own hash against it."""
    return _read_manifest(Path(path), expected_sha256, None)


def _read_manifest(path: Path, expected_sha256: str | None, directory: Path | None) -> dict[str, str]:
    regen = _regen(directory, path)
    try:
        data = path.read_bytes()  # hashed and parsed from the same bytes: no swap between check and use
    except FileNotFoundError:
        raise DatasetFolderError(f"benchwright: dataset manifest {path} does not exist; fix: create it with "
                                 f"`{regen}`, or correct the path", field=MANIFEST) from None
    except OSError as exc:
        raise DatasetFolderError(f"benchwright: cannot read dataset manifest {path}: {exc.strerror or exc}",
                                 field=MANIFEST) from exc
    actual = sha256_bytes(data)
    if expected_sha256 is not None and actual != expected_sha256.strip().lower():
        raise DatasetFolderError(
            f"benchwright: dataset manifest {path} has sha256 {actual}, but the benchmark file pins "
            f"dataset.manifest_sha256 {expected_sha256}; fix: if the dataset changed on purpose, regenerate the "
            f"manifest with `{regen}` and update dataset.manifest_sha256 in the benchmark file to the hash it "
            "prints; otherwise restore the manifest (it was edited or replaced)", field=MANIFEST_SHA256)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _bad_line(path, line, "is not valid UTF-8", regen) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline
    entries: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            raise _bad_line(path, number, "ends with a Windows line ending (\\r\\n)", regen)
        m = _LINE.match(line)
        if not m:
            raise _bad_line(path, number, f"is not '<64 lower-case hex sha256>  <relative path>' (sha256sum "
                                          f"format): {line[:120]!r}", regen)
        digest, rel = m.groups()
        reason = _bad_path(rel)
        if reason:
            raise _bad_line(path, number, f"path {rel!r} {reason}", regen)
        if rel in entries:
            raise _bad_line(path, number, f"path {rel!r} is listed twice", regen)
        entries[rel] = digest
    if not entries:
        raise DatasetFolderError(f"benchwright: dataset manifest {path} lists no files; fix: regenerate it with "
                                 f"`{regen}`", field=MANIFEST)
    return entries


def _bad_line(path: Path, number: int, what: str, regen: str) -> DatasetFolderError:
    return DatasetFolderError(f"benchwright: dataset manifest {path}, line {number}: {what}; fix: correct that "
                              f"line or regenerate the manifest with `{regen}`", field=MANIFEST)


def _bad_path(rel: str) -> str | None:
    """Why ``rel`` is not a normalized relative POSIX path inside the folder (None when it is)."""
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        return "is absolute (paths must be relative to the dataset folder)"
    if "\\" in rel:
        return "contains a backslash (paths use '/')"
    parts = rel.split("/")
    if ".." in parts:
        return "contains '..' (paths must stay inside the dataset folder)"
    if any(part in ("", ".") for part in parts) or str(PurePosixPath(rel)) != rel:
        return "is not normalized (no empty or '.' components, no trailing '/')"
    return None


# --- verification ------------------------------------------------------------------------------------------


def verify_folder(directory: str | os.PathLike[str], manifest: str | os.PathLike[str], manifest_sha256: str, *,
                  cache_file: str | os.PathLike[str] | None = None, verify_all: bool = False) -> FolderReport:
    """Check ``directory`` against ``manifest`` (whose sha256 must be ``manifest_sha256``); raise one
    DatasetFolderError naming every missing, extra and changed file.

    With ``cache_file``, a file whose size and mtime_ns equal its cache entry, and whose cached sha256 is the
    manifest's, is not hashed again. The trade-off: a file rewritten with the same size whose mtime was then
    restored (``touch -r``, ``cp -p``, ``rsync -t``, a tar extraction) or that changed within the same mtime tick
    is not detected; ``verify_all=True`` (``--verify-all``) hashes every file and detects it. The cache is
    rewritten atomically with the entries that verified, after a failed verification too (a re-run after a fix
    then hashes only what was not verified yet).
    """
    directory, manifest = Path(directory), Path(manifest)
    cache_path = Path(cache_file) if cache_file is not None else None
    expected = _read_manifest(manifest, manifest_sha256, directory)
    actual_manifest_sha256 = manifest_sha256.strip().lower()
    present = _walk(directory, exclude=[manifest, *([cache_path] if cache_path else [])], strict=False)
    cache = _load_cache(cache_path) if cache_path is not None and not verify_all else {}

    missing = [rel for rel in expected if rel not in present]
    extra = [rel for rel in present if rel not in expected]
    changed: list[tuple[str, str, str]] = []
    verified: dict[str, dict[str, Any]] = {}
    hashed = total = 0
    for rel, path in present.items():
        want = expected.get(rel)
        if want is None:
            continue
        try:
            st = path.stat()  # before hashing: a write during hashing leaves a newer mtime than the one recorded
        except FileNotFoundError:  # removed since the walk
            missing.append(rel)
            continue
        entry = cache.get(rel)
        if not (entry and entry["size"] == st.st_size and entry["mtime_ns"] == st.st_mtime_ns
                and entry["sha256"] == want):
            digest = _hash(path)
            hashed += 1
            if digest != want:
                changed.append((rel, digest, want))
                continue
        verified[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": want}
        total += st.st_size

    if cache_path is not None:
        atomic_write_json(cache_path, verified)
    if missing or extra or changed:
        raise DatasetFolderError.mismatch(directory, manifest, sorted(missing), extra, changed)
    return FolderReport(files=len(verified), bytes=total, hashed=hashed, manifest_sha256=actual_manifest_sha256)


def _load_cache(path: Path) -> dict[str, dict[str, Any]]:
    """The cache's well-formed entries; a missing, unreadable or corrupt cache is empty (it only saves time)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    cache = {}
    for rel, entry in raw.items():
        if (isinstance(entry, dict) and type(entry.get("size")) is int and type(entry.get("mtime_ns")) is int
                and isinstance(entry.get("sha256"), str) and _SHA256.match(entry["sha256"])):
            cache[rel] = entry
    return cache


# --- walking -----------------------------------------------------------------------------------------------


def _walk(directory: Path, *, exclude: Iterable[Path], strict: bool) -> dict[str, Path]:
    """{relative POSIX path: path} of every file below ``directory``, sorted by relative path.

    Symlinked directories are not followed, and refused (their files would silently be left out); a symlink to a
    regular file counts as that file. Anything else that is not a regular file (fifo, socket, device, dangling
    link) is refused. ``strict``: also refuse names a manifest line cannot hold (newline, backslash, not UTF-8).
    """
    if not directory.exists():
        raise DatasetFolderError(f"benchwright: dataset folder {directory} does not exist; fix: correct the path, "
                                 "or put the dataset there")
    if not directory.is_dir():
        raise DatasetFolderError(f"benchwright: dataset folder {directory} is not a directory; fix: point it at "
                                 "the folder that holds the dataset")
    skip = {os.path.join(os.path.realpath(p.parent), p.name) for p in exclude}
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False, onerror=_raise):
        real_dir = os.path.realpath(dirpath)
        rel_dir = os.path.relpath(dirpath, directory)
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                raise DatasetFolderError(
                    f"benchwright: dataset folder {directory} contains a symlinked directory "
                    f"{_show(_join(rel_dir, name))}, which is not followed; fix: replace the link by the folder it "
                    "points to, or point the dataset path at the real folder")
        for name in filenames:
            if rel_dir == "." and name == SNAKEMAKE_MARK:
                continue  # the folder is a Snakemake directory output (a fixture made inside the DAG)
            if os.path.join(real_dir, name) in skip:
                continue
            rel = _join(rel_dir, name)
            full = Path(dirpath, name)
            try:
                mode = full.stat().st_mode
            except OSError:
                mode = 0
            if not stat.S_ISREG(mode):
                raise DatasetFolderError(f"benchwright: dataset folder {directory} contains {_show(rel)}, which is "
                                         "not a regular file (a dangling link, fifo, socket or device); fix: remove "
                                         "it or replace it by the file it should be")
            if strict and (reason := _unlistable(rel)):
                raise DatasetFolderError(f"benchwright: dataset folder {directory} contains {_show(rel)}, whose name "
                                         f"{reason}, so a manifest line cannot hold it; fix: rename it")
            found[rel] = full
    return dict(sorted(found.items()))


def _hash(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise DatasetFolderError(f"benchwright: cannot read dataset file {path}: {exc.strerror or exc}; fix: check "
                                 "its permissions and the disk") from exc


def _raise(exc: OSError) -> None:
    raise DatasetFolderError(f"benchwright: cannot read dataset folder {exc.filename}: {exc.strerror or exc}")


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{Path(rel_dir).as_posix()}/{name}"


def _unlistable(rel: str) -> str | None:
    if "\n" in rel or "\r" in rel:
        return "contains a line break"
    if "\\" in rel:
        return "contains a backslash"
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def _show(rel: str) -> str:
    """A relative path as printed in messages: as is when printable, quoted otherwise."""
    return rel if rel.isprintable() and rel.strip() == rel else repr(rel)


def _listing(kind: str, items: Sequence[Any], render: Any) -> list[str]:
    lines = [f"  {kind}: {render(item)}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"  ... and {len(items) - MAX_LISTED} more {kind} files ({len(items)} in all)")
    return lines


def _regen(directory: Path | None, manifest: Path) -> str:
    return f"benchwright dataset manifest {directory if directory is not None else 'DIR'} --out {manifest}"


# --- paths from the config ---------------------------------------------------------------------------------


def expand_path(text: str, *, field: str, file: str | os.PathLike[str]) -> Path:
    """``text`` with ``~`` and ``${VAR}`` / ``$VAR`` expanded; a variable that is unset (or empty) is an error
    naming it, ``field`` and ``file`` (os.path.expandvars would leave it in the path silently)."""
    where = f"benchwright: {file}: {field}"
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        user = expanded[1:].split("/", 1)[0]
        raise DatasetFolderError(f"{where} starts with ~{user}, but there is no user {user!r} on this machine; fix: "
                                 "write the path out", field=field)

    def substitute(m: re.Match[str]) -> str:
        braced, bare = m.group(1), m.group(2)
        if braced is not None and (not m.group(0).endswith("}") or not _NAME.match(braced)):
            raise DatasetFolderError(f"{where} has a malformed variable {m.group(0)!r}; fix: write ${{NAME}} or "
                                     "$NAME, NAME being letters, digits and '_'", field=field)
        name = braced if braced is not None else bare
        value = os.environ.get(name)
        if not value:
            state = "which is not set" if value is None else "which is set but empty"
            raise DatasetFolderError(f"{where} uses ${{{name}}}, {state}; fix: export {name}=/where/the/data/is",
                                     field=field)
        return value

    return Path(_VAR.sub(substitute, expanded))
