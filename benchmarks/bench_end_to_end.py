"""End to end (issue 11, item 6): the wall time of the default campaign (``snakemake --cores 2`` in a fresh working
directory with a copy of config/), split into compute and everything else. Compute is the union of the intervals
of the jobs that measure or train (LoadGen runs, ranging, compliance tests, training runs, reference training,
quantization); everything else (Snakemake's start-up and planning, the other jobs, scheduling gaps) is what the
orchestrator costs. The union, not a sum: jobs overlap (2 cores, and light jobs run next to measurements).

Intervals come from Snakemake's log (job start and finish lines, 1 s resolution); a job with a ``benchmark:`` file
under results/timings/ gets its exact duration from it, ending at the file's modification time. The campaign takes
about 4 minutes on 2 quiet cores: quick mode measures it only with --end-to-end, or reads a finished campaign's log
with --campaign-dir; full mode runs it.
"""

from __future__ import annotations

import csv
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_planning import run_snakemake, snakemake_env
from common import ROOT, Context, Row, compare, register

COMPUTE_RULES = ("loadgen_performance", "loadgen_repeat", "loadgen_accuracy", "range_performance", "compliance_test",
                 "train_run", "train_lm", "train_reference", "quantize_int8")
_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_START = re.compile(r"^(?:local)?rule (\w+):$")
_FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)")


def _epoch(stamp: str) -> float:
    return time.mktime(time.strptime(stamp, "%a %b %d %H:%M:%S %Y"))


def parse_log(path: Path, workdir: Path) -> dict[str, Any]:
    """Every job of one Snakemake log: rule, start and end (epoch seconds), and its benchmark file if any."""
    jobs: dict[str, dict[str, Any]] = {}
    stamp: float | None = None
    current: dict[str, Any] | None = None
    first = last = None
    for line in path.read_text(errors="replace").splitlines():
        s = line.strip()
        if s.startswith("Date: ") and first is None:  # the header: when Snakemake started logging
            try:
                first = time.mktime(time.strptime(s[6:], "%Y-%m-%d %H:%M:%S"))
            except ValueError:
                pass
            continue
        m = _STAMP.match(s)
        if m:
            stamp = _epoch(m.group(1))
            first = stamp if first is None else first
            last = stamp
            current = None
            continue
        m = _START.match(s)
        if m and stamp is not None:
            current = {"rule": m.group(1), "start": stamp}
            continue
        if current is not None and s.startswith("jobid: "):
            jobs[s.split()[1]] = current
        elif current is not None and s.startswith("benchmark: "):
            current["benchmark"] = s.split(": ", 1)[1]
        m = _FINISHED.match(s)
        if m and stamp is not None and m.group(1) in jobs:
            jobs[m.group(1)]["end"] = stamp
    out = []
    for job in jobs.values():
        if "end" not in job:
            continue
        # 1 s resolution: a job logged in second S started somewhere in [S, S+1); take the middle.
        start, end, exact = job["start"] + 0.5, job["end"] + 0.5, False
        tsv = workdir / job["benchmark"] if job.get("benchmark") else None
        if tsv is not None and tsv.is_file():
            try:
                with open(tsv, newline="") as handle:
                    seconds = float(next(csv.DictReader(handle, delimiter="\t"))["s"])
                end = tsv.stat().st_mtime
                start, exact = end - seconds, True
            except (StopIteration, KeyError, ValueError):
                pass
        out.append({**job, "start": start, "end": end, "exact": exact})
    return {"jobs": out, "first": first, "last": last}


def union(intervals: list[tuple[float, float]]) -> float:
    total, cur_lo, cur_hi = 0.0, None, None
    for lo, hi in sorted(intervals):
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return total


def split(jobs: list[dict[str, Any]], begin: float, end: float) -> dict[str, Any]:
    """Wall time from ``begin`` to ``end`` split into compute (union of compute jobs), other jobs (their union
    outside compute) and no job running."""
    clip = [(max(begin, j["start"]), min(end, j["end"]), j) for j in jobs]
    compute = [(lo, hi) for lo, hi, j in clip if j["rule"] in COMPUTE_RULES and hi > lo]
    every = [(lo, hi) for lo, hi, _ in clip if hi > lo]
    wall = end - begin
    c, busy = union(compute), union(every)
    per_rule: dict[str, float] = defaultdict(float)
    for lo, hi, j in clip:
        per_rule[j["rule"]] += max(0.0, hi - lo)
    return {"wall_s": wall, "compute_s": c, "other_jobs_s": busy - c, "no_job_s": wall - busy,
            "orchestrator_s": wall - c, "jobs": len(jobs),
            "compute_jobs": sum(j["rule"] in COMPUTE_RULES for j in jobs),
            "exact_compute_jobs": sum(j["rule"] in COMPUTE_RULES and j["exact"] for j in jobs),
            "job_seconds_per_rule": dict(sorted(per_rule.items(), key=lambda kv: -kv[1]))}


