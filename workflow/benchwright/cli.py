"""The ``benchwright`` command. Rules call it, so the same command runs on a host, in a container or in a
Slurm job. Exit codes: 0 success, 1 the step failed, 2 bad config (the message names file, field and fix).
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import BenchwrightError, CampaignError
from .schemas.benchmark import FixtureKind


def _cmd_validate(args: argparse.Namespace) -> int:
    from .config import load_plan, read_yaml

    merged: dict = {}
    for f in args.configfile:
        data = read_yaml(f) or {}
        merged.update(data)
    plan = load_plan(merged, args.configfile)
    c = plan.campaign
    print(f"campaign `{c.name}` is valid: {c.division.value} division, MLPerf {c.mlperf_version}, {c.mode.value} mode")
    print(f"  {len(plan.benchmarks)} benchmark(s), {len(plan.systems)} SKU(s), "
          f"{len(plan.inference_jobs)} inference configuration(s), {len(plan.training_jobs)} training result(s)")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from .schemas.export import json_schemas, write_or_check

    stale = write_or_check(json_schemas(), Path(args.out), args.check)
    return _report_stale(stale, args.check, "benchwright schema")


def _cmd_docs(args: argparse.Namespace) -> int:
    from .schemas.export import field_reference, write_or_check

    out = Path(args.out)
    stale = write_or_check({out.name: field_reference()}, out.parent, args.check)
    return _report_stale(stale, args.check, "benchwright docs")


def _report_stale(stale: list[str], check: bool, cmd: str) -> int:
    if check and stale:
        print(f"out of date with the models: {', '.join(stale)}; run `{cmd}` and commit the result", file=sys.stderr)
        return 1
    print("up to date" if not stale else f"wrote {', '.join(stale)}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from .data.fetch import fetch

    fetch(args.url, args.out, args.sha256, size=args.size, quarantine_dir=args.quarantine, retries=args.retries,
          log=lambda m: print(m, file=sys.stderr, flush=True))
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from .data.archive import safe_extract

    files = safe_extract(args.archive, args.out, args.format)
    print(f"extracted {len(files)} file(s) into {args.out}", file=sys.stderr)
    return 0


def _cmd_preprocess(args: argparse.Namespace) -> int:
    from .data.preprocess import preprocess

    spec = json.loads(args.spec)
    hashes = None
    if args.folder_manifest:  # a folder dataset: verified against its manifest first, recorded by its hash
        from .data.folder import verify_folder

        if len(args.inputs) != 1:
            raise SystemExit("benchwright preprocess: --folder-manifest takes exactly one input, the folder")
        report = verify_folder(args.inputs[0], args.folder_manifest, args.manifest_sha256, cache_file=args.cache,
                               verify_all=args.verify_all)
        print(f"dataset folder {args.inputs[0]}: {report.files} files match the manifest "
              f"({report.hashed} hashed now)", file=sys.stderr)
        hashes = {Path(args.folder_manifest).name: report.manifest_sha256}
    manifest = preprocess(spec["name"], spec["version"], spec.get("parameters", {}), args.inputs, args.out,
                          input_hashes=hashes)
    for name, meta in manifest["outputs"].items():
        print(f"{name}: {meta['shape']} {meta['dtype']} sha256={meta['sha256']}", file=sys.stderr)
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    from .config import load_system_file
    from .detect import detect, detection_record
    from .errors import display_path
    from .fsutil import atomic_write_json

    system = load_system_file(args.system)
    pins = dict(pin.split("=", 1) for pin in args.pin)
    record = detection_record(system, detect(), accept=args.accept_mismatch, system_file=display_path(args.system),
                              pins=pins, enforce_pins=args.enforce_pins)
    for diff in record["differences"]:
        print(f"accepted difference: {diff['field']}: declared {diff['declared']!r}, detected {diff['detected']!r}",
              file=sys.stderr)
    atomic_write_json(args.out, record)
    return 0


def _cmd_train_reference(args: argparse.Namespace) -> int:
    from .models.records import ReferenceSpec
    from .models.steps import train_reference

    train_reference(ReferenceSpec.model_validate_json(args.spec), args.data, args.out, threads=args.threads)
    return 0


def _names_itself(path: Path) -> bool:
    """A benchmark file: a YAML mapping whose ``name`` is its file's stem (bert-99.9, llama3.1-8b), not a rules
    file beside it (digits-cnn.compliance.yaml)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and data.get("name") == path.stem


def _cmd_train_lm(args: argparse.Namespace) -> int:
    from .models.lm import LMSpec, train_lm

    spec = LMSpec.model_validate_json(args.spec)
    train_lm(args.data, args.out, seed=spec.seed, threads=args.threads, parameters=spec.parameters,
             hyperparameters=spec.hyperparameters, log=lambda m: print(m, file=sys.stderr, flush=True))
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from .models.records import QuantizeSpec
    from .models.steps import quantize

    quantize(QuantizeSpec.model_validate_json(args.spec), args.weights, args.data, args.calibration_list, args.out)
    return 0


def _run_spec(text: str):
    from .harness.spec import RunSpec

    return RunSpec.model_validate_json(text)


def _cmd_loadgen(args: argparse.Namespace) -> int:
    from .harness.steps import loadgen_job

    loadgen_job(_run_spec(args.spec), args.model, args.data, args.out, ranging_file=args.ranging,
                detected_file=args.detected, require_valid=not args.keep_invalid)
    return 0


def _cmd_range(args: argparse.Namespace) -> int:
    from .harness.steps import range_job

    outcome = range_job(_run_spec(args.spec), args.model, args.data, args.out)
    print(f"ranging: {outcome.summary()}", file=sys.stderr)
    return 0


