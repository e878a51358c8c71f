"""bert_serving: what serving a BERT (question answering) ONNX model through LoadGen and benchwright's SUT costs
against running it in a plain onnxruntime loop.

Nothing here needs the campaign. A fresh process writes, into the measurement's scratch folder:

- a SQuAD-v1.1-style ``dev-v1.1.json`` and its ``vocab.txt`` (``benchwright.fixtures.squad_dev``, 512 questions,
  seed 0), run through the real ``squad`` preprocessor (``benchwright.data.preprocess.preprocess``, version 1,
  default parameters: max_seq_length 384, doc_stride 128) into the split the ``question_answering`` task reads
  (``val_input_ids.npy``, ``val_input_mask.npy``, ``val_segment_ids.npy``, int64 [N, 384], and the side files);
- a random-weight BERT (``benchwright.fixtures.bert_model``: 2 layers, hidden 64, 2 heads, intermediate 128,
  sequence 384, the vocabulary of that vocab.txt, seed 0) exported to ONNX with MLCommons' names (inputs
  ``input_ids``, ``input_mask``, ``segment_ids``; outputs ``output_start_logits``, ``output_end_logits``).

Variant: the model through ``run_loadgen`` in Offline, performance mode, loaded as the DAG's ``loadgen`` step
loads it (``harness.workload.load_workload``, task question_answering, onnxruntime backend): batch 8, 2 SUT
workers sharing one InferenceSession with 1 intra-op and 1 inter-op thread; the sample library reads its samples
from the split on disk. Each response is the task's: the two logits stacked, float32 [384, 2].

Baselines, in one fresh process per repeat, no LoadGen, no benchwright: a plain ``onnxruntime.InferenceSession``
of the same file (default options but for the thread counts), batch 8, as many samples as the LoadGen run issued,
batches as contiguous slices of the three arrays loaded whole into memory, each answered with
``np.stack([start, end], axis=-1)`` (the same work as the SUT's response):

- "plain ORT loop, 2 threads x 1 intra-op thread": the SUT's own parallelism without LoadGen, queues or gathers;
  the target applies;
- "plain ORT loop, 1 thread x 2 intra-op threads": the obvious plain-onnxruntime way to use both cores; the target
  applies too.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from common import Context, Row, Target, compare, foreign_note, in_fresh_process, register, summarize_run
from model_runs import OFFLINE_MARGIN, plain_ort_label, run_threads, sut_against_loops

NAME = "bert_serving"
TARGET = Target(">=", 0.90)
INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
"""The task's input arrays and, as in MLCommons' model.onnx, the model's input names."""
OUTPUT_NAMES = ("output_start_logits", "output_end_logits")
SEQ = 384
QUESTIONS = 512
"""squad_dev questions; the preprocessor turns them into about 1,500 features (long paragraphs give several)."""
LAYERS, HIDDEN, HEADS = 2, 64, 2
BATCH, WORKERS, INTRA, INTER = 8, 2, 1, 1
PERFORMANCE_SAMPLE_COUNT = 1024
CONFIGS = [(2, 1, True), (1, 2, True)]  # (python threads, intra-op threads, target applies)


# ---------------------------------------------------------------------------------------------------------------
# fresh processes


def prepare(folder: str) -> dict[str, Any]:
    """Write the squad fixture, its preprocessed split (``folder/data``) and the ONNX BERT
    (``folder/model/model.onnx``); return the paths, the feature count and the model's sha256."""
    import numpy as np
    from benchwright.data.preprocess import preprocess
    from benchwright.fixtures import SQUAD_FILE, VOCAB_TXT, bert_model, squad_dev

    root = Path(folder)
    raw, data_dir, model_dir = root / "squad", root / "data", root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    squad = squad_dev(raw, count=QUESTIONS, seed=0, overwrite=True)
    started = time.perf_counter()
    preprocess("squad", 1, {}, [raw / SQUAD_FILE, raw / VOCAB_TXT], data_dir)
    preprocess_s = time.perf_counter() - started
    model = bert_model(model_dir / "model.onnx", vocab=raw / VOCAB_TXT, layers=LAYERS, hidden=HIDDEN, heads=HEADS,
                       seq_length=SEQ, input_names=INPUT_NAMES, output_names=OUTPUT_NAMES, seed=0, overwrite=True)
    features = len(np.load(data_dir / "val_input_ids.npy", mmap_mode="r"))
    return {"model_dir": str(model_dir), "data_dir": str(data_dir), "sha256": model.sha256, "features": features,
            "vocab_size": squad.parameters["vocab_size"], "preprocess_s": round(preprocess_s, 3)}