def latest_full_log(workdir: Path) -> Path | None:
    """The log of the run that executed the most jobs (a finished campaign's own run, not a later no-op)."""
    best, most = None, 0
    for log in sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log")):
        count = log.read_text(errors="replace").count("Finished jobid:")
        if count >= most and count:
            best, most = log, count
    return best


@register("end_to_end", order=65, description="wall time of the default campaign split into compute and the "
          "orchestrator's cost")
def end_to_end(ctx: Context) -> list[Row]:
    env = snakemake_env(ctx.scratch())
    given = ctx.settings.get("campaign_dir")
    run_it = not given and (ctx.mode == "full" or ctx.settings.get("end_to_end"))  # a given campaign wins
    if run_it:
        work = ctx.scratch("campaign")
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        shutil.copytree(ROOT / "config", work / "config")
        ctx.emit("running the default campaign (snakemake --cores 2), about 4 minutes on 2 quiet cores")
        began = time.time()
        wall, proc = run_snakemake(["--cores", "2"], work, env, timeout=3600)
        finished = began + wall
        log = latest_full_log(work)
        how = f"run here ({wall:.0f} s, timed around the snakemake process)"
    elif given:
        work = Path(given).resolve()
        log = latest_full_log(work)
        if log is None:
            raise RuntimeError(f"--campaign-dir {work}: no Snakemake log of a run with jobs under .snakemake/log")
        parsed = parse_log(log, work)
        began, finished = parsed["first"], parsed["last"] + 1.0
        how = (f"read from {work}'s log {log.name} (from its Date header to its last line, 1 s resolution; "
               "Snakemake's start-up before the header is not counted)")
    else:
        ctx.emit("skipped in quick mode: use --full, --end-to-end or --campaign-dir")
        return [Row("end_to_end", "default campaign, snakemake --cores 2", "wall time", "s", [],
                    notes="not measured: quick mode skips the ~4-minute campaign; run with --full or --end-to-end, "
                          "or give --campaign-dir with a finished default campaign")]
    if log is None:
        raise RuntimeError(f"no Snakemake log in {work}/.snakemake/log")
    parsed = parse_log(log, work)
    facts = split(parsed["jobs"], began, finished)
    ctx.cache["finished_campaign"] = str(work)
    ctx.record(campaign=str(work), log=str(log), **facts)
    rules = ", ".join(f"{r} {s:.0f} s" for r, s in facts["job_seconds_per_rule"].items() if s >= 0.5)
    share = facts["orchestrator_s"] / facts["wall_s"]
    notes = (f"n = 1 campaign, {how}; {facts['jobs']} jobs, {facts['compute_jobs']} of them compute "
             f"({facts['exact_compute_jobs']} timed exactly by their benchmark file, the others from the log at 1 s); "
             f"everything else = {facts['orchestrator_s']:.1f} s ({share:.0%} of the wall time): other jobs "
             f"{facts['other_jobs_s']:.1f} s, no job running (Snakemake start-up, planning, scheduling) "
             f"{facts['no_job_s']:.1f} s; job seconds per rule: {rules}; no target in the issue (informational); "
             "Slurm client stubbed (see planning)")
    return [compare("end_to_end", "default campaign, snakemake --cores 2 (wall)", "wall time", "s",
                    [facts["wall_s"]], [facts["compute_s"]],
                    baseline="compute: union of measurement, training, reference training and quantization jobs",
                    higher_is_better=False, notes=notes + "; ratio = compute / wall (1 = no orchestrator cost)"),
            Row("end_to_end", "everything else (the orchestrator's cost)", "wall time outside compute", "s",
                [facts["orchestrator_s"]], baseline="default campaign wall time", baseline_values=[facts["wall_s"]],
                ratio=None, notes=f"{share:.1%} of the wall time; other jobs {facts['other_jobs_s']:.1f} s, no job "
                                  f"running {facts['no_job_s']:.1f} s; informational")]
