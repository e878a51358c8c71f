"""The MLPerf system description (systems/<system>.json) of a SKU, for inference and training submissions.

Every value is a string, as the checkers expect; a CPU-only system writes "0" accelerators and "N/A" where
nothing applies. ``effective`` is the SKU's host facts with `auto` fields filled in from detection
(:func:`benchwright.detect.effective_description`).
"""

from __future__ import annotations

from typing import Any

from .schemas.system import System

INFERENCE_FIELDS = (
    "division", "submitter", "status", "system_name", "system_type", "system_type_detail", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "host_processor_frequency", "host_processor_caches", "host_processor_interconnect", "host_memory_capacity",
    "host_memory_configuration", "host_storage_capacity", "host_storage_type", "host_networking",
    "host_networking_topology", "host_network_card_count", "accelerators_per_node", "accelerator_model_name",
    "accelerator_frequency", "accelerator_host_interconnect", "accelerator_interconnect",
    "accelerator_interconnect_topology", "accelerator_memory_capacity", "accelerator_memory_configuration",
    "accelerator_on-chip_memories", "cooling", "hw_notes", "framework", "operating_system",
    "other_software_stack", "sw_notes",
)
INFERENCE_REQUIRED = (
    "division", "submitter", "system_type", "status", "system_name", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count", "host_memory_capacity",
    "host_memory_configuration", "host_storage_capacity", "host_storage_type", "host_networking",
    "host_network_card_count", "host_networking_topology", "accelerators_per_node", "accelerator_model_name",
    "accelerator_memory_capacity", "accelerator_host_interconnect", "accelerator_memory_configuration",
    "accelerator_interconnect", "cooling", "framework", "operating_system", "other_software_stack",
)
# mlperf-logging's system_desc_checker: the inference list minus system_type, system_type_detail and
# host_network_card_count, plus host_processor_vcpu_count (33 keys).
TRAINING_FIELDS = tuple(f for f in INFERENCE_FIELDS
                        if f not in ("system_type", "system_type_detail", "host_network_card_count")
                        ) + ("host_processor_vcpu_count",)
TRAINING_STATUS = {"available": "Available on-premise", "preview": "Preview",
                   "rdi": "Research, Development, or Internal (RDI)"}


def _gb(value: float) -> str:
    return f"{value:g} GB"


def inference_description(system: System, effective: dict[str, Any], *, division: str,
                          submitter: str) -> dict[str, str]:
    h, a, sw = system.host, system.accelerators, system.software
    gpu = a.count > 0
    values: dict[str, Any] = {
        "division": division,
        "submitter": submitter,
        "status": system.status,
        "system_name": system.system_name,
        "system_type": system.system_type.value,
        "system_type_detail": "N/A",
        "number_of_nodes": system.number_of_nodes,
        "host_processor_model_name": effective["processor_model_name"],
        "host_processors_per_node": h.processors_per_node,
        "host_processor_core_count": effective["processor_core_count"],
        "host_processor_frequency": h.processor_frequency,
        "host_processor_caches": h.processor_caches,
        "host_processor_interconnect": h.processor_interconnect,
        "host_memory_capacity": _gb(effective["memory_capacity_gb"]),
        "host_memory_configuration": h.memory_configuration,
        "host_storage_capacity": h.storage_capacity,
        "host_storage_type": h.storage_type,
        "host_networking": h.networking,
        "host_networking_topology": h.networking_topology,
        "host_network_card_count": h.network_card_count,
        "accelerators_per_node": a.count,
        "accelerator_model_name": a.model_name,
        "accelerator_frequency": a.frequency,
        "accelerator_host_interconnect": a.host_interconnect,
        "accelerator_interconnect": a.interconnect,
        "accelerator_interconnect_topology": a.interconnect_topology,
        "accelerator_memory_capacity": _gb(a.memory_capacity_gb) if gpu else "N/A",
        "accelerator_memory_configuration": a.memory_configuration,
        "accelerator_on-chip_memories": a.on_chip_memories,
        "cooling": system.cooling,
        "hw_notes": system.hw_notes,
        "framework": sw.framework,
        "operating_system": effective["operating_system"],
        "other_software_stack": sw.other_software_stack,
        "sw_notes": system.sw_notes,
    }
    out = {key: str(values[key]) for key in INFERENCE_FIELDS}
    empty = [k for k in INFERENCE_REQUIRED if not out[k].strip()]
    if empty:
        raise ValueError(f"SKU {system.id}: system description fields {empty} are empty")
    return out


def training_description(system: System, effective: dict[str, Any], *, division: str,
                         submitter: str) -> dict[str, str]:
    full = inference_description(system, effective, division=division, submitter=submitter)
    full["host_processor_vcpu_count"] = str(effective["processor_vcpu_count"])
    out = {key: full[key] for key in TRAINING_FIELDS}
    out["status"] = TRAINING_STATUS[system.status]
    return out
