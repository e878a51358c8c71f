"""Reference training is deterministic; INT8 keeps at least 99% of FP32 accuracy; calibration is verified."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchwright.models import UnknownArchitecture, build
from benchwright.models.steps import CalibrationError, read_calibration_list
from benchwright.models.train import train
from tests.conftest import REPO

HP = {"global_batch_size": 32, "opt_base_learning_rate": 0.05, "opt_momentum": 0.9}


def _train(data, seed, epochs=3):
    from benchwright.data.preprocess import load_split

    model = build("digits-resnet", {"width": 8, "blocks": 1, "classes": 10}, seed=seed)
    result = train(model, load_split(data, "train")[:2], load_split(data, "val")[:2], optimizer="sgd",
                   hyperparameters=HP, seed=seed, max_epochs=epochs, threads=1)
    return model, result


def test_same_seed_gives_bit_identical_weights(default_models):
    a, ra = _train(default_models["data"], seed=7)
    b, rb = _train(default_models["data"], seed=7)
    c, _ = _train(default_models["data"], seed=8)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert [e.eval_accuracy for e in ra.epochs] == [e.eval_accuracy for e in rb.epochs]
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


def test_reference_record(default_models):
    record = default_models["reference"]
    assert record["measured_accuracy"] > 95.0
    assert len(record["weights_sha256"]) == 64 and record["seed"] == 0


def _accuracy(default_models, precision):
    from benchwright.data.preprocess import load_split

    from benchwright.backends import ModelSpec, load_runner
    from benchwright.paths import model_file_name
    from benchwright.tasks import get_task

    images, labels, _ = load_split(default_models["data"], "val")
    task = get_task("image_classification")
    spec = ModelSpec(task=task.name, architecture="digits-resnet", parameters={"width": 32, "blocks": 2, "classes": 10})
    runner = load_runner(spec, task, default_models[precision] / model_file_name(spec.format, precision), precision,
                         "cpu", example=[images[:1]], intra_threads=1)
    return float((task.respond(runner([images])) == labels).mean())


def test_int8_keeps_99_percent_of_fp32_accuracy(default_models):
    fp32, int8 = _accuracy(default_models, "fp32"), _accuracy(default_models, "int8")
    assert fp32 * 100 == pytest.approx(default_models["reference"]["measured_accuracy"], abs=0.01)
    assert int8 >= 0.99 * fp32, (fp32, int8)


def test_calibration_record(default_models):
    record = default_models["calibration"]
    assert record["samples"] == 100 and record["backend"] in ("x86", "qnnpack")
    assert record["observer_ranges"] and all(r["max"] >= r["min"] for r in record["observer_ranges"].values())


def test_calibration_list_is_verified(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("1\n2\n3\n")
    with pytest.raises(CalibrationError, match="differs from the benchmark's calibration.sha256"):
        read_calibration_list(path, "0" * 64)


def test_unknown_architecture():
    with pytest.raises(UnknownArchitecture, match="known: digits-resnet"):
        build("resnet-9000", {})
    with pytest.raises(UnknownArchitecture, match="does not take these parameters"):
        build("digits-resnet", {"depth": 3})


def test_logits_shape():
    out = build("digits-resnet", {"width": 8, "blocks": 2, "classes": 10})(torch.zeros(4, 1, 8, 8))
    assert out.shape == (4, 10) and np.isfinite(out.detach().numpy()).all()


def test_the_same_weights_quantize_to_the_same_bytes_in_another_process(default_models, tmp_path):
    """TorchScript archives carry a random id and the Python call stack of the trace; benchwright's are made from
    the model alone, so a re-run of the quantization job (a fresh process, as the DAG runs it, from another call
    stack) reproduces the INT8 model's sha256."""
    import json
    import subprocess
    import sys

    from benchwright.fsutil import sha256_file

    bench = default_models["plan"].benchmarks["digits-cnn"]
    spec = {"architecture": bench.model.architecture, "parameters": bench.model.parameters,
            "calibration_sha256": bench.calibration.sha256}
    calls = {"direct": "quantize(*args)\n",
             "nested": "def job(a):\n    return quantize(*a)\nrecord = job(args)\n"}
    hashes = {}
    for name, call in calls.items():
        code = ("import sys, json; from benchwright.models.steps import quantize\n"
                "args = [json.loads(sys.argv[1]), *sys.argv[2:]]\n" + call)
        subprocess.run([sys.executable, "-c", code, json.dumps(spec), str(default_models["fp32"]),
                        str(default_models["data"]), str(REPO / "config/benchmarks" / bench.calibration.sample_list),
                        str(tmp_path / name)], check=True, capture_output=True)
        hashes[name] = sha256_file(tmp_path / name / "model.pt")
        assert json.loads((tmp_path / name / "calibration.json").read_text())["model_sha256"] == hashes[name]
    assert hashes["direct"] == hashes["nested"]
    x = torch.randn(4, 1, 8, 8)
    again = torch.jit.load(str(tmp_path / "direct/model.pt"))
    assert torch.equal(again(x), torch.jit.load(str(default_models["int8"] / "model.pt"))(x))
