"""The accuracy script: top-1 accuracy from LoadGen's mlperf_log_accuracy.json, in the official output form.

mlperf_log_accuracy.json is a JSON list of ``{"seq_id", "qsl_idx", "data"}``, ``data`` being the hex string of the
bytes the SUT returned for the sample. LoadGen 6.0.17 writes a well-formed list (``[\\n]\\n`` when nothing was
logged); older LoadGens leave a trailing comma or no closing bracket, which :func:`read_accuracy_log` accepts too.

Like MLCommons' ``accuracy-imagenet.py``, a sample LoadGen logged more than once (performance runs that sample the
accuracy log, compliance TEST01) counts once, with its first logged response.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import NonNegativeInt

from benchwright.errors import BenchwrightError
from benchwright.fsutil import atomic_open, sha256_file
from benchwright.harness.logs import LogError
from benchwright.schemas.base import Spec

ACCURACY_LOG = "mlperf_log_accuracy.json"
KEEP_BYTES = 4096
"""Bytes kept from each end of a truncated accuracy log; the submission checker wants the file under 10 KiB."""
TRUNCATION_MARK = b"\n\n...\n\n"
"""Written between the kept head and tail, as MLCommons' truncate_accuracy_log.py does."""


class AccuracyBelowTarget(BenchwrightError):
    """The measured accuracy is below the benchmark's target (reference x fraction)."""

    def __init__(self, message: str, *, benchmark: str, accuracy: float, target: float, reference: float,
                 target_fraction: float, log_path: Path | None):
        super().__init__(message)
        self.benchmark = benchmark
        self.accuracy = accuracy
        self.target = target
        self.reference = reference
        self.target_fraction = target_fraction
        self.log_path = log_path


class AccuracyResult(Spec):
    """Top-1 accuracy over the distinct samples of one accuracy log."""

    accuracy: float
    """Percentage of distinct samples whose predicted class equals the label (0-100)."""
    good: NonNegativeInt
    """Distinct samples predicted correctly."""
    total: NonNegativeInt
    """Distinct samples in the log (each qsl_idx counts once)."""

    def line(self) -> str:
        """The official first line, e.g. ``accuracy=98.612%, good=1010, total=1024``."""
        return f"accuracy={self.accuracy:.3f}%, good={self.good}, total={self.total}"


def read_accuracy_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of an mlperf_log_accuracy.json, in file order.

    Accepts a trailing comma and a missing closing bracket (older LoadGens, a run stopped while writing the last
    entry's line end); anything else that is not JSON raises :class:`LogError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise LogError(f"{path}: LoadGen's accuracy log is missing; was the accuracy run's output folder given?")
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise LogError(f"{path}: LoadGen's accuracy log is empty: the run did not finish. Run it again.")
    try:
        entries = json.loads(text)
    except ValueError:
        entries = _lenient(text, path)
    if not isinstance(entries, list):
        raise LogError(f"{path}: expected a JSON list of accuracy entries, found {type(entries).__name__}.")
    for position, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("qsl_idx"), int)
                and not isinstance(entry.get("qsl_idx"), bool) and isinstance(entry.get("data"), str)):
            raise LogError(f"{path}: entry {position} is not {{\"seq_id\", \"qsl_idx\": int, \"data\": hex str}}: "
                           f"{str(entry)[:120]}")
    return entries


def _lenient(text: str, path: Path) -> Any:
    body = text
    if body.endswith("]"):
        body = body[:-1].rstrip()
    body = body.rstrip(",").rstrip()
    try:
        return json.loads(body + "\n]")
    except ValueError as exc:
        raise LogError(f"{path}: not a readable accuracy log ({exc.msg} at line {exc.lineno}); a run killed while "
                       f"writing leaves a cut entry. Run the accuracy test again.") from None


