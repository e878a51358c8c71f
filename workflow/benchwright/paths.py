"""Where every artifact of a campaign lives, written once: the rules use the patterns (with ``{wildcards}``), the
package the functions, so a rule's output and the code that reads it cannot drift apart."""

from __future__ import annotations

from .schemas.benchmark import ModelFormat

SNAKEMAKE_MARK = ".snakemake_timestamp"
"""Snakemake's mark in a directory output: never part of the data or of a bundle."""

DATASET_DIR = "resources/datasets/{dataset}"
DATASET_FILE = DATASET_DIR + "/{file}"
DATASET_UNPACKED = DATASET_FILE + ".unpacked"
"""An archive's extracted folder."""
DATASET_VERIFIED = DATASET_DIR + "/verified.json"
"""The record of a folder dataset verified against its manifest (its cache of sizes and mtimes lies beside it)."""
DATASET_VERIFY_CACHE = DATASET_DIR + "/verify-cache.json"
"""Sizes and mtimes of a folder dataset's files when last verified (only changed files are hashed again)."""
QUARANTINE = "resources/quarantine/{dataset}"
WEIGHTS_QUARANTINE = "resources/quarantine/weights"
"""Where fetched weights with the wrong sha256 are moved."""
FIXTURE_DIR = "resources/fixtures/{benchmark}"
"""A fixture campaign's stand-ins (``benchwright fixture``), made inside the DAG."""
FIXTURE_DATASET = FIXTURE_DIR + "/dataset"
FIXTURE_MODEL = FIXTURE_DIR + "/model/{modelfile}"

