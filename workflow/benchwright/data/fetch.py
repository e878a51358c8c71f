"""Dataset download stage: fetch a file from a URL and install it only once its sha256 is verified.

Supported URL schemes:

* ``http://`` and ``https://`` -- streamed with :mod:`requests`; interrupted downloads are resumed with
  HTTP ``Range`` requests and transient failures are retried with exponential backoff.
* ``file://`` -- a local file, copied in streaming chunks.
* ``package://<import_name>/<path inside package>`` -- data shipped inside an installed Python package,
  resolved with :func:`importlib.resources.files`.

Every download streams into ``<dest>.part`` beside ``dest``. Only after the sha256 (and the size, when
given) match is the part file renamed onto ``dest``, so nothing downstream can ever read an unverified
file. A file that fails verification is moved into a quarantine directory for inspection.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import importlib.resources
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import unquote
from urllib.request import url2pathname

import requests
import urllib3.exceptions

from ..fsutil import CHUNK, sha256_file

Log = Callable[[str], None]

SUPPORTED_SCHEMES: tuple[str, ...] = ("http://", "https://", "file://", "package://")
MAX_DELAY = 30.0
"""Upper bound, in seconds, on a single backoff sleep (also caps a server's ``Retry-After``)."""
PROGRESS_INTERVAL = 10.0
"""Minimum number of seconds between two progress lines for one download."""

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/(\d+)")

# Failures worth another attempt: the network, not the request, was at fault. TLS errors subclass
# requests.ConnectionError but are handled (as fatal) before this tuple is consulted.
_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    http.client.IncompleteRead,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
)


class FetchError(Exception):
    """A dataset could not be fetched. The message names the URL, the problem and how to fix it."""


class ChecksumMismatch(FetchError):
    """The fetched bytes do not hash to the expected sha256; the file was moved into quarantine.

    Attributes:
        expected: the sha256 the benchmark config asked for.
        actual: the sha256 of the bytes actually received.
        quarantined: where the rejected file now lives.
    """

    def __init__(self, message: str, *, expected: str, actual: str, quarantined: Path) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.quarantined = quarantined


class SizeMismatch(ChecksumMismatch):
    """The fetched file has the wrong length (treated as corrupt, exactly like a checksum mismatch).

    Adds ``expected_size`` and ``actual_size`` (bytes) to the attributes of :class:`ChecksumMismatch`.
    """

    def __init__(
        self,
        message: str,
        *,
        expected: str,
        actual: str,
        quarantined: Path,
        expected_size: int,
        actual_size: int,
    ) -> None:
        super().__init__(message, expected=expected, actual=actual, quarantined=quarantined)
        self.expected_size = expected_size
        self.actual_size = actual_size


class _Retryable(Exception):
    """Internal: one HTTP attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str,
    *,
    size: int | None = None,
    quarantine_dir: str | os.PathLike[str] | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float = 60.0,
    log: Log = print,
) -> Path:
    """Fetch ``url`` to ``dest`` and return ``dest`` once its sha256 equals ``sha256``.

    Args:
        url: ``http(s)://``, ``file://`` or ``package://<import_name>/<path>`` URL.
        dest: final location of the verified file; its parent is created if needed.
        sha256: expected hex digest (64 hex characters, any case).
        size: expected length in bytes; a different length is treated as corruption.
        quarantine_dir: where rejected files go (default ``<dest.parent>/.quarantine``).
        retries: extra HTTP attempts after the first one for transient failures.
        backoff: base of the exponential backoff, in seconds (``backoff * 2**attempt``).
        timeout: connect and per-read timeout for HTTP, in seconds.
        log: receives a handful of human-readable progress lines.

    Raises:
        ChecksumMismatch: the bytes (or, as :class:`SizeMismatch`, the length) are wrong.
        FetchError: any other failure.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    dest = Path(dest)
    expected = _normalise_sha256(sha256, url)
    qdir = Path(quarantine_dir) if quarantine_dir is not None else dest.parent / ".quarantine"
    part = part_path(dest)

    if _already_present(url, dest, expected, qdir, log):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)

    if url.startswith(("http://", "https://")):
        log(f"fetch: downloading {url} -> {dest}")
        _fetch_http(url, part, retries=retries, backoff=backoff, timeout=timeout, log=log)
    elif url.startswith("file://"):
        _copy_local(url, part, _open_file_url(url), log)
    elif url.startswith("package://"):
        _copy_local(url, part, _open_package_url(url), log)
    else:
        raise FetchError(
            f"unsupported URL scheme in {url!r}: supported schemes are "
            f"{', '.join(SUPPORTED_SCHEMES)}; fix the `url` field in the dataset config"
        )
    return _verify_and_install(url, part, dest, expected, size, qdir, log)


