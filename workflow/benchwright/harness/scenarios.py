"""One policy object per LoadGen scenario: everything that differs between SingleStream, MultiStream, Server
and Offline, so the rest of benchwright asks ``policy(scenario)`` instead of comparing scenario names.

A policy says how a RunSpec's tuning fills the scenario's LoadGen settings, how the scenario is ranged and what
ranging writes, how an INVALID performance run is resized, which metric LoadGen reports for it, and the
compliance, submission-check and report rules that depend on it. The module imports neither LoadGen nor the
harness runtime, so the workflow, the report and the submission checker can use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import BenchwrightError
from ..schemas.base import Scenario, Spec

if TYPE_CHECKING:
    from .spec import RunSpec

RANGING_VERSION = 1
"""Version of the ranging result's layout."""

SERVER_MARGIN = 0.8
"""The Server run starts at this fraction of the highest VALID QPS found by ranging: short runs are optimistic,
and on a busy machine Python's tail latency is bimodal (p99 8 ms at 17.6k QPS in ranging, 24-100 ms in the
next run while another tenant took a core)."""
SERVER_STEP_DOWN = 0.8
"""An INVALID Server run is repeated at this fraction of its QPS."""
OFFLINE_MARGIN = 1.25
"""Offline's expected QPS is the measured throughput times this, so the run is never shorter than its minimum."""
LATENCY_MARGIN = 0.5
"""SingleStream/MultiStream's expected latency is the measured median times this: LoadGen pre-generates queries
for the minimum duration at the expected latency, and runs out (INVALID) when the model is faster."""
DEFAULT_EXPECTED_QPS = 1000.0
"""Offline's expected QPS when the tuning sets none (the first ranging trial, the first retry)."""


class InvalidRun(BenchwrightError):
    """LoadGen judged a performance run INVALID."""


# --- what ranging writes: results/ranging/<sku>/<benchmark>/<precision>/<scenario>.json ---------------------------

class RangingTrial(Spec):
    """One short LoadGen run of a ranging."""

    target_qps: float | None
    """Server QPS the trial issued at."""
    expected_qps: float | None
    """Offline expected QPS the trial was sized by."""
    validity: Literal["VALID", "INVALID"] | None
    """LoadGen's verdict."""
    metric: float | None
    """The scenario's metric value."""
    p99_ns: int | None
    """99th percentile latency."""
    ttft_p99_ns: int | None = None
    """Text generation: 99th percentile time to first token."""
    tpot_p99_ns: int | None = None
    """Text generation: 99th percentile time per output token."""


class Ranging(Spec):
    """The ranging result of one scenario on one SKU; the scenario's performance run is sized by it."""

    version: int = RANGING_VERSION
    """Version of this layout."""
    benchmark: str
    """Benchmark name."""
    system: str
    """SKU id."""
    precision: str
    """Precision the trials ran at."""
    trials: tuple[RangingTrial, ...]
    """Every trial, in the order it ran."""

    def summary(self) -> dict[str, Any]:
        """Everything but the trials, the scenario's own fields first (what ``benchwright range`` prints)."""
        data = self.model_dump(exclude={"trials"})
        common = [k for k in Ranging.model_fields if k in data]
        return {**{k: v for k, v in data.items() if k not in common}, **{k: data[k] for k in common}}


class LatencyRanging(Ranging):
    """SingleStream/MultiStream: the expected latency LoadGen sizes the run by."""

    scenario: Literal["SingleStream", "MultiStream"]
    measured_p50_ms: float
    """Median latency of the trial."""
    expected_latency_ms: float
    """The measured median times LATENCY_MARGIN."""


class OfflineRanging(Ranging):
    """Offline: the expected QPS LoadGen sizes the run by."""

    scenario: Literal["Offline"]
    expected_qps: float
    """The measured throughput times OFFLINE_MARGIN."""
    measured_qps: float
    """Throughput of the trial."""


class ServerRanging(Ranging):
    """Server (and Interactive, LoadGen's Server under tighter token latency limits): the highest VALID QPS found by
    bisection under the Offline throughput, and the QPS to run at."""

    scenario: Literal["Server", "Interactive"]
    max_valid_qps: float | None
    """Highest QPS whose trial was VALID; None when no trial was (see ``reason``)."""
    target_qps: float
    """What the performance run issues at: max_valid_qps times SERVER_MARGIN, rounded down; without a VALID
    trial, the lowest QPS tried (the run is then recorded INVALID as a result, not dropped)."""
    reason: str | None = None
    """Why no trial was VALID, when none was."""
    offline_qps: float
    """Throughput of the Offline trial, the bisection's upper bound."""