DATA = "results/data/{benchmark}"
DATA_MANIFEST = DATA + "/manifest.json"
"""The preprocessing manifest: the dataset's and the preprocessed arrays' sha256."""
DETECTED = "results/systems/{system}/detected.json"
IMAGE_RECORD = "results/images/{image}.json"
MODEL_DIR = "results/models/{benchmark}/{variant}"
"""``variant``: fp32 (the reference model every non-int8 precision loads) or int8 (the quantized model)."""
FP32_DIR = "results/models/{benchmark}/fp32"
FP32_WEIGHTS = FP32_DIR + "/weights.pt"
"""The trained FP32 weights (a state_dict)."""
FP32_MODEL = FP32_DIR + "/{modelfile}"
"""A fetched FP32 model, by its format's file name (MODEL_FILES)."""
LM_WEIGHTS = FP32_DIR + "/model.safetensors"
"""The weights of a trained language model (``recipe: causal-lm``), in its transformers folder."""
FP32_RECORD = FP32_DIR + "/record.json"
INT8_DIR = "results/models/{benchmark}/int8"
INT8_MODEL = INT8_DIR + "/model.pt"
INT8_RECORD = INT8_DIR + "/calibration.json"
RANGING = "results/ranging/{system}/{benchmark}/{precision}/{scenario}.json"
INFERENCE_DIR = "results/inference/{system}/{benchmark}/{precision}/{scenario}"
INFERENCE_RUN = INFERENCE_DIR + "/{mode}"
"""A LoadGen run folder (``mode``: performance or accuracy): its logs, user.conf and record.json."""
PERFORMANCE_RUN = INFERENCE_DIR + "/performance"
REPEAT_RUN = INFERENCE_DIR + "/repeats/run_{repeat}"
"""A repeated performance run (``repeat`` >= 2; run 1 is ``performance/``, the run a bundle submits)."""
ACCURACY_RUN = INFERENCE_DIR + "/accuracy"
RUN_RECORD = "record.json"
"""The record a LoadGen or training job writes into its run folder (what it ran, where, with what)."""
ACCURACY_TXT = INFERENCE_DIR + "/accuracy.txt"
ACCURACY_RECORD = INFERENCE_DIR + "/accuracy.json"
"""The accuracy check's record beside accuracy.txt: the command it ran and the accuracy it measured."""
COMPLIANCE_TEST = INFERENCE_DIR + "/{test}"
"""A compliance test's evidence folder (``test``: TEST01, TEST04)."""
TRAINING_DIR = "results/training/{system}/{benchmark}"
TRAINING_RUN = TRAINING_DIR + "/run_{index}"
TRAINING_COMPLIANCE = TRAINING_RUN + ".compliance.txt"
TRAINING_SCORE = TRAINING_DIR + "/score.json"
TIMINGS = "results/timings"
"""Snakemake's `benchmark:` files (wall time, memory) of the measured jobs."""
PREPROCESS_TIMING = TIMINGS + "/preprocess/{benchmark}.tsv"
TRAIN_REFERENCE_TIMING = TIMINGS + "/train_reference/{benchmark}.tsv"
QUANTIZE_TIMING = TIMINGS + "/quantize_int8/{benchmark}.tsv"
INFERENCE_TIMING = TIMINGS + "/inference/{system}/{benchmark}/{precision}/{scenario}/{mode}.tsv"
REPEAT_TIMING = TIMINGS + "/inference/{system}/{benchmark}/{precision}/{scenario}/repeat_{repeat}.tsv"
COMPLIANCE_TIMING = TIMINGS + "/inference/{system}/{benchmark}/{precision}/{scenario}/{test}.tsv"
TRAINING_TIMING = TIMINGS + "/training/{system}/{benchmark}/run_{index}.tsv"
SUBMISSION_DIR = "results/submission/{campaign}"
BUNDLE = SUBMISSION_DIR + "/bundle"
BUNDLE_TARBALL = SUBMISSION_DIR + "/{campaign}.tar.gz"
BUNDLE_CHECK = SUBMISSION_DIR + "/check.txt"
BUNDLE_CHECK_JSON = SUBMISSION_DIR + "/check.json"
PUBLISHED = SUBMISSION_DIR + "/published.json"
"""The receipt of the published version."""
PUBLISH_DIR = "submissions/{campaign}"
"""The published versions of a campaign's bundle, v1/, v2/, ... (never overwritten)."""
REPORT_DIR = "results/report"
REPORT_TABLE = REPORT_DIR + "/results.csv"
REPORT_SUMMARY = REPORT_DIR + "/summary.json"
REPORT_STATUS = REPORT_DIR + "/status.csv"
"""The status table: AccuracyMode and PerformanceMode per result as 1/0 (also as status.json)."""
REPORT_STATUS_JSON = REPORT_DIR + "/status.json"
REPORT_SCALING = REPORT_DIR + "/scaling.csv"
"""Throughput scaling and efficiency of each SKU against the SKU it scales (``scales:``), when a campaign runs both."""
REPORT_TIERS = REPORT_DIR + "/tiers.csv"
"""Each SKU's QPS, energy and cost per query within each SLO tier of the campaign (benchwright capacity reads it)."""
REPORT_PAGE = REPORT_DIR + "/{system}.html"
REPORT_PLOTS = REPORT_DIR + "/{system}"
REPORT_INDEX = REPORT_DIR + "/index.html"

MODEL_FILES = {ModelFormat.state_dict: "weights.pt", ModelFormat.torchscript: "model.pt",
               ModelFormat.torch_export: "model.pt2", ModelFormat.onnx: "model.onnx",
               ModelFormat.transformers: "model.safetensors", ModelFormat.tokenizer: "tokenizer.json"}
"""The FP32 model's file name in its folder, by format."""
INT8_FILE = "model.pt"


def model_variant(precision: str) -> str:
    """int8 runs load the quantized model; every other precision loads the FP32 reference model."""
    return "int8" if str(getattr(precision, "value", precision)) == "int8" else "fp32"


def model_dir(benchmark: str, precision: str) -> str:
    return MODEL_DIR.format(benchmark=benchmark, variant=model_variant(precision))


