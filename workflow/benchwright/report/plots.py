"""The report's plots (matplotlib, PNG, no display): latency distribution per scenario, throughput against p99
latency from the Server ranging, accuracy against the reference and target, and the time-to-train distribution.

Each function writes one file and returns its path, or None when the SKU has nothing to plot (e.g. no Server
scenario); the PNGs carry no timestamp, so the same results give the same files.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend
import pandas as pd  # noqa: E402

from ..harness.scenarios import policy  # noqa: E402
from ..paths import ranging_file  # noqa: E402
from .stats import bootstrap_ci  # noqa: E402

PERCENTILES = (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99), ("p99_9_ms", 99.9))
_META = {"Software": None, "Creation Time": None}  # no matplotlib version or date in the PNG: same bytes each run


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=_META)
    plt.close(fig)
    return path


def latency_plot(table: pd.DataFrame, system: str, path: Path) -> Path | None:
    rows = table[(table.kind == "inference") & (table.system == system) & (table.run == 1)]  # the submitted run
    if rows.empty:
        return None
    scenarios = list(dict.fromkeys(rows.scenario))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(3.2 * len(scenarios), 3.0), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        for r in rows[rows.scenario == scenario].itertuples():
            xs = [p for col, p in PERCENTILES if not math.isnan(getattr(r, col))]
            ys = [getattr(r, col) for col, _ in PERCENTILES if not math.isnan(getattr(r, col))]
            ax.plot(xs, ys, marker="o", label=f"{r.benchmark} {r.precision}")
        ax.set_title(scenario)
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency per sample (ms)")
        ax.set_xscale("function", functions=(lambda p: -_log10(100 - p), lambda y: 100 - 10 ** (-y)))
        ax.set_xticks([50, 90, 99, 99.9])
        ax.legend(fontsize=7)
    fig.suptitle(f"{system}: latency distribution (LoadGen percentiles)", fontsize=9)
    return _save(fig, path)


def _log10(x):
    import numpy as np

    return np.log10(np.maximum(x, 1e-6))


def server_ranging_plot(spec_items, system: str, path: Path) -> Path | None:
    """Throughput against p99 latency of every Server ranging trial (VALID and INVALID) of the SKU."""
    trials = []
    for item in spec_items:
        rules = policy(item.scenario)
        if item.system != system or not rules.ranging_plot:
            continue
        ranging = Path(ranging_file(system, item.benchmark, item.precision, rules.name))
        if ranging.exists():
            data = rules.ranging_model().model_validate_json(ranging.read_text())
            trials += [(item, t) for t in data.trials if t.target_qps is not None]  # not the Offline trial
    if not trials:
        return None
    # LLM trials are judged on token latencies (LoadGen's use_token_latencies): their panels are p99 TTFT and TPOT
    panels = []
    if any(t.ttft_p99_ns is None for _, t in trials):
        panels.append(("p99 latency (ms)", "p99_ns", [(i, t) for i, t in trials if t.ttft_p99_ns is None]))
    tokens = [(i, t) for i, t in trials if t.ttft_p99_ns is not None]
    if tokens:
        panels += [("p99 time to first token (ms)", "ttft_p99_ns", tokens),
                   ("p99 time per output token (ms)", "tpot_p99_ns", tokens)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2), squeeze=False)
    for ax, (ylabel, field_name, chosen) in zip(axes[0], panels):
        for label in sorted({f"{i.benchmark} {i.scenario} {i.precision}" for i, _ in chosen}):
            pts = [t for i, t in chosen if f"{i.benchmark} {i.scenario} {i.precision}" == label]
            for valid in (True, False):
                sel = [t for t in pts if (t.validity == "VALID") == valid]
                if sel:
                    ax.scatter([t.target_qps for t in sel], [(getattr(t, field_name) or 0) / 1e6 for t in sel],
                               marker="o" if valid else "x", label=f"{label} ({'VALID' if valid else 'INVALID'})")
        ax.set_xlabel("target QPS")
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(f"{system}: Server ranging, throughput against latency", fontsize=9)
    return _save(fig, path)


def accuracy_plot(table: pd.DataFrame, system: str, path: Path) -> Path | None:
    rows = table[(table.kind == "inference") & (table.system == system) & (table.run == 1)]  # the submitted run
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(rows)), 3.2))
    labels = [f"{r.scenario}\n{r.precision}" for r in rows.itertuples()]
    ax.bar(range(len(rows)), rows.accuracy, color=["#3b7" if ok else "#d33" for ok in rows.accuracy_ok])
    ax.axhline(rows.accuracy_reference.iloc[0], color="k", linestyle="--", label="reference")
    ax.axhline(rows.accuracy_target.iloc[0], color="#d33", linestyle=":", label="target")
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    low = min(rows.accuracy.min(), rows.accuracy_target.min())
    ax.set_ylim(max(0, low - 2), 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{system}: accuracy against reference", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def time_to_train_plot(table: pd.DataFrame, system: str, path: Path, *, confidence: float, resamples: int,
                       seed: int) -> Path | None:
    rows = table[(table.kind == "training") & (table.system == system)]
    if rows.empty:
        return None
    benchmarks = list(dict.fromkeys(rows.benchmark))
    fig, ax = plt.subplots(figsize=(max(4, 2 * len(benchmarks)), 3.2))
    for x, bench in enumerate(benchmarks):
        runs = rows[rows.benchmark == bench]
        ax.scatter([x] * len(runs), runs.value, c=["#37b" if c else "#d33" for c in runs.converged], zorder=3)
        low, high = bootstrap_ci(runs.value.tolist(), confidence=confidence, resamples=resamples, seed=seed)
        ax.errorbar([x + 0.15], [runs.value.mean()], yerr=[[runs.value.mean() - low], [high - runs.value.mean()]],
                    fmt="s", color="k", capsize=4, label=f"mean, {confidence:.0%} bootstrap CI" if x == 0 else None)
    ax.set_xticks(range(len(benchmarks)), benchmarks)
    ax.set_ylabel("time to train (min)")
    ax.set_title(f"{system}: time to train, per seeded run", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def scaling_plot(scaling: list[dict], system: str, path: Path) -> Path | None:
    """Scaling efficiency of each result of ``system`` against the SKU it scales (1 = linear)."""
    rows = [r for r in scaling if r["system"] == system and r.get("efficiency") is not None
            and not math.isnan(r["efficiency"])]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(4, 0.7 * len(rows)), 3.2))
    labels = [f"{r['benchmark']}\n{r['scenario']}\n{r['precision']}" for r in rows]
    ax.bar(range(len(rows)), [r["efficiency"] for r in rows], color="#37b")
    ax.axhline(1.0, color="k", linestyle="--", label="linear")
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel("efficiency")
    ax.set_title(f"{system}: scaling efficiency against {rows[0]['base']} "
                 f"({rows[0]['accelerators']} / {rows[0]['base_accelerators']} accelerators)", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)
