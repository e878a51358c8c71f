"""The results table (pandas): a row per benchmark x SKU x scenario x precision x run, from the run records.

Inference rows come from ``performance/record.json`` (LoadGen's result, the SUT's counters, the energy meter)
and ``accuracy.txt``; training rows, one per seeded run, from ``run_<i>/record.json``. Normalizations:
per accelerator, per watt (where power was measured), and cost per 1,000 queries and per 1M samples from the
SKU's price per hour. A value that cannot be known is NaN with the reason in ``notes``, never a guess.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from ..harness.accuracy import accuracy_value, accuracy_values
from ..harness.scenarios import policy
from ..provenance import drift, fingerprint
from ..schemas.campaign import DEFAULT_REGRESSION_THRESHOLD_PCT, CapacityDemand, Tier
from ..schemas.base import Spec
from .stats import describe, proportion_ci, repeat_stats, weighted_geomean

NOT_MEASURED = "not measured"
COLUMNS = [
    "kind", "benchmark", "system", "scenario", "precision", "run", "run_mode", "metric", "value", "unit",
    "validity", "early_stopping_met", "p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "samples", "duration_s",
    "samples_per_s", "queries_per_s", "ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms", "tokens_per_s",
    "accuracy", "accuracy_target", "accuracy_reference", "accuracy_ok", "accuracy_good", "accuracy_samples", "failure",
    "power_source", "energy_j", "average_w", "energy_per_sample_j", "samples_per_s_per_accelerator",
    "samples_per_joule", "price_per_hour_usd", "cost_per_1k_queries_usd", "cost_per_1m_samples_usd",
    "cost_per_1k_tokens_usd",
    "batch_size", "threads", "converged", "epochs", "code_commit", "torch", "loadgen", "image_id", "host",
    "drift", "notes",
]
PROVENANCE_COLUMNS = ("code_commit", "torch", "loadgen", "image_id", "host")
NOT_RECORDED = "not recorded"


class SkuInfo(Spec):
    system_name: str
    accelerators_total: int
    accelerator_model: str
    price_per_hour_usd: float | None = None
    power_limit_w: float | None = None
    nodes: int = 1
    """Nodes in the SKU's system (capacity counts systems, and their nodes)."""
    scales: str | None = None
    """The SKU this one scales up (scaling efficiency)."""


class InferenceItem(Spec):
    benchmark: str
    system: str
    scenario: str
    precision: str
    run: str
    accuracy_reference: float
    accuracy_target: float
    mlperf_benchmark: str | None = None
    accuracy_metric: str | None = None
    """The benchmark's accuracy metric (top1, f1, ...), read from accuracy.txt."""
    calibration: str | None = None
    """The calibration list and its sha256 (INT8 only)."""
    repeats: tuple[str, ...] = ()
    """The performance runs after the first (``repeats/run_<i>``); each is a row of its own (run i)."""
    task: str | None = None
    """The benchmark's task (text_generation has token latencies)."""


class TrainingItem(Spec):
    benchmark: str
    system: str
    runs: tuple[str, ...]
    quality_target: float


class ReportSpec(Spec):
    campaign: str
    mode: str
    division: str
    fixtures: tuple[str, ...] = ()
    """Benchmarks run on `benchwright fixture` stand-ins."""
    seed: int = 0
    weights: dict[str, float] = {}
    confidence: float = 0.95
    resamples: int = Field(default=10000, gt=0)
    systems: dict[str, SkuInfo]
    inference: tuple[InferenceItem, ...] = ()
    training: tuple[TrainingItem, ...] = ()
    baseline: str | None = None
    """The campaign's ``report.baseline``, expanded: the index page compares the campaign with it."""
    regression_threshold_pct: float = Field(default=DEFAULT_REGRESSION_THRESHOLD_PCT, gt=0)
    tiers: dict[str, Tier] = {}
    capacity: tuple[CapacityDemand, ...] = ()


