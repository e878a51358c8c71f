"""Tests for benchwright.data.fetch against a real local HTTP server (no mocks of requests)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchwright.data.fetch import ChecksumMismatch, FetchError, SizeMismatch, fetch, part_path

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes, not all equal, so offsets matter
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"backoff": 0.01, "timeout": 5.0}

Behaviour = Callable[["Handler", int], None]


@dataclass
class Server:
    """A running test server: its base URL and the headers of every request it received."""

    base: str
    requests: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str = "/data.bin") -> str:
        return self.base + path


class Handler(BaseHTTPRequestHandler):
    """Records each request, then delegates to the behaviour the test chose."""

    behaviour: Behaviour
    record: Server
    lock: threading.Lock

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        with self.lock:
            index = len(self.record.requests)
            self.record.requests.append({k.lower(): v for k, v in self.headers.items()})
        self.behaviour(self, index)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep pytest output clean."""


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Behaviour], Server]]:
    """Factory: start a ThreadingHTTPServer on 127.0.0.1:0 whose GETs run ``behaviour(handler, n)``."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    started: list[ThreadingHTTPServer] = []

    def start(behaviour: Behaviour) -> Server:
        record = Server(base="")
        handler = type("H", (Handler,), {"behaviour": staticmethod(behaviour), "record": record,
                                         "lock": threading.Lock()})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        started.append(httpd)
        record.base = f"http://127.0.0.1:{httpd.server_address[1]}"
        return record

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


# ----------------------------------------------------------------------------- handler building blocks


def send_full(h: Handler, data: bytes = PAYLOAD) -> None:
    h.send_response(200)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def send_cut(h: Handler, data: bytes = PAYLOAD, keep: int | None = None) -> None:
    """Announce the full length but close the connection after ``keep`` bytes (default: half)."""
    keep = len(data) // 2 if keep is None else keep
    h.send_response(200)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data[:keep])
    h.wfile.flush()
    h.close_connection = True


def send_range(h: Handler, data: bytes = PAYLOAD) -> None:
    """Answer a ``Range: bytes=N-`` request with 206 and the rest of ``data``."""
    start = int(h.headers["Range"].removeprefix("bytes=").rstrip("-"))
    body = data[start:]
    h.send_response(206)
    h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def send_status(h: Handler, code: int) -> None:
    body = b"nope"
    h.send_response(code)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def quiet(line: str) -> None:
    """A ``log`` callable that drops every line."""


def leftovers(directory: Path) -> list[str]:
    """Names of everything under ``directory`` (to prove nothing was left behind)."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# ----------------------------------------------------------------------------- http


def test_http_success_writes_verified_file(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_full(h))
    lines: list[str] = []
    dest = tmp_path / "sub" / "data.bin"
    out = fetch(server.url(), dest, PAYLOAD_SHA, size=len(PAYLOAD), log=lines.append, **FAST)
    assert out == dest
    assert dest.read_bytes() == PAYLOAD
    assert not part_path(dest).exists()
    assert leftovers(tmp_path) == ["sub", "sub/data.bin"]
    assert server.requests[0]["accept-encoding"] == "identity"
    assert any(PAYLOAD_SHA in line and str(len(PAYLOAD)) in line for line in lines)
    assert len(lines) < 5  # modest logging, never per chunk


def test_uppercase_sha_is_accepted(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_full(h))
    assert fetch(server.url(), tmp_path / "d", PAYLOAD_SHA.upper(), log=quiet, **FAST).exists()


def test_present_file_with_right_hash_is_not_downloaded(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_full(h))
    dest = tmp_path / "data.bin"
    dest.write_bytes(PAYLOAD)
    lines: list[str] = []
    assert fetch(server.url(), dest, PAYLOAD_SHA, log=lines.append, **FAST) == dest
    assert server.requests == []
    assert any("already present" in line for line in lines)


def test_present_file_with_wrong_hash_is_quarantined_and_refetched(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_full(h))
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"stale")
    fetch(server.url(), dest, PAYLOAD_SHA, log=quiet, **FAST)
    assert dest.read_bytes() == PAYLOAD
    stale_sha = hashlib.sha256(b"stale").hexdigest()
    assert (tmp_path / ".quarantine" / f"data.bin.{stale_sha[:12]}").read_bytes() == b"stale"
    assert len(server.requests) == 1


