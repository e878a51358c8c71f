"""One LoadGen run of a model: settings, QSL, SUT, progress reporting, and LoadGen's own logs in ``out_dir``."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlperf_loadgen as lg
import numpy as np

from ..power import EnergyMeter
from .scenarios import policy
from .settings import test_settings
from .spec import RunSpec
from .sut import BatchingSUT, Predict, SampleLibrary, as_source

LOADGEN_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json",
                 "mlperf_log_trace.json")


@dataclass
class RunOutcome:
    out_dir: Path
    wall_s: float
    issued: int
    completed: int
    batches: int
    energy: dict | None = None
    """What benchwright.power measured over the LoadGen test (``measured`` False where there is no source)."""
    backend: dict | None = None
    """What ran the model (backend, device, providers, threads)."""
    tokens: int | None = None
    """Text generation: the tokens generated over the run."""


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    """LoadGen reads a compliance test's audit.config from the working directory."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


STALL_EXIT = 75


class Progress:
    """Reports elapsed time against the minimum duration and the samples issued and completed (read from the SUT
    at every report), and stops a run that no longer moves.

    A run whose counters have not changed for ``stall_s`` is stuck (a LoadGen run cannot be interrupted from
    Python): the stacks of every thread are written to the log, for the report, and the process exits with
    ``STALL_EXIT``, so that the job fails and is redone instead of holding its node forever."""

    def __init__(self, label: str, sut: Any, min_duration_s: float, interval_s: float,
                 emit: Callable[[str], None], stall_s: float | None = None):
        self.label, self.sut, self.min_duration_s = label, sut, min_duration_s
        self.interval_s, self.emit = interval_s, emit
        self.stall_s = stall_s if stall_s is not None else max(300.0, 3 * min_duration_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self.start = time.monotonic()

    def __enter__(self) -> Progress:
        self.emit(f"{self.label}: started (minimum duration {self.min_duration_s:g} s)")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        c = self.sut.counters
        self.emit(f"{self.label}: finished after {time.monotonic() - self.start:.1f} s, "
                  f"{c.issued:,} samples issued, {c.completed:,} completed")

    def _loop(self) -> None:
        last, moved = None, time.monotonic()
        while not self._stop.wait(min(self.interval_s, self.stall_s)):
            now = time.monotonic()
            c = self.sut.counters
            if (c.issued, c.completed) != last:
                last, moved = (c.issued, c.completed), now
            self.emit(f"{self.label}: {now - self.start:.0f} s / {self.min_duration_s:g} s minimum, "
                      f"{c.issued:,} samples issued, {c.completed:,} completed")
            if now - moved > self.stall_s and not self._stop.is_set():
                self._stalled(now - moved)

    def _stalled(self, seconds: float) -> None:
        import faulthandler

        self.emit(f"benchwright: {self.label} made no progress for {seconds:.0f} s (samples issued and completed "
                  "unchanged): the run is stuck and is stopped; the stacks of its threads follow. fix: run the "
                  "workflow again (the job is redone); if it recurs, report these stacks")
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(STALL_EXIT)


def prepare_run(spec: RunSpec, out: Path, audit_config: str | None) -> tuple[Any, Any]:
    """Create ``out`` and write its user.conf (and audit.config); return LoadGen's test and log settings."""
    out.mkdir(parents=True, exist_ok=True)
    settings = test_settings(spec, out)
    if audit_config is not None:
        (out / "audit.config").write_text(audit_config)  # kept beside the logs as evidence
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(out.resolve())
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False  # the trace is large and unused; the detail log carries every result
    return settings, log_settings


def run_label(spec: RunSpec) -> str:
    return f"[{spec.benchmark} {spec.system} {spec.scenario.value} {spec.precision.value} {spec.mode}]"


def warm_up_sizes(batch_size: int, passes: int = 3) -> list[int]:
    """The batch sizes :func:`warm_up` runs, in order: ``passes`` full batches, then ``passes`` x 1..batch_size."""
    return [batch_size] * passes + list(range(1, batch_size + 1)) * passes


def warm_up(predict: Predict | list[Predict], samples: Any, batch_size: int, passes: int = 3) -> float:
    """Run every batch size the SUT can form before LoadGen starts, the full batch first; return the seconds it
    took.

    TorchScript's profiling executor re-optimizes a graph on its first calls with each new input shape. Server
    batches take every size from 1 to batch_size, so without this the first seconds of a run carry tens of
    milliseconds of compilation in their tail latency (seen here: p99 35 ms instead of 3 ms at 5,000 QPS).
    The full batch goes first because the executor specializes its fused kernels to the first two shapes it
    meets and compiles later ones for dynamic shapes (torch's default fusion strategy): warmed 1..64 in order,
    the INT8 digits model ran its full batches 20 % slower than warmed at 64 first.
    The warm-up is untimed and caches no result; MLPerf's rules allow it.
    """
    start = time.monotonic()
    source = as_source(samples)
    count = min(batch_size, len(source))
    inputs = source.rows(np.arange(count))
    distinct = list({id(p): p for p in (predict if isinstance(predict, list) else [predict])}.values())
    for size in warm_up_sizes(count, passes):
        for p in distinct:  # every replica (one per accelerator) compiles its own graphs
            p(*[x[:size] for x in inputs])
    return time.monotonic() - start


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_loadgen(spec: RunSpec, predict: Predict | list[Predict], samples: Any, out_dir: str | Path, *,
                audit_config: str | None = None, emit: Callable[[str], None] = _stderr) -> RunOutcome:
    """Run LoadGen once; its log files land in ``out_dir`` (created), beside the generated user.conf.

    ``samples``: an array in memory, or a preprocessed split on disk (benchwright.data.store.Split) that the
    sample library reads from as LoadGen loads samples. ``predict``: one predictor, or one per SUT worker."""
    out = Path(out_dir)
    settings, log_settings = prepare_run(spec, out, audit_config)

    warm_s = warm_up(predict, samples, max(spec.batch_size, spec.samples_per_query or 1))
    emit(f"warm-up: batch sizes 1..{max(spec.batch_size, spec.samples_per_query or 1)} in {warm_s:.2f} s")
    source = as_source(samples)
    library = SampleLibrary(source, min(spec.performance_sample_count, len(source)))
    sut = BatchingSUT(predict, library, batch_size=spec.batch_size, threads=spec.threads,
                      batching_timeout_us=spec.batching_timeout_us, gather=policy(spec.scenario).gathers_queries)
    label = run_label(spec)
    start = time.monotonic()
    meter = EnergyMeter()
    try:
        with _cwd(out), Progress(label, sut, settings.min_duration_ms / 1000, spec.progress_interval_s,
                                 emit), meter:
            lg.StartTestWithLogSettings(sut.sut, library.qsl, settings, log_settings)
    finally:
        sut.close()
        library.close()
    return RunOutcome(out, time.monotonic() - start, sut.counters.issued, sut.counters.completed,
                      sut.counters.batches, meter.result(sut.counters.completed))
