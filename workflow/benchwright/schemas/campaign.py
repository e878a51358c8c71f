"""The campaign: who submits, under which rules, and which benchmarks run on which SKUs in which scenarios."""

from __future__ import annotations

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
