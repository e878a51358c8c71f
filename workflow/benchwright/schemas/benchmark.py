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
    text_generation = "text_generation"
    speech_recognition = "speech_recognition"
    recommendation = "recommendation"
    graph_neural_network = "graph_neural_network"
    text_to_image = "text_to_image"


LM_DEFAULTS: dict[str, int] = {"n_layer": 2, "n_head": 4, "n_embd": 256, "n_positions": 256}
"""``recipe: causal-lm``: the architecture of benchwright's small GPT-2-style LM (about 2.2 million parameters with
a 2,048-token vocabulary); ``model.parameters`` overrides these keys."""
LM_HYPERPARAMETERS: dict[str, float] = {"epochs": 5, "batch_size": 4, "block_size": 128, "learning_rate": 1.5e-3,
                                        "weight_decay": 0.01, "warmup_steps": 50}
"""``recipe: causal-lm``: AdamW over shuffled blocks of ``block_size`` tokens, linear warm-up then cosine decay;
``weights.hyperparameters`` overrides these keys."""

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
    """Either ``files`` fetched one by one (each with its sha256), or a local folder ``path`` verified against one
    manifest (a sha256 list of every file, made by ``benchwright dataset manifest DIR``) pinned by its hash."""

    name: Identifier
    """Dataset id; fetched files land in resources/datasets/<name>/."""

    licence: NonEmptyStr
    """Licence of the data, as its authors state it."""

    description: str = ""
    """One line on what the data is."""

    files: tuple[DatasetFile, ...] = ()
    """The files that make up the dataset (fetched over http(s), file:// or package://)."""

    path: NonEmptyStr | None = None
    """A local folder holding the dataset, e.g. ``${BENCHWRIGHT_DATA}/imagenet/val`` (environment variables and
    ``~`` are expanded; a relative path is relative to the working directory)."""

    manifest: NonEmptyStr | None = None
    """The folder's manifest (``<sha256>  <relative path>`` lines), relative to the benchmark file; with ``path``."""

    manifest_sha256: Sha256 | None = None
    """sha256 of the manifest file; with ``path``."""

    @model_validator(mode="after")
    def _one_source(self) -> Dataset:
        folder = (self.path, self.manifest, self.manifest_sha256)
        if self.files and any(v is not None for v in folder):
            raise ValueError("give either `files` or a folder (`path`, `manifest`, `manifest_sha256`), not both")
        if not self.files and any(v is None for v in folder):
            raise ValueError("give the dataset's `files`, or a folder: `path`, `manifest` and `manifest_sha256` "
                             "(make the manifest with `benchwright dataset manifest DIR --out FILE`)")
        return self

    @property
    def is_folder(self) -> bool:
        return self.path is not None

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
    """Where the FP32 reference model comes from: a URL or a local path with its sha256, or the benchmark's training
    recipe. A local path goes through the same copy + checksum step as a download."""

    url: str | None = Field(default=None, pattern=r"^(https?|file|package)://.+")
    """Download location of published weights."""

    path: NonEmptyStr | None = None
    """A local model file, e.g. ``${BENCHWRIGHT_MODELS}/resnet50_v1.onnx`` (environment variables and ``~`` are
    expanded); with ``sha256``."""

    sha256: Sha256 | None = None
    """sha256 of the published weights."""

    recipe: Literal["reference-training", "causal-lm"] | None = None
    """``reference-training``: a seeded training rule of the DAG produces the weights (the benchmark's
    ``training`` section is the recipe). ``causal-lm``: a seeded rule trains benchwright's small GPT-2-style language
    model (benchwright.models.lm) on the preprocessed corpus, with ``hyperparameters``."""

    hyperparameters: dict[str, JsonScalar] = {}
    """With ``recipe: causal-lm``: the training recipe over benchwright.models.lm's defaults (epochs,
    batch_size, block_size, learning_rate, weight_decay, warmup_steps)."""

    @model_validator(mode="after")
    def _one_source(self) -> Weights:
        sources = [k for k in ("recipe", "url", "path") if getattr(self, k) is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of `recipe: reference-training`, `url` + `sha256` or `path` + `sha256`"
                             + (f" (found {', '.join(sources)})" if sources else ""))
        if self.recipe is None and self.sha256 is None:
            raise ValueError(f"`{sources[0]}` needs the model file's `sha256` (`sha256sum FILE`)")
        if self.recipe is not None and self.sha256 is not None:
            raise ValueError("trained weights have no published `sha256`; remove it or give `url`/`path`")
        if self.hyperparameters and self.recipe != "causal-lm":
            raise ValueError("`hyperparameters` is the recipe of `recipe: causal-lm`; other weights take none")
        if self.recipe == "causal-lm":
            unknown = sorted(set(self.hyperparameters) - set(LM_HYPERPARAMETERS))
            if unknown:
                raise ValueError(f"unknown causal-lm hyperparameter(s) {unknown}; known: {sorted(LM_HYPERPARAMETERS)}")
        return self


