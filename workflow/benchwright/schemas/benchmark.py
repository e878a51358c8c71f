"""What a benchmark is: model, data, preprocessing, calibration, accuracy target, scenarios, training recipe."""

from __future__ import annotations

import re
from enum import Enum
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from .base import Identifier, JsonScalar, NonEmptyStr, Precision, Scenario, Sha256, Spec


class Task(str, Enum):
    image_classification = "image_classification"
    object_detection = "object_detection"
    segmentation = "segmentation"
    language_modeling = "language_modeling"
    question_answering = "question_answering"
    speech_recognition = "speech_recognition"
    recommendation = "recommendation"
    graph_neural_network = "graph_neural_network"
    text_to_image = "text_to_image"


_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class DatasetFile(Spec):
    """One file of a dataset, fetched and verified before anything uses it."""

    url: str = Field(pattern=r"^(https?|file|package)://.+")
    """Where to fetch it: http(s)://, file:// or package://<import name>/<path inside the package>."""

    sha256: Sha256
    """sha256 of the file as fetched; a mismatch quarantines the file and fails the run."""

    size: PositiveInt | None = None
    """Size in bytes, checked after download when given."""

    filename: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """Local file name; defaults to the last part of the URL."""

    archive: Literal["none", "zip", "tar", "tar.gz", "tar.bz2", "tar.xz"] = "none"
    """Archive format; archives are extracted safely (no '..', absolute paths or escaping links)."""

    @property
    def local_name(self) -> str:
        return self.filename or self.url.rstrip("/").rsplit("/", 1)[-1]

    @model_validator(mode="after")
    def _usable_local_name(self) -> DatasetFile:
        # The name becomes a path component and a Snakemake wildcard (resources/datasets/<dataset>/<file>).
        if self.filename is None and not _FILE_NAME.fullmatch(self.local_name):
            raise ValueError(f"the URL ends in {self.local_name!r}, which cannot be a local file name (letters, "
                             "digits, '.', '_' and '-' only); set `filename:` to the name to store it under")
        return self


class Dataset(Spec):
    name: Identifier
    """Dataset id; files land in resources/datasets/<name>/."""

    licence: NonEmptyStr
    """Licence of the data, as its authors state it."""

    description: str = ""
    """One line on what the data is."""

    files: tuple[DatasetFile, ...] = Field(min_length=1)
    """The files that make up the dataset."""

    @field_validator("files")
    @classmethod
    def _unique_names(cls, files: tuple[DatasetFile, ...]) -> tuple[DatasetFile, ...]:
        names = [f.local_name for f in files]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"two files share the local name {dupes}; give each a distinct `filename`")
        return files


class Preprocessing(Spec):
    name: Identifier
    """A preprocessor registered in benchwright.data.preprocess."""

    version: PositiveInt
    """Version of the preprocessing code; part of every artifact's provenance."""

    parameters: dict[str, JsonScalar] = {}
    """Parameters passed to the preprocessor."""


class Weights(Spec):
    """Where the FP32 reference weights come from: a URL with its sha256, or the benchmark's training recipe."""

    url: str | None = Field(default=None, pattern=r"^(https?|file|package)://.+")
    """Download location of published weights."""

    sha256: Sha256 | None = None
    """sha256 of the published weights."""

    recipe: Literal["reference-training"] | None = None
    """``reference-training``: a seeded training rule of the DAG produces the weights."""

    @model_validator(mode="after")
    def _one_source(self) -> Weights:
        if self.recipe is None and (self.url is None or self.sha256 is None):
            raise ValueError("give either `recipe: reference-training` or both `url` and `sha256`")
        if self.recipe is not None and (self.url is not None or self.sha256 is not None):
            raise ValueError("give either `recipe` or `url`+`sha256`, not both")
        return self


class Model(Spec):
    architecture: Identifier
    """Model architecture registered in benchwright.models."""

    parameters: dict[str, JsonScalar] = {}
    """Architecture parameters (widths, depths, classes)."""

    weights: Weights
    """Source of the FP32 reference weights."""


class Calibration(Spec):
    """The fixed calibration set for post-training quantization."""

    sample_list: NonEmptyStr
    """File with one sample id per line, relative to the benchmark file."""

    sha256: Sha256
    """sha256 of that file; checked when the campaign is loaded."""

    split: Literal["train"] = "train"
    """Calibration samples come from the training split, as in MLPerf."""


