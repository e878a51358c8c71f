"""`benchwright verify`: re-check every hash of a bundle against its manifest and its provenance.

What is checked, in order:

1. the tarball (when there is one) against its ``.sha256`` file, and that it unpacks to exactly the files and
   bytes of the bundle folder beside it;
2. ``SHA256SUMS``: strictly formed (``<64 hex>  <path>``, sorted, one per line), every file listed, every
   listed file present with that sha256;
3. ``benchwright.json``: a bundle's metadata, naming each result's provenance record;
4. every provenance record: the result's files in the bundle (exactly those, with those hashes), and the chain
   behind them: dataset files -> preprocessing manifest -> FP32 weights (their training record) -> the INT8
   calibration record -> the calibration list in src/ -> the model both LoadGen runs loaded; a training run's
   MLPerf log against the hash its run recorded; and that the README of the result lists every command its jobs
   recorded (the record's ``reproduce``), as recorded.

Any single changed, added or removed byte of a bundle fails check 2 (the manifest covers every other file and
every byte of the manifest is a hash digit, a path or a separator). The provenance checks then say *what* the
change breaks. Code drift (a result produced at another commit than the bundle's src/, or from modified code)
is a warning: the hashes still hold, but src/ may not reproduce that result.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fsutil import sha256_file
from .bundle import MANIFEST, METADATA, SNAKEMAKE_MARK, bundle_files
from .spec import BUNDLE_FORMAT

_LINE = re.compile(r"^([0-9a-f]{64})  (\S(?:.*\S)?)$")


@dataclass
class Verification:
    root: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"files": 0, "provenance records": 0, "hash links": 0,
                                                            "recorded commands": 0})

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def text(self) -> str:
        what = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        lines = [f"error: {e}" for e in self.errors] + [f"warning: {w}" for w in self.warnings]
        verdict = (f"VERIFIED: {self.root}: {what}" if self.ok else
                   f"FAILED: {self.root}: {len(self.errors)} error(s) ({what})")
        return "\n".join([*lines, verdict]) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {"root": self.root, "ok": self.ok, "errors": self.errors, "warnings": self.warnings,
                "counts": self.counts}


# --- manifest ---------------------------------------------------------------------------------------------


def parse_manifest(data: bytes) -> dict[str, str]:
    """SHA256SUMS, strictly: UTF-8, '<sha256>  <path>' lines ending in a newline, sorted, no duplicates.

    Raises ValueError naming the first offending line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8 ({err})") from None
    if not text.endswith("\n"):
        raise ValueError("does not end with a newline")
    out: dict[str, str] = {}
    previous = ""
    for n, line in enumerate(text[:-1].split("\n"), 1):
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"line {n} is not '<sha256>  <path>': {line[:80]!r}")
        digest, rel = m.groups()
        if rel in out:
            raise ValueError(f"line {n}: {rel} is listed twice")
        if rel < previous:
            raise ValueError(f"line {n}: {rel} is out of order (the manifest is sorted by path)")
        out[rel], previous = digest, rel
    return out


def _manifest(root: Path, v: Verification) -> dict[str, str] | None:
    path = root / MANIFEST
    if not path.is_file():
        v.error(MANIFEST, "missing: a bundle lists the sha256 of every file in SHA256SUMS")
        return None
    try:
        listed = parse_manifest(path.read_bytes())
    except ValueError as err:
        v.error(MANIFEST, f"malformed: {err}")
        return None
    present = set(bundle_files(root))
    for rel, digest in listed.items():
        if rel not in present:
            v.error(rel, "listed in SHA256SUMS but absent")
        elif sha256_file(root / rel) != digest:
            v.error(rel, f"sha256 {sha256_file(root / rel)[:16]}... differs from SHA256SUMS ({digest[:16]}...)")
        v.counts["files"] += 1
    for rel in sorted(present - set(listed)):
        v.error(rel, "not listed in SHA256SUMS: added after assembly")
    return listed


# --- provenance -------------------------------------------------------------------------------------------


class _Links:
    """Compares one provenance record's hashes with the bundle's files, naming the record in every message."""

    def __init__(self, root: Path, record_path: str, v: Verification):
        self.root, self.record_path, self.v = root, record_path, v

    def equal(self, what: str, found: Any, expected: Any) -> bool:
        self.v.counts["hash links"] += 1
        if found != expected:
            self.v.error(self.record_path, f"{what}: {_short(found)} but the provenance says {_short(expected)}")
            return False
        return True

    def file(self, rel: str | None, what: str) -> Path | None:
        if not rel:
            self.v.error(self.record_path, f"names no {what}")
            return None
        path = self.root / rel
        if not path.is_file():
            self.v.error(self.record_path, f"its {what} {rel} is missing from the bundle")
            return None
        return path

    def json(self, rel: str | None, what: str) -> dict[str, Any] | None:
        path = self.file(rel, what)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            self.v.error(rel or "?", f"not JSON ({err}); expected {what}")
            return None
        return data if isinstance(data, dict) else None


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:16] + "..."


