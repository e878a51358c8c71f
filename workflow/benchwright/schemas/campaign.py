"""The campaign: who submits, under which rules, and which benchmarks run on which SKUs in which scenarios."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from .base import Division, Identifier, NonEmptyStr, Precision, RunMode, Scenario, Spec
from .rules import LoadGenSeeds


class Selection(Spec):
    """What to run of one benchmark."""

    systems: tuple[Identifier, ...] = Field(min_length=1)
    """SKU ids (config/systems/<id>.yaml) to run on."""

    scenarios: tuple[Scenario, ...] = ()
    """Inference scenarios to run; empty runs no inference."""

    precisions: tuple[Precision, ...] = (Precision.fp32,)
    """Inference precisions to run."""

    training: bool = False
    """Whether to run the training benchmark (time to train)."""

    repeats: PositiveInt | None = None
    """Performance runs of each inference result (unset: the campaign's ``repeats``). Run 1 is the one a bundle
    submits, as MLPerf requires; the others are kept beside it (``repeats/run_<i>``) as evidence, and the report
    gives the median, a bootstrap interval, the coefficient of variation and the VALID rate over all of them."""

    fixture: bool = False
    """Run on the stand-ins of the benchmark file's ``fixture`` section, made inside the DAG by ``benchwright
    fixture``, instead of the user's data and model. Every result, bundle and report says so, and no bundle of
    such a run can claim to be submittable."""

    @field_validator("systems", "scenarios", "precisions")
    @classmethod
    def _no_repeats(cls, values: tuple) -> tuple:
        seen = [v.value if hasattr(v, "value") else v for v in values]
        dupes = sorted({v for v in seen if seen.count(v) > 1})
        if dupes:
            raise ValueError(f"lists {dupes} more than once; name each once")
        return values


class LoadGenOverrides(Spec):
    """LoadGen settings that differ from the run rules; in submission mode only stricter values are allowed."""

    min_duration_ms: PositiveInt | None = None
    """Minimum duration of a performance run (smoke default: the rules' smoke value)."""

    min_query_count: PositiveInt | None = None
    """Minimum query count of a performance run (smoke default: the rules' smoke value; submission default: the
    model's own in LoadGen's mlperf.conf)."""

    seeds: LoadGenSeeds | None = None
    """Seed override; never allowed in submission mode."""


class TrainingSettings(Spec):
    seeds: tuple[int, ...] | None = None
    """One seed per training run; derived from the campaign seed when absent. Seeds must be distinct."""

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if seeds is not None:
            dupes = sorted({s for s in seeds if seeds.count(s) > 1})
            if dupes:
                raise ValueError(f"training seeds must be distinct, {dupes} appears more than once")
        return seeds


class Tier(Spec):
    """A production service tier: the latency limits its traffic needs (p99 for any service; time to first token
    and time per output token for an LLM). The report gives each SKU's highest VALID QPS within them, from the
    Server (and Interactive) ranging trials and performance runs."""

    p99_ms: PositiveFloat | None = None
    """99th percentile query latency, ms."""

    ttft_p99_ms: PositiveFloat | None = None
    """99th percentile time to first token, ms (text generation only)."""

    tpot_p99_ms: PositiveFloat | None = None
    """99th percentile time per output token, ms (text generation only)."""

    benchmarks: tuple[Identifier, ...] = ()
    """The benchmarks the tier applies to; empty: every benchmark of the campaign that has all its metrics."""

    @model_validator(mode="after")
    def _some_limit(self) -> Tier:
        if self.limits() == {}:
            raise ValueError("a tier needs at least one limit: p99_ms, ttft_p99_ms or tpot_p99_ms")
        return self

    def limits(self) -> dict[str, float]:
        """The limits it sets, by metric name."""
        return {k: v for k, v in (("p99_ms", self.p99_ms), ("ttft_p99_ms", self.ttft_p99_ms),
                                  ("tpot_p99_ms", self.tpot_p99_ms)) if v is not None}


class CapacityDemand(Spec):
    """A demand to plan for: what traffic, at which tier, with what headroom (the index page's procurement
    comparison; `benchwright capacity` answers the same question on the command line)."""

    tier: Identifier
    """A tier of ``report.tiers``."""

    demand: PositiveFloat
    """Queries per second, or output tokens per second with ``unit: tokens``."""

    unit: Literal["queries", "tokens"] = "queries"
    """What ``demand`` counts per second."""

    headroom: float = Field(default=1.25, ge=1)
    """Capacity over demand to provision (1.25: 25 % spare)."""

    benchmark: Identifier | None = None
    """The benchmark whose results size it; unset: every benchmark the tier applies to."""


DEFAULT_REGRESSION_THRESHOLD_PCT = 5.0
"""How much worse (percent) a result may be than its baseline before `benchwright compare` calls it a regression."""


class ReportSettings(Spec):
    """The results table, statistics and reports."""

    weights: dict[Identifier, PositiveFloat] = {}
    """Weight of each benchmark in benchwright's summary score, a weighted geometric mean of per-scenario
    throughput (our summary: MLPerf itself has no single score); a benchmark not listed weighs 1."""

    confidence: float = Field(default=0.95, gt=0, lt=1)
    """Level of the bootstrap confidence intervals."""

    bootstrap_resamples: PositiveInt = 10000
    """Resamples of each bootstrap interval (seeded with the campaign seed)."""

    baseline: NonEmptyStr | None = None
    """An earlier run to compare this campaign with (e.g. ``submissions/nightly/v12``): a campaign folder, its
    results.csv, or a submission bundle (folder or tarball); ``${VAR}`` and ``~`` are expanded. The report's index
    page then shows `benchwright compare BASELINE <this campaign>`."""

    regression_threshold_pct: PositiveFloat = DEFAULT_REGRESSION_THRESHOLD_PCT
    """A result this many percent worse than the baseline is a regression (when its interval excludes no change)."""

    tiers: dict[Identifier, Tier] = {}
    """Production SLO tiers, e.g. ``interactive: {p99_ms: 15}``, ``batch: {p99_ms: 100}``, ``chat: {ttft_p99_ms:
    500, tpot_p99_ms: 30}``: the pages give each SKU's QPS, energy per query and $ per 1,000 queries (or tokens)
    within each."""

    capacity: tuple[CapacityDemand, ...] = ()
    """Demands to size each SKU for (nodes, $ per hour and per month), shown on the index page."""

    @model_validator(mode="after")
    def _capacity_names_a_tier(self) -> ReportSettings:
        for i, c in enumerate(self.capacity):
            if c.tier not in self.tiers:
                raise ValueError(f"capacity[{i}] names the tier {c.tier!r}, which report.tiers does not declare "
                                 f"(declared: {sorted(self.tiers) or 'none'})")
        return self


class Paths(Spec):
    benchmarks: NonEmptyStr = "config/benchmarks"
    """Folder of benchmark files, relative to the working directory."""

    systems: NonEmptyStr = "config/systems"
    """Folder of SKU files, relative to the working directory."""


class Campaign(Spec):
    name: Identifier
    """Campaign id, used in result and bundle names."""

    submitter: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """Submitting organization, as in the submission tree's directory name."""

    division: Division
    """closed or open."""

    mlperf_version: NonEmptyStr
    """MLPerf round whose run rules apply, e.g. "6.1"."""

    mode: RunMode
    """smoke (short, never submittable) or submission (official durations and seeds)."""

    seed: int = Field(default=0, ge=0)
    """Master seed; every seed the campaign derives (training runs, splits) comes from it."""

    benchmarks: dict[Identifier, Selection | None] = Field(min_length=1)
    """Benchmark name -> what to run of it. ``null`` leaves out a benchmark an earlier config file selects (a
    ``--configfile`` is merged into config/config.yaml: ``digits-cnn: null`` runs only the file's own)."""

    repeats: PositiveInt = 1
    """Performance runs of each inference result, unless a benchmark sets its own (see ``benchmarks.<name>.repeats``)."""

    loadgen: LoadGenOverrides = LoadGenOverrides()
    """LoadGen overrides."""

    training: TrainingSettings = TrainingSettings()
    """Training settings."""

    accept_system_mismatch: tuple[Identifier, ...] = ()
    """SKU ids whose differences from the detected machine are accepted (recorded in every result)."""

    allow_cpu_fallback: bool = False
    """Let an accelerator SKU's onnxruntime runs put operators its execution provider cannot run on the CPU
    (recorded in every result). Off: such a model fails to load, so no number silently comes from the CPU."""

    paths: Paths = Paths()
    """Where benchmark and SKU files live."""

    report: ReportSettings = ReportSettings()
    """Statistics and the summary score of the reports."""

    @field_validator("benchmarks")
    @classmethod
    def _drop_left_out(cls, benchmarks: dict[str, Selection | None]) -> dict[str, Selection | None]:
        kept = {name: sel for name, sel in benchmarks.items() if sel is not None}
        if not kept:
            raise ValueError("every benchmark is left out (`null`); select at least one")
        return kept

    @property
    def fixture(self) -> bool:
        """Whether any benchmark runs on fixture stand-ins (then nothing of the campaign is submittable)."""
        return any(sel.fixture for sel in self.benchmarks.values() if sel is not None)

    @model_validator(mode="after")
    def _weights_name_benchmarks(self) -> Campaign:
        unknown = sorted(set(self.report.weights) - set(self.benchmarks))
        if unknown:
            raise ValueError(f"report.weights names {unknown}, which the campaign does not run; weigh only "
                             f"{sorted(self.benchmarks)}")
        return self
