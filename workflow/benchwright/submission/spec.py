"""What goes into a campaign's submission bundle, derived from the validated campaign (one source of truth).

The DAG passes :func:`bundle_spec` as JSON to ``benchwright bundle``: a change to the campaign that changes
the bundle re-assembles it, nothing else does. Every path is relative to the campaign's working directory.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from ..schemas.base import Precision, RunMode, Scenario, Spec

BUNDLE_FORMAT = "benchwright-bundle"
BUNDLE_VERSION = 1
IMPLEMENTATION = "benchwright-pytorch"


class Evidence(Spec):
    """The artifacts a result descends from (paths in the working directory), copied into the bundle's
    provenance/ so that `benchwright verify` can re-check the chain without the working directory."""

    data_manifest: str
    """The preprocessing manifest (benchwright.paths.DATA_MANIFEST): the dataset's and the preprocessed arrays'
    sha256."""
    fp32_record: str | None = None
    """The trained FP32 weights' record, with their sha256 (none for fetched weights)."""
    weights_sha256: str | None = None
    """Fetched FP32 weights: the sha256 the download was verified against (the benchmark's `model.weights`)."""
    calibration: str | None = None
    """INT8: the quantization record (calibration list hash, FP32 and INT8 model hashes)."""
    calibration_list: str | None = None
    """INT8: the campaign's calibration list (its copy in src/campaign/ is hashed)."""


class InferenceEntry(Spec):
    """One inference result: a system x model x scenario of the MLPerf tree."""

    system: str
    benchmark: str
    precision: Precision
    scenario: Scenario
    model: str
    """Directory name in the tree: the official benchmark (closed) or our own model name (open)."""
    mlperf_benchmark: str | None
    """The official benchmark the model maps to (model_mapping.json in open)."""
    run: str
    """benchwright.paths.INFERENCE_DIR: performance/, accuracy/, accuracy.txt, accuracy.json, TEST*/"""
    accuracy_reference: float
    accuracy_target: float
    compliance_tests: tuple[str, ...] = ()
    fixture: bool = False
    """Run on stand-ins made by ``benchwright fixture``: not a result of the benchmark's data and model."""
    measurements: dict[str, str]
    reproduce: str
    """The campaign's `snakemake` command that makes this result, from a checkout of src/ in the campaign's working
    directory (derived from the campaign's files: it is not a job's command)."""
    records: dict[str, str]
    """What each job that made the result recorded (job -> its record.json or accuracy.json): the README lists
    the commands they recorded, as recorded, never retyped."""
    evidence: Evidence


class TrainingEntry(Spec):
    """One training result: a system x benchmark with its seeded runs."""

    system: str
    benchmark: str
    tree_benchmark: str
    """The benchmark's name in the tree and in its logs (the official name when it has one)."""
    runs: tuple[str, ...]
    """The run folders (each with result.txt), numbered result_0 ... in this order."""
    required_runs: int = Field(gt=0)
    rules: str | None
    """Our own compliance rules for a benchmark outside the training ruleset."""
    reproduce: str
    """The campaign's `snakemake` command that makes the score and its runs."""
    records: dict[str, str]
    """Each run's record.json (run -> record), whose command the implementation's README lists."""
    evidence: Evidence


class SystemEntry(Spec):
    file: str
    """The SKU's YAML file."""
    detected: str
    """benchwright.paths.DETECTED: the facts that fill its `auto` fields."""


class BundleSpec(Spec):
    campaign: str
    submitter: str
    division: Literal["closed", "open"]
    mlperf_version: str
    mode: RunMode
    training_ruleset: str
    systems: dict[str, SystemEntry]
    inference: tuple[InferenceEntry, ...] = ()
    training: tuple[TrainingEntry, ...] = ()
    config_files: tuple[str, ...]
    """The campaign's files, then each benchmark and SKU file it uses (copied into the bundle's src/campaign/)."""
    fixture: bool = False
    """Some result runs on stand-ins made by ``benchwright fixture``."""

    @property
    def submittable(self) -> bool:
        """Only a submission-mode campaign on real data can produce a bundle that claims to be valid."""
        return self.mode is RunMode.submission and not self.fixture


def model_name(division: str, benchmark: str, precision: str, mlperf_benchmark: str | None) -> str:
    """The model directory of a result: the official name in closed; ``<benchmark>-<precision>`` in open, so
    that every precision of a model of our own is a result of its own."""
    if division == "closed":
        if not mlperf_benchmark:
            raise ValueError(f"benchmark {benchmark} has no official MLPerf benchmark; closed needs one")
        return mlperf_benchmark
    return f"{benchmark}-{precision}"


def _snakemake(config_files: Sequence[str], targets: Sequence[str]) -> str:
    files = "".join(f" --configfile {shlex.quote(f)}" for f in config_files)
    return "snakemake --cores all" + files + " " + " ".join(shlex.quote(t) for t in targets)


