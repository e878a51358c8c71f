"""onnx_serving: what serving an ONNX model through LoadGen and benchwright's SUT costs against running it in a
plain onnxruntime loop.

Nothing here needs the campaign: a fresh process writes a random-weight classifier with
``benchwright.fixtures.onnx_classifier`` (input ``input`` float32 [N, 3, 64, 64], output ``logits`` [N, 1000])
and a validation split of generated float32 samples (``np.random.default_rng``) into the measurement's scratch
folder, laid out as the DAG's preprocessing lays it out (``val_x.npy``, ``val_y.npy``, ``val_ids.npy``).

Variant: the model through ``run_loadgen`` in Offline, performance mode, loaded as the DAG's ``loadgen`` step
loads it (``harness.workload.load_workload``, onnxruntime backend): batch 32, 2 SUT workers sharing one
InferenceSession with 1 intra-op and 1 inter-op thread, samples read from the split on disk by the sample library
(1,024 of them). Baselines, in one fresh process per repeat, no LoadGen: a plain ``onnxruntime.InferenceSession``
of the same file (default options but for the thread counts), batch 32, as many samples as the LoadGen run
issued, each batch answered with its classes (argmax, as the SUT's response is). Their batches come one of two
ways:

- "in LoadGen's order": 1,024 samples drawn from the split into memory (a performance sample set), each batch
  copied out of it by 32 indices drawn uniformly, as LoadGen draws an Offline query's samples (the indices are
  drawn before the clock starts). Every SUT must do this copy: the model needs one contiguous batch, and LoadGen's
  samples come in random order. With 2 threads x 1 intra-op thread this is the like-for-like baseline (the SUT's
  batch, threads and data movement, without LoadGen, queues or responses); the target applies to it;
- "contiguous": slices of the whole split in memory, no copy at all, what a plain loop over a dataset does. For
  this fixture the copy is large next to the model's work (1.5 MiB per batch against about 0.5 ms of compute),
  so these rows show its cost; no target (2 threads x 1 intra-op thread, and 1 thread x 2 intra-op threads, the
  obvious plain-onnxruntime way to use both cores).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from common import Context, Row, Target, compare, foreign_note, in_fresh_process, register, summarize_run
from model_runs import OFFLINE_MARGIN, plain_ort_label, run_threads, sut_against_loops

NAME = "onnx_serving"
TARGET = Target(">=", 0.90)
INPUT_NAME, OUTPUT_NAME = "input", "logits"
INPUT_SHAPE = (3, 64, 64)
CLASSES = 1000
SAMPLES = 2048
"""Validation samples generated (48 KiB each: 96 MiB); the SUT's sample library loads 1,024 of them."""
BATCH, WORKERS, INTRA, INTER = 32, 2, 1, 1
PERFORMANCE_SAMPLE_COUNT = 1024
LOADGEN_ORDER, CONTIGUOUS = "loadgen-order", "contiguous"
CONFIGS = [(2, 1, LOADGEN_ORDER, True), (2, 1, CONTIGUOUS, False), (1, 2, CONTIGUOUS, False)]
"""(python threads, intra-op threads, how batches are made, target applies)"""


# ---------------------------------------------------------------------------------------------------------------
# fresh processes


def prepare(folder: str) -> dict[str, Any]:
    """Write ``folder/model/model.onnx`` (the fixture) and ``folder/data/val_{x,y,ids}.npy`` (generated samples,
    written in chunks); return the paths and the model's sha256."""
    import numpy as np

    from benchwright.fixtures import onnx_classifier

    root = Path(folder)
    model_dir, data_dir = root / "model", root / "data"
    model_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    info = onnx_classifier(model_dir / "model.onnx", input_name=INPUT_NAME, input_shape=INPUT_SHAPE,
                           output_name=OUTPUT_NAME, classes=CLASSES, seed=0, overwrite=True)
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(data_dir / "val_x.npy", mode="w+", dtype=np.float32, shape=(SAMPLES, *INPUT_SHAPE))
    for i in range(0, SAMPLES, 256):
        x[i:i + 256] = rng.standard_normal((min(256, SAMPLES - i), *INPUT_SHAPE), dtype=np.float32)
    x.flush()
    del x
    np.save(data_dir / "val_y.npy", rng.integers(0, CLASSES, SAMPLES, dtype=np.int64))
    np.save(data_dir / "val_ids.npy", np.arange(SAMPLES, dtype=np.int64))
    return {"model_dir": str(model_dir), "data_dir": str(data_dir), "sha256": info.sha256}


def _spec(spec_data: dict[str, Any]):
    from benchwright.harness.spec import RunSpec

    return RunSpec.model_validate(spec_data)


