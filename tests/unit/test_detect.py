from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from benchwright.detect import SystemMismatch, check, compare, detect, detection_record
from benchwright.schemas import System

REPO = Path(__file__).resolve().parents[2]


def sku(name: str) -> System:
    return System.model_validate(yaml.safe_load((REPO / "config/systems" / f"{name}.yaml").read_text()))


@pytest.fixture(scope="module")
def facts():
    return detect(gpu_probe=lambda: [])


def test_detect_reports_this_machine(facts):
    assert facts["cpu"]["physical_cores"] >= 1
    assert facts["memory_gb"] > 0
    assert facts["packages"]["torch"] is not None
    assert facts["packages"]["mlcommons-loadgen"] is not None
    assert facts["python"].count(".") == 2


def test_auto_sku_matches_any_machine_and_is_filled_in(facts):
    record = detection_record(sku("cpu-host"), facts, accept=False, system_file="cpu-host.yaml")
    assert record["differences"] == []
    assert record["effective"]["processor_model_name"] == facts["cpu"]["model_name"]
    assert record["effective"]["memory_capacity_gb"] == facts["memory_gb"]


def test_declared_gpus_missing_stops_the_run(facts):
    with pytest.raises(SystemMismatch) as info:
        check(sku("a100-sxm4-80gb-x8"), facts, accept=False, system_file="config/systems/a100-sxm4-80gb-x8.yaml")
    text = str(info.value)
    assert "accelerators.count: declared 8, detected 0" in text
    assert "config/systems/a100-sxm4-80gb-x8.yaml" in text and "accept_system_mismatch" in text


def test_different_cpu_model_stops_the_run(facts):
    data = yaml.safe_load((REPO / "config/systems/cpu-host.yaml").read_text())
    data["host"]["processor_model_name"] = "Intel Xeon Platinum 8480C"
    diffs = compare(System.model_validate(data), facts)
    assert [d.field for d in diffs] == ["host.processor_model_name"]


def test_pinned_facts_that_match_pass(facts):
    data = yaml.safe_load((REPO / "config/systems/cpu-host.yaml").read_text())
    data["host"].update(processor_model_name=facts["cpu"]["model_name"], processor_core_count=facts["cpu"]["physical_cores"],
                        memory_capacity_gb=facts["memory_gb"])
    data["software"]["torch_version"] = facts["packages"]["torch"].split("+")[0]
    assert compare(System.model_validate(data), facts) == []


def test_accepted_differences_are_recorded(facts):
    record = detection_record(sku("a100-sxm4-80gb-x8"), facts, accept=True, system_file="x.yaml")
    assert record["differences_accepted"] is True
    assert {"field": "accelerators.count", "declared": 8, "detected": 0} in record["differences"]


def test_gpu_model_compared_when_count_matches(facts):
    gpus = [{"index": i, "name": "NVIDIA H100 80GB HBM3", "memory_gb": 85.0, "driver": "550"} for i in range(8)]
    with_gpus = copy.deepcopy(facts) | {"gpus": gpus}
    diffs = compare(sku("a100-sxm4-80gb-x8"), with_gpus)
    assert [d.field for d in diffs if d.field.startswith("accelerators")] == ["accelerators.model_name"]


def test_version_pins_are_recorded_and_enforced(facts):
    pins = {"mlcommons-loadgen": ">=6.0.16", "torch": ">=99"}
    record = detection_record(sku("cpu-host"), facts, accept=False, system_file="x.yaml", pins=pins)
    assert record["version_pins"] == {"mlcommons-loadgen": {"requires": ">=6.0.16", "ok": True},
                                      "torch": {"requires": ">=99", "ok": False}}
    with pytest.raises(SystemMismatch, match=r"torch: requires >=99, installed 2\.13"):
        detection_record(sku("cpu-host"), facts, accept=True, system_file="x.yaml", pins=pins, enforce_pins=True)


def test_shipped_run_rule_pins_hold_here(facts):
    from benchwright.config import load_rules
    from benchwright.detect import check_pins

    assert check_pins(facts, dict(load_rules("6.1").framework_versions)) == []


def test_cli_reports_a_broken_sku_file_with_file_field_and_fix(tmp_path, capsys):
    from benchwright.cli import main

    bad = tmp_path / "sku.yaml"
    bad.write_text("id: x\nsystem_name: y\nsystem_typo: edge\n")
    assert main(["detect", "--system", str(bad), "--out", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err
    assert "sku.yaml: system_typo" in err and "did you mean `system_type`?" in err
    assert not (tmp_path / "d.json").exists()
