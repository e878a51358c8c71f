"""Planning time (issue 11, item 4): ``snakemake -n`` on generated campaigns of about 1,000, 5,000 and 20,000 jobs,
against a plain Snakefile of the same DAG shape (the same rules, wildcards and input functions, no validation), so
the ratio is benchwright's planning cost over Snakemake's own; how the time per job grows with the campaign; and
the no-op re-run of a finished default campaign against the no-op of a trivial Snakefile.

Targets (absolute, from the issue, stated in each row): 5,000 jobs planned in ≤ 10 s on 2 cores, growth no worse
than linear (time per job at the largest size over time per job at 1,000 ≤ ~1.1), no-op re-run ≤ 3 s.

Every ``snakemake`` here runs with a stub ``scontrol`` first on PATH (see :func:`snakemake_env`): the Slurm
executor plugin runs ``scontrol show config`` when Snakemake is imported, and on a machine with the Slurm client
installed but no controller answering that call waits 9-10 s, in every Snakemake process, before the Snakefile is
read. The ``startup`` row measures that stall; the other rows leave it out on both sides.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from common import ROOT, Context, Row, Target, compare, register, wait_quiet

SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SNAKEFILE = ROOT / "Snakefile"
SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
PRECISIONS = ("fp32", "int8")
TRAINING_RUNS = 5  # digits-cnn's required_runs

SIZES = {"quick": (1000, 5000), "full": (1000, 5000, 20000)}
TARGET_5K_S = 10.0
TARGET_NOOP_S = 3.0
TARGET_GROWTH = 1.1


# ---------------------------------------------------------------------------------------------------------------
# environment


def snakemake_env(scratch: Path) -> dict[str, str]:
    """The environment of every timed ``snakemake``: this interpreter's tools on PATH, behind a stub ``scontrol``
    that fails at once (the Slurm plugin then treats the cluster's MinJobAge as unknown, as it does where Slurm
    is not installed)."""
    stub = scratch / "no-slurm-bin"
    stub.mkdir(parents=True, exist_ok=True)
    script = stub / "scontrol"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(stub), str(SNAKEMAKE.parent), env.get("PATH", "")])
    return env


LAST_CPU: dict[str, float] = {"s": 0.0}
"""CPU time (user + system) of the last :func:`run_snakemake` process and its children: less sensitive than wall
time to other tenants of a shared machine, recorded next to it in runs.json and the notes."""


def run_snakemake(args: list[str], cwd: Path, env: dict[str, str], *, snakefile: Path | None = SNAKEFILE,
                  check: bool = True, timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of one ``snakemake`` process (start to exit) and its result."""
    cmd = [str(SNAKEMAKE), *(["-s", str(snakefile)] if snakefile else []), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU["s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` in {cwd} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return elapsed, proc


def job_total(output: str) -> int:
    """The ``total`` of Snakemake's job stats (0 when there is nothing to do)."""
    totals = re.findall(r"^total\s+(\d+)\s*$", output, flags=re.M)
    return int(totals[-1]) if totals else 0


# ---------------------------------------------------------------------------------------------------------------
# generated campaigns


def campaign_jobs(n_bench: int, n_sku: int, scenarios: int = 4, precisions: int = 2, training: bool = True) -> int:
    """The job count of a generated campaign: per benchmark and SKU, 4 jobs per scenario and precision (ranging,
    performance, accuracy, accuracy check) and, with training, 5 runs, 5 compliance checks and a score; per
    benchmark download, preprocessing, reference training (+ quantization with int8); per SKU detection and a
    report page; 6 once (report table and index, bundle, check, publish, all)."""
    per_pair = 4 * scenarios * precisions + ((2 * TRAINING_RUNS + 1) if training else 0)
    per_bench = 3 + (1 if precisions > 1 else 0)
    return n_bench * n_sku * per_pair + n_bench * per_bench + 2 * n_sku + 6


def shape_for(target: int) -> tuple[int, int]:
    """(benchmarks, SKUs), 1 to 1.5 benchmarks per SKU, whose campaign has the fewest jobs not under ``target``."""
    best: tuple[int, int] | None = None
    for skus in range(1, 200):
        for b in range(skus, int(skus * 1.5) + 1):
            jobs = campaign_jobs(b, skus)
            if jobs >= target and (best is None or jobs < campaign_jobs(*best)):
                best = (b, skus)
    assert best is not None
    return best


def generate_campaign(dest: Path, n_bench: int, n_sku: int, *, scenarios: tuple[str, ...] = SCENARIOS,
                      precisions: tuple[str, ...] = PRECISIONS, training: bool = True) -> Path:
    """A working directory holding a copy of config/ with ``n_bench`` benchmarks (copies of digits-cnn named
    digits-cnn-bNN, each with a dataset of its own) on ``n_sku`` SKUs (copies of cpu-host named cpu-host-sNN, tuned
    for every benchmark); the campaign runs every benchmark on every SKU in the given scenarios and precisions."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / "config", dest / "config")
    bench_dir, sys_dir = dest / "config" / "benchmarks", dest / "config" / "systems"
    template = yaml.safe_load((bench_dir / "digits-cnn.yaml").read_text())
    sku = yaml.safe_load((sys_dir / "cpu-host.yaml").read_text())
    tuning = sku["tuning"]["digits-cnn"]
    names = [f"digits-cnn-b{i:02d}" for i in range(n_bench)]
    for name in names:
        bench = {**template, "name": name}
        bench["dataset"] = {**template["dataset"], "name": f"sklearn-digits-{name.rsplit('-', 1)[1]}"}
        (bench_dir / f"{name}.yaml").write_text(yaml.safe_dump(bench, sort_keys=False))
    skus = [f"cpu-host-s{i:02d}" for i in range(n_sku)]
    for sku_id in skus:
        system = {**sku, "id": sku_id, "tuning": {name: tuning for name in names}}
        (sys_dir / f"{sku_id}.yaml").write_text(yaml.safe_dump(system, sort_keys=False))
    campaign = yaml.safe_load((dest / "config" / "config.yaml").read_text())
    campaign["benchmarks"] = {name: {"systems": skus, "scenarios": list(scenarios), "precisions": list(precisions),
                                     "training": training} for name in names}
    (dest / "config" / "config.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    return dest


# The baseline: bare Snakemake on the same DAG. The same rules, outputs, wildcards, constraints, log and benchmark
# files, threads and input functions as the workflow, answered by dict lookups in literals; no config, no
# validation, no pydantic.
PLAIN_SNAKEFILE = '''
BENCHMARKS = {benchmarks!r}
SYSTEMS = {systems!r}
SCENARIOS = {scenarios!r}
PRECISIONS = {precisions!r}
TRAINING = {training!r}
RUNS = {runs!r}
DATASET = {{b: "sklearn-digits-" + b.rsplit("-", 1)[1] for b in BENCHMARKS}}
SPEC = {{(b, s): {{"batch_size": 64, "threads": 2, "benchmark": b, "system": s}} for b in BENCHMARKS for s in SYSTEMS}}
RANGED = ("SingleStream", "MultiStream", "Server", "Offline")

wildcard_constraints:
    benchmark="|".join(BENCHMARKS),
    system="|".join(SYSTEMS),
    dataset="|".join(DATASET.values()),
    scenario="SingleStream|MultiStream|Server|Offline",
    precision="fp32|fp16|bf16|int8",
    mode="performance|accuracy",
    index=r"\\d+",


def model_input(w):
    return f"results/models/{{w.benchmark}}/{{'int8/model.pt' if w.precision == 'int8' else 'fp32/weights.pt'}}"


def spec(w):
    return str(SPEC[(w.benchmark, w.system)])


def ranging_input(w):
    if w.mode == "performance" and w.scenario in RANGED:
        return [f"results/ranging/{{w.system}}/{{w.benchmark}}/{{w.precision}}/{{w.scenario}}.json"]
    return []


def all_targets():
    out = [f"results/data/{{b}}" for b in BENCHMARKS] + [f"results/systems/{{s}}/detected.json" for s in SYSTEMS]
    for b in BENCHMARKS:
        for s in SYSTEMS:
            for sc in SCENARIOS:
                for p in PRECISIONS:
                    base = f"results/inference/{{s}}/{{b}}/{{p}}/{{sc}}"
                    out += [f"{{base}}/performance", f"{{base}}/accuracy.txt"]
            if TRAINING:
                out.append(f"results/training/{{s}}/{{b}}/score.json")
    return out + ["results/submission/default/published.json", "results/report/index.html"]


rule all:
    input: all_targets()

rule download:
    output: "resources/datasets/{{dataset}}/digits.csv.gz"
    log: "logs/download/{{dataset}}.log"
    params: url=lambda w: "package://" + w.dataset
    shell: "touch {{output}}"

rule preprocess:
    input: lambda w: f"resources/datasets/{{DATASET[w.benchmark]}}/digits.csv.gz"
    output: directory("results/data/{{benchmark}}")
    log: "logs/preprocess/{{benchmark}}.log"
    benchmark: "results/timings/preprocess/{{benchmark}}.tsv"
    params: spec=lambda w: DATASET[w.benchmark]
    shell: "mkdir -p {{output}}"

rule detect_system:
    output: "results/systems/{{system}}/detected.json"
    log: "logs/detect/{{system}}.log"
    params: args=lambda w: ["--system", w.system]
    shell: "touch {{output}}"

rule train_reference:
    input: data="results/data/{{benchmark}}"
    output: weights="results/models/{{benchmark}}/fp32/weights.pt", record="results/models/{{benchmark}}/fp32/record.json"
    log: "logs/models/{{benchmark}}/train_reference.log"
    benchmark: "results/timings/train_reference/{{benchmark}}.tsv"
    threads: 2
    params: spec=lambda w: DATASET[w.benchmark]
    shell: "touch {{output}}"

rule quantize_int8:
    input: weights="results/models/{{benchmark}}/fp32/weights.pt", data="results/data/{{benchmark}}"
    output: model="results/models/{{benchmark}}/int8/model.pt", record="results/models/{{benchmark}}/int8/calibration.json"
    log: "logs/models/{{benchmark}}/quantize_int8.log"
    benchmark: "results/timings/quantize_int8/{{benchmark}}.tsv"
    params: spec=lambda w: DATASET[w.benchmark]
    shell: "touch {{output}}"

rule range_performance:
    input: model=model_input, data="results/data/{{benchmark}}", detected="results/systems/{{system}}/detected.json"
    output: "results/ranging/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}.json"
    log: "logs/ranging/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}.log"
    threads: 1024
    params: spec=spec
    shell: "touch {{output}}"

rule loadgen_performance:
    input: model=model_input, data="results/data/{{benchmark}}", detected="results/systems/{{system}}/detected.json", ranging=ranging_input
    output: directory("results/inference/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}/{{mode}}")
    log: "logs/inference/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}/{{mode}}.log"
    benchmark: "results/timings/inference/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}/{{mode}}.tsv"
    wildcard_constraints: mode="performance"
    threads: 1024
    params: spec=spec
    shell: "mkdir -p {{output}}"

use rule loadgen_performance as loadgen_accuracy with:
    input: model=model_input, data="results/data/{{benchmark}}", detected="results/systems/{{system}}/detected.json"
    wildcard_constraints: mode="accuracy"
    threads: 1

rule accuracy_check:
    input: run="results/inference/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}/accuracy", data="results/data/{{benchmark}}"
    output: "results/inference/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}/accuracy.txt"
    log: "logs/inference/{{system}}/{{benchmark}}/{{precision}}/{{scenario}}/accuracy_check.log"
    params: args=lambda w: ["--benchmark", w.benchmark]
    shell: "touch {{output}}"

rule train_run:
    input: data="results/data/{{benchmark}}", detected="results/systems/{{system}}/detected.json"
    output: directory("results/training/{{system}}/{{benchmark}}/run_{{index}}")
    log: "logs/training/{{system}}/{{benchmark}}/run_{{index}}.log"
    benchmark: "results/timings/training/{{system}}/{{benchmark}}/run_{{index}}.tsv"
    threads: 1024
    params: spec=spec
    shell: "mkdir -p {{output}}"

rule training_compliance:
    input: run="results/training/{{system}}/{{benchmark}}/run_{{index}}"
    output: "results/training/{{system}}/{{benchmark}}/run_{{index}}.compliance.txt"
    log: "logs/training/{{system}}/{{benchmark}}/run_{{index}}.compliance.log"
    shell: "touch {{output}}"

rule training_score:
    input:
        runs=lambda w: [f"results/training/{{w.system}}/{{w.benchmark}}/run_{{i}}" for i in range(RUNS)],
        checks=lambda w: [f"results/training/{{w.system}}/{{w.benchmark}}/run_{{i}}.compliance.txt" for i in range(RUNS)],
    output: "results/training/{{system}}/{{benchmark}}/score.json"
    log: "logs/training/{{system}}/{{benchmark}}/score.log"
    shell: "touch {{output}}"

RESULTS = [t for t in all_targets() if t.startswith(("results/inference", "results/training"))]

rule report_table:
    input: RESULTS
    output: "results/report/results.csv", "results/report/summary.json"
    shell: "touch {{output}}"

rule report_sku:
    input: "results/report/results.csv", lambda w: [f"results/ranging/{{w.system}}/{{b}}/{{p}}/Server.json" for b in BENCHMARKS for p in PRECISIONS if "Server" in SCENARIOS]
    output: "results/report/{{system}}.html"
    shell: "touch {{output}}"

rule report_index:
    input: "results/report/results.csv", expand("results/report/{{system}}.html", system=SYSTEMS)
    output: "results/report/index.html"
    shell: "touch {{output}}"

rule submission_bundle:
    input: RESULTS
    output: bundle=directory("results/submission/default/bundle"), tarball="results/submission/default/default.tar.gz"
    shell: "mkdir -p {{output.bundle}}; touch {{output.tarball}}"

rule submission_check:
    input: "results/submission/default/bundle"
    output: "results/submission/default/check.txt"
    shell: "touch {{output}}"

rule submission_publish:
    input: "results/submission/default/check.txt", "results/submission/default/default.tar.gz"
    output: "results/submission/default/published.json"
    shell: "touch {{output}}"
'''


def generate_plain(dest: Path, n_bench: int, n_sku: int, *, scenarios: tuple[str, ...] = SCENARIOS,
                   precisions: tuple[str, ...] = PRECISIONS, training: bool = True) -> Path:
    """A working directory with the plain Snakefile of the same campaign shape (returns the Snakefile)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    snakefile = dest / "Snakefile"
    snakefile.write_text(PLAIN_SNAKEFILE.format(
        benchmarks=[f"digits-cnn-b{i:02d}" for i in range(n_bench)],
        systems=[f"cpu-host-s{i:02d}" for i in range(n_sku)], scenarios=list(scenarios),
        precisions=list(precisions), training=training, runs=TRAINING_RUNS))
    return snakefile


TRIVIAL_SNAKEFILE = 'rule all:\n    output: "done.txt"\n    shell: "touch {output}"\n'


def trivial_dir(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "Snakefile").write_text(TRIVIAL_SNAKEFILE)
    return dest


# ---------------------------------------------------------------------------------------------------------------
# the finished default campaign (for the no-op)


def finished_campaign(ctx: Context, env: dict[str, str]) -> tuple[Path | None, str]:
    """A working directory holding a finished default campaign: the end_to_end measurement's of this invocation,
    --campaign-dir, or the checkout itself if it has nothing left to do. (None, why) if there is none."""
    candidates = [("the end_to_end measurement's campaign", ctx.cache.get("finished_campaign")),
                  ("--campaign-dir", ctx.settings.get("campaign_dir")), ("the checkout", ROOT)]
    tried = []
    for label, path in candidates:
        if not path:
            continue
        path = Path(path)
        _, proc = run_snakemake(["-n"], path, env, check=False)
        left = job_total(proc.stdout + proc.stderr)
        if proc.returncode == 0 and left == 0:
            return path, label
        tried.append(f"{label} ({path}) has {left} jobs left" if proc.returncode == 0
                     else f"{label} ({path}) fails `snakemake -n`")
    return None, "; ".join(tried) or "no finished campaign"


# ---------------------------------------------------------------------------------------------------------------
# the measurement


@register("planning", order=70, description="snakemake -n on generated 1k/5k/20k-job campaigns against a plain "
          "Snakefile of the same shape; the no-op re-run of the default campaign")
def planning(ctx: Context) -> list[Row]:
    env = snakemake_env(ctx.scratch())
    sizes = SIZES[ctx.mode]
    repeats = max(1, min(ctx.repeats, 2 if ctx.mode == "quick" else 3))
    rows: list[Row] = []

    # Fixed cost: Snakemake's start-up and a one-rule Snakefile, in every process on both sides.
    trivial = trivial_dir(ctx.scratch("trivial"))
    startup = {"stubbed": [], "installed": [], "trivial_n": []}
    for _ in range(repeats):
        startup["stubbed"].append(run_snakemake(["--version"], trivial, env, snakefile=None)[0])
        startup["installed"].append(run_snakemake(["--version"], trivial, dict(os.environ, PATH=os.pathsep.join(
            [str(SNAKEMAKE.parent), os.environ.get("PATH", "")])), snakefile=None)[0])
        startup["trivial_n"].append(run_snakemake(["-n"], trivial, env, snakefile=trivial / "Snakefile")[0])
    ctx.record(kind="startup", **startup)
    rows.append(compare("planning", "snakemake --version, Slurm client as installed", "start-up wall time", "s",
                        startup["installed"], startup["stubbed"], baseline="same, scontrol stubbed",
                        higher_is_better=False,
                        notes="informational: the Slurm executor plugin runs `scontrol show config` (timeout 10 s) "
                              "when Snakemake is imported; where no controller answers, every snakemake process "
                              "waits for it. The rows below stub scontrol on both sides"))
    t0 = statistics.median(startup["trivial_n"])

    per_job: dict[int, tuple[list[float], list[float], int, int]] = {}
    for target in sizes:
        n_bench, n_sku = shape_for(target)
        work = generate_campaign(ctx.scratch(f"campaign-{target}"), n_bench, n_sku)
        plain_dir = ctx.scratch(f"plain-{target}")
        plain = generate_plain(plain_dir, n_bench, n_sku)
        # validation of the generated campaign (not timed): the same checks as the DAG
        check = subprocess.run([str(SNAKEMAKE.parent / "benchwright"), "validate"], cwd=work, env=env,
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"the generated {target}-job campaign does not validate:\n{check.stdout}{check.stderr}")
        ctx.emit(f"{target}: {n_bench} benchmarks x {n_sku} SKUs")
        jobs: dict[str, int] = {}
        cpu: dict[str, list[float]] = {"benchwright": [], "plain": []}

        def bw(i: int, work: Path = work) -> float:
            t, proc = run_snakemake(["-n"], work, env)
            jobs["benchwright"] = job_total(proc.stdout)
            cpu["benchwright"].append(LAST_CPU["s"])
            return t

        def base(i: int, plain_dir: Path = plain_dir, plain: Path = plain) -> float:
            t, proc = run_snakemake(["-n"], plain_dir, env, snakefile=plain)
            jobs["plain"] = job_total(proc.stdout)
            cpu["plain"].append(LAST_CPU["s"])
            return t

        variant, baseline = [], []
        for i in range(repeats):
            wait_quiet()  # as before every LoadGen run: up to 15 s for other tenants' load to drop (budgeted)
            pair = (bw(i), base(i)) if i % 2 == 0 else tuple(reversed((base(i), bw(i))))
            variant.append(pair[0])
            baseline.append(pair[1])
            ctx.record(kind="plan", size=target, benchwright_s=pair[0], plain_s=pair[1],
                       benchwright_cpu_s=cpu["benchwright"][-1], plain_cpu_s=cpu["plain"][-1], **jobs)
            ctx.emit(f"{jobs['benchwright']} jobs: benchwright {pair[0]:.2f} s, plain {pair[1]:.2f} s")
        n_jobs = jobs["benchwright"]
        per_job[target] = (variant, baseline, n_jobs, jobs["plain"])
        med = statistics.median(variant)
        goal = ""
        if target == 5000:
            goal = f"absolute target: 5,000 jobs planned in ≤ {TARGET_5K_S:g} s on 2 cores: " \
                   f"{'met' if med <= TARGET_5K_S else 'NOT met'} ({n_jobs:,} jobs in {med:.1f} s); "
        rows.append(compare("planning", f"benchwright snakemake -n, {n_jobs:,} jobs", "planning wall time", "s",
                            variant, baseline, baseline=f"plain Snakefile, same DAG shape, {jobs['plain']:,} jobs",
                            higher_is_better=False,
                            notes=f"{goal}{n_bench} benchmarks x {n_sku} SKUs x 4 scenarios x 2 precisions + "
                                  f"training ({TRAINING_RUNS} runs); ratio = Snakemake's own planning time / "
                                  f"benchwright's; CPU time (user+sys) median {statistics.median(cpu['benchwright']):.2f}"
                                  f" s against {statistics.median(cpu['plain']):.2f} s; start-up of a one-rule "
                                  f"Snakefile {t0:.2f} s in both"))

    # Growth: time per job beyond the fixed start-up, at the largest size against 1,000 jobs.
    small, large = sizes[0], sizes[-1]
    for side, label in ((0, "benchwright"), (1, "plain Snakefile")):
        lo = [(t - t0) / per_job[small][2 + side] for t in per_job[small][side]]
        hi = [(t - t0) / per_job[large][2 + side] for t in per_job[large][side]]
        growth = statistics.median(hi) / statistics.median(lo)
        rows.append(compare(
            "planning", f"{label}: time per job at {per_job[large][2 + side]:,} jobs", "planning time per job "
            "(minus one-rule start-up)", "ms", [x * 1000 for x in hi], [x * 1000 for x in lo],
            baseline=f"the same at {per_job[small][2 + side]:,} jobs", higher_is_better=False,
            target=Target(">=", round(1 / TARGET_GROWTH, 3)) if side == 0 else None,
            notes=f"growth factor (per-job time, large / small) {growth:.2f}; "
                  + ("target: growth ≤ 1.1 (no worse than linear) = ratio ≥ 0.909" if side == 0 else
                     "informational: Snakemake's own growth on the same shape, the floor for benchwright's")
                  + ("" if ctx.mode == "full" else "; quick mode: the ~5,000-job campaign, not 20,000 (--full)")))

    # No-op re-run of the finished default campaign.
    done, label = finished_campaign(ctx, env)
    if done is None:
        rows.append(Row("planning", "no-op re-run of the default campaign", "wall time", "s", [],
                        notes=f"not measured: {label}; run with --full (end_to_end runs the campaign), or give "
                              "--campaign-dir with a finished default campaign"))
        return rows
    run_snakemake(["--cores", "2"], trivial, env, snakefile=trivial / "Snakefile")  # the trivial one, finished
    noop, base_noop = [], []
    for i in range(max(repeats, 3)):
        pair = [None, None]
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for side in order:
            if side == 0:
                t, proc = run_snakemake(["--cores", "2"], done, env)
                if "Nothing to be done" not in proc.stdout + proc.stderr:
                    raise RuntimeError(f"{done} was not finished: the no-op re-run ran jobs")
            else:
                t, _ = run_snakemake(["--cores", "2"], trivial, env, snakefile=trivial / "Snakefile")
            pair[side] = t
        noop.append(pair[0])
        base_noop.append(pair[1])
        ctx.record(kind="noop", benchwright_s=pair[0], trivial_s=pair[1], campaign=str(done))
    med = statistics.median(noop)
    rows.append(compare("planning", "no-op re-run of the default campaign (snakemake --cores 2)", "wall time",
                        "s", noop, base_noop, baseline="no-op of a one-rule Snakefile", higher_is_better=False,
                        notes=f"absolute target ≤ {TARGET_NOOP_S:g} s: {'met' if med <= TARGET_NOOP_S else 'NOT met'}"
                              f" ({med:.2f} s; Slurm client stubbed: add the start-up row's difference where "
                              f"scontrol hangs); campaign: {label}, {done}"))
    return rows
