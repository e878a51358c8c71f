"""`benchwright compare BASELINE CANDIDATE`: every result two campaigns share, as a ratio with a confidence
interval and a verdict (regression, improvement, no change), plus what differs in their provenance.

A side is a campaign's results (its folder, its ``results/`` or ``results/report/`` folder, or results.csv) or a
submission bundle (folder, tarball or a published version), so a bundle can be compared with a results folder. A
result is ``<system>/<benchmark>/<scenario>/<precision>`` (from a bundle's benchwright.json; a bare MLPerf tree
gives ``<system>/<model>/<scenario>``); training is ``<system>/<benchmark>/training``. Repeated runs of a result are all used: the ratio is
of the medians, its interval a seeded percentile bootstrap that resamples both sides. A ratio above 1 always
means the candidate is better. The verdict is a regression when the ratio is past the threshold on the worse
side and its interval excludes 1; a run turning INVALID or an accuracy falling under its target is a regression
at any ratio.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..paths import REPORT_TABLE
from ..schemas.campaign import DEFAULT_REGRESSION_THRESHOLD_PCT

DEFAULT_THRESHOLD = DEFAULT_REGRESSION_THRESHOLD_PCT / 100
"""A ratio this far from 1 on the worse side is a regression, unless a metric has its own threshold."""
REGRESSION, IMPROVEMENT, NO_CHANGE = "regression", "improvement", "no change"


@dataclass(frozen=True)
class Measure:
    """A compared metric: its name on the command line, its unit, and which way is better."""

    name: str
    unit: str
    higher_is_better: bool


LATENCY_METRIC = Measure("latency", "ms", False)
THROUGHPUT_METRIC = Measure("throughput", "samples/s", True)
MEASURES = {m.name: m for m in (
    THROUGHPUT_METRIC, LATENCY_METRIC,
    Measure("p99_ms", "ms", False),  # in the latency-bound scenarios (Server, Interactive)
    Measure("accuracy", "%", True),
    Measure("tokens_per_s", "tokens/s", True),
    Measure("ttft_p99_ms", "ms", False),
    Measure("tpot_p99_ms", "ms", False),
    Measure("energy_per_sample_j", "J", False),
    Measure("time_to_train", "min", False),
)}
"""Every metric compare knows, by the name ``--threshold NAME=PCT`` uses. ``throughput``/``latency`` are the
scenario's MLPerf metric (samples/s in Offline and Server, the early-stopping latency percentile otherwise)."""


class CompareError(InputError):
    """Bad input to compare: a side that is not a campaign's results or a bundle, nothing in common, a bad
    threshold."""

    def __init__(self, where: str, field_: str, message: str, fix: str):
        super().__init__("compare", where, field_, message, fix)


