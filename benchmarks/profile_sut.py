"""One LoadGen run of benchwright's SUT, to be profiled: ``py-spy record -- python benchmarks/profile_sut.py ...``.

The run is the one ``harness_overhead`` / ``int8_vs_fp32`` measure (the campaign's RunSpec for digits-cnn on
cpu-host, the real run_loadgen, BatchingSUT and SampleLibrary), without the repeats and the fresh-process
machinery, so a profiler sees only the run. ``--model null`` answers zeros at once; ``fp32`` / ``int8`` load
the default campaign's models as the ``loadgen`` step does. Prints LoadGen's result and the SUT's counters.

    py-spy record --rate 500 --format speedscope -o /tmp/server.json --threads --gil -- \\
        python benchmarks/profile_sut.py --scenario Server --target-qps 150000
    python benchmarks/profile_sut.py --scenario Offline --model int8 --expected-qps 200000
"""

from __future__ import annotations

import argparse
import sys
import tempfile

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from common import campaign_spec, summarize_run, torch_threads_for  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["Offline", "Server"], default="Offline")
    parser.add_argument("--model", choices=["null", "fp32", "int8"], default="null")
    parser.add_argument("--expected-qps", type=float, default=1_000_000, help="Offline")
    parser.add_argument("--target-qps", type=float, default=100_000, help="Server")
    parser.add_argument("--min-duration-ms", type=int, default=3000)
    parser.add_argument("--latency-ms", type=float, default=15.0, help="Server's p99 bound")
    parser.add_argument("--threads", type=int, help="SUT workers (default: the SKU's tuning)")
    parser.add_argument("--batch-size", type=int, help="default: the SKU's tuning")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from benchwright.harness.run import run_loadgen
    from benchwright.harness.spec import RunSpec
    from bench_harness_overhead import _val_images

    overrides = {"min_duration_ms": args.min_duration_ms}
    overrides |= {k: v for k, v in (("threads", args.threads), ("batch_size", args.batch_size)) if v}
    if args.scenario == "Offline":
        overrides["expected_qps"] = args.expected_qps
    else:
        overrides |= {"target_latency_ms": args.latency_ms, "target_qps": args.target_qps}
    precision = "int8" if args.model == "int8" else "fp32"
    data = campaign_spec(args.scenario, precision, **overrides)
    spec = RunSpec.model_validate(data)
    torch.set_num_threads(torch_threads_for(spec.threads))
    if args.model == "null":
        predict = lambda batch: np.zeros(len(batch), dtype=np.int32)  # noqa: E731
    else:
        from benchwright.harness.workload import load_workload
        from model_runs import DATA_DIR, MODEL_DIR
        predict = load_workload(spec, MODEL_DIR / spec.precision.value, DATA_DIR).predictors
    with tempfile.TemporaryDirectory() as out:
        outcome = run_loadgen(spec, predict, _val_images(), out, emit=lambda m: None)
        facts = summarize_run(out)
    print(f"{args.scenario} {args.model}: {facts['validity']} metric {facts['metric']:,.0f}, "
          f"p99 {(facts['p99_ns'] or 0) / 1e6:.2f} ms, {outcome.completed:,} samples in {outcome.batches:,} "
          f"batches, {outcome.wall_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
