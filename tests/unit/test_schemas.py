"""The models are the single source of truth: the JSON schemas and the field reference derive from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from benchwright.schemas import EXPORTED, Campaign, System
from benchwright.schemas.export import field_reference, json_schemas

REPO = Path(__file__).resolve().parents[2]


def test_json_schemas_match_the_models():
    for name, text in json_schemas().items():
        committed = (REPO / "workflow/schemas" / name).read_text()
        assert committed == text, f"workflow/schemas/{name} drifted from the models: run `benchwright schema`"


def test_field_reference_matches_the_models():
    committed = (REPO / "docs/config-reference.md").read_text()
    assert committed == field_reference(), "docs/config-reference.md drifted: run `benchwright docs`"


def test_schemas_are_usable_by_snakemake_validate():
    for text in json_schemas().values():
        schema = json.loads(text)
        assert schema["$schema"].startswith("https://json-schema.org/")
        assert schema["additionalProperties"] is False


def _all_models(model: type[BaseModel], seen: set) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
            for inner in [arg, *getattr(arg, "__args__", ())]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    _all_models(inner, seen)


@pytest.mark.parametrize("root", list(EXPORTED.values()), ids=list(EXPORTED))
def test_every_model_is_strict_frozen_and_documented(root):
    seen: set = set()
    _all_models(root, seen)
    for model in seen:
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("frozen") is True, model
        for key, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{key} has no docstring"


def test_golden_campaign_fields():
    # Golden values: renaming or removing a campaign key breaks every user's config. Change with care.
    assert set(Campaign.model_fields) == {
        "name", "submitter", "division", "mlperf_version", "mode", "seed", "benchmarks", "loadgen", "training",
        "accept_system_mismatch", "allow_cpu_fallback", "paths", "report", "repeats"}


def test_sku_can_fill_every_mlperf_system_description_field():
    # ../shared/docs/mlperf-formats.md section 2: fields a SKU must be able to fill.
    host = {"processor_model_name", "processors_per_node", "processor_core_count", "processor_frequency",
            "processor_caches", "processor_interconnect", "memory_configuration", "storage_capacity",
            "storage_type", "networking", "networking_topology", "network_card_count"}
    acc = {"model_name", "frequency", "host_interconnect", "interconnect", "interconnect_topology",
           "memory_configuration", "on_chip_memories"}
    assert host <= set(System.model_fields["host"].annotation.model_fields)
    assert acc <= set(System.model_fields["accelerators"].annotation.model_fields)
    assert {"system_name", "system_type", "status", "number_of_nodes", "cooling", "hw_notes",
            "sw_notes"} <= set(System.model_fields)


def test_all_shipped_skus_validate():
    import yaml

    files = sorted((REPO / "config/systems").glob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        System.model_validate(yaml.safe_load(f.read_text()))