def part_path(dest: str | os.PathLike[str]) -> Path:
    """Return the ``<dest>.part`` path an in-progress download of ``dest`` is written to."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


# --------------------------------------------------------------------------------------------------
# Pre-flight
# --------------------------------------------------------------------------------------------------


def _normalise_sha256(sha256: str, url: str) -> str:
    """Lower-case and validate the expected digest, so a typo never quarantines a good file."""
    digest = str(sha256).strip().lower()
    if not _SHA256_RE.fullmatch(digest):
        raise FetchError(
            f"invalid sha256 {sha256!r} for {url}: expected 64 hexadecimal characters; "
            "fix the `sha256` field in the benchmark config"
        )
    return digest


def _already_present(url: str, dest: Path, expected: str, qdir: Path, log: Log) -> bool:
    """True if ``dest`` already holds the verified file; a stale ``dest`` is quarantined."""
    if not dest.exists():
        return False
    if not dest.is_file():
        raise FetchError(
            f"cannot fetch {url}: destination {dest} exists and is not a regular file; remove it and retry"
        )
    actual = sha256_file(dest)
    if actual == expected:
        log(f"fetch: {dest} already present with sha256 {expected}; skipping download")
        return True
    moved = _quarantine(dest, qdir, dest.name, actual)
    log(f"fetch: existing {dest} has sha256 {actual}, expected {expected}; moved it to {moved}, re-fetching")
    return False


# --------------------------------------------------------------------------------------------------
# Local sources: file:// and package://
# --------------------------------------------------------------------------------------------------


def _open_file_url(url: str) -> Callable[[], IO[bytes]]:
    """Resolve a ``file://`` URL to an opener for the local file it names."""
    rest = url[len("file://") :]
    if rest.startswith("localhost/"):
        rest = rest[len("localhost") :]
    path = Path(url2pathname(unquote(rest)))
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise FetchError(
            f"local file {path} (from {url}) {what}: check the URL in the dataset's `url` field "
            "(use an absolute path, e.g. file:///data/set.csv)"
        )
    return lambda: open(path, "rb")


def _open_package_url(url: str) -> Callable[[], IO[bytes]]:
    """Resolve ``package://<import_name>/<path>`` to an opener for a resource of an installed package."""
    import_name, _, inner = url[len("package://") :].partition("/")
    inner_parts = PurePosixPath(unquote(inner)).parts
    if not import_name or not inner_parts or ".." in inner_parts or inner.startswith("/"):
        raise FetchError(
            f"malformed package URL {url!r}: expected package://<import_name>/<relative path inside the "
            "package>, e.g. package://sklearn/datasets/data/digits.csv.gz"
        )
    try:
        resource = importlib.resources.files(import_name)
    except ModuleNotFoundError as exc:
        raise FetchError(
            f"cannot fetch {url}: no importable package named {import_name!r} ({exc}); install the "
            f"distribution that provides the import name {import_name!r} into the workflow environment, "
            "or fix the package name in the dataset's `url` field"
        ) from exc
    except (ImportError, TypeError, ValueError) as exc:
        raise FetchError(
            f"cannot fetch {url}: {import_name!r} cannot be used as a resource package ({exc}); "
            "package:// URLs must name an importable package (a directory with __init__.py)"
        ) from exc
    for segment in inner_parts:
        resource = resource.joinpath(segment)
    if not resource.is_file():
        raise FetchError(
            f"cannot fetch {url}: package {import_name!r} is installed but has no file {inner!r}; check the "
            "path in the dataset's `url` field, or the installed version of the package"
        )
    return lambda: resource.open("rb")