def _cmd_accuracy(args: argparse.Namespace) -> int:
    from .fsutil import atomic_write_json
    from .harness.accuracy import accuracy_record
    from .harness.steps import accuracy_job

    text = accuracy_job(args.run, args.data, args.out, benchmark=args.benchmark, reference=args.reference,
                        target_fraction=args.target_fraction, task=args.task, metric=args.metric,
                        fixture=args.fixture, keep_below_target=args.keep_below_target)
    record = args.record or str(Path(args.out).with_suffix(".json"))
    atomic_write_json(record, accuracy_record(text, benchmark=args.benchmark, task=args.task, metric=args.metric,
                                              reference=args.reference, target_fraction=args.target_fraction,
                                              fixture=args.fixture))
    return 0


def _cmd_dataset_manifest(args: argparse.Namespace) -> int:
    from .data.folder import write_manifest

    digest = write_manifest(args.dir, args.out)
    lines = Path(args.out).read_text().count("\n")
    print(f"wrote {args.out}: {lines} files; pin it in the benchmark file:\n"
          f"  manifest: {Path(args.out).name}\n  manifest_sha256: {digest}")
    return 0


def _cmd_dataset_verify(args: argparse.Namespace) -> int:
    from .config import load_plan, read_yaml
    from .data.folder import expand_path, verify_folder
    from .paths import dataset_verify_cache

    merged: dict = {}
    for f in args.configfile:
        merged.update(read_yaml(f) or {})
    plan = load_plan(merged, args.configfile)
    names = args.benchmark or list(plan.benchmarks)
    for name in names:
        if name not in plan.benchmarks:
            raise SystemExit(f"benchwright dataset verify: `{name}` is not a benchmark of this campaign "
                             f"({', '.join(plan.benchmarks)})")
        ds = plan.benchmarks[name].dataset
        if not ds.is_folder:
            print(f"{name}: dataset {ds.name} is fetched file by file (checked by the download rule)")
            continue
        bfile = plan.files[f"benchmark:{name}"]
        folder = expand_path(ds.path or "", field="dataset.path", file=bfile)
        manifest = Path(plan.campaign.paths.benchmarks) / (ds.manifest or "")
        report = verify_folder(folder, manifest, ds.manifest_sha256 or "", verify_all=args.verify_all,
                               cache_file=dataset_verify_cache(ds.name))
        print(f"{name}: {folder}: {report.files} files, {report.bytes:,} bytes match {manifest} "
              f"({report.hashed} hashed now)")
    return 0


