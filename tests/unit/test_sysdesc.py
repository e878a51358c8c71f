from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchwright.detect import detect, effective_description
from benchwright.schemas import System
from benchwright.sysdesc import INFERENCE_FIELDS, INFERENCE_REQUIRED, inference_description, training_description

REPO = Path(__file__).resolve().parents[2]
SKUS = sorted(p.stem for p in (REPO / "config/systems").glob("*.yaml"))

# ../shared/docs/mlperf-formats.md, section 2, verbatim.
SPEC_FIELDS = """division, submitter, status, system_name, system_type, system_type_detail, number_of_nodes,
  host_processor_model_name, host_processors_per_node, host_processor_core_count, host_processor_frequency,
  host_processor_caches, host_processor_interconnect, host_memory_capacity, host_memory_configuration,
  host_storage_capacity, host_storage_type, host_networking, host_networking_topology, host_network_card_count,
  accelerators_per_node, accelerator_model_name, accelerator_frequency, accelerator_host_interconnect,
  accelerator_interconnect, accelerator_interconnect_topology, accelerator_memory_capacity,
  accelerator_memory_configuration, accelerator_on-chip_memories, cooling, hw_notes, framework,
  operating_system, other_software_stack, sw_notes"""


@pytest.fixture(scope="module")
def facts():
    return detect(gpu_probe=lambda: [])


def test_field_list_is_the_specification():
    assert list(INFERENCE_FIELDS) == [f.strip() for f in SPEC_FIELDS.replace("\n", " ").split(",")]


@pytest.mark.parametrize("sku", SKUS)
def test_every_sku_fills_every_field(sku, facts):
    system = System.model_validate(yaml.safe_load((REPO / f"config/systems/{sku}.yaml").read_text()))
    desc = inference_description(system, effective_description(system, facts), division="open",
                                 submitter="benchwright")
    assert tuple(desc) == INFERENCE_FIELDS
    assert all(isinstance(v, str) for v in desc.values())
    assert all(desc[k].strip() for k in INFERENCE_REQUIRED)
    assert desc["status"] in ("available", "preview", "rdi")
    assert desc["system_type"] in ("datacenter", "edge", "datacenter,edge")
    assert desc["accelerators_per_node"] == str(system.accelerators.count)
    training = training_description(system, effective_description(system, facts), division="open",
                                     submitter="benchwright")
    assert len(training) == 33 and "system_type" not in training and "host_network_card_count" not in training
    assert training["status"] in ("Available on-premise", "Preview", "Research, Development, or Internal (RDI)")


@pytest.mark.parametrize("sku", SKUS)
def test_training_description_passes_mlperf_loggings_checker(sku, facts, tmp_path, caplog):
    import json

    from mlperf_logging.system_desc_checker.system_desc_checker import check_system_desc

    system = System.model_validate(yaml.safe_load((REPO / f"config/systems/{sku}.yaml").read_text()))
    desc = training_description(system, effective_description(system, facts), division="open", submitter="bw")
    path = tmp_path / f"{sku}.json"
    path.write_text(json.dumps(desc))
    valid, name, _, _ = check_system_desc(str(path), "training", "4.1.0")
    assert valid, caplog.text
    assert name == system.system_name


def test_cpu_host_takes_detected_facts(facts):
    system = System.model_validate(yaml.safe_load((REPO / "config/systems/cpu-host.yaml").read_text()))
    desc = inference_description(system, effective_description(system, facts), division="open", submitter="x")
    assert desc["host_processor_model_name"] == facts["cpu"]["model_name"]
    assert desc["accelerators_per_node"] == "0" and desc["accelerator_model_name"] == "N/A"
