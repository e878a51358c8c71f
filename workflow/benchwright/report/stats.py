"""Statistics over repeated runs: mean, spread, percentile-bootstrap confidence intervals, the olympic mean,
and benchwright's summary score (a weighted geometric mean; MLPerf itself has no single score)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


def bootstrap_ci(values: Sequence[float], *, statistic: Callable[[np.ndarray], float] = np.mean,
                 confidence: float = 0.95, resamples: int = 10000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic``: resample the values with replacement ``resamples`` times
    (seeded, so the same values give the same interval) and take the central ``confidence`` quantiles.

    Fewer than two values have no spread: the interval is the value itself (or NaN for none).
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if data.size == 1:
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.size, size=(resamples, data.size))
    stats = np.apply_along_axis(statistic, 1, data[idx]) if statistic is not np.mean else data[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return (float(low), float(high))


def olympic_mean(values: Sequence[float]) -> float:
    """MLPerf Training's score: drop the fastest and the slowest run, average the rest (needs 3 or more)."""
    data = sorted(values)
    if len(data) < 3:
        raise ValueError(f"the olympic mean needs at least 3 runs, got {len(data)}")
    return float(np.mean(data[1:-1]))


def describe(values: Sequence[float], *, confidence: float = 0.95, resamples: int = 10000, seed: int = 0,
             olympic: bool = False) -> dict[str, Any]:
    """n, mean, sample standard deviation, min, max, the bootstrap interval of the mean (and the olympic mean)."""
    data = [float(v) for v in values]
    low, high = bootstrap_ci(data, confidence=confidence, resamples=resamples, seed=seed)
    out: dict[str, Any] = {
        "n": len(data), "mean": float(np.mean(data)) if data else math.nan,
        "std": float(np.std(data, ddof=1)) if len(data) > 1 else math.nan,
        "min": min(data) if data else math.nan, "max": max(data) if data else math.nan,
        "ci_low": low, "ci_high": high, "confidence": confidence,
    }
    if olympic and len(data) >= 3:
        out["olympic_mean"] = olympic_mean(data)
    return out


def weighted_geomean(values: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """exp(sum w_i log x_i / sum w_i) over the positive values; a key without a weight weighs 1."""
    pairs = [(v, float(weights.get(k, 1.0))) for k, v in values.items() if v is not None and v > 0]
    if not pairs:
        return math.nan
    total = sum(w for _, w in pairs)
    return float(math.exp(sum(w * math.log(v) for v, w in pairs) / total))