def _copy_local(url: str, part: Path, opener: Callable[[], IO[bytes]], log: Log) -> None:
    """Stream a local source into ``part`` in :data:`CHUNK`-sized pieces."""
    log(f"fetch: copying {url} -> {part}")
    try:
        with opener() as source, open(part, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        _unlink(part)
        raise FetchError(
            f"cannot copy {url} to {part}: {exc}; check that the source is readable and the destination "
            "has free space"
        ) from exc


# --------------------------------------------------------------------------------------------------
# HTTP(S) with retries and Range resume
# --------------------------------------------------------------------------------------------------


def _fetch_http(url: str, part: Path, *, retries: int, backoff: float, timeout: float, log: Log) -> None:
    """Download ``url`` into ``part``, resuming and retrying on transient failures."""
    attempts = retries + 1
    last_error = ""
    with requests.Session() as session:
        for attempt in range(attempts):
            try:
                _http_attempt(session, url, part, timeout, log)
                return
            except _Retryable as exc:
                last_error = exc.reason
                if attempt + 1 == attempts:
                    break
                delay = _backoff_delay(backoff, attempt, exc.retry_after)
                log(
                    f"fetch: attempt {attempt + 1}/{attempts} for {url} failed: {exc.reason}; "
                    f"retrying in {delay:.2f}s"
                )
                time.sleep(delay)
    kept = ""
    if part.exists():
        kept = f" The {part.stat().st_size} bytes received so far are kept in {part}; the next run resumes."
    raise FetchError(
        f"giving up on {url} after {attempts} attempts; last error: {last_error}.{kept} "
        "Check network access to the server (or whether it is down) and retry"
    )


def _backoff_delay(backoff: float, attempt: int, retry_after: float | None) -> float:
    """Exponential delay for retry number ``attempt`` (0-based), honouring a capped ``Retry-After``."""
    delay = min(backoff * 2**attempt, MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY))
    return delay


def _http_attempt(session: requests.Session, url: str, part: Path, timeout: float, log: Log) -> None:
    """One GET. Returns when ``part`` holds the whole body; raises :class:`_Retryable` or FetchError."""
    offset = part.stat().st_size if part.exists() else 0
    # identity: ask for the file itself, so Range and Content-Length count the bytes we hash and store.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        log(f"fetch: resuming {url} from byte {offset}")
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.exceptions.SSLError as exc:
        raise FetchError(f"TLS error for {url}: {exc}; check the server certificate / CA bundle") from exc
    except _TRANSIENT_ERRORS as exc:
        raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"cannot request {url}: {exc}; check the URL in the dataset's `url` field") from exc
    with response:
        start = _body_start(response, url, part, offset, log)
        if start is not None:
            _stream_body(response, url, part, start, log)


def _body_start(response: requests.Response, url: str, part: Path, offset: int, log: Log) -> int | None:
    """Interpret the status line: the byte offset the body starts at, or None if ``part`` is complete."""
    status = response.status_code
    if status == 429 or status >= 500:
        raise _Retryable(f"HTTP {status} {response.reason}", _retry_after(response))
    if status == 416 and offset:
        return _after_unsatisfiable_range(response, url, part, offset, log)
    if status == 200:
        if offset:
            log(f"fetch: {url} ignored the Range request; restarting from byte 0")
        return 0
    if status == 206:
        return _partial_start(response, part, offset)
    raise FetchError(_http_error_message(response, url))


def _after_unsatisfiable_range(
    response: requests.Response, url: str, part: Path, offset: int, log: Log
) -> int | None:
    """Handle 416: the part is probably complete already; verification will tell for sure."""
    match = _UNSATISFIED_RANGE_RE.search(response.headers.get("Content-Range", ""))
    if match and int(match.group(1)) != offset:
        _unlink(part)
        raise _Retryable(
            f"HTTP 416: {part.name} has {offset} bytes but the file has {match.group(1)}; "
            "discarded the stale partial file"
        )
    log(f"fetch: server reports {part.name} ({offset} bytes) is already complete; verifying it")
    return None


def _partial_start(response: requests.Response, part: Path, offset: int) -> int:
    """Validate a 206 answer's ``Content-Range`` and return where its bytes belong in ``part``."""
    match = _CONTENT_RANGE_RE.search(response.headers.get("Content-Range", ""))
    if match is None or int(match.group(1)) > offset:
        _unlink(part)
        raise _Retryable(
            f"HTTP 206 with unusable Content-Range {response.headers.get('Content-Range')!r} for a request "
            f"from byte {offset}; discarded the partial file"
        )
    return int(match.group(1))


