"""MLPerf training scoring: time to train per run, the olympic mean, and convergence against a reference.

A run's time to train is run_stop - run_start. The benchmark's result is the olympic mean: drop the fastest and
the slowest run and average the rest. One run that did not converge is allowed and counts as the slowest; two
or more fail the benchmark.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import BenchwrightError

SCORE_VERSION = 1


class TrainingFailed(BenchwrightError):
    """Too many runs of a training result missed the quality target."""


def olympic_mean(values: Sequence[float]) -> float:
    if len(values) < 3:
        raise ValueError(f"the olympic mean needs at least 3 runs, got {len(values)}")
    ordered = sorted(values)
    return statistics.fmean(ordered[1:-1])


def score(records: Sequence[Mapping[str, Any]], *, benchmark: str, system: str, required_runs: int,
          allowed_non_converged: int = 1, reference_epochs: float | None = None) -> dict[str, Any]:
    """Score a benchmark's runs (their record.json contents)."""
    if len(records) != required_runs:
        raise TrainingFailed(f"benchwright: {benchmark} on {system} has {len(records)} runs, the run rules require "
                             f"{required_runs}")
    failed = [r for r in records if not r["converged"]]
    if len(failed) > allowed_non_converged:
        seeds = ", ".join(str(r["spec"]["seed"]) for r in failed)
        raise TrainingFailed(
            f"benchwright: {len(failed)} of {len(records)} training runs of {benchmark} on {system} did not reach "
            f"the quality target {records[0]['spec']['quality_target']} within "
            f"{records[0]['spec']['max_epochs']} epochs (seeds {seeds}); the run rules allow "
            f"{allowed_non_converged}. fix: check the recipe (learning rate, batch size) or the target")
    minutes = [r["time_to_train_ms"] / 60000 if r["converged"] else math.inf for r in records]
    epochs = [r["epochs_to_target"] for r in records if r["converged"]]
    mean_epochs = statistics.fmean(epochs)
    out: dict[str, Any] = {
        "version": SCORE_VERSION,
        "benchmark": benchmark,
        "system": system,
        "runs": [{"index": r["spec"]["run_index"], "seed": r["spec"]["seed"], "status": r["status"],
                  "epochs": r["epochs"], "time_to_train_min": round(r["time_to_train_ms"] / 60000, 6)}
                 for r in records],
        "non_converged": len(failed),
        "olympic_mean_min": round(olympic_mean(minutes), 6),
        "epochs_to_target": {"mean": round(mean_epochs, 4),
                             "stdev": round(statistics.stdev(epochs), 4) if len(epochs) > 1 else 0.0,
                             "min": min(epochs), "max": max(epochs)},
    }
    if reference_epochs is not None:
        # In the spirit of MLPerf's RCP check: converging much faster than the reference suggests a recipe that
        # is not the benchmark's (MLPerf compares against the reference convergence point's mean).
        ratio = mean_epochs / reference_epochs
        out["reference_convergence"] = {"reference_epochs": reference_epochs, "ratio": round(ratio, 4),
                                        "faster_than_reference": ratio < 1.0}
    return out