def top1_accuracy(entries: list[dict[str, Any]], labels: np.ndarray, dtype: str | np.dtype = "int32"
                  ) -> AccuracyResult:
    """Top-1 accuracy: each response's data is one little-endian integer of ``dtype``, the predicted class.

    ``labels[qsl_idx]`` is the true class of a sample. A qsl_idx logged more than once counts once, with its first
    response (as MLCommons' resnet accuracy script). An empty log gives accuracy 0 over 0 samples.
    """
    kind = np.dtype(dtype)
    if kind.kind not in "iu":
        raise ValueError(f"dtype must be an integer type (the predicted class), got {kind}")
    kind = kind.newbyteorder("<")
    labels = np.asarray(labels)
    seen: set[int] = set()
    good = 0
    for entry in entries:
        index = entry["qsl_idx"]
        if index in seen:
            continue
        if not 0 <= index < len(labels):
            raise ValueError(f"accuracy log entry seq_id={entry.get('seq_id')} has qsl_idx={index}, outside the "
                             f"{len(labels)} labels: the labels are not those of the QSL that ran")
        raw = bytes.fromhex(entry["data"])
        if len(raw) != kind.itemsize:
            raise ValueError(f"accuracy log entry seq_id={entry.get('seq_id')} (qsl_idx={index}) holds {len(raw)} "
                             f"bytes; one {kind.name} prediction is {kind.itemsize}: pass the dtype the SUT writes")
        seen.add(index)
        predicted = int(np.frombuffer(raw, dtype=kind)[0])
        if predicted == int(labels[index]):
            good += 1
    total = len(seen)
    return AccuracyResult(accuracy=100.0 * good / total if total else 0.0, good=good, total=total)


def format_accuracy(result: AccuracyResult, accuracy_log_path: str | os.PathLike[str]) -> str:
    """accuracy.txt as the submission wants it: the accuracy line, then ``hash=<sha256 of the full log>``.

    Hash the untruncated log: call this before :func:`truncate_accuracy_log` replaces it in a bundle.
    """
    return f"{result.line()}\nhash={sha256_file(accuracy_log_path)}\n"


