#!/usr/bin/env python3
"""Fault injection: SIGKILL the default campaign at random points, resume it, and check what it left.

    python tests/faults/inject.py [--kills 10] [--seed S] [--workdir DIR] [--baseline DIR] [--keep]

1. Baseline: the default campaign (``snakemake --cores 2``) runs uninterrupted in ``DIR/baseline`` (or
   ``--baseline`` names a finished working directory of the default campaign to reuse).
2. Kills: in a fresh working directory ``DIR/killed``, ``snakemake --cores 2`` starts in a process group of its
   own and its whole group is SIGKILLed at a random point, N times. Kill points are drawn (seeded) from the
   baseline's timeline (read from its ``.snakemake/log``): one in each stage (data, training, quantization,
   LoadGen, bundle/report), the others spread evenly over the whole campaign. A kill waits for a job of the
   point's rule to start in the current run, then for the same fraction of it as in the baseline (of the job's
   duration as measured in this experiment where it ran before, else in the baseline); when that job ends
   first, the kill moves to the next job of the same stage. After each kill comes Snakemake's documented recovery: ``snakemake --unlock``, then ``snakemake --rerun-incomplete``.
   After the N kills the last run finishes; ``snakemake -n`` must then have nothing to do.
3. Checks: no process of a killed run survives; no temporary or staging file is left where a job could read
   it; every recorded hash matches its file (data manifest, model records, LoadGen records, accuracy.txt,
   training records, SHA256SUMS, the published tarball); ``benchwright check`` (and ``benchwright verify``
   where it exists) passes on the published bundle; and the bundle equals the baseline's (compare_bundles:
   byte-equal except the files that carry measurements, whose non-timing content must be equal).

A log of every kill (when, which jobs were running, what was left, what the next run redid) is printed and
written to ``DIR/fault-injection.log``; ``DIR/kills.json`` holds the same as data. Exit status 0 when every
check passes, 1 otherwise. Uses the real Snakefile of this checkout and its own ``benchwright`` package.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import fnmatch
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Stages of the campaign, by rule. Kills are spread so that each of them is hit at least once.
STAGES: dict[str, tuple[str, ...]] = {
    "data": ("detect_system", "download", "unpack", "preprocess"),
    "training": ("train_reference", "train_lm", "fetch_weights", "train_run", "training_compliance",
                 "training_score"),
    "quantization": ("quantize_int8",),
    "loadgen": ("range_performance", "loadgen_performance", "loadgen_repeat", "loadgen_accuracy", "accuracy_check",
                "compliance_test"),
    "bundle/report": ("submission_bundle", "submission_check", "submission_publish", "report_table", "report_sku",
                      "report_index"),
}
STAGE_OF = {rule: stage for stage, rules in STAGES.items() for rule in rules}
FP32_MODEL_FILES = ("weights.pt", "model.safetensors")
"""What a trained FP32 model folder holds: train_reference's state_dict, or train_lm's transformers weights."""

# Names the code gives its in-progress files, beside their target (workflow/benchwright/fsutil.py, fetch.py,
# archive.py, training.py): hidden ".<name>.<random>[.tmp|.extracting]" files and folders, "<name>.part"
# downloads, ".<name>.staging" folders; "<name>.invalid" is a kept INVALID LoadGen run.
SNAKEMAKE_MARK = ".snakemake_timestamp"
TEMP_NAME = re.compile(r"^\..+|.+\.(part|tmp|extracting|staging|invalid)$")
SCANNED = ("results", "resources", "submissions")


# --- comparing two bundles ------------------------------------------------------------------------------------

def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


def _mllog(path: Path) -> list[dict[str, Any]]:
    """The ':::MLLOG {json}' entries of a LoadGen detail log or an MLPerf training log."""
    out = []
    for line in _lines(path):
        if ":::MLLOG" in line:
            out.append(json.loads(line.split(":::MLLOG", 1)[1]))
    return out


# LoadGen detail-log keys whose value is a measurement, or derived from one (the ranging run sizes the real run:
# target QPS, expected QPS or latency, and so Offline's samples per query); their presence and order are compared,
# not their value. Every other entry (scenario, mode, seeds, durations, sample counts, validity, ...) must match.
LOADGEN_MEASURED_KEYS = (
    "result_*", "generated_*", "power_*", "logger_*", "test_datetime", "get_sut_name_duration_ns",
    "early_stopping_*", "requested_server_target_qps", "requested_offline_expected_qps",
    "requested_single_stream_expected_latency_ns", "requested_multi_stream_expected_latency_ns",
    "effective_target_qps", "effective_target_latency_ns", "effective_samples_per_query",
    "effective_min_sample_count",
)
# ... except these, which must match.
LOADGEN_EXACT_KEYS = ("result_validity", "result_*_met", "early_stopping_met")
# LoadGen's logger warns when a run logs more entries than it reserved: a matter of how many samples ran.
LOADGEN_TIMING_WARNING = "Logging allocation detected"


def _measured(key: str) -> bool:
    return (not any(fnmatch.fnmatchcase(key, p) for p in LOADGEN_EXACT_KEYS)
            and any(fnmatch.fnmatchcase(key, p) for p in LOADGEN_MEASURED_KEYS))


def compare_loadgen_detail(a: Path, b: Path) -> list[str]:
    """Same keys in the same order; the same value for every key that is not a measurement."""
    def entries(path: Path) -> list[dict[str, Any]]:
        return [e for e in _mllog(path) if not (e["key"] == "warning_generic_message" and
                                                str(e.get("value")).startswith(LOADGEN_TIMING_WARNING))]

    ea, eb = entries(a), entries(b)
    keys_a, keys_b = [e["key"] for e in ea], [e["key"] for e in eb]
    if keys_a != keys_b:
        only_a = sorted(set(keys_a) - set(keys_b))
        only_b = sorted(set(keys_b) - set(keys_a))
        return [f"log keys differ (only in a: {only_a[:5]}, only in b: {only_b[:5]}, "
                f"{len(keys_a)} vs {len(keys_b)} entries)"]
    out = []
    for x, y in zip(ea, eb):
        if _measured(x["key"]):
            continue
        if x.get("value") != y.get("value"):
            out.append(f"{x['key']}: {str(x.get('value'))[:80]!r} != {str(y.get('value'))[:80]!r}")
    return out


_SUMMARY_LINE = re.compile(r"^\s*([^:]+?)\s*:\s*(.*?)\s*$")
# mlperf_log_summary.txt: the lines that are not measurements (the others are numbers LoadGen measured, or the
# ranging-derived settings listed above, which the summary prints as "target_qps", "expected latency", ...).
SUMMARY_EXACT = ("SUT name", "Scenario", "Mode", "Result is", "Performance constraints satisfied",
                 "Early stopping satisfied", "Min duration satisfied", "Min queries satisfied", "min_duration (ms)",
                 "max_duration (ms)", "min_query_count", "max_query_count", "accuracy_sample_count", "qsl_rng_seed",
                 "sample_index_rng_seed", "schedule_rng_seed", "accuracy_log_rng_seed",
                 "accuracy_log_probability", "accuracy_log_sampling_target", "print_timestamps",
                 "performance_issue_unique", "performance_issue_same", "performance_issue_same_index",
                 "performance_sample_count", "max_async_queries")


def _summary(path: Path) -> tuple[list[str], dict[str, str]]:
    keys, values = [], {}
    for line in _lines(path):
        m = _SUMMARY_LINE.match(line)
        if m and not line.startswith("="):
            keys.append(m.group(1))
            values.setdefault(m.group(1), m.group(2))
    return keys, values


def compare_loadgen_summary(a: Path, b: Path) -> list[str]:
    """Same 'key : value' lines in the same order; equal values for the keys in SUMMARY_EXACT."""
    (ka, va), (kb, vb) = _summary(a), _summary(b)
    if ka != kb:
        return [f"summary lines differ: {sorted(set(ka) ^ set(kb))[:6]}"]
    return [f"{k}: {va[k]!r} != {vb[k]!r}" for k in SUMMARY_EXACT if k in va and va[k] != vb[k]]


# user.conf: LoadGen's overrides; the ranging-derived ones are measurements, the others are settings.
USER_CONF_MEASURED = ("*.target_qps", "*.expected_qps", "*.target_latency", "*.samples_per_query",
                      "*.min_query_count", "*.max_query_count")


def compare_user_conf(a: Path, b: Path) -> list[str]:
    def parse(path: Path) -> dict[str, str]:
        out = {}
        for line in _lines(path):
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = (s.strip() for s in line.split("=", 1))
                out[k] = v
        return out

    ca, cb = parse(a), parse(b)
    if set(ca) != set(cb):
        return [f"settings differ: {sorted(set(ca) ^ set(cb))}"]
    return [f"{k}: {ca[k]!r} != {cb[k]!r}" for k in sorted(ca)
            if ca[k] != cb[k] and not any(fnmatch.fnmatchcase(k, p) for p in USER_CONF_MEASURED)]


# Training result_N.txt: every entry equal but its time (time_ms, and the epoch/run times in metadata).
TRAINING_TIME_FIELDS = ("time_ms",)


def compare_training_log(a: Path, b: Path) -> list[str]:
    ea, eb = _mllog(a), _mllog(b)
    strip = lambda e: {k: v for k, v in e.items() if k not in TRAINING_TIME_FIELDS}  # noqa: E731
    if len(ea) != len(eb):
        return [f"{len(ea)} vs {len(eb)} log entries ({[e['key'] for e in ea][-3:]} / {[e['key'] for e in eb][-3:]})"]
    return [f"entry {i} ({x['key']}): {strip(x)} != {strip(y)}" for i, (x, y) in enumerate(zip(ea, eb))
            if strip(x) != strip(y)][:5]


_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def compare_markdown_with_performance(a: Path, b: Path) -> list[str]:
    """A README that quotes the measured performance: equal once the numbers of its performance cells are masked.

    The result README has a row '| performance | 12345.6 samples/s (...), VALID |'; the documentation table has a
    'performance' column. Only those cells are masked; every other line and cell must be equal."""
    la, lb = _lines(a), _lines(b)
    if len(la) != len(lb):
        return [f"{len(la)} vs {len(lb)} lines"]
    out = []
    perf_col: int | None = None
    for n, (x, y) in enumerate(zip(la, lb), 1):
        if x == y:
            if x.startswith("|") and "performance" in [c.strip() for c in x.split("|")]:
                perf_col = [c.strip() for c in x.split("|")].index("performance")
            continue
        cx, cy = x.split("|"), y.split("|")
        if len(cx) != len(cy):
            out.append(f"line {n}: {x[:100]!r} != {y[:100]!r}")
            continue
        masked_x, masked_y = list(cx), list(cy)
        if len(cx) > 2 and cx[1].strip() == "performance":  # the result README's row
            masked_x[2], masked_y[2] = _NUMBER.sub("#", cx[2]), _NUMBER.sub("#", cy[2])
        elif perf_col is not None:  # a row of the documentation's results table
            masked_x[perf_col], masked_y[perf_col] = _NUMBER.sub("#", cx[perf_col]), _NUMBER.sub("#", cy[perf_col])
        if masked_x != masked_y:
            out.append(f"line {n}: {x[:100]!r} != {y[:100]!r}")
    return out


def compare_accuracy_txt(a: Path, b: Path) -> list[str]:
    """accuracy.txt: the same accuracy line; its second line hashes the full accuracy log, whose order is the order
    in which the samples completed (Server, Offline), so it only has to be a hash line (check_hashes verifies it
    against the log in results/)."""
    la, lb = _lines(a), _lines(b)
    if la[:1] != lb[:1]:
        return [f"accuracy line: {la[:1]} != {lb[:1]}"]
    bad = [n for n, lines in ((a, la), (b, lb)) if len(lines) != 2 or not re.fullmatch(r"hash=[0-9a-f]{64}", lines[1])]
    return [f"{n}: second line is not 'hash=<sha256>'" for n in bad]


_ACCURACY_ENTRY = re.compile(r'\{ "seq_id" : (\d+), "qsl_idx" : (\d+), "data" : "([0-9A-Fa-f]*)" \}')


def compare_accuracy_log(a: Path, b: Path) -> list[str]:
    """The accuracy log a bundle keeps (its first and last 4 KiB): entries are in completion order, which varies;
    every sample both files hold (by seq_id) must be the same sample with the same answer, and the sizes equal."""
    ta, tb = a.read_text(errors="replace"), b.read_text(errors="replace")
    ea = {int(s): (int(q), d) for s, q, d in _ACCURACY_ENTRY.findall(ta)}
    eb = {int(s): (int(q), d) for s, q, d in _ACCURACY_ENTRY.findall(tb)}
    out = [f"seq_id {s}: (qsl_idx, data) {ea[s]} != {eb[s]}" for s in sorted(set(ea) & set(eb)) if ea[s] != eb[s]]
    if len(ta) != len(tb) or not ea or not eb:
        out.append(f"{len(ta)} vs {len(tb)} characters, {len(ea)} vs {len(eb)} entries")
    return out[:5]


def compare_manifest(a: Path, b: Path) -> list[str]:
    """SHA256SUMS: the same paths (each file is compared on its own; each manifest is verified against its own
    bundle by check_bundle_hashes)."""
    pa = {line.partition("  ")[2] for line in _lines(a)}
    pb = {line.partition("  ")[2] for line in _lines(b)}
    return [] if pa == pb else [f"listed paths differ: {sorted(pa ^ pb)[:6]}"]


def compare_provenance(a: Path, b: Path) -> list[str]:
    """A result's provenance record (provenance/): equal, except the sha256 it records of a file that carries
    measurements (one this list compares by content) and of a training log (log_sha256: its times)."""
    def masked(path: Path) -> dict[str, Any]:
        record = json.loads(path.read_text())
        files = record.get("files")
        if isinstance(files, dict):
            record["files"] = {rel: ("<measurement>" if comparer_for(rel) else digest) for rel, digest in files.items()}
        if record.get("kind") == "training" and "log_sha256" in record:
            record["log_sha256"] = "<measurement>"
        return record

    ra, rb = masked(a), masked(b)
    return [f"{key}: {str(ra.get(key))[:120]} != {str(rb.get(key))[:120]}"
            for key in sorted(set(ra) | set(rb)) if ra.get(key) != rb.get(key)]


# The files of a bundle that carry measurements, by path pattern ('*' is one path segment), and how they are
# compared. Any other file, including one this list does not know yet, must be byte-equal.
RESULT = "inference/*/*/results/*/*/*"
MEASUREMENT_FILES: tuple[tuple[str, Callable[[Path, Path], list[str]]], ...] = (
    (f"{RESULT}/performance/run_1/mlperf_log_detail.txt", compare_loadgen_detail),
    (f"{RESULT}/performance/run_1/mlperf_log_summary.txt", compare_loadgen_summary),
    (f"{RESULT}/accuracy/mlperf_log_detail.txt", compare_loadgen_detail),
    (f"{RESULT}/accuracy/mlperf_log_summary.txt", compare_loadgen_summary),
    (f"{RESULT}/accuracy/accuracy.txt", compare_accuracy_txt),
    (f"{RESULT}/accuracy/mlperf_log_accuracy.json", compare_accuracy_log),
    (f"{RESULT}/user.conf", compare_user_conf),
    (f"{RESULT}/README.md", compare_markdown_with_performance),
    ("inference/*/*/documentation/README.md", compare_markdown_with_performance),
    ("training/*/results/*/*/result_*.txt", compare_training_log),
    ("SHA256SUMS", compare_manifest),
    ("provenance/inference/*/*/*.json", compare_provenance),
    ("provenance/training/*/*/result_*.json", compare_provenance),
)


def _match(rel: str, pattern: str) -> bool:
    parts, pats = rel.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pats))


def comparer_for(rel: str) -> Callable[[Path, Path], list[str]] | None:
    """How a bundle file is compared: a measurement file's parser, or None for byte equality."""
    for pattern, compare in MEASUREMENT_FILES:
        if _match(rel, pattern):
            return compare
    return None