@dataclass
class Result:
    """One result of one side: the values of each metric over its runs, the runs' validity and provenance."""

    key: str
    values: dict[str, list[float]] = field(default_factory=dict)
    validity: list[str] = field(default_factory=list)
    accuracy_ok: list[bool] = field(default_factory=list)
    provenance: dict[str, set[str]] = field(default_factory=dict)

    def add(self, metric: str, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            self.values.setdefault(metric, []).append(float(value))

    def note(self, fact: str, value: Any) -> None:
        if value is not None and str(value) not in ("", "nan", "not recorded"):
            self.provenance.setdefault(fact, set()).add(str(value))


@dataclass
class Side:
    """What one side holds: where it came from, what kind it is, and its results by key."""

    path: str
    kind: str
    results: dict[str, Result]


# --- reading a side --------------------------------------------------------------------------------------------------

def load_side(path: str | Path, role: str) -> Side:
    """The results of ``path``: a campaign's results table or a submission bundle (see the module doc)."""
    p = Path(path)
    if not p.exists():
        raise CompareError(str(p), role, "no such file or folder",
                           "give a campaign's folder (with results/report/results.csv), a results.csv, or a "
                           "submission bundle (folder or .tar.gz)")
    if p.is_file() and p.name.endswith((".tar.gz", ".tgz", ".tar")):
        from ..data.archive import unpacked_bundle

        with unpacked_bundle(p) as root:
            side = _bundle_side(root, str(p))
        return side
    if p.is_dir() and (p / "benchwright.json").is_file():
        return _bundle_side(p, str(p))
    table = _find_table(p)
    if table is None:
        raise CompareError(str(p), role, "neither a campaign's results table nor a submission bundle",
                           f"give the campaign's folder after `snakemake` made {REPORT_TABLE} (or that file "
                           "itself), or a bundle folder with benchwright.json, or its .tar.gz")
    import pandas as pd

    return table_side(pd.read_csv(table), str(table))


def _find_table(p: Path) -> Path | None:
    if p.is_file():
        return p if p.suffix == ".csv" else None
    report = Path(REPORT_TABLE)  # results/report/results.csv
    for candidate in (p / report, p / report.relative_to(report.parts[0]), p / report.name):
        if candidate.is_file():
            return candidate
    return None


def table_side(table: Any, shown: str) -> Side:
    """A side from a results table (a pandas DataFrame with report.table's columns)."""
    from ..harness.scenarios import policy

    results: dict[str, Result] = {}
    for row in table.to_dict("records"):
        training = row["kind"] == "training"
        key = (f"{row['system']}/{row['benchmark']}/training" if training
               else f"{row['system']}/{row['benchmark']}/{row['scenario']}/{row['precision']}")
        r = results.setdefault(key, Result(key))
        if training:
            r.add("time_to_train", row["value"])
            r.validity.append("VALID" if str(row.get("validity")) == "converged" else "INVALID")
        else:
            scenario = policy(row["scenario"])
            latency = scenario.metric.is_latency
            value = row["value"]
            r.add(LATENCY_METRIC.name if latency else THROUGHPUT_METRIC.name,
                  value / 1e6 if latency and isinstance(value, (int, float)) else value)  # ns -> ms
            for column in ("p99_ms", "tokens_per_s", "ttft_p99_ms", "tpot_p99_ms", "energy_per_sample_j"):
                if column in row and (column != "p99_ms" or scenario.latency_bound):
                    r.add(column, row[column])
            r.validity.append(str(row.get("validity")))
            if isinstance(row.get("accuracy_ok"), bool):
                r.accuracy_ok.append(row["accuracy_ok"])
        r.add("accuracy", row.get("accuracy"))
        for fact, column in (("code", "code_commit"), ("torch", "torch"), ("LoadGen", "loadgen"),
                             ("image", "image_id"), ("host", "host")):
            r.note(fact, row.get(column))
    return Side(shown, "results", results)


def _bundle_side(root: Path, shown: str) -> Side:
    """A bundle's results from its LoadGen logs and training logs, keyed by benchwright.json's entries (so that
    a bundle and a results table name a result alike); a bare MLPerf tree's by its folders."""
    meta = json.loads((root / "benchwright.json").read_text()) if (root / "benchwright.json").is_file() else {}
    inference = meta.get("inference") or [
        {"path": p.parent.parent.relative_to(root).as_posix(), "system": p.parents[3].name,
         "benchmark": p.parents[2].name, "scenario": p.parents[1].name, "precision": None}
        for p in sorted(root.glob("inference/*/*/results/*/*/*/performance/run_1"))]
    results: dict[str, Result] = {}
    for entry in inference:
        key = "/".join(x for x in (entry["system"], entry["benchmark"], entry["scenario"], entry.get("precision")) if x)
        results[key] = _bundle_inference(root / entry["path"], key, shown, entry.get("accuracy_target"))
        _bundle_provenance(results[key], root / entry["provenance"] if entry.get("provenance") else None)
    training = meta.get("training") or [
        {"path": p.relative_to(root).as_posix(), "system": p.parent.name, "benchmark": p.name}
        for p in sorted({f.parent for f in root.glob("training/*/results/*/*/result_*.txt")})]
    for entry in training:
        key = f"{entry['system']}/{entry['benchmark']}/training"
        r = results.setdefault(key, Result(key))
        for result_file in sorted((root / entry["path"]).glob("result_*.txt")):
            minutes, converged, accuracy = _training_log(result_file)
            r.add("time_to_train", minutes)
            r.add("accuracy", None if accuracy is None else 100 * accuracy)
            r.validity.append("VALID" if converged else "INVALID")
        for record in entry.get("provenance") or ():
            _bundle_provenance(r, root / record)
    if not results:
        raise CompareError(shown, "(the bundle)", "no inference or training result in it",
                           "give the bundle folder benchwright wrote (results/submission/<campaign>/bundle), its "
                           "tarball, or a published version (submissions/<campaign>/vN)")
    return Side(shown, "bundle", results)


def _bundle_inference(folder: Path, key: str, shown: str, accuracy_target: float | None) -> Result:
    from ..harness.accuracy import accuracy_value
    from ..harness.logs import LogError, read_run
    from ..harness.scenarios import policy

    try:
        run = read_run(folder / "performance" / "run_1")
    except LogError as err:
        raise CompareError(shown, key, f"its performance log cannot be read: {err}",
                           "compare bundles that `benchwright check` accepts") from None
    r = Result(key)
    latency = run.metric_unit == "ns"
    if run.metric_value is not None:
        r.add(LATENCY_METRIC.name if latency else THROUGHPUT_METRIC.name,
              run.metric_value / 1e6 if latency else run.metric_value)
    if policy(run.scenario).latency_bound and run.latency.p99_ns is not None:
        r.add("p99_ms", run.latency.p99_ns / 1e6)
    r.add("tokens_per_s", run.tokens_per_second)
    for name, stats in (("ttft_p99_ms", run.first_token_latency), ("tpot_p99_ms", run.time_per_output_token)):
        if stats is not None and stats.p99_ns is not None:
            r.add(name, stats.p99_ns / 1e6)
    r.validity.append(run.result_validity or "INVALID")
    acc = folder / "accuracy" / "accuracy.txt"
    value = accuracy_value(acc.read_text()) if acc.is_file() else None
    r.add("accuracy", value)
    if value is not None and accuracy_target is not None:
        r.accuracy_ok.append(value >= accuracy_target - 1e-9)
    return r


def _bundle_provenance(r: Result, record_file: Path | None) -> None:
    if record_file is None or not record_file.is_file():
        return
    record = json.loads(record_file.read_text())
    code = record.get("code") or {}
    packages = (record.get("software") or {}).get("packages") or {}
    facts = (record.get("host") or {}).get("facts") or {}
    if code.get("commit"):
        r.note("code", code["commit"][:12] + ("+modified" if code.get("dirty") else ""))
    r.note("torch", packages.get("torch"))
    r.note("LoadGen", packages.get("mlcommons-loadgen") or record.get("loadgen"))
    container = record.get("container") or {}
    r.note("image", container.get("image_id") or ("none (local)" if container.get("runtime") == "local" else None))
    if facts:  # as report.table's host column writes it
        r.note("host", f"{(record.get('host') or {}).get('hostname') or '?'}: "
                       f"{facts.get('processor_model_name', '?')}, {facts.get('processor_core_count', '?')} cores")


_MLLOG = re.compile(r":::MLLOG (\{.*\})")


def _training_log(path: Path) -> tuple[float | None, bool, float | None]:
    """Time to train (minutes, run_start to run_stop), whether it converged, the last eval_accuracy."""
    times: dict[str, int] = {}
    converged, accuracy = False, None
    for line in path.read_text().splitlines():
        m = _MLLOG.search(line)
        if not m:
            continue
        entry = json.loads(m.group(1))
        if entry.get("key") in ("run_start", "run_stop"):
            times[entry["key"]] = entry.get("time_ms")
            if entry["key"] == "run_stop":
                converged = (entry.get("metadata") or {}).get("status") == "success"
        elif entry.get("key") == "eval_accuracy":
            accuracy = entry.get("value")
    if "run_start" in times and "run_stop" in times:
        return (times["run_stop"] - times["run_start"]) / 60000, converged, accuracy
    return None, converged, accuracy


# --- comparing -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One metric of one shared result, compared."""

    result: str
    metric: str
    unit: str
    baseline: float | str
    candidate: float | str
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    runs: tuple[int, int]
    threshold: float | None
    verdict: str
    why: str = ""


@dataclass
class Comparison:
    baseline: Side
    candidate: Side
    lines: list[Line]
    provenance: list[tuple[str, str, str]]
    """(fact, baseline values, candidate values) for every fact whose values differ."""
    only_baseline: list[str]
    only_candidate: list[str]
    confidence: float

    @property
    def regressions(self) -> list[Line]:
        return [line for line in self.lines if line.verdict == REGRESSION]

    @property
    def improvements(self) -> list[Line]:
        return [line for line in self.lines if line.verdict == IMPROVEMENT]

    def as_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline.path, "candidate": self.candidate.path, "confidence": self.confidence,
                "results": [line.__dict__ | {"runs": list(line.runs)} for line in self.lines],
                "provenance": [{"fact": f, "baseline": b, "candidate": c} for f, b, c in self.provenance],
                "only_baseline": self.only_baseline, "only_candidate": self.only_candidate,
                "regressions": len(self.regressions), "improvements": len(self.improvements)}


