"""The plan: a validated campaign with every benchmark and SKU it refers to, and what each job of the DAG needs.

``Plan`` is built by :func:`benchwright.config.load_plan` once every file validated and every run rule held; it
is read-only. The DAG (``workflow/rules/*.smk``) asks it for its jobs and for the spec of each one
(:meth:`Plan.run_spec`, :meth:`Plan.training_run_spec`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .. import paths
from ..harness.scenarios import early_stopping_min_queries, policy
from ..schemas import Benchmark, Campaign, RunRules, System
from ..schemas.base import Precision, RunMode, Scenario


@dataclass(frozen=True)
class InferenceJob:
    benchmark: str
    system: str
    scenario: Scenario
    precision: Precision


@dataclass(frozen=True)
class Plan:
    """A validated campaign with everything it refers to."""

    campaign: Campaign
    rules: RunRules
    benchmarks: dict[str, Benchmark]
    systems: dict[str, System]
    files: dict[str, str] = field(default_factory=dict)
    """Which file each object came from: 'campaign', 'benchmark:<name>', 'system:<id>' -> path."""

    @cached_property
    def inference_jobs(self) -> tuple[InferenceJob, ...]:
        return tuple(
            InferenceJob(name, system, scenario, precision)
            for name, sel in self.campaign.benchmarks.items()
            for system in sel.systems
            for scenario in sel.scenarios
            for precision in sel.precisions
        )

    @cached_property
    def training_jobs(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, system) for name, sel in self.campaign.benchmarks.items() if sel.training
                     for system in sel.systems)

    @cached_property
    def systems_in_use(self) -> tuple[str, ...]:
        return tuple(sorted({s for sel in self.campaign.benchmarks.values() for s in sel.systems}))

    def dataset_files(self) -> dict[tuple[str, str], Any]:
        """(dataset name, local file name) -> DatasetFile, for every benchmark of the campaign."""
        out = {}
        for bench in self.benchmarks.values():
            for f in bench.dataset.files:
                out[(bench.dataset.name, f.local_name)] = f
        return out

    def required_runs(self, benchmark: str) -> int:
        training = self.benchmarks[benchmark].training
        assert training is not None
        if training.required_runs is not None:
            return training.required_runs
        official = self.rules.training.benchmarks.get(training.mlperf_benchmark or "")
        return official.required_runs if official else self.rules.training.default_required_runs

    @staticmethod
    def inference_dir(job: InferenceJob) -> str:
        """Where one inference configuration's runs live (performance/, accuracy/, accuracy.txt, TEST*/)."""
        return paths.inference_dir(job.system, job.benchmark, job.precision, job.scenario)

    def repeats(self, benchmark: str) -> int:
        """Performance runs of each inference result of a benchmark (the benchmark's ``repeats``, else the
        campaign's)."""
        sel = self.campaign.benchmarks[benchmark]
        return sel.repeats if sel.repeats is not None else self.campaign.repeats

    def repeat_runs(self, job: InferenceJob) -> tuple[str, ...]:
        """The performance run folders of an inference result after the first (``repeats/run_<i>``, i >= 2)."""
        return tuple(paths.repeat_run(job.system, job.benchmark, job.precision, job.scenario, i)
                     for i in range(2, self.repeats(job.benchmark) + 1))

    def training_runs(self, benchmark: str, system: str) -> tuple[str, ...]:
        """The run folders of a training result, one per required run."""
        return tuple(paths.training_run(system, benchmark, i) for i in range(self.required_runs(benchmark)))

    def training_seeds(self, benchmark: str) -> tuple[int, ...]:
        """Distinct seeds, one per required run: the campaign's list, or derived from the campaign seed."""
        if self.campaign.training.seeds is not None:
            return self.campaign.training.seeds
        import numpy as np  # local: numpy is only needed when training seeds are derived

        seq = np.random.SeedSequence([self.campaign.seed, *map(ord, benchmark)])
        seeds = seq.generate_state(self.required_runs(benchmark), dtype=np.uint32)
        return tuple(int(s) for s in seeds)

    def run_spec(self, benchmark: str, system: str, scenario: str, precision: str, mode: str):
        """Everything one LoadGen run needs (benchwright.harness.spec.RunSpec), from campaign, benchmark, SKU."""
        from ..harness.spec import RunSpec

        bench, sku, c = self.benchmarks[benchmark], self.systems[system], self.campaign
        inf = bench.inference
        assert inf is not None
        constraints = inf.scenarios[Scenario(scenario)]
        tuning = sku.tuning.get(benchmark)
        tune = tuning.scenarios.get(Scenario(scenario)) if tuning else None
        smoke = c.mode is RunMode.smoke
        latency = constraints.target_latency_ms
        if policy(scenario).expected_latency and tune and tune.target_latency_ms:
            latency = tune.target_latency_ms  # the expected latency LoadGen sizes the run by
        return RunSpec(
            benchmark=benchmark, system=system, loadgen_model=inf.loadgen_model, scenario=scenario, mode=mode,
            precision=precision, run_mode=c.mode, fixture=c.benchmarks[benchmark].fixture,
            model=self.model_spec(benchmark, system, tune),
            batch_size=tune.batch_size if tune else 1,
            threads=(tune.threads if tune and tune.threads else 1),
            batching_timeout_us=tune.batching_timeout_us if tune else 2000,
            target_qps=tune.target_qps if tune else None,
            expected_qps=tune.expected_qps if tune else None,
            target_latency_ms=latency,
            target_latency_percentile=(constraints.target_latency_percentile
                                       if policy(scenario).latency_percentile else None),
            samples_per_query=constraints.samples_per_query,
            performance_sample_count=inf.performance_sample_count,
            min_duration_ms=self.min_duration_ms() if smoke or c.loadgen.min_duration_ms else None,
            min_query_count=c.loadgen.min_query_count or (
                self.smoke_min_query_count(benchmark, scenario, constraints.target_latency_percentile)
                if smoke else None),
            seeds=c.loadgen.seeds,
        )

    def model_spec(self, benchmark: str, system: str, tune: Any = None):
        """The model of a run on a SKU (benchwright.backends.ModelSpec): task, backend, format, devices, threads."""
        from ..backends.base import ModelSpec
        from ..devices import sku_devices, visible_devices

        model, sku = self.benchmarks[benchmark].model, self.systems[system]
        return ModelSpec(
            task=self.benchmarks[benchmark].task.value, backend=model.backend, format=model.format,
            harness=model.harness.command if model.harness else None, endpoint=model.endpoint,
            architecture=model.architecture, parameters=model.parameters, inputs=model.inputs, outputs=model.outputs,
            task_parameters=model.task_parameters,
            devices=sku_devices(sku), visible_devices=visible_devices(sku), provider=sku.onnxruntime.provider,
            allow_cpu_fallback=self.campaign.allow_cpu_fallback,
            intra_op_threads=tune.intra_op_threads if tune else None,
            inter_op_threads=tune.inter_op_threads if tune else None)

    def training_run_spec(self, benchmark: str, system: str, index: int):
        """Everything one training run needs (benchwright.training.spec.TrainingRunSpec)."""
        from ..training.spec import TrainingRunSpec

        bench, sku, c = self.benchmarks[benchmark], self.systems[system], self.campaign
        training = bench.training
        assert training is not None
        tuning = sku.tuning.get(benchmark)
        hp = {**training.hyperparameters, **(tuning.training.hyperparameters if tuning and tuning.training else {})}
        status = {"available": "onprem", "preview": "preview", "rdi": "research"}[sku.status]
        return TrainingRunSpec(
            benchmark=benchmark, submission_benchmark=training.mlperf_benchmark or benchmark, system=system,
            submitter=c.submitter, platform=sku.system_name, division=c.division, status=status, run_mode=c.mode,
            run_index=index, seed=self.training_seeds(benchmark)[index], architecture=bench.model.architecture,
            model_parameters=bench.model.parameters, optimizer=training.optimizer, hyperparameters=hp,
            quality_target=training.quality_target, max_epochs=training.max_epochs,
            eval_interval_epochs=training.eval_interval_epochs, world_size=max(1, sku.accelerators_total),
            backend="nccl" if sku.accelerators.vendor == "nvidia" and sku.accelerators.count else "gloo",
            implementation=training.implementation.command if training.implementation else None,
            implementation_config=(f"{c.paths.benchmarks}/{training.implementation.config}"
                                   if training.implementation and training.implementation.config else None),
        )

    def smoke_min_query_count(self, benchmark: str, scenario: str, percentile: float) -> int | None:
        """A smoke run's minimum query count (None: the model's own in LoadGen's mlperf.conf). A scenario judged
        with early stopping gets at least the queries early stopping needs at its percentile (Server p99: 459), so a
        short run can be VALID. An LLM's Offline gets one pass over its performance sample set: mlperf.conf's
        minimum is the whole dataset (13,368 prompts for llama3.1-8b), far from a short run."""
        rules = self.rules.inference
        if not policy(scenario).early_stopping:
            bench = self.benchmarks[benchmark]
            return bench.inference.performance_sample_count if bench.task.value == "text_generation" else None
        official = rules.min_query_count.get(Scenario(scenario), 1)
        needed = early_stopping_min_queries(percentile)
        return needed if needed > official else None

    def min_duration_ms(self) -> int:
        """LoadGen's minimum duration for performance runs in this campaign's mode."""
        lg = self.campaign.loadgen
        if lg.min_duration_ms is not None:
            return lg.min_duration_ms
        rules = self.rules.inference
        return rules.smoke.min_duration_ms if self.campaign.mode is RunMode.smoke else rules.min_duration_ms
