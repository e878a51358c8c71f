"""harness_overhead: what benchwright's SUT costs on top of LoadGen itself, with a model that costs nothing.

Variant: a null model (``predict`` returns zeros at once) through ``benchwright.harness.run.run_loadgen`` - the
real BatchingSUT and SampleLibrary, the SKU's tuning for digits-cnn (Offline: batch 64, 2 workers; Server:
batch 16, 2 workers, 1 ms batching timeout), torch threads as ``harness.workload.load_workload`` sets them.
Baseline: the smallest SUT LoadGen's Python API allows - ``issue_queries`` completes every sample at once, in
LoadGen's own thread, with a 4-byte response; no threads, no queues; a QSL of the same size. A reference row
(no target) compares Offline with the same minimal SUT written on LoadGen's fast API (ConstructFastSUT), which
benchwright's SUT uses.
Both get the same user.conf (written by ``benchwright.harness.settings``) and LoadGen log settings.

- Offline samples/s at the same expected QPS and minimum duration.
- The highest VALID Server target QPS (99th percentile within 15 ms), found by the same search for both: the
  first repeat starts at that SUT's Offline throughput of the repeat (as benchwright's ranging does) and halves,
  later repeats bracket the previous result; geometric bisection to the mode's tolerance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common import (Context, Row, Target, campaign_spec, compare, foreign_note, in_fresh_process, interleaved,
                    max_valid_qps, register, summarize_run, torch_threads_for)

NAME = "harness_overhead"
TARGET = Target(">=", 0.95)
FAST_TARGET = Target(">=", 0.9)
"""Offline against the raw SUT on LoadGen's fast API, the API benchwright's SUT uses."""
SERVER_LATENCY_MS = 15.0


# ----------------------------------------------------------------------------------------------------------------
# children (each call runs in a fresh process)


def _val_images():
    from benchwright.data.preprocess import load_split

    from common import ROOT

    return load_split(ROOT / "results" / "data" / "digits-cnn", "val")[0]


def benchwright_null_run(spec_data: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """One LoadGen run of the null model through benchwright's SUT."""
    import numpy as np
    import torch

    from benchwright.harness.run import run_loadgen
    from benchwright.harness.spec import RunSpec

    spec = RunSpec.model_validate(spec_data)
    torch.set_num_threads(torch_threads_for(spec.threads))
    outcome = run_loadgen(spec, lambda batch: np.zeros(len(batch), dtype=np.int32), _val_images(), out_dir,
                          emit=lambda message: None)
    return summarize_run(out_dir) | {"batches": outcome.batches, "wall_s": outcome.wall_s}


def raw_loadgen_run(spec_data: dict[str, Any], out_dir: str, fast: bool = False) -> dict[str, Any]:
    """One LoadGen run of the minimal SUT: every sample completed immediately, in LoadGen's thread (``fast``: the
    same through LoadGen's ConstructFastSUT, whose callback gets ids and indices as lists of ints)."""
    import mlperf_loadgen as lg
    import numpy as np

    from benchwright.harness.settings import test_settings
    from benchwright.harness.spec import RunSpec

    spec = RunSpec.model_validate(spec_data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = test_settings(spec, out)  # the same user.conf as benchwright's run
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(out.resolve())
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False

    count = len(_val_images())
    response = np.zeros(1, dtype="<i4")  # every sample answers class 0: 4 bytes
    address = response.ctypes.data

    def issue_queries(samples):
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, address, 4) for s in samples])

    def issue_queries_fast(ids, _indices):  # LoadGen's "fast" API: the ids arrive as a list of ints
        lg.QuerySamplesComplete([lg.QuerySampleResponse(i, address, 4) for i in ids])

    def noop(_indices):
        pass

    sut = (lg.ConstructFastSUT(issue_queries_fast, lambda: None) if fast else
           lg.ConstructSUT(issue_queries, lambda: None))
    qsl = lg.ConstructQSL(count, min(spec.performance_sample_count, count), noop, noop)
    previous = os.getcwd()
    os.chdir(out)  # as run_loadgen does (LoadGen looks for audit.config in the working directory)
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
    finally:
        os.chdir(previous)
        (lg.DestroyFastSUT if fast else lg.DestroySUT)(sut)
        lg.DestroyQSL(qsl)
    return summarize_run(out_dir)


def raw_fast_loadgen_run(spec_data: dict[str, Any], out_dir: str) -> dict[str, Any]:
    return raw_loadgen_run(spec_data, out_dir, fast=True)


SUTS = {"benchwright": benchwright_null_run, "raw": raw_loadgen_run, "raw-fast": raw_fast_loadgen_run}


# ----------------------------------------------------------------------------------------------------------------
# the measurement


@register(NAME, order=10, description="null model through benchwright's SUT vs a minimal raw LoadGen SUT "
                                      "(Offline samples/s, highest VALID Server QPS)")