def report_spec(plan) -> ReportSpec:
    """What the reports need of a campaign (benchwright.config.Plan)."""
    from ..data.folder import expand_path

    c = plan.campaign
    systems = {}
    for sku in plan.systems_in_use:
        s = plan.systems[sku]
        systems[sku] = SkuInfo(system_name=s.system_name, accelerators_total=s.accelerators_total,
                               accelerator_model=s.accelerators.model_name, price_per_hour_usd=s.price_per_hour_usd,
                               power_limit_w=s.power_limit_w, nodes=s.number_of_nodes, scales=s.scales)
    inference = []
    for job in plan.inference_jobs:
        bench = plan.benchmarks[job.benchmark]
        prec, scen = job.precision.value, job.scenario.value
        cal = bench.calibration
        inference.append(InferenceItem(
            benchmark=job.benchmark, system=job.system, scenario=scen, precision=prec,
            run=plan.inference_dir(job),
            accuracy_reference=bench.accuracy.reference, accuracy_target=round(bench.accuracy.target, 6),
            mlperf_benchmark=bench.inference.mlperf_benchmark if bench.inference else None,
            accuracy_metric=bench.accuracy.metric,
            calibration=f"{cal.sample_list} (sha256 {cal.sha256[:12]})" if cal and prec == "int8" else None,
            repeats=plan.repeat_runs(job), task=bench.task.value))
    training = [TrainingItem(benchmark=b, system=s, quality_target=plan.benchmarks[b].training.quality_target,
                             runs=plan.training_runs(b, s))
                for b, s in plan.training_jobs]
    return ReportSpec(campaign=c.name, mode=c.mode.value, division=c.division.value, seed=c.seed,
                      weights=dict(c.report.weights), confidence=c.report.confidence,
                      resamples=c.report.bootstrap_resamples, systems=systems, inference=tuple(inference),
                      training=tuple(training),
                      fixtures=tuple(n for n, sel in c.benchmarks.items() if sel.fixture),
                      baseline=str(expand_path(c.report.baseline, field="report.baseline", file=plan.files["campaign"]))
                      if c.report.baseline else None,
                      regression_threshold_pct=c.report.regression_threshold_pct, tiers=dict(c.report.tiers),
                      capacity=c.report.capacity)


def _ms(ns: Any) -> float:
    return ns / 1e6 if isinstance(ns, (int, float)) else math.nan


def provenance_columns(record: dict[str, Any]) -> dict[str, Any]:
    """What a run recorded about its code, software, image and host (the columns drift is judged on)."""
    execution = record.get("execution") or {}
    code = execution.get("code")
    packages = (execution.get("software") or {}).get("packages") or {}
    host = (record.get("node") or {}).get("effective") or record.get("detected") or {}
    return {
        "code_commit": NOT_RECORDED if not code else (code.get("commit") or NOT_RECORDED)[:12]
        + ("+modified" if code.get("dirty") else ""),
        "torch": packages.get("torch") or record.get("torch") or NOT_RECORDED,
        "loadgen": packages.get("mlcommons-loadgen") or NOT_RECORDED,
        "image_id": execution.get("image_id") or ("none (local)" if execution.get("runtime") == "local" else
                                                   NOT_RECORDED),
        "host": f"{(record.get('node') or {}).get('hostname') or execution.get('hostname') or '?'}: "
                f"{host.get('processor_model_name', '?')}, {host.get('processor_core_count', '?')} cores",
        "_fingerprint": fingerprint(record),
    }


def failure_reason(validity: Any, invalid_reason: Any, accuracy: float, accuracy_ok: bool | None,
                   accuracy_target: float, fixture: bool = False) -> str:
    """Why a result failed, in one line ("" when it did not): its performance run stayed INVALID, or its
    accuracy is under the target (a fixture's random-weight stand-in is expected to miss: not a failure)."""
    reasons = []
    if validity != "VALID":
        reasons.append(f"performance run {validity or 'without a verdict'}"
                       + (f" ({invalid_reason})" if invalid_reason else ""))
    if accuracy_ok is False and not fixture:
        reasons.append(f"accuracy {accuracy:.3f} % under the target {accuracy_target:g} %")
    return "; ".join(reasons)


