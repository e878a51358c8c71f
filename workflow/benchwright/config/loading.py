"""Reading a campaign's YAML files: the campaign (config/config.yaml and any --configfile on top), its benchmark
and SKU files, and the run rules benchwright ships per MLPerf round.

Every file is parsed strictly (a duplicate key is an error) and validated against its schema; every problem
becomes a :class:`~benchwright.errors.Problem` naming file, field and fix. :func:`load_plan` reads everything a
campaign refers to, then holds it to the run rules (:mod:`benchwright.config.checks`) and returns the
:class:`~benchwright.config.plan.Plan`, or raises one :class:`~benchwright.errors.CampaignError` listing every
problem.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import CampaignError, Problem, display_path, problems_from_validation, suggest
from ..schemas import Benchmark, Campaign, RunRules, System
from .checks import check_run_rules
from .plan import Plan

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


# --- the campaign -------------------------------------------------------------------------------------------

def load_plan(config: Mapping[str, Any], config_files: Sequence[str | Path] = ("config/config.yaml",),
              root: str | Path = ".", *, checks: bool = True) -> Plan:
    """Validate a campaign (already parsed, e.g. Snakemake's ``config``) and everything it refers to.

    ``checks=False``: the schemas only, without the run-rule and workload checks (``benchwright dataset check``,
    which reports the missing data files those checks would stop at, in detail)."""
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
        elif bench is not None and campaign.benchmarks[name].fixture:
            if bench.fixture is None:
                problems.append(Problem(campaign_file, f"benchmarks.{name}.fixture", f"{shown} has no `fixture` "
                                        "section, so there are no stand-ins to run it on",
                                        "remove `fixture: true`, or describe the stand-ins in the benchmark file "
                                        "(see config/benchmarks/resnet50.yaml)."))
            else:
                benchmarks[name] = fixture_benchmark(bench)
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
    if checks:
        problems.extend(check_run_rules(plan, root=root))
    if problems:
        raise CampaignError(_attribute(problems, config_files))
    return plan


def fixture_benchmark(bench: Benchmark) -> Benchmark:
    """``bench`` on the stand-ins of its ``fixture`` section: the dataset folder and the model file the DAG makes
    under resources/fixtures/<name>/, verified by the pinned hashes exactly as a user's folder and model are."""
    from .. import paths
    from ..schemas.benchmark import Dataset, Weights

    fx = bench.fixture
    assert fx is not None
    dataset = Dataset(name=f"{bench.dataset.name}-fixture"[:64], licence="generated by benchwright fixture (no "
                      "licence needed)", description=f"stand-in for {bench.dataset.name}: `benchwright fixture "
                      f"{fx.dataset.kind}`, not real data", path=paths.fixture_dataset(bench.name),
                      manifest=fx.dataset.manifest, manifest_sha256=fx.dataset.manifest_sha256)
    weights = Weights(path=paths.fixture_model(bench.name, bench.model.format), sha256=fx.model.sha256)
    return bench.model_copy(update={"dataset": dataset, "model": bench.model.model_copy(update={"weights": weights})})


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


def load_benchmark_file(path: str | Path) -> Benchmark:
    """One benchmark file, validated with the same file/field/fix errors as a campaign (for commands run by hand
    on a benchmark the campaign does not select)."""
    problems: list[Problem] = []
    bench = _load_file(Benchmark, Path(path), problems)
    if bench is None:
        raise CampaignError(problems)
    if bench.name != Path(path).stem:
        raise CampaignError([Problem(display_path(path), "name", f"`name: {bench.name}` differs from the file name "
                                     f"`{Path(path).stem}`", f"set `name: {Path(path).stem}`.")])
    return bench


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

