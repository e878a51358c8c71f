"""The bundle validator: every rule of the submission specification (../shared/docs/mlperf-formats.md), each
violation reported in one line ``<file>: [<rule>] <what is wrong>; <what was expected>``.

It checks a bundle folder (with benchwright.json and SHA256SUMS), its tarball, or a bare MLPerf Inference root
(a folder holding closed/ or open/). A bare root claims to be a submission, so every rule applies to it.
A bundle of a smoke campaign says so in benchwright.json; short runs are then expected and reported as notes,
but a smoke result inside a bundle that claims to be submittable is a violation.

Rules (``benchwright check --rules`` lists them): see :data:`RULES`.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import known_rule_versions, load_rules
from ..fsutil import sha256_file
from ..harness.accuracy import TRUNCATION_MARK, accuracy_value, accuracy_values
from ..harness.logs import LogError, read_run
from ..harness.scenarios import policy
from ..schemas.base import Scenario
from ..schemas.rules import RunRules
from ..sysdesc import INFERENCE_FIELDS, INFERENCE_REQUIRED, TRAINING_FIELDS, TRAINING_STATUS
from .bundle import MANIFEST, METADATA, bundle_files, read_manifest
from .spec import BUNDLE_FORMAT
from .training import PackageCheckFailed, check_training_package, result_summary

RULES = {
    "missing-file": "a file or folder the specification requires is absent",
    "empty-file": "a required file is empty",
    "bad-file": "a file is not in its format (JSON, accuracy.txt, SHA256SUMS, benchwright.json)",
    "manifest": "SHA256SUMS does not match the files (changed, missing or unlisted file)",
    "system-field": "systems/<system>.json lacks a field, leaves a required one empty, or has a wrong value",
    "system-missing": "results/<system>/ has no systems/<system>.json",
    "division": "a folder's division or submitter differs from what the files say",
    "unmapped-model": "a model folder is neither an official benchmark nor mapped to one in model_mapping.json",
    "scenario": "a scenario folder is not a LoadGen scenario, or its log ran another scenario or mode",
    "token-latencies": "an LLM result ran without LoadGen's token latencies (requested_use_token_latencies)",
    "missing-scenario": "closed: a scenario the benchmark requires on the system type is absent, or the round does "
                        "not accept the benchmark from that system type",
    "measurements": "measurements.json lacks a required field",
    "invalid-run": "the performance run is not VALID",
    "loadgen-error": "LoadGen logged an error",
    "seeds": "the run did not use the round's official LoadGen seeds",
    "min-duration": "the performance run's minimum duration is under the round's 600 s",
    "early-stopping": "SingleStream/MultiStream/Server: early stopping not met",
    "query-count": "the run issued fewer queries or (Offline) samples than the round requires",
    "accuracy-coverage": "accuracy.txt does not score every sample of the accuracy run",
    "stray-file": "a file the official checker refuses: dotfiles, spaces, __pycache__, empty folders, files over "
                  "50 MB, unknown files in performance/run_1 or accuracy/, files outside the submitter folder",
    "sample-count": "performance_sample_count is under the official benchmark's",
    "accuracy-log": "the accuracy log is 10 KiB or more (keep its first and last 4 KiB)",
    "accuracy-hash": "accuracy.txt lacks the hash line of the full accuracy log, or it does not match",
    "accuracy-target": "accuracy is under the target",
    "compliance": "closed: a compliance test is missing or did not pass",
    "smoke-result": "a smoke-mode result in a bundle that claims to be submittable",
    "fixture-result": "a result on `benchwright fixture` stand-ins in a bundle that claims to be submittable",
    "training-results": "too few training result files, or a run that did not converge beyond the allowance",
    "training-checker": "mlperf-logging's package or compliance checker rejects the training tree",
    "provenance": "a result without a provenance record, or a hash of its provenance chain that does not hold "
                  "(benchwright verify)",
}

ACCURACY_LOG_LIMIT = 10 * 1024
FILE_SIZE_LIMIT = 50 * 1024 * 1024
PERF_FILES = {"mlperf_log_summary.txt", "mlperf_log_detail.txt"}
PERF_OPTIONAL = {"mlperf_log_accuracy.json", "mlperf_log_trace.json"}
ACCURACY_FILES = {"mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "accuracy.txt"}
MEASUREMENT_FIELDS = ("input_data_types", "retraining", "starting_weights_filename", "weight_data_types",
                      "weight_transformations")
INFERENCE_STATUS = ("available", "preview", "rdi")
SYSTEM_TYPES = ("datacenter", "edge", "datacenter,edge")
RUN_FILES = ("mlperf_log_detail.txt", "mlperf_log_summary.txt")
_HASH_LINE = re.compile(r"^hash=(?P<hash>[0-9a-f]{64})$")


@dataclass(frozen=True)
class Violation:
    path: str
    rule: str
    message: str

    def line(self) -> str:
        return f"{self.path}: [{self.rule}] {self.message}"


@dataclass
class Report:
    root: str
    submittable: bool
    mode: str
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=lambda: {"inference results": 0, "training results": 0})
    fixture: bool = False
    """benchwright.json says the bundle holds results on `benchwright fixture` stand-ins."""

    @property
    def ok(self) -> bool:
        return not self.violations

    def text(self) -> str:
        what = ", ".join(f"{n} {k}" for k, n in self.checked.items())
        claim = "submittable" if self.submittable else \
            f"{self.mode} mode{', fixture run' if self.fixture else ''}, not submittable"
        lines = [v.line() for v in self.violations] + [f"note: {n}" for n in self.notes]
        verdict = (f"PASS: {self.root} ({claim}): {what}, no violation" if self.ok else
                   f"FAIL: {self.root} ({claim}): {what}, {len(self.violations)} violation(s)")
        return "\n".join([*lines, verdict]) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {"root": self.root, "ok": self.ok, "submittable": self.submittable, "mode": self.mode,
                "fixture": self.fixture,
                "checked": self.checked, "violations": [v.__dict__ for v in self.violations], "notes": self.notes}


class _Checker:
    def __init__(self, root: Path, report: Report, rules: RunRules, meta: dict[str, Any] | None):
        self.root, self.report, self.rules, self.meta = root, report, rules, meta
        self.short_runs: list[Any] = []

    def finish(self) -> None:
        if self.short_runs:
            self.report.notes.append(
                f"{len(self.short_runs)} performance run(s) ran for at least {min(self.short_runs)} ms, under the "
                f"{self.rules.inference.min_duration_ms} ms a submission needs: expected in {self.report.mode} mode, "
                "and the reason this bundle does not claim to be submittable")

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)

    def fail(self, path: Path, rule: str, message: str) -> None:
        self.report.violations.append(Violation(self.rel(path), rule, message))

    def fail_unless_fixture(self, d: Path, path: Path, rule: str, message: str) -> None:
        """A violation that a fixture result's stand-in data implies (too few samples, a random model's accuracy):
        a note for a result benchwright.json marks as a fixture run, a violation for any other."""
        entry = self._meta_result(d)
        if entry is not None and entry.get("fixture"):
            self.report.notes.append(f"{self.rel(path)}: [{rule}] {message} (expected of a fixture run's "
                                     "stand-ins)")
        else:
            self.fail(path, rule, message)

    def need(self, path: Path, what: str, *, folder: bool = False) -> bool:
        """A required file (non-empty) or folder (holding a file); False, with the violation, when it is not."""
        if folder:
            if not path.is_dir():
                self.fail(path, "missing-file", f"missing folder: {what}")
                return False
            if not any(p.is_file() for p in path.rglob("*")):
                self.fail(path, "empty-file", f"empty folder: {what}")
                return False
            return True
        if not path.is_file():
            self.fail(path, "missing-file", f"missing file: {what}")
            return False
        if path.stat().st_size == 0:
            self.fail(path, "empty-file", f"empty file: {what}")
            return False
        return True

    def json_file(self, path: Path, what: str) -> Any:
        if not self.need(path, what):
            return None
        try:
            return json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            self.fail(path, "bad-file", f"not JSON ({err}); expected {what}")
            return None

    # --- bundle level -------------------------------------------------------------------------------------

    def manifest(self) -> None:
        path = self.root / MANIFEST
        if not self.need(path, "the sha256 manifest of every file"):
            return
        try:
            listed = read_manifest(self.root)
        except ValueError as err:
            self.fail(path, "bad-file", f"{err}")
            return
        present = set(bundle_files(self.root))
        for rel, digest in sorted(listed.items()):
            if rel not in present:
                self.fail(self.root / rel, "manifest", "listed in SHA256SUMS but absent from the bundle")
            elif sha256_file(self.root / rel) != digest:
                self.fail(self.root / rel, "manifest", f"sha256 differs from SHA256SUMS ({digest[:12]}...): the file "
                          "changed after assembly")
        for rel in sorted(present - set(listed)):
            self.fail(self.root / rel, "manifest", "not listed in SHA256SUMS: added after assembly")

    def provenance(self) -> None:
        from .verify import Verification, check_provenance

        found = Verification(str(self.root))
        check_provenance(self.root, self.meta or {}, found, files=False)  # the result files: by their own rules
        for line in found.errors:
            path, _, message = line.partition(": ")
            self.report.violations.append(Violation(path, "provenance", message))
        self.report.notes.extend(f"provenance: {w}" for w in found.warnings[:5])
        if len(found.warnings) > 5:
            self.report.notes.append(f"provenance: {len(found.warnings) - 5} more warning(s); see benchwright verify")

    # --- inference --------------------------------------------------------------------------------------

    def official(self) -> dict[str, Any]:
        return self.rules.inference.benchmarks

    def inference_root(self, root: Path) -> None:
        divisions = [d for d in sorted(root.iterdir()) if d.is_dir()] if root.is_dir() else []
        if not divisions:
            self.fail(root, "missing-file", "no division folder (closed/ or open/)")
        for stray in sorted(p for p in root.iterdir() if p.is_file() and p.suffix not in (".md", ".pdf")):
            self.fail(stray, "stray-file", "a file beside the division folders; the official checker allows only "
                      ".md and .pdf there")
        for division in divisions:
            for stray in sorted(p for p in division.iterdir() if p.is_file()):
                self.fail(stray, "stray-file", "a file outside every submitter folder")
            if division.name not in ("closed", "open"):
                self.fail(division, "division", f"`{division.name}` is not a division; expected closed or open")
                continue
            if self.meta and division.name != self.meta.get("division"):
                self.fail(division, "division", f"division `{division.name}` differs from the bundle's "
                          f"`{self.meta.get('division')}`")
            for org in sorted(p for p in division.iterdir() if p.is_dir()):
                self.organisation(org, division.name)

    def organisation(self, org: Path, division: str) -> None:
        submitter = org.name
        if self.meta and submitter != self.meta.get("submitter"):
            self.fail(org, "division", f"submitter folder `{submitter}` differs from the bundle's "
                      f"`{self.meta.get('submitter')}`")
        self.need(org / "src", "src/ holds the code that produced the results", folder=True)
        self.hygiene(org)
        mapping: dict[str, str] = {}
        if division == "open":
            data = self.json_file(org / "model_mapping.json", "model_mapping.json: {our model: official benchmark}")
            if data is not None and not (isinstance(data, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                                         for k, v in data.items())):
                self.fail(org / "model_mapping.json", "bad-file", "expected an object of model name -> benchmark")
            elif data:
                mapping = data
        results = org / "results"
        if not self.need(results, "results/<system>/<model>/<Scenario>/", folder=True):
            return
        for system_dir in sorted(p for p in results.iterdir() if p.is_dir()):
            system = self.system(org / "systems" / f"{system_dir.name}.json", division, submitter)
            for model_dir in sorted(p for p in system_dir.iterdir() if p.is_dir()):
                benchmark = self.model(model_dir, division, mapping)
                present = set()
                for scenario_dir in sorted(p for p in model_dir.iterdir() if p.is_dir()):
                    if self.result(scenario_dir, division, benchmark):
                        present.add(scenario_dir.name)
                if division == "closed" and system is not None:
                    self.required_scenarios(model_dir, system.get("system_type", ""), benchmark, present)

    def hygiene(self, org: Path) -> None:
        """What the official checker refuses inside a submitter folder (git- and archive-unfriendly names)."""
        for path in sorted(org.rglob("*")):
            name = path.name
            if name.startswith(".") or name == "__pycache__" or " " in name:
                self.fail(path, "stray-file", "dotfiles, __pycache__ and names with spaces are refused")
            elif path.is_dir() and not any(path.iterdir()):
                self.fail(path, "stray-file", "an empty folder")
            elif path.is_file() and path.stat().st_size > FILE_SIZE_LIMIT:
                self.fail(path, "stray-file", f"{path.stat().st_size} bytes; files over 50 MB are refused")

    def exact_files(self, folder: Path, required: set[str], optional: set[str]) -> None:
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if path.name not in required | optional:
                self.fail(path, "stray-file", f"not a file of {folder.name}/ (expected {sorted(required)})")

    def system(self, path: Path, division: str, submitter: str) -> dict[str, Any] | None:
        if not path.is_file():
            self.fail(path, "system-missing", f"results/{path.stem}/ has no system description; expected "
                      f"systems/{path.name} with the {len(INFERENCE_FIELDS)} system fields")
            return None
        data = self.json_file(path, "the system description")
        if not isinstance(data, dict):
            return None
        for key in INFERENCE_FIELDS:
            if key not in data:
                self.fail(path, "system-field", f"field `{key}` is missing")
            elif not isinstance(data[key], str):
                self.fail(path, "system-field", f"field `{key}` is {type(data[key]).__name__}; values are strings")
            elif key in INFERENCE_REQUIRED and not data[key].strip():
                self.fail(path, "system-field", f"field `{key}` is empty; it is required (\"N/A\" where nothing "
                          "applies)")
        if data.get("status") not in (None, *INFERENCE_STATUS):
            self.fail(path, "system-field", f"status `{data['status']}`; expected one of {list(INFERENCE_STATUS)}")
        if data.get("system_type") not in (None, *SYSTEM_TYPES):
            self.fail(path, "system-field", f"system_type `{data['system_type']}`; expected one of "
                      f"{list(SYSTEM_TYPES)}")
        for key, expected in (("division", division), ("submitter", submitter)):
            if key in data and data[key] != expected:
                self.fail(path, "division", f"field `{key}` is `{data[key]}`; the folder says `{expected}`")
        return data

    def model(self, model_dir: Path, division: str, mapping: dict[str, str]) -> str | None:
        """The official benchmark a model folder stands for; None (with a violation) when it stands for none."""
        name = model_dir.name
        if name in self.official():
            return name
        if division == "closed":
            self.fail(model_dir, "unmapped-model", f"`{name}` is not an official benchmark; closed results use "
                      f"the official names ({', '.join(self.official())})")
            return None
        target = mapping.get(name)
        if target is None:
            self.fail(model_dir, "unmapped-model", f"model `{name}` is not in model_mapping.json; map it to the "
                      "official benchmark of its task (an image classifier maps to resnet)")
            return None
        if target not in self.official():
            self.fail(model_dir, "unmapped-model", f"model_mapping.json maps `{name}` to `{target}`, which is not "
                      f"an official benchmark of round {self.rules.mlperf_version} ({', '.join(self.official())})")
            return None
        return target

    def required_scenarios(self, model_dir: Path, system_type: str, benchmark: str | None, present: set[str]
                           ) -> None:
        """The benchmark's required scenarios on the system type (the checker's required-scenarios-<type>)."""
        official = self.official().get(benchmark) if benchmark else None
        if official is None or system_type not in SYSTEM_TYPES:
            return  # an unmapped model or a bad system_type is reported already
        listed = official.required_scenarios.get(system_type)
        if listed is None:
            accepted = " or ".join(official.required_scenarios) or "no system type"
            self.fail(model_dir, "missing-scenario", f"round {self.rules.mlperf_version} does not accept {benchmark} "
                      f"from a {system_type} system (only {accepted})")
            return
        required = {s.value for s in listed}
        for scenario in sorted(required - present):
            if self.report.submittable:
                self.fail(model_dir / scenario, "missing-scenario", f"closed {system_type} results need {scenario}")
            else:
                self.report.notes.append(f"{self.rel(model_dir)}: no {scenario}, which a closed {system_type} "
                                         f"submission needs (a {self.report.mode} bundle need not be complete)")

    def _meta_result(self, scenario_dir: Path) -> dict[str, Any] | None:
        rel = self.rel(scenario_dir)
        return next((e for e in (self.meta or {}).get("inference", []) if e.get("path") == rel), None)

    def result(self, d: Path, division: str, benchmark: str | None) -> bool:
        """One scenario folder; True when it is a scenario folder at all."""
        if d.name not in {s.value for s in Scenario}:
            self.fail(d, "scenario", f"`{d.name}` is not a scenario; expected one of {[s.value for s in Scenario]}")
            return False
        self.report.checked["inference results"] += 1
        for name in ("README.md", "user.conf"):
            self.need(d / name, {"README.md": "how to reproduce this result", "user.conf": "the LoadGen overrides "
                                 "that were used"}[name])
        measurements = self.json_file(d / "measurements.json", "measurements.json")
        if isinstance(measurements, dict):
            for key in MEASUREMENT_FIELDS:
                if not str(measurements.get(key, "")).strip():
                    self.fail(d / "measurements.json", "measurements", f"field `{key}` is missing or empty")
        official = self.official().get(benchmark) if benchmark else None
        smoke = _smoke(d / "user.conf")
        claims = self.report.submittable
        if claims and (self._meta_result(d) or {}).get("fixture"):
            self.fail(d / "README.md", "fixture-result", "a result on `benchwright fixture` stand-ins in a bundle "
                      "that claims to be submittable; run the campaign on the benchmark's own data and model")
        if smoke and claims:
            self.fail(d / "user.conf", "smoke-result", "a smoke-mode result in a bundle that claims to be "
                      "submittable; run the campaign with `mode: submission`")
        self.exact_files(d / "performance" / "run_1", PERF_FILES, PERF_OPTIONAL)
        self.exact_files(d / "accuracy", ACCURACY_FILES, set())
        perf = self.run(d / "performance" / "run_1", d.name, "PerformanceOnly")
        if perf is not None:
            self.query_count(d, perf, official)
            if perf.result_validity != "VALID":
                self.fail(d / "performance/run_1/mlperf_log_detail.txt", "invalid-run",
                          f"result_validity is {perf.result_validity}" +
                          (f" ({perf.invalid_reason})" if perf.invalid_reason else "") + "; expected VALID")
            minimum = self.rules.inference.min_duration_ms
            duration = perf.effective.get("min_duration_ms")
            if not isinstance(duration, int) or duration < minimum:
                message = (f"effective_min_duration_ms is {duration}; a submission run needs at least {minimum}")
                if claims:
                    self.fail(d / "performance/run_1/mlperf_log_detail.txt", "min-duration", message)
                else:
                    self.short_runs.append(duration)
            if policy(d.name).early_stopping and perf.early_stopping_met is not True:
                self.fail(d / "performance/run_1/mlperf_log_detail.txt", "early-stopping",
                          f"early_stopping_met is {perf.early_stopping_met}; {d.name} needs true")
            if official is not None:
                count = perf.effective.get("performance_sample_count")
                if not isinstance(count, int) or count < official.performance_sample_count:
                    message = (f"performance_sample_count is {count}; {benchmark} needs at least "
                               f"{official.performance_sample_count}")
                    fixture = (self._meta_result(d) or {}).get("fixture")
                    if division == "open" and not claims and not fixture:  # a model of our own, a smaller dataset
                        self.report.notes.append(f"{self.rel(d)}: {message} (open division, not submittable)")
                    else:
                        self.fail_unless_fixture(d, d / "performance/run_1/mlperf_log_detail.txt", "sample-count",
                                                 message)
                if official.task.value == "text_generation" and perf.requested.get("use_token_latencies") not in (
                        1, True, "true"):
                    self.fail(d / "performance/run_1/mlperf_log_detail.txt", "token-latencies",
                              "requested_use_token_latencies is not set; an LLM result needs LoadGen's token "
                              "latencies (TTFT, TPOT)")
        accuracy_run = self.run(d / "accuracy", d.name, "AccuracyOnly")
        self.accuracy(d, division, benchmark, accuracy_run)
        if division == "closed" and official is not None:
            for test in official.compliance_tests:
                self.compliance(d / test, test)
        return True

    def query_count(self, d: Path, perf, official) -> None:
        log = d / "performance/run_1/mlperf_log_detail.txt"
        if perf.min_queries_met is False:
            self.fail(log, "query-count", "result_min_queries_met is false: the run issued fewer queries than its "
                      "minimum")
        minimum = official.offline_min_samples_per_query if official is not None else None
        if policy(d.name).min_samples_per_query and minimum:
            samples = perf.effective.get("samples_per_query")
            if not isinstance(samples, int) or samples < minimum:
                message = f"effective_samples_per_query is {samples}; an Offline run needs at least {minimum}"
                if self.report.submittable:
                    self.fail(log, "query-count", message)
                else:
                    self.report.notes.append(f"{self.rel(d)}: {message}")

    def run(self, run_dir: Path, scenario: str, mode: str):
        ok = all([self.need(run_dir / name, f"LoadGen's {name}") for name in RUN_FILES])
        if not ok:
            return None
        try:
            run = read_run(run_dir)
        except (LogError, ValueError) as err:
            self.fail(run_dir / RUN_FILES[0], "bad-file", f"not a complete LoadGen log: {str(err).splitlines()[0]}")
            return None
        log = run_dir / RUN_FILES[0]
        runs_as = policy(scenario).loadgen_name if scenario in Scenario.__members__ else scenario
        if run.scenario.value != runs_as or run.mode != mode:
            self.fail(log, "scenario", f"the log ran {run.scenario.value} {run.mode}; the folder needs {scenario} "
                      f"{mode}" + (f" (LoadGen's {runs_as})" if runs_as != scenario else ""))
        for error in run.errors:
            self.fail(log, "loadgen-error", f"LoadGen logged an error: {error[:200]}")
        seeds = self.rules.inference.seeds
        for key in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"):
            value, expected = run.effective.get(key), getattr(seeds, key)
            if value != expected:
                self.fail(log, "seeds", f"effective_{key} is {value}; round {self.rules.mlperf_version} requires "
                          f"{expected}")
        return run

    def accuracy(self, d: Path, division: str, benchmark: str | None, run) -> None:
        acc = d / "accuracy"
        log = acc / "mlperf_log_accuracy.json"
        if self.need(log, "the accuracy run's mlperf_log_accuracy.json (first and last 4 KiB)"):
            size = log.stat().st_size
            if size >= ACCURACY_LOG_LIMIT:
                self.fail(log, "accuracy-log", f"{size} bytes; a bundle keeps it under {ACCURACY_LOG_LIMIT} bytes "
                          "(its first and last 4 KiB)")
        text_file = acc / "accuracy.txt"
        if not self.need(text_file, "the accuracy script's output and the hash of the full accuracy log"):
            return
        text = text_file.read_text()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        official = self.official().get(benchmark) if benchmark else None
        metric = _target_metric(official.task) if official is not None else None
        value = accuracy_value(text, metric)
        if value is None:
            expected = '`{"exact_match": ..., "f1": ...}`' if metric in ("f1", "exact_match") else \
                "`accuracy=<percent>%`"
            self.fail(text_file, "bad-file", f"no {expected} line (the accuracy script's output)")
        hashes = [m for m in (_HASH_LINE.match(line) for line in lines[-1:]) if m]
        if not hashes:
            self.fail(text_file, "accuracy-hash", "the last line is not `hash=<sha256 of the full accuracy log>`")
        elif log.is_file() and TRUNCATION_MARK not in log.read_bytes() and sha256_file(log) != hashes[0]["hash"]:
            self.fail(text_file, "accuracy-hash", "hash= does not match mlperf_log_accuracy.json, which is whole")
        if value is None:
            return
        total = accuracy_values(text).get("total")
        if run is not None:
            self.coverage(run, text_file, None if total is None else str(total))
        target, source = None, ""
        if division == "closed" and official is not None:
            target = official.accuracy_reference * min(official.target_fractions)
            source = f"{official.accuracy_reference:g}% x {min(official.target_fractions):g} ({benchmark})"
        entry = self._meta_result(d)
        if entry is not None and entry.get("accuracy_target") is not None:
            target = float(entry["accuracy_target"])
            source = f"{entry.get('benchmark')}'s reference {entry.get('accuracy_reference')}% x fraction"
        if target is not None and value < target - 1e-9:
            self.fail_unless_fixture(d, text_file, "accuracy-target", f"{'accuracy' if metric in (None, 'top1') else metric} {value:.3f}% is under the target {target:.3f}% "
                      f"({source})")

    def coverage(self, run, text_file: Path, total: str | None) -> None:
        """The accuracy script scores every sample the accuracy run covered (LoadGen's QSL total count)."""
        covered = run.effective.get("accuracy_sample_count") or run.sample_count
        if total is not None and covered and int(total) != covered:
            self.fail(text_file, "accuracy-coverage", f"total={total}, but the accuracy run covered {covered} "
                      "samples; score the whole log")

    def compliance(self, test_dir: Path, test: str) -> None:
        if not test_dir.is_dir():
            self.fail(test_dir, "compliance", f"{test} is missing; closed results need it")
            return
        files = ["verify_performance.txt"] + (["verify_accuracy.txt"] if test == "TEST01" else [])
        for name in files:
            path = test_dir / name
            if not self.need(path, f"{test}'s verdict"):
                continue
            if "TEST PASS" not in path.read_text():
                self.fail(path, "compliance", f"{test} did not pass (no `TEST PASS` line)")
        self.need(test_dir / "performance/run_1/mlperf_log_detail.txt", f"{test}'s performance log")

    # --- training --------------------------------------------------------------------------------------

    def training_root(self, root: Path, tools: bool) -> None:
        for org in sorted(p for p in root.iterdir() if p.is_dir()):
            self.training_org(org, tools)

    def training_org(self, org: Path, tools: bool) -> None:
        skipped = self.training_tools(org) if tools else set()
        for sys_file in sorted((org / "systems").glob("*.json")):
            self.training_system(sys_file)
        for bench_dir in sorted((org / "results").glob("*/*")):
            if bench_dir.is_dir():
                self.training_result(org, bench_dir, tools and bench_dir.name in skipped)

    def training_system(self, path: Path) -> None:
        data = self.json_file(path, "the training system description")
        if not isinstance(data, dict):
            return
        for key in TRAINING_FIELDS:
            if key not in data:
                self.fail(path, "system-field", f"field `{key}` is missing (training needs {len(TRAINING_FIELDS)})")
        if "status" in data and data["status"] not in TRAINING_STATUS.values():
            self.fail(path, "system-field", f"status `{data['status']}`; expected one of "
                      f"{list(TRAINING_STATUS.values())}")

    def _meta_training(self, bench_dir: Path) -> dict[str, Any] | None:
        rel = self.rel(bench_dir)
        return next((e for e in (self.meta or {}).get("training", []) if e.get("path") == rel), None)

    def training_result(self, org: Path, bench_dir: Path, check_logs: bool) -> None:
        self.report.checked["training results"] += 1
        if not (org / "systems" / f"{bench_dir.parent.name}.json").is_file():
            self.fail(bench_dir.parent, "system-missing", f"no systems/{bench_dir.parent.name}.json")
        entry = self._meta_training(bench_dir)
        required = entry["required_runs"] if entry else self._official_runs(bench_dir.name)
        logs = sorted(bench_dir.glob("result_*.txt"))
        if required and len(logs) < required:
            self.fail(bench_dir, "training-results", f"{len(logs)} result files; {bench_dir.name} needs {required}")
        aborted = []
        for log in logs:
            if not self.need(log, "a training run's MLPerf log"):
                continue
            stops = [line for line in log.read_text(errors="replace").splitlines() if '"key": "run_stop"' in line]
            if not stops:
                self.fail(log, "training-results", "no run_stop: the run did not finish")
            elif '"status": "success"' not in stops[-1]:
                aborted.append(log.name)
        allowed = self.rules.training.allowed_non_converged_runs
        if len(aborted) > allowed:
            self.fail(bench_dir, "training-results", f"{len(aborted)} runs did not converge ({', '.join(aborted)}); "
                      f"at most {allowed} may")
        if check_logs:
            rules = Path(entry["rules"]) if entry and entry.get("rules") else None
            rules = self.root / rules if rules is not None else None
            if rules is None or not rules.is_file():
                self.fail(bench_dir, "training-checker", f"{bench_dir.name} is outside ruleset "
                          f"{self.rules.training.ruleset} and the bundle has no compliance rules for it")
                return
            for log in logs:
                self._compliance_log(log, rules)

    def _official_runs(self, benchmark: str) -> int | None:
        try:
            from mlperf_logging.benchmark_meta import get_result_file_counts
            return get_result_file_counts("training").get(benchmark)
        except Exception:  # noqa: BLE001 - an unknown benchmark has no official count
            return None

    def _compliance_log(self, log: Path, rules: Path) -> None:
        from ..training.check import ComplianceCheckFailed, check_training_log

        try:
            check_training_log(log, ruleset=self.rules.training.ruleset, rules=rules)
        except ComplianceCheckFailed as err:
            failing = [line.strip() for line in str(err).splitlines() if "ERROR" in line or "FAILED" in line]
            self.fail(log, "training-checker", "mlperf-logging's compliance checker rejects it: "
                      + ("; ".join(failing[:3]) or str(err).splitlines()[0])[:300])

    def summarize(self, org: Path, skipped: set[str]) -> None:
        """mlperf-logging's result summarizer: it scores only the ruleset's own benchmarks (it has no columns for
        others and crashes on them), so a tree with a benchmark of our own is scored by benchwright's score.json."""
        ruleset = self.rules.training.ruleset
        if skipped:
            self.report.notes.append(f"{self.rel(org)}: mlperf-logging's result summarizer scores only ruleset "
                                     f"{ruleset}'s benchmarks, not {sorted(skipped)}; their olympic mean is in "
                                     "results/training/<system>/<benchmark>/score.json")
            return
        with tempfile.TemporaryDirectory() as tmp:
            proc = result_summary(org, ruleset, Path(tmp) / "summary.csv")
            produced = sorted(Path(tmp).glob("*.csv"))
            if proc["returncode"] != 0 or not produced:
                last = proc["output"].strip().splitlines()[-1:] or ["no output"]
                self.fail(org, "training-checker", f"mlperf-logging's result summarizer fails: {last[0][:300]}")
                return
            for path in produced:
                for row in _summary_rows(path.read_text()):
                    scores = {k: v for k, v in row.items() if k and v and k not in ("division", "system",
                              "submitter", "availability", "accelerator_model_name", "framework", "id",
                              "host_processor_model_name", "host_processors_count", "accelerators_count",
                              "Details", "Code", "Notes", "Public ID")}
                    self.report.notes.append(f"{self.rel(org)}: result summarizer ({path.name}): "
                                             f"{row.get('system')}: {scores}")

    def training_tools(self, org: Path) -> set[str]:
        """mlperf-logging's package checker on one submitter folder; returns the benchmarks it skipped (outside its
        ruleset), which are then checked log by log with the bundle's own rules."""
        ruleset = self.rules.training.ruleset
        try:
            out = check_training_package(org, ruleset)
        except PackageCheckFailed as err:
            out = err.report
            errors = [line.strip() for line in out.splitlines() if "ERROR" in line][:5]
            self.fail(org, "training-checker", f"mlperf-logging's package checker (training {ruleset}) fails: "
                      + ("; ".join(errors) or (out.strip().splitlines() or ["no output"])[-1])[:400])
        skipped = set(re.findall(r"Skipping benchmark: (\S+)", out))
        self.summarize(org, skipped)
        if skipped:
            self.report.notes.append(f"{self.rel(org)}: mlperf-logging's package checker skips {sorted(skipped)} "
                                     f"(outside training ruleset {ruleset}); each of their logs is checked with "
                                     "mlperf-logging's compliance checker and the bundle's compliance.yaml")
        return skipped


def _summary_rows(csv_text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(csv_text)))


