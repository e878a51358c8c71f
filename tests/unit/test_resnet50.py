"""The official resnet50 benchmark on the user's own data and model: the reference's preprocessing bit for bit, the
1001-class model's label offset, the shipped benchmark file, and `benchwright dataset check`.

The reference facts (MLCommons inference, vision/classification_and_detection/python/): imagenet.py reads
val_map.txt in order (``re.split(r"\\s+", line.strip())`` -> name, int(label)) and decodes each image with
cv2.imread; dataset.py's pre_process_vgg converts BGR -> RGB, resize_with_aspectratio (scale 87.5, INTER_AREA),
center_crop, float32, subtracts [123.68, 116.78, 103.94] and transposes to CHW for NCHW backends; main.py
post-processes the imagenet dataset with PostProcessCommon(offset=-1).
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchwright.cli import main
from benchwright.data.folder import write_manifest
from benchwright.data.preprocess import PreprocessError, load_split, preprocess
from benchwright.fixtures import imagenet_folder, onnx_classifier
from benchwright.fsutil import sha256_file
from benchwright.tasks import TaskParameterError, get_task
from tests.conftest import REPO


def reference_pre_process_vgg(path: Path) -> np.ndarray:
    """MLCommons' formula, written out here with cv2 calls only (imagenet.py + dataset.py, need_transpose=True)."""
    img = cv2.imread(str(path))
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    out_height = out_width = 224
    height, width, _ = img.shape                      # resize_with_aspectratio(..., scale=87.5, INTER_AREA)
    new_height = int(100. * out_height / 87.5)
    new_width = int(100. * out_width / 87.5)
    if height > width:
        w = new_width
        h = int(new_height * height / width)
    else:
        h = new_height
        w = int(new_width * width / height)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    height, width, _ = img.shape                      # center_crop
    left, right = int((width - out_width) / 2), int((width + out_width) / 2)
    top, bottom = int((height - out_height) / 2), int((height + out_height) / 2)
    img = img[top:bottom, left:right]
    img = np.asarray(img, dtype="float32")
    img -= np.array([123.68, 116.78, 103.94], dtype=np.float32)
    return img.transpose([2, 0, 1])


def run(name, version, params, folder, out):
    """The preprocessing step of a folder dataset (the folder is recorded by its manifest's hash)."""
    return preprocess(name, version, params, [folder], out, input_hashes={"dataset.manifest": "0" * 64})


def reference_val_map(folder: Path) -> list[tuple[str, int]]:
    out = []
    for line in (folder / "val_map.txt").read_text().splitlines():
        name, label = re.split(r"\s+", line.strip())
        out.append((name, int(label)))
    return out


@pytest.fixture
def val_folder(tmp_path):
    """Nine fixture JPEGs of odd sizes (landscape and portrait), plus a grey-scale one: cv2.imread makes it BGR."""
    from PIL import Image

    folder = tmp_path / "imagenet" / "val"
    imagenet_folder(folder, count=9, classes=1000, size=(301, 257), seed=4)
    grey = np.random.default_rng(0).integers(0, 256, size=(283, 397), dtype=np.uint8)
    Image.fromarray(grey, mode="L").save(folder / "ILSVRC2012_val_00000010.JPEG", quality=90)
    with open(folder / "val_map.txt", "a") as handle:
        handle.write("ILSVRC2012_val_00000010.JPEG 999\n")
    return folder


# --- preprocessing -------------------------------------------------------------------------------------------------

def test_imagenet_preprocessing_equals_the_reference_formula_bit_for_bit(val_folder, tmp_path):
    manifest = run("imagenet", 2, {}, val_folder, tmp_path / "data")
    x, y, ids = load_split(tmp_path / "data", "val")
    entries = reference_val_map(val_folder)
    assert x.shape == (10, 3, 224, 224) and x.dtype == np.float32
    assert y.tolist() == [label for _, label in entries] and ids.tolist() == list(range(10))
    shapes = set()
    for row, (name, _) in enumerate(entries):
        expected = reference_pre_process_vgg(val_folder / name)
        assert x[row].tobytes() == np.ascontiguousarray(expected).tobytes(), name
        shapes.add(cv2.imread(str(val_folder / name)).shape[:2])
    assert any(h > w for h, w in shapes) and any(w > h for h, w in shapes)  # both branches of the resize
    assert manifest["preprocessor"] == {"name": "imagenet", "version": 2, "parameters": {
        "image_size": 224, "scale": 87.5, "count": 0, "mean": "123.68 116.78 103.94"}}


