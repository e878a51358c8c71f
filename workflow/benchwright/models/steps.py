"""DAG steps that produce models: the seeded FP32 reference weights and the calibrated INT8 model."""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any


from ..data.preprocess import load_split
from ..fsutil import atomic_open, sha256_file
from .records import REFERENCE_RECORD_VERSION as RECORD_VERSION  # noqa: F401 - the name it had here
from .records import CalibrationRecord, QuantizeSpec, ReferenceRecord, ReferenceSpec, write_record


class CalibrationError(ValueError):
    pass


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_reference(spec: ReferenceSpec | Mapping[str, Any], data_dir: str | os.PathLike[str],
                    out_dir: str | os.PathLike[str], *, threads: int | None = None) -> dict[str, Any]:
    """Train the FP32 reference model with the benchmark's recipe and seed; write weights.pt and record.json.

    ``spec``: a :class:`ReferenceSpec`, or a mapping validated into one (the benchmark's model and training
    sections, resolved by the DAG). Returns the :class:`ReferenceRecord` written, as a dict.
    """
    import torch

    from . import build
    from .train import train

    spec = spec if isinstance(spec, ReferenceSpec) else ReferenceSpec.model_validate(spec)
    out = Path(out_dir)
    train_xy = load_split(data_dir, "train")[:2]
    val_xy = load_split(data_dir, "val")[:2]
    model = build(spec.architecture, spec.parameters, seed=spec.seed)
    result = train(model, train_xy, val_xy, optimizer=spec.optimizer, hyperparameters=spec.hyperparameters,
                   seed=spec.seed, max_epochs=spec.epochs, threads=threads,
                   on_epoch_end=lambda s: _log(f"reference training: epoch {s.epoch}, loss {s.train_loss:.4f}, "
                                               f"eval accuracy {100 * s.eval_accuracy:.3f}%"))
    with atomic_open(out / "weights.pt") as handle:
        torch.save(model.state_dict(), handle)
    accuracy = 100 * result.final_accuracy
    record = ReferenceRecord(
        architecture=spec.architecture,
        parameters=spec.parameters,
        seed=spec.seed,
        optimizer=spec.optimizer,
        hyperparameters=spec.hyperparameters,
        epochs=spec.epochs,
        weights_sha256=sha256_file(out / "weights.pt"),
        data_manifest_sha256=sha256_file(Path(data_dir) / "manifest.json"),
        measured_accuracy=round(accuracy, 3),
        declared_accuracy=spec.declared_accuracy,
        torch=torch.__version__,
    )
    declared = spec.declared_accuracy
    if declared is not None and abs(declared - accuracy) > 1.0:
        _log(f"warning: the reference model reached {accuracy:.3f}%, the benchmark declares "
             f"accuracy.reference {declared}%: update the benchmark file if the recipe changed on purpose")
    write_record(out / "record.json", record)
    _log(f"reference weights: {record.weights_sha256}, accuracy {accuracy:.3f}%")
    return record.model_dump(mode="json")


def read_calibration_list(path: str | os.PathLike[str], sha256: str) -> list[int]:
    actual = sha256_file(path)
    if actual != sha256:
        raise CalibrationError(f"{path}: sha256 {actual} differs from the benchmark's calibration.sha256 {sha256}; "
                               "restore the official calibration list")
    ids = [int(line) for line in Path(path).read_text().split()]
    if len(set(ids)) != len(ids):
        raise CalibrationError(f"{path}: a sample id appears twice")
    return ids


def quantize(spec: QuantizeSpec | Mapping[str, Any], weights_dir: str | os.PathLike[str],
             data_dir: str | os.PathLike[str], calibration_list: str | os.PathLike[str],
             out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Post-training static INT8 quantization on the fixed calibration set; write model.pt and calibration.json.

    ``spec``: a :class:`QuantizeSpec`, or a mapping validated into one. Returns the :class:`CalibrationRecord`
    written, as a dict.
    """
    import torch

    from . import build
    from .quantize import quantize_int8, torchscript_bytes

    from ..data.store import ArrayFile, load_array

    spec = spec if isinstance(spec, QuantizeSpec) else QuantizeSpec.model_validate(spec)
    ids = read_calibration_list(calibration_list, spec.calibration_sha256)
    sample_ids = load_array(data_dir, "train", "ids")
    row = {int(s): i for i, s in enumerate(sample_ids)}
    missing = [i for i in ids if i not in row]
    if missing:
        raise CalibrationError(f"calibration ids {missing[:5]} are not in the training split: the calibration "
                               "set must come from training data")
    model = build(spec.architecture, spec.parameters)
    model.load_state_dict(torch.load(Path(weights_dir) / "weights.pt", map_location="cpu", weights_only=True))
    with warnings.catch_warnings():
        # torch.ao's eager quantized tensors are deprecated upstream (torchao/pt2e replace them); the kernels
        # are what runs INT8 on this CPU today, so the warnings are filtered here, once, not silenced globally.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.ao\..*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_tensor.*deprecated.*")
        # only the calibration list's samples are read from the training split
        scripted, observed = quantize_int8(model, ArrayFile(Path(data_dir) / "train_x.npy").rows([row[i] for i in ids]))
    out = Path(out_dir)
    with atomic_open(out / "model.pt") as handle:
        handle.write(torchscript_bytes(scripted))  # the same model gives the same bytes (and sha256)
    record = CalibrationRecord.model_validate({
        **observed,
        "calibration_list_sha256": spec.calibration_sha256,
        "calibration_ids": len(ids),
        "fp32_weights_sha256": sha256_file(Path(weights_dir) / "weights.pt"),
        "model_sha256": sha256_file(out / "model.pt"),
    })
    write_record(out / "calibration.json", record)
    _log(f"int8 model: {record.model_sha256} ({record.backend}, {len(ids)} calibration samples)")
    return record.model_dump(mode="json")


def load_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


__all__ = ["CalibrationError", "quantize", "read_calibration_list", "train_reference"]
