"""model_serving: what serving the default model through LoadGen and benchwright's SUT costs against running the
same predictor in a plain torch loop.

Variant: FP32 digits-cnn through ``run_loadgen`` in Offline at the SKU's tuning (batch 64, 2 workers x 1 torch
thread: what ``harness.workload.load_workload`` sets on 2 cores). Baselines, in one fresh process per repeat, the same
predictor (same frozen TorchScript module), the same batch size, as many samples as the LoadGen run issues, batches
as contiguous slices of the preloaded validation tensor, no LoadGen:

- "plain loop, 2 threads x 1 torch thread": the SUT's own parallelism without LoadGen, queues or gathers - the
  apples-to-apples baseline (same batch, same torch threads, same workers); the target applies to it;
- "plain loop, 1 thread x 2 torch threads": the obvious plain-torch way to use both cores; target applies too;
- "plain loop, 1 thread x 1 torch thread": same torch threads but one core only - reported for completeness,
  it measures the second core rather than the harness, so no target.
"""

from __future__ import annotations

from common import Context, Row, Target, compare, foreign_note, in_fresh_process, register
from model_runs import check_inputs, offline_spec, plain_loops_run, sut_against_loops, sut_run

NAME = "model_serving"
TARGET = Target(">=", 0.90)
CONFIGS = [(2, 1, True), (1, 2, True), (1, 1, False)]  # (python threads, torch threads, target applies)


@register(NAME, order=30, description="FP32 model through the SUT (Offline) vs the same predictor in plain torch "
                                      "loops (same batch size, no LoadGen)")
def model_serving(ctx: Context) -> list[Row]:
    check_inputs(("fp32",))
    spec = offline_spec(ctx, "fp32")
    estimate = int(spec["expected_qps"] * spec["min_duration_ms"] / 1000 * 1.1)
    runs = sut_against_loops(
        ctx, CONFIGS, "torch_threads", estimate,
        lambda i: in_fresh_process(sut_run, spec, str(ctx.scratch(f"sut-r{i}"))),
        lambda samples, order: in_fresh_process(plain_loops_run, spec, samples, order))
    fp32, plain, sut_runs, valid = runs["values"], runs["plain"], runs["sut_runs"], runs["valid"]
    rows = []
    for p, t, has_target in CONFIGS:
        rows.append(compare(
            NAME, "fp32 through the SUT", "Offline throughput", "samples/s", fp32, plain[(p, t)],
            baseline=f"plain loop, {p} thread{'s' if p > 1 else ''} x {t} torch thread{'s' if t > 1 else ''}",
            target=TARGET if has_target else None, valid=valid,
            notes=f"batch {spec['batch_size']}, SUT {spec['threads']} workers; expected QPS "
                  f"{spec['expected_qps']:,.0f}, {sut_runs[0]['samples']:,} samples per run"
                  + ("" if has_target else "; uses one core of two: not a like-for-like baseline")
                  + "; " + foreign_note(sut_runs + runs["loop_runs"])))
    return rows