def _spec(spec_data: dict[str, Any]):
    from benchwright.harness.spec import RunSpec

    return RunSpec.model_validate(spec_data)


def probe(spec_data: dict[str, Any], model_dir: str, data_dir: str, seconds: float = 0.4,
          windows: int = 3) -> dict[str, Any]:
    """A rough throughput of the workload's predictors (the SUT's workers calling them directly on contiguous
    batches; the best of a few short windows) to size LoadGen's expected QPS."""
    import numpy as np
    from benchwright.harness.workload import load_workload

    spec = _spec(spec_data)
    work = load_workload(spec, model_dir, data_dir)
    arrays = [np.ascontiguousarray(work.samples.arrays[n].all()) for n in INPUT_NAMES]
    bs = spec.batch_size
    batches = [[a[i:i + bs] for a in arrays] for i in range(0, len(arrays[0]) - bs + 1, bs)]
    predictors = work.predictors

    def rate(window: float) -> float:
        done = [0] * len(predictors)
        stop_at = time.perf_counter() + window

        def loop(k: int) -> None:
            i = k
            while time.perf_counter() < stop_at:
                predictors[k](*batches[i % len(batches)])
                done[k] += bs
                i += len(predictors)

        elapsed = run_threads(loop, len(predictors))
        return sum(done) / elapsed

    rate(0.2)  # warm-up
    best = max(rate(seconds) for _ in range(windows))
    response = predictors[0](*batches[0])
    work.samples.close()
    return {"rate_estimate": best, "backend": work.backend, "samples": len(arrays[0]),
            "response_shape": list(response.shape), "response_dtype": str(response.dtype)}


def sut_run(spec_data: dict[str, Any], model_dir: str, data_dir: str, out_dir: str) -> dict[str, Any]:
    """One LoadGen run of the BERT through benchwright's SUT, loaded by load_workload."""
    from benchwright.harness.run import run_loadgen
    from benchwright.harness.workload import load_workload

    spec = _spec(spec_data)
    work = load_workload(spec, model_dir, data_dir)
    outcome = run_loadgen(spec, work.predictors, work.samples, out_dir, emit=lambda message: None)
    work.samples.close()
    return summarize_run(out_dir) | {"batches": outcome.batches, "wall_s": outcome.wall_s, "backend": work.backend}


