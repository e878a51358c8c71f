"""The shipped bert-99 / bert-99.9 benchmark files, the run rules' per-benchmark required scenarios (the v6.x
submission checker's constants.py: required-scenarios-edge bert-99 = SingleStream, Offline; no datacenter bert) and
the one reader of accuracy.txt's two forms (``accuracy=X%`` and SQuAD's JSON line)."""

from __future__ import annotations

import math

import pytest
from benchwright.config import load_benchmark_file
from benchwright.harness.accuracy import accuracy_value, accuracy_values
from benchwright.schemas.base import Scenario
from benchwright.schemas.rules import RunRules

from tests.conftest import REPO


def rules() -> RunRules:
    import yaml

    return RunRules.model_validate(yaml.safe_load((REPO / "workflow/benchwright/runrules/mlperf-6.1.yaml")
                                                  .read_text()))


@pytest.mark.parametrize("name,fraction", [("bert-99", 0.99), ("bert-99.9", 0.999)])
def test_the_shipped_bert_benchmarks(name, fraction):
    bench = load_benchmark_file(REPO / f"config/benchmarks/{name}.yaml")
    assert bench.name == name and bench.task.value == "question_answering"
    assert bench.model.backend.value == "onnxruntime" and bench.model.weights.path == "${BENCHWRIGHT_MODELS}/bert/model.onnx"
    assert bench.model.inputs == {"input_ids": "input_ids", "input_mask": "input_mask", "segment_ids": "segment_ids"}
    assert bench.model.outputs == {"start_logits": "output_start_logits", "end_logits": "output_end_logits"}
    assert bench.dataset.path == "${BENCHWRIGHT_DATA}/squad" and bench.dataset.manifest
    assert (bench.preprocessing.name, bench.preprocessing.version) == ("squad", 1)
    assert bench.preprocessing.parameters == {"max_seq_length": 384, "doc_stride": 128, "max_query_length": 64}
    assert (bench.accuracy.metric, bench.accuracy.reference, bench.accuracy.target_fraction) == ("f1", 90.874, fraction)
    inf = bench.inference
    assert (inf.mlperf_benchmark, inf.loadgen_model, inf.performance_sample_count) == (name, "bert", 10833)
    assert [p.value for p in inf.precisions] == ["fp32"]
    official = rules().inference.benchmarks[name]
    assert set(inf.scenarios) == set(official.required_scenarios["edge"])
    assert official.task is bench.task and fraction in official.target_fractions
    assert official.accuracy_reference == bench.accuracy.reference and official.compliance_tests == ("TEST01",)


def test_required_scenarios_are_per_benchmark_and_system_type():
    bench = rules().inference.benchmarks
    S = Scenario
    assert bench["resnet"].required_scenarios["edge"] == (S.SingleStream, S.MultiStream, S.Offline)
    assert bench["bert-99"].required_scenarios["edge"] == bench["bert-99.9"].required_scenarios["edge"] == \
        (S.SingleStream, S.Offline)
    assert "datacenter" not in bench["bert-99"].required_scenarios  # the v6.x round takes no datacenter bert
    assert bench["3d-unet-99"].required_scenarios["datacenter"] == (S.Offline,)
    assert set(bench["resnet"].required_scenarios["datacenter,edge"]) == {S.SingleStream, S.MultiStream, S.Offline,
                                                                         S.Server}


def test_a_closed_bert_submission_needs_its_edge_scenarios_and_no_datacenter_sku(config_tree):
    from tests.unit.test_config import rejected

    (config_tree.root / "config/benchmarks/bert-99.yaml").write_text(
        (REPO / "config/benchmarks/bert-99.yaml").read_text())
    config_tree.campaign.update(division="closed", mode="submission", benchmarks={"bert-99": {
        "systems": ["cpu-host"], "scenarios": ["Offline"]}})
    rejected(config_tree, file="config/config.yaml", field="benchmarks.bert-99.scenarios",
             message="must cover SingleStream too", fix="add SingleStream")


@pytest.mark.parametrize("text,metric,value", [
    ("accuracy=76.456%, good=38228, total=50000\nhash=" + "a" * 64 + "\n", "top1", 76.456),
    ("accuracy=76.456%, good=38228, total=50000\n", None, 76.456),
    ('{"exact_match": 83.2, "f1": 90.9}\nhash=' + "b" * 64 + "\n", "f1", 90.9),
    ('{"exact_match": 83.2, "f1": 90.9}\n', "exact_match", 83.2),
    ('{"exact_match": 83.2, "f1": 90.9}\n', None, 90.9),
    ('{"exact_match": 83.2}\n', "f1", None),
    ("garbage\n", None, None),
])
def test_accuracy_txt_is_read_in_both_forms(text, metric, value):
    assert accuracy_value(text, metric) == value


def test_accuracy_values_keep_the_totals():
    assert accuracy_values("accuracy=98.612%, good=1010, total=1024\nhash=" + "0" * 64) == {
        "accuracy": 98.612, "good": 1010, "total": 1024}


def test_the_report_reads_the_benchmarks_metric_from_accuracy_txt(tmp_path):
    import json

    from benchwright.report import table

    (tmp_path / "performance").mkdir()
    (tmp_path / "performance/record.json").write_text(json.dumps(
        {"result": {"duration_ns": 10**9, "sample_count": 10}, "sut": {}, "spec": {}}))
    sku = table.SkuInfo(system_name="s", accelerators_total=0, accelerator_model="cpu")
    row = {"benchmark": "bert-99", "system": "s", "scenario": "Offline", "precision": "fp32", "run": str(tmp_path),
           "accuracy_reference": 90.874, "accuracy_target": 89.96526}
    (tmp_path / "accuracy.txt").write_text('{"exact_match": 83.2, "f1": 90.9}\nhash=' + "0" * 64 + "\n")
    got = table.inference_row(table.InferenceItem(**row, accuracy_metric="f1"), sku)
    assert got["accuracy"] == 90.9 and got["accuracy_ok"] is True
    got = table.inference_row(table.InferenceItem(**row, accuracy_metric="exact_match"), sku)
    assert got["accuracy"] == 83.2 and got["accuracy_ok"] is False
    (tmp_path / "accuracy.txt").write_text("accuracy=76.456%, good=38228, total=50000\n")
    row.update(benchmark="resnet50", accuracy_reference=76.46, accuracy_target=75.6954)
    assert table.inference_row(table.InferenceItem(**row, accuracy_metric="top1"), sku)["accuracy"] == 76.456
    (tmp_path / "accuracy.txt").write_text("nothing\n")
    assert math.isnan(table.inference_row(table.InferenceItem(**row), sku)["accuracy"])