def test_count_takes_the_first_lines_of_val_map(val_folder, tmp_path):
    run("imagenet", 2, {"count": 3}, val_folder, tmp_path / "data")
    x, y, _ = load_split(tmp_path / "data", "val")
    first = reference_val_map(val_folder)[:3]
    assert y.tolist() == [label for _, label in first]
    assert x[2].tobytes() == np.ascontiguousarray(reference_pre_process_vgg(val_folder / first[2][0])).tobytes()


def test_version_1_of_the_imagenet_preprocessing_is_refused(val_folder, tmp_path):
    with pytest.raises(PreprocessError, match="at version 2"):
        run("imagenet", 1, {}, val_folder, tmp_path / "data")


def test_a_missing_image_is_an_error_naming_it(val_folder, tmp_path):
    (val_folder / "ILSVRC2012_val_00000004.JPEG").unlink()
    with pytest.raises(PreprocessError, match=r"1 image\(s\) named in val_map.txt are missing: "
                                              r"ILSVRC2012_val_00000004.JPEG; fix: restore"):
        run("imagenet", 2, {}, val_folder, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_a_missing_val_map_is_an_error_with_the_fix(val_folder, tmp_path):
    (val_folder / "val_map.txt").unlink()
    with pytest.raises(PreprocessError, match="val_map.txt is missing.*fix: put val_map.txt into"):
        run("imagenet", 2, {}, val_folder, tmp_path / "data")


def test_an_undecodable_image_is_an_error(val_folder, tmp_path):
    (val_folder / "ILSVRC2012_val_00000002.JPEG").write_bytes(b"not a jpeg")
    with pytest.raises(PreprocessError, match="ILSVRC2012_val_00000002.JPEG: OpenCV cannot decode"):
        run("imagenet", 2, {}, val_folder, tmp_path / "data")


# --- the label offset of the 1001-class model ---------------------------------------------------------------------

def test_class_offset_maps_the_official_models_classes_to_val_map_labels():
    official = get_task("image_classification", {"class_offset": -1})
    argmax = np.array([1, 1000, 66], dtype=np.int64)            # ArgMax:0 of resnet50_v1.onnx: 1..1000
    assert official.respond([argmax]).tolist() == [0, 999, 65]
    scores = np.zeros((2, 1001), dtype=np.float32)              # softmax_tensor:0: 1001 columns, 0 = background
    scores[0, 1], scores[1, 1000] = 1, 1
    assert official.respond([scores]).tolist() == [0, 999]
    assert official.respond([argmax]).dtype == np.dtype("<i4")
    assert get_task("image_classification").respond([argmax]).tolist() == [1, 1000, 66]  # the default: 0


def test_undeclared_or_mistyped_task_parameters_are_refused():
    with pytest.raises(TaskParameterError, match="no parameter `offset` .*class_offset"):
        get_task("image_classification", {"offset": -1})
    with pytest.raises(TaskParameterError, match="takes a int"):
        get_task("image_classification", {"class_offset": "-1"})


# --- the shipped benchmark file ------------------------------------------------------------------------------------

def test_the_shipped_resnet50_benchmark():
    from benchwright.config import load_benchmark_file

    bench = load_benchmark_file(REPO / "config/benchmarks/resnet50.yaml")
    assert bench.inference.mlperf_benchmark == "resnet" and bench.inference.loadgen_model == "resnet50"
    assert bench.task.value == "image_classification" and bench.model.backend.value == "onnxruntime"
    assert bench.model.inputs == {"x": "input_tensor:0"} and bench.model.outputs == {"logits": "ArgMax:0"}
    assert bench.model.task_parameters == {"class_offset": -1}
    assert bench.dataset.path == "${BENCHWRIGHT_DATA}/imagenet/val" and bench.model.weights.path
    assert (bench.preprocessing.name, bench.preprocessing.version) == ("imagenet", 2)
    assert (bench.accuracy.reference, bench.accuracy.target_fraction) == (76.46, 0.99)
    assert bench.inference.performance_sample_count == 1024
    cal = REPO / "config/benchmarks" / bench.calibration.sample_list
    names = cal.read_text().splitlines()
    assert sha256_file(cal) == bench.calibration.sha256 and len(names) == len(set(names)) == 500
    assert all(re.fullmatch(r"ILSVRC2012_val_\d{8}\.JPEG", n) for n in names)
    assert (bench.calibration.split, bench.calibration.lines) == ("val", "file_names")


def _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch, *, count=8):
    """resnet50.yaml pointed at fixture data: an ImageNet-style folder, its manifest pinned, a stand-in model with
    the official names (1001 classes) pinned."""
    monkeypatch.setenv("BENCHWRIGHT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCHWRIGHT_MODELS", str(tmp_path / "models"))
    folder = tmp_path / "data/imagenet/val"
    imagenet_folder(folder, count=count, classes=1000)
    model = onnx_classifier(tmp_path / "models/resnet50_v1.onnx", input_name="input_tensor:0",
                            output_name="ArgMax:0", classes=1001)
    digest = write_manifest(folder, tmp_path / "config/benchmarks/resnet50.manifest")

    def pin(d):
        d["dataset"]["manifest_sha256"] = digest
        d["model"]["weights"]["sha256"] = model.sha256
    config_tree.edit("benchmarks", "resnet50", pin)
    return folder