def test_resume_after_cut_stream_sends_range(serve, tmp_path: Path) -> None:
    half = len(PAYLOAD) // 2

    def behaviour(h: Handler, n: int) -> None:
        send_cut(h) if n == 0 else send_range(h)

    server = serve(behaviour)
    lines: list[str] = []
    dest = tmp_path / "data.bin"
    fetch(server.url(), dest, PAYLOAD_SHA, retries=2, log=lines.append, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    assert "range" not in server.requests[0]
    assert server.requests[1]["range"] == f"bytes={half}-"
    assert any(f"from byte {half}" in line for line in lines)
    assert any("retrying in" in line for line in lines)
    assert not part_path(dest).exists()


def test_resume_of_part_left_by_an_earlier_process(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_range(h))
    dest = tmp_path / "data.bin"
    part_path(dest).write_bytes(PAYLOAD[:1000])
    fetch(server.url(), dest, PAYLOAD_SHA, log=quiet, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r.get("range") for r in server.requests] == ["bytes=1000-"]


def test_repeated_cuts_make_progress_with_growing_ranges(serve, tmp_path: Path) -> None:
    step = len(PAYLOAD) // 4

    def behaviour(h: Handler, n: int) -> None:
        start = int(h.headers.get("Range", "bytes=0-").removeprefix("bytes=").rstrip("-"))
        if n < 3:  # 206 announcing the rest, but only `step` bytes of it arrive
            body = PAYLOAD[start:]
            h.send_response(206 if start else 200)
            if start:
                h.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:step])
        else:
            send_range(h)

    server = serve(behaviour)
    dest = tmp_path / "data.bin"
    fetch(server.url(), dest, PAYLOAD_SHA, retries=3, log=quiet, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r.get("range") for r in server.requests] == [
        None, f"bytes={step}-", f"bytes={2 * step}-", f"bytes={3 * step}-"]


def test_server_ignoring_range_restarts_from_zero(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_cut(h) if n == 0 else send_full(h))
    lines: list[str] = []
    dest = tmp_path / "data.bin"
    fetch(server.url(), dest, PAYLOAD_SHA, log=lines.append, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[1]["range"] == f"bytes={len(PAYLOAD) // 2}-"
    assert any("ignored the Range" in line for line in lines)


def test_content_encoding_is_not_decoded(serve, tmp_path: Path) -> None:
    """A server labelling a .gz file ``Content-Encoding: gzip`` must not get it unpacked for us."""
    gz = gzip.compress(PAYLOAD, mtime=0)

    def behaviour(h: Handler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(gz)))
        h.end_headers()
        h.wfile.write(gz)

    server = serve(behaviour)
    dest = tmp_path / "data.bin.gz"
    fetch(server.url(), dest, hashlib.sha256(gz).hexdigest(), size=len(gz), log=quiet, **FAST)
    assert dest.read_bytes() == gz


def test_416_with_complete_part_is_verified_and_installed(serve, tmp_path: Path) -> None:
    def behaviour(h: Handler, n: int) -> None:
        h.send_response(416)
        h.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server = serve(behaviour)
    dest = tmp_path / "data.bin"
    part_path(dest).write_bytes(PAYLOAD)
    fetch(server.url(), dest, PAYLOAD_SHA, log=quiet, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.requests) == 1


def test_404_fails_at_once(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_status(h, 404))
    dest = tmp_path / "data.bin"
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(server.url(), dest, PAYLOAD_SHA, retries=4, backoff=1.0, log=quiet)
    assert time.monotonic() - started < 1.0  # no backoff sleep happened
    message = str(info.value)
    assert "404" in message and server.url() in message and "`url`" in message
    assert len(server.requests) == 1
    assert leftovers(tmp_path) == []


def test_two_500s_then_success(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_status(h, 500) if n < 2 else send_full(h))
    lines: list[str] = []
    dest = tmp_path / "data.bin"
    fetch(server.url(), dest, PAYLOAD_SHA, retries=4, log=lines.append, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.requests) == 3
    assert sum("HTTP 500" in line and "retrying" in line for line in lines) == 2


def test_429_is_retried(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_status(h, 429) if n == 0 else send_full(h))
    fetch(server.url(), tmp_path / "d", PAYLOAD_SHA, log=quiet, **FAST)
    assert len(server.requests) == 2


def test_always_500_gives_up_after_all_attempts(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_status(h, 500))
    dest = tmp_path / "data.bin"
    with pytest.raises(FetchError) as info:
        fetch(server.url(), dest, PAYLOAD_SHA, retries=3, log=quiet, **FAST)
    assert not isinstance(info.value, ChecksumMismatch)
    assert len(server.requests) == 4
    assert "after 4 attempts" in str(info.value) and "HTTP 500" in str(info.value)
    assert leftovers(tmp_path) == []


def test_read_timeout_is_retried(serve, tmp_path: Path) -> None:
    def behaviour(h: Handler, n: int) -> None:
        if n == 0:
            time.sleep(0.5)  # longer than the client's read timeout
        send_full(h)

    server = serve(behaviour)
    dest = tmp_path / "data.bin"
    fetch(server.url(), dest, PAYLOAD_SHA, retries=1, backoff=0.01, timeout=0.2, log=quiet)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.requests) == 2


def test_connection_refused_gives_up(tmp_path: Path) -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    lines: list[str] = []
    with pytest.raises(FetchError) as info:
        fetch(url, tmp_path / "d", PAYLOAD_SHA, retries=1, log=lines.append, **FAST)
    assert "after 2 attempts" in str(info.value) and url in str(info.value)
    assert sum("retrying in" in line for line in lines) == 1
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- verification