Trial = Callable[["RunSpec", str], Any]
"""Runs one named short LoadGen run of a ranging and returns its RunResult (see steps.range_job)."""


EARLY_STOPPING_CONFIDENCE = 0.99
"""LoadGen's early-stopping confidence."""


def early_stopping_min_queries(percentile: float, confidence: float = EARLY_STOPPING_CONFIDENCE) -> int:
    """The fewest queries with which LoadGen's early stopping can be satisfied at ``percentile`` (in percent): all
    of them under the bound, and p^n <= 1 - confidence (p99: 459 queries, p90: 44)."""
    return math.ceil(math.log(1 - confidence) / math.log(percentile / 100))


def short_run(spec: RunSpec, **update: Any) -> RunSpec:
    """The spec of a ranging trial: a performance run of a few seconds."""
    duration = 2000 if spec.run_mode.value == "smoke" else 10000
    return spec.model_copy(update={"mode": "performance",
                                   "min_duration_ms": min(duration, spec.min_duration_ms or duration),
                                   "progress_interval_s": 60.0, **update})


def _offline_throughput(spec: RunSpec, trial: Trial) -> float:
    """Samples per second of one short Offline trial (Offline's and Server's ranging start with it)."""
    guess = spec.expected_qps or DEFAULT_EXPECTED_QPS
    offline = trial(short_run(spec.model_copy(update={"scenario": Scenario.Offline}), expected_qps=guess,
                              target_qps=None, target_latency_ms=None, target_latency_percentile=None), "offline-0")
    return float(offline.metric_value or guess)


def _ended_short(result: Any) -> bool:
    """LoadGen stopped the run before its minimum duration or query count."""
    return result.min_duration_met is False or result.min_queries_met is False


# --- policies --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    """A scenario's MLPerf metric as LoadGen logs it."""

    name: str
    """e.g. "90th percentile latency" or "samples per second"."""
    unit: Literal["ns", "samples/s"]
    keys: tuple[str, ...]
    """Detail-log keys it is read from, preferred first; the first is the one MLCommons' compliance scripts read
    (the early-stopping estimate for the latency scenarios)."""

    @property
    def key(self) -> str:
        return self.keys[0]

    @property
    def is_latency(self) -> bool:
        """Lower is better (compliance's TEST04 compares the reciprocal)."""
        return self.unit == "ns"


@dataclass(frozen=True)
class ScenarioPolicy:
    """How benchwright runs, sizes, checks and reports one LoadGen scenario; see :func:`policy`."""

    scenario: Scenario
    metric: Metric
    ranged: bool = True
    """A performance run is sized by a ranging result (``results/ranging/.../<scenario>.json``)."""
    expected_latency: bool = False
    """The tuning's target_latency_ms is the expected latency LoadGen sizes the run by, not a bound."""
    multi_sample_queries: bool = False
    """A query holds samples_per_query samples (user.conf, and the report's queries per second)."""
    latency_percentile: bool = True
    """The constraints' target_latency_percentile applies (user.conf)."""
    gathers_queries: bool = False
    """Queries arrive one at a time and the SUT gathers them into batches."""
    latency_bound: bool = False
    """Runs under a latency bound that a compliance run must share with its performance run."""
    early_stopping: bool = True
    """The submission checker requires early_stopping_met."""
    min_samples_per_query: bool = False
    """The submission checker requires the round's offline_min_samples_per_query."""
    test04: bool = True
    """Compliance TEST04 covers it."""
    relaxed_limit: float | None = None
    """Compliance: a reference score at or under this gets the relaxed threshold (short latencies are noisy)."""
    ranging_plot: bool = False
    """The report plots its ranging trials (throughput against p99 latency)."""
    loadgen_scenario: str | None = None
    """The LoadGen scenario it runs as, where that is another (Interactive runs as Server)."""
    model_suffix: str = ""
    """Appended to the benchmark's loadgen_model to find its settings in mlperf.conf (``-interactive``)."""
    token_latencies_only: bool = False
    """Only text generation runs it (its limits are time to first token and time per output token)."""

    @property
    def name(self) -> str:
        return self.scenario.value

    @property
    def loadgen_name(self) -> str:
        """The scenario's name in LoadGen's TestScenario and in mlperf.conf / user.conf keys."""
        return self.loadgen_scenario or self.name

    def test_scenario(self) -> Any:
        """LoadGen's ``TestScenario`` member (imports LoadGen)."""
        import mlperf_loadgen as lg

        return getattr(lg.TestScenario, self.loadgen_name)

    def conf_items(self, spec: RunSpec) -> list[tuple[str, float]]:
        """The scenario's ``key = value`` pairs of user.conf from the spec's tuning, in file order."""
        items = self._load_items(spec)
        if self.multi_sample_queries and spec.samples_per_query is not None:
            items.append(("samples_per_query", spec.samples_per_query))
        if self.latency_percentile and spec.target_latency_percentile is not None:
            items.append(("target_latency_percentile", spec.target_latency_percentile))
        return items

    def _load_items(self, spec: RunSpec) -> list[tuple[str, float]]:
        raise NotImplementedError

    def next_attempt(self, spec: RunSpec, result: Any) -> RunSpec | None:
        """The spec of the next attempt after an INVALID performance run, or None when no knob would help."""
        raise NotImplementedError

    def ranging_model(self) -> type[Ranging]:
        """The model of this scenario's ranging result (``.model_validate_json`` reads one)."""
        raise NotImplementedError

    def range(self, spec: RunSpec, trial: Trial, trials: list[RangingTrial], steps: int) -> Ranging:
        """Size the run from short trials; ``trials`` is the list ``trial`` records each trial in."""
        raise NotImplementedError

    def apply_ranging(self, spec: RunSpec, ranging: Ranging) -> RunSpec:
        """The spec sized by a ranging result."""
        raise NotImplementedError

    def _ranging(self, spec: RunSpec, trials: list[RangingTrial], **fields: Any) -> Ranging:
        return self.ranging_model()(scenario=self.name, benchmark=spec.benchmark, system=spec.system,
                                    precision=spec.precision.value, trials=trials, **fields)


