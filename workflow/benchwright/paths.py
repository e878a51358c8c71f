"""Where every artifact of a campaign lives, written once: the rules use the patterns (with ``{wildcards}``), the
package the functions, so a rule's output and the code that reads it cannot drift apart."""

from __future__ import annotations

from .schemas.benchmark import ModelFormat

DATASET_FILE = "resources/datasets/{dataset}/{file}"
DATASET_VERIFIED = "resources/datasets/{dataset}/verified.json"
"""The record of a folder dataset verified against its manifest (its cache of sizes and mtimes lies beside it)."""
QUARANTINE = "resources/quarantine/{dataset}"
DATA = "results/data/{benchmark}"
DETECTED = "results/systems/{system}/detected.json"
IMAGE_RECORD = "results/images/{image}.json"
MODEL_DIR = "results/models/{benchmark}/{variant}"
"""``variant``: fp32 (the reference model every non-int8 precision loads) or int8 (the quantized model)."""
FP32_RECORD = "results/models/{benchmark}/fp32/record.json"
INT8_MODEL = "results/models/{benchmark}/int8/model.pt"
INT8_RECORD = "results/models/{benchmark}/int8/calibration.json"
RANGING = "results/ranging/{system}/{benchmark}/{precision}/{scenario}.json"
INFERENCE_DIR = "results/inference/{system}/{benchmark}/{precision}/{scenario}"
INFERENCE_RUN = INFERENCE_DIR + "/{mode}"
ACCURACY_TXT = INFERENCE_DIR + "/accuracy.txt"
TRAINING_DIR = "results/training/{system}/{benchmark}"
TRAINING_RUN = TRAINING_DIR + "/run_{index}"
TRAINING_SCORE = TRAINING_DIR + "/score.json"

MODEL_FILES = {ModelFormat.state_dict: "weights.pt", ModelFormat.torchscript: "model.pt",
               ModelFormat.torch_export: "model.pt2", ModelFormat.onnx: "model.onnx"}
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


def ranging_file(system: str, benchmark: str, precision: str, scenario: str) -> str:
    return RANGING.format(system=system, benchmark=benchmark, precision=str(getattr(precision, "value", precision)),
                          scenario=str(getattr(scenario, "value", scenario)))


def training_run(system: str, benchmark: str, index: int) -> str:
    return TRAINING_RUN.format(system=system, benchmark=benchmark, index=index)


def training_score(system: str, benchmark: str) -> str:
    return TRAINING_SCORE.format(system=system, benchmark=benchmark)


def data_dir(benchmark: str) -> str:
    return DATA.format(benchmark=benchmark)
