"""A campaign's submission bundle: the inference and training trees, what produced them, a sha256 manifest of
every file, and a deterministic tarball.

    <bundle>/
        benchwright.json             what the bundle is: campaign, mode, whether it claims to be submittable,
                                     the accuracy target of every result, the source commit
        SHA256SUMS                   sha256 of every other file (``sha256sum -c SHA256SUMS`` verifies it)
        inference/<division>/<submitter>/...     the MLPerf Inference tree (root of the official checker)
        training/<submitter>/...                 the MLPerf Training tree (mlperf-logging's package checker)
        provenance/...                           a provenance record per result and its evidence (provenance.py)

The same results and code give the same bytes, tarball included: files are written in sorted order with
fixed times, owners and modes, and nothing records when or where the bundle was assembled.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .. import __version__
from ..paths import SNAKEMAKE_MARK
from ..config import load_system_file
from ..errors import BenchwrightError
from ..fsutil import (atomic_open, atomic_write_json, atomic_write_text, sha256_file, staged_dir, staged_file,
                      staging_dir)
from ..sysdesc import inference_description, training_description
from .inference import AssemblyError, assemble_inference, command_lines, need_input, recorded_commands, refusals
from .provenance import write_provenance
from .spec import BUNDLE_FORMAT, BUNDLE_VERSION, IMPLEMENTATION, BundleSpec
from .training import assemble_training

METADATA = "benchwright.json"
MANIFEST = "SHA256SUMS"
# What of the checkout is "the code that produced the results": the workflow, its package, images and config.
SOURCE_PATHS = ("Snakefile", "pyproject.toml", "README.md", "workflow", "containers", "config")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", SNAKEMAKE_MARK)


class BundleExists(BenchwrightError):
    pass


# --- source ---------------------------------------------------------------------------------------------


def _git(checkout: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def copy_source(checkout: str | os.PathLike[str], dest: str | os.PathLike[str]) -> dict[str, Any]:
    """Copy the code of ``checkout`` (its tracked files under SOURCE_PATHS, as they are on disk) to ``dest``.

    Returns the provenance: commit, whether the files differ from it, and which. Outside a git checkout every
    file under SOURCE_PATHS is copied and the commit is "unknown".
    """
    checkout, dest = Path(checkout), Path(dest)
    listed = _git(checkout, "ls-files", "-z", "--", *SOURCE_PATHS)
    if listed is not None:
        files = sorted(f for f in listed.split("\0") if f and (checkout / f).is_file())
        commit = (_git(checkout, "rev-parse", "HEAD") or "unknown").strip()
        status = _git(checkout, "status", "--porcelain", "--untracked-files=no", "--", *SOURCE_PATHS) or ""
        modified = sorted(line[3:] for line in status.splitlines() if line.strip())
    else:
        files = sorted(str(p.relative_to(checkout)) for top in SOURCE_PATHS for p in
                       ([checkout / top] if (checkout / top).is_file() else (checkout / top).rglob("*"))
                       if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc"))
        commit, modified = "unknown", []
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(checkout / rel, target)
    source = {"commit": commit, "modified": modified, "dirty": bool(modified), "benchwright_version": __version__,
              "paths": list(SOURCE_PATHS), "files": len(files)}
    atomic_write_json(dest / "SOURCE.json", source)
    return source


def _copy_campaign(files: tuple[str, ...], dest: Path) -> None:
    for rel in files:
        src = Path(rel)
        target = dest / (src.name if src.is_absolute() or ".." in src.parts else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(need_input(src, "a file of the campaign"), target)


# --- manifest and tarball ---------------------------------------------------------------------------------


def bundle_files(root: str | os.PathLike[str]) -> list[str]:
    """Every file under ``root`` (relative, '/'-separated, sorted), the manifest and Snakemake's mark excluded."""
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.relative_to(root).as_posix() not in (MANIFEST,
                                                                                               SNAKEMAKE_MARK))


def write_manifest(root: str | os.PathLike[str]) -> Path:
    """``root/SHA256SUMS`` in ``sha256sum`` format, one line per file, sorted by path."""
    root = Path(root)
    lines = [f"{sha256_file(root / rel)}  {rel}\n" for rel in bundle_files(root)]
    atomic_write_text(root / MANIFEST, "".join(lines))
    return root / MANIFEST


