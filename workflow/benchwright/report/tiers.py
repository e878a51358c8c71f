"""SLO tiers and capacity: each SKU's highest VALID QPS within a production tier's latency limits, what a query
costs there, and how many systems a demand needs.

A tier's QPS comes from measured points only: the Server (and Interactive) ranging trials and the performance
runs of a result, each with its completed QPS, its validity and its p99 latencies. A point counts for a tier when
LoadGen judged it VALID (under the benchmark's own bound) and each of its latencies the tier limits is within the
limit. A tier looser than the benchmark's own bound therefore gives the highest VALID QPS measured, never more.
Energy per query is the performance run's when that run is within the tier; no point else measured energy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..harness.scenarios import policy

TIER_METRICS = {"p99_ms": ("p99_ns", False), "ttft_p99_ms": ("ttft_p99_ns", True),
                "tpot_p99_ms": ("tpot_p99_ns", True)}
"""A tier's metric -> (the ranging trial's field, whether only text generation measures it)."""
HOURS_PER_MONTH = 730.0
"""8,760 hours a year over 12 months."""
TIER_COLUMNS = ["system", "benchmark", "precision", "scenario", "tier", "limits", "qps", "source", "points",
                "points_within", "tokens_per_query", "tokens_per_s", "energy_per_query_j", "energy_source",
                "price_per_hour_usd", "cost_per_1k_queries_usd", "cost_per_1k_tokens_usd", "nodes"]


def benchmark_metrics(task: str, scenarios: Iterable[str]) -> set[str]:
    """The tier metrics a benchmark has: p99 when it runs a latency-bound scenario (Server, Interactive), and TTFT
    and TPOT when it also generates text."""
    if not any(policy(s).latency_bound for s in scenarios):
        return set()
    return {m for m, (_, tokens) in TIER_METRICS.items() if not tokens or task == "text_generation"}


def _points(ranging_file: Path | None, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The measured points of one result: its ranging trials (Server ones: those with a target QPS), then its
    performance runs; each with qps, validity, latencies (ns) and where it came from."""
    out = []
    if ranging_file is not None and ranging_file.is_file():
        for i, t in enumerate(json.loads(ranging_file.read_text()).get("trials", ())):
            if t.get("target_qps") is None:
                continue  # the Offline trial that bounds the bisection
            out.append({"qps": t.get("metric") if t.get("metric") is not None else t["target_qps"],
                        "validity": t.get("validity"), "p99_ns": t.get("p99_ns"), "ttft_p99_ns": t.get("ttft_p99_ns"),
                        "tpot_p99_ns": t.get("tpot_p99_ns"), "source": f"ranging trial {i}", "energy": None})
    for r in runs:
        out.append({"qps": r["queries_per_s"], "validity": r["validity"], "p99_ns": _ns(r.get("p99_ms")),
                    "ttft_p99_ns": _ns(r.get("ttft_p99_ms")), "tpot_p99_ns": _ns(r.get("tpot_p99_ms")),
                    "source": f"performance run {r['run']}",
                    "energy": (r.get("energy_per_sample_j"), r.get("power_source"))})
    return out


def _ns(ms: Any) -> float | None:
    return ms * 1e6 if isinstance(ms, (int, float)) and not math.isnan(ms) else None


def within(point: dict[str, Any], limits: dict[str, float]) -> bool:
    """A point is within a tier when it is VALID and each latency the tier limits was measured and is within."""
    if point["validity"] != "VALID" or not isinstance(point["qps"], (int, float)) or math.isnan(point["qps"]):
        return False
    for metric, limit_ms in limits.items():
        value = point.get(TIER_METRICS[metric][0])
        if value is None or value > limit_ms * 1e6:
            return False
    return True


