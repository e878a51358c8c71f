"""The inference part of an MLPerf submission tree (../shared/docs/mlperf-formats.md, section 2):

    <root>/<division>/<submitter>/
        systems/<system>.json                      the SKU with its detected facts
        src/                                       the code that produced the results
        documentation/README.md                    the campaign and a table of its results
        model_mapping.json                         open: our model directories -> official benchmarks
        results/<system>/<model>/<Scenario>/
            measurements.json  README.md  user.conf
            performance/run_1/mlperf_log_{detail,summary}.txt
            accuracy/mlperf_log_{detail,summary}.txt  mlperf_log_accuracy.json (first and last 4 KiB)  accuracy.txt
            TEST01/ TEST04/                        closed: the compliance tests' evidence
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from ..paths import SNAKEMAKE_MARK
from ..fsutil import atomic_write_json, atomic_write_text
from ..harness.accuracy import truncate_accuracy_log
from ..harness.logs import read_run
from .spec import BundleSpec, InferenceEntry

ACCURACY_LOG = "mlperf_log_accuracy.json"
RUN_LOGS = ("mlperf_log_detail.txt", "mlperf_log_summary.txt")


class AssemblyError(BenchwrightError):
    """A result the bundle needs is missing or unusable; the message names the file and the rule that makes it."""


def need_input(path: Path, what: str) -> Path:
    if not path.is_file() or path.stat().st_size == 0:
        state = "is empty" if path.is_file() else "is missing"
        raise AssemblyError(f"benchwright: {path} {state}; the bundle needs it ({what}).\n"
                            f"    fix: run the campaign to completion (snakemake --cores N) before assembling")
    return path


def recorded_commands(records: dict[str, str]) -> list[tuple[str, str, str]]:
    """(job, record, command) for each job record of a result: the command each job recorded it ran
    (``execution.command``, benchwright.provenance.run_facts). A record without one is an error naming it."""
    from ..paths import RUN_RECORD
    from ..provenance import MissingCommand, recorded_command

    out = []
    for job, record in records.items():
        try:
            out.append((job, record, recorded_command(need_input(Path(record), f"the {job}'s record"))))
        except MissingCommand as err:
            output = str(Path(record).parent) if Path(record).name == RUN_RECORD else record  # the job's output
            raise AssemblyError(f"benchwright: {err}; the bundle's README lists the commands the jobs recorded.\n"
                                f"    fix: run the {job} again with this benchwright: snakemake --cores N "
                                f"--forcerun {output}") from None
    return out


def command_lines(commands: list[tuple[str, str, str]]) -> list[str]:
    """The README lines of recorded commands: each under a comment naming its job and record."""
    return [line for job, record, command in commands for line in (f"    # {job}, as recorded in {record}",
                                                                     f"    {command}")]


def _copy(src: Path, dst: Path, what: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(need_input(src, what), dst)


def _metric(run) -> str:
    if run.metric_value is None:
        return "n/a"
    if run.metric_unit == "ns":
        return f"{run.metric_value / 1e6:.3f} ms ({run.metric})"
    return f"{run.metric_value:.1f} {run.metric_unit} ({run.metric})"


FIXTURE_README = (
    "**Fixture run.** The data and the model are stand-ins made by `benchwright fixture` (generated images or "
    "questions, a random-weight model with the official model's input and output names), not the benchmark's "
    "dataset and model: the numbers show that the pipeline works end to end and mean nothing about any system. "
    "The dataset's size, the sample count and the accuracy target are the benchmark's, which the stand-ins do "
    "not meet. Never submittable.")


def result_readme(spec: BundleSpec, entry: InferenceEntry, perf, accuracy_line: str, source_commit: str,
                  commands: list[tuple[str, str, str]]) -> str:
    """The result's README.md: what it is, its numbers, the campaign command that reproduces it, and the commands
    its jobs ran as they recorded them (``commands``: :func:`recorded_commands`)."""
    smoke = spec.mode.value == "smoke"
    mapped = f" (maps to the official benchmark `{entry.mlperf_benchmark}`)" if entry.mlperf_benchmark else ""
    duration_s = (perf.effective.get("min_duration_ms") or 0) / 1000
    lines = [
        f"# {entry.model} on {entry.system}: {entry.scenario.value}",
        "",
        f"MLPerf Inference {spec.mlperf_version}, {spec.division} division, submitter `{spec.submitter}`. "
        f"Benchmark `{entry.benchmark}`{mapped}, precision {entry.precision.value}; campaign `{spec.campaign}`, "
        f"code at commit `{source_commit}` (the submission's src/).",
        "",
        (f"**Run mode: smoke.** LoadGen ran for at least {duration_s:g} s instead of the 600 s a submission needs: "
         "this result shows the pipeline works and is not a valid submission result."
         if smoke else f"Run mode: submission (official LoadGen seeds, minimum duration {duration_s:g} s)."),
        "",
        *([FIXTURE_README, ""] if entry.fixture else []),
        "| | |",
        "|---|---|",
        f"| performance | {_metric(perf)}, {perf.result_validity} |",
        f"| accuracy | {accuracy_line} (target {entry.accuracy_target:.3f}% = {entry.accuracy_reference:g}% reference "
        f"x {entry.accuracy_target / entry.accuracy_reference:.3g}) |",
        *(f"| {t} | TEST PASS |" for t in entry.compliance_tests),
        "",
        "## Reproduce",
        "",
        "From a checkout of the code in src/ (or the repository at the commit above), in the campaign's working "
        "directory, with the campaign files of src/campaign/ in place:",
        "",
        "    pip install -e .",
        f"    {entry.reproduce}",
        "",
        "The commands its jobs ran, exactly as each job recorded them (not retyped; the LoadGen runs ran inside "
        "the SKU's container runtime, through `benchwright container-run`):",
        "",
        *command_lines(commands),
        "",
    ]
    return "\n".join(lines)


def add_result(org: Path, spec: BundleSpec, entry: InferenceEntry, source_commit: str) -> tuple[Path, Any, str]:
    """Copy one result into ``org/results/<system>/<model>/<Scenario>/``; return that folder, the performance
    run (benchwright.harness.logs.RunResult) and the accuracy line."""
    commands = recorded_commands(dict(entry.records))
    run = Path(entry.run)
    out = org / "results" / entry.system / entry.model / entry.scenario.value
    if out.exists():
        raise AssemblyError(f"benchwright: two results of the campaign land in {out} ({entry.benchmark} "
                            f"{entry.precision.value}); a closed submission holds one precision per benchmark")
    perf_dir, acc_dir = run / "performance", run / "accuracy"
    for name in RUN_LOGS:
        _copy(perf_dir / name, out / "performance" / "run_1" / name, "the performance run's LoadGen log")
        _copy(acc_dir / name, out / "accuracy" / name, "the accuracy run's LoadGen log")
    _copy(perf_dir / "user.conf", out / "user.conf", "the LoadGen overrides of the performance run")
    accuracy_txt = need_input(run / "accuracy.txt", "the accuracy script's output; run its accuracy_check rule")
    shutil.copyfile(accuracy_txt, out / "accuracy" / "accuracy.txt")
    truncate_accuracy_log(need_input(acc_dir / ACCURACY_LOG, "the accuracy run's log"), out / "accuracy" / ACCURACY_LOG)
    for test in entry.compliance_tests:
        src = run / test
        need_input(src / "verify_performance.txt", f"the {test} compliance test's verdict")
        shutil.copytree(src, out / test, ignore=shutil.ignore_patterns(SNAKEMAKE_MARK))
        log = out / test / "accuracy" / ACCURACY_LOG
        if log.exists():
            truncate_accuracy_log(src / "accuracy" / ACCURACY_LOG, log)
    atomic_write_json(out / "measurements.json", dict(entry.measurements))
    perf = read_run(perf_dir)
    accuracy_line = accuracy_txt.read_text().splitlines()[0].strip()
    atomic_write_text(out / "README.md", result_readme(spec, entry, perf, accuracy_line, source_commit, commands))
    return out, perf, accuracy_line


def refusals(spec: BundleSpec) -> list[dict[str, Any]]:
    """The results a bundle refuses, each with its reasons: a performance run that stayed INVALID, or an accuracy
    under the benchmark's target (a fixture's stand-in model aside). The DAG keeps them as results, so the report
    shows them; a submission must not hold them."""
    import json

    from ..paths import RUN_RECORD

    out = []
    for e in spec.inference:
        run = Path(e.run)
        perf = json.loads(need_input(run / "performance" / RUN_RECORD, "the performance run's record").read_text())
        result = perf.get("result") or {}
        reasons = []
        if result.get("result_validity") != "VALID":
            reasons.append(f"the performance run is {result.get('result_validity') or 'without a verdict'} "
                           f"({result.get('invalid_reason') or 'see its mlperf_log_summary.txt'})")
        accuracy = run / "accuracy.json"
        if accuracy.is_file() and not e.fixture:
            record = json.loads(accuracy.read_text())
            if record.get("meets_target") is False:
                reasons.append(f"the accuracy {record.get('accuracy')} is under the target {record.get('target')}")
        if reasons:
            out.append({"result": f"{e.system}/{e.benchmark}/{e.scenario.value}/{e.precision.value}",
                        "system": e.system, "benchmark": e.benchmark, "scenario": e.scenario.value,
                        "precision": e.precision.value, "reasons": reasons})
    return out


def documentation(spec: BundleSpec, rows: Iterable[tuple[InferenceEntry, object, str]],
                  refused: Iterable[dict[str, Any]] = ()) -> str:
    lines = [
        f"# {spec.submitter}: campaign `{spec.campaign}`",
        "",
        f"MLPerf Inference {spec.mlperf_version}, {spec.division} division, assembled by benchwright. Run mode: "
        f"{spec.mode.value}" + ("" if spec.submittable or spec.fixture else
                                " (not submittable: smoke runs are short)") + ".",
        "",
        *([FIXTURE_README, ""] if spec.fixture else []),
        "| system | model | benchmark | precision | scenario | performance | validity | accuracy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry, perf, acc in rows:
        lines.append(f"| {entry.system} | {entry.model} | {entry.mlperf_benchmark or entry.benchmark} | "
                     f"{entry.precision.value} | {entry.scenario.value} | {_metric(perf)} | "
                     f"{perf.result_validity} | {acc} |")
    refused = list(refused)
    if refused:
        lines += ["", "## Refused results", "",
                  "The campaign ran these, but they are not results a submission may hold; the campaign's report "
                  "shows them.", ""]
        lines += [f"- {r['result']}: {'; '.join(r['reasons'])}" for r in refused]
    return "\n".join(lines) + "\n"


def assemble_inference(root: Path, spec: BundleSpec, system_descriptions: dict[str, dict[str, str]],
                       source: Path, source_commit: str, refused: Iterable[dict[str, Any]] = ()) -> Path | None:
    """Write the inference tree of ``spec`` under ``root``; return ``root/<division>/<submitter>``."""
    if not spec.inference:
        return None
    org = root / spec.division / spec.submitter
    rows = []
    for entry in spec.inference:
        _, perf, accuracy_line = add_result(org, spec, entry, source_commit)
        rows.append((entry, perf, accuracy_line))
    for system in sorted({e.system for e in spec.inference}):
        atomic_write_json(org / "systems" / f"{system}.json", system_descriptions[system])
    if spec.division == "open":
        mapping = {e.model: e.mlperf_benchmark for e in spec.inference if e.mlperf_benchmark and e.model !=
                   e.mlperf_benchmark}
        unmapped = sorted({e.model for e in spec.inference if not e.mlperf_benchmark})
        if unmapped:
            raise AssemblyError(f"benchwright: models {unmapped} map to no official MLPerf benchmark; an open "
                                "result must name the benchmark of its task.\n    fix: set `inference.mlperf_benchmark`"
                                " in the benchmark's file (an image classifier maps to resnet)")
        atomic_write_json(org / "model_mapping.json", dict(sorted(mapping.items())))
    shutil.copytree(source, org / "src")
    atomic_write_text(org / "documentation" / "README.md", documentation(spec, rows, refused))
    return org