def _timed_loop(session, batches, samples: int, python_threads: int) -> dict[str, Any]:
    """``samples`` samples (rounded up to whole batches) through ``session`` from ``python_threads`` threads taking
    the next contiguous batch from a shared counter (dynamic balancing, like the SUT's work queue); warmed up first
    (untimed). Each batch is answered with the stacked logits [n, 384, 2], as the SUT answers LoadGen."""
    import numpy as np

    run = session.run
    outputs = list(OUTPUT_NAMES)
    feeds = [dict(zip(INPUT_NAMES, b)) for b in batches]
    for f in feeds[:4]:
        np.stack(run(outputs, f), axis=-1)
    bs = len(batches[0][0])
    n_batches = max(python_threads, -(-samples // bs))
    counter = itertools.count()  # next() on itertools.count is atomic under the GIL

    def loop(_k: int) -> None:
        while (j := next(counter)) < n_batches:
            np.stack(run(outputs, feeds[j % len(feeds)]), axis=-1)

    elapsed = run_threads(loop, python_threads)
    return {"samples": n_batches * bs, "seconds": elapsed, "samples_per_s": n_batches * bs / elapsed}


def plain_loops_run(model_file: str, data_dir: str, batch_size: int, samples: int,
                    configs: list[tuple[int, int]]) -> dict[str, Any]:
    """The model in a plain onnxruntime InferenceSession per (python threads, intra-op threads) in ``configs``, in
    order: no LoadGen, no benchwright; the three arrays whole in memory, contiguous batches round-robin."""
    import numpy as np
    import onnxruntime as ort

    arrays = [np.ascontiguousarray(np.load(Path(data_dir) / f"val_{n}.npy")) for n in INPUT_NAMES]
    batches = [[a[i:i + batch_size] for a in arrays]
               for i in range(0, len(arrays[0]) - batch_size + 1, batch_size)]
    results = []
    for python_threads, intra in configs:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra
        options.inter_op_num_threads = INTER
        session = ort.InferenceSession(model_file, sess_options=options, providers=["CPUExecutionProvider"])
        result = _timed_loop(session, batches, samples, python_threads)
        results.append({"python_threads": python_threads, "intra_op_threads": intra, **result})
        del session
    return {"loops": results, "onnxruntime": ort.__version__}


# ---------------------------------------------------------------------------------------------------------------
# parent side


def bert_spec(min_duration_ms: int, expected_qps: float | None = None) -> dict[str, Any]:
    """The RunSpec of the variant as JSON-able data (built here, not from the campaign)."""
    from benchwright.backends import ModelSpec
    from benchwright.harness.spec import RunSpec

    model = ModelSpec(task="question_answering", backend="onnxruntime", format="onnx",
                      inputs={n: n for n in INPUT_NAMES},
                      outputs={"start_logits": OUTPUT_NAMES[0], "end_logits": OUTPUT_NAMES[1]},
                      intra_op_threads=INTRA, inter_op_threads=INTER)
    spec = RunSpec(benchmark="bert-fixture", system="cpu-host", loadgen_model="bert-99", scenario="Offline",
                   mode="performance", precision="fp32", run_mode="smoke", model=model, batch_size=BATCH,
                   threads=WORKERS, expected_qps=expected_qps, performance_sample_count=PERFORMANCE_SAMPLE_COUNT,
                   min_duration_ms=min_duration_ms)
    return spec.model_dump(mode="json")


@register(NAME, order=33, description="BERT fixture (question_answering, onnxruntime) through the SUT (Offline) "
                                      "vs a plain onnxruntime InferenceSession loop (same batch size and threads)")
def bert_serving(ctx: Context) -> list[Row]:
    import shutil

    folder = ctx.scratch("fixture")
    try:
        return _measure(ctx, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measure(ctx: Context, folder: Path) -> list[Row]:
    made = in_fresh_process(prepare, str(folder))
    ctx.record(label="prepare", **made)
    model_dir, data_dir = made["model_dir"], made["data_dir"]
    model_file = str(Path(model_dir) / "model.onnx")
    ctx.header.append(f"Model bert_serving: `benchwright.fixtures.bert_model` {LAYERS} layers, hidden {HIDDEN}, "
                      f"{HEADS} heads, seq {SEQ}, vocabulary {made['vocab_size']}, seed 0, sha256 "
                      f"{made['sha256'][:16]}…; {made['features']:,} squad features from {QUESTIONS} questions")
    min_ms = ctx.settings["offline_min_duration_ms"]
    probed = in_fresh_process(probe, bert_spec(min_ms), model_dir, data_dir)
    ctx.record(label="probe", **probed)
    ctx.emit(f"probe: ~{probed['rate_estimate']:,.0f} samples/s ({WORKERS} workers calling the predictor); "
             f"response {probed['response_shape']} {probed['response_dtype']}")
    spec = bert_spec(min_ms, expected_qps=round(probed["rate_estimate"] * OFFLINE_MARGIN))
    estimate = int(spec["expected_qps"] * spec["min_duration_ms"] / 1000 * 1.1)
    runs = sut_against_loops(
        ctx, CONFIGS, "intra_op_threads", estimate,
        lambda i: in_fresh_process(sut_run, spec, model_dir, data_dir, str(ctx.scratch(f"sut-r{i}"))),
        lambda samples, order: in_fresh_process(plain_loops_run, model_file, data_dir, BATCH, samples, order))
    values, plain, sut_runs, valid = runs["values"], runs["plain"], runs["sut_runs"], runs["valid"]
    backend = sut_runs[0].get("backend", {})
    return [compare(NAME, "bert onnx fp32 through the SUT", "Offline throughput", "samples/s", values, plain[(p, t)],
                    baseline=plain_ort_label(p, t), target=TARGET if has_target else None, valid=valid,
                    notes=f"fixture BERT {LAYERS} layers x hidden {HIDDEN}, seq {SEQ}, onnxruntime "
                          f"{backend.get('onnxruntime', '?')}; batch {BATCH}, SUT {WORKERS} workers x "
                          f"{INTRA} intra-op / {INTER} inter-op thread; response float32 [{SEQ}, 2]; expected QPS "
                          f"{spec['expected_qps']:,.0f}, {sut_runs[0]['samples']:,} samples per run; "
                          + foreign_note(sut_runs + runs["loop_runs"]))
            for p, t, has_target in CONFIGS]
