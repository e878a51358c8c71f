"""Fixture campaigns: a benchmark's `fixture` section, `fixture: true` in a campaign's selection, `null` to leave a
benchmark out of a merged config, and the label every result, bundle and record carries."""

from __future__ import annotations

import json

import pytest
import yaml

from benchwright import paths
from benchwright.fixtures import command_args, imagenet_folder, onnx_classifier, squad_dev, bert_model
from benchwright.fsutil import sha256_file
from benchwright.data.folder import write_manifest
from tests.conftest import REPO

FIXTURE_CAMPAIGNS = {"resnet50": "config/campaigns/resnet50-fixture.yaml",
                     "bert-99": "config/campaigns/bert-99-fixture.yaml"}


def _merged(config_tree, campaign_file: str) -> dict:
    """config/config.yaml with a campaign file merged on top, as Snakemake merges --configfile (recursively)."""
    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    return merge(config_tree.campaign, yaml.safe_load((REPO / campaign_file).read_text()))


@pytest.mark.parametrize("benchmark", sorted(FIXTURE_CAMPAIGNS))
def test_a_fixture_campaign_runs_only_its_benchmark_on_the_stand_ins(config_tree, benchmark):
    config_tree.campaign = _merged(config_tree, FIXTURE_CAMPAIGNS[benchmark])
    plan = config_tree.load()  # no data, no model on disk: the DAG makes them
    assert list(plan.benchmarks) == [benchmark]  # `digits-cnn: null` left the default benchmark out
    bench = plan.benchmarks[benchmark]
    shipped = yaml.safe_load((REPO / f"config/benchmarks/{benchmark}.yaml").read_text())["fixture"]
    assert bench.dataset.path == paths.fixture_dataset(benchmark)
    assert bench.dataset.manifest == shipped["dataset"]["manifest"]
    assert bench.dataset.manifest_sha256 == shipped["dataset"]["manifest_sha256"]
    assert bench.model.weights.path == paths.fixture_model(benchmark, "onnx")
    assert bench.model.weights.sha256 == shipped["model"]["sha256"]
    assert "not real data" in bench.dataset.description
    spec = plan.run_spec(benchmark, "cpu-host", "Offline", "fp32", "performance")
    assert spec.fixture is True
    assert plan.campaign.division.value == "closed" and plan.campaign.fixture


def test_the_default_campaign_is_not_a_fixture(config_tree):
    plan = config_tree.load()
    assert not plan.campaign.fixture
    assert plan.run_spec("digits-cnn", "cpu-host", "Offline", "fp32", "performance").fixture is False


def test_a_bundle_of_a_fixture_campaign_never_claims_to_be_submittable(config_tree):
    from benchwright.submission.spec import bundle_spec

    config_tree.campaign = _merged(config_tree, FIXTURE_CAMPAIGNS["resnet50"])
    config_tree.campaign["mode"] = "submission"
    config_tree.campaign["benchmarks"]["resnet50"]["scenarios"] = ["SingleStream", "MultiStream", "Offline"]
    plan = config_tree.load()
    spec = bundle_spec(plan, ["config/config.yaml"])
    assert spec.fixture and not spec.submittable
    assert all(e.fixture for e in spec.inference)
    assert "config/benchmarks/resnet50.fixture.manifest" in spec.config_files


def test_fixture_true_on_a_benchmark_without_stand_ins_is_an_error_naming_the_field(config_tree):
    from tests.unit.test_config import rejected

    config_tree.campaign["benchmarks"]["digits-cnn"]["fixture"] = True
    rejected(config_tree, file="config/config.yaml", field="benchmarks.digits-cnn.fixture",
             message="has no `fixture` section", fix="remove `fixture: true`")


def test_leaving_out_every_benchmark_is_an_error(config_tree):
    from tests.unit.test_config import rejected

    config_tree.campaign["benchmarks"] = {"digits-cnn": None}
    rejected(config_tree, file="config/config.yaml", field="benchmarks", message="every benchmark is left out",
             fix="``null`` leaves out a benchmark")


def test_a_fixture_section_needs_a_folder_dataset():
    from pydantic import ValidationError

    from benchwright.schemas import Benchmark

    data = yaml.safe_load((REPO / "config/benchmarks/digits-cnn.yaml").read_text())
    resnet = yaml.safe_load((REPO / "config/benchmarks/resnet50.yaml").read_text())
    data["fixture"] = resnet["fixture"]
    with pytest.raises(ValidationError, match="`fixture` replaces a dataset folder"):
        Benchmark.model_validate(data)