def inference_row(item: InferenceItem, sku: SkuInfo, fixture: bool = False, repeat: int = 1) -> dict[str, Any]:
    """The row of run ``repeat`` of an inference result (1: ``performance/``, i >= 2: ``item.repeats[i - 2]``);
    every run shares the result's accuracy run."""
    run = Path(item.run)
    perf_dir = run / "performance" if repeat == 1 else Path(item.repeats[repeat - 2])
    record = json.loads((perf_dir / "record.json").read_text())
    result, sut, spec = record["result"], record["sut"], record["spec"]
    notes = []
    duration_s = (result.get("duration_ns") or 0) / 1e9 or sut.get("wall_s") or math.nan
    samples = sut.get("samples_completed") or result.get("sample_count")
    samples_per_s = samples / duration_s if samples and duration_s else math.nan
    multi_sample = policy(item.scenario).multi_sample_queries
    per_query = result.get("effective", {}).get("samples_per_query") if multi_sample else 1
    queries_per_s = samples_per_s / (per_query or 1)
    accuracy, counts = math.nan, {}
    acc_file = run / "accuracy.txt"
    if acc_file.exists():
        text = acc_file.read_text()
        value = accuracy_value(text, item.accuracy_metric)
        accuracy = math.nan if value is None else value
        counts = accuracy_values(text)  # good= and total= of a classification's accuracy.txt
    energy = record.get("energy") or {"measured": False, "reason": "the run recorded no energy"}
    if energy.get("measured"):
        source = "+".join(energy["sources"])
        energy_j, average_w = energy["joules"], energy.get("average_watts") or math.nan
        per_sample = energy.get("joules_per_sample", energy_j / samples if samples else math.nan)
    else:
        source, energy_j, average_w, per_sample = NOT_MEASURED, math.nan, math.nan, math.nan
        notes.append(f"power {NOT_MEASURED}: {energy.get('reason', 'no source')}")
    price = sku.price_per_hour_usd
    if price is None:
        notes.append("no price_per_hour_usd for the SKU: no cost")
    cost_s = price / 3600 if price is not None else math.nan
    latency = result.get("latency", {})
    ttft, tpot = result.get("first_token_latency") or {}, result.get("time_per_output_token") or {}
    tokens_per_s = result.get("tokens_per_second")
    tokens_per_s = float(tokens_per_s) if isinstance(tokens_per_s, (int, float)) else math.nan
    accuracy_ok = bool(accuracy >= item.accuracy_target - 1e-9) if not math.isnan(accuracy) else None
    return {
        "kind": "inference", "benchmark": item.benchmark, "system": item.system, "scenario": item.scenario,
        "precision": item.precision, "run": repeat, "run_mode": spec.get("run_mode"), "metric": result.get("metric"),
        "value": result.get("metric_value"), "unit": result.get("metric_unit"),
        "validity": result.get("result_validity"), "early_stopping_met": result.get("early_stopping_met"),
        "p50_ms": _ms(latency.get("p50_ns")), "p90_ms": _ms(latency.get("p90_ns")),
        "p99_ms": _ms(latency.get("p99_ns")), "p99_9_ms": _ms(latency.get("p99_9_ns")),
        "samples": samples, "duration_s": duration_s, "samples_per_s": samples_per_s,
        "queries_per_s": queries_per_s, "ttft_p50_ms": _ms(ttft.get("p50_ns")), "ttft_p99_ms": _ms(ttft.get("p99_ns")),
        "tpot_p50_ms": _ms(tpot.get("p50_ns")), "tpot_p99_ms": _ms(tpot.get("p99_ns")), "tokens_per_s": tokens_per_s,
        "accuracy": accuracy, "accuracy_target": item.accuracy_target,
        "accuracy_reference": item.accuracy_reference,
        "accuracy_ok": accuracy_ok,
        "accuracy_good": counts.get("good", math.nan), "accuracy_samples": counts.get("total", math.nan),
        "failure": failure_reason(result.get("result_validity"), result.get("invalid_reason"), accuracy, accuracy_ok,
                                  item.accuracy_target, fixture),
        "power_source": source, "energy_j": energy_j, "average_w": average_w, "energy_per_sample_j": per_sample,
        "samples_per_s_per_accelerator": samples_per_s / sku.accelerators_total if sku.accelerators_total
        else math.nan,
        "samples_per_joule": samples_per_s / average_w if average_w and not math.isnan(average_w) else math.nan,
        "price_per_hour_usd": price if price is not None else math.nan,
        "cost_per_1k_queries_usd": cost_s / queries_per_s * 1000 if queries_per_s else math.nan,
        "cost_per_1m_samples_usd": cost_s / samples_per_s * 1e6 if samples_per_s else math.nan,
        "cost_per_1k_tokens_usd": cost_s / tokens_per_s * 1000 if tokens_per_s > 0 else math.nan,
        "batch_size": spec.get("batch_size"), "threads": spec.get("threads"), "converged": None, "epochs": None,
        **provenance_columns(record),
        "notes": "; ".join(notes + ([] if sku.accelerators_total else ["no accelerator: nothing per accelerator"])),
    }