class Accuracy(Spec):
    metric: Literal["top1"]
    """Accuracy metric computed by the accuracy script."""

    reference: float = Field(gt=0, le=100)
    """Accuracy of the FP32 reference model, in percent."""

    target_fraction: Literal[0.99, 0.999]
    """A result must reach reference x target_fraction (MLPerf's 99% and 99.9% variants)."""

    @property
    def target(self) -> float:
        return self.reference * self.target_fraction


class ScenarioSpec(Spec):
    """Constraints a scenario imposes, as LoadGen knows them."""

    target_latency_ms: PositiveFloat | None = None
    """Latency bound (Server: p99 bound; SingleStream/MultiStream: expected latency)."""

    target_latency_percentile: float = Field(default=90, gt=0, lt=100)
    """Percentile the latency metric is taken at."""

    samples_per_query: PositiveInt | None = None
    """Samples per query (MultiStream: 8)."""


class Inference(Spec):
    mlperf_benchmark: Identifier | None = None
    """The official MLPerf Inference benchmark this corresponds to (e.g. resnet); a model of our own maps to it."""

    loadgen_model: Identifier
    """Model name LoadGen's built-in mlperf.conf knows (e.g. resnet50)."""

    scenarios: dict[Scenario, ScenarioSpec] = Field(min_length=1)
    """The scenarios this benchmark supports, with their constraints."""

    performance_sample_count: PositiveInt
    """Samples LoadGen keeps in memory for performance runs; at least the official benchmark's value."""

    precisions: tuple[Precision, ...] = (Precision.fp32,)
    """Precisions this benchmark can run at."""


class Training(Spec):
    mlperf_benchmark: Identifier | None = None
    """The official MLPerf Training benchmark name (as in mlperf-logging), if any."""

    quality_metric: Literal["eval_accuracy"] = "eval_accuracy"
    """What the quality target is measured on."""

    quality_target: float = Field(gt=0, le=1)
    """Training stops when the evaluation reaches this value (a fraction)."""

    max_epochs: PositiveInt
    """A run that has not reached the target after this many epochs is logged aborted."""

    eval_interval_epochs: PositiveInt = 1
    """Evaluate every this many epochs."""

    required_runs: PositiveInt | None = None
    """Runs per result; defaults to the run rules' count for the benchmark."""

    optimizer: Identifier
    """Optimizer name as logged (opt_name)."""

    hyperparameters: dict[str, JsonScalar] = {}
    """Reference hyperparameters, named as mllog names them (global_batch_size, opt_base_learning_rate, ...)."""

    reference_epochs_to_target: PositiveFloat | None = None
    """Mean epochs to target of the reference convergence point (RCP-style check)."""

    compliance_rules: NonEmptyStr | None = None
    """Our own rules file for mlperf-logging's compliance checker (relative to the benchmark file); required for a
    benchmark outside the training ruleset, whose own rules would reject its name."""


class Benchmark(Spec):
    name: Identifier
    """Benchmark id; equals the file name config/benchmarks/<name>.yaml."""

    description: str = ""
    """One line on what it measures."""

    task: Task
    """The ML task."""

    model: Model
    """The model under test."""

    dataset: Dataset
    """The dataset, with every file's sha256."""

    preprocessing: Preprocessing
    """Deterministic preprocessing from raw files to arrays."""

    calibration: Calibration | None = None
    """Fixed calibration set for post-training quantization."""

    accuracy: Accuracy
    """Accuracy metric, reference and target."""

    inference: Inference | None = None
    """Inference part; absent for training-only benchmarks."""

    training: Training | None = None
    """Training part; absent for inference-only benchmarks."""

    @model_validator(mode="after")
    def _has_a_part(self) -> Benchmark:
        if self.inference is None and self.training is None:
            raise ValueError("a benchmark needs an `inference` part, a `training` part, or both")
        if self.model.weights.recipe == "reference-training" and self.training is None:
            raise ValueError("`model.weights.recipe: reference-training` needs a `training` section (the recipe)")
        if self.inference and Precision.int8 in self.inference.precisions and self.calibration is None:
            raise ValueError("int8 is listed in inference.precisions but the benchmark has no `calibration` set")
        return self


__all__ = [
    "Accuracy", "Benchmark", "Calibration", "Dataset", "DatasetFile", "Inference", "Model",
    "Preprocessing", "ScenarioSpec", "Task", "Training", "Weights",
]