def test_command_args_spell_the_fixture_cli_options():
    assert command_args({"input_name": "input_tensor:0", "classes": 1001, "overwrite": True, "quiet": False}) == [
        "--input-name", "input_tensor:0", "--classes", "1001", "--overwrite"]
    assert command_args({"layers": 2}, {"vocab": "vocab.txt"}, "resources/fixtures/bert-99/dataset") == [
        "--layers", "2", "--vocab", "resources/fixtures/bert-99/dataset/vocab.txt"]


def test_the_pinned_stand_ins_are_what_benchwright_fixture_makes(tmp_path):
    """The hashes in the benchmark files are those of the files the DAG's fixture rules make (byte-identical for
    the same parameters), so a fixture campaign verifies them like a user's files."""
    resnet = yaml.safe_load((REPO / "config/benchmarks/resnet50.yaml").read_text())["fixture"]
    bert = yaml.safe_load((REPO / "config/benchmarks/bert-99.yaml").read_text())["fixture"]
    bert_99_9 = yaml.safe_load((REPO / "config/benchmarks/bert-99.9.yaml").read_text())["fixture"]
    assert bert == bert_99_9
    images = tmp_path / "images"
    imagenet_folder(images, **resnet["dataset"]["parameters"])
    assert write_manifest(images, tmp_path / "images.manifest") == resnet["dataset"]["manifest_sha256"]
    assert (tmp_path / "images.manifest").read_bytes() == \
        (REPO / "config/benchmarks" / resnet["dataset"]["manifest"]).read_bytes()
    p = resnet["model"]["parameters"]
    info = onnx_classifier(tmp_path / "resnet.onnx", input_name=p["input_name"], output_name=p["output_name"],
                           classes=p["classes"], input_shape=(3, p["image_size"], p["image_size"]))
    assert info.sha256 == resnet["model"]["sha256"] == sha256_file(tmp_path / "resnet.onnx")
    squad = tmp_path / "squad"
    squad_dev(squad, **bert["dataset"]["parameters"])
    assert write_manifest(squad, tmp_path / "squad.manifest") == bert["dataset"]["manifest_sha256"]
    info = bert_model(tmp_path / "bert.onnx", vocab=squad / bert["model"]["dataset_files"]["vocab"],
                      **bert["model"]["parameters"])
    assert info.sha256 == bert["model"]["sha256"]


def test_an_accuracy_check_of_a_fixture_run_records_a_miss_instead_of_stopping(tmp_path, capsys):
    """A random-weight stand-in cannot reach the benchmark's target: with --fixture accuracy.txt is written and the
    record says so; without it the same run stops the check with nothing written."""
    from benchwright.cli import main

    run, data = tmp_path / "run", tmp_path / "data"
    run.mkdir()
    data.mkdir()
    import numpy as np

    np.save(data / "val_y.npy", np.array([0, 1, 2, 3], dtype=np.int64))
    np.save(data / "val_x.npy", np.zeros((4, 1), dtype=np.float32))
    np.save(data / "val_ids.npy", np.arange(4, dtype=np.int64))
    classes = [0, 0, 0, 0]  # 1 of 4 right
    log = [{"qsl_idx": i, "seq_id": i, "data": np.array([c], dtype="<i4").tobytes().hex().upper()}
           for i, c in enumerate(classes)]
    (run / "mlperf_log_accuracy.json").write_text(json.dumps(log))
    args = ["accuracy", "--run", str(run), "--data", str(data), "--benchmark", "resnet50", "--reference", "76.46",
            "--target-fraction", "0.99"]
    assert main([*args, "--out", str(tmp_path / "real.txt")]) != 0
    assert "is below the target 75.695%" in capsys.readouterr().err
    assert not (tmp_path / "real.txt").exists()
    assert main([*args, "--out", str(tmp_path / "fixture.txt"), "--fixture"]) == 0
    assert (tmp_path / "fixture.txt").read_text().startswith("accuracy=25.000%")
    record = json.loads((tmp_path / "fixture.json").read_text())
    assert record["fixture"] is True and record["values"]["accuracy"] == 25.0
    assert "fixture run" in capsys.readouterr().err