def bundle_paths(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if (p.is_file() or p.is_symlink()) and p.name != SNAKEMAKE_MARK}


def compare_bundles(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> list[str]:
    """The differences between two bundle folders that are not measurements, one line each ([] = equal).

    The same set of files; every file byte-equal, except those of MEASUREMENT_FILES, whose parsed non-timing
    content must be equal (keys, settings, validity, scenario, mode, seeds, accuracy)."""
    a, b = Path(a), Path(b)
    pa, pb = bundle_paths(a), bundle_paths(b)
    out = [f"{rel}: only in {a}" for rel in sorted(pa - pb)] + [f"{rel}: only in {b}" for rel in sorted(pb - pa)]
    for rel in sorted(pa & pb):
        fa, fb = a / rel, b / rel
        if fa.read_bytes() == fb.read_bytes():
            continue
        compare = comparer_for(rel)
        if compare is None:
            out.append(f"{rel}: bytes differ (compared strictly)")
            continue
        try:
            problems = compare(fa, fb)
        except (ValueError, KeyError, IndexError) as err:  # unparsable: a broken file is a difference
            problems = [f"unreadable ({type(err).__name__}: {err})"]
        out += [f"{rel}: {p}" for p in problems]
    return out


# --- watching a Snakemake run ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Job:
    rule: str
    jobid: int
    started: float
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    finished: float | None = None
    failed: bool = False

    @property
    def outputs(self) -> list[str]:
        return [o for o in self.fields.get("output", "").split(", ") if o]

    @property
    def name(self) -> str:
        wc = self.fields.get("wildcards", "")
        short = ",".join(v.split("=", 1)[1] for v in wc.split(", ") if "=" in v and not
                         v.startswith(("system=cpu-host", "benchmark=digits-cnn", "campaign=")))
        return f"{self.rule}[{short}]" if short else self.rule

    @property
    def reason(self) -> str:
        return self.fields.get("reason", "")


_HEADER = re.compile(r"^(?:local)?rule (\S+):$")
_FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)")
_FIELD = re.compile(r"^    (\w+): (.*)$")


