"""The JSON passed between the model steps of the DAG, as pydantic models.

Two specs go in, on the command line (``--spec``, built by ``workflow/rules/common.smk``): :class:`ReferenceSpec`
(``benchwright train-reference``) and :class:`QuantizeSpec` (``benchwright quantize``). Two records come out,
beside the model they describe: :class:`ReferenceRecord` (``results/models/<benchmark>/fp32/record.json``) and
:class:`CalibrationRecord` (``results/models/<benchmark>/int8/calibration.json``). The provenance records and the
submission checks read the records' keys (``weights_sha256``, ``fp32_weights_sha256``, ``model_sha256``,
``calibration_list_sha256``, ...), so the field names are the keys on disk.

Records are written with :func:`write_record`: the project's canonical JSON (sorted keys, two-space indent, a final
newline), the same bytes as before these models, so their hashes in provenance records stay comparable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import ConfigDict, Field, NonNegativeInt, PositiveInt

from ..schemas.base import Identifier, JsonScalar, NonEmptyStr, Sha256, Spec

REFERENCE_RECORD_VERSION = 1
CALIBRATION_RECORD_VERSION = 1


class _Record(Spec):
    """A record a step writes beside its output; ``read`` validates one on disk."""

    # json.dumps writes inf and nan as Infinity / NaN, and so do these records (pydantic's default is null)
    model_config = ConfigDict(ser_json_inf_nan="constants")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Self:
        """The record in ``path``; a pydantic ValidationError names every wrong or missing key."""
        return cls.model_validate_json(Path(path).read_bytes())


# --- the FP32 reference weights --------------------------------------------------------------------------------


class ReferenceSpec(Spec):
    """How ``benchwright train-reference`` trains the FP32 reference weights: the benchmark's model and training
    recipe and the campaign's seed (``--spec``)."""

    architecture: Identifier
    """Model architecture registered in benchwright.models."""

    parameters: dict[str, JsonScalar] = {}
    """Architecture parameters."""

    optimizer: Identifier
    """Optimizer name (the benchmark's training.optimizer)."""

    hyperparameters: dict[str, JsonScalar] = {}
    """The benchmark's reference hyperparameters."""

    epochs: PositiveInt
    """Epochs to train (the benchmark's training.max_epochs)."""

    seed: int = Field(ge=0)
    """Seed of the initial weights and of training (the campaign's seed)."""

    declared_accuracy: float | None = None
    """The benchmark's accuracy.reference in percent; a measured accuracy more than 1 point off is warned about."""


class ReferenceRecord(_Record):
    """What ``train-reference`` wrote: the recipe, the weights' sha256 and the accuracy they reached (record.json)."""

    version: Literal[1] = REFERENCE_RECORD_VERSION
    """Format version of the record."""

    architecture: Identifier
    """Model architecture."""

    parameters: dict[str, JsonScalar] = {}
    """Architecture parameters."""

    seed: int = Field(ge=0)
    """Seed the weights were trained with."""

    optimizer: Identifier
    """Optimizer name."""

    hyperparameters: dict[str, JsonScalar] = {}
    """Hyperparameters trained with."""

    epochs: PositiveInt
    """Epochs trained."""

    weights_sha256: Sha256
    """sha256 of weights.pt."""

    data_manifest_sha256: Sha256
    """sha256 of the preprocessed data's manifest.json the weights were trained on."""

    measured_accuracy: float
    """Accuracy on the validation split, in percent (3 decimals)."""

    declared_accuracy: float | None = None
    """The benchmark's accuracy.reference, in percent."""

    torch: NonEmptyStr
    """torch version that trained the weights."""


# --- the INT8 model -----------------------------------------------------------------------------------------


class QuantizeSpec(Spec):
    """What ``benchwright quantize`` quantizes: the FP32 model's architecture and the calibration list's pinned
    sha256 (``--spec``)."""

    architecture: Identifier
    """Model architecture the FP32 weights belong to."""

    parameters: dict[str, JsonScalar] = {}
    """Architecture parameters."""

    calibration_sha256: Sha256
    """The benchmark's calibration.sha256: the calibration list must have it."""


class ObserverRange(Spec):
    model_config = ConfigDict(ser_json_inf_nan="constants")

    min: float
    """Smallest value the observer saw."""

    max: float
    """Largest value the observer saw."""


class CalibrationRecord(_Record):
    """What ``quantize`` wrote: how the INT8 model was calibrated, on what, from which weights (calibration.json)."""

    version: Literal[1] = CALIBRATION_RECORD_VERSION
    """Format version of the record."""

    backend: NonEmptyStr
    """torch quantized engine (x86, qnnpack)."""

    method: NonEmptyStr
    """Quantization method, in words."""

    samples: NonNegativeInt
    """Calibration samples the observers saw."""

    observer_ranges: dict[str, ObserverRange]
    """Range each observer recorded, by module name."""

    calibration_list_sha256: Sha256
    """sha256 of the calibration list (verified against the benchmark's calibration.sha256)."""

    calibration_ids: NonNegativeInt
    """Sample ids in the calibration list."""

    fp32_weights_sha256: Sha256
    """sha256 of the FP32 weights.pt that were quantized."""

    model_sha256: Sha256
    """sha256 of the INT8 model.pt."""


def write_record(path: str | os.PathLike[str], record: _Record) -> None:
    """Write ``record`` atomically as the project's canonical JSON (benchwright.fsutil.atomic_write_json)."""
    from ..fsutil import atomic_write_json

    atomic_write_json(path, record.model_dump(mode="json"))


__all__ = [
    "CALIBRATION_RECORD_VERSION", "REFERENCE_RECORD_VERSION", "CalibrationRecord", "ObserverRange", "QuantizeSpec",
    "ReferenceRecord", "ReferenceSpec", "write_record",
]