def probe(spec_data: dict[str, Any], model_dir: str, data_dir: str, seconds: float = 0.25,
          windows: int = 3) -> dict[str, Any]:
    """A rough throughput of the workload's predictors (the SUT's workers calling them directly on contiguous
    batches; the best of a few short windows) to size LoadGen's expected QPS."""
    import numpy as np

    from benchwright.harness.workload import load_workload

    spec = _spec(spec_data)
    work = load_workload(spec, model_dir, data_dir)
    x = np.ascontiguousarray(work.samples.arrays["x"].all())
    batches = [x[i:i + spec.batch_size] for i in range(0, len(x) - spec.batch_size + 1, spec.batch_size)]
    predictors = work.predictors

    def rate(window: float) -> float:
        done = [0] * len(predictors)
        stop_at = time.perf_counter() + window

        def loop(k: int) -> None:
            i = k
            while time.perf_counter() < stop_at:
                predictors[k](batches[i % len(batches)])
                done[k] += spec.batch_size
                i += len(predictors)

        elapsed = run_threads(loop, len(predictors))
        return sum(done) / elapsed

    rate(0.2)  # warm-up
    best = max(rate(seconds) for _ in range(windows))
    work.samples.close()
    return {"rate_estimate": best, "backend": work.backend, "samples": len(x)}


def sut_run(spec_data: dict[str, Any], model_dir: str, data_dir: str, out_dir: str) -> dict[str, Any]:
    """One LoadGen run of the ONNX model through benchwright's SUT, loaded by load_workload (one predictor per
    worker, the split on disk for the sample library)."""
    from benchwright.harness.run import run_loadgen
    from benchwright.harness.workload import load_workload

    spec = _spec(spec_data)
    work = load_workload(spec, model_dir, data_dir)
    outcome = run_loadgen(spec, work.predictors, work.samples, out_dir, emit=lambda message: None)
    work.samples.close()
    return summarize_run(out_dir) | {"batches": outcome.batches, "wall_s": outcome.wall_s, "backend": work.backend}