def _stream_body(response: requests.Response, url: str, part: Path, start: int, log: Log) -> None:
    """Write the body into ``part`` at ``start``; a short body raises :class:`_Retryable`."""
    length = _content_length(response)
    total = start + length if length is not None else None
    written = start
    try:
        with _open_part(part, start) as out:
            try:
                for chunk in _progress(_raw_chunks(response), url, start, total, log):
                    out.write(chunk)
                    written += len(chunk)
            finally:
                out.flush()
                os.fsync(out.fileno())
    except (*_TRANSIENT_ERRORS, urllib3.exceptions.HTTPError) as exc:
        raise _Retryable(f"connection lost after {written} bytes ({type(exc).__name__}: {exc})") from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # a part kept for resuming would keep the disk full
            _unlink(part)
            raise FetchError(
                f"cannot write {part} while fetching {url}: {exc}; the disk is full, so the partial file was "
                f"removed and nothing was written to {part.with_suffix('')}. Free space there and retry"
            ) from exc
        raise FetchError(
            f"cannot write {part} while fetching {url}: {exc}; check free disk space and permissions"
        ) from exc
    if total is not None and written < total:
        raise _Retryable(f"server closed the connection after {written} of {total} bytes")


def _raw_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body exactly as sent, in chunks of at most :data:`CHUNK` bytes.

    Reads the undecoded stream rather than ``iter_content``: the bytes stored must be the bytes the
    sha256 and the ``Range`` offsets refer to (no Content-Encoding decoding), and a decoding read can
    swallow the bytes it already buffered when the connection drops, which would waste them for resume.
    urllib3 errors therefore surface unwrapped (ProtocolError for a truncated body).
    """
    yield from response.raw.stream(CHUNK, decode_content=False)


@contextlib.contextmanager
def _open_part(part: Path, start: int) -> Iterator[IO[bytes]]:
    """Open ``part`` for writing at ``start`` (truncating anything after it)."""
    if start == 0:
        with open(part, "wb") as out:
            yield out
        return
    with open(part, "r+b") as out:
        out.truncate(start)
        out.seek(start)
        yield out


def _progress(chunks: Iterator[bytes], url: str, start: int, total: int | None, log: Log) -> Iterator[bytes]:
    """Pass chunks through, logging a progress line at most every :data:`PROGRESS_INTERVAL` seconds."""
    done = start
    last = time.monotonic()
    for chunk in chunks:
        done += len(chunk)
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL:
            last = now
            share = f" ({100 * done / total:.0f}%)" if total else ""
            log(f"fetch: {url}: {done}{f'/{total}' if total else ''} bytes{share}")
        yield chunk


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _http_error_message(response: requests.Response, url: str) -> str:
    status, reason = response.status_code, response.reason or ""
    message = f"HTTP {status} {reason} for {url}: check the URL in the dataset's `url` field"
    if status in (401, 403):
        message += " (the server refused access: the file may have moved or may need credentials)"
    return message


# --------------------------------------------------------------------------------------------------
# Verification, installation and quarantine
# --------------------------------------------------------------------------------------------------


def _verify_and_install(
    url: str, part: Path, dest: Path, expected: str, size: int | None, qdir: Path, log: Log
) -> Path:
    """Rename ``part`` onto ``dest`` if it verifies; otherwise quarantine it and raise."""
    actual_size = part.stat().st_size
    actual = sha256_file(part)
    if size is not None and actual_size != size:
        quarantined = _quarantine(part, qdir, dest.name, actual)
        raise SizeMismatch(
            f"size mismatch for {url}: expected {size} bytes, got {actual_size} bytes "
            f"(sha256 expected {expected}, actual {actual}). The file was moved to {quarantined} and "
            f"nothing was written to {dest}. If the upstream file changed on purpose, update `size` and "
            "`sha256` in the benchmark config; otherwise retry",
            expected=expected, actual=actual, quarantined=quarantined,
            expected_size=size, actual_size=actual_size,
        )
    if actual != expected:
        quarantined = _quarantine(part, qdir, dest.name, actual)
        raise ChecksumMismatch(
            f"sha256 mismatch for {url}: expected {expected}, actual {actual} ({actual_size} bytes). "
            f"The file was moved to {quarantined} and nothing was written to {dest}. If the upstream "
            "file changed on purpose, update `sha256` in the benchmark config; otherwise retry",
            expected=expected, actual=actual, quarantined=quarantined,
        )
    os.replace(part, dest)
    _fsync_dir(dest.parent)
    log(f"fetch: installed {dest} ({actual_size} bytes, sha256 {actual})")
    return dest


def _quarantine(path: Path, qdir: Path, name: str, actual: str) -> Path:
    """Move ``path`` to ``<qdir>/<name>.<actual[:12]>`` and return the new location."""
    qdir.mkdir(parents=True, exist_ok=True)
    target = qdir / f"{name}.{actual[:12]}"
    shutil.move(os.fspath(path), os.fspath(target))
    return target


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort; not all platforms allow it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


__all__ = ["ChecksumMismatch", "FetchError", "SizeMismatch", "fetch", "part_path"]