def model_file_name(fmt: ModelFormat | str, precision: str) -> str:
    """The file a run of this precision loads from its model folder."""
    return INT8_FILE if model_variant(precision) == "int8" else MODEL_FILES[ModelFormat(fmt)]


def model_file(benchmark: str, fmt: ModelFormat | str, precision: str) -> str:
    return f"{model_dir(benchmark, precision)}/{model_file_name(fmt, precision)}"


def inference_dir(system: str, benchmark: str, precision: str, scenario: str) -> str:
    """Where one inference configuration's runs live (performance/, accuracy/, accuracy.txt, TEST*/)."""
    return INFERENCE_DIR.format(system=system, benchmark=benchmark, precision=str(getattr(precision, "value", precision)),
                                scenario=str(getattr(scenario, "value", scenario)))


def repeat_run(system: str, benchmark: str, precision: str, scenario: str, repeat: int) -> str:
    return REPEAT_RUN.format(system=system, benchmark=benchmark, precision=str(getattr(precision, "value", precision)),
                             scenario=str(getattr(scenario, "value", scenario)), repeat=repeat)


def ranging_file(system: str, benchmark: str, precision: str, scenario: str) -> str:
    return RANGING.format(system=system, benchmark=benchmark, precision=str(getattr(precision, "value", precision)),
                          scenario=str(getattr(scenario, "value", scenario)))


def training_run(system: str, benchmark: str, index: int) -> str:
    return TRAINING_RUN.format(system=system, benchmark=benchmark, index=index)


def training_score(system: str, benchmark: str) -> str:
    return TRAINING_SCORE.format(system=system, benchmark=benchmark)


def fixture_dataset(benchmark: str) -> str:
    return FIXTURE_DATASET.format(benchmark=benchmark)


def fixture_model(benchmark: str, fmt: ModelFormat | str) -> str:
    return FIXTURE_MODEL.format(benchmark=benchmark, modelfile=MODEL_FILES[ModelFormat(fmt)])


def data_dir(benchmark: str) -> str:
    return DATA.format(benchmark=benchmark)


def dataset_file(dataset: str, file: str) -> str:
    return DATASET_FILE.format(dataset=dataset, file=file)


def dataset_verify_cache(dataset: str) -> str:
    return DATASET_VERIFY_CACHE.format(dataset=dataset)


def data_manifest(benchmark: str) -> str:
    return DATA_MANIFEST.format(benchmark=benchmark)


def detected(system: str) -> str:
    return DETECTED.format(system=system)


def image_record(image: str) -> str:
    return IMAGE_RECORD.format(image=image)


def fp32_record(benchmark: str) -> str:
    return FP32_RECORD.format(benchmark=benchmark)


def int8_record(benchmark: str) -> str:
    return INT8_RECORD.format(benchmark=benchmark)


def inference_run(system: str, benchmark: str, precision: str, scenario: str, mode: str) -> str:
    """A LoadGen run folder: ``mode`` performance or accuracy."""
    return f"{inference_dir(system, benchmark, precision, scenario)}/{mode}"


def run_record(run: str) -> str:
    """The record.json of a LoadGen or training run folder."""
    return f"{run}/{RUN_RECORD}"


def accuracy_txt(system: str, benchmark: str, precision: str, scenario: str) -> str:
    return f"{inference_dir(system, benchmark, precision, scenario)}/accuracy.txt"


def accuracy_record(system: str, benchmark: str, precision: str, scenario: str) -> str:
    return f"{inference_dir(system, benchmark, precision, scenario)}/accuracy.json"


def training_compliance(system: str, benchmark: str, index: int) -> str:
    return TRAINING_COMPLIANCE.format(system=system, benchmark=benchmark, index=index)


def bundle_dir(campaign: str) -> str:
    return BUNDLE.format(campaign=campaign)


def published(campaign: str) -> str:
    return PUBLISHED.format(campaign=campaign)


def report_page(system: str) -> str:
    return REPORT_PAGE.format(system=system)