def _result_files(root: Path, result: str) -> dict[str, str]:
    path = root / result
    if path.is_file():
        return {result: sha256_file(path)}
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(path.rglob("*"))
            if p.is_file() and p.name != SNAKEMAKE_MARK}


def check_record(root: Path, record_path: str, result_path: str, source: dict[str, Any],
                 v: Verification, *, files: bool = True) -> None:
    """Check one provenance record against the bundle (see the module's docstring). ``files=False`` leaves out
    the result files' hashes (the validator checks those files by their own rules)."""
    links = _Links(root, record_path, v)
    record = links.json(record_path, "provenance record")
    if record is None:
        return
    v.counts["provenance records"] += 1
    links.equal("the result it describes", (record.get("result") or {}).get("path"), result_path)
    named = record.get("files") or {}
    actual = _result_files(root, result_path)
    for rel in sorted(set(named) | set(actual)) if files else ():
        if rel not in actual:
            v.error(record_path, f"names {rel}, which is not in the bundle")
        elif rel not in named:
            v.error(rel, f"a file of the result that its provenance ({record_path}) does not name")
        else:
            links.equal(f"sha256 of {rel}", actual[rel], named[rel])
    evidence = record.get("evidence") or {}
    manifest = links.json(evidence.get("data_manifest"), "preprocessing manifest")
    if manifest is not None:
        links.equal("sha256 of the preprocessing manifest", sha256_file(root / evidence["data_manifest"]),
                    (record.get("preprocessing") or {}).get("manifest_sha256"))
        links.equal("dataset files in the preprocessing manifest", manifest.get("inputs"),
                    (record.get("dataset") or {}).get("files"))
        links.equal("preprocessed arrays in the preprocessing manifest",
                    {k: o.get("sha256") for k, o in sorted((manifest.get("outputs") or {}).items())},
                    (record.get("preprocessing") or {}).get("outputs"))
    weights = record.get("weights") or {}
    if evidence.get("fp32_record"):
        fp32 = links.json(evidence["fp32_record"], "FP32 weights record")
        if fp32 is not None:
            links.equal("FP32 weights in their training record", fp32.get("weights_sha256"), weights.get("fp32_sha256"))
            links.equal("preprocessing manifest the weights were trained on", fp32.get("data_manifest_sha256"),
                        (record.get("preprocessing") or {}).get("manifest_sha256"))
    if record.get("kind") == "inference":
        links.equal("model of the accuracy run", weights.get("accuracy_run_model_sha256"), weights.get("model_sha256"))
        calibration = record.get("calibration")
        if record.get("precision") == "int8":
            cal = links.json(evidence.get("calibration"), "INT8 calibration record")
            if cal is not None and calibration:
                links.equal("sha256 of the calibration record", sha256_file(root / evidence["calibration"]),
                            calibration.get("record_sha256"))
                links.equal("FP32 weights that were quantized", cal.get("fp32_weights_sha256"),
                            weights.get("fp32_sha256"))
                links.equal("INT8 model the runs loaded", cal.get("model_sha256"), weights.get("model_sha256"))
                links.equal("calibration list in the calibration record", cal.get("calibration_list_sha256"),
                            calibration.get("list_sha256"))
            listed = links.file(evidence.get("calibration_list"), "calibration list") if files else None
            if listed is not None and calibration:
                links.equal(f"sha256 of {evidence['calibration_list']}", sha256_file(listed),
                            calibration.get("list_sha256"))
        else:
            links.equal("model the runs loaded", weights.get("model_sha256"), weights.get("fp32_sha256"))
    elif record.get("kind") == "training" and files:
        links.equal(f"sha256 of {result_path} against its run's record", actual.get(result_path),
                    record.get("log_sha256"))
    reproduce = record.get("reproduce")
    if files and isinstance(reproduce, dict):  # a bundle of an older benchwright has none: nothing to compare
        readme = links.file(reproduce.get("readme"), "README (the commands its jobs recorded)")
        if readme is not None:
            lines = set(readme.read_text(errors="replace").splitlines())
            for command in reproduce.get("commands") or []:
                v.counts["recorded commands"] += 1
                if f"    {command}" not in lines:
                    shown = command if len(command) <= 80 else command[:77] + "..."
                    v.error(reproduce["readme"], f"does not list the command its job recorded ({record_path}): "
                                                 f"{shown}")
    code = record.get("code") or {}
    if code.get("commit") is None:
        v.warn(record_path, f"the run recorded no code commit ({code.get('reason', 'unknown')})")
    elif code.get("commit") != source.get("commit"):
        v.warn(record_path, f"produced at commit {code['commit'][:12]}, but src/ is commit "
                            f"{str(source.get('commit'))[:12]}: src/ may not reproduce this result")
    if code.get("dirty"):
        v.warn(record_path, f"produced from modified code ({', '.join(code.get('modified') or [])[:200]})")