@dataclass(frozen=True)
class LatencyPolicy(ScenarioPolicy):
    """SingleStream and MultiStream: a latency metric; the run is sized by an expected latency."""

    expected_latency: bool = True

    def _load_items(self, spec: RunSpec) -> list[tuple[str, float]]:
        return [("target_latency", spec.target_latency_ms)] if spec.target_latency_ms is not None else []

    def next_attempt(self, spec: RunSpec, result: Any) -> RunSpec | None:
        """Half the expected latency when LoadGen ran out of queries."""
        if _ended_short(result) and spec.target_latency_ms:
            return spec.model_copy(update={"target_latency_ms": round(spec.target_latency_ms / 2, 6)})
        return None

    def ranging_model(self) -> type[Ranging]:
        return LatencyRanging

    def range(self, spec: RunSpec, trial: Trial, trials: list[RangingTrial], steps: int) -> Ranging:
        """One trial: the expected latency is its median times LATENCY_MARGIN."""
        result = trial(short_run(spec), "latency-0")
        median_ms = (result.latency.p50_ns or 1_000_000) / 1e6
        return self._ranging(spec, trials, measured_p50_ms=round(median_ms, 4),
                             expected_latency_ms=round(max(0.001, median_ms * LATENCY_MARGIN), 4))

    def apply_ranging(self, spec: RunSpec, ranging: Ranging) -> RunSpec:
        return spec.model_copy(update={"target_latency_ms": ranging.expected_latency_ms})


@dataclass(frozen=True)
class ServerPolicy(ScenarioPolicy):
    """Server: queries arrive at target_qps under a p99 latency bound."""

    gathers_queries: bool = True
    latency_bound: bool = True
    ranging_plot: bool = True

    def _load_items(self, spec: RunSpec) -> list[tuple[str, float]]:
        items: list[tuple[str, float]] = []
        if spec.target_qps is not None:
            items.append(("target_qps", spec.target_qps))
        if spec.target_latency_ms is not None:
            items.append(("target_latency", spec.target_latency_ms))
        return items

    def next_attempt(self, spec: RunSpec, result: Any) -> RunSpec | None:
        """SERVER_STEP_DOWN times the QPS, whatever made the run INVALID."""
        if spec.target_qps:
            return spec.model_copy(update={"target_qps": round(spec.target_qps * SERVER_STEP_DOWN, 1)})
        return None

    def ranging_model(self) -> type[Ranging]:
        return ServerRanging

    def range(self, spec: RunSpec, trial: Trial, trials: list[RangingTrial], steps: int) -> Ranging:
        """Bisection between 0 and the Offline throughput for the highest VALID QPS, in ``steps`` trials."""
        throughput = _offline_throughput(spec, trial)
        lo, hi = 0.0, throughput  # Server can never sustain more than the Offline throughput
        best = None
        for i in range(steps):
            qps = hi if i == 0 else (lo + hi) / 2
            result = trial(short_run(spec, target_qps=round(qps, 1)), f"server-{i}")
            if result.result_validity == "VALID":
                best, lo = qps, qps
                if i == 0:
                    break  # the Offline throughput itself meets the latency bound
            else:
                hi = qps
        if best is None:
            lowest = min(t.target_qps for t in trials if t.target_qps is not None) if trials else throughput
            return self._ranging(
                spec, trials, max_valid_qps=None, target_qps=round(max(1.0, lowest), 1), offline_qps=throughput,
                reason=f"no Server QPS between 0 and {throughput:.0f} was VALID for {spec.benchmark} on "
                       f"{spec.system} within the {spec.target_latency_ms} ms latency bound (lowest tried: "
                       f"{lowest:.1f} QPS); check the SKU's batch_size and batching_timeout_us")
        return self._ranging(spec, trials, max_valid_qps=round(best, 1),
                             target_qps=round(max(1.0, math.floor(best * SERVER_MARGIN)), 1), offline_qps=throughput)

    def apply_ranging(self, spec: RunSpec, ranging: Ranging) -> RunSpec:
        return spec.model_copy(update={"target_qps": ranging.target_qps})