def _smoke(user_conf: Path) -> bool:
    """benchwright marks a smoke run in its user.conf's first line ("..., smoke mode")."""
    if not user_conf.is_file():
        return False
    first = user_conf.read_text(errors="replace").splitlines()[:1]
    return bool(first) and "smoke mode" in first[0]


def _rules_for(meta: dict[str, Any] | None) -> RunRules:
    version = str(meta.get("mlperf_version")) if meta else known_rule_versions()[-1]
    return load_rules(version if version in known_rule_versions() else known_rule_versions()[-1])


@dataclass
class _Target:
    root: Path
    shown: str


def _unpacked(path: Path) -> Iterator[_Target]:
    """A tarball is extracted (safely) into a temporary folder; its single top folder is the bundle."""
    from ..data.archive import unpacked_bundle

    with unpacked_bundle(path) as root:
        yield _Target(root, str(path))


def check_bundle(path: str | Path, *, training_tools: bool = True) -> Report:
    """Validate a bundle folder, its tarball, or a bare MLPerf Inference root; return the report."""
    path = Path(path)
    if path.is_file():
        for target in _unpacked(path):
            report = _check_folder(target.root, training_tools)
            report.root = target.shown
            return report
    return _check_folder(path, training_tools)


def _check_folder(root: Path, training_tools: bool) -> Report:
    if not root.is_dir():
        report = Report(str(root), True, "unknown")
        report.violations.append(Violation(str(root), "missing-file", "no such bundle folder or tarball"))
        return report
    meta = None
    meta_problem = None
    if (root / METADATA).is_file():
        try:
            meta = json.loads((root / METADATA).read_text())
            if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
                meta_problem, meta = f"not a {BUNDLE_FORMAT} file", None
        except ValueError as err:
            meta_problem = f"not JSON ({err})"
    submittable = bool(meta.get("submittable", True)) if meta else True
    mode = str(meta.get("mode", "submission")) if meta else "submission"
    report = Report(str(root), submittable, mode, fixture=bool(meta.get("fixture")) if meta else False)
    checker = _Checker(root, report, _rules_for(meta), meta)
    if meta_problem:
        checker.fail(root / METADATA, "bad-file", meta_problem)
    if meta is None and not meta_problem:
        if (root / "closed").is_dir() or (root / "open").is_dir():  # a bare MLPerf Inference root
            checker.inference_root(root)
        elif (root / "results").is_dir() and (root / "systems").is_dir():  # a bare training submitter folder
            checker.training_org(root, training_tools)
        else:
            checker.fail(root, "missing-file", f"neither a bundle ({METADATA}), an MLPerf Inference root (closed/, "
                         "open/) nor a training submitter folder (systems/, results/)")
        checker.finish()
        return report
    checker.manifest()
    if meta:
        checker.provenance()
    if meta and meta.get("mode") == "smoke" and meta.get("submittable"):
        checker.fail(root / METADATA, "smoke-result", "a smoke-mode campaign's bundle claims to be submittable")
    if meta and meta.get("fixture") and meta.get("submittable"):
        checker.fail(root / METADATA, "fixture-result", "a fixture campaign's bundle claims to be submittable")
    if (root / "inference").exists() or (meta or {}).get("inference"):
        checker.inference_root(root / "inference")
    if (root / "training").is_dir():
        checker.training_root(root / "training", training_tools)
    elif (meta or {}).get("training"):
        checker.fail(root / "training", "missing-file", "benchwright.json lists training results; training/ is absent")
    checker.finish()
    return report


def _target_metric(task: Any) -> str | None:
    """The metric an official benchmark's accuracy target is on: its task's first metric (top1, SQuAD's f1), as
    the submission checker's accuracy-target names it (acc, F1)."""
    from ..tasks import UnknownTask, get_task

    try:
        return get_task(task).metrics[0]
    except UnknownTask:
        return None