def check_provenance(root: Path, meta: dict[str, Any], v: Verification, *, files: bool = True) -> None:
    """Every result of benchwright.json has a provenance record, and every record holds."""
    source = meta.get("source") or {}
    for entry in meta.get("inference") or []:
        record = entry.get("provenance")
        if not record:
            v.error(METADATA, f"{entry.get('path')} has no provenance record (a bundle of an older benchwright?)")
            continue
        check_record(root, record, entry.get("path", "?"), source, v, files=files)
    for entry in meta.get("training") or []:
        records = entry.get("provenance") or []
        if not records:
            v.error(METADATA, f"{entry.get('path')} has no provenance records (a bundle of an older benchwright?)")
        for i, record in enumerate(records):
            if not record:
                v.error(METADATA, f"{entry.get('path')}/result_{i}.txt has no provenance record")
                continue
            check_record(root, record, f"{entry.get('path')}/result_{i}.txt", source, v, files=files)


# --- entry points -----------------------------------------------------------------------------------------


def verify_folder(root: Path, v: Verification | None = None) -> Verification:
    v = v or Verification(str(root))
    if not root.is_dir():
        v.error(str(root), "no such bundle folder")
        return v
    _manifest(root, v)
    meta_path = root / METADATA
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"not a {BUNDLE_FORMAT} file")
    except FileNotFoundError:
        v.error(METADATA, "missing: not a benchwright bundle")
        return v
    except (ValueError, UnicodeDecodeError) as err:
        v.error(METADATA, f"unreadable: {err}")
        return v
    check_provenance(root, meta, v)
    return v


def _tarball_digest(tarball: Path, v: Verification) -> None:
    sidecar = tarball.with_name(tarball.name + ".sha256")
    if not sidecar.is_file():
        v.warn(tarball.name, f"no {sidecar.name} beside it: the tarball's own hash is not checked")
        return
    parts = sidecar.read_text(errors="replace").split()
    v.counts["hash links"] += 1
    if len(parts) != 2 or parts[1] != tarball.name or not re.fullmatch(r"[0-9a-f]{64}", parts[0]):
        v.error(sidecar.name, f"malformed: expected '<sha256>  {tarball.name}'")
    elif sha256_file(tarball) != parts[0]:
        v.error(tarball.name, f"sha256 differs from {sidecar.name}")


def _compare_trees(unpacked: Path, folder: Path, v: Verification, shown: str) -> None:
    def files(root: Path) -> set[str]:
        return set(bundle_files(root)) | ({MANIFEST} if (root / MANIFEST).is_file() else set())

    a, b = files(unpacked), files(folder)
    for rel in sorted(a ^ b):
        v.error(rel, f"in {'the tarball' if rel in a else 'the folder'} only ({shown})")
    for rel in sorted(a & b):
        v.counts["hash links"] += 1
        if sha256_file(unpacked / rel) != sha256_file(folder / rel):
            v.error(rel, f"differs between the tarball and the folder ({shown})")


def verify(path: str | Path, *, tarball: str | Path | None = None) -> Verification:
    """Verify a bundle folder, its tarball, or a published version folder (submissions/<campaign>/v<N>/)."""
    from ..data.archive import ArchiveError, safe_extract

    path = Path(path)
    v = Verification(str(path))
    folder: Path | None = None
    if path.is_dir():
        folder = path / "bundle" if (path / "bundle" / METADATA).is_file() else path
        if tarball is None and folder != path:
            tarballs = sorted(path.glob("*.tar.gz"))
            tarball = tarballs[0] if len(tarballs) == 1 else None
    elif path.is_file():
        tarball = path
    else:
        v.error(str(path), "no such bundle folder or tarball")
        return v
    if folder is not None:
        verify_folder(folder, v)
    if tarball is not None:
        tarball = Path(tarball)
        _tarball_digest(tarball, v)
        try:  # the whole gzip stream, so that its CRC is checked (tar stops reading at its end marker)
            with gzip.open(tarball, "rb") as stream:
                while stream.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as err:
            v.error(tarball.name, f"corrupt: not a whole gzip stream ({err})")
            return v
        with tempfile.TemporaryDirectory(prefix="benchwright-verify-") as tmp:
            try:
                safe_extract(tarball, Path(tmp) / "x", "tar.gz")
            except (ArchiveError, OSError, EOFError) as err:
                v.error(tarball.name, f"cannot be unpacked: {err}")
                return v
            tops = list((Path(tmp) / "x").iterdir())
            if len(tops) != 1 or not tops[0].is_dir():
                v.error(tarball.name, "does not hold a single bundle folder")
                return v
            if folder is None:
                verify_folder(tops[0], v)
            else:
                _compare_trees(tops[0], folder, v, tarball.name)
    return v
