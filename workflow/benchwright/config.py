"""Load a campaign with its benchmarks, SKUs and run rules, and check every run rule before any job runs.

``load_plan`` is called once, by ``workflow/rules/common.smk`` at DAG construction and by ``benchwright
validate``. It collects every problem it finds (schema violations in each file, then cross-file run-rule
checks) and raises one :class:`CampaignError` that lists them all, each with file, field and fix.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import paths
from .errors import CampaignError, Problem, display_path, problems_from_validation, suggest
from .fsutil import sha256_file
from .schemas import Benchmark, Campaign, RunRules, System
from .schemas.base import Precision, RunMode, Scenario

RULES_PACKAGE = "benchwright.runrules"


# --- YAML ---------------------------------------------------------------------------------------------------

class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark,
                f"found the key {key!r} twice (first on line {seen[key].start_mark.line + 1})", key_node.start_mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


if getattr(yaml, "__with_libyaml__", False):
    class _FastStrictLoader(yaml.CSafeLoader):
        """The same strict loader on libyaml's parser (several times faster on a large campaign's files). Any
        error is reported by re-reading with :class:`_StrictLoader`, so messages do not depend on libyaml."""

    _FastStrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
else:  # pragma: no cover - PyYAML built without libyaml
    _FastStrictLoader = _StrictLoader


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file strictly; a syntax error becomes a CampaignError with line and column."""
    shown = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CampaignError([Problem(shown, "", "the file does not exist", "create it or correct the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError([Problem(shown, "", f"cannot be read: {exc}", "check the file's permissions and encoding")]) from None
    try:
        return yaml.load(text, Loader=_FastStrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        pass  # re-read below for the pure-Python loader's message, line and column
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        msg = f"not valid YAML: {what}" + (f" ({context})" if context else "")
        raise CampaignError([Problem(shown, where, msg, "fix the YAML syntax there (indentation, quotes, colons)")]) from None


def _validate(model: type[BaseModel], data: Any, file: str, problems: list[Problem]) -> Any:
    if not isinstance(data, Mapping):
        problems.append(Problem(file, "", f"expected a mapping of keys to values, got {type(data).__name__}",
                                f"write the {model.__name__.lower()} as `key: value` lines"))
        return None
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        problems.extend(problems_from_validation(err, model, file))
        return None


# --- run rules ----------------------------------------------------------------------------------------------

def known_rule_versions() -> list[str]:
    files = importlib.resources.files(RULES_PACKAGE).iterdir()
    return sorted(f.name.removeprefix("mlperf-").removesuffix(".yaml") for f in files if f.name.startswith("mlperf-"))


def load_rules(version: str) -> RunRules:
    resource = importlib.resources.files(RULES_PACKAGE) / f"mlperf-{version}.yaml"
    data = yaml.load(resource.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    return RunRules.model_validate(data)


# --- the plan -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InferenceJob:
    benchmark: str
    system: str
    scenario: Scenario
    precision: Precision


from .paths import model_dir  # noqa: E402 - re-exported: the rules import it from here


@dataclass(frozen=True)
class Plan:
    """A validated campaign with everything it refers to."""

    campaign: Campaign
    rules: RunRules
    benchmarks: dict[str, Benchmark]
    systems: dict[str, System]
    files: dict[str, str] = field(default_factory=dict)
    """Which file each object came from: 'campaign', 'benchmark:<name>', 'system:<id>' -> path."""

    @cached_property
    def inference_jobs(self) -> tuple[InferenceJob, ...]:
        return tuple(
            InferenceJob(name, system, scenario, precision)
            for name, sel in self.campaign.benchmarks.items()
            for system in sel.systems
            for scenario in sel.scenarios
            for precision in sel.precisions
        )

    @cached_property
    def training_jobs(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, system) for name, sel in self.campaign.benchmarks.items() if sel.training
                     for system in sel.systems)

    @cached_property
    def systems_in_use(self) -> tuple[str, ...]:
        return tuple(sorted({s for sel in self.campaign.benchmarks.values() for s in sel.systems}))

    def dataset_files(self) -> dict[tuple[str, str], Any]:
        """(dataset name, local file name) -> DatasetFile, for every benchmark of the campaign."""
        out = {}
        for bench in self.benchmarks.values():
            for f in bench.dataset.files:
                out[(bench.dataset.name, f.local_name)] = f
        return out

    def required_runs(self, benchmark: str) -> int:
        training = self.benchmarks[benchmark].training
        assert training is not None
        if training.required_runs is not None:
            return training.required_runs
        official = self.rules.training.benchmarks.get(training.mlperf_benchmark or "")
        return official.required_runs if official else self.rules.training.default_required_runs

    @staticmethod
    def inference_dir(job: InferenceJob) -> str:
        """Where one inference configuration's runs live (performance/, accuracy/, accuracy.txt, TEST*/)."""
        return paths.inference_dir(job.system, job.benchmark, job.precision, job.scenario)

    def training_runs(self, benchmark: str, system: str) -> tuple[str, ...]:
        """The run folders of a training result, one per required run."""
        return tuple(paths.training_run(system, benchmark, i) for i in range(self.required_runs(benchmark)))

    def training_seeds(self, benchmark: str) -> tuple[int, ...]:
        """Distinct seeds, one per required run: the campaign's list, or derived from the campaign seed."""
        if self.campaign.training.seeds is not None:
            return self.campaign.training.seeds
        import numpy as np  # local: numpy is only needed when training seeds are derived

        seq = np.random.SeedSequence([self.campaign.seed, *map(ord, benchmark)])
        seeds = seq.generate_state(self.required_runs(benchmark), dtype=np.uint32)
        return tuple(int(s) for s in seeds)

    def run_spec(self, benchmark: str, system: str, scenario: str, precision: str, mode: str):
        """Everything one LoadGen run needs (benchwright.harness.spec.RunSpec), from campaign, benchmark, SKU."""
        from .harness.spec import RunSpec

        bench, sku, c = self.benchmarks[benchmark], self.systems[system], self.campaign
        inf = bench.inference
        assert inf is not None
        constraints = inf.scenarios[Scenario(scenario)]
        tuning = sku.tuning.get(benchmark)
        tune = tuning.scenarios.get(Scenario(scenario)) if tuning else None
        smoke = c.mode is RunMode.smoke
        latency = constraints.target_latency_ms
        if scenario in ("SingleStream", "MultiStream") and tune and tune.target_latency_ms:
            latency = tune.target_latency_ms  # the expected latency LoadGen sizes the run by
        return RunSpec(
            benchmark=benchmark, system=system, loadgen_model=inf.loadgen_model, scenario=scenario, mode=mode,
            precision=precision, run_mode=c.mode, model=self.model_spec(benchmark, system, tune),
            batch_size=tune.batch_size if tune else 1,
            threads=(tune.threads if tune and tune.threads else 1),
            batching_timeout_us=tune.batching_timeout_us if tune else 2000,
            target_qps=tune.target_qps if tune else None,
            expected_qps=tune.expected_qps if tune else None,
            target_latency_ms=latency,
            target_latency_percentile=constraints.target_latency_percentile if scenario != "Offline" else None,
            samples_per_query=constraints.samples_per_query,
            performance_sample_count=inf.performance_sample_count,
            min_duration_ms=self.min_duration_ms() if smoke or c.loadgen.min_duration_ms else None,
            min_query_count=c.loadgen.min_query_count,
            seeds=c.loadgen.seeds,
        )

    def model_spec(self, benchmark: str, system: str, tune: Any = None):
        """The model of a run on a SKU (benchwright.backends.ModelSpec): task, backend, format, devices, threads."""
        from .backends.base import ModelSpec
        from .devices import sku_devices, visible_devices

        model, sku = self.benchmarks[benchmark].model, self.systems[system]
        return ModelSpec(
            task=self.benchmarks[benchmark].task.value, backend=model.backend, format=model.format,
            architecture=model.architecture, parameters=model.parameters, inputs=model.inputs, outputs=model.outputs,
            devices=sku_devices(sku), visible_devices=visible_devices(sku), provider=sku.onnxruntime.provider,
            allow_cpu_fallback=self.campaign.allow_cpu_fallback,
            intra_op_threads=tune.intra_op_threads if tune else None,
            inter_op_threads=tune.inter_op_threads if tune else None)

    def training_run_spec(self, benchmark: str, system: str, index: int):
        """Everything one training run needs (benchwright.training.spec.TrainingRunSpec)."""
        from .training.spec import TrainingRunSpec

        bench, sku, c = self.benchmarks[benchmark], self.systems[system], self.campaign
        training = bench.training
        assert training is not None
        tuning = sku.tuning.get(benchmark)
        hp = {**training.hyperparameters, **(tuning.training.hyperparameters if tuning and tuning.training else {})}
        status = {"available": "onprem", "preview": "preview", "rdi": "research"}[sku.status]
        return TrainingRunSpec(
            benchmark=benchmark, submission_benchmark=training.mlperf_benchmark or benchmark, system=system,
            submitter=c.submitter, platform=sku.system_name, division=c.division, status=status, run_mode=c.mode,
            run_index=index, seed=self.training_seeds(benchmark)[index], architecture=bench.model.architecture,
            model_parameters=bench.model.parameters, optimizer=training.optimizer, hyperparameters=hp,
            quality_target=training.quality_target, max_epochs=training.max_epochs,
            eval_interval_epochs=training.eval_interval_epochs, world_size=max(1, sku.accelerators_total),
            backend="nccl" if sku.accelerators.vendor == "nvidia" and sku.accelerators.count else "gloo",
        )

    def min_duration_ms(self) -> int:
        """LoadGen's minimum duration for performance runs in this campaign's mode."""
        lg = self.campaign.loadgen
        if lg.min_duration_ms is not None:
            return lg.min_duration_ms
        rules = self.rules.inference
        return rules.smoke.min_duration_ms if self.campaign.mode is RunMode.smoke else rules.min_duration_ms


def load_plan(config: Mapping[str, Any], config_files: Sequence[str | Path] = ("config/config.yaml",),
              root: str | Path = ".") -> Plan:
    """Validate a campaign (already parsed, e.g. Snakemake's ``config``) and everything it refers to."""
    root = Path(root)
    campaign_file = " + ".join(display_path(f) for f in config_files) or "config"
    problems: list[Problem] = []

    campaign = _validate(Campaign, config, campaign_file, problems)
    if campaign is None:
        raise CampaignError(_attribute(problems, config_files))

    versions = known_rule_versions()
    if campaign.mlperf_version not in versions:
        raise CampaignError([Problem(campaign_file, "mlperf_version",
                                     f"no run rules for MLPerf round {campaign.mlperf_version!r}",
                                     f"use a round benchwright ships rules for: {', '.join(versions)}.")])
    rules = load_rules(campaign.mlperf_version)

    files: dict[str, str] = {"campaign": campaign_file}
    benchmarks: dict[str, Benchmark] = {}
    bench_dir = root / campaign.paths.benchmarks
    for name in campaign.benchmarks:
        path = bench_dir / f"{name}.yaml"
        if not path.is_file():
            available = [p.stem for p in bench_dir.glob("*.yaml")]
            problems.append(Problem(campaign_file, f"benchmarks.{name}", f"unknown benchmark `{name}`: "
                                    f"{display_path(path)} does not exist", suggest(name, available)))
            continue
        shown = display_path(path)
        files[f"benchmark:{name}"] = shown
        bench = _load_file(Benchmark, path, problems)
        if bench is not None and bench.name != name:
            problems.append(Problem(shown, "name", f"`name: {bench.name}` differs from the file name `{name}`",
                                    f"rename the file to {bench.name}.yaml or set `name: {name}`."))
        elif bench is not None:
            benchmarks[name] = bench

    systems: dict[str, System] = {}
    sys_dir = root / campaign.paths.systems
    wanted = sorted({s for sel in campaign.benchmarks.values() for s in sel.systems})
    for sku in wanted:
        path = sys_dir / f"{sku}.yaml"
        users = [b for b, sel in campaign.benchmarks.items() if sku in sel.systems]
        if not path.is_file():
            available = [p.stem for p in sys_dir.glob("*.yaml")]
            problems.append(Problem(campaign_file, f"benchmarks.{users[0]}.systems",
                                    f"unknown SKU `{sku}`: {display_path(path)} does not exist",
                                    suggest(sku, available)))
            continue
        shown = display_path(path)
        files[f"system:{sku}"] = shown
        system = _load_file(System, path, problems)
        if system is not None and system.id != sku:
            problems.append(Problem(shown, "id", f"`id: {system.id}` differs from the file name `{sku}`",
                                    f"rename the file to {system.id}.yaml or set `id: {sku}`."))
        elif system is not None:
            systems[sku] = system

    if problems:
        raise CampaignError(_attribute(problems, config_files))
    plan = Plan(campaign, rules, benchmarks, systems, files)
    problems.extend(check_run_rules(plan, root=root))
    if problems:
        raise CampaignError(_attribute(problems, config_files))
    return plan


def _attribute(problems: list[Problem], config_files: Sequence[str | Path]) -> list[Problem]:
    """Name the one campaign file that sets each faulty field (later files override earlier ones)."""
    if len(config_files) < 2:
        return problems
    combined = " + ".join(display_path(f) for f in config_files)
    parsed = []
    for f in config_files:
        try:
            parsed.append((display_path(f), read_yaml(f)))
        except CampaignError:
            continue
    out = []
    for p in problems:
        if p.file != combined:
            out.append(p)
            continue
        keys = [k for k in p.field.replace("[", ".[").split(".") if k and not k.startswith("[")]
        owner = None
        for shown, data in reversed(parsed):
            node, depth = data, 0
            while isinstance(node, Mapping) and depth < len(keys) and keys[depth] in node:
                node, depth = node[keys[depth]], depth + 1
            if depth and (owner is None or depth > owner[1]):
                owner = (shown, depth)
        out.append(Problem(owner[0], p.field, p.message, p.fix) if owner else p)
    return out


def load_system_file(path: str | Path) -> System:
    """One SKU file, validated with the same file/field/fix errors as a campaign (for commands run by hand)."""
    problems: list[Problem] = []
    system = _load_file(System, Path(path), problems)
    if system is None:
        raise CampaignError(problems)
    return system


def load_plan_file(config_file: str | Path, root: str | Path = ".") -> Plan:
    data = read_yaml(config_file)
    return load_plan(data if data is not None else {}, [config_file], root)


def _load_file(model: type[BaseModel], path: Path, problems: list[Problem]) -> Any:
    try:
        data = read_yaml(path)
    except CampaignError as err:
        problems.extend(err.problems)
        return None
    return _validate(model, data, display_path(path), problems)


# --- run-rule checks ----------------------------------------------------------------------------------------

def check_run_rules(plan: Plan, root: Path = Path(".")) -> list[Problem]:
    """Cross-file checks: a campaign is held to its round's run rules, its division and its mode."""
    out: list[Problem] = []
    c, rules = plan.campaign, plan.rules
    cfile = plan.files["campaign"]
    division = rules.divisions[c.division]
    submission = c.mode is RunMode.submission

    # LoadGen settings in submission mode: official seeds, official minimums or stricter.
    if submission:
        if c.loadgen.seeds is not None and c.loadgen.seeds != rules.inference.seeds:
            out.append(Problem(cfile, "loadgen.seeds", "submission runs must use the round's official LoadGen "
                               f"seeds; the campaign overrides them (MLPerf {rules.mlperf_version})",
                               "remove `loadgen.seeds`, or use `mode: smoke` for experiments with other seeds."))
        if c.loadgen.min_duration_ms is not None and c.loadgen.min_duration_ms < rules.inference.min_duration_ms:
            out.append(Problem(cfile, "loadgen.min_duration_ms",
                               f"{c.loadgen.min_duration_ms} ms is under the run rules' minimum of "
                               f"{rules.inference.min_duration_ms} ms for a submission run",
                               f"remove it (the default is {rules.inference.min_duration_ms}) or use `mode: smoke`."))
    for name, sel in c.benchmarks.items():
        bench = plan.benchmarks[name]
        bfile = plan.files[f"benchmark:{name}"]
        out.extend(_check_selection(plan, name, sel, bench, cfile, bfile, division, submission, root))

    for sku in plan.systems_in_use:
        system = plan.systems[sku]
        sfile = plan.files[f"system:{sku}"]
        out.extend(_check_tuning(plan, system, sfile, root))

    for sku in c.accept_system_mismatch:
        if sku not in plan.systems:
            out.append(Problem(cfile, "accept_system_mismatch", f"`{sku}` is not a SKU this campaign uses",
                               suggest(sku, plan.systems)))

    for name, sel in c.benchmarks.items():
        out.extend(_check_workload(plan, name, sel, plan.files[f"benchmark:{name}"], root))

    for name in c.benchmarks:
        bench = plan.benchmarks[name]
        if bench.calibration is not None:
            out.extend(_check_calibration(bench, Path(root) / c.paths.benchmarks, plan.files[f"benchmark:{name}"]))
    return out


def _check_selection(plan: Plan, name: str, sel: Any, bench: Benchmark, cfile: str, bfile: str,
                     division: Any, submission: bool, root: Path = Path(".")) -> list[Problem]:
    out: list[Problem] = []
    c, rules = plan.campaign, plan.rules
    field_ = f"benchmarks.{name}"
    inf = bench.inference
    if sel.scenarios and inf is None:
        out.append(Problem(cfile, f"{field_}.scenarios", f"benchmark `{name}` has no inference part",
                           "remove `scenarios`, or add an `inference` section to the benchmark."))
    if sel.training and bench.training is None:
        out.append(Problem(cfile, f"{field_}.training", f"benchmark `{name}` has no training part",
                           "set `training: false`, or add a `training` section to the benchmark."))
    if inf is not None and sel.scenarios:
        for scenario in sel.scenarios:
            if scenario not in inf.scenarios:
                out.append(Problem(cfile, f"{field_}.scenarios",
                                   f"benchmark `{name}` does not support the {scenario.value} scenario",
                                   f"use one of: {', '.join(s.value for s in inf.scenarios)}."))
        for precision in sel.precisions:
            if precision not in inf.precisions:
                out.append(Problem(cfile, f"{field_}.precisions", f"benchmark `{name}` cannot run at "
                                   f"{precision.value}", f"use one of: {', '.join(p.value for p in inf.precisions)}."))
            elif precision not in division.precisions:
                out.append(Problem(cfile, f"{field_}.precisions", f"the {c.division.value} division does not "
                                   f"allow {precision.value}", f"use one of: {', '.join(p.value for p in division.precisions)}."))
            for sku in sel.systems:
                system = plan.systems[sku]
                if precision not in system.precisions:
                    out.append(Problem(cfile, f"{field_}.precisions", f"SKU `{sku}` does not run {precision.value}"
                                       f" (its `precisions` are {', '.join(p.value for p in system.precisions)})",
                                       f"drop {precision.value} here, or add it to `precisions` in "
                                       f"{plan.files[f'system:{sku}']} if the hardware supports it."))
        official = rules.inference.benchmarks.get(inf.mlperf_benchmark or "")
        if inf.mlperf_benchmark is None:
            out.append(Problem(bfile, "inference.mlperf_benchmark", "the benchmark maps to no official MLPerf "
                               "benchmark; the submission checker rejects unmapped models even in open",
                               "set it to the official benchmark of the same task: "
                               f"{suggest('', rules.inference.benchmarks)}"))
        elif official is None:
            out.append(Problem(bfile, "inference.mlperf_benchmark", f"`{inf.mlperf_benchmark}` is not an "
                               f"official benchmark of MLPerf {rules.mlperf_version}",
                               suggest(inf.mlperf_benchmark, rules.inference.benchmarks)))
        else:
            if official.task is not bench.task:
                out.append(Problem(bfile, "inference.mlperf_benchmark", f"maps a {bench.task.value} model to "
                                   f"`{inf.mlperf_benchmark}`, a {official.task.value} benchmark",
                                   "map it to the official benchmark of the same task."))
            if inf.performance_sample_count < official.performance_sample_count:
                out.append(Problem(bfile, "inference.performance_sample_count",
                                   f"{inf.performance_sample_count} is under the {inf.mlperf_benchmark} minimum of "
                                   f"{official.performance_sample_count}",
                                   f"use at least {official.performance_sample_count} (the dataset's performance "
                                   "set must hold that many samples)."))
            if not division.own_models and name != inf.mlperf_benchmark:
                out.append(Problem(cfile, "division", f"the closed division runs only the official models; "
                                   f"`{name}` is a model of our own mapped to `{inf.mlperf_benchmark}`",
                                   "use `division: open`, or select the official benchmark."))
            if not division.own_models and len(sel.precisions) > 1:
                out.append(Problem(cfile, f"{field_}.precisions", "a closed submission holds one result per "
                                   f"benchmark and scenario, in the `{inf.mlperf_benchmark}` folder; "
                                   f"{len(sel.precisions)} precisions would share it",
                                   "keep the one precision to submit (compare precisions in the open division)."))
            if not division.own_models and bench.accuracy.target_fraction not in official.target_fractions:
                out.append(Problem(bfile, "accuracy.target_fraction", f"{bench.accuracy.target_fraction} is not "
                                   f"an accuracy target of {inf.mlperf_benchmark}",
                                   f"use one of {list(official.target_fractions)}."))
            if submission and division.compliance_tests:
                for sku in sel.systems:
                    stype = plan.systems[sku].system_type.value
                    needed = set()
                    for kind in ("datacenter", "edge"):
                        if kind in stype:
                            needed |= set(rules.inference.required_scenarios[kind])
                    missing = sorted(s.value for s in needed - set(sel.scenarios))
                    if missing:
                        out.append(Problem(cfile, f"{field_}.scenarios", f"a closed submission on the {stype} SKU "
                                           f"`{sku}` must cover {', '.join(missing)} too",
                                           f"add {', '.join(missing)} to `scenarios`."))
        if submission and c.loadgen.min_query_count is not None:
            short = {s.value: rules.inference.min_query_count[s] for s in sel.scenarios
                     if c.loadgen.min_query_count < rules.inference.min_query_count[s]}
            if short:
                listing = ", ".join(f"the {s} minimum of {n}" for s, n in short.items())
                out.append(Problem(cfile, "loadgen.min_query_count", f"{c.loadgen.min_query_count} queries is "
                                   f"under {listing} for a submission run",
                                   f"remove it or use at least {max(short.values())}."))
    if sel.training and bench.training is not None:
        out.extend(_check_training(plan, name, bench, cfile, bfile, division, submission, root))
    return out


def _check_training(plan: Plan, name: str, bench: Benchmark, cfile: str, bfile: str, division: Any,
                    submission: bool, root: Path = Path(".")) -> list[Problem]:
    out: list[Problem] = []
    rules = plan.rules
    training = bench.training
    assert training is not None
    official = rules.training.benchmarks.get(training.mlperf_benchmark or "")
    if not division.own_models and (official is None or training.mlperf_benchmark != name):
        out.append(Problem(cfile, "division", f"the closed division trains only benchmarks of ruleset "
                           f"{rules.training.ruleset}; `{name}` is not one of them",
                           f"use `division: open`, or one of: {', '.join(sorted(rules.training.benchmarks))}."))
    if official is not None and training.required_runs is not None and submission \
            and training.required_runs < official.required_runs:
        out.append(Problem(bfile, "training.required_runs", f"{training.required_runs} runs are fewer than the "
                           f"{official.required_runs} that {training.mlperf_benchmark} requires",
                           f"remove it or use {official.required_runs}."))
    if official is None and training.compliance_rules is None:
        out.append(Problem(bfile, "training.compliance_rules", f"`{name}` is not a benchmark of training ruleset "
                           f"{rules.training.ruleset}, so mlperf-logging's own rules would reject its logs",
                           "write a rules file in the compliance checker's YAML rule language (see "
                           "config/benchmarks/digits-cnn.compliance.yaml) and name it here."))
    elif training.compliance_rules is not None:
        path = Path(root) / plan.campaign.paths.benchmarks / training.compliance_rules
        if not path.is_file():
            out.append(Problem(bfile, "training.compliance_rules", f"{display_path(path)} does not exist",
                               "create the rules file or correct the path (relative to the benchmark file)."))
    seeds = plan.campaign.training.seeds
    runs = plan.required_runs(name)
    if seeds is not None and len(seeds) != runs:
        out.append(Problem(cfile, "training.seeds", f"{len(seeds)} seeds given, but `{name}` needs {runs} runs "
                           "(one distinct seed each)", f"give exactly {runs} distinct seeds, or remove the list."))
    return out


def _check_tuning(plan: Plan, system: System, sfile: str, root: Path) -> list[Problem]:
    out: list[Problem] = []
    division = plan.rules.divisions[plan.campaign.division]
    bench_dir = Path(root) / plan.campaign.paths.benchmarks
    for bname, tuning in system.tuning.items():
        bench = plan.benchmarks.get(bname)
        if bench is None:
            if not (bench_dir / f"{bname}.yaml").is_file():
                out.append(Problem(sfile, f"tuning.{bname}", f"tuning for unknown benchmark `{bname}`",
                                   suggest(bname, [p.stem for p in bench_dir.glob("*.yaml")])))
            continue
        if bench.inference is not None:
            for scenario in tuning.scenarios:
                if scenario not in bench.inference.scenarios:
                    out.append(Problem(sfile, f"tuning.{bname}.scenarios.{scenario.value}",
                                       f"benchmark `{bname}` has no {scenario.value} scenario",
                                       f"use one of: {', '.join(s.value for s in bench.inference.scenarios)}."))
        if tuning.training is None:
            continue
        if bench.training is None:
            out.append(Problem(sfile, f"tuning.{bname}.training", f"benchmark `{bname}` has no training part",
                               "remove the `training` tuning."))
            continue
        reference = bench.training.hyperparameters
        official = plan.rules.training.benchmarks.get(bench.training.mlperf_benchmark or "")
        for hp, value in tuning.training.hyperparameters.items():
            where = f"tuning.{bname}.training.hyperparameters.{hp}"
            if hp not in reference:
                out.append(Problem(sfile, where, f"`{hp}` is not a hyperparameter of `{bname}`",
                                   suggest(hp, reference)))
            elif division.hyperparameters == "borrowable" and value != reference[hp] and \
                    (official is None or hp not in official.borrowable_hyperparameters):
                allowed = official.borrowable_hyperparameters if official else ()
                out.append(Problem(sfile, where, f"the closed division does not allow changing `{hp}` "
                                   f"(reference {reference[hp]!r}, here {value!r})",
                                   f"remove it; closed lets you change only: {', '.join(allowed) or 'nothing'}."))
    return out


def _check_workload(plan: Plan, name: str, sel: Any, bfile: str, root: Path) -> list[Problem]:
    """The task is implemented and its preprocessing fits; model names map task names; local files exist; every
    selected precision runs on every selected SKU's device with the benchmark's backend."""
    from .data.folder import DatasetFolderError, expand_path, read_manifest
    from .devices import device_kind, precision_problem, sku_devices
    from .schemas.benchmark import Backend
    from .tasks import UnknownTask, get_task

    bench = plan.benchmarks[name]
    out: list[Problem] = []
    try:
        task = get_task(bench.task)
    except UnknownTask as exc:
        return [Problem(bfile, "task", str(exc), "use an implemented task, or add one (docs/architecture.md)")]
    if bench.preprocessing.name not in task.preprocessors:
        out.append(Problem(bfile, "preprocessing.name", f"`{bench.preprocessing.name}` does not make the arrays of "
                           f"the {task.name} task", f"use one of: {', '.join(task.preprocessors)}."))
    if bench.accuracy.metric not in task.metrics:
        out.append(Problem(bfile, "accuracy.metric", f"the {task.name} task has no metric `{bench.accuracy.metric}`",
                           f"use one of: {', '.join(task.metrics)}."))
    for part, names in (("inputs", [a.name for a in task.inputs]), ("outputs", list(task.outputs))):
        for key in getattr(bench.model, part):
            if key not in names:
                out.append(Problem(bfile, f"model.{part}.{key}", f"the {task.name} task has no {part[:-1]} `{key}`",
                                   f"map the task's {part}: {', '.join(names)}."))
    bench_dir = Path(root) / plan.campaign.paths.benchmarks
    ds = bench.dataset
    if ds.is_folder:
        try:
            folder = expand_path(ds.path or "", field="dataset.path", file=bfile)
            if not folder.is_dir():
                out.append(Problem(bfile, "dataset.path", f"the dataset folder {folder} does not exist",
                                   "put the dataset there, or point `dataset.path` at it "
                                   f"(`benchwright dataset check {name}` lists what is expected)."))
            read_manifest(bench_dir / (ds.manifest or ""), ds.manifest_sha256)
        except DatasetFolderError as exc:
            field_ = "dataset.manifest_sha256" if "pins" in str(exc) else "dataset.path" \
                if "not set" in str(exc) else "dataset.manifest"
            out.append(Problem(bfile, field_, str(exc).removeprefix("benchwright: ").split("; fix:")[0],
                               str(exc).split("fix: ", 1)[-1] if "fix: " in str(exc) else
                               "make it with `benchwright dataset manifest DIR --out FILE`."))
        except FileNotFoundError:
            out.append(Problem(bfile, "dataset.manifest", f"{display_path(bench_dir / (ds.manifest or ''))} does not "
                               "exist", "make it with `benchwright dataset manifest DIR --out FILE` (relative to "
                               "the benchmark file)."))
    weights = bench.model.weights
    if weights.path is not None:
        try:
            local = expand_path(weights.path, field="model.weights.path", file=bfile)
            if not local.is_file():
                out.append(Problem(bfile, "model.weights.path", f"the model file {local} does not exist",
                                   "put the model there, or point `model.weights.path` at it."))
        except DatasetFolderError as exc:
            out.append(Problem(bfile, "model.weights.path", str(exc).removeprefix("benchwright: ").split("; fix:")[0],
                               str(exc).split("fix: ", 1)[-1]))
    for sku in sel.systems:
        system = plan.systems[sku]
        devices = sku_devices(system)
        for precision in sel.precisions:
            problem = precision_problem(devices[0], precision)
            if problem is None and bench.model.backend is Backend.onnxruntime and precision is not Precision.fp32 \
                    and not (precision is Precision.fp16 and system.onnxruntime.provider == "tensorrt"):
                problem = "the onnxruntime backend runs an ONNX model at its stored precision (fp32)"
            if problem:
                out.append(Problem(plan.files["campaign"], f"benchmarks.{name}.precisions",
                                   f"SKU `{sku}` ({device_kind(devices[0])}): {problem}",
                                   f"drop {precision.value} for `{name}` here, or run it on a SKU whose device runs it."))
    return out


def _check_calibration(bench: Benchmark, bench_dir: Path, bfile: str) -> list[Problem]:
    cal = bench.calibration
    assert cal is not None
    path = bench_dir / cal.sample_list
    if not path.is_file():
        return [Problem(bfile, "calibration.sample_list", f"{display_path(path)} does not exist",
                        "create the list (one sample id per line) or correct the path.")]
    actual = sha256_file(path)
    if actual != cal.sha256:
        return [Problem(bfile, "calibration.sha256", f"{display_path(path)} has sha256 {actual}, the benchmark "
                        f"declares {cal.sha256}", "restore the official calibration list; if it changed on "
                        "purpose, update `calibration.sha256`.")]
    return []

