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


# --- the JSON between the model steps (benchwright.models.records) -----------------------------------------

RECORDED_EVIDENCE = REPO / "tests/data/recorded/evidence"


def _reference_spec(bench, **change):
    """The spec workflow/rules/common.smk passes to `benchwright train-reference` (reference_spec)."""
    return {"architecture": bench.model.architecture, "parameters": bench.model.parameters,
            "optimizer": bench.training.optimizer, "hyperparameters": bench.training.hyperparameters,
            "epochs": bench.training.max_epochs, "seed": 0, "declared_accuracy": bench.accuracy.reference, **change}


def _quantize_spec(bench, **change):
    """The spec workflow/rules/common.smk passes to `benchwright quantize` (quantize_spec)."""
    return {"architecture": bench.model.architecture, "parameters": bench.model.parameters,
            "calibration_sha256": bench.calibration.sha256, **change}


@pytest.fixture(scope="module")
def digits_cnn():
    from benchwright.config import load_plan_file

    return load_plan_file(REPO / "config/config.yaml", root=REPO).benchmarks["digits-cnn"]


def test_the_step_specs_round_trip_as_the_rules_write_them(digits_cnn):
    import json

    from benchwright.models.records import QuantizeSpec, ReferenceSpec

    for model, spec in ((ReferenceSpec, _reference_spec(digits_cnn)), (QuantizeSpec, _quantize_spec(digits_cnn))):
        parsed = model.model_validate_json(json.dumps(spec, sort_keys=True))
        assert parsed.model_dump(mode="json") == spec
        assert model.model_validate_json(parsed.model_dump_json()) == parsed
    assert ReferenceSpec.model_validate(_reference_spec(digits_cnn, declared_accuracy=None)).declared_accuracy is None


@pytest.mark.parametrize(("model", "change", "field"), [
    ("ReferenceSpec", {"epochs": 0}, "epochs"),
    ("ReferenceSpec", {"seed": -1}, "seed"),
    ("ReferenceSpec", {"architecture": "Digits ResNet"}, "architecture"),
    ("ReferenceSpec", {"epoch": 3}, "epoch"),  # a misspelled key is an error, not ignored
    ("QuantizeSpec", {"calibration_sha256": "abc"}, "calibration_sha256"),
    ("QuantizeSpec", {"parameters": {"width": [32]}}, "parameters.width"),
])
def test_a_bad_step_spec_names_the_field(digits_cnn, model, change, field):
    import json

    from pydantic import ValidationError

    from benchwright.models import records

    cls = getattr(records, model)
    spec = (_reference_spec if model == "ReferenceSpec" else _quantize_spec)(digits_cnn, **change)
    with pytest.raises(ValidationError) as err:
        cls.model_validate_json(json.dumps(spec))
    locs = [".".join(map(str, e["loc"])) for e in err.value.errors()]  # a union adds its branch: width.str, ...
    assert cls.__name__ in str(err.value) and all(loc == field or loc.startswith(f"{field}.") for loc in locs)


def test_a_step_spec_missing_a_key_names_it(digits_cnn):
    from pydantic import ValidationError

    from benchwright.models.records import QuantizeSpec

    spec = _quantize_spec(digits_cnn)
    del spec["calibration_sha256"]
    with pytest.raises(ValidationError, match=r"calibration_sha256\n  Field required"):
        QuantizeSpec.model_validate(spec)


def test_the_cli_validates_the_spec_before_any_work(tmp_path, digits_cnn, capsys):
    import json

    from benchwright.cli import main

    spec = json.dumps(_quantize_spec(digits_cnn, calibration_sha256="0"))
    rc = main(["quantize", "--spec", spec, "--weights", str(tmp_path), "--data", str(tmp_path),
               "--calibration-list", str(tmp_path / "ids.txt"), "--out", str(tmp_path / "int8")])
    err = capsys.readouterr().err
    assert rc == 2 and "not a valid QuantizeSpec" in err and "  - calibration_sha256: " in err
    assert not (tmp_path / "int8").exists()


@pytest.mark.parametrize("name", ["fp32-record.json", "smoke-int8-offline/calibration.json",
                                  "submission-int8-offline/calibration.json"])
def test_recorded_model_records_validate_and_rewrite_to_the_same_bytes(tmp_path, name):
    """The records on disk keep their keys and bytes: provenance records pin calibration.json's sha256, and
    provenance.py and submission/verify.py read weights_sha256, fp32_weights_sha256, model_sha256, ..."""
    from benchwright.models.records import CalibrationRecord, ReferenceRecord, write_record

    cls = ReferenceRecord if name == "fp32-record.json" else CalibrationRecord
    record = cls.read(RECORDED_EVIDENCE / name)
    write_record(tmp_path / "record.json", record)
    assert (tmp_path / "record.json").read_bytes() == (RECORDED_EVIDENCE / name).read_bytes()
    assert cls.read(tmp_path / "record.json") == record


def test_the_steps_write_the_records_their_models_describe(default_models):
    from benchwright.fsutil import canonical_json
    from benchwright.models.records import CalibrationRecord, ReferenceRecord

    for cls, path, returned in ((ReferenceRecord, default_models["fp32"] / "record.json", "reference"),
                                (CalibrationRecord, default_models["int8"] / "calibration.json", "calibration")):
        record = cls.read(path)
        assert record.model_dump(mode="json") == default_models[returned]
        assert path.read_text() == canonical_json(default_models[returned])
    cal = CalibrationRecord.read(default_models["int8"] / "calibration.json")
    assert cal.fp32_weights_sha256 == ReferenceRecord.read(default_models["fp32"] / "record.json").weights_sha256


def test_a_bad_record_names_the_key(tmp_path):
    import json

    from pydantic import ValidationError

    from benchwright.models.records import CalibrationRecord

    data = json.loads((RECORDED_EVIDENCE / "smoke-int8-offline/calibration.json").read_text())
    data["model_sha256"] = "not a hash"
    data["observer_ranges"]["x"] = {"min": 0.0}
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    with pytest.raises(ValidationError) as err:
        CalibrationRecord.read(tmp_path / "calibration.json")
    assert {".".join(map(str, e["loc"])) for e in err.value.errors()} == {"model_sha256", "observer_ranges.x.max"}


def test_observer_ranges_keep_infinities_as_json_dumps_writes_them(tmp_path):
    from benchwright.models.records import ObserverRange

    inf = ObserverRange(min=float("-inf"), max=1.5)
    assert inf.model_dump(mode="json") == {"min": float("-inf"), "max": 1.5}
    assert ObserverRange.model_validate_json(inf.model_dump_json()) == inf
