"""Runs of the default model (digits-cnn) shared by the model measurements; every function here is called in a
fresh process through ``common.in_fresh_process``.

The model is loaded exactly as the DAG's ``loadgen`` step loads it (``benchwright.harness.workload.load_workload``: the FP32
weights frozen into TorchScript, or the INT8 TorchScript model; torch threads = cores // SUT workers).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, summarize_run

BENCHMARK = "digits-cnn"
MODEL_DIR = ROOT / "results" / "models" / BENCHMARK
DATA_DIR = ROOT / "results" / "data" / BENCHMARK
BUILD_HINT = (f"cd {ROOT} && PATH=/work/venv/bin:$PATH snakemake --cores 2 "
              f"results/models/{BENCHMARK}/int8/model.pt")


def check_inputs(precisions: tuple[str, ...] = ("fp32", "int8")) -> None:
    files = [DATA_DIR / "val_x.npy"] + [MODEL_DIR / p / ("model.pt" if p == "int8" else "weights.pt")
                                        for p in precisions]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"missing {', '.join(missing)}; build them with: {BUILD_HINT}")


def _load(spec_data: dict[str, Any]):
    from benchwright.harness.spec import RunSpec
    from benchwright.harness.workload import load_workload

    spec = RunSpec.model_validate(spec_data)
    work = load_workload(spec, MODEL_DIR / spec.precision.value, DATA_DIR)
    return spec, work.predictors[0], work.samples.arrays["x"].all()


def _rate(predict, batches, seconds: float, python_threads: int) -> float:
    """Samples/s of ``python_threads`` threads each calling ``predict`` on ``batches`` round-robin."""
    done = [0] * python_threads
    stop_at = time.perf_counter() + seconds

    def loop(k: int) -> None:
        i = k
        while time.perf_counter() < stop_at:
            batch = batches[i % len(batches)]
            predict(batch)
            done[k] += len(batch)
            i += python_threads

    elapsed = run_threads(loop, python_threads)  # run first: `sum(done) / run_threads(...)` sums before
    return sum(done) / elapsed


def probe(spec_data: dict[str, Any], seconds: float = 0.25, windows: int = 3) -> dict[str, Any]:
    """Top-1 accuracy of the predictor on the whole validation split, and a rough throughput (the SUT's number of
    worker threads calling it directly; the best of a few short windows, so a burst of another tenant's load does
    not undersize the runs) to size LoadGen's expected QPS."""
    import numpy as np
    import torch

    from benchwright.data.preprocess import load_split

    spec, predictor, images = _load(spec_data)
    _, labels, _ = load_split(DATA_DIR, "val")
    x = np.ascontiguousarray(images)
    batches = [x[i:i + spec.batch_size] for i in range(0, len(x), spec.batch_size)]
    predicted = np.concatenate([predictor(b) for b in batches])
    accuracy = 100.0 * float((predicted == labels).mean())
    _rate(predictor, batches, 0.2, spec.threads)  # warm-up
    rate = max(_rate(predictor, batches, seconds, spec.threads) for _ in range(windows))
    return {"precision": spec.precision.value, "accuracy": accuracy, "samples": int(len(labels)),
            "rate_estimate": rate, "torch_threads": torch.get_num_threads()}


