"""Statistics over repeated runs: mean, spread, percentile-bootstrap confidence intervals, the olympic mean,
benchwright's summary score (a weighted geometric mean; MLPerf itself has no single score), the statistics of a
result's repeated runs, and the confidence interval of an accuracy from its sample count."""

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
    if statistic is np.mean:
        stats = data[idx].mean(axis=1)
    elif statistic is np.median:
        stats = np.median(data[idx], axis=1)
    else:
        stats = np.apply_along_axis(statistic, 1, data[idx])
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


NOISY_CV = 0.05
"""A coefficient of variation over this (5 %) across a result's repeated runs flags it as noisy on the pages."""


def repeat_stats(values: Sequence[float], *, confidence: float = 0.95, resamples: int = 10000,
                 seed: int = 0) -> dict[str, Any]:
    """A metric over a result's repeated runs: n, median, the percentile-bootstrap interval of the median, the
    coefficient of variation (sample std / mean; NaN under two runs) and whether it is noisy (CV > NOISY_CV)."""
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    low, high = bootstrap_ci(data, statistic=np.median, confidence=confidence, resamples=resamples, seed=seed)
    mean = float(np.mean(data)) if data else math.nan
    cv = float(np.std(data, ddof=1) / abs(mean)) if len(data) > 1 and mean else math.nan
    return {"n": len(data), "median": float(np.median(data)) if data else math.nan, "ci_low": low, "ci_high": high,
            "cv": cv, "noisy": bool(cv > NOISY_CV) if not math.isnan(cv) else False}


def proportion_ci(good: int, total: int, confidence: float = 0.95) -> dict[str, float]:
    """An accuracy measured on ``total`` samples, ``good`` of them right: the Wilson score interval (percent), and
    how many samples a 1-point drop needs to show (the sample count whose interval half-width is 1 point, at this
    accuracy)."""
    from statistics import NormalDist

    if total <= 0:
        return {"accuracy": math.nan, "ci_low": math.nan, "ci_high": math.nan, "samples": total,
                "samples_for_1_point": math.nan}
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = good / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    needed = math.ceil(z * z * p * (1 - p) / 0.01 ** 2) if 0 < p < 1 else math.nan
    return {"accuracy": 100 * p, "ci_low": 100 * (centre - half), "ci_high": 100 * (centre + half),
            "samples": total, "samples_for_1_point": needed}
