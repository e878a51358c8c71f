"""int8_vs_fp32: INT8 against FP32 throughput of the default model through benchwright's SUT, and the accuracy
each reaches.

Variant: the INT8 TorchScript model (``results/models/digits-cnn/int8/model.pt``); baseline: the FP32 reference
(``fp32/weights.pt``, frozen TorchScript), both loaded as the DAG loads them and run by ``run_loadgen`` in Offline
at the SKU's tuning for digits-cnn Offline (config/systems/cpu-host.yaml: batch 64, 2 workers, so 1 torch thread
each on 2 cores). Each precision's expected QPS is sized from a short probe so every run lasts about its minimum
duration. The target applies to this row.

For reference, the same two models without the harness: a plain loop in 2 threads x 1 torch thread (the SUT's own
parallelism) over as many samples as the LoadGen runs - the speed-up of the models themselves - and, from the same
runs, the fraction of each model's plain-loop speed that survives the harness (target >= 0.9, issue 19). And the
INT8 model through a minimal raw LoadGen SUT (``model_runs.raw_sut_run``), once per repeat after the plain loop:
what LoadGen itself leaves of the model's speed, and benchwright's SUT against it (reference rows, no target).

Accuracy: a LoadGen AccuracyOnly run of each precision over the whole validation split (1,024 samples), scored by
benchwright's accuracy script (top-1); deterministic, so run once.
"""

from __future__ import annotations

from typing import Any

from common import Context, Row, Target, compare, foreign_note, in_fresh_process, interleaved, register
from model_runs import check_inputs, offline_spec, plain_precisions, raw_sut_run, sut_run

NAME = "int8_vs_fp32"
THROUGHPUT_TARGET = Target(">=", 1.5)
ACCURACY_TARGET = Target(">=", 0.99)
HARNESS_TARGET = Target(">=", 0.9)
"""What the SUT keeps of each model's plain-loop speed (same batch, threads and samples)."""


@register(NAME, order=20, description="INT8 vs FP32 Offline throughput through the SUT (same batch and workers), "
                                      "and top-1 accuracy of both on the whole validation split")