def parse_thresholds(items: Sequence[str]) -> tuple[float, dict[str, float]]:
    """``--threshold`` values: ``PCT`` sets the default, ``METRIC=PCT`` one metric's (percent, > 0)."""
    default, per_metric = DEFAULT_THRESHOLD, {}
    for item in items:
        name, _, pct = item.rpartition("=")
        try:
            value = float(pct) / 100
        except ValueError:
            value = math.nan
        if not value > 0 or not math.isfinite(value):
            raise CompareError("--threshold", item, f"{pct!r} is not a positive percentage",
                               "write PCT or METRIC=PCT, e.g. --threshold 3 --threshold p99_ms=10")
        if name and name not in MEASURES:
            raise CompareError("--threshold", item, f"no metric named {name!r}",
                               f"use one of: {', '.join(MEASURES)}")
        if name:
            per_metric[name] = value
        else:
            default = value
    return default, per_metric


def ratio_ci(base: Sequence[float], cand: Sequence[float], higher_is_better: bool, *, confidence: float = 0.95,
             resamples: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """The ratio of the medians, oriented so that > 1 means the candidate is better, and its percentile
    bootstrap interval (each side resampled with replacement; a side of one run contributes its value)."""
    import numpy as np

    b, c = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    point = _oriented(np.median(b), np.median(c), higher_is_better)
    if b.size < 2 and c.size < 2:
        return point, point, point
    rng = np.random.default_rng(seed)
    bm = np.median(b[rng.integers(0, b.size, (resamples, b.size))], axis=1)
    cm = np.median(c[rng.integers(0, c.size, (resamples, c.size))], axis=1)
    ratios = cm / bm if higher_is_better else bm / cm
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return point, float(low), float(high)


def _oriented(base: float, cand: float, higher_is_better: bool) -> float:
    return float(cand / base) if higher_is_better else float(base / cand)


def verdict(ratio: float, low: float, high: float, threshold: float) -> str:
    if ratio < 1 - threshold and high < 1:
        return REGRESSION
    if ratio > 1 + threshold and low > 1:
        return IMPROVEMENT
    return NO_CHANGE


def compare(baseline: Side, candidate: Side, *, default_threshold: float = DEFAULT_THRESHOLD,
            thresholds: dict[str, float] | None = None, confidence: float = 0.95, resamples: int = 10000,
            seed: int = 0) -> Comparison:
    """Every metric of every result both sides hold; raises CompareError when they share none."""
    from statistics import median

    thresholds = thresholds or {}
    shared = sorted(set(baseline.results) & set(candidate.results))
    if not shared:
        raise CompareError(
            f"{baseline.path} and {candidate.path}", "(results)", "the two share no result: "
            f"the baseline has {_some(baseline.results)}, the candidate {_some(candidate.results)}",
            "compare two runs of the same campaign (results folders or bundles written by benchwright; a bare MLPerf "
            "tree names its results <system>/<model>/<scenario>)")
    lines: list[Line] = []
    for key in shared:
        b, c = baseline.results[key], candidate.results[key]
        lines += _validity_lines(key, b, c)
        for name in [m for m in MEASURES if m in b.values and m in c.values]:
            measure = MEASURES[name]
            threshold = thresholds.get(name, default_threshold)
            ratio, low, high = ratio_ci(b.values[name], c.values[name], measure.higher_is_better,
                                        confidence=confidence, resamples=resamples, seed=seed)
            lines.append(Line(key, name, measure.unit, float(median(b.values[name])),
                              float(median(c.values[name])), ratio, low, high,
                              (len(b.values[name]), len(c.values[name])), threshold,
                              verdict(ratio, low, high, threshold)))
    provenance = _provenance_differences([baseline.results[k] for k in shared], [candidate.results[k] for k in shared])
    return Comparison(baseline, candidate, lines, provenance, sorted(set(baseline.results) - set(candidate.results)),
                      sorted(set(candidate.results) - set(baseline.results)), confidence)


def _validity_lines(key: str, b: Result, c: Result) -> list[Line]:
    out = []
    b_valid, c_valid = _rate(v == "VALID" for v in b.validity), _rate(v == "VALID" for v in c.validity)
    if b_valid is not None and c_valid is not None and (b_valid, c_valid) != (1.0, 1.0):
        worse = c_valid < b_valid
        out.append(Line(key, "validity", "VALID runs", f"{b_valid:.0%}", f"{c_valid:.0%}", None, None, None,
                        (len(b.validity), len(c.validity)), None,
                        REGRESSION if worse else IMPROVEMENT if c_valid > b_valid else NO_CHANGE,
                        "fewer VALID runs than the baseline" if worse else ""))
    b_ok, c_ok = _rate(b.accuracy_ok), _rate(c.accuracy_ok)
    if b_ok is not None and c_ok is not None and c_ok < b_ok:
        out.append(Line(key, "accuracy target", "runs at target", f"{b_ok:.0%}", f"{c_ok:.0%}", None, None, None,
                        (len(b.accuracy_ok), len(c.accuracy_ok)), None, REGRESSION,
                        "the candidate's accuracy is under the benchmark's target"))
    return out


def _rate(flags: Iterable[bool]) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def _some(results: dict[str, Result]) -> str:
    keys = sorted(results)
    return ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "") if keys else "nothing"