def _cmd_dataset_check(args: argparse.Namespace) -> int:
    from .config import load_benchmark_file, load_plan, read_yaml
    from .data.check import check_dataset
    from .errors import display_path

    merged: dict = {}
    for f in args.configfile:
        merged.update(read_yaml(f) or {})
    plan = load_plan(merged, args.configfile, checks=False)  # the schemas; the data is what this command checks
    bench_dir = Path(plan.campaign.paths.benchmarks)
    if args.benchmark in plan.benchmarks:
        bench, bfile = plan.benchmarks[args.benchmark], plan.files[f"benchmark:{args.benchmark}"]
    else:  # a benchmark the campaign does not select yet: its file, validated the same way
        path = bench_dir / f"{args.benchmark}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in bench_dir.glob("*.yaml") if _names_itself(p))  # not X.compliance.yaml
            raise SystemExit(f"benchwright dataset check: there is no benchmark `{args.benchmark}` "
                             f"({display_path(path)} does not exist); known: {', '.join(known)}")
        bench, bfile = load_benchmark_file(path), display_path(path)
    report = check_dataset(bench, bfile, bench_dir)
    print(report.render(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _cmd_fixture(args: argparse.Namespace) -> int:
    from . import fixtures

    if args.kind == "imagenet":
        info = fixtures.imagenet_folder(args.out, count=args.count, classes=args.classes,
                                        size=(args.width, args.height), seed=args.seed, overwrite=args.overwrite)
    elif args.kind == "squad":
        info = fixtures.squad_dev(args.out, count=args.count, seed=args.seed, overwrite=args.overwrite)
    elif args.kind == "bert":
        if args.vocab is None and args.vocab_size is None:
            raise SystemExit("benchwright fixture bert: give --vocab VOCAB (the vocab.txt the model is for) or "
                             "--vocab-size N")
        info = fixtures.bert_model(args.out, vocab=args.vocab, vocab_size=args.vocab_size, format=args.format,
                                   layers=args.layers, hidden=args.hidden, heads=args.heads, seed=args.seed,
                                   overwrite=args.overwrite)
    elif args.kind == "onnx-classifier":
        info = fixtures.onnx_classifier(args.out, input_name=args.input_name, output_name=args.output_name,
                                        input_shape=(3, args.image_size, args.image_size), classes=args.classes,
                                        features=args.features or fixtures.FEATURES, seed=args.seed, overwrite=args.overwrite)
    else:
        info = fixtures.torch_classifier(args.out, input_shape=(3, args.image_size, args.image_size),
                                         classes=args.classes, features=args.features or fixtures.FEATURES, seed=args.seed,
                                         overwrite=args.overwrite)
    print(json.dumps(info.to_dict(), sort_keys=True, default=str))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import os

    from .training.spec import TrainingRunSpec

    spec = TrainingRunSpec.model_validate_json(args.spec)
    if args.threads:
        spec = spec.model_copy(update={"threads": args.threads})
    if spec.implementation is not None:  # an external implementation launches its own processes
        from .training.external import external_training_run

        external_training_run(spec, args.data, args.out, detected_file=args.detected)
        return 0
    if spec.world_size > 1 and "LOCAL_RANK" not in os.environ:
        return _launch_torchrun(spec.world_size, sys.argv[1:] if args.argv is None else args.argv)
    if spec.world_size > 1:
        return _train_distributed(spec, args)
    from .training.run import training_run

    training_run(spec, args.data, args.out, detected_file=args.detected)
    return 0


def _launch_torchrun(world_size: int, argv: list[str]) -> int:
    """Re-run this command under torchrun with one process per rank: on this node, or across the nodes of the
    Slurm allocation (srun + a c10d rendezvous on the first node)."""
    import os
    import signal
    import subprocess

    import shlex

    from .cluster import torchrun_command

    cmd = torchrun_command(world_size, ["-m", "benchwright.cli", *argv], python=sys.executable)
    print(f"benchwright train: {world_size} processes: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    # torchrun and its workers get a process group of their own, which this process takes down with it on
    # SIGTERM/SIGINT or any exit: a cancelled job leaves no training processes behind.
    proc = subprocess.Popen(cmd, start_new_session=True)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _train_distributed(spec, args: argparse.Namespace) -> int:
    import os

    import torch.distributed as dist

    from .training.run import training_run

    from .devices import require_device, training_device

    device = training_device(spec.backend, int(os.environ.get("LOCAL_RANK", "0")))
    require_device(device, sku=spec.system)
    if device != "cpu":
        import torch

        torch.cuda.set_device(device)  # NCCL reduces tensors on the rank's own GPU
    dist.init_process_group(backend=spec.backend)
    try:
        training_run(spec, args.data, args.out, rank=dist.get_rank(), world_size=dist.get_world_size(),
                     detected_file=args.detected)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


def _cmd_training_check(args: argparse.Namespace) -> int:
    from .fsutil import atomic_write_text
    from .training.check import check_training_log

    report = check_training_log(args.log, ruleset=args.ruleset, rules=args.rules)
    atomic_write_text(args.out, report)
    return 0


def _cmd_training_score(args: argparse.Namespace) -> int:
    from .fsutil import atomic_write_json
    from .training.score import score

    records = [json.loads(Path(r).read_text()) for r in args.records]
    result = score(records, benchmark=args.benchmark, system=args.system, required_runs=len(records),
                   allowed_non_converged=args.allowed_non_converged, reference_epochs=args.reference_epochs)
    atomic_write_json(args.out, result)
    print(f"{args.benchmark} on {args.system}: olympic mean time to train {result['olympic_mean_min']:.4f} min, "
          f"epochs to target {result['epochs_to_target']}", file=sys.stderr)
    return 0


def _bundle_spec(args: argparse.Namespace):
    from .submission.spec import BundleSpec, bundle_spec

    if args.spec:
        return BundleSpec.model_validate_json(args.spec)
    from .config import load_plan, read_yaml

    merged: dict = {}
    for f in args.configfile:
        merged.update(read_yaml(f) or {})
    return bundle_spec(load_plan(merged, args.configfile), args.configfile)


def _cmd_bundle(args: argparse.Namespace) -> int:
    from .submission.bundle import assemble_bundle

    spec = _bundle_spec(args)
    out = assemble_bundle(spec, args.out, args.tarball, args.checkout, overwrite=args.overwrite)
    print(f"bundle of campaign `{spec.campaign}` ({spec.mode.value} mode, "
          f"{'submittable' if spec.submittable else 'not submittable'}): {out}, {args.tarball}", file=sys.stderr)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .fsutil import atomic_write_json, atomic_write_text
    from .submission.check import RULES, check_bundle

    if args.rules:
        for rule, text in RULES.items():
            print(f"{rule:18} {text}")
        return 0
    if not args.path:
        print("benchwright check: give the bundle folder or tarball to check (or --rules)", file=sys.stderr)
        return 2
    report = check_bundle(args.path, training_tools=not args.no_training_tools)
    if args.tarball:
        packed = check_bundle(args.tarball, training_tools=False)
        report.violations += [v.__class__(f"{args.tarball}:{v.path}", v.rule, v.message) for v in packed.violations]
    text = report.text()
    print(text, end="")
    if args.json:
        atomic_write_json(args.json, report.as_dict())
    if not report.ok:
        return 1
    if args.out:
        atomic_write_text(args.out, text)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .fsutil import atomic_write_json
    from .submission.verify import verify

    result = verify(args.path, tarball=args.tarball)
    print(result.text(), end="")
    if args.json:
        atomic_write_json(args.json, result.as_dict())
    return 0 if result.ok else 1


def _cmd_publish(args: argparse.Namespace) -> int:
    from .fsutil import atomic_write_json
    from .submission.bundle import publish
    from .submission.check import check_bundle

    receipt = publish(args.bundle, args.tarball, args.report, args.to)
    published = Path(receipt["path"]) / Path(args.bundle).name
    report = check_bundle(published, training_tools=False)  # the copy is what a submitter takes away
    if not report.ok:
        print(report.text(), end="", file=sys.stderr)
        return 1
    atomic_write_json(args.receipt, receipt)
    state = "published as" if receipt["new"] else "unchanged since"
    print(f"bundle {state} {receipt['path']} (tarball sha256 {receipt['tarball_sha256']})", file=sys.stderr)
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    import math

    from .fsutil import atomic_open, atomic_write_json
    import pandas as pd

    from .paths import (REPORT_DIR, REPORT_SCALING, REPORT_STATUS, REPORT_STATUS_JSON, REPORT_SUMMARY, REPORT_TABLE,
                        REPORT_TIERS)
    from .report.scaling import SCALING_COLUMNS, scaling_rows
    from .report.table import ReportSpec, results_table, status_table, summary
    from .report.tiers import TIER_COLUMNS, capacity_rows, tier_rows

    spec = ReportSpec.model_validate_json(args.spec)
    table = results_table(spec)
    out = Path(args.out_dir)

    def name(pattern: str) -> str:
        return Path(pattern).relative_to(REPORT_DIR).as_posix()

    with atomic_open(out / name(REPORT_TABLE), "w") as handle:
        table.to_csv(handle, index=False, float_format="%.10g")
    status = status_table(table)
    with atomic_open(out / name(REPORT_STATUS), "w") as handle:
        status.to_csv(handle, index=False, float_format="%.10g")
    atomic_write_json(out / name(REPORT_STATUS_JSON), {"results": status.to_dict("records")})
    tiers = pd.DataFrame(tier_rows(spec, table), columns=TIER_COLUMNS)
    with atomic_open(out / name(REPORT_TIERS), "w") as handle:
        tiers.to_csv(handle, index=False, float_format="%.10g")
    scaling = pd.DataFrame(scaling_rows(spec, table), columns=SCALING_COLUMNS)
    with atomic_open(out / name(REPORT_SCALING), "w") as handle:
        scaling.to_csv(handle, index=False, float_format="%.10g")

    def clean(obj):
        if isinstance(obj, float) and math.isnan(obj):
            return None
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    stats = summary(spec, table)
    stats["tiers"] = tiers.to_dict("records")
    stats["scaling"] = scaling.to_dict("records")
    stats["capacity"] = [{"demand": d.model_dump(mode="json"),
                          "rows": capacity_rows(stats["tiers"], tier=d.tier, demand=d.demand, unit=d.unit,
                                                headroom=d.headroom, benchmark=d.benchmark)}
                         for d in spec.capacity]
    atomic_write_json(out / name(REPORT_SUMMARY), clean(stats))
    print(f"results table: {len(table)} rows in {out / name(REPORT_TABLE)}", file=sys.stderr)
    failed = status[status.status == "FAIL"]
    for row in failed.itertuples():
        print(f"  FAIL {row.result}: {row.reason or 'accuracy not checked'}", file=sys.stderr)
    print(f"status: {len(status) - len(failed)} of {len(status)} result(s) PASS ({out / name(REPORT_STATUS)})",
          file=sys.stderr)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .fsutil import atomic_write_json, atomic_write_text
    from .report.compare import compare, load_side, parse_thresholds, render_html, render_markdown, render_text

    default, per_metric = parse_thresholds(args.threshold or [])
    result = compare(load_side(args.baseline, "BASELINE"), load_side(args.candidate, "CANDIDATE"),
                     default_threshold=default, thresholds=per_metric, confidence=args.confidence,
                     resamples=args.resamples, seed=args.seed)
    sys.stdout.write(render_text(result))
    for path, render in ((args.markdown, render_markdown), (args.html, render_html)):
        if path:
            atomic_write_text(path, render(result))
    if args.json:
        atomic_write_json(args.json, result.as_json())
    if result.regressions:
        print(f"benchwright compare: {len(result.regressions)} regression(s): "
              + ", ".join(sorted({f"{line.result} {line.metric}" for line in result.regressions})), file=sys.stderr)
        return 1
    return 0


def _cmd_capacity(args: argparse.Namespace) -> int:
    import pandas as pd

    from .errors import InputError
    from .paths import REPORT_TIERS
    from .report.tiers import capacity_rows

    def bad(field: str, message: str, fix: str) -> InputError:
        return InputError("capacity", str(args.results), field, message, fix)

    if not args.demand > 0:
        raise bad("--demand", f"the demand must be a positive rate, got {args.demand:g}",
                  "give queries (or, with --unit tokens, output tokens) per second, e.g. --demand 5000")
    if args.headroom < 1:
        raise bad("--headroom", f"the headroom must be at least 1, got {args.headroom:g}",
                  "1.25 provisions 25 % over the demand; 1 provisions exactly the demand")
    path = Path(args.results)
    tiers_csv = path if path.is_file() else next(
        (p for p in (path / REPORT_TIERS, path / Path(REPORT_TIERS).name) if p.is_file()), None)
    if tiers_csv is None:
        raise bad("RESULTS", f"no {Path(REPORT_TIERS).name} here",
                  f"give a campaign folder after `snakemake` made {REPORT_TIERS} (the campaign must declare "
                  "report.tiers), or that file")
    tiers = pd.read_csv(tiers_csv).to_dict("records")
    known = sorted({r["tier"] for r in tiers})
    if args.tier not in known:
        raise bad("--tier", f"no tier {args.tier!r} in {tiers_csv}", f"use one of: {', '.join(known) or 'none'}")
    rows = capacity_rows(tiers, tier=args.tier, demand=args.demand, unit=args.unit, headroom=args.headroom,
                         benchmark=args.benchmark)
    if not rows:
        raise bad("--benchmark", f"the tier {args.tier!r} has no result of {args.benchmark!r}",
                  "use a benchmark the tier applies to: " + ", ".join(sorted({r["benchmark"] for r in tiers
                                                                              if r["tier"] == args.tier})))
    per = "tokens/s" if args.unit == "tokens" else "QPS"
    print(f"demand {args.demand:,g} {per} at tier {args.tier} with headroom x{args.headroom:g}")
    header = ("system", "benchmark", "precision", "scenario", f"{per} per system", "systems", "nodes", "USD/hour",
              "USD/month")
    lines = [header]
    for r in sorted(rows, key=lambda r: (r["usd_per_hour"] if r["usd_per_hour"] == r["usd_per_hour"] else 1e300,
                                         r["system"])):
        def money(v: float) -> str:
            return "n/a" if v != v else f"{v:,.2f}"
        lines.append((r["system"], r["benchmark"], r["precision"], r["scenario"],
                      "n/a" if r["systems"] is None else f"{r['capacity_per_system']:,.1f}",
                      "-" if r["systems"] is None else str(r["systems"]), "-" if r["nodes"] is None else str(r["nodes"]),
                      money(r["usd_per_hour"]), money(r["usd_per_month"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    for r in rows:
        if r["note"]:
            print(f"{r['system']} {r['benchmark']} {r['precision']} {r['scenario']}: {r['note']}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from .fsutil import atomic_write_text
    from .report import html, plots
    from .report.table import ReportSpec

    spec = ReportSpec.model_validate_json(args.spec)
    table = pd.read_csv(args.table)
    summary = json.loads(Path(args.summary).read_text())
    out = Path(args.out)
    if args.index:
        comparison = ""
        if spec.baseline:
            from .report.compare import baseline_section

            comparison = baseline_section(spec.baseline, table, args.table,
                                          threshold=spec.regression_threshold_pct / 100,
                                          confidence=spec.confidence, resamples=spec.resamples, seed=spec.seed)
        atomic_write_text(out, html.index_page(spec, table, summary, comparison))
        return 0
    system, folder = args.system, Path(args.plots)
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "latency": plots.latency_plot(table, system, folder / "latency.png"),
        "server_ranging": plots.server_ranging_plot(spec.inference, system, folder / "server_ranging.png"),
        "accuracy": plots.accuracy_plot(table, system, folder / "accuracy.png"),
        "time_to_train": plots.time_to_train_plot(table, system, folder / "time_to_train.png",
                                                  confidence=spec.confidence, resamples=spec.resamples,
                                                  seed=spec.seed),
        "scaling": plots.scaling_plot(summary.get("scaling") or [], system, folder / "scaling.png"),
    }
    relative = {k: f"{folder.name}/{p.name}" for k, p in made.items() if p is not None}
    atomic_write_text(out, html.sku_page(spec, table, summary, system, relative))
    print(f"report of {system}: {out} ({len(relative)} plots)", file=sys.stderr)
    return 0


def _cmd_image(args: argparse.Namespace) -> int:
    from .containers.image import build_image, lock

    if args.lock:
        lock(Path(args.containers) / args.name)
        return 0
    build_image(args.name, containers_dir=args.containers, project_root=args.project, record=args.record,
                base=args.base)
    return 0


def _cmd_container_run(args: argparse.Namespace) -> int:
    """Run `benchwright ARGS` where the SKU says: on the host, in its Docker image, or in its Apptainer image."""
    import os

    from .config import load_system_file
    from .containers.runner import run_apptainer, run_docker
    from .containers.spec import job_for
    from .provenance import CODE_ENV, code_state

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    system = load_system_file(args.system)
    runtime = system.container.runtime
    if runtime == "local":
        return main(command)
    if runtime == "docker":
        if not args.image_record:
            print("benchwright container-run: a docker SKU needs --image-record", file=sys.stderr)
            return 2
        image = json.loads(Path(args.image_record).read_text())["id"]
    else:
        image = system.container.sif
    gpu_ids = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g]
    env = {"BENCHWRIGHT_RUNTIME": runtime, "BENCHWRIGHT_IMAGE_ID": image, "PYTHONUNBUFFERED": "1",
           CODE_ENV: json.dumps(code_state())}  # the container has no checkout: the host says what code runs
    job = job_for(system, image, ["benchwright", *command], read_only=args.ro, read_write=args.rw,
                  cpus=args.cpus, mem_limit_mb=args.mem_mb, env=env, gpu_ids=gpu_ids, label=command[0],
                  network=args.network, pass_env=args.pass_env)
    if runtime == "docker":
        run_docker(job)
        return 0
    return run_apptainer(job)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchwright", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"benchwright {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a campaign against the schemas and run rules, run nothing")
    p.add_argument("--configfile", nargs="+", default=["config/config.yaml"],
                   help="campaign file(s); later ones extend earlier ones, as with snakemake --configfile")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("schema", help="write the JSON schemas derived from the models")
    p.add_argument("--out", default="workflow/schemas")
    p.add_argument("--check", action="store_true", help="exit 1 if the files differ from the models")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("docs", help="write the configuration reference derived from the models")
    p.add_argument("--out", default="docs/config-reference.md")
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs from the models")
    p.set_defaults(func=_cmd_docs)

    p = sub.add_parser("fetch", help="download a file, verify its sha256, place it atomically")
    p.add_argument("--url", required=True, help="http(s)://, file:// or package://<import name>/<path>")
    p.add_argument("--sha256", required=True)
    p.add_argument("--size", type=int)
    p.add_argument("--out", required=True)
    p.add_argument("--quarantine", help="where a file with the wrong hash is moved (default: beside --out)")
    p.add_argument("--retries", type=int, default=4)
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("extract", help="extract an archive safely (no '..', absolute paths or escaping links)")
    p.add_argument("--archive", required=True)
    p.add_argument("--format", required=True, choices=["zip", "tar", "tar.gz", "tar.bz2", "tar.xz"])
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("preprocess", help="run a benchmark's deterministic preprocessing")
    p.add_argument("--spec", required=True, help="the benchmark's `preprocessing` section as JSON")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--out", required=True, help="output folder (replaced atomically)")
    p.add_argument("--folder-manifest", help="a folder dataset's manifest: verify the folder against it first")
    p.add_argument("--manifest-sha256", help="the manifest's pinned sha256 (with --folder-manifest)")
    p.add_argument("--cache", help="size/mtime cache of the folder's verification (re-hash only what changed)")
    p.add_argument("--verify-all", action="store_true", help="re-hash every file of the folder")
    p.set_defaults(func=_cmd_preprocess)

    p = sub.add_parser("dataset", help="dataset folders: make a manifest, verify a campaign's folders, check what "
                                       "a benchmark lacks")
    dsub = p.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    q = dsub.add_parser("manifest", help="write the sha256 list of every file of DIR (pin its hash in the benchmark)")
    q.add_argument("dir", help="the dataset folder")
    q.add_argument("--out", required=True, help="the manifest file (beside the benchmark file)")
    q.set_defaults(func=_cmd_dataset_manifest)
    q = dsub.add_parser("verify", help="verify a campaign's folder datasets against their manifests")
    q.add_argument("benchmark", nargs="*", help="benchmarks to verify (default: all of the campaign)")
    q.add_argument("--configfile", nargs="+", default=["config/config.yaml"])
    q.add_argument("--verify-all", action="store_true", help="re-hash every file, not only changed ones")
    q.set_defaults(func=_cmd_dataset_verify)
    q = dsub.add_parser("check", help="say what a benchmark's data, model and calibration list lack on this machine "
                                      "and where they are expected (exit 1 when anything is missing)")
    q.add_argument("benchmark", help="the benchmark (config/benchmarks/<benchmark>.yaml; need not be selected)")
    q.add_argument("--configfile", nargs="+", default=["config/config.yaml"])
    q.set_defaults(func=_cmd_dataset_check)

    p = sub.add_parser("fixture", help="make a stand-in dataset or model in the official layout (labelled a "
                                       "fixture: never real data, never submittable)")
    p.add_argument("kind", choices=list(typing.get_args(FixtureKind)))
    p.add_argument("--out", required=True, help="the folder (imagenet, squad) or model file to write")
    p.add_argument("--count", type=int, default=64, help="imagenet: images to generate; squad: questions")
    p.add_argument("--vocab", help="bert: the vocab.txt the model is for (its size is the model's vocabulary)")
    p.add_argument("--vocab-size", type=int, help="bert: the vocabulary size, instead of --vocab")
    p.add_argument("--format", choices=["onnx", "torch"], default="onnx",
                   help="bert: ONNX file, or a TorchScript archive")
    p.add_argument("--layers", type=int, default=2, help="bert: encoder layers")
    p.add_argument("--hidden", type=int, default=64, help="bert: hidden size")
    p.add_argument("--heads", type=int, default=2, help="bert: attention heads")
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--features", type=int, help="onnx-classifier, torch-classifier: channels of the "
                   "convolution (default 8; more: more compute per input byte)")
    p.add_argument("--width", type=int, default=64, help="imagenet: typical image width")
    p.add_argument("--height", type=int, default=48, help="imagenet: typical image height")
    p.add_argument("--image-size", type=int, default=224, help="models: the input's height and width")
    p.add_argument("--input-name", default="input", help="onnx-classifier: the model's input name")
    p.add_argument("--output-name", default="logits", help="onnx-classifier: the model's output name")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_fixture)

    p = sub.add_parser("detect", help="detect this machine and compare it with a SKU")
    p.add_argument("--system", required=True, help="the SKU file, config/systems/<id>.yaml")
    p.add_argument("--out", required=True)
    p.add_argument("--accept-mismatch", action="store_true", help="record differences instead of stopping")
    p.add_argument("--pin", action="append", default=[], metavar="PACKAGE=SPEC",
                   help="a run-rule version pin, e.g. 'mlcommons-loadgen=>=6.0.16' (repeatable; recorded)")
    p.add_argument("--enforce-pins", action="store_true", help="stop when a pin is broken (submission mode)")
    p.set_defaults(func=_cmd_detect)

    p = sub.add_parser("train-reference", help="train the seeded FP32 reference model of a benchmark")
    p.add_argument("--spec", required=True, help="model and training recipe as JSON (the DAG resolves it)")
    p.add_argument("--data", required=True, help="preprocessed data folder")
    p.add_argument("--out", required=True, help="folder for weights.pt and record.json")
    p.add_argument("--threads", type=int, help="torch threads (the same count gives the same weights)")
    p.set_defaults(func=_cmd_train_reference)

    p = sub.add_parser("train-lm", help="train the seeded language model of a `recipe: causal-lm` benchmark")
    p.add_argument("--spec", required=True, help="parameters, hyperparameters and seed as JSON (the DAG resolves it)")
    p.add_argument("--data", required=True, help="preprocessed corpus folder (train_tokens.npy, tokenizer.json)")
    p.add_argument("--out", required=True, help="the model folder to write (config.json, model.safetensors, ...)")
    p.add_argument("--threads", type=int, help="torch threads (the same count gives the same weights)")
    p.set_defaults(func=_cmd_train_lm)

    p = sub.add_parser("quantize", help="post-training static INT8 quantization on the fixed calibration set")
    p.add_argument("--spec", required=True, help="architecture, parameters and calibration_sha256 as JSON")
    p.add_argument("--weights", required=True, help="folder with the FP32 weights.pt")
    p.add_argument("--data", required=True, help="preprocessed data folder")
    p.add_argument("--calibration-list", required=True, help="file of calibration sample ids")
    p.add_argument("--out", required=True, help="folder for model.pt and calibration.json")
    p.set_defaults(func=_cmd_quantize)

    p = sub.add_parser("loadgen", help="one MLPerf LoadGen run (performance or accuracy) of a model")
    p.add_argument("--spec", required=True, help="the run's RunSpec as JSON (the DAG resolves it)")
    p.add_argument("--model", required=True, help="model folder of the run's precision")
    p.add_argument("--data", required=True, help="preprocessed data folder")
    p.add_argument("--out", required=True, help="run folder (LoadGen logs, user.conf, record.json)")
    p.add_argument("--ranging", help="ranging result whose target/expected QPS the run uses")
    p.add_argument("--detected", help="detection record of the system, copied into the run record")
    p.add_argument("--keep-invalid", action="store_true",
                   help="a performance run still INVALID after its retries is the result (recorded INVALID, with "
                        "LoadGen's reason; the bundle refuses it) instead of failing the job (what the DAG does)")
    p.set_defaults(func=_cmd_loadgen)

    p = sub.add_parser("range", help="find Offline's expected QPS or the highest VALID Server QPS")
    p.add_argument("--spec", required=True, help="the run's RunSpec as JSON")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="ranging result (JSON)")
    p.set_defaults(func=_cmd_range)

    p = sub.add_parser("accuracy", help="score an accuracy run and check it against the benchmark's target")
    p.add_argument("--run", required=True, help="an AccuracyOnly run folder")
    p.add_argument("--data", required=True, help="preprocessed data folder (labels)")
    p.add_argument("--out", required=True, help="accuracy.txt, written when the target is met (or with "
                                                  "--keep-below-target / --fixture)")
    p.add_argument("--record", help="the check's record (command, accuracy, target), written with accuracy.txt "
                                    "(default: accuracy.json beside it)")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--reference", type=float, required=True, help="reference accuracy in percent")
    p.add_argument("--target-fraction", type=float, required=True, help="0.99 or 0.999")
    p.add_argument("--task", default="image_classification", help="the benchmark's task (its accuracy script)")
    p.add_argument("--metric", default="top1", help="the benchmark's accuracy metric")
    p.add_argument("--fixture", action="store_true", help="a run on `benchwright fixture` stand-ins: write "
                   "accuracy.txt even below the target (recorded as a fixture run)")
    p.add_argument("--keep-below-target", action="store_true",
                   help="an accuracy under the target is a result (accuracy.txt written, the record says the target "
                        "was missed; the bundle refuses it) instead of failing the job (what the DAG does)")
    p.set_defaults(func=_cmd_accuracy)

    p = sub.add_parser("train", help="one MLPerf training run (time to train) with its MLPerf log")
    p.add_argument("--spec", required=True, help="the run's TrainingRunSpec as JSON (the DAG resolves it)")
    p.add_argument("--data", required=True, help="preprocessed data folder")
    p.add_argument("--out", required=True, help="run folder (result.txt, record.json)")
    p.add_argument("--threads", type=int, help="torch threads per process")
    p.add_argument("--detected", help="the SKU's detection record: the job checks its node against the SKU")
    p.set_defaults(func=_cmd_train, argv=None)

    p = sub.add_parser("training-check", help="mlperf-logging's compliance checker on a training log")
    p.add_argument("--log", required=True)
    p.add_argument("--ruleset", required=True, help="e.g. 4.1.0")
    p.add_argument("--rules", help="our own rules file (benchmarks outside the ruleset)")
    p.add_argument("--out", required=True, help="the checker's report, written when the log passes")
    p.set_defaults(func=_cmd_training_check)

    p = sub.add_parser("training-score", help="time to train: olympic mean over a benchmark's runs")
    p.add_argument("--records", nargs="+", required=True, help="record.json of every run")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--system", required=True)
    p.add_argument("--allowed-non-converged", type=int, default=1)
    p.add_argument("--reference-epochs", type=float)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_training_score)

    p = sub.add_parser("image", help="build a container image offline (wheelhouse + local base) and record its id")
    p.add_argument("--name", required=True, help="folder under containers/ (cpu, cuda)")
    p.add_argument("--record", help="JSON record of the built image (the DAG's output)")
    p.add_argument("--base", help="base image (default: local/bookworm-python:base when present)")
    p.add_argument("--containers", default="containers", help="folder of the image definitions")
    p.add_argument("--project", default=".", help="the benchwright checkout whose wheel goes into the image")
    p.add_argument("--lock", action="store_true", help="resolve requirements.in into requirements.lock instead")
    p.set_defaults(func=_cmd_image)

    p = sub.add_parser("container-run", help="run `benchwright ARGS` on the host or in the SKU's container image")
    p.add_argument("--system", required=True, help="the SKU file; its container.runtime decides where")
    p.add_argument("--image-record", help="results/images/<image>.json (docker runtime)")
    p.add_argument("--ro", action="append", default=[], help="path the job reads (mounted read-only)")
    p.add_argument("--rw", action="append", default=[], help="path the job writes (mounted read-write)")
    p.add_argument("--cpus", type=float, help="CPU limit of the container")
    p.add_argument("--mem-mb", type=int, help="memory limit of the container (no swap)")
    p.add_argument("--network", action="store_true",
                   help="the host's network (a job that talks to an endpoint); by default a container has none")
    p.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                   help="pass this environment variable into the container (an endpoint's API key variable)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- followed by the benchwright command")
    p.set_defaults(func=_cmd_container_run)

    p = sub.add_parser("bundle", help="assemble the MLPerf submission bundle of a campaign (trees, manifest, tarball)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="the bundle as JSON (what the DAG passes)")
    src.add_argument("--configfile", action="append", help="campaign file(s), later ones override (by hand)")
    p.add_argument("--checkout", default=".", help="the workflow's checkout, whose code goes into src/")
    p.add_argument("--out", required=True, help="bundle folder to create")
    p.add_argument("--tarball", required=True, help="deterministic .tar.gz of the bundle to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle and tarball")
    p.set_defaults(func=_cmd_bundle)

    p = sub.add_parser("check", help="validate a submission bundle (folder, tarball or MLPerf root): one line per "
                                     "violation, exit 1 if any")
    p.add_argument("path", nargs="?", help="bundle folder, its .tar.gz, or a folder holding closed/ or open/")
    p.add_argument("--tarball", help="also check this tarball of the bundle")
    p.add_argument("--out", help="write the report here when the bundle passes")
    p.add_argument("--json", help="write the report as JSON here (pass or fail)")
    p.add_argument("--no-training-tools", action="store_true",
                   help="skip mlperf-logging's package and compliance checkers on the training tree")
    p.add_argument("--rules", action="store_true", help="list the rules and exit")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("verify", help="re-check every hash of a bundle against its manifest and provenance; exit 1 "
                                      "on any difference")
    p.add_argument("path", help="bundle folder, its .tar.gz, or a published version folder (submissions/<c>/v<N>)")
    p.add_argument("--tarball", help="also check this tarball: its .sha256 file and that it holds the folder's bytes")
    p.add_argument("--json", help="write the result as JSON here")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("table", help="the results table (CSV) and statistics (summary.json) of a campaign")
    p.add_argument("--spec", required=True, help="the report spec as JSON (what the DAG passes)")
    p.add_argument("--out-dir", required=True, help="folder for results.csv and summary.json")
    p.set_defaults(func=_cmd_table)

    p = sub.add_parser("report", help="the one-page HTML report of a SKU with its plots, or the comparison page")
    p.add_argument("--spec", required=True, help="the report spec as JSON (what the DAG passes)")
    p.add_argument("--table", required=True, help="results.csv")
    p.add_argument("--summary", required=True, help="summary.json")
    p.add_argument("--out", required=True, help="the HTML page to write")
    p.add_argument("--system", help="the SKU of the page")
    p.add_argument("--plots", help="folder for the SKU's plots (PNG), beside the page")
    p.add_argument("--index", action="store_true", help="write the comparison page across SKUs")
    p.set_defaults(func=_cmd_report)

    from .report.compare import DEFAULT_THRESHOLD, MEASURES

    p = sub.add_parser("compare", help="compare every result two campaigns (results folders or bundles) share; "
                                       "exit 1 on a regression")
    p.add_argument("baseline", metavar="BASELINE", help="a campaign folder (or its results.csv) or a bundle "
                                                      "(folder, tarball, published version)")
    p.add_argument("candidate", metavar="CANDIDATE", help="the same kinds as BASELINE")
    p.add_argument("--threshold", action="append", metavar="[METRIC=]PCT",
                   help=f"a ratio this many percent worse is a regression: PCT for every metric (default "
                        f"{DEFAULT_THRESHOLD * 100:g}), METRIC=PCT for one (repeatable; metrics: {', '.join(MEASURES)})")
    p.add_argument("--markdown", help="also write the comparison as Markdown to this file")
    p.add_argument("--html", help="also write the comparison as an HTML page to this file")
    p.add_argument("--json", help="also write the comparison as JSON to this file")
    p.add_argument("--confidence", type=float, default=0.95, help="level of the bootstrap intervals (0.95)")
    p.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (0)")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("capacity", help="systems, nodes and USD per hour and month each SKU needs for a demand at "
                                        "an SLO tier (from a finished campaign's tiers.csv)")
    p.add_argument("results", metavar="RESULTS", help="the campaign folder (or its results/report/tiers.csv)")
    p.add_argument("--demand", type=float, required=True, help="queries per second (or output tokens per second "
                                                                "with --unit tokens)")
    p.add_argument("--tier", required=True, help="a tier of the campaign's report.tiers")
    p.add_argument("--unit", choices=["queries", "tokens"], default="queries", help="what --demand counts")
    p.add_argument("--headroom", type=float, default=1.25, help="capacity over demand (default 1.25: 25%% spare)")
    p.add_argument("--benchmark", help="only this benchmark's results")
    p.set_defaults(func=_cmd_capacity)

    p = sub.add_parser("publish", help="copy a checked bundle into a new version folder (never overwrites one)")
    p.add_argument("--bundle", required=True)
    p.add_argument("--tarball", required=True)
    p.add_argument("--report", required=True, help="the validator's report of the bundle")
    p.add_argument("--to", required=True, help="folder of versions, e.g. submissions/<campaign>")
    p.add_argument("--receipt", required=True, help="JSON naming the version written")
    p.set_defaults(func=_cmd_publish)

    from .harness.compliance import add_parser as add_compliance_parser

    add_compliance_parser(sub)
    return parser


def _is_validation_error(err: BaseException) -> bool:
    from pydantic import ValidationError

    return isinstance(err, ValidationError)


def _validation_message(command: str, err: typing.Any) -> str:
    """A pydantic error in one block: which model, each field with what was wrong and what was given."""
    lines = [f"benchwright {command}: the input is not a valid {err.title} ({err.error_count()} problem(s)):"]
    for e in err.errors(include_url=False):
        where = ".".join(str(part) for part in e["loc"]) or "(the whole value)"
        given = "" if e["type"] == "missing" else f" (given: {str(e.get('input'))[:80]!r})"
        lines.append(f"  - {where}: {e['msg']}{given}")
    lines.append("  fix: the DAG builds --spec from the campaign (check it with `benchwright validate`); a --spec "
                 "written by hand must match the fields above")
    return "\n".join(lines)


def _step_errors() -> tuple[type[BaseException], ...]:
    """Failures of a step (as opposed to bad config): reported in one message, exit code 1."""
    from .data.archive import UnsafeArchiveError
    from .data.fetch import FetchError
    from .data.preprocess import PreprocessError
    from .data.store import StoreError
    from .models import UnknownArchitecture
    from .tasks import UnknownTask
    from .models.steps import CalibrationError
    from .models.train import TrainingError

    # OSError last: a missing input, a permission or a full disk names its file in one line, no traceback.
    return (FetchError, UnsafeArchiveError, PreprocessError, StoreError, CalibrationError, TrainingError,
            UnknownArchitecture, UnknownTask, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    from .provenance import invocation

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        with invocation(argv):  # the command a job records it ran (benchwright.provenance.run_facts)
            return args.func(args)
    except CampaignError as err:  # bad input: the message names file, field and fix
        print(str(err), file=sys.stderr)
        return 2
    except (ValueError, TypeError) as err:
        if not _is_validation_error(err):
            raise
        print(_validation_message(args.command, err), file=sys.stderr)  # a hand-written --spec, usually
        return 2
    except BenchwrightError as err:  # a step failed (INVALID run, accuracy short, failed check, ...)
        print(str(err), file=sys.stderr)
        return 1
    except _step_errors() as err:
        print(f"benchwright {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("benchwright: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