def test_resnet50_runs_in_the_closed_division(config_tree, tmp_path, monkeypatch):
    _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch)
    config_tree.campaign.update(division="closed", benchmarks={"resnet50": {
        "systems": ["cpu-host"], "scenarios": ["SingleStream", "MultiStream", "Offline"]}})
    plan = config_tree.load()
    spec = plan.model_spec("resnet50", "cpu-host")
    assert spec.task_parameters == {"class_offset": -1} and spec.inputs == {"x": "input_tensor:0"}


def test_a_closed_submission_of_resnet50_needs_the_rules_required_scenarios(config_tree, tmp_path, monkeypatch):
    from tests.unit.test_config import rejected

    _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch)
    config_tree.campaign.update(division="closed", mode="submission", benchmarks={"resnet50": {
        "systems": ["cpu-host"], "scenarios": ["Offline"]}})
    rejected(config_tree, file="config/config.yaml", field="benchmarks.resnet50.scenarios",
             message="must cover MultiStream, SingleStream too", fix="add MultiStream, SingleStream")


def test_an_unknown_task_parameter_in_a_benchmark_is_rejected(config_tree, tmp_path, monkeypatch):
    from tests.unit.test_config import rejected

    _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch)
    config_tree.edit("benchmarks", "resnet50", lambda d: d["model"].update(task_parameters={"label_offset": -1}))
    config_tree.campaign.update(benchmarks={"resnet50": {"systems": ["cpu-host"], "scenarios": ["Offline"]}})
    rejected(config_tree, file="config/benchmarks/resnet50.yaml", field="model.task_parameters.label_offset",
             message="has no parameter `label_offset`", fix="class_offset (default 0)")


def test_int8_with_a_list_of_validation_file_names_is_refused():
    import yaml
    from pydantic import ValidationError

    from benchwright.schemas import Benchmark

    data = yaml.safe_load((REPO / "config/benchmarks/resnet50.yaml").read_text())
    data["model"] = {"architecture": "digits-resnet", "weights": {"path": "/m.pt", "sha256": "1" * 64}}
    data["inference"]["precisions"] = ["fp32", "int8"]
    with pytest.raises(ValidationError, match="calibrates on sample ids of the training split"):
        Benchmark.model_validate(data)


# --- benchwright dataset check -------------------------------------------------------------------------------------

