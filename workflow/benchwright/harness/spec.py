"""Everything one LoadGen run needs, resolved from the campaign, benchmark and SKU before the job starts.

The DAG passes a ``RunSpec`` to ``benchwright loadgen`` as JSON, so the command is self-contained: it runs the
same on a workstation, in a container or in a Slurm job, and a change to any value re-runs exactly the runs
it affects (Snakemake compares the params).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from ..backends.base import ModelSpec
from ..schemas.base import Identifier, Precision, RunMode, Scenario, Spec
from ..schemas.rules import LoadGenSeeds


class RunSpec(Spec):
    benchmark: Identifier
    """Benchmark name."""

    system: Identifier
    """SKU id."""

    loadgen_model: Identifier
    """Model name in LoadGen's mlperf.conf (resnet50, ...)."""

    scenario: Scenario
    """LoadGen scenario."""

    mode: Literal["performance", "accuracy"]
    """LoadGen test mode (PerformanceOnly or AccuracyOnly)."""

    precision: Precision
    """Precision the model runs at."""

    run_mode: RunMode
    """smoke or submission; smoke results are labelled as such everywhere."""

    fixture: bool = False
    """The run is on stand-ins made by ``benchwright fixture`` (a fixture campaign): labelled so everywhere, never
    submittable, whatever the run mode."""

    model: ModelSpec
    """The task, backend, model format and devices of the run."""

    batch_size: PositiveInt = 1
    """Largest batch the SUT forms."""

    threads: PositiveInt = 1
    """SUT worker threads (on accelerators: per device)."""

    batching_timeout_us: NonNegativeInt = 2000
    """Server: how long a partial batch waits for more queries."""

    target_qps: PositiveFloat | None = None
    """Server target QPS (ranging overrides it)."""

    expected_qps: PositiveFloat | None = None
    """Offline expected QPS (ranging overrides it)."""

    target_latency_ms: PositiveFloat | None = None
    """Server latency bound; SingleStream/MultiStream expected latency."""

    target_latency_percentile: float | None = None
    """Percentile of the latency metric."""

    samples_per_query: PositiveInt | None = None
    """MultiStream samples per query."""

    performance_sample_count: PositiveInt
    """Samples loaded for performance runs."""

    min_duration_ms: PositiveInt | None = None
    """Minimum run duration; None keeps the official value of LoadGen's mlperf.conf."""

    min_query_count: PositiveInt | None = None
    """Minimum query count; None keeps the official value."""

    seeds: LoadGenSeeds | None = None
    """Seed override (smoke mode only); None keeps the official seeds."""

    progress_interval_s: PositiveFloat = Field(default=10.0)
    """How often a run reports its progress."""
