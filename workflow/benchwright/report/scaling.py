"""Scaling efficiency between SKUs that differ only in accelerator count (``scales: <base SKU>``).

For a result both SKUs ran, with k = accelerators(SKU) / accelerators(base):

- inference, throughput X (samples per second of the submitted run): scaling X(N) / X(base), efficiency
  X(N) / (k X(base));
- training, time to train T (median over the seeded runs): speed-up T(base) / T(N), efficiency T(base) / (k T(N)).

An efficiency of 1 is linear scaling. Latency scenarios (SingleStream, MultiStream) measure latency, not
throughput, and are left out.
"""

from __future__ import annotations

import math
from typing import Any

from ..harness.scenarios import policy

SCALING_COLUMNS = ["system", "base", "kind", "benchmark", "scenario", "precision", "accelerators", "base_accelerators",
                   "k", "value", "base_value", "unit", "scaling", "efficiency"]


def scaling_rows(spec: Any, table: Any) -> list[dict[str, Any]]:
    """One row per result a scaling SKU shares with its base (ReportSpec, results table)."""
    rows = []
    for name, sku in spec.systems.items():
        base_name = sku.scales
        if base_name is None or base_name not in spec.systems:
            continue
        base = spec.systems[base_name]
        if not base.accelerators_total or not sku.accelerators_total:
            continue
        k = sku.accelerators_total / base.accelerators_total
        inf = table[(table.kind == "inference") & (table.run == 1)]
        for (bench, scen, prec), mine in inf[inf.system == name].groupby(["benchmark", "scenario", "precision"]):
            if policy(scen).metric.is_latency:
                continue
            theirs = inf[(inf.system == base_name) & (inf.benchmark == bench) & (inf.scenario == scen)
                         & (inf.precision == prec)]
            if theirs.empty:
                continue
            x_n, x_1 = float(mine.samples_per_s.iloc[0]), float(theirs.samples_per_s.iloc[0])
            rows.append(_row(name, base_name, "inference", bench, scen, prec, sku, base, k, x_n, x_1, "samples/s",
                             x_n / x_1 if x_1 else math.nan))
        tr = table[table.kind == "training"]
        for bench, mine in tr[tr.system == name].groupby("benchmark"):
            theirs = tr[(tr.system == base_name) & (tr.benchmark == bench)]
            if theirs.empty:
                continue
            t_n, t_1 = float(mine.value.median()), float(theirs.value.median())
            rows.append(_row(name, base_name, "training", bench, "training", "fp32", sku, base, k, t_n, t_1, "min",
                             t_1 / t_n if t_n else math.nan))
    return rows


def _row(name, base_name, kind, bench, scen, prec, sku, base, k, value, base_value, unit, scaling) -> dict[str, Any]:
    return {"system": name, "base": base_name, "kind": kind, "benchmark": bench, "scenario": scen,
            "precision": prec, "accelerators": sku.accelerators_total, "base_accelerators": base.accelerators_total,
            "k": k, "value": value, "base_value": base_value, "unit": unit, "scaling": scaling,
            "efficiency": scaling / k if not math.isnan(scaling) else math.nan}