class Backend(str, Enum):
    """What runs the model: PyTorch in-process, ONNX Runtime, a Hugging Face ``transformers`` causal LM generating
    in-process (text_generation), an OpenAI-compatible HTTP endpoint serving it (``endpoint``: vLLM, SGLang, TGI,
    TensorRT-LLM, ``transformers serve``), or an external harness (``model.harness``) that runs
    LoadGen itself."""

    torch = "torch"
    onnxruntime = "onnxruntime"
    transformers = "transformers"
    endpoint = "endpoint"
    external = "external"


class ModelFormat(str, Enum):
    """How the FP32 model is stored. ``state_dict``: weights of a registered architecture (``architecture``);
    ``torchscript``: a ``torch.jit.save`` archive; ``torch_export``: a ``torch.export.save`` archive (.pt2);
    ``onnx``: an ONNX file (onnxruntime backend); ``transformers``: a transformers model folder (config.json,
    model.safetensors and the tokenizer's tokenizer.json); ``tokenizer``: only the served model's tokenizer.json
    (``backend: endpoint``: the weights live on the server; the SUT counts generated tokens with it)."""

    state_dict = "state_dict"
    torchscript = "torchscript"
    torch_export = "torch_export"
    onnx = "onnx"
    transformers = "transformers"
    tokenizer = "tokenizer"


BACKEND_FORMATS = {Backend.torch: (ModelFormat.state_dict, ModelFormat.torchscript, ModelFormat.torch_export),
                   Backend.onnxruntime: (ModelFormat.onnx,),
                   Backend.transformers: (ModelFormat.transformers,),
                   Backend.endpoint: (ModelFormat.tokenizer, ModelFormat.transformers),
                   Backend.external: (ModelFormat.onnx, ModelFormat.torchscript, ModelFormat.torch_export)}
"""The model formats each backend loads."""


class ExternalHarness(Spec):
    """An inference harness someone else wrote (a vendor's, MLCommons' reference): a command run in the SKU's
    container once per LoadGen test. It runs LoadGen itself with the user.conf benchwright writes and leaves
    LoadGen's logs in ``{output}``; benchwright then parses, validates and bundles them as for its own runs."""

    command: tuple[NonEmptyStr, ...] = Field(min_length=1)
    """The program and its arguments (no shell), with placeholders such as ``{scenario}`` and ``{output}``
    (README: "External inference harnesses" lists them). Environment variables are expanded."""


_SECRET_KEYS = ("api_key", "apikey", "key", "token", "api_token", "password", "authorization", "bearer")