class Run:
    """One snakemake process in a session of its own, its output parsed as it comes."""

    def __init__(self, name: str, cmd: list[str], workdir: Path, env: dict[str, str], log: Path):
        self.name, self.cmd, self.workdir, self.env, self.log_path = name, cmd, workdir, env, log
        self.jobs: dict[int, Job] = {}
        self.pending: dict[str, int] = {}
        self.stats_seen = self.nothing_to_do = False
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    def start(self) -> Run:
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _read(self) -> None:
        current: Job | None = None
        in_stats = 0
        error_job = False
        with open(self.log_path, "w") as log:
            assert self.proc and self.proc.stdout
            for raw in self.proc.stdout:
                line = raw.rstrip("\n")
                t = self.now()
                log.write(f"[{t:8.2f}] {line}\n")
                log.flush()
                with self.cond:
                    self.lines.append(line)
                    if line.startswith("Job stats:"):
                        in_stats = 1
                    elif in_stats:
                        parts = line.split()
                        if len(parts) == 2 and parts[1].isdigit():
                            if parts[0] == "total":
                                in_stats, self.stats_seen = 0, True
                            else:
                                self.pending[parts[0]] = int(parts[1])
                        elif not line.strip() or in_stats > 3:
                            in_stats, self.stats_seen = 0, True
                        else:
                            in_stats += 1
                    if "Nothing to be done" in line:
                        self.nothing_to_do = self.stats_seen = True
                    m = _HEADER.match(line)
                    if m:
                        current, error_job = Job(m.group(1), -1, t), False
                    elif line.startswith("Error in rule "):
                        current, error_job = None, True
                    elif (f := _FIELD.match(line)) and (current is not None or error_job):
                        key, value = f.groups()
                        if error_job:
                            if key == "jobid" and int(value) in self.jobs:
                                self.jobs[int(value)].failed = True
                        else:
                            current.fields[key] = value
                            if key == "jobid":
                                current.jobid = int(value)
                                self.jobs[current.jobid] = current
                    elif not line.startswith("    "):
                        current, error_job = None, False
                    if (m := _FINISHED.match(line)) and int(m.group(1)) in self.jobs:
                        self.jobs[int(m.group(1))].finished = t
                    self.cond.notify_all()
        self.returncode = self.proc.wait()
        with self.cond:
            self.ended_at = self.now()
            self.cond.notify_all()

    @property
    def ended(self) -> bool:
        return self.returncode is not None

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate() or self.ended, timeout=timeout) and predicate()

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.finished is None and not j.failed and j.rule != "all"]

    def finish(self, timeout: float) -> int:
        self.reader.join(timeout)
        if self.reader.is_alive():
            self.kill()
            raise TimeoutError(f"{self.name}: still running after {timeout:.0f} s")
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        assert self.proc
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.reader.join(30)