def bundle_spec(plan, campaign_files: Sequence[str]) -> BundleSpec:
    """The bundle of a campaign (`plan`: benchwright.config.Plan; `campaign_files`: its config files in order)."""
    from .. import paths
    from ..errors import display_path

    c, rules = plan.campaign, plan.rules
    division = c.division.value
    campaign_files = [display_path(f) for f in campaign_files]
    inference = []
    for job in plan.inference_jobs:
        bench = plan.benchmarks[job.benchmark]
        inf = bench.inference
        official = inf.mlperf_benchmark if inf else None
        prec, scen = job.precision.value, job.scenario.value
        run = plan.inference_dir(job)
        tests = ()
        if rules.divisions[c.division].compliance_tests and official in rules.inference.benchmarks:
            tests = tuple(rules.inference.benchmarks[official].compliance_tests)
        quantized = prec == "int8"
        weights = bench.model.weights
        measurements = {
            "input_data_types": "fp32",
            "retraining": "no",
            "starting_weights_filename": (weights.url or weights.path or "").rsplit("/", 1)[-1]
            or paths.MODEL_FILES[bench.model.format],
            "weight_data_types": prec,
            "weight_transformations": (
                f"post-training static quantization (per-tensor int8), calibrated on the fixed set "
                f"{bench.calibration.sample_list}" if quantized and bench.calibration else "none"),
        }
        where = (job.system, job.benchmark, prec, scen)
        performance, accuracy = paths.inference_run(*where, "performance"), paths.inference_run(*where, "accuracy")
        reproduce = _snakemake(campaign_files, [performance, paths.accuracy_txt(*where),
                                                *(f"{run}/{t}" for t in tests)])
        records = {"performance run": paths.run_record(performance), "accuracy run": paths.run_record(accuracy),
                   "accuracy check": paths.accuracy_record(*where)}
        cal = bench.calibration if quantized else None
        evidence = Evidence(
            data_manifest=paths.data_manifest(job.benchmark),
            fp32_record=paths.fp32_record(job.benchmark) if weights.recipe else None,
            weights_sha256=None if weights.recipe else weights.sha256,
            calibration=paths.int8_record(job.benchmark) if cal else None,
            calibration_list=f"{c.paths.benchmarks}/{cal.sample_list}" if cal else None)
        inference.append(InferenceEntry(
            system=job.system, benchmark=job.benchmark, precision=prec, scenario=scen,
            model=model_name(division, job.benchmark, prec, official), mlperf_benchmark=official, run=run,
            accuracy_reference=bench.accuracy.reference, accuracy_target=round(bench.accuracy.target, 6),
            compliance_tests=tests, fixture=c.benchmarks[job.benchmark].fixture, measurements=measurements,
            reproduce=reproduce, records=records,
            evidence=evidence))
    training = []
    for benchmark, system in plan.training_jobs:
        tr = plan.benchmarks[benchmark].training
        runs = plan.training_runs(benchmark, system)
        training.append(TrainingEntry(
            system=system, benchmark=benchmark, tree_benchmark=tr.mlperf_benchmark or benchmark, runs=runs,
            required_runs=len(runs),
            rules=f"{c.paths.benchmarks}/{tr.compliance_rules}" if tr.compliance_rules else None,
            reproduce=_snakemake(campaign_files, [paths.training_score(system, benchmark)]),
            records={f"run {i}": paths.run_record(r) for i, r in enumerate(runs)},
            evidence=Evidence(data_manifest=paths.data_manifest(benchmark))))
    used = sorted({e.system for e in inference} | {e.system for e in training})
    systems = {s: SystemEntry(file=f"{c.paths.systems}/{s}.yaml", detected=paths.detected(s))
               for s in used}
    benchmark_files = [f"{c.paths.benchmarks}/{b}.yaml" for b in c.benchmarks]
    extra = []
    for b, sel in c.benchmarks.items():
        bench = plan.benchmarks[b]
        if bench.calibration and any(p.value == "int8" for p in sel.precisions) and sel.scenarios:
            extra.append(f"{c.paths.benchmarks}/{bench.calibration.sample_list}")
        if sel.fixture and bench.fixture is not None:
            extra.append(f"{c.paths.benchmarks}/{bench.fixture.dataset.manifest}")
        impl = bench.training.implementation if sel.training and bench.training else None
        if impl is not None and impl.config:
            extra.append(f"{c.paths.benchmarks}/{impl.config}")
        if sel.training and bench.training and bench.training.compliance_rules:
            extra.append(f"{c.paths.benchmarks}/{bench.training.compliance_rules}")
    config_files = list(dict.fromkeys([*campaign_files, *benchmark_files, *extra,
                                       *(systems[s].file for s in used)]))
    return BundleSpec(campaign=c.name, submitter=c.submitter, division=division, mlperf_version=c.mlperf_version,
                      mode=c.mode, training_ruleset=rules.training.ruleset, systems=systems,
                      inference=tuple(inference), training=tuple(training), config_files=tuple(config_files),
                      fixture=c.fixture)