@dataclass(frozen=True)
class OfflinePolicy(ScenarioPolicy):
    """Offline: one query of all samples, sized by an expected QPS."""

    latency_percentile: bool = False
    early_stopping: bool = False
    min_samples_per_query: bool = True

    def _load_items(self, spec: RunSpec) -> list[tuple[str, float]]:
        return [("target_qps", spec.expected_qps)] if spec.expected_qps is not None else []

    def next_attempt(self, spec: RunSpec, result: Any) -> RunSpec | None:
        """Twice the expected QPS when the run ended before its minimum duration or query count."""
        if _ended_short(result):
            return spec.model_copy(update={"expected_qps": round((spec.expected_qps or DEFAULT_EXPECTED_QPS) * 2, 1)})
        return None

    def ranging_model(self) -> type[Ranging]:
        return OfflineRanging

    def range(self, spec: RunSpec, trial: Trial, trials: list[RangingTrial], steps: int) -> Ranging:
        """One Offline trial: the expected QPS is its throughput times OFFLINE_MARGIN."""
        throughput = _offline_throughput(spec, trial)
        return self._ranging(spec, trials, expected_qps=round(throughput * OFFLINE_MARGIN, 1),
                             measured_qps=throughput)

    def apply_ranging(self, spec: RunSpec, ranging: Ranging) -> RunSpec:
        return spec.model_copy(update={"expected_qps": ranging.expected_qps})


POLICIES: dict[Scenario, ScenarioPolicy] = {
    Scenario.SingleStream: LatencyPolicy(
        Scenario.SingleStream,
        Metric("90th percentile latency", "ns", ("early_stopping_latency_ss", "result_90.00_percentile_latency_ns")),
        relaxed_limit=200_000.0),
    Scenario.MultiStream: LatencyPolicy(
        Scenario.MultiStream,
        Metric("99th percentile latency", "ns",
               ("early_stopping_latency_ms", "result_99.00_percentile_per_query_latency_ns")),
        multi_sample_queries=True, relaxed_limit=1_600_000.0),
    Scenario.Server: ServerPolicy(
        Scenario.Server, Metric("completed samples per second", "samples/s", ("result_completed_samples_per_sec",))),
    Scenario.Offline: OfflinePolicy(
        Scenario.Offline, Metric("samples per second", "samples/s", ("result_samples_per_second",))),
    Scenario.Interactive: ServerPolicy(
        Scenario.Interactive, Metric("completed samples per second", "samples/s", ("result_completed_samples_per_sec",)),
        loadgen_scenario="Server", model_suffix="-interactive", token_latencies_only=True, test04=False),
}
"""The policy of every scenario (``ms`` in ``early_stopping_latency_ms`` is MultiStream; the value is in ns)."""


def policy(scenario: Scenario | str) -> ScenarioPolicy:
    """The policy of a scenario (the enum or its name); ValueError for an unknown name."""
    return POLICIES[Scenario(scenario)]


def scenarios_where(test: Callable[[ScenarioPolicy], bool]) -> tuple[str, ...]:
    """The names of the scenarios whose policy passes ``test``, in the enum's order (for Snakemake wildcards)."""
    return tuple(s.value for s in Scenario if test(POLICIES[s]))


RANGED: tuple[str, ...] = scenarios_where(lambda p: p.ranged)
"""Scenarios whose performance run reads a ranging result."""


__all__ = ["POLICIES", "RANGED", "early_stopping_min_queries", "InvalidRun", "LatencyRanging", "Metric", "OfflineRanging", "Ranging",
           "RangingTrial", "ScenarioPolicy", "ServerRanging", "policy", "scenarios_where", "short_run"]