def harness_overhead(ctx: Context) -> list[Row]:
    s = ctx.settings
    offline = campaign_spec("Offline", expected_qps=s["null_offline_expected_qps"],
                            min_duration_ms=s["null_offline_min_duration_ms"])
    server = campaign_spec("Server", target_latency_ms=SERVER_LATENCY_MS, min_duration_ms=s["server_min_duration_ms"])
    counter = {"n": 0}
    server_results: list[dict[str, Any]] = []
    hung: list[str] = []

    def run(sut: str, spec: dict[str, Any], label: str) -> dict[str, Any]:
        # A run that has not finished long after its minimum duration is stuck: it is recorded, and run again once.
        timeout_s = 60 + 30 * spec["min_duration_ms"] / 1000

        def attempt() -> dict[str, Any]:
            counter["n"] += 1
            out = ctx.scratch(f"{counter['n']:03d}-{sut}-{label}")
            result = in_fresh_process(SUTS[sut], spec, str(out), timeout_s=timeout_s)
            ctx.record(sut=sut, label=label, **result)
            return result

        try:
            return attempt()
        except TimeoutError:
            hung.append(f"{sut} {label}")
            ctx.record(sut=sut, label=label, hung_after_s=timeout_s)
            ctx.emit(f"{sut} {label}: no result after {timeout_s:g} s, stuck; run again")
            return attempt()

    # Offline, interleaved; each repeat's Offline throughput is also the cold start of that SUT's Server search.
    offline_runs: dict[str, list[dict[str, Any]]] = {"benchwright": [], "raw": []}

    def offline_run(sut: str):
        def go(i: int) -> float:
            result = run(sut, offline, f"offline-r{i}")
            offline_runs[sut].append(result)
            ctx.emit(f"Offline {sut} repeat {i}: {result['metric']:,.0f} samples/s, {result['validity']}")
            return result["metric"]
        return go

    bw_offline, raw_offline = interleaved(ctx, offline_run("benchwright"), offline_run("raw"))
    offline_runs["raw-fast"] = []
    fast_offline = [offline_run("raw-fast")(i) for i in range(ctx.repeats)]  # reference only (see the row)

    # Server: same search, same settings, for both SUTs, interleaved per repeat.
    guesses: dict[str, float | None] = {"benchwright": None, "raw": None}
    trial_counts: dict[str, list[int]] = {"benchwright": [], "raw": []}

    def server_search(sut: str):
        def go(i: int) -> float:
            def trial(qps: float) -> bool:
                result = run(sut, server | {"target_qps": qps}, f"server-r{i}-{qps:g}")
                server_results.append(result)
                ctx.emit(f"Server {sut} repeat {i}: {qps:,.0f} QPS -> {result['validity']} "
                         f"(p99 {(result['p99_ns'] or 0) / 1e6:.2f} ms)")
                return bool(result["valid"])

            ceiling = offline_runs[sut][i]["metric"]
            best, trials = max_valid_qps(trial, ceiling, tolerance=s["server_tolerance"], guess=guesses[sut])
            trial_counts[sut].append(len(trials))
            ctx.record(sut=sut, label=f"server-search-r{i}", best_valid_qps=best, trials=trials, ceiling=ceiling)
            if best is None:
                raise RuntimeError(f"no VALID Server QPS for the {sut} SUT (trials {trials})")
            guesses[sut] = best
            ctx.emit(f"Server {sut} repeat {i}: highest VALID {best:,.0f} QPS after {len(trials)} trials")
            return best
        return go

    bw_server, raw_server = interleaved(ctx, server_search("benchwright"), server_search("raw"))

    def valid(sut: str) -> str:
        runs = offline_runs[sut]
        return f"{sum(r['valid'] for r in runs)}/{len(runs)}"

    variant = "null model: benchwright SUT"
    baseline = "raw LoadGen SUT"
    tol = s["server_tolerance"]
    return [
        compare(NAME, variant, "Offline throughput", "samples/s", bw_offline, raw_offline, baseline=baseline,
                target=TARGET, valid=valid("benchwright"),
                notes=f"expected QPS {offline['expected_qps']:,.0f}, min duration {offline['min_duration_ms']} ms, "
                      f"batch {offline['batch_size']}, {offline['threads']} workers; raw VALID {valid('raw')}; "
                      + foreign_note(offline_runs["benchwright"] + offline_runs["raw"])),
        compare(NAME, variant, "Offline throughput, against the raw SUT on LoadGen's fast API",
                "samples/s", bw_offline, fast_offline, baseline="raw LoadGen fast SUT", target=FAST_TARGET,
                notes="benchwright's SUT uses LoadGen's ConstructFastSUT (ids and indices arrive as "
                      "lists of ints), the raw SUT above the plain API (one QuerySample object per sample); this row "
                      "compares with a raw SUT on the same fast API; "
                      + foreign_note(offline_runs["raw-fast"])),
        compare(NAME, variant, f"highest VALID Server QPS (p99 ≤ {SERVER_LATENCY_MS:g} ms)", "queries/s",
                bw_server, raw_server, baseline=baseline, target=TARGET,
                notes=f"bisection to {tol:.0%}, {server['min_duration_ms']} ms runs, batch {server['batch_size']}, "
                      f"{server['threads']} workers, batching timeout {server['batching_timeout_us']} µs; trials "
                      f"per search {trial_counts['benchwright']} / raw {trial_counts['raw']}; "
                      + (f"stuck and run again: {', '.join(hung)}; " if hung else "")
                      + foreign_note(server_results)),
    ]