class Endpoint(Spec):
    """An OpenAI-compatible completions endpoint serving the model (``backend: endpoint``): ``POST
    {base_url}/completions``, streamed, the prompt as token ids. The API key is never part of the campaign."""

    base_url: str
    """The API root, e.g. ``http://127.0.0.1:8000/v1`` (http or https)."""

    model: NonEmptyStr
    """The model name the server serves it under (the request's ``model``)."""

    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable that holds the API key (e.g. ``OPENAI_API_KEY``); unset: no key is sent."""

    timeout_s: PositiveFloat = 60.0
    """Connect and read timeout of a request (no chunk for this long fails the run)."""

    max_retries: int = Field(default=2, ge=0, le=10)
    """Re-sends of a request refused before its first byte (never after: a cut stream fails the run)."""

    concurrency: PositiveInt = Field(default=8, le=4096)
    """Requests in flight at once."""

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_yaml(cls, data: object) -> object:
        if isinstance(data, dict):
            secret = sorted(k for k in data if str(k).lower().replace("-", "_") in _SECRET_KEYS)
            if secret:
                raise ValueError(f"`{secret[0]}`: an API key never goes into the campaign or benchmark file (they "
                                 "are copied into logs and bundles); remove it, set `api_key_env: NAME` and export "
                                 "NAME=<key> in the environment the jobs run in")
        return data

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL; give the server's OpenAI-compatible API root, e.g. "
                             "http://127.0.0.1:8000/v1")
        return value.rstrip("/")


class Model(Spec):
    backend: Backend = Backend.torch
    """What runs the model (``external``: the command of ``harness``; ``endpoint``: the server of ``endpoint``)."""

    harness: ExternalHarness | None = None
    """With ``backend: external``: the harness that runs LoadGen."""

    endpoint: Endpoint | None = None
    """With ``backend: endpoint``: the OpenAI-compatible server that generates."""

    format: ModelFormat = ModelFormat.state_dict
    """How the FP32 model file is stored; must be one the backend loads."""

    architecture: Identifier | None = None
    """Model architecture registered in benchwright.models (``format: state_dict``)."""

    parameters: dict[str, JsonScalar] = {}
    """Architecture parameters (widths, depths, classes)."""

    weights: Weights
    """Source of the FP32 reference weights (or model file)."""

    inputs: dict[Identifier, NonEmptyStr] = {}
    """The task's inputs -> the model's input names (e.g. ``x: input_tensor:0``); unset names are the task's own.
    Checked against the model when it loads."""

    outputs: dict[Identifier, NonEmptyStr] = {}
    """The task's outputs -> the model's output names (e.g. ``logits: softmax_tensor:0``)."""

    task_parameters: dict[Identifier, JsonScalar] = {}
    """How the task reads this model's outputs, as the task declares them (image_classification:
    ``class_offset``, added to the model's class: -1 for MLCommons' 1001-class resnet50_v1.onnx). Checked against
    the task when the campaign is loaded."""

    @model_validator(mode="after")
    def _consistent(self) -> Model:
        if (self.backend is Backend.external) != (self.harness is not None):
            raise ValueError("`backend: external` and `harness` go together: give both, or neither")
        if (self.backend is Backend.endpoint) != (self.endpoint is not None):
            raise ValueError("`backend: endpoint` and `endpoint` go together: give both, or neither")
        if self.format not in BACKEND_FORMATS[self.backend]:
            allowed = ", ".join(f.value for f in BACKEND_FORMATS[self.backend])
            raise ValueError(f"the {self.backend.value} backend does not load `format: {self.format.value}`; use one "
                             f"of: {allowed}")
        if self.format is ModelFormat.state_dict and self.architecture is None:
            raise ValueError("`format: state_dict` needs the registered `architecture` the weights belong to")
        if self.weights.recipe == "reference-training" and self.format is not ModelFormat.state_dict:
            raise ValueError("`weights.recipe: reference-training` trains a registered architecture: use "
                             "`format: state_dict`")
        if self.weights.recipe == "causal-lm" and self.format is not ModelFormat.transformers:
            raise ValueError("`weights.recipe: causal-lm` makes a transformers model folder: use "
                             "`backend: transformers` and `format: transformers`")
        if self.weights.recipe == "causal-lm":
            unknown = sorted(set(self.parameters) - set(LM_DEFAULTS))
            if unknown:
                raise ValueError(f"unknown causal-lm parameter(s) {unknown} in `parameters`; known: "
                                 f"{sorted(LM_DEFAULTS)}")
        return self


class Calibration(Spec):
    """The fixed calibration set for post-training quantization."""

    sample_list: NonEmptyStr
    """File with one sample per line (see ``lines``), relative to the benchmark file."""

    sha256: Sha256
    """sha256 of that file; checked when the campaign is loaded."""

    split: Literal["train", "val"] = "train"
    """Where the calibration samples are: the training split (benchwright's own models), or the validation set
    (MLPerf's ImageNet list, calibration/ImageNet/cal_image_list_option_1.txt, names 500 validation images)."""

    lines: Literal["sample_ids", "file_names"] = "sample_ids"
    """What a line of the list is: a sample id (a row of the raw data), or a file name inside the dataset folder
    (MLPerf's lists). A list of file names is checked (hash, every file present) but not used to quantize yet."""


class Accuracy(Spec):
    metric: Literal["top1", "f1", "exact_match", "rouge1", "rouge2", "rougeL", "rougeLsum"]
    """Accuracy metric computed by the task's accuracy script (image_classification: top1; question_answering:
    f1, the one MLPerf's bert target applies to, or exact_match; text_generation: ROUGE-1/2/L/Lsum)."""

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


class ExternalTraining(Spec):
    """A training implementation someone else wrote (NVIDIA's, MLCommons' reference): a command run once per seeded
    run in the SKU's container, with its config file (NVIDIA style: ``config_DGXA100_1x8x56x1.sh``). It writes
    the run's MLPerf log (mllog) to ``{log}``; benchwright checks, records, compliance-checks and scores it as a
    run of its own."""

    command: tuple[NonEmptyStr, ...] = Field(min_length=1)
    """The program and its arguments (no shell), with placeholders such as ``{seed}``, ``{config}`` and ``{log}``
    (README: "External training implementations" lists them). Environment variables are expanded."""

    config: NonEmptyStr | None = None
    """The implementation's config file, relative to the benchmark file: hashed into every run's record and
    copied into the bundle."""


class Training(Spec):
    implementation: ExternalTraining | None = None
    """Run this implementation instead of benchwright's own training loop."""

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


FixtureKind = Literal["imagenet", "squad", "onnx-classifier", "torch-classifier", "bert"]
"""The stand-ins ``benchwright fixture`` makes (its first argument)."""


class FixtureDataset(Spec):
    """The stand-in dataset folder a fixture campaign makes inside the DAG, checked like a user's folder."""

    kind: FixtureKind
    """What ``benchwright fixture`` makes: ``imagenet`` (JPEGs and val_map.txt) or ``squad`` (dev-v1.1.json and
    vocab.txt)."""

    parameters: dict[Identifier, JsonScalar] = {}
    """Options of ``benchwright fixture`` (``count: 64`` is ``--count 64``)."""

    manifest: NonEmptyStr
    """The stand-in folder's manifest, relative to the benchmark file (the fixture is byte-identical for the same
    parameters, so it is checked in like a real dataset's)."""

    manifest_sha256: Sha256
    """sha256 of that manifest."""


class FixtureModel(Spec):
    """The stand-in model a fixture campaign makes inside the DAG: random weights with the benchmark's input and
    output names, copied and checked by its hash like a user's model file."""

    kind: FixtureKind
    """``onnx-classifier``, ``torch-classifier`` or ``bert``."""

    parameters: dict[Identifier, JsonScalar] = {}
    """Options of ``benchwright fixture`` (``input_name: "input_tensor:0"`` is ``--input-name input_tensor:0``)."""

    dataset_files: dict[Identifier, NonEmptyStr] = {}
    """Options that name a file of the stand-in dataset folder (bert: ``vocab: vocab.txt``)."""

    sha256: Sha256
    """sha256 of the model file made."""


class Fixture(Spec):
    """How a fixture campaign (``fixture: true`` in the campaign's selection) runs this benchmark on stand-ins
    made by ``benchwright fixture``: every result is labelled a fixture run and no bundle can claim to be
    submittable. The scenarios, preprocessing, accuracy script and compliance tests are the benchmark's own."""

    dataset: FixtureDataset
    """Replaces ``dataset.path``, ``manifest`` and ``manifest_sha256``."""

    model: FixtureModel
    """Replaces ``model.weights``."""


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

    fixture: Fixture | None = None
    """The stand-ins a fixture campaign runs this benchmark on (``benchwright fixture``); never submittable."""

    @model_validator(mode="after")
    def _has_a_part(self) -> Benchmark:
        if self.inference is None and self.training is None:
            raise ValueError("a benchmark needs an `inference` part, a `training` part, or both")
        if self.inference and Scenario.Interactive in self.inference.scenarios \
                and self.task is not Task.text_generation:
            raise ValueError("`Interactive` is a scenario of LLMs (LoadGen's Server under the model's time-to-first-"
                             f"token and time-per-output-token limits); remove it from this {self.task.value} benchmark")
        generates = self.model.backend in (Backend.transformers, Backend.endpoint)
        if generates != (self.task is Task.text_generation) and self.model.backend is not Backend.external:
            raise ValueError("`backend: transformers` and `backend: endpoint` generate text: they are the backends of "
                             "`task: text_generation`, and text_generation runs on them (or on an external harness)")
        if self.model.weights.recipe == "reference-training" and self.training is None:
            raise ValueError("`model.weights.recipe: reference-training` needs a `training` section (the recipe)")
        if self.inference and Precision.int8 in self.inference.precisions and self.calibration is None:
            raise ValueError("int8 is listed in inference.precisions but the benchmark has no `calibration` set")
        if self.inference and Precision.int8 in self.inference.precisions and self.calibration is not None \
                and (self.calibration.split, self.calibration.lines) != ("train", "sample_ids"):
            raise ValueError("int8 comes from benchwright's post-training quantization, which calibrates on sample "
                             "ids of the training split (`calibration.split: train`, `lines: sample_ids`); a list of "
                             "validation files is checked but not used to quantize yet: drop int8 from "
                             "inference.precisions")
        if self.calibration is not None and self.calibration.lines == "file_names" and not self.dataset.is_folder:
            raise ValueError("`calibration.lines: file_names` names files of a dataset folder: give the dataset as a "
                             "folder (`path`, `manifest`, `manifest_sha256`)")
        if self.inference and Precision.int8 in self.inference.precisions \
                and self.model.format is not ModelFormat.state_dict:
            raise ValueError(f"int8 comes from benchwright's post-training quantization of a registered architecture "
                             f"(`format: state_dict`); a {self.model.format.value} model cannot be quantized here: "
                             "drop int8 from inference.precisions")
        if self.fixture is not None and not self.dataset.is_folder:
            raise ValueError("`fixture` replaces a dataset folder: give the dataset as a folder (`path`, `manifest`, "
                             "`manifest_sha256`)")
        if self.training is not None and self.training.implementation is None \
                and self.model.format is not ModelFormat.state_dict:
            raise ValueError("training trains a registered architecture: a `training` part needs "
                             "`model.format: state_dict`")
        return self


__all__ = [
    "BACKEND_FORMATS", "LM_DEFAULTS", "LM_HYPERPARAMETERS", "Accuracy", "Endpoint", "Backend", "ExternalHarness", "ExternalTraining", "Benchmark", "ModelFormat", "Calibration", "Dataset", "DatasetFile", "Inference", "Model",
    "Fixture", "FixtureDataset", "FixtureModel", "Preprocessing", "ScenarioSpec", "Task", "Training", "Weights",
]
