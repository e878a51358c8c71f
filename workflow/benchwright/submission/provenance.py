"""The bundle's provenance/ folder: one record per result and the evidence the records point to.

    provenance/
        evidence/<benchmark>/data-manifest.json     the preprocessing manifest (dataset and array sha256)
        evidence/<benchmark>/fp32-record.json       the trained FP32 weights' record (trained weights only)
        evidence/<benchmark>/int8-calibration.json  the INT8 quantization record
        inference/<sku>/<model>/<Scenario>.json     a result's provenance (benchwright.provenance)
        training/<sku>/<benchmark>/result_<i>.json  a training run's provenance

Each record names the result's files in the bundle with their sha256 (``files``), the evidence files it
relies on (``evidence``), and the commands its jobs recorded with the README that lists them (``reproduce``);
`benchwright verify` re-checks them all, and every hash link between them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from ..config import load_system_file
from ..fsutil import atomic_write_json, sha256_file
from ..provenance import inference_provenance, training_provenance
from .inference import need_input, recorded_commands
from .spec import IMPLEMENTATION, BundleSpec, Evidence

FOLDER = "provenance"


def _files(root: Path, folder: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _evidence(root: Path, benchmark: str, evidence: Evidence, inference_root: str | None,
              config_files: tuple[str, ...]) -> dict[str, str | None]:
    """Copy the evidence of one result into provenance/evidence/<benchmark>/ (once); return its bundle paths."""
    folder = root / FOLDER / "evidence" / benchmark
    folder.mkdir(parents=True, exist_ok=True)
    copies = {"data_manifest": ("data-manifest.json", evidence.data_manifest),
              "fp32_record": ("fp32-record.json", evidence.fp32_record),
              "calibration": ("int8-calibration.json", evidence.calibration)}
    out: dict[str, str | None] = {}
    for key, (name, src) in copies.items():
        if src is None:
            out[key] = None
            continue
        target = folder / name
        if not target.exists():
            shutil.copyfile(need_input(Path(src), f"the provenance of {benchmark}"), target)
        out[key] = target.relative_to(root).as_posix()
    out["calibration_list"] = None
    if evidence.calibration_list and inference_root:
        if evidence.calibration_list in config_files:  # copied by the bundle into src/campaign/<path>
            out["calibration_list"] = f"{inference_root}/src/campaign/{evidence.calibration_list}"
    return out


def write_provenance(root: Path, spec: BundleSpec, inference_root: str | None, training_root: str | None
                     ) -> dict[str, str]:
    """Write provenance/ into the bundle being assembled at ``root``; return result path -> provenance path."""
    systems = {sku: load_system_file(Path(entry.file)) for sku, entry in spec.systems.items()}
    index: dict[str, str] = {}
    for e in spec.inference:
        result = f"{inference_root}/results/{e.system}/{e.model}/{e.scenario.value}"
        record = inference_provenance(
            run=e.run, system=systems[e.system], precision=e.precision.value,
            data_manifest=need_input(Path(e.evidence.data_manifest), "the preprocessing manifest"),
            fp32_record=need_input(Path(e.evidence.fp32_record), "the FP32 weights' record") if e.evidence.fp32_record
            else None, weights_sha256=e.evidence.weights_sha256,
            calibration=need_input(Path(e.evidence.calibration), "the INT8 calibration record") if e.evidence.calibration
            else None)
        record["result"] = {"path": result, "system": e.system, "benchmark": e.benchmark, "model": e.model,
                            "precision": e.precision.value, "scenario": e.scenario.value}
        record["files"] = _files(root, root / result)
        record["evidence"] = _evidence(root, e.benchmark, e.evidence, inference_root, spec.config_files)
        record["reproduce"] = {"readme": f"{result}/README.md",
                               "commands": [c for _, _, c in recorded_commands(dict(e.records))]}
        path = f"{FOLDER}/inference/{e.system}/{e.model}/{e.scenario.value}.json"
        atomic_write_json(root / path, record)
        index[result] = path
    for e in spec.training:
        results = f"{training_root}/results/{e.system}/{e.tree_benchmark}"
        readme = f"{training_root}/benchmarks/{e.tree_benchmark}/implementations/{IMPLEMENTATION}/README.md"
        commands = [c for _, _, c in recorded_commands(dict(e.records))]
        for i, run in enumerate(e.runs):
            result = f"{results}/result_{i}.txt"
            record = training_provenance(run=run, system=systems[e.system],
                                         data_manifest=need_input(Path(e.evidence.data_manifest), "the preprocessing manifest"))
            record["result"] = {"path": result, "system": e.system, "benchmark": e.benchmark, "run": i}
            record["files"] = {result: sha256_file(root / result)}
            record["evidence"] = _evidence(root, e.benchmark, e.evidence, None, spec.config_files)
            record["reproduce"] = {"readme": readme, "commands": [commands[i]]}
            path = f"{FOLDER}/training/{e.system}/{e.tree_benchmark}/result_{i}.json"
            atomic_write_json(root / path, record)
            index[result] = path
    return index