def read_manifest(root: str | os.PathLike[str]) -> dict[str, str]:
    """path -> sha256 from ``root/SHA256SUMS``; raises ValueError naming the first malformed line."""
    out: dict[str, str] = {}
    for n, line in enumerate((Path(root) / MANIFEST).read_text().splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not rel:
            raise ValueError(f"line {n} is not '<sha256>  <path>': {line[:80]!r}")
        out[rel] = digest
    return out


def write_tarball(root: str | os.PathLike[str], tarball: str | os.PathLike[str], prefix: str) -> Path:
    """A gzip'd tar of ``root`` under ``prefix/`` that depends on the files' paths and bytes only: sorted
    entries, mtime 0, owner root, modes 0644/0755, no gzip name or time. Written atomically."""
    root = Path(root)
    entries = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.name != SNAKEMAKE_MARK)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in entries:
            path = root / rel
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = path.stat().st_size, 0o755 if os.access(path, os.X_OK) else 0o644
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
    with atomic_open(tarball, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
            gz.write(buffer.getvalue())
    return Path(tarball)


# --- assembly ---------------------------------------------------------------------------------------------


def system_descriptions(spec: BundleSpec) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """systems/<sku>.json for inference and for training, from each SKU file and its detected facts."""
    inference, training = {}, {}
    for sku, entry in spec.systems.items():
        system = load_system_file(need_input(Path(entry.file), "the SKU's description"))
        effective = json.loads(need_input(Path(entry.detected), "the SKU's detected facts").read_text())["effective"]
        inference[sku] = inference_description(system, effective, division=spec.division, submitter=spec.submitter)
        training[sku] = training_description(system, effective, division=spec.division, submitter=spec.submitter)
    return inference, training


def _training_readme(spec: BundleSpec, entries: list, source: dict[str, Any]) -> str:
    """The implementation's README.md: what it is, the campaign command of each of its results (``entries``: the
    training entries of one tree benchmark, one per SKU) and the commands their runs recorded."""
    entry = entries[0]
    return "\n".join([
        f"# {entry.tree_benchmark}: {IMPLEMENTATION}",
        "",
        f"benchwright's PyTorch implementation of `{entry.benchmark}` (campaign `{spec.campaign}`, code at commit "
        f"`{source['commit']}` in src/). Each result_N.txt is one seeded time-to-train run logged with mlperf-logging"
        f"'s mllog; the score is the olympic mean of run_stop - run_start over {entry.required_runs} runs.",
        *([f"Compliance rules for mlperf-logging's checker (the benchmark is outside ruleset "
           f"{spec.training_ruleset}): compliance.yaml."] if entry.rules else []),
        "",
        "## Reproduce",
        "",
        "From a checkout of the code in src/ (or the repository at the commit above), in the campaign's working "
        "directory, with the campaign files of src/campaign/ in place:",
        "",
        "    pip install -e .",
        *dict.fromkeys(f"    {e.reproduce}" for e in entries),
        "",
        "The commands its runs ran, exactly as each run recorded them (not retyped; each ran inside its SKU's "
        "container runtime, through `benchwright container-run`):",
        "",
        *(line for e in entries for line in command_lines(recorded_commands(dict(e.records)))),
        "",
    ])


def metadata(spec: BundleSpec, source: dict[str, Any], inference_root: str | None, training_root: str | None,
             provenance: dict[str, str] | None = None, refused: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """benchwright.json: what the validator needs beyond the MLPerf tree (mode, targets, required runs), where
    each result's provenance record is, and the results the bundle refused (with their reasons)."""
    provenance = provenance or {}

    def inference_path(e) -> str:
        return f"{inference_root}/results/{e.system}/{e.model}/{e.scenario.value}"

    def training_path(e) -> str:
        return f"{training_root}/results/{e.system}/{e.tree_benchmark}"

    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "campaign": spec.campaign,
        "submitter": spec.submitter,
        "division": spec.division,
        "mlperf_version": spec.mlperf_version,
        "mode": spec.mode.value,
        "submittable": spec.submittable,
        "fixture": spec.fixture,
        "source": source,
        "inference": [
            {"path": inference_path(e), "provenance": provenance.get(inference_path(e)), "system": e.system,
             "benchmark": e.benchmark, "model": e.model, "mlperf_benchmark": e.mlperf_benchmark,
             "precision": e.precision.value, "scenario": e.scenario.value,
             "accuracy_reference": e.accuracy_reference, "accuracy_target": e.accuracy_target,
             "compliance_tests": list(e.compliance_tests), "fixture": e.fixture}
            for e in spec.inference],
        "training": [
            {"path": training_path(e), "system": e.system,
             "provenance": [provenance.get(f"{training_path(e)}/result_{i}.txt") for i in range(len(e.runs))],
             "benchmark": e.benchmark, "tree_benchmark": e.tree_benchmark, "required_runs": e.required_runs,
             "ruleset": spec.training_ruleset,
             "rules": (f"{training_root}/benchmarks/{e.tree_benchmark}/implementations/{IMPLEMENTATION}/"
                       "compliance.yaml") if e.rules else None}
            for e in spec.training],
        "refused": refused or [],
    }


def assemble_bundle(spec: BundleSpec, out: str | os.PathLike[str], tarball: str | os.PathLike[str],
                    checkout: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Assemble the bundle of ``spec`` (paths relative to the working directory) into ``out`` and its tarball.

    An existing bundle or tarball is never replaced unless ``overwrite``. The folder appears complete or not
    at all (staged beside it, then renamed).
    """
    out, tarball = Path(out), Path(tarball)
    existing = [p for p in (out, tarball) if p.exists()]
    if existing and not overwrite:
        raise BundleExists(f"benchwright: {existing[0]} already exists; a finished bundle is never overwritten.\n"
                           "    fix: assemble into a new folder, or pass --overwrite to replace it")
    refused = refusals(spec)
    if refused:
        names = {r["result"] for r in refused}
        spec = spec.model_copy(update={"inference": tuple(
            e for e in spec.inference if f"{e.system}/{e.benchmark}/{e.scenario.value}/{e.precision.value}" not in names)})
        for r in refused:
            print(f"benchwright bundle: refused {r['result']}: {'; '.join(r['reasons'])}", file=sys.stderr)
        if not spec.inference and not spec.training:
            raise AssemblyError("benchwright: every result of the campaign is refused (" + "; ".join(
                f"{r['result']}: {', '.join(r['reasons'])}" for r in refused) + "), so there is no bundle to make.\n"
                "    fix: see the campaign's report (results/report/) for each result and its reason")
    sys_inference, sys_training = system_descriptions(spec)
    # Exits in reverse order: the folder is renamed into place first, then the tarball.
    with staged_file(tarball) as staged_tar, staged_dir(out, replace=True) as staging, \
            tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        source = copy_source(checkout, src)
        _copy_campaign(spec.config_files, src / "campaign")
        org = assemble_inference(staging / "inference", spec, sys_inference, src, source["commit"], refused)
        inference_root = org.relative_to(staging).as_posix() if org else None
        training_root = None
        for entry in spec.training:
            logs = [need_input(Path(r) / "result.txt", "a training run's MLPerf log") for r in entry.runs]
            same = [e for e in spec.training if e.tree_benchmark == entry.tree_benchmark]
            org_t = assemble_training(staging / "training", submitter=spec.submitter, system=entry.system,
                                      system_description=sys_training[entry.system],
                                      benchmark=entry.tree_benchmark, result_logs=logs,
                                      implementation=IMPLEMENTATION, source=src,
                                      readme=_training_readme(spec, same, source),
                                      rules=Path(entry.rules) if entry.rules else None)
            training_root = org_t.relative_to(staging).as_posix()
        index = write_provenance(staging, spec, inference_root, training_root)
        atomic_write_json(staging / METADATA, metadata(spec, source, inference_root, training_root, index, refused))
        write_manifest(staging)
        # The tarball is made from the staged folder (its bytes do not depend on where the folder is) and placed
        # right after the folder: a job killed at any point before leaves neither at its final path.
        write_tarball(staging, staged_tar, prefix=spec.campaign)
    return out


# --- publishing ------------------------------------------------------------------------------------------


def publish(bundle: str | os.PathLike[str], tarball: str | os.PathLike[str], report: str | os.PathLike[str],
            destination: str | os.PathLike[str]) -> dict[str, Any]:
    """Copy a checked bundle into the next version folder ``destination/v<N>/`` (never touching an existing one).

    When the newest version already holds a tarball with the same sha256, nothing is copied and that version is
    returned. Returns the receipt: version, folder, tarball sha256.
    """
    bundle, tarball, destination = Path(bundle), Path(tarball), Path(destination)
    digest = sha256_file(tarball)
    destination.mkdir(parents=True, exist_ok=True)
    versions = sorted((int(p.name[1:]), p) for p in destination.glob("v*") if p.name[1:].isdigit())
    if versions:
        newest = versions[-1][1]
        same = newest / tarball.name
        if same.is_file() and sha256_file(same) == digest:
            return {"version": newest.name, "path": str(newest), "tarball_sha256": digest, "new": False}
    number = versions[-1][0] + 1 if versions else 1
    staging = staging_dir(destination / f"v{number}")
    try:
        shutil.copytree(bundle, staging / bundle.name, ignore=shutil.ignore_patterns(SNAKEMAKE_MARK))
        shutil.copyfile(tarball, staging / tarball.name)
        atomic_write_text(staging / f"{tarball.name}.sha256", f"{digest}  {tarball.name}\n")
        shutil.copyfile(report, staging / Path(report).name)
        while True:  # another publisher may have taken the number meanwhile: take the next free one
            target = destination / f"v{number}"
            try:
                os.rename(staging, target)  # fails on an existing non-empty folder: never replaces a version
                break
            except OSError:
                if not target.exists():
                    raise
                number += 1
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"version": target.name, "path": str(target), "tarball_sha256": digest, "new": True}