def check_accuracy(result: Any, *, benchmark: str, reference: float, target_fraction: float,
                   log_path: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`AccuracyBelowTarget` when ``result`` is below ``reference`` x ``target_fraction``.

    ``reference`` is the benchmark's reference accuracy in percent (resnet: 76.46), ``target_fraction`` the share
    of it a result must reach (closed: 0.99). The accuracy is compared as accuracy.txt prints it (3 decimals),
    which is what the submission checker reads.
    """
    if not reference > 0:
        raise ValueError(f"reference accuracy must be a positive percentage, got {reference}")
    if not 0 < target_fraction <= 1:
        raise ValueError(f"target_fraction must be in (0, 1], got {target_fraction}")
    target = reference * target_fraction
    scored = isinstance(result, AccuracyResult)
    measured = round(result.accuracy if scored else result.value, 3)  # a task's Score: its primary metric
    if measured >= target:
        return
    detail = f" ({result.good}/{result.total} correct)" if scored else f" ({result.primary} over {result.total} samples)"
    where = (f"the run's accuracy log is at {log_path}" if log_path is not None
             else "look at the accuracy run's mlperf_log_accuracy.json")
    message = (
        f"{benchmark}: accuracy {measured:.3f}%{detail} is below the target "
        f"{target:.3f}% = reference {reference:.3f}% x {target_fraction:g}.\n"
        f"    fix: the model or its quantization lost accuracy: check the calibration and the weights, and that the "
        f"labels and the preprocessing match the dataset the reference was measured on; {where}."
    )
    raise AccuracyBelowTarget(message, benchmark=benchmark, accuracy=measured, target=target, reference=reference,
                              target_fraction=target_fraction, log_path=Path(log_path) if log_path else None)


ACCURACY_RECORD_VERSION = 1
_METRIC = re.compile(r"([A-Za-z_][\w-]*)=(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)%?")

ACCURACY_TXT_NAMES = {"top1": "accuracy"}
"""A task metric's name in accuracy.txt where it differs (accuracy-imagenet.py prints top-1 as ``accuracy=``)."""


def accuracy_values(accuracy_txt: str) -> dict[str, int | float]:
    """The numbers of an accuracy.txt, by name, from its lines but the hash line. This is the one reader of the
    file's two forms: ``name=value[%]`` pairs (accuracy-imagenet.py: ``accuracy=76.456%, good=..., total=...``) and
    a JSON object line (accuracy-squad.py / evaluate_v1.1.py: ``{"exact_match": 81.2, "f1": 88.6}``)."""
    values: dict[str, int | float] = {}
    for line in accuracy_txt.splitlines():
        line = line.strip()
        if not line or line.startswith("hash="):
            continue
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                values.update({k: v for k, v in parsed.items()
                               if isinstance(v, (int, float)) and not isinstance(v, bool)})
                continue
        values.update({k: int(v) if v.lstrip("-").isdigit() else float(v) for k, v in _METRIC.findall(line)})
    return values


def accuracy_value(accuracy_txt: str, metric: str | None = None) -> float | None:
    """The benchmark's metric (a task metric: ``top1``, ``f1``, ``exact_match``) as accuracy.txt states it, or None
    when the file does not state it. Without a metric: top-1 (``accuracy=``), else SQuAD's F1 (the metric of the
    submission checker's ACC_PATTERN for each form)."""
    values = accuracy_values(accuracy_txt)
    names = [ACCURACY_TXT_NAMES.get(metric, metric)] if metric else ["accuracy", "f1"]
    value = next((values[n] for n in names if n in values), None)
    return None if value is None else float(value)


def accuracy_record(accuracy_txt: str, *, benchmark: str, task: str, metric: str, reference: float,
                    target_fraction: float, fixture: bool = False) -> dict[str, Any]:
    """The accuracy check's record (accuracy.json, beside accuracy.txt): what it measured, against which target,
    and the command it ran with where (``execution``, benchwright.provenance.run_facts).

    ``accuracy_txt``: the text written to accuracy.txt; its numbers (``name=value`` of its lines but the hash
    line) are recorded as ``values``."""
    from ..provenance import run_facts

    lines = accuracy_txt.splitlines()
    scored = [line for line in lines if not line.startswith("hash=")]
    digest = next((line[len("hash="):] for line in lines if line.startswith("hash=")), None)
    values = accuracy_values(accuracy_txt)
    target = round(reference * target_fraction, 6)
    measured = accuracy_value(accuracy_txt, metric)
    return {"version": ACCURACY_RECORD_VERSION, "benchmark": benchmark, "task": task, "metric": metric,
            "values": values,
            "accuracy_txt": scored, "accuracy_log_sha256": digest, "reference": reference,
            "target_fraction": target_fraction, "target": target, "accuracy": measured,
            "meets_target": measured is not None and measured >= target - 1e-9,
            "fixture": fixture, "execution": run_facts()}


def truncate_accuracy_log(src: str | os.PathLike[str], dst: str | os.PathLike[str], keep: int = KEEP_BYTES) -> bool:
    """Write the first and last ``keep`` bytes of ``src`` to ``dst`` atomically, with a mark between them.

    A log of at most ``2 * keep`` bytes is copied whole. Returns True when it was truncated. Record its hash
    (:func:`format_accuracy`) from ``src`` first: ``dst`` no longer hashes to it.
    """
    if keep <= 0:
        raise ValueError(f"keep must be positive, got {keep}")
    src = Path(src)
    size = src.stat().st_size
    with open(src, "rb") as handle:
        if size <= 2 * keep:
            parts = [handle.read()]
        else:
            head = handle.read(keep)
            handle.seek(size - keep)
            parts = [head, TRUNCATION_MARK, handle.read(keep)]
    with atomic_open(dst, "wb") as out:
        for part in parts:
            out.write(part)
    return len(parts) > 1