def tier_rows(spec: Any, table: Any) -> list[dict[str, Any]]:
    """One row per SKU x benchmark x precision x latency-bound scenario x tier the tier applies to (ReportSpec,
    results table)."""
    from .. import paths

    rows = []
    inf = table[table.kind == "inference"]
    for item in spec.inference:
        if not policy(item.scenario).latency_bound:
            continue
        runs = inf[(inf.system == item.system) & (inf.benchmark == item.benchmark) & (inf.scenario == item.scenario)
                   & (inf.precision == item.precision)].sort_values("run").to_dict("records")
        points = _points(Path(paths.ranging_file(item.system, item.benchmark, item.precision, item.scenario)), runs)
        has = benchmark_metrics(item.task or "", [item.scenario])
        sku = spec.systems[item.system]
        first = runs[0] if runs else {}
        tokens_per_query = (first.get("tokens_per_s") / first.get("queries_per_s")
                            if _number(first.get("tokens_per_s")) and _number(first.get("queries_per_s")) else None)
        for name, tier in spec.tiers.items():
            limits = tier.limits()
            if (tier.benchmarks and item.benchmark not in tier.benchmarks) or not set(limits) <= has:
                continue
            inside = [p for p in points if within(p, limits)]
            best = max(inside, key=lambda p: p["qps"]) if inside else None
            qps = best["qps"] if best else math.nan
            energy, energy_source = math.nan, "not measured"
            if best and best["energy"] and _number(best["energy"][0]):
                energy, energy_source = best["energy"][0], best["energy"][1]
            elif best:
                energy_source = "not measured (no energy counter, or the tier's point is a ranging trial)"
            price = sku.price_per_hour_usd
            per_s = price / 3600 if price is not None else math.nan
            tokens_per_s = qps * tokens_per_query if tokens_per_query else math.nan
            rows.append({
                "system": item.system, "benchmark": item.benchmark, "precision": item.precision,
                "scenario": item.scenario, "tier": name,
                "limits": ", ".join(f"{k} <= {v:g}" for k, v in limits.items()), "qps": qps,
                "source": best["source"] if best else "no VALID point within the tier", "points": len(points),
                "points_within": len(inside), "tokens_per_query": tokens_per_query or math.nan,
                "tokens_per_s": tokens_per_s, "energy_per_query_j": energy, "energy_source": energy_source,
                "price_per_hour_usd": price if price is not None else math.nan,
                "cost_per_1k_queries_usd": per_s / qps * 1000 if qps and not math.isnan(qps) else math.nan,
                "cost_per_1k_tokens_usd": per_s / tokens_per_s * 1000 if tokens_per_s and not math.isnan(tokens_per_s)
                else math.nan,
                "nodes": sku.nodes})
    return rows


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value) and value > 0


def capacity_rows(tiers: list[dict[str, Any]], *, tier: str, demand: float, unit: str = "queries",
                  headroom: float = 1.25, benchmark: str | None = None) -> list[dict[str, Any]]:
    """For each SKU result at ``tier``: the systems (and nodes) a demand of ``demand`` queries or output tokens per
    second needs with ``headroom``, ceil(demand x headroom / capacity of one system), and what they cost per hour
    and per month (price_per_hour_usd x systems; a month is HOURS_PER_MONTH hours)."""
    if not demand > 0:
        raise ValueError(f"the demand must be positive, got {demand}")
    if headroom < 1:
        raise ValueError(f"the headroom must be at least 1 (1.25: 25 % spare), got {headroom}")
    out = []
    for row in tiers:
        if row["tier"] != tier or (benchmark and row["benchmark"] != benchmark):
            continue
        per_system = row["qps"] if unit == "queries" else row["tokens_per_s"]
        ok = isinstance(per_system, (int, float)) and not math.isnan(per_system) and per_system > 0
        systems = math.ceil(demand * headroom / per_system - 1e-9) if ok else None
        price = row["price_per_hour_usd"]
        priced = systems is not None and isinstance(price, (int, float)) and not math.isnan(price)
        out.append({"system": row["system"], "benchmark": row["benchmark"], "precision": row["precision"],
                    "scenario": row["scenario"], "tier": tier, "demand": demand, "unit": unit, "headroom": headroom,
                    "capacity_per_system": per_system if ok else math.nan, "systems": systems,
                    "nodes": systems * row["nodes"] if systems is not None else None,
                    "usd_per_hour": systems * price if priced else math.nan,
                    "usd_per_month": systems * price * HOURS_PER_MONTH if priced else math.nan,
                    "note": "" if ok else f"no {'QPS' if unit == 'queries' else 'tokens/s'} measured within the tier"})
    return out