def session_survivors(sid: int, grace: float = 15.0) -> list[str]:
    """Processes still in the session or process group of a killed run once ``grace`` seconds have passed (a
    SIGKILLed process can take a moment to exit: a large one frees its memory first)."""
    deadline = time.monotonic() + grace
    while (alive := _in_session(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def _in_session(sid: int) -> list[str]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        state, pgrp, session = fields[0], int(fields[2]), int(fields[3])
        if (pgrp == sid or session == sid) and state not in "ZX":
            out.append(f"{stat.parent.name}: {text.split(')')[0].split('(', 1)[1]} (state {state})")
    return out


# --- the baseline's timeline and the kill plan ----------------------------------------------------------------

_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


@dataclasses.dataclass
class Span:
    rule: str
    output: str
    start: float
    end: float


def baseline_timeline(workdir: Path) -> list[Span]:
    """The jobs of the run that completed the campaign in ``workdir``, from Snakemake's own log (1 s stamps),
    in seconds from its first job."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    complete = [p for p in logs if "(100%) done" in p.read_text(errors="replace")]
    if not complete:
        raise SystemExit(f"inject: {workdir} holds no Snakemake log of a finished run (.snakemake/log)")
    spans: dict[str, Span] = {}
    stamp: float | None = None
    header: str | None = None
    first: float | None = None
    output = ""
    for line in complete[-1].read_text(errors="replace").splitlines():
        if m := _STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
            first = stamp if first is None else first
        elif m := _HEADER.match(line):
            header, output = m.group(1), ""
        elif header and (f := _FIELD.match(line)):
            if f.group(1) == "output":
                output = f.group(2)
            elif f.group(1) == "jobid" and header != "all":
                spans[f.group(2)] = Span(header, output, stamp - first, stamp - first)
        elif m := _FINISHED.match(line):
            if m.group(1) in spans:
                spans[m.group(1)].end = stamp - first + 0.999  # end of that second
            header = None
        elif not line.startswith("    "):
            header = None
    return sorted(spans.values(), key=lambda s: s.start)


@dataclasses.dataclass
class Target:
    point: float  # seconds into the baseline
    rule: str
    fraction: float  # how far into a job of that rule
    why: str


KILL_GUARD_S = 1.5
"""place_kill never fires later than this before a job's expected end."""
SHORT_JOB_S = 4.0
"""A job expected to take less than this is killed as soon as it is seen (a 2 s preprocess ended before a kill
aimed 0.8 s into it, as seen from Snakemake's log)."""


def plan_kills(timeline: list[Span], kills: int, rng: random.Random) -> list[Target]:
    """Kill points: one inside each stage present (uniform over its jobs' time), the rest stratified over the
    whole campaign; each mapped to a job running at that point in the baseline, sorted by time."""
    end = max(s.end for s in timeline)
    points: list[tuple[float, str]] = []
    for stage, rules in STAGES.items():
        spans = [s for s in timeline if s.rule in rules]
        if not spans:
            continue
        total = sum(s.end - s.start for s in spans)
        x = rng.uniform(0, total)
        for s in spans:
            if x <= s.end - s.start:
                points.append((s.start + x, f"stage {stage}"))
                break
            x -= s.end - s.start
    rest = kills - len(points)
    for i in range(max(rest, 0)):
        points.append((rng.uniform(i * end / rest, (i + 1) * end / rest), "spread"))
    targets = []
    for p, why in sorted(points)[:kills]:
        stage = why.removeprefix("stage ") if why.startswith("stage") else None
        running = [s for s in timeline if s.start <= p <= s.end and (stage is None or STAGE_OF.get(s.rule) == stage)]
        if not running:  # between jobs: the last job that started before it
            running = [max((s for s in timeline if s.start <= p), key=lambda s: s.start)]
        s = rng.choice(running)
        targets.append(Target(p, s.rule, min(max(0.0, (p - s.start) / max(s.end - s.start, 1.0)), 0.8), why))
    return targets


# --- what a working directory holds ---------------------------------------------------------------------------

def temp_files(workdir: Path) -> list[str]:
    """In-progress files and folders (by the code's naming) under results/, resources/ and submissions/."""
    out = []
    for top in SCANNED:
        for root, dirs, files in os.walk(workdir / top):
            for name in sorted(dirs + files):
                if name != SNAKEMAKE_MARK and TEMP_NAME.match(name):
                    out.append((Path(root) / name).relative_to(workdir).as_posix())
            dirs[:] = [d for d in dirs if not TEMP_NAME.match(d)]  # do not list what is inside a temp folder
    return sorted(out)


def incomplete_marks(workdir: Path) -> list[str]:
    """Outputs Snakemake marks as incomplete (.snakemake/incomplete/<base64 of the path>)."""
    out = []
    for p in (workdir / ".snakemake" / "incomplete").glob("*"):
        try:
            out.append(base64.urlsafe_b64decode(p.name.encode() + b"==").decode())
        except (ValueError, UnicodeDecodeError):
            out.append(p.name)
    return sorted(out)


def output_dirs(workdir: Path) -> set[str]:
    """Folders that are a job's output or hold a bundle: a stray file inside one could be read or shipped."""
    out = {p.parent.relative_to(workdir).as_posix() for p in workdir.glob(f"results/**/{SNAKEMAKE_MARK}")}
    out |= {p.relative_to(workdir).as_posix() for p in workdir.glob("submissions/*/v*") if p.is_dir()}
    return out


# --- checks of a finished working directory -------------------------------------------------------------------

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_hashes(workdir: Path) -> tuple[int, list[str]]:
    """Every hash a result records against its file. Returns (hashes checked, problems)."""
    problems: list[str] = []
    checked = 0

    def expect(what: str, recorded: str | None, path: Path) -> None:
        nonlocal checked
        checked += 1
        if not path.is_file():
            problems.append(f"{what}: {path.relative_to(workdir)} is missing")
        elif recorded != sha256(path):
            problems.append(f"{what}: recorded {recorded} but {path.relative_to(workdir)} hashes to {sha256(path)}")

    def load(path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as err:
            problems.append(f"{path.relative_to(workdir)}: not readable JSON ({err})")
            return {}

    # Every JSON file benchwright writes parses (a cut file would not); LoadGen's own logs (an empty trace, and the
    # accuracy log a bundle cuts to its first and last 4 KiB) are checked by their hashes below.
    for path in sorted(workdir.glob("results/**/*.json")):
        if not path.name.startswith("mlperf_log_") and "submission" not in path.relative_to(workdir).parts[:2]:
            load(path)
    for manifest in sorted(workdir.glob("results/data/*/manifest.json")):
        data = load(manifest)
        for name, entry in data.get("outputs", {}).items():
            expect(f"{manifest.relative_to(workdir)} outputs.{name}", entry.get("sha256"), manifest.parent / name)
        datasets = workdir / "resources" / "datasets"
        for name, digest in data.get("inputs", {}).items():
            expect(f"{manifest.relative_to(workdir)} inputs.{name}", digest, next(datasets.glob(f"*/{name}"),
                                                                                 datasets / name))
    def fp32_model(folder: Path) -> Path:  # a state_dict's weights.pt, or a trained LM's model.safetensors
        return next((folder / n for n in FP32_MODEL_FILES if (folder / n).exists()), folder / FP32_MODEL_FILES[0])

    for record in sorted(workdir.glob("results/models/*/fp32/record.json")):
        data = load(record)
        expect(f"{record.relative_to(workdir)} weights_sha256", data.get("weights_sha256"), fp32_model(record.parent))
        expect(f"{record.relative_to(workdir)} data_manifest_sha256", data.get("data_manifest_sha256"),
               workdir / "results/data" / record.parent.parent.name / "manifest.json")
    for record in sorted(workdir.glob("results/models/*/int8/calibration.json")):
        data = load(record)
        expect(f"{record.relative_to(workdir)} model_sha256", data.get("model_sha256"), record.parent / "model.pt")
        expect(f"{record.relative_to(workdir)} fp32_weights_sha256", data.get("fp32_weights_sha256"),
               record.parent.parent / "fp32" / "weights.pt")
    for record in sorted(workdir.glob("results/inference/*/*/*/*/*/record.json")):
        data = load(record)
        bench, precision = record.parts[-5], record.parts[-4]
        model = (workdir / "results/models" / bench / "int8/model.pt" if precision == "int8"
                 else fp32_model(workdir / "results/models" / bench / "fp32"))
        expect(f"{record.relative_to(workdir)} model_sha256", data.get("model_sha256"), model)
    for accuracy in sorted(workdir.glob("results/inference/*/*/*/*/accuracy.txt")):
        last = (_lines(accuracy) or [""])[-1]
        expect(f"{accuracy.relative_to(workdir)} hash", last.removeprefix("hash="),
               accuracy.parent / "accuracy" / "mlperf_log_accuracy.json")
    for record in sorted(workdir.glob("results/training/*/*/run_*/record.json")):
        expect(f"{record.relative_to(workdir)} log_sha256", load(record).get("log_sha256"),
               record.parent / "result.txt")
    for bundle in sorted(workdir.glob("results/submission/*/bundle")) + sorted(workdir.glob("submissions/*/v*/bundle")):
        sums = bundle / "SHA256SUMS"
        listed = {}
        for line in _lines(sums):
            digest, _, rel = line.partition("  ")
            listed[rel] = digest
            expect(f"{sums.relative_to(workdir)} {rel}", digest, bundle / rel)
        extra = bundle_paths(bundle) - set(listed) - {"SHA256SUMS"}
        if extra:
            problems.append(f"{bundle.relative_to(workdir)}: files not in SHA256SUMS: {sorted(extra)[:5]}")
    for version in sorted(workdir.glob("submissions/*/v*")):
        for stamp in version.glob("*.tar.gz.sha256"):
            digest, _, name = stamp.read_text().strip().partition("  ")
            expect(f"{stamp.relative_to(workdir)}", digest, version / name)
    for receipt in sorted(workdir.glob("results/submission/*/published.json")):
        data = load(receipt)
        tarball = next(iter(sorted(receipt.parent.glob("*.tar.gz"))), receipt.parent / "missing.tar.gz")
        expect(f"{receipt.relative_to(workdir)} tarball_sha256", data.get("tarball_sha256"), tarball)
        expect(f"{receipt.relative_to(workdir)} tarball_sha256 (published copy)", data.get("tarball_sha256"),
               workdir / data.get("path", "missing") / tarball.name)
    return checked, problems


def published_bundle(workdir: Path) -> Path:
    versions = sorted(workdir.glob("submissions/*/v*/bundle"), key=lambda p: int(p.parent.name[1:]))
    if not versions:
        raise FileNotFoundError(f"{workdir}: no published bundle under submissions/")
    return versions[-1]


# --- the whole experiment -------------------------------------------------------------------------------------

class Injector:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.root = Path(args.workdir).resolve()
        self.checkout = Path(args.checkout).resolve()
        self.rng = random.Random(args.seed)
        self.report: list[str] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.records: list[dict[str, Any]] = []
        self.observed: dict[str, list[float]] = {}  # rule -> durations of its jobs in the interrupted campaign
        self.t0 = time.monotonic()
        self.log_file = open(self.root / "fault-injection.log", "w")

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.log_file.write(text + "\n")
        self.log_file.flush()

    def env(self, tmp: Path) -> dict[str, str]:
        tmp.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
        pythonpath = os.pathsep.join(p for p in [str(self.checkout / "workflow"), os.environ.get("PYTHONPATH")] if p)
        # TMPDIR of our own: what the jobs leave in their temporary folder is attributable to this run.
        return {**os.environ, "PATH": path, "PYTHONPATH": pythonpath, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}

    def snakemake(self, workdir: Path, *args: str) -> list[str]:
        return [str(BIN / "snakemake"), "-s", str(self.checkout / "Snakefile"), *args]

    def new_workdir(self, name: str) -> Path:
        workdir = self.root / name
        if workdir.exists():
            raise SystemExit(f"inject: {workdir} exists; give an empty --workdir")
        workdir.mkdir(parents=True)
        shutil.copytree(self.checkout / "config", workdir / "config")
        return workdir

    def simple(self, workdir: Path, name: str, *args: str, timeout: float = 1800) -> Run:
        run = Run(name, self.snakemake(workdir, *args), workdir, self.env(self.root / f"tmp-{workdir.name}"),
                  self.root / "logs" / f"{workdir.name}-{name}.log").start()
        run.finish(timeout)
        return run

    # (a) ------------------------------------------------------------------------------------------------------
    def baseline(self) -> Path:
        if self.args.baseline:
            workdir = Path(self.args.baseline).resolve()
            self.say(f"baseline: reusing {workdir}")
        else:
            workdir = self.new_workdir("baseline")
            self.say(f"baseline: the default campaign, uninterrupted, in {workdir}")
            run = self.simple(workdir, "run", "--cores", "2")
            if run.returncode != 0:
                raise SystemExit(f"inject: the baseline run failed (exit {run.returncode}); see "
                                 f"{run.log_path}:\n" + "\n".join(run.lines[-30:]))
            self.say(f"baseline: finished in {run.ended_at:.0f} s ({len(run.jobs) - 1} jobs)")
        dry = self.simple(workdir, "dry-run", "-n")
        if not dry.nothing_to_do:
            raise SystemExit(f"inject: the baseline {workdir} is not a finished campaign (snakemake -n has work)")
        return workdir

    # (b) ------------------------------------------------------------------------------------------------------
    def kill_loop(self, baseline: Path) -> Path:
        timeline = baseline_timeline(baseline)
        span = max(s.end for s in timeline)
        plan = plan_kills(timeline, self.args.kills, self.rng)
        first_start = {s.rule: s.start for s in reversed(timeline)}  # rule -> its first job's start in the baseline
        self.planned_stages = sorted({STAGE_OF[t.rule] for t in plan})
        self.say(f"plan: {len(plan)} kills over the baseline's {span:.0f} s of jobs (seed {self.args.seed}):")
        for i, t in enumerate(plan, 1):
            self.say(f"  {i:2}. at {t.point:6.1f} s ({t.why}): {100 * t.fraction:3.0f}% into {t.rule} "
                     f"({STAGE_OF[t.rule]})")
        workdir = self.new_workdir("killed")
        tmp = self.root / f"tmp-{workdir.name}"
        finished_outputs: dict[str, int] = {}  # output -> run that finished it
        previous: dict[str, Any] | None = None
        kills_done = 0
        runs = 0
        own_failures = 0
        while True:
            runs += 1
            last = kills_done >= len(plan)
            if runs > 1:
                unlock = self.simple(workdir, f"unlock-{runs}", "--unlock")
                if unlock.returncode != 0:
                    self.problems.append(f"run {runs}: snakemake --unlock exited {unlock.returncode}")
            args = ["--cores", "2"] + (["--rerun-incomplete"] if runs > 1 else [])
            run = Run(f"run-{runs}", self.snakemake(workdir, *args), workdir, self.env(tmp),
                      self.root / "logs" / f"killed-run-{runs}.log").start()
            record: dict[str, Any] = {"run": runs, "command": "snakemake " + " ".join(args)}
            if last:
                rc = run.finish(self.args.timeout)
                record.update(killed=False, returncode=rc, seconds=round(run.ended_at, 1))
                if rc != 0:
                    record["failed_on_its_own"] = self.own_failure(run)
            else:
                target = plan[kills_done]
                run.wait_for(lambda: run.stats_seen, 300)
                unhit = [st for st in self.planned_stages if st not in self.hit_stages()]
                if target.rule not in run.pending and not run.ended:
                    pending = [r for r in run.pending if r in STAGE_OF]
                    if not pending:
                        run.kill()
                        raise SystemExit(f"inject: nothing left to run before kill {kills_done + 1}: the plan "
                                         f"placed fewer kills than asked ({run.log_path})")
                    old = target.rule
                    # The same stage if it has work left, else a stage no kill has hit yet, else the rule that
                    # came first in the baseline: a retargeted kill never jumps ahead and leaves the later kills
                    # nothing to hit.
                    same = [r for r in pending if STAGE_OF[r] == STAGE_OF[old]]
                    fresh = [r for r in pending if STAGE_OF[r] in unhit]
                    rule = same[0] if same else min(fresh or pending,
                                                    key=lambda r: first_start.get(r, float("inf")))
                    target = dataclasses.replace(target, rule=rule, why=f"{target.why}; {old} already done, "
                                                 f"retargeted")
                # Snakemake does not start jobs in the baseline's order after a restart (a run once did all of
                # training while the kill waited for quantization, and no later kill found training left): a job
                # of a stage no kill has hit yet is a target too, whichever comes first, the target's own stage
                # included (a CI run waited for preprocess while download and detect_system ran, then missed
                # preprocess, and the data stage, which runs only once, was never hit).
                urgent = tuple(r for st in unhit for r in STAGES[st])
                notes = self.place_kill(run, target, timeline, urgent)
                if run.ended:
                    run.finish(60)
                    if run.returncode == 0:
                        raise SystemExit(f"inject: the campaign finished in run {runs}, before kill {kills_done + 1} "
                                         f"({target.rule}, {100 * target.fraction:.0f}% in); see {run.log_path}")
                    record.update(killed=False, returncode=run.returncode, seconds=round(run.ended_at, 1),
                                  failed_on_its_own=self.own_failure(run))
                target = dataclasses.replace(target, why="; ".join([target.why, *notes]))
            if not last and not run.ended:
                with run.cond:
                    at = run.now()
                    running = [(j, at - j.started) for j in run.running()]
                run.kill()
                survivors = session_survivors(run.proc.pid)
                if survivors:
                    self.problems.append(f"kill {kills_done + 1}: processes survived the SIGKILL of the group: "
                                         f"{survivors}")
                    for s in survivors:
                        os.kill(int(s.split(":")[0]), signal.SIGKILL)
                kills_done += 1
                left = temp_files(workdir)
                record.update(killed=True, kill=kills_done, at=round(at, 2), target=dataclasses.asdict(target),
                              running=[{"job": j.name, "rule": j.rule, "stage": STAGE_OF.get(j.rule, "?"),
                                        "seconds_in": round(d, 2), "outputs": j.outputs,
                                        "outputs_present": [o for o in j.outputs if (workdir / o).exists()]}
                                       for j, d in running],
                              temp_files=left, incomplete=incomplete_marks(workdir),
                              locked=any((workdir / ".snakemake" / "locks").glob("*")))
            # what this run did, against what the previous ones left
            started = sorted(run.jobs.values(), key=lambda j: j.started)
            interrupted = {o for r in (previous or {}).get("running", []) for o in r["outputs"]}
            record["jobs"] = []
            for j in started:
                if j.rule == "all":
                    continue
                kind = ("redo-interrupted" if interrupted & set(j.outputs) else
                        "REDO-FINISHED" if any(o in finished_outputs for o in j.outputs) else "new")
                record["jobs"].append({"job": j.name, "rule": j.rule, "kind": kind, "reason": j.reason,
                                       "finished": j.finished is not None, "failed": j.failed})
                if kind == "REDO-FINISHED":
                    self.notes.append(f"run {runs} redid {j.name}, finished in run "
                                      f"{[finished_outputs[o] for o in j.outputs if o in finished_outputs]}: "
                                      f"{j.reason}")
                if j.finished is not None:
                    for o in j.outputs:
                        finished_outputs[o] = runs
            for j in started:
                if j.finished is not None:
                    self.observed.setdefault(j.rule, []).append(j.finished - j.started)
            self.records.append(record)
            self.log_run(record)
            if record["killed"]:
                previous = record
            if record.get("failed_on_its_own"):
                own_failures += 1
                if own_failures > self.args.retries:
                    self.problems.append(f"run {runs} failed on its own (exit {record['returncode']}), "
                                         f"{own_failures} such failures; see {run.log_path}")
                    break
                self.notes.append(f"run {runs} failed on its own, not at a kill, and was run again: "
                                  f"{record['failed_on_its_own']}")
                continue
            if last:
                break
        self.runs = runs
        return workdir

    def own_failure(self, run: Run) -> str:
        """What made a run fail without a kill: its failed jobs and the last message of their output."""
        failed = [j.name for j in run.jobs.values() if j.failed]
        message = next((line.strip() for line in reversed(run.lines) if line.startswith("benchwright: ")), "")
        return f"failed job(s) {failed}: {message[:300]}"

    def expected(self, rule: str, timeline: list[Span]) -> float:
        """A job's expected duration: as it ran in this experiment (the machine's load now), else the baseline's
        scaled by how much faster or slower the rules seen in both ran here."""
        def median(values: list[float]) -> float:
            return sorted(values)[len(values) // 2]

        if self.observed.get(rule):
            return median(self.observed[rule])
        base = {r: median([s.end - s.start for s in timeline if s.rule == r]) for r in {s.rule for s in timeline}}
        ratios = [median(d) / base[r] for r, d in self.observed.items() if r in base and base[r] >= 3]
        return base.get(rule, 1.0) * (median(ratios) if ratios else 1.0)

    def hit_stages(self) -> set[str]:
        """The stages of the jobs that were running at the kills so far."""
        return {j["stage"] for r in self.records if r["killed"] for j in r["running"]}

    def place_kill(self, run: Run, target: Target, timeline: list[Span], urgent: tuple[str, ...] = ()) -> list[str]:
        """Wait until a job of the target's rule, or of one of the ``urgent`` rules (stages no kill has hit yet),
        has run for the target's fraction of its expected duration. When the job ends before that, aim at the next
        job of the same stage in this run (or, with none left, any next job); urgent rules stay targets throughout.
        Returns notes on how the kill moved; returns with the process still running, unless it ended."""
        notes: list[str] = []
        stage = STAGE_OF[target.rule]
        seen: set[int] = set()

        def left_in_stage() -> bool:  # jobs of the stage this run still has to start, or is running
            started = {}
            for j in run.jobs.values():
                started[j.rule] = started.get(j.rule, 0) + 1
            return any(run.pending.get(r, 0) > started.get(r, 0) for r in STAGES[stage]) or any(
                STAGE_OF.get(j.rule) == stage and j.jobid not in seen for j in run.running())

        def candidate(rules: tuple[str, ...] | None) -> Job | None:
            # A job of a stage no kill has hit yet comes first: it may be that stage's last chance.
            jobs = [j for j in run.running() if j.jobid not in seen and j.rule in urgent]
            jobs = jobs or [j for j in run.running() if j.jobid not in seen and (rules is None or j.rule in rules)]
            return max(jobs, key=lambda j: j.started) if jobs else None

        def urgent_other(job: Job) -> bool:  # an urgent job started while the kill waits for another
            return job.rule not in urgent and any(j.jobid not in seen and j.rule in urgent for j in run.running())

        rules: tuple[str, ...] | None = (target.rule,)
        deadline = time.monotonic() + self.args.timeout
        while not run.ended and time.monotonic() < deadline:
            run.wait_for(lambda: candidate(rules) is not None, deadline - time.monotonic())
            with run.cond:
                job = candidate(rules)
            if job is None:
                break
            # After a miss, aim earlier into the next job (halving the fraction), so one kill does not run
            # through many short jobs and leave the later kills too little of the campaign. Never aim into the
            # last KILL_GUARD_S of a job's expected duration: a short job (the data stage's take 1-3 s) varies
            # by about that much, and a kill aimed there misses its stage. Jobs under SHORT_JOB_S are hit when seen.
            expected = self.expected(job.rule, timeline)
            aim = target.fraction * 0.5 ** len(notes) * expected
            fire = job.started + (0.0 if expected < SHORT_JOB_S else min(aim, expected - KILL_GUARD_S))
            opportunistic = job.rule in urgent and job.rule not in (rules or ())
            # Snakemake runs jobs side by side: while the kill waits for this one, a job of a stage no kill has
            # hit yet can start and end (a CI run's quantization did so during a training job), so its start
            # ends the wait and the loop aims at it instead.
            run.wait_for(lambda: job.finished is not None or job.failed or urgent_other(job),
                         max(0.0, fire - run.now()))
            with run.cond:
                newcomer = (next(j.name for j in run.running() if j.rule in urgent and j.jobid not in seen)
                            if job.finished is None and not job.failed and urgent_other(job) else None)
            if newcomer and not run.ended:
                notes.append(f"{newcomer} started (no kill in its stage yet) while waiting in {job.name}")
                continue
            if job.finished is None and not job.failed and not run.ended:
                if opportunistic:
                    notes.append(f"{job.name} of stage {STAGE_OF[job.rule]} (no kill there yet) came first")
                return notes  # the job is still running: kill now
            seen.add(job.jobid)
            if opportunistic:
                notes.append(f"{job.name} (stage {STAGE_OF[job.rule]}, no kill there yet) ended first")
            elif rules is not None and left_in_stage():
                rules = STAGES[stage]
                notes.append(f"{job.name} ended first, moved to the next {stage} job")
            else:
                rules = None
                notes.append(f"{job.name} ended first and no {stage} job is left, moved to the next job")
        return notes

    def log_run(self, r: dict[str, Any]) -> None:
        elapsed = time.monotonic() - self.t0
        redone = [j for j in r["jobs"] if j["kind"] != "new"]
        if redone or r["run"] > 1:
            what = ", ".join(f"{j['job']} ({j['kind']}; {j['reason'][:60]})" for j in redone) or "nothing"
            self.say(f"  run {r['run']} redid: {what}; then started {sum(j['kind'] == 'new' for j in r['jobs'])} "
                     f"new job(s)")
        if not r["killed"]:
            self.say(f"[{elapsed:6.0f} s] run {r['run']} ({r['command']}): ran to the end in {r['seconds']} s, "
                     f"exit {r['returncode']}" + (f"; FAILED ON ITS OWN (no kill): {r['failed_on_its_own']}"
                                                  if r.get("failed_on_its_own") else ""))
            return
        t = r["target"]
        self.say(f"[{elapsed:6.0f} s] kill {r['kill']}: run {r['run']} ({r['command']}) SIGKILLed at {r['at']:.1f} s "
                 f"(target: {100 * t['fraction']:.0f}% into {t['rule']}; {t['why']})")
        for j in r["running"] or [{"job": "no job (between jobs)", "stage": "-", "seconds_in": 0,
                                   "outputs_present": []}]:
            present = f", outputs present: {j['outputs_present']}" if j["outputs_present"] else ""
            self.say(f"    running: {j['job']} [{j['stage']}] {j['seconds_in']:.1f} s in{present}")
        if r["temp_files"]:
            self.say(f"    temporary files left: {r['temp_files']}")
        if r["incomplete"]:
            self.say(f"    marked incomplete by Snakemake: {r['incomplete']}")

    # (c) ------------------------------------------------------------------------------------------------------
    def checks(self, baseline: Path, workdir: Path) -> None:
        stages_hit = sorted(self.hit_stages())
        self.stages_hit = stages_hit
        missing = [s for s in self.planned_stages if s not in stages_hit]
        if missing:
            self.problems.append(f"no kill landed in stage(s) {missing} (hit: {stages_hit})")
        dry = self.simple(workdir, "final-dry-run", "-n")
        if not dry.nothing_to_do:
            self.problems.append(f"snakemake -n after the last run still has work: {dry.pending}")
        # leftovers
        left = temp_files(workdir)
        inside = output_dirs(workdir)
        for rel in left:
            parent = str(Path(rel).parent)
            if any(parent == d or parent.startswith(d + "/") for d in inside):
                self.problems.append(f"leftover inside an output or bundle folder (it could be read or shipped): {rel}")
            elif rel.endswith(".invalid"):
                self.notes.append(f"an INVALID LoadGen run is kept for inspection, by design (never read): {rel}")
        if left:
            self.notes.append(f"leftovers beside their targets (never an output, not in any bundle): {left}")
        leaked = sorted(p.name for p in (self.root / f"tmp-{workdir.name}").glob("*"))
        if leaked:
            self.notes.append(f"left in the runs' TMPDIR by killed jobs: {leaked}")
        self.leftovers, self.leaked = left, leaked
        versions = sorted(p.name for p in workdir.glob("submissions/*/v*"))
        if len(versions) != 1:
            self.problems.append(f"published versions: {versions} (one expected: the bundle never changed)")
        # hashes
        checked, problems = check_hashes(workdir)
        self.problems += problems
        self.say(f"hashes: {checked} recorded hashes checked, {len(problems)} mismatch(es)")
        # validator(s) on the published bundle
        bundle = published_bundle(workdir)
        env = self.env(self.root / "tmp-checks")
        check = subprocess.run([str(BIN / "benchwright"), "check", str(bundle)], capture_output=True, text=True,
                               env=env)
        self.say(f"benchwright check {bundle.relative_to(workdir)}: exit {check.returncode}: "
                 f"{(check.stdout.strip().splitlines() or [''])[-1]}")
        if check.returncode != 0:
            self.problems.append(f"benchwright check fails on {bundle}:\n{check.stdout}{check.stderr}")
        verify_help = subprocess.run([str(BIN / "benchwright"), "verify", "--help"], capture_output=True, env=env)
        if verify_help.returncode == 0:
            verify = subprocess.run([str(BIN / "benchwright"), "verify", str(bundle.parent)], capture_output=True,
                                    text=True, env=env)  # the version folder: the bundle and its tarball
            self.say(f"benchwright verify: exit {verify.returncode}: {(verify.stdout.strip().splitlines() or [''])[-1]}")
            if verify.returncode != 0:
                self.problems.append(f"benchwright verify fails on {bundle.parent}:\n{verify.stdout}{verify.stderr}")
        else:
            self.say("benchwright verify: not available in this checkout")
        # the bundle against the baseline's
        differences = compare_bundles(published_bundle(baseline), bundle)
        differences += [f"(results/submission) {d}" for d in compare_bundles(
            next(baseline.glob("results/submission/*/bundle")), next(workdir.glob("results/submission/*/bundle")))]
        self.problems += [f"bundle differs from the baseline's: {d}" for d in differences]
        self.say(f"bundle against the baseline: {len(bundle_paths(bundle))} files, {len(differences)} difference(s)")

    def summary(self) -> None:
        kills = [r for r in self.records if r["killed"]]
        self.say("")
        self.say(f"kills: {len(kills)}; runs: {self.runs}; stages hit: {', '.join(self.stages_hit)}; "
                 f"total {time.monotonic() - self.t0:.0f} s")
        by_stage: dict[str, int] = {}
        for r in kills:
            for stage in {j["stage"] for j in r["running"]} or {"between jobs"}:
                by_stage[stage] = by_stage.get(stage, 0) + 1
        self.say("kills by stage: " + ", ".join(f"{k} {v}" for k, v in sorted(by_stage.items())))
        for note in self.notes:
            self.say(f"note: {note}")
        for problem in self.problems:
            self.say(f"PROBLEM: {problem}")
        self.say("PASS" if not self.problems else f"FAIL: {len(self.problems)} problem(s)")
        (self.root / "kills.json").write_text(json.dumps({"seed": self.args.seed, "records": self.records,
                                                          "problems": self.problems, "notes": self.notes},
                                                         indent=2) + "\n")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10, help="how many SIGKILLs (default 10; at least 1)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill points (default: a random one, "
                        "printed)")
    parser.add_argument("--workdir", help="an empty or new folder for the working directories and logs "
                        "(default: a temporary one)")
    parser.add_argument("--baseline", help="reuse this finished working directory of the default campaign as the "
                        "uninterrupted baseline")
    parser.add_argument("--keep", action="store_true", help="keep the working directories after a pass "
                        "(they are always kept after a failure)")
    parser.add_argument("--checkout", default=str(REPO), help="the checkout whose Snakefile, config/ and package "
                        "run (default: this one)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one snakemake run may take")
    parser.add_argument("--retries", type=int, default=2, help="how many times a run that fails on its own (a job "
                        "fails with no kill, e.g. a Server run INVALID on a loaded machine) is run again before the "
                        "experiment fails (default 2); each is reported")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    created = args.workdir is None
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="benchwright-faults-")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    (Path(args.workdir) / "logs").mkdir(exist_ok=True)
    inj = Injector(args)
    inj.say(f"fault injection: {args.kills} kills, seed {args.seed}, in {inj.root}, checkout {inj.checkout}")
    baseline = inj.baseline()
    workdir = inj.kill_loop(baseline)
    inj.checks(baseline, workdir)
    inj.summary()
    ok = not inj.problems
    if ok and not args.keep:
        for name in ("killed", "baseline", "tmp-killed", "tmp-baseline", "tmp-checks"):
            if (inj.root / name).exists() and not (name == "baseline" and args.baseline):
                shutil.rmtree(inj.root / name)
        if created:
            inj.say(f"logs kept in {inj.root}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