def _provenance_differences(base: list[Result], cand: list[Result]) -> list[tuple[str, str, str]]:
    def facts(results: list[Result]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for r in results:
            for fact, values in r.provenance.items():
                out.setdefault(fact, set()).update(values)
        return out

    b, c = facts(base), facts(cand)
    return [(fact, ", ".join(sorted(b.get(fact, ()))) or "not recorded", ", ".join(sorted(c.get(fact, ())))
             or "not recorded") for fact in sorted(set(b) | set(c)) if b.get(fact) != c.get(fact)]


# --- output ----------------------------------------------------------------------------------------------------------

HEADER = ("result", "metric", "baseline", "candidate", "ratio", "CI", "runs", "verdict")


def _num(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _cells(line: Line, confidence: float) -> tuple[str, ...]:
    ci = "" if line.ci_low is None else f"[{line.ci_low:.3f}, {line.ci_high:.3f}]"
    unit = f" {line.unit}" if line.unit else ""
    verdict_text = line.verdict + (f" ({line.why})" if line.why else "")
    if line.threshold is not None and line.verdict != NO_CHANGE:
        verdict_text += f" (past {line.threshold:.0%})"
    return (line.result, line.metric, _num(line.baseline) + unit, _num(line.candidate) + unit,
            "" if line.ratio is None else f"{line.ratio:.3f}", ci, f"{line.runs[0]}/{line.runs[1]}", verdict_text)


def _summary_line(cmp: Comparison) -> str:
    n_reg, n_imp = len(cmp.regressions), len(cmp.improvements)
    shared = len({line.result for line in cmp.lines})
    return (f"{shared} shared result(s), {len(cmp.lines)} comparison(s): {n_reg} regression(s), {n_imp} "
            f"improvement(s), {len(cmp.lines) - n_reg - n_imp} no change")


def render_text(cmp: Comparison) -> str:
    rows = [HEADER] + [_cells(line, cmp.confidence) for line in cmp.lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    out = [f"baseline:  {cmp.baseline.path} ({cmp.baseline.kind})",
           f"candidate: {cmp.candidate.path} ({cmp.candidate.kind})",
           f"ratio > 1: the candidate is better; CI: {cmp.confidence:.0%} bootstrap interval of the ratio", ""]
    for i, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    out += ["", _summary_line(cmp)]
    out += _extra_lines(cmp)
    return "\n".join(out) + "\n"


def _extra_lines(cmp: Comparison) -> list[str]:
    out = []
    if cmp.provenance:
        out.append("provenance that differs:")
        out += [f"  {fact}: baseline {b}; candidate {c}" for fact, b, c in cmp.provenance]
    else:
        out.append("provenance: the same code, versions, image and host on both sides (as far as recorded)")
    if cmp.only_baseline:
        out.append("only in the baseline: " + ", ".join(cmp.only_baseline))
    if cmp.only_candidate:
        out.append("only in the candidate: " + ", ".join(cmp.only_candidate))
    return out


def render_markdown(cmp: Comparison) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["# benchwright compare", "", f"- baseline: `{cmp.baseline.path}` ({cmp.baseline.kind})",
           f"- candidate: `{cmp.candidate.path}` ({cmp.candidate.kind})",
           f"- ratio > 1: the candidate is better; CI: {cmp.confidence:.0%} bootstrap interval of the ratio", "",
           "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(esc(c) for c in _cells(line, cmp.confidence)) + " |" for line in cmp.lines]
    out += ["", _summary_line(cmp), ""] + [f"- {line.strip()}" for line in _extra_lines(cmp)]
    return "\n".join(out) + "\n"


def render_html_section(cmp: Comparison) -> str:
    """The comparison as an HTML section (the report's index page embeds it; render_html wraps it)."""
    e = html.escape
    rows = []
    for line in cmp.lines:
        cells = _cells(line, cmp.confidence)
        cls = {REGRESSION: "bad", IMPROVEMENT: "good"}.get(line.verdict, "")
        rows.append(f'<tr data-result="{e(line.result)}" data-metric="{e(line.metric)}" '
                    f'data-verdict="{e(line.verdict)}"'
                    + (f' data-ratio="{line.ratio!r}"' if line.ratio is not None else "") + ">"
                    + "".join(f'<td class="{cls}">{e(c)}</td>' if i == 7 else f"<td>{e(c)}</td>"
                              for i, c in enumerate(cells)) + "</tr>")
    extra = "".join(f"<li>{e(line.strip())}</li>" for line in _extra_lines(cmp))
    return (f'<section id="comparison"><h2>Against the baseline</h2>'
            f'<p>baseline <code>{e(cmp.baseline.path)}</code> ({e(cmp.baseline.kind)}), candidate '
            f'<code>{e(cmp.candidate.path)}</code> ({e(cmp.candidate.kind)}); a ratio above 1 means the candidate '
            f'is better; CI: {cmp.confidence:.0%} bootstrap interval of the ratio.</p>'
            f'<table><tr>{"".join(f"<th>{h}</th>" for h in HEADER)}</tr>{"".join(rows)}</table>'
            f'<p>{e(_summary_line(cmp))}</p><ul>{extra}</ul></section>')


def render_html(cmp: Comparison) -> str:
    from .html import STYLE

    return (f"<!doctype html><html><head><meta charset='utf-8'><title>benchwright compare</title>"
            f"<style>{STYLE} .good{{color:#060;font-weight:bold}}</style></head><body>"
            f"<h1>benchwright compare</h1>{render_html_section(cmp)}</body></html>\n")


def baseline_section(baseline: str, table: Any, shown: str, *, threshold: float, confidence: float,
                     resamples: int, seed: int) -> str:
    """The report's comparison with the campaign's ``report.baseline``; a baseline that cannot be compared says
    why in the section instead of failing the report."""
    try:
        cmp = compare(load_side(baseline, "report.baseline"), table_side(table, shown), default_threshold=threshold,
                      confidence=confidence, resamples=resamples, seed=seed)
    except CompareError as err:
        return (f'<section id="comparison"><h2>Against the baseline</h2><p class="bad">No comparison with '
                f'<code>{html.escape(baseline)}</code>:</p><pre>{html.escape(str(err))}</pre></section>')
    return render_html_section(cmp)