def training_rows(item: TrainingItem, sku: SkuInfo) -> list[dict[str, Any]]:
    rows = []
    for i, run in enumerate(item.runs):
        record = json.loads((Path(run) / "record.json").read_text())
        minutes = record["time_to_train_ms"] / 60000
        price = sku.price_per_hour_usd
        rows.append({
            "kind": "training", "benchmark": item.benchmark, "system": item.system, "scenario": "training",
            "precision": "fp32", "run": i, "run_mode": record["spec"].get("run_mode"), "metric": "time to train",
            "value": minutes, "unit": "min", "validity": "converged" if record["converged"] else "aborted",
            "converged": record["converged"], "epochs": record.get("epochs"), "accuracy":
            100 * record["final_accuracy"] if record.get("final_accuracy") is not None else math.nan,
            "accuracy_target": 100 * item.quality_target,
            "failure": "" if record["converged"] else "did not reach the quality target",
            "power_source": NOT_MEASURED, "price_per_hour_usd": price if price is not None else math.nan,
            **provenance_columns(record),
            "notes": f"seed {record['spec']['seed']}; cost of the run "
                     + (f"{price / 60 * minutes:.4f} USD" if price is not None else "unknown (no price)"),
        })
    return rows


def run_id(row: dict[str, Any]) -> str:
    if row["kind"] == "training":
        return f"{row['system']}/{row['benchmark']}/training/run_{row['run']}"
    return f"{row['system']}/{row['benchmark']}/{row['scenario']}/{row['precision']}" + (
        f"/run_{row['run']}" if row["run"] != 1 else "")


CAMPAIGN_WIDE = ("code commit", "modified code", "benchwright")
"""Facts every result of a campaign must share; the others (software, image, hardware) are compared per SKU."""


def flag_drift(rows: list[dict[str, Any]]) -> None:
    """Fill each row's ``drift``: what differs from the other runs (code across the campaign; software, image and
    hardware across the SKU's runs). Empty when nothing does."""
    messages: dict[str, list[str]] = {run_id(r): [] for r in rows}
    campaign = {run_id(r): {k: v for k, v in r["_fingerprint"].items() if k in CAMPAIGN_WIDE} for r in rows}
    for run, found in drift(campaign).items():
        messages[run] += found
    for system in sorted({r["system"] for r in rows}):
        of_sku = {run_id(r): {k: v for k, v in r["_fingerprint"].items() if k not in CAMPAIGN_WIDE}
                  for r in rows if r["system"] == system}
        for run, found in drift(of_sku).items():
            messages[run] += found
    for r in rows:
        r["drift"] = "; ".join(messages[run_id(r)])


def results_table(spec: ReportSpec) -> pd.DataFrame:
    rows = [inference_row(item, spec.systems[item.system], item.benchmark in spec.fixtures, repeat)
            for item in spec.inference for repeat in range(1, len(item.repeats) + 2)]
    for item in spec.training:
        rows += training_rows(item, spec.systems[item.system])
    flag_drift(rows)
    return pd.DataFrame(rows, columns=COLUMNS)


def summary(spec: ReportSpec, table: pd.DataFrame) -> dict[str, Any]:
    """Per SKU: the training statistics (mean, spread, bootstrap interval, olympic mean) and benchwright's summary
    score, a weighted geometric mean over benchmarks of each benchmark's geometric-mean throughput (samples/s) —
    our summary, not an MLPerf metric."""
    out: dict[str, Any] = {"campaign": spec.campaign, "mode": spec.mode, "fixtures": list(spec.fixtures),
                           "systems": {},
                           "summary_label": "benchwright summary score: weighted geometric mean of per-scenario "
                                            "throughput (samples/s); not an MLPerf metric",
                           "weights": spec.weights}
    for sku in spec.systems:
        inf = table[(table.kind == "inference") & (table.system == sku)]
        per_benchmark = {}
        for bench, rows in inf[inf.run == 1].groupby("benchmark"):
            values = {f"{r.scenario}/{r.precision}": r.samples_per_s for r in rows.itertuples()}
            per_benchmark[bench] = weighted_geomean(values, {})
        training = {}
        tr = table[(table.kind == "training") & (table.system == sku)]
        for bench, rows in tr.groupby("benchmark"):
            stats = describe(rows.value.tolist(), confidence=spec.confidence, resamples=spec.resamples,
                             seed=spec.seed, olympic=True)
            stats["converged"] = int(rows.converged.sum())
            training[bench] = stats
        out["systems"][sku] = {
            "summary_score": weighted_geomean(per_benchmark, spec.weights) if per_benchmark else math.nan,
            "per_benchmark_throughput": per_benchmark, "training": training,
            "inference": inference_statistics(inf, confidence=spec.confidence, resamples=spec.resamples,
                                              seed=spec.seed),
        }
    flagged = table[table.drift.map(lambda d: isinstance(d, str) and d != "")]
    out["drift"] = [{"run": run_id(r._asdict()), "system": r.system, "differences": r.drift.split("; ")}
                    for r in flagged.itertuples()]
    return out


