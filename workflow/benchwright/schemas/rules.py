"""MLPerf run rules per round: what makes a result valid, and what each division lets a submitter change.

The rules are facts published by MLCommons, not user settings, so they ship with benchwright as data files
(benchwright/runrules/mlperf-<version>.yaml) validated by these models. A campaign names its round; the
loader checks the campaign against the round's rules before any job runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from .base import Division, Identifier, NonEmptyStr, Precision, Scenario, Spec
from .benchmark import Task

U64 = Field(ge=0, lt=2**64)
SystemKind = Literal["datacenter", "edge", "datacenter,edge"]
"""A system type as a system description states it (schemas.base.SystemType's values)."""


class LoadGenSeeds(Spec):
    """LoadGen's random seeds; a submission run must use the round's official values."""

    qsl_rng_seed: int = U64
    """Seed of the query sample library's sample order."""

    sample_index_rng_seed: int = U64
    """Seed of the sample indices chosen for each query."""

    schedule_rng_seed: int = U64
    """Seed of the query arrival schedule (Server's Poisson arrivals)."""


class TokenLatencyLimits(Spec):
    """An LLM scenario's p99 token latency limits."""

    ttft: PositiveFloat
    """Time to first token, ms."""

    tpot: PositiveFloat
    """Time per output token, ms."""


class OfficialInferenceBenchmark(Spec):
    task: Task
    """The task; a model of our own maps to the official benchmark of the same task."""

    loadgen_model: Identifier
    """Name in LoadGen's mlperf.conf."""

    performance_sample_count: PositiveInt
    """Minimum performance sample count."""

    accuracy_reference: float
    """Reference accuracy of the official model, in percent."""

    target_fractions: tuple[float, ...] = (0.99,)
    """Accepted accuracy variants (fraction of the reference)."""

    server_latency_ms: float
    """Server p99 latency bound."""

    token_latency_limits_ms: dict[Scenario, TokenLatencyLimits] = {}
    """LLMs: the p99 time-to-first-token and time-per-output-token limits per scenario (Server, Interactive), as
    LoadGen's mlperf.conf sets them for the model."""

    compliance_tests: tuple[NonEmptyStr, ...] = ()
    """Compliance tests the closed division requires (TEST01, TEST04, ...)."""

    required_scenarios: dict[SystemKind, tuple[Scenario, ...]]
    """Scenarios a closed submission of this benchmark must cover, per system type (the submission checker's
    required-scenarios-edge, -datacenter and -datacenter-edge). A system type not listed is one the round does not
    accept the benchmark on."""

    offline_min_samples_per_query: PositiveInt | None = None
    """Offline: the fewest samples the one query of a performance run may hold (the submission checker's minimum,
    LoadGen's Offline min_query_count in its built-in mlperf.conf)."""


class InferenceSmoke(Spec):
    """Settings of smoke mode: short and labelled as such, never submittable."""

    min_duration_ms: PositiveInt
    """Minimum duration of a smoke performance run."""

    min_query_count: PositiveInt
    """Minimum query count of a smoke performance run."""


class InferenceRules(Spec):
    loadgen_version: NonEmptyStr
    """Version specifier mlcommons-loadgen must satisfy (PEP 440), e.g. ">=6.0.16"."""

    seeds: LoadGenSeeds
    """The round's official seeds (built into LoadGen's mlperf.conf)."""

    min_duration_ms: PositiveInt
    """Minimum duration of a performance run in every scenario and division."""

    min_query_count: dict[Scenario, PositiveInt]
    """Minimum number of queries per scenario."""

    benchmarks: dict[Identifier, OfficialInferenceBenchmark]
    """The round's official inference benchmarks."""

    smoke: InferenceSmoke
    """Smoke-mode defaults."""


class OfficialTrainingBenchmark(Spec):
    required_runs: PositiveInt
    """Runs per result (the olympic mean drops the fastest and slowest)."""

    borrowable_hyperparameters: tuple[NonEmptyStr, ...]
    """Hyperparameters the closed division lets a submitter change."""


class TrainingRules(Spec):
    ruleset: NonEmptyStr
    """mlperf-logging ruleset the logs are checked against, e.g. "4.1.0"."""

    default_required_runs: PositiveInt
    """Runs for a benchmark the ruleset does not list."""

    allowed_non_converged_runs: int = Field(ge=0)
    """Runs per result that may miss the target (they count as the slowest)."""

    seed_policy: Literal["distinct"]
    """Every run of a result gets its own seed, recorded in its log."""

    benchmarks: dict[Identifier, OfficialTrainingBenchmark]
    """The ruleset's benchmarks."""


class DivisionRules(Spec):
    own_models: bool
    """Whether models other than the official ones may be submitted (open only)."""

    precisions: tuple[Precision, ...]
    """Precisions a result may use."""

    fixed_preprocessing: bool
    """Whether preprocessing must be the reference one."""

    hyperparameters: Literal["borrowable", "any"]
    """Which training hyperparameters may differ from the reference."""

    compliance_tests: bool
    """Whether compliance tests (TEST01, TEST04) are required."""


class RunRules(Spec):
    mlperf_version: NonEmptyStr
    """MLPerf round, e.g. "6.1"."""

    framework_versions: dict[NonEmptyStr, NonEmptyStr]
    """Version specifiers for the software the results come from (package name -> PEP 440 specifier)."""

    inference: InferenceRules
    """MLPerf Inference rules of the round."""

    training: TrainingRules
    """MLPerf Training rules of the round's ruleset."""

    divisions: dict[Division, DivisionRules]
    """What each division allows."""

    @model_validator(mode="after")
    def _both_divisions(self) -> RunRules:
        missing = {d for d in Division} - set(self.divisions)
        if missing:
            raise ValueError(f"run rules must define every division; missing {sorted(m.value for m in missing)}")
        return self
