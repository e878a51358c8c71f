"""What a benchmark expects on this machine before its DAG can run, and what of it is missing.

``benchwright dataset check <benchmark>`` reports, for a benchmark whose data and model the user supplies (a
folder dataset, a local model file): the folder, the manifest and its pin, every file the manifest lists but the
folder lacks and every file it holds that the manifest does not list, the files the preprocessor reads (ImageNet:
``val_map.txt`` and the images it names), the model file and its pin, and the calibration list and its pin (and,
when it names files, those files). Presence is checked by name, hashes only for the small files (the manifest,
the calibration list) and the model; ``benchwright dataset verify`` hashes the dataset's files.

Each missing or wrong thing is a :class:`~benchwright.errors.Problem`: the file, the benchmark field that locates
it, what is wrong and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Problem, display_path
from ..fsutil import sha256_file
from ..schemas import Benchmark
from .folder import MAX_LISTED, DatasetFolderError, _walk, expand_path, read_manifest

PLACEHOLDER = "0" * 64
"""A sha256 of 64 zeros: a benchmark file shipped without the user's own pin."""


@dataclass(frozen=True)
class Pin:
    """A hash the benchmark file pins, and the file's hash here (None: not there, or not hashed)."""

    field: str
    path: str
    expected: str
    actual: str | None

    @property
    def placeholder(self) -> bool:
        return self.expected == PLACEHOLDER


@dataclass
class DatasetCheck:
    benchmark: str
    found: list[str] = field(default_factory=list)
    """One line per expected thing that is there."""
    problems: list[Problem] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [f"benchwright dataset check {self.benchmark}:"]
        lines += [f"  ok: {line}" for line in self.found]
        if self.problems:
            count = len(self.problems)
            lines.append(f"{count} thing{'s' if count != 1 else ''} missing or wrong:")
            lines += [f"- {p.render()}" for p in self.problems]
        if self.pins:
            lines.append("expected hashes (sha256, as the benchmark file pins them):")
            for pin in self.pins:
                note = " (a placeholder: pin your own file's hash)" if pin.placeholder else ""
                here = "" if pin.actual is None else (" = the file's" if pin.actual == pin.expected
                                                      else f"; the file here: {pin.actual}")
                lines.append(f"  {pin.field}: {pin.expected}{note}  [{pin.path}]{here}")
        lines.append("everything is in place" if self.ok else "fix the above, then run this check again")
        return "\n".join(lines)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" ... and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def _pin_problem(bfile: str, field_: str, path: Path, actual: str, expected: str, what: str, fix: str) -> Problem:
    if expected == PLACEHOLDER:
        return Problem(bfile, field_, f"{what} {display_path(path)} is not pinned yet ({field_} is the 64-zero "
                       f"placeholder); its sha256 here is {actual}",
                       f"check that this is the right file, then set `{field_}: {actual}` in {bfile}.")
    return Problem(bfile, field_, f"{what} {display_path(path)} has sha256 {actual}, the benchmark pins {expected}",
                   fix)