def sut_run(spec_data: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """One LoadGen run of the model through benchwright's SUT (run_loadgen), performance or accuracy mode."""
    from benchwright.harness.run import run_loadgen

    spec, predictor, images = _load(spec_data)
    outcome = run_loadgen(spec, predictor, images, out_dir, emit=lambda message: None)
    facts = {"batches": outcome.batches, "wall_s": outcome.wall_s}
    if spec.mode == "accuracy":
        from benchwright.data.preprocess import load_split
        from benchwright.harness.accuracy import read_accuracy_log, top1_accuracy

        _, labels, _ = load_split(DATA_DIR, "val")
        result = top1_accuracy(read_accuracy_log(Path(out_dir) / "mlperf_log_accuracy.json"), labels)
        return facts | {"accuracy": result.accuracy, "good": result.good, "total": result.total}
    return summarize_run(out_dir) | facts


def raw_sut_run(spec_data: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """One LoadGen Offline run of the same predictor through the smallest threaded SUT one would write on LoadGen's
    fast API: the query cut into chunks of whole batches on a queue, ``threads`` workers that run the predictor on
    ``images[indices]`` batch by batch and complete each chunk with one list of responses. No sample library (every
    sample in memory), no counters, no progress, no error handling: what LoadGen itself leaves of the model's speed.
    Same settings, user.conf and warm-up (8 full batches) as the plain loop's."""
    import os
    import queue

    import mlperf_loadgen as lg
    import numpy as np

    from benchwright.harness.settings import test_settings

    spec, predictor, images = _load(spec_data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = test_settings(spec, out)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(out.resolve())
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False

    x = np.ascontiguousarray(images)
    bs = spec.batch_size
    for _ in range(8):
        predictor(x[:bs])
    chunk = max(bs, 1024 // bs * bs)
    work: queue.SimpleQueue = queue.SimpleQueue()

    def issue(ids: list[int], indices: list[int]) -> None:
        for i in range(0, len(ids), chunk):
            work.put((ids[i:i + chunk], indices[i:i + chunk]))

    def worker() -> None:
        while (item := work.get()) is not None:
            ids, idx = item[0], np.asarray(item[1])
            preds = np.ascontiguousarray(np.concatenate([predictor(x[idx[j:j + bs]]) for j in range(0, len(idx), bs)]))
            base, size = preds.ctypes.data, preds.nbytes // len(ids)
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, base + k * size, size) for k, i in enumerate(ids)])
        work.put(None)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(spec.threads)]
    for w in workers:
        w.start()
    sut = lg.ConstructFastSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(len(x), min(spec.performance_sample_count, len(x)), lambda _i: None, lambda _i: None)
    previous = os.getcwd()
    os.chdir(out)
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
    finally:
        os.chdir(previous)
        work.put(None)
        for w in workers:
            w.join(timeout=10)
        lg.DestroyFastSUT(sut)
        lg.DestroyQSL(qsl)
    return summarize_run(out_dir)


def _batches(images, batch_size: int):
    import numpy as np

    x = np.ascontiguousarray(images)
    return [x[i:i + batch_size] for i in range(0, len(x) - batch_size + 1, batch_size)]


