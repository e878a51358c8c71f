"""Everything one training run needs, resolved from campaign, benchmark and SKU before the job starts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from ..schemas.base import Division, Identifier, JsonScalar, NonEmptyStr, RunMode, Spec


class TrainingRunSpec(Spec):
    benchmark: Identifier
    """Benchmark name (config/benchmarks/<name>.yaml)."""

    submission_benchmark: Identifier
    """Name logged as submission_benchmark: the official MLPerf name when the benchmark has one."""

    system: Identifier
    """SKU id."""

    submitter: NonEmptyStr
    """submission_org."""

    platform: NonEmptyStr
    """submission_platform: the SKU's system name."""

    division: Division
    """submission_division."""

    status: Literal["onprem", "cloud", "research", "preview"] = "research"
    """submission_status."""

    run_mode: RunMode
    """smoke or submission."""

    run_index: NonNegativeInt
    """Index of this run among the benchmark's required runs (result_<index>.txt)."""

    seed: int = Field(ge=0, lt=2**32)
    """This run's seed; every run of a result has its own."""

    architecture: Identifier | None = None
    """Model architecture (benchwright's own training loop)."""

    model_parameters: dict[str, JsonScalar] = {}
    """Architecture parameters."""

    optimizer: Identifier
    """Optimizer (opt_name)."""

    hyperparameters: dict[str, JsonScalar]
    """The reference recipe with the SKU's (borrowable) changes applied."""

    quality_target: float = Field(gt=0, le=1)
    """Evaluation accuracy that ends the run."""

    max_epochs: PositiveInt
    """A run that has not converged after this many epochs is logged aborted."""

    eval_interval_epochs: PositiveInt = 1
    """Evaluate every this many epochs."""

    world_size: PositiveInt = 1
    """Data-parallel processes (the SKU's accelerators, or 1 on a CPU SKU)."""

    backend: Literal["gloo", "nccl"] = "gloo"
    """torch.distributed backend: nccl on NVIDIA GPUs, gloo on CPU."""

    threads: PositiveInt | None = None
    """torch threads per process."""

    implementation: tuple[str, ...] | None = None
    """An external implementation's command, placeholders unexpanded (benchwright.training.external)."""

    implementation_config: str | None = None
    """Its config file, as the job's working directory sees it."""