def int8_vs_fp32(ctx: Context) -> list[Row]:
    check_inputs(("fp32", "int8"))
    specs = {p: offline_spec(ctx, p) for p in ("fp32", "int8")}
    runs: dict[str, list[dict]] = {"fp32": [], "int8": []}
    plain: dict[str, list[float]] = {"fp32": [], "int8": []}
    plain_runs: list[dict[str, Any]] = []
    raw_runs: list[dict[str, Any]] = []

    def offline(precision: str):
        def go(i: int) -> float:
            out = ctx.scratch(f"{precision}-offline-r{i}")
            result = in_fresh_process(sut_run, specs[precision], str(out))
            ctx.record(precision=precision, label=f"offline-r{i}", **result)
            runs[precision].append(result)
            ctx.emit(f"Offline {precision} repeat {i}: {result['metric']:,.0f} samples/s, {result['validity']}")
            return result["metric"]
        return go

    def plain_loop(i: int) -> None:
        order = ["int8", "fp32"] if i % 2 == 0 else ["fp32", "int8"]
        samples = [runs[p][0]["samples"] if runs[p] else 50_000 for p in order]
        result = in_fresh_process(plain_precisions, [specs[p] for p in order], samples, specs["fp32"]["threads"], 1)
        ctx.record(label=f"plain-r{i}", **result)
        plain_runs.append(result)
        for p in order:
            plain[p].append(result[p]["samples_per_s"])
        ctx.emit(f"plain loop repeat {i}: int8 {result['int8']['samples_per_s']:,.0f}, "
                 f"fp32 {result['fp32']['samples_per_s']:,.0f} samples/s")
        raw_result = in_fresh_process(raw_sut_run, specs["int8"], str(ctx.scratch(f"int8-raw-r{i}")))
        ctx.record(precision="int8", label=f"raw-sut-r{i}", **raw_result)
        raw_runs.append(raw_result)
        ctx.emit(f"minimal raw SUT repeat {i}: int8 {raw_result['metric']:,.0f} samples/s, "
                 f"{raw_result['validity']}")

    def sut_pair(i: int) -> tuple[float, float]:
        # int8 and fp32 through the SUT, alternating which goes first
        if i % 2 == 0:
            a = offline("int8")(i)
            b = offline("fp32")(i)
        else:
            b = offline("fp32")(i)
            a = offline("int8")(i)
        return a, b

    pairs, _ = interleaved(ctx, sut_pair, plain_loop)
    int8, fp32 = [a for a, _ in pairs], [b for _, b in pairs]

    accuracy = {}
    for precision in ("fp32", "int8"):
        out = ctx.scratch(f"{precision}-accuracy")
        spec = specs[precision] | {"mode": "accuracy"}
        result = in_fresh_process(sut_run, spec, str(out))
        ctx.record(precision=precision, label="accuracy", **result)
        ctx.emit(f"accuracy {precision}: {result['accuracy']:.3f}% ({result['good']}/{result['total']})")
        accuracy[precision] = result

    def valid(p: str) -> str:
        return f"{sum(r['valid'] for r in runs[p])}/{len(runs[p])}"

    s8, s32 = specs["int8"], specs["fp32"]
    setting = f"batch {s8['batch_size']}, {s8['threads']} workers, min duration {s8['min_duration_ms']} ms"
    acc8, acc32 = accuracy["int8"], accuracy["fp32"]
    return [
        compare(NAME, "int8 through the SUT", "Offline throughput", "samples/s", int8, fp32,
                baseline="fp32 through the SUT", target=THROUGHPUT_TARGET, valid=valid("int8"),
                notes=f"{setting}; expected QPS int8 {s8['expected_qps']:,.0f} / fp32 {s32['expected_qps']:,.0f}; "
                      f"fp32 VALID {valid('fp32')}; " + foreign_note(runs["int8"] + runs["fp32"])),
        compare(NAME, "int8, plain loop (no harness)", "throughput", "samples/s", plain["int8"], plain["fp32"],
                baseline="fp32, plain loop (no harness)",
                notes=f"reference: the models' own speed-up; batch {s8['batch_size']}, {s8['threads']} threads x 1 "
                      "torch thread, as many samples as the LoadGen runs; " + foreign_note(plain_runs)),
        compare(NAME, "int8 through the SUT", "throughput vs the same model without the harness", "samples/s", int8,
                plain["int8"], baseline="int8, plain loop (no harness)", target=HARNESS_TARGET,
                notes="what the harness keeps of the INT8 model's speed (same repeat, same samples, same threads)"),
        compare(NAME, "int8 through the SUT", "Offline throughput vs a minimal raw LoadGen SUT, same model",
                "samples/s", int8, [r["metric"] for r in raw_runs], baseline="int8, minimal raw LoadGen SUT",
                notes="reference, no target: the raw SUT is model_runs.raw_sut_run (LoadGen's fast API, the same "
                      f"batches and workers, all samples in memory, one response list per chunk); raw VALID "
                      f"{sum(r['valid'] for r in raw_runs)}/{len(raw_runs)}"),
        compare(NAME, "int8, minimal raw LoadGen SUT", "throughput vs the same model without LoadGen", "samples/s",
                [r["metric"] for r in raw_runs], plain["int8"], baseline="int8, plain loop (no harness)",
                notes="reference, no target: what LoadGen itself leaves of the model's speed, with the least "
                      "Python around it"),
        compare(NAME, "fp32 through the SUT", "throughput vs the same model without the harness", "samples/s", fp32,
                plain["fp32"], baseline="fp32, plain loop (no harness)", target=HARNESS_TARGET,
                notes="as above, for FP32"),
        compare(NAME, "int8 through the SUT", "top-1 accuracy, whole validation split", "%", [acc8["accuracy"]],
                [acc32["accuracy"]], baseline="fp32 through the SUT", target=ACCURACY_TARGET,
                notes=f"LoadGen AccuracyOnly, int8 {acc8['good']}/{acc8['total']}, fp32 {acc32['good']}/"
                      f"{acc32['total']}; deterministic, run once"),
    ]