def _timed_loop(predictor, batches, samples: int, python_threads: int, torch_threads: int) -> dict[str, Any]:
    """``samples`` samples (rounded up to whole batches) through ``predictor`` from ``python_threads`` threads,
    contiguous batches in turn; warmed up first (untimed)."""
    import torch

    torch.set_num_threads(torch_threads)
    for b in batches[:8]:
        predictor(b)
    bs = len(batches[0])
    n_batches = max(python_threads, -(-samples // bs))
    # Threads take the next batch from a shared counter (next() on itertools.count is atomic under the GIL):
    # dynamic balancing, like the SUT's work queue, so the loop never waits for a thread that got less CPU.
    counter = itertools.count()

    def loop(_k: int) -> None:
        while (j := next(counter)) < n_batches:
            predictor(batches[j % len(batches)])

    elapsed = run_threads(loop, python_threads)
    return {"python_threads": python_threads, "torch_threads": torch_threads, "samples": n_batches * bs,
            "seconds": elapsed, "samples_per_s": n_batches * bs / elapsed}


def plain_loops(spec_data: dict[str, Any], samples: int, configs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """The same predictor in a plain torch loop, no LoadGen: ``samples`` samples in batches of the spec's batch
    size, taken as contiguous slices of the preloaded validation tensor (round-robin), for each (python threads,
    torch threads) in ``configs``, in order."""
    spec, predictor, images = _load(spec_data)
    batches = _batches(images, spec.batch_size)
    return [_timed_loop(predictor, batches, samples, p, t) for p, t in configs]


def plain_precisions(specs: list[dict[str, Any]], samples: list[int], python_threads: int,
                     torch_threads: int) -> dict[str, Any]:
    """Plain loops of several precisions in one process (in the order given), one config: model speed alone."""
    out = {}
    loaded = [_load(spec) for spec in specs]
    for (spec, predictor, images), n in zip(loaded, samples):
        out[spec.precision.value] = _timed_loop(predictor, _batches(images, spec.batch_size), n, python_threads,
                                                torch_threads)
    return out


def plain_loops_run(spec_data: dict[str, Any], samples: int, configs: list[tuple[int, int]]) -> dict[str, Any]:
    """:func:`plain_loops` with its results in a dict (so in_fresh_process adds the machine's load facts)."""
    return {"loops": plain_loops(spec_data, samples, configs)}


# ----------------------------------------------------------------------------------------------------------------
# parent side

OFFLINE_MARGIN = 2.0
"""Expected QPS = this x the probe's rate (the bare predictor called from as many threads as the SUT has workers,
for a few short windows), so a run is not shorter than its minimum duration even when the probe ran during
someone else's burst of load or the SUT outruns the probe (at 1.5, an FP32 run at 1.1 x the probe's rate ended
before its minimum duration and was INVALID); when the probe is right, runs last up to 2 x 1.1 x the minimum
duration."""


def probed(ctx: Any, precision: str) -> dict[str, Any]:
    """The probe of ``precision`` (accuracy, rough rate), run once per invocation and shared by the measurements."""
    from common import campaign_spec, in_fresh_process

    key = f"probe:{precision}"
    if key not in ctx.cache:
        check_inputs((precision,))
        result = in_fresh_process(probe, campaign_spec("Offline", precision))
        ctx.record(label=f"probe-{precision}", **result)
        ctx.emit(f"probe {precision}: top-1 {result['accuracy']:.3f}% on {result['samples']} samples, "
                 f"~{result['rate_estimate']:,.0f} samples/s")
        ctx.cache[key] = result
        from benchwright.fsutil import sha256_file

        path = MODEL_DIR / precision / ("model.pt" if precision == "int8" else "weights.pt")
        ctx.header.append(f"Model {precision}: `{path.relative_to(ROOT)}` sha256 {sha256_file(path)[:16]}…")
    return ctx.cache[key]


def offline_spec(ctx: Any, precision: str, **overrides: Any) -> dict[str, Any]:
    """The DAG's Offline spec for ``precision`` (the SKU's batch size and workers), sized from the probe."""
    from common import campaign_spec

    rate = probed(ctx, precision)["rate_estimate"]
    return campaign_spec("Offline", precision, expected_qps=round(rate * OFFLINE_MARGIN),
                         min_duration_ms=ctx.settings["offline_min_duration_ms"], **overrides)


def run_threads(loop, count: int) -> float:
    """Run ``loop(k)`` on ``count`` threads at once; return the wall seconds until all finished."""
    start = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(k,)) for k in range(count)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def sut_against_loops(ctx: Any, configs: list[tuple[Any, ...]], threads_key: str, estimate: int,
                      run_sut: Callable[[int], dict[str, Any]],
                      run_loops: Callable[[int, list[tuple[int, int]]], dict[str, Any]]) -> dict[str, Any]:
    """Interleave SUT runs (``run_sut(repeat)``: a summarized LoadGen run) with plain-loop runs
    (``run_loops(samples, order)``: ``{"loops": [...]}``, one entry per (python threads, library threads) config).

    The plain loops process as many samples as the first SUT run issued (its minimum query count can exceed
    expected QPS x duration), ``estimate`` until it has run; the config order rotates per repeat, so no config
    always runs first. A config is (python threads, library threads, [more keys...,] target applies): the keys
    before the last element name it in ``plain`` and in ``run_loops``' order; a loop's result gives them as
    ``config`` when there are more than two, else ``threads_key`` names the library's thread count in it. Returns
    the SUT's metric per repeat (``values``), its runs, each config's samples/s (``plain``) and the loop runs."""
    from common import interleaved

    sut_runs: list[dict[str, Any]] = []
    plain: dict[tuple[Any, ...], list[float]] = {tuple(c[:-1]): [] for c in configs}
    loop_runs: list[dict[str, Any]] = []

    def sut(i: int) -> float:
        result = run_sut(i)
        ctx.record(label=f"sut-r{i}", **result)
        sut_runs.append(result)
        ctx.emit(f"SUT repeat {i}: {result['metric']:,.0f} samples/s over {result['samples']:,} samples, "
                 f"{result['validity']}")
        return result["metric"]

    def loops(i: int) -> float:
        order = [tuple(c[:-1]) for c in configs]
        order = order[i % len(order):] + order[:i % len(order)]
        wrapped = run_loops(sut_runs[0]["samples"] if sut_runs else estimate, order)
        loop_runs.append(wrapped)
        for r in wrapped["loops"]:
            ctx.record(label=f"plain-r{i}", **r)
            plain[tuple(r.get("config") or (r["python_threads"], r[threads_key]))].append(r["samples_per_s"])
        ctx.emit(f"plain loops repeat {i}: " + ", ".join(
            f"{'x'.join(map(str, r.get('config') or (r['python_threads'], r[threads_key])))}: "
            f"{r['samples_per_s']:,.0f}" for r in wrapped["loops"]))
        return 0.0

    values, _ = interleaved(ctx, sut, loops)
    return {"values": values, "sut_runs": sut_runs, "plain": plain, "loop_runs": loop_runs,
            "valid": f"{sum(r['valid'] for r in sut_runs)}/{len(sut_runs)}"}


def plain_ort_label(python_threads: int, intra_op_threads: int) -> str:
    """The baseline's name in the onnxruntime rows (onnx_serving, bert_serving)."""
    p, t = python_threads, intra_op_threads
    return f"plain ORT loop, {p} thread{'s' if p > 1 else ''} x {t} intra-op thread{'s' if t > 1 else ''}"