def check_dataset(bench: Benchmark, bfile: str, bench_dir: Path) -> DatasetCheck:
    """Everything ``bench`` needs from this machine (see the module docstring); ``bfile``: the benchmark file as
    shown in messages, ``bench_dir``: the folder its relative paths start from."""
    from .preprocess import PREPROCESSORS, PreprocessError

    report = DatasetCheck(bench.name)
    ds = bench.dataset
    folder: Path | None = None
    wanted_at = "DIR"
    present: dict[str, Path] | None = None
    manifest_entries: dict[str, str] | None = None
    if not ds.is_folder:
        report.found.append(f"dataset {ds.name}: {len(ds.files)} file(s) fetched by the workflow from their URLs "
                            "(each checked against its sha256 when fetched)")
    else:
        try:
            folder = expand_path(ds.path or "", field="dataset.path", file=bfile)
        except DatasetFolderError as exc:
            report.problems.append(_from_folder_error(bfile, exc, "dataset.path"))
        if folder is not None:
            wanted_at = display_path(folder)
        if folder is not None and not folder.is_dir():
            what = (" (an ImageNet validation folder: the JPEGs and val_map.txt)"
                    if bench.preprocessing.name == "imagenet" else "")
            report.problems.append(Problem(display_path(folder), "dataset.path", f"the dataset folder does not "
                                   f"exist (`dataset.path: {ds.path}` in {bfile})",
                                   f"put the dataset there{what}, or point `dataset.path` at the folder that "
                                   "holds it."))
            folder = None
        elif folder is not None:
            report.found.append(f"dataset folder {display_path(folder)}")

        manifest = bench_dir / (ds.manifest or "")
        if not manifest.is_file():
            report.problems.append(Problem(display_path(manifest), "dataset.manifest", "the dataset manifest does not "
                                   "exist", f"make it with `benchwright dataset manifest {wanted_at} --out "
                                   f"{display_path(manifest)}` and pin the hash it prints as "
                                   f"`dataset.manifest_sha256` in {bfile}."))
            report.pins.append(Pin("dataset.manifest_sha256", display_path(manifest), ds.manifest_sha256 or "", None))
        else:
            actual = sha256_file(manifest)
            report.pins.append(Pin("dataset.manifest_sha256", display_path(manifest), ds.manifest_sha256 or "",
                                   actual))
            if actual != ds.manifest_sha256:
                report.problems.append(_pin_problem(
                    bfile, "dataset.manifest_sha256", manifest, actual, ds.manifest_sha256 or "", "the manifest",
                    "if the dataset changed on purpose, regenerate the manifest with `benchwright dataset manifest` "
                    "and pin the hash it prints; otherwise restore the manifest."))
            try:
                manifest_entries = read_manifest(manifest)
                report.found.append(f"manifest {display_path(manifest)}: {len(manifest_entries)} files")
            except DatasetFolderError as exc:
                report.problems.append(_from_folder_error(bfile, exc, "dataset.manifest"))

        if folder is not None:
            try:
                present = _walk(folder, exclude=[manifest], strict=False)
            except DatasetFolderError as exc:
                report.problems.append(_from_folder_error(bfile, exc, "dataset.path"))
        if present is not None and manifest_entries is not None:
            missing = [rel for rel in manifest_entries if rel not in present]
            extra = [rel for rel in present if rel not in manifest_entries]
            if missing:
                report.problems.append(Problem(display_path(folder), "dataset.path", f"{len(missing)} file(s) the "
                                       f"manifest lists are missing from the folder: {_listing(missing)}",
                                       "restore them from the original dataset (or, if the dataset changed on "
                                       "purpose, regenerate the manifest and pin its new hash)."))
            if extra:
                report.problems.append(Problem(display_path(folder), "dataset.path", f"{len(extra)} file(s) in the "
                                       f"folder are not in the manifest: {_listing(extra)}",
                                       "remove them from the folder (or, if they belong to the dataset, regenerate "
                                       "the manifest and pin its new hash)."))

        proc = PREPROCESSORS.get(bench.preprocessing.name)
        if folder is not None and proc is not None and proc.expects is not None:
            params = {**proc.defaults, **bench.preprocessing.parameters}
            try:
                wanted = proc.expects(folder, params)
            except PreprocessError as exc:
                text = str(exc)
                message, _, fix = text.partition("; fix: ")
                report.problems.append(Problem(display_path(folder), "dataset.path", message,
                                               (fix or "restore the file from the original dataset") + "."))
            else:
                lacking = [rel for rel in wanted if not (folder / rel).is_file()]
                if lacking:
                    report.problems.append(Problem(
                        display_path(folder), "dataset.path", f"{len(lacking)} of the {len(wanted)} file(s) the "
                        f"`{proc.name}` preprocessing reads are missing: {_listing(lacking)}",
                        "restore them from the original dataset: every image val_map.txt names must be in the "
                        "folder." if proc.name == "imagenet" else "restore them from the original dataset."))
                else:
                    report.found.append(f"the {len(wanted)} file(s) the `{proc.name}` preprocessing reads")

    weights = bench.model.weights
    if weights.path is not None:
        try:
            model = expand_path(weights.path, field="model.weights.path", file=bfile)
        except DatasetFolderError as exc:
            report.problems.append(_from_folder_error(bfile, exc, "model.weights.path"))
            report.pins.append(Pin("model.weights.sha256", weights.path, weights.sha256 or "", None))
        else:
            if not model.is_file():
                report.problems.append(Problem(display_path(model), "model.weights.path", f"the model file does not "
                                       f"exist (`model.weights.path: {weights.path}` in {bfile})",
                                       "put the model there, or point `model.weights.path` at it."))
                report.pins.append(Pin("model.weights.sha256", display_path(model), weights.sha256 or "", None))
            else:
                actual = sha256_file(model)
                report.pins.append(Pin("model.weights.sha256", display_path(model), weights.sha256 or "", actual))
                if actual != weights.sha256:
                    report.problems.append(_pin_problem(
                        bfile, "model.weights.sha256", model, actual, weights.sha256 or "", "the model file",
                        "use the model file the benchmark pins, or, if you meant to change it, update "
                        "`model.weights.sha256`."))
                else:
                    report.found.append(f"model file {display_path(model)}")
    elif weights.url is not None:
        report.found.append(f"model fetched by the workflow from {weights.url} (checked against its sha256)")

    cal = bench.calibration
    if cal is not None:
        listing = bench_dir / cal.sample_list
        if not listing.is_file():
            report.problems.append(Problem(display_path(listing), "calibration.sample_list", "the calibration list "
                                   "does not exist", "restore the official calibration list, or correct the path "
                                   "(relative to the benchmark file)."))
            report.pins.append(Pin("calibration.sha256", display_path(listing), cal.sha256, None))
        else:
            actual = sha256_file(listing)
            report.pins.append(Pin("calibration.sha256", display_path(listing), cal.sha256, actual))
            if actual != cal.sha256:
                report.problems.append(_pin_problem(bfile, "calibration.sha256", listing, actual, cal.sha256,
                                                    "the calibration list", "restore the official calibration list; "
                                                    "if it changed on purpose, update `calibration.sha256`."))
            names = [line.strip() for line in listing.read_text(errors="replace").splitlines() if line.strip()]
            if cal.lines == "file_names" and folder is not None:
                lacking = [n for n in names if not (folder / n).is_file()]
                if lacking:
                    report.problems.append(Problem(display_path(folder), "calibration.sample_list",
                                           f"{len(lacking)} of the {len(names)} calibration image(s) "
                                           f"{display_path(listing)} names are missing from the dataset folder: "
                                           f"{_listing(lacking)}", "restore them from the original dataset."))
            if actual == cal.sha256:
                report.found.append(f"calibration list {display_path(listing)}: {len(names)} "
                                    f"{'file names' if cal.lines == 'file_names' else 'sample ids'}")
    return report


def _from_folder_error(bfile: str, exc: DatasetFolderError, default_field: str) -> Problem:
    text = str(exc).removeprefix("benchwright: ")
    message, _, fix = text.partition("; fix: ")
    return Problem(bfile, exc.field or default_field, message, fix or "correct the path.")


__all__ = ["PLACEHOLDER", "DatasetCheck", "Pin", "check_dataset"]