def test_checksum_mismatch_is_quarantined(serve, tmp_path: Path) -> None:
    served = PAYLOAD[:-1] + b"X"
    actual = hashlib.sha256(served).hexdigest()
    server = serve(lambda h, n: send_full(h, served))
    dest = tmp_path / "data.bin"
    with pytest.raises(ChecksumMismatch) as info:
        fetch(server.url(), dest, PAYLOAD_SHA, log=quiet, **FAST)
    err = info.value
    message = str(err)
    assert PAYLOAD_SHA in message and actual in message and server.url() in message
    assert "update `sha256`" in message and "retry" in message
    assert (err.expected, err.actual) == (PAYLOAD_SHA, actual)
    assert err.quarantined == tmp_path / ".quarantine" / f"data.bin.{actual[:12]}"
    assert str(err.quarantined) in message
    assert err.quarantined.read_bytes() == served
    assert not dest.exists() and not part_path(dest).exists()
    assert len(server.requests) == 1  # a mismatch is not retried


def test_checksum_mismatch_custom_quarantine_dir(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_full(h, b"other"))
    qdir = tmp_path / "q"
    with pytest.raises(ChecksumMismatch) as info:
        fetch(server.url(), tmp_path / "d" / "f", PAYLOAD_SHA, quarantine_dir=qdir, log=quiet, **FAST)
    assert info.value.quarantined.parent == qdir
    assert list((tmp_path / "d").iterdir()) == []


def test_size_mismatch_is_treated_as_corrupt(serve, tmp_path: Path) -> None:
    server = serve(lambda h, n: send_full(h))
    dest = tmp_path / "data.bin"
    with pytest.raises(SizeMismatch) as info:
        fetch(server.url(), dest, PAYLOAD_SHA, size=len(PAYLOAD) + 1, log=quiet, **FAST)
    err = info.value
    assert isinstance(err, ChecksumMismatch)
    assert (err.expected_size, err.actual_size) == (len(PAYLOAD) + 1, len(PAYLOAD))
    assert str(len(PAYLOAD) + 1) in str(err) and str(len(PAYLOAD)) in str(err)
    assert err.quarantined.exists()
    assert not dest.exists() and not part_path(dest).exists()


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, PAYLOAD_SHA + "0"])
def test_malformed_sha256_is_rejected_before_any_request(serve, tmp_path: Path, bad: str) -> None:
    server = serve(lambda h, n: send_full(h))
    with pytest.raises(FetchError, match="invalid sha256"):
        fetch(server.url(), tmp_path / "d", bad, log=quiet, **FAST)
    assert server.requests == []


# ----------------------------------------------------------------------------- file:// and package://


def test_file_url_success(tmp_path: Path) -> None:
    source = tmp_path / "src dir" / "input.bin"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "copy.bin"
    fetch(source.as_uri(), dest, PAYLOAD_SHA, size=len(PAYLOAD), log=quiet)
    assert dest.read_bytes() == PAYLOAD
    assert not part_path(dest).exists()


def test_file_url_missing(tmp_path: Path) -> None:
    url = (tmp_path / "missing.bin").as_uri()
    with pytest.raises(FetchError) as info:
        fetch(url, tmp_path / "d", PAYLOAD_SHA, log=quiet)
    assert "does not exist" in str(info.value) and url in str(info.value)
    assert not (tmp_path / "d").exists()


def test_file_url_checksum_mismatch(tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(b"abc")
    with pytest.raises(ChecksumMismatch):
        fetch(source.as_uri(), tmp_path / "d", PAYLOAD_SHA, log=quiet)
    assert not (tmp_path / "d").exists()
    assert source.read_bytes() == b"abc"  # the source is copied, never moved


def test_package_url_success(tmp_path: Path) -> None:
    data = importlib.resources.files("json").joinpath("__init__.py").read_bytes()
    dest = tmp_path / "json_init.py"
    fetch("package://json/__init__.py", dest, hashlib.sha256(data).hexdigest(), log=quiet)
    assert dest.read_bytes() == data


def test_package_url_nested_resource(tmp_path: Path) -> None:
    data = importlib.resources.files("email").joinpath("mime", "text.py").read_bytes()
    dest = tmp_path / "text.py"
    fetch("package://email/mime/text.py", dest, hashlib.sha256(data).hexdigest(), log=quiet)
    assert dest.read_bytes() == data


def test_package_url_unknown_package(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch("package://no_such_pkg_xyz/data.csv", tmp_path / "d", PAYLOAD_SHA, log=quiet)
    assert "'no_such_pkg_xyz'" in str(info.value)
    assert not (tmp_path / "d").exists()


def test_package_url_missing_resource(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="has no file 'nope.txt'"):
        fetch("package://json/nope.txt", tmp_path / "d", PAYLOAD_SHA, log=quiet)


@pytest.mark.parametrize("url", ["package://json", "package://json/../os.py", "package:///x"])
def test_package_url_malformed(tmp_path: Path, url: str) -> None:
    with pytest.raises(FetchError, match="malformed package URL"):
        fetch(url, tmp_path / "d", PAYLOAD_SHA, log=quiet)


def test_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch("ftp://example.com/x", tmp_path / "d", PAYLOAD_SHA, log=quiet)
    message = str(info.value)
    assert "ftp://example.com/x" in message
    assert all(scheme in message for scheme in ("http://", "https://", "file://", "package://"))