def _check(capsys) -> tuple[int, str]:
    code = main(["dataset", "check", "resnet50"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_dataset_check_passes_when_everything_is_in_place(config_tree, tmp_path, monkeypatch, capsys):
    folder = _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch)
    config_tree.load()  # writes config/config.yaml (resnet50 is not selected: the check reads its file)
    for name in (REPO / "config/benchmarks/resnet50.calibration.txt").read_text().split():  # the 500 images
        (folder / name).write_bytes((folder / "ILSVRC2012_val_00000001.JPEG").read_bytes())
    digest = write_manifest(folder, tmp_path / "config/benchmarks/resnet50.manifest")
    config_tree.edit("benchmarks", "resnet50", lambda d: d["dataset"].update(manifest_sha256=digest))
    code, text = _check(capsys)
    assert code == 0, text
    assert "everything is in place" in text and "the 9 file(s) the `imagenet` preprocessing reads" in text
    assert f"dataset.manifest_sha256: {digest}" in text


def test_dataset_check_names_missing_images_with_file_field_and_fix(config_tree, tmp_path, monkeypatch, capsys):
    folder = _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch)
    config_tree.load()
    (folder / "ILSVRC2012_val_00000003.JPEG").unlink()
    (folder / "ILSVRC2012_val_00000005.JPEG").unlink()
    code, text = _check(capsys)
    assert code == 1
    assert "data/imagenet/val: dataset.path" in text
    assert ("2 file(s) the manifest lists are missing from the folder: ILSVRC2012_val_00000003.JPEG, "
            "ILSVRC2012_val_00000005.JPEG") in text
    assert "2 of the 9 file(s) the `imagenet` preprocessing reads are missing" in text
    assert "fix:     restore them from the original dataset" in text
    assert "calibration.sample_list" in text and "500 of the 500 calibration image(s)" in text
    assert "expected hashes" in text and "calibration.sha256: 7662247d1d9407d6" in text


def test_dataset_check_names_a_missing_val_map(config_tree, tmp_path, monkeypatch, capsys):
    folder = _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch)
    config_tree.load()
    (folder / "val_map.txt").unlink()
    code, text = _check(capsys)
    assert code == 1
    assert "data/imagenet/val: dataset.path" in text and "val_map.txt is missing" in text
    assert "fix:     put val_map.txt into" in text
    assert "1 file(s) the manifest lists are missing from the folder: val_map.txt" in text


def test_dataset_check_says_where_everything_is_expected_before_anything_is_there(config_tree, tmp_path,
                                                                                   monkeypatch, capsys):
    monkeypatch.setenv("BENCHWRIGHT_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("BENCHWRIGHT_MODELS", str(tmp_path / "nothing"))
    config_tree.load()
    code, text = _check(capsys)
    assert code == 1
    assert "nothing/imagenet/val: dataset.path" in text and "the dataset folder does not exist" in text
    assert "config/benchmarks/resnet50.manifest: dataset.manifest" in text
    assert "benchwright dataset manifest nothing/imagenet/val --out config/benchmarks/resnet50.manifest" in text
    assert "nothing/resnet50_v1.onnx: model.weights.path" in text
    assert "a placeholder: pin your own file's hash" in text


def test_dataset_check_names_an_unset_variable(config_tree, monkeypatch, capsys):
    monkeypatch.delenv("BENCHWRIGHT_DATA", raising=False)
    monkeypatch.setenv("BENCHWRIGHT_MODELS", "/nonexistent")
    config_tree.load()
    code, text = _check(capsys)
    assert code == 1 and "uses ${BENCHWRIGHT_DATA}, which is not set" in text
    assert "export BENCHWRIGHT_DATA=" in text


def test_dataset_check_of_an_unknown_benchmark(config_tree, capsys):
    config_tree.load()
    with pytest.raises(SystemExit, match="no benchmark `resnet` .*known: bert-99, bert-99.9, digits-cnn, llama3.1-8b, pydoc-lm, resnet50"):
        main(["dataset", "check", "resnet"])


def test_a_model_left_at_the_placeholder_hash_is_rejected(config_tree, tmp_path, monkeypatch):
    from tests.unit.test_config import rejected

    _resnet50_on_fixtures(config_tree, tmp_path, monkeypatch)
    config_tree.edit("benchmarks", "resnet50", lambda d: d["model"]["weights"].update(sha256="0" * 64))
    config_tree.campaign.update(benchmarks={"resnet50": {"systems": ["cpu-host"], "scenarios": ["Offline"]}})
    rejected(config_tree, file="config/benchmarks/resnet50.yaml", field="model.weights.sha256",
             message="64-zero placeholder", fix="benchwright dataset check resnet50")
