"""Scheduler overhead per job: a chain of trivial jobs (each waits for the one before) through the slurm profile
against the same chain run by the local executor, in the same invocation. The per-job overhead is what Slurm and
the executor's status polling add from submission to completion; the variants show how the profile's first
status check (``slurm-init-seconds-before-status-checks``) sets it, the plugin's default being 40 s."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, Context, Row, compare, register

CHAIN = 3
PROFILE = ROOT / "workflow/profiles/slurm"
SNAKEFILE = """
rule all:
    input: "step_{n}.txt"

rule first:
    output: "step_1.txt"
    shell: "echo 1 > {{output}}"

rule step:
    input: lambda w: f"step_{{int(w.i) - 1}}.txt"
    output: "step_{{i}}.txt"
    wildcard_constraints: i="[2-9]"
    shell: "cat {{input}} > {{output}}; echo {{wildcards.i}} >> {{output}}"
"""


def _chain(work: Path, args: list[str]) -> float:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "Snakefile").write_text(SNAKEFILE.format(n=CHAIN))
    snakemake = Path(sys.executable).parent / "snakemake"
    start = time.perf_counter()
    proc = subprocess.run([str(snakemake), "-s", "Snakefile", "--default-resources", "runtime=5", "mem_mb=500",
                           *args], cwd=work, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or not (work / f"step_{CHAIN}.txt").exists():
        raise RuntimeError(f"the chain failed ({' '.join(args)}):\n{proc.stderr[-2000:]}")
    return elapsed / CHAIN


@register("slurm_overhead", order=60, description="trivial jobs through the slurm profile against the local executor")
def slurm_overhead(ctx: Context) -> list[Row]:
    answer = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True) if shutil.which("sinfo") \
        else None
    if answer is None or answer.returncode != 0 or not answer.stdout.strip():
        ctx.emit("skipped: no Slurm cluster answers")
        return [Row("slurm_overhead", "slurm profile", "time per trivial job", "s", [],
                    notes="not measured: no Slurm cluster answers; start one with .ci/services/slurm.sh")]
    import yaml

    local = ["--cores", "1"]
    profile = ["--workflow-profile", str(PROFILE)]
    init = yaml.safe_load((PROFILE / "config.yaml").read_text())["slurm-init-seconds-before-status-checks"]
    variants = {f"slurm profile (first status check after {init} s)": profile,
                "first status check after 3 s": [*profile, "--slurm-init-seconds-before-status-checks", "3"],
                "plugin default (40 s)": [*profile, "--slurm-init-seconds-before-status-checks", "40"]}
    rows = []
    for name, args in variants.items():
        repeats = ctx.repeats if "default" not in name or ctx.mode == "full" else 1
        slurm_s, local_s = [], []
        for i in range(repeats):
            pair = (_chain(ctx.work_dir / "slurm", args), _chain(ctx.work_dir / "local", local))
            slurm_s.append(pair[0])
            local_s.append(pair[1])
            ctx.record(variant=name, slurm_s_per_job=pair[0], local_s_per_job=pair[1])
        overhead = statistics.median(slurm_s) - statistics.median(local_s)
        rows.append(compare("slurm_overhead", name, f"time per job (chain of {CHAIN})", "s", slurm_s, local_s,
                            baseline="local executor, same chain", higher_is_better=False,
                            notes=f"overhead {overhead:.1f} s per job (submission to completion)"))
    return rows