def _timed_loop(session, batch_of, n_available: int, samples: int, python_threads: int) -> dict[str, Any]:
    """``samples`` samples (rounded up to whole batches) through ``session`` from ``python_threads`` threads taking
    the next batch number from a shared counter (dynamic balancing, like the SUT's work queue); ``batch_of(j)`` is
    batch ``j``'s input (``j`` < ``n_available``, taken round-robin). Warmed up first (untimed). Each batch is
    answered with its classes (argmax), as the SUT answers LoadGen."""
    run = session.run
    outputs = [OUTPUT_NAME]
    for j in range(8):
        run(outputs, {INPUT_NAME: batch_of(j)})[0].argmax(axis=1)
    bs = len(batch_of(0))
    n_batches = max(python_threads, -(-samples // bs))
    counter = itertools.count()  # next() on itertools.count is atomic under the GIL

    def loop(_k: int) -> None:
        while (j := next(counter)) < n_batches:
            run(outputs, {INPUT_NAME: batch_of(j % n_available)})[0].argmax(axis=1)

    elapsed = run_threads(loop, python_threads)
    return {"samples": n_batches * bs, "seconds": elapsed, "samples_per_s": n_batches * bs / elapsed}


def batch_source(x, how: str, batch_size: int, samples: int, seed: int = 0):
    """``(batch_of, n_available)`` for ``_timed_loop``: contiguous views of ``x``, or copies out of a 1,024-sample
    set in LoadGen's order (a random subset of ``x`` loaded into memory, 32 uniform indices per batch, drawn now)."""
    import numpy as np

    if how == CONTIGUOUS:
        views = [x[i:i + batch_size] for i in range(0, len(x) - batch_size + 1, batch_size)]
        return views.__getitem__, len(views)
    rng = np.random.default_rng(seed)
    loaded = np.ascontiguousarray(x[np.sort(rng.choice(len(x), PERFORMANCE_SAMPLE_COUNT, replace=False))])
    n_batches = -(-samples // batch_size)
    indices = rng.integers(0, len(loaded), (n_batches, batch_size))
    return (lambda j: loaded[indices[j]]), n_batches


def plain_loops_run(model_file: str, data_dir: str, batch_size: int, samples: int,
                    configs: list[tuple[int, int, str]]) -> dict[str, Any]:
    """The model in a plain onnxruntime InferenceSession per (python threads, intra-op threads, how batches are
    made) in ``configs``, in order: no LoadGen, no benchwright; the whole split in memory."""
    import numpy as np
    import onnxruntime as ort

    x = np.ascontiguousarray(np.load(Path(data_dir) / "val_x.npy"))
    results = []
    for python_threads, intra, how in configs:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra
        options.inter_op_num_threads = INTER
        session = ort.InferenceSession(model_file, sess_options=options, providers=["CPUExecutionProvider"])
        batch_of, n_available = batch_source(x, how, batch_size, samples)
        result = _timed_loop(session, batch_of, n_available, samples, python_threads)
        results.append({"python_threads": python_threads, "intra_op_threads": intra, "batches": how,
                        "config": [python_threads, intra, how], **result})
        del session, batch_of
    return {"loops": results, "onnxruntime": ort.__version__}


# ---------------------------------------------------------------------------------------------------------------
# parent side


def onnx_spec(min_duration_ms: int, expected_qps: float | None = None) -> dict[str, Any]:
    """The RunSpec of the variant as JSON-able data (built here, not from the campaign: nothing needs it to run)."""
    from benchwright.backends import ModelSpec
    from benchwright.harness.spec import RunSpec

    model = ModelSpec(task="image_classification", backend="onnxruntime", format="onnx",
                      inputs={"x": INPUT_NAME}, outputs={"logits": OUTPUT_NAME},
                      intra_op_threads=INTRA, inter_op_threads=INTER)
    spec = RunSpec(benchmark="onnx-fixture", system="cpu-host", loadgen_model="resnet50", scenario="Offline",
                   mode="performance", precision="fp32", run_mode="smoke", model=model, batch_size=BATCH,
                   threads=WORKERS, expected_qps=expected_qps, performance_sample_count=PERFORMANCE_SAMPLE_COUNT,
                   min_duration_ms=min_duration_ms)
    return spec.model_dump(mode="json")


@register(NAME, order=32, description="ONNX model (onnxruntime backend) through the SUT (Offline) vs a plain "
                                      "onnxruntime InferenceSession loop (same batch size and threads, no LoadGen)")
def onnx_serving(ctx: Context) -> list[Row]:
    import shutil

    folder = ctx.scratch("fixture")
    try:
        return _measure(ctx, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measure(ctx: Context, folder: Path) -> list[Row]:
    made = in_fresh_process(prepare, str(folder))
    model_dir, data_dir = made["model_dir"], made["data_dir"]
    model_file = str(Path(model_dir) / "model.onnx")
    ctx.header.append(f"Model onnx_serving: `benchwright.fixtures.onnx_classifier` input {list(INPUT_SHAPE)}, "
                      f"{CLASSES} classes, seed 0, sha256 {made['sha256'][:16]}…")
    min_ms = ctx.settings["offline_min_duration_ms"]
    probed = in_fresh_process(probe, onnx_spec(min_ms), model_dir, data_dir)
    ctx.record(label="probe", **probed)
    ctx.emit(f"probe: ~{probed['rate_estimate']:,.0f} samples/s ({WORKERS} workers calling the predictor)")
    spec = onnx_spec(min_ms, expected_qps=round(probed["rate_estimate"] * OFFLINE_MARGIN))
    estimate = int(spec["expected_qps"] * spec["min_duration_ms"] / 1000 * 1.1)
    runs = sut_against_loops(
        ctx, CONFIGS, "intra_op_threads", estimate,
        lambda i: in_fresh_process(sut_run, spec, model_dir, data_dir, str(ctx.scratch(f"sut-r{i}"))),
        lambda samples, order: in_fresh_process(plain_loops_run, model_file, data_dir, BATCH, samples, order))
    values, plain, sut_runs, valid = runs["values"], runs["plain"], runs["sut_runs"], runs["valid"]
    backend = sut_runs[0].get("backend", {})
    return [compare(NAME, "onnx fp32 through the SUT", "Offline throughput", "samples/s", values, plain[(p, t, how)],
                    baseline=plain_ort_label(p, t) + (", batches in LoadGen's order" if how == LOADGEN_ORDER
                                                      else ", contiguous batches"),
                    target=TARGET if has_target else None, valid=valid,
                    notes=f"fixture classifier {list(INPUT_SHAPE)} -> {CLASSES}, onnxruntime "
                          f"{backend.get('onnxruntime', '?')}; batch {BATCH}, SUT {WORKERS} workers x "
                          f"{INTRA} intra-op / {INTER} inter-op thread; expected QPS {spec['expected_qps']:,.0f}, "
                          f"{sut_runs[0]['samples']:,} samples per run; "
                          + ("" if has_target else "no batch copy: shows the cost of LoadGen's random sample "
                             "order, which every SUT pays; ")
                          + foreign_note(sut_runs + runs["loop_runs"]))
            for p, t, how, has_target in CONFIGS]