REPEATED_METRICS = ("value", "p99_ms", "samples_per_s")
"""The metrics whose spread over a result's repeated runs the summary gives (value: the scenario's MLPerf metric)."""


def inference_statistics(inf: pd.DataFrame, *, confidence: float, resamples: int, seed: int) -> dict[str, Any]:
    """Per inference result (``<benchmark>/<scenario>/<precision>``) of one SKU: its runs, the VALID rate, the
    median, bootstrap interval of the median, CV and noisy flag of each of REPEATED_METRICS over the runs (the
    result is noisy when its MLPerf metric is), and the accuracy's Wilson interval from its sample count."""
    out: dict[str, Any] = {}
    for (bench, scen, prec), rows in inf.groupby(["benchmark", "scenario", "precision"], sort=False):
        metrics = {m: repeat_stats(rows[m].tolist(), confidence=confidence, resamples=resamples, seed=seed)
                   for m in REPEATED_METRICS}
        first = rows.sort_values("run").iloc[0]
        good, total = first.get("accuracy_good"), first.get("accuracy_samples")
        accuracy = (proportion_ci(int(good), int(total), confidence)
                    if isinstance(total, (int, float)) and not math.isnan(total) and total > 0 else None)
        out[f"{bench}/{scen}/{prec}"] = {
            "runs": len(rows), "valid_rate": float((rows.validity == "VALID").mean()),
            "metrics": metrics, "noisy": metrics["value"]["noisy"], "accuracy": accuracy}
    return out


STATUS_COLUMNS = ["result", "system", "benchmark", "precision", "scenario", "AccuracyMode", "PerformanceMode",
                  "PerformanceMode_min", "PerformanceMode_max", "PerformanceMode_avg", "runs", "status", "reason"]
"""The status table: AccuracyMode is 1 for PASS (the accuracy reached its target), 0 for FAIL; PerformanceMode is
1 for VALID, 0 for INVALID, for the first run (the one a submission holds), with min/max/avg over the repeats."""


def status_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per ``<system>_<benchmark>_<precision>_<scenario>`` of the results table: Virtual Client's MLPerf
    metrics (AccuracyMode PASS/FAIL, PerformanceMode VALID/INVALID) as 1/0, for dashboards and CI gates.

    Training is a row with scenario ``training``: a run is VALID when it converged (reached the quality target)."""
    rows = []
    for (system, bench, prec, scen), runs in table.groupby(["system", "benchmark", "precision", "scenario"],
                                                          sort=False):
        runs = runs.sort_values("run")
        if scen == "training":
            perf = [int(bool(c)) for c in runs.converged]
            accuracy = int(any(perf))
        else:
            perf = [int(v == "VALID") for v in runs.validity]
            ok = runs.accuracy_ok.iloc[0]
            accuracy = int(bool(ok)) if isinstance(ok, (bool, np.bool_)) else 0
        failures = runs["failure"] if "failure" in runs else ()  # a table written before failures were results
        reasons = sorted({f for f in failures if isinstance(f, str) and f})
        rows.append({"result": f"{system}_{bench}_{prec}_{scen}", "system": system, "benchmark": bench,
                     "precision": prec, "scenario": scen, "AccuracyMode": accuracy, "PerformanceMode": perf[0],
                     "PerformanceMode_min": min(perf), "PerformanceMode_max": max(perf),
                     "PerformanceMode_avg": sum(perf) / len(perf), "runs": len(perf),
                     "status": "PASS" if accuracy and min(perf) else "FAIL", "reason": "; ".join(reasons)})
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)
