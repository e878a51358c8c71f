"""The run-rule checks: cross-file checks that hold a validated campaign to its round's run rules, its division
and its mode, and check that every selected workload can run (task, preprocessing, local files, precisions on
the SKUs' devices). Each check returns the problems it found, each naming file, field and fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import Problem, display_path, suggest
from ..fsutil import sha256_file
from ..schemas import Benchmark, System
from ..schemas.base import Precision, RunMode
from .plan import Plan


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

    for sku in plan.systems_in_use:
        out.extend(_check_scales(plan, sku, plan.files[f"system:{sku}"]))

    for sku in c.accept_system_mismatch:
        if sku not in plan.systems:
            out.append(Problem(cfile, "accept_system_mismatch", f"`{sku}` is not a SKU this campaign uses",
                               suggest(sku, plan.systems)))

    for name, sel in c.benchmarks.items():
        out.extend(_check_workload(plan, name, sel, plan.files[f"benchmark:{name}"], root))

    if c.report.baseline:
        out.extend(_check_baseline(c.report.baseline, cfile, root))
    out.extend(_check_tiers(plan, cfile, root))

    for name in c.benchmarks:
        bench = plan.benchmarks[name]
        if bench.calibration is not None:
            out.extend(_check_calibration(bench, Path(root) / c.paths.benchmarks, plan.files[f"benchmark:{name}"]))
    return out


def _check_scales(plan: Plan, sku: str, sfile: str) -> list[Problem]:
    """``scales: <base>``: the base is a SKU the campaign runs, with the same accelerator model and another
    accelerator count (scaling efficiency compares the two)."""
    system = plan.systems[sku]
    base_name = system.scales
    if base_name is None:
        return []
    if base_name == sku:
        return [Problem(sfile, "scales", "a SKU cannot scale itself", "name the smaller SKU it scales up")]
    if base_name not in plan.systems_in_use:
        return [Problem(sfile, "scales", f"`{base_name}` is not a SKU this campaign runs, so there is nothing to "
                        "scale from", f"run `{base_name}` in the same benchmarks, or remove `scales`"
                        + (f" ({suggest(base_name, plan.systems_in_use)})" if plan.systems_in_use else ""))]
    base = plan.systems[base_name]
    out = []
    if base.accelerators.model_name != system.accelerators.model_name:
        out.append(Problem(sfile, "scales", f"`{sku}` has {system.accelerators.model_name} accelerators and "
                           f"`{base_name}` {base.accelerators.model_name}: scaling compares one accelerator model "
                           "at two counts", "scale a SKU of the same accelerator model, or remove `scales`"))
    elif base.accelerators_total == 0 or base.accelerators_total >= system.accelerators_total:
        out.append(Problem(sfile, "scales", f"`{sku}` and `{base_name}` have {system.accelerators_total} and "
                           f"{base.accelerators_total} accelerators: scaling needs the base to have accelerators, "
                           "and fewer of them", "name a base SKU with fewer accelerators of the same model"))
    return out


def _check_tiers(plan: Plan, cfile: str, root: Path) -> list[Problem]:
    """A tier that names its benchmarks limits only metrics they measure (p99 any; TTFT and TPOT only a
    text_generation benchmark), and names benchmark files that exist. A benchmark the campaign does not run, or
    runs in no Server or Interactive scenario, simply gives the tier no row (a `--configfile` may trim the
    campaign); a capacity demand may not name a benchmark its tier leaves out."""
    from ..report.tiers import TIER_METRICS

    c = plan.campaign
    folder = Path(root) / c.paths.benchmarks
    out = []
    for name, tier in c.report.tiers.items():
        limits = set(tier.limits())
        for bench in tier.benchmarks:
            if bench in plan.benchmarks:
                task = plan.benchmarks[bench].task.value
            elif (folder / f"{bench}.yaml").is_file():
                continue  # a benchmark this campaign does not run
            else:
                known = sorted(p.stem for p in folder.glob("*.yaml") if not p.name.endswith(".fixture.yaml"))
                out.append(Problem(cfile, f"report.tiers.{name}.benchmarks", f"`{bench}` is not a benchmark "
                                   f"(no {folder / (bench + '.yaml')})", suggest(bench, known)))
                continue
            lacking = sorted(m for m in limits if TIER_METRICS[m][1] and task != "text_generation")
            if lacking:
                out.append(Problem(
                    cfile, f"report.tiers.{name}", f"the tier limits {', '.join(lacking)}, which `{bench}` does not "
                    f"measure (a {task} benchmark has no token latencies; ttft_p99_ms and tpot_p99_ms need a "
                    "text_generation benchmark)",
                    f"limit only p99_ms for `{bench}`, or list text_generation benchmarks under the tier's "
                    "`benchmarks:`"))
    for i, demand in enumerate(c.report.capacity):
        tier = c.report.tiers.get(demand.tier)
        if tier is not None and demand.benchmark is not None and tier.benchmarks \
                and demand.benchmark not in tier.benchmarks:
            out.append(Problem(cfile, f"report.capacity[{i}].benchmark", f"the tier `{demand.tier}` does not "
                               f"apply to `{demand.benchmark}`", f"use one of {list(tier.benchmarks)}"))
    return out


def _check_baseline(baseline: str, cfile: str, root: Path) -> list[Problem]:
    """``report.baseline`` must name something that exists (what it holds is read when the report is made)."""
    from ..data.folder import DatasetFolderError, expand_path

    try:
        path = expand_path(baseline, field="report.baseline", file=cfile)
    except DatasetFolderError as err:
        return [Problem(cfile, "report.baseline", str(err), "set the variable, or write the path out")]
    if not (Path(root) / path).exists():
        return [Problem(cfile, "report.baseline", f"{path} does not exist",
                        "name an earlier campaign's folder (with results/report/results.csv), its results.csv, "
                        "or a submission bundle folder or tarball (e.g. submissions/<campaign>/v1); or remove the "
                        "field")]
    return []


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
            # The open division's models of our own may run on a smaller dataset than the official one (the LM's
            # 64 held-out passages against llama3.1-8b's 13,368); the bundle's checker run then names it.
            if inf.performance_sample_count < official.performance_sample_count and not division.own_models:
                out.append(Problem(bfile, "inference.performance_sample_count",
                                   f"{inf.performance_sample_count} is under the {inf.mlperf_benchmark} minimum of "
                                   f"{official.performance_sample_count}",
                                   f"use at least {official.performance_sample_count} (the dataset's performance "
                                   "set must hold that many samples)."))
            if not division.own_models and name not in (inf.mlperf_benchmark, official.loadgen_model):
                out.append(Problem(cfile, "division", f"the closed division runs only the official models; "
                                   f"`{name}` is a model of our own mapped to `{inf.mlperf_benchmark}`",
                                   "use `division: open`, or select the official benchmark (named "
                                   f"`{inf.mlperf_benchmark}` or `{official.loadgen_model}`)."))
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
                    needed = official.required_scenarios.get(stype)
                    if needed is None:
                        accepted = " or ".join(f"`{k}`" for k in official.required_scenarios) or "no system type"
                        out.append(Problem(cfile, f"{field_}.systems", f"MLPerf {rules.mlperf_version} does not "
                                           f"accept {inf.mlperf_benchmark} from a {stype} system (SKU `{sku}`); its "
                                           f"closed results come from {accepted} systems",
                                           f"submit it from a SKU of system type {accepted}, or use "
                                           "`division: open`."))
                        continue
                    missing = sorted(s.value for s in set(needed) - set(sel.scenarios))
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
    from ..data.folder import DatasetFolderError, expand_path, read_manifest
    from ..devices import device_kind, precision_problem, sku_devices
    from ..schemas.benchmark import Backend
    from ..tasks import TaskParameterError, UnknownTask, get_task

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
    for key, value in bench.model.task_parameters.items():
        try:
            task.configure({key: value})
        except TaskParameterError as exc:
            declared = ", ".join(f"{k} (default {v!r})" for k, v in task.parameters.items()) or "none"
            out.append(Problem(bfile, f"model.task_parameters.{key}", str(exc),
                               f"use the task's parameters: {declared}."))
    bench_dir = Path(root) / plan.campaign.paths.benchmarks
    ds = bench.dataset
    if ds.is_folder:
        try:
            folder = expand_path(ds.path or "", field="dataset.path", file=bfile)
            if not folder.is_dir() and not sel.fixture:  # a fixture's folder is made by the DAG
                out.append(Problem(bfile, "dataset.path", f"the dataset folder {folder} does not exist",
                                   "put the dataset there, or point `dataset.path` at it "
                                   f"(`benchwright dataset check {name}` lists what is expected)."))
            read_manifest(bench_dir / (ds.manifest or ""), ds.manifest_sha256)
        except DatasetFolderError as exc:
            out.append(Problem(bfile, exc.field or "dataset.manifest",
                               str(exc).removeprefix("benchwright: ").split("; fix:")[0],
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
            if sel.fixture:
                pass  # the DAG makes the stand-in model; its pinned hash is checked when it is copied
            elif not local.is_file():
                out.append(Problem(bfile, "model.weights.path", f"the model file {local} does not exist",
                                   "put the model there, or point `model.weights.path` at it."))
            elif weights.sha256 == "0" * 64:
                out.append(Problem(bfile, "model.weights.sha256", "is the 64-zero placeholder: the model file "
                                   f"{local} is not pinned yet", f"set it to `sha256sum {local}` of your verified "
                                   f"copy (`benchwright dataset check {name}` prints it)."))
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

