"""Shared machinery of the speed measurements: the registry, repeats and statistics, fresh-process runs,
LoadGen specs from the real campaign, and the results table.

A measurement is a plain function in a module ``benchmarks/bench_<name>.py``, registered with
:func:`register`; ``benchmarks/run.py`` imports every such module, runs the selected measurements and writes
``results.csv``, ``results.md`` and ``runs.json``. A measurement returns :class:`Row` objects, normally made
with :func:`compare` from the values of its repeats: the variant is always measured against a baseline run on
the same machine in the same invocation, so the table holds ratios, never absolute speed targets.

Adding a measurement (planning time of ``snakemake -n``, container start overhead, Slurm overhead, ...)::

    # benchmarks/bench_planning.py
    from common import Context, Target, compare, interleaved, register

    @register("planning_time", order=40, description="snakemake -n against ...")
    def planning_time(ctx: Context) -> list:
        variant, baseline = interleaved(ctx, lambda i: time_it(...), lambda i: time_it(...))
        return [compare("planning_time", "snakemake -n", "wall time", "s", variant, baseline,
                        baseline="...", higher_is_better=False, target=Target(">=", 0.9))]
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
"""The project root (config/, results/)."""

MODES: dict[str, dict[str, Any]] = {
    # repeats: every measurement runs variant and baseline this many times, interleaved.
    # offline_min_duration_ms: LoadGen Offline runs of a real model; server_*: the Server bisection.
    "quick": {"repeats": 3, "offline_min_duration_ms": 1000, "null_offline_min_duration_ms": 1000,
              "null_offline_expected_qps": 2_500_000, "server_min_duration_ms": 500, "server_tolerance": 0.10,
              "quiet_budget_s": 20},
    "full": {"repeats": 5, "offline_min_duration_ms": 2000, "null_offline_min_duration_ms": 2000,
             "null_offline_expected_qps": 2_500_000, "server_min_duration_ms": 2000, "server_tolerance": 0.05,
             "quiet_budget_s": 600},
}


# ---------------------------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class Measurement:
    name: str
    func: Callable[[Context], list[Row]]
    description: str
    order: int


REGISTRY: dict[str, Measurement] = {}


def register(name: str, *, description: str, order: int = 100) -> Callable:
    """Register ``func(ctx) -> list[Row]`` as measurement ``name`` (run in ``order``, then by name)."""

    def wrap(func: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise ValueError(f"measurement {name!r} is registered twice")
        REGISTRY[name] = Measurement(name, func, description, order)
        return func

    return wrap


def discover() -> dict[str, Measurement]:
    """Import every ``benchmarks/bench_*.py`` so that its measurements register themselves."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        importlib.import_module(path.stem)
    return dict(sorted(REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


# ---------------------------------------------------------------------------------------------------------------
# context


@dataclass
class Context:
    mode: str
    repeats: int
    out_dir: Path
    work_dir: Path
    """Scratch space for LoadGen logs (deleted after the run unless --keep-logs)."""
    settings: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict)
    """Shared between measurements of one invocation (e.g. model sizing), keyed by the measurement's choice."""
    runs: list[dict[str, Any]] = field(default_factory=list)
    """Every individual run or trial, written to runs.json."""
    header: list[str] = field(default_factory=list)
    """Lines for the top of results.md (e.g. which model files were measured)."""
    current: str = ""

    def emit(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {self.current}: {message}", file=sys.stderr, flush=True)

    def record(self, **facts: Any) -> None:
        self.runs.append({"measurement": self.current, **facts})

    def scratch(self, *parts: str) -> Path:
        path = self.work_dir.joinpath(self.current, *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


# ---------------------------------------------------------------------------------------------------------------
# statistics and rows


@dataclass(frozen=True)
class Target:
    """A target on the ratio column (ratio is always oriented so that > 1 is better)."""

    op: str  # ">=" or "<="
    value: float

    def met(self, ratio: float | None) -> str:
        if ratio is None or math.isnan(ratio):
            return "no"
        return "yes" if (ratio >= self.value if self.op == ">=" else ratio <= self.value) else "no"

    def __str__(self) -> str:
        return f"ratio {'≥' if self.op == '>=' else '≤'} {self.value:g}"


@dataclass
class Row:
    measurement: str
    variant: str
    metric: str
    unit: str
    values: list[float]
    baseline: str = ""
    baseline_values: list[float] = field(default_factory=list)
    ratio: float | None = None
    paired_ratios: list[float] = field(default_factory=list)
    target: Target | None = None
    valid: str = ""
    """e.g. "3/3": how many of the variant's runs LoadGen judged VALID (empty when LoadGen is not involved)."""
    notes: str = ""

    @property
    def met(self) -> str:
        return "n.a." if self.target is None else self.target.met(self.ratio)


def stats(values: Sequence[float]) -> tuple[float, float, float]:
    if not values:
        return (math.nan, math.nan, math.nan)
    return (min(values), statistics.median(values), max(values))


def compare(measurement: str, variant: str, metric: str, unit: str, values: Sequence[float],
            baseline_values: Sequence[float], *, baseline: str, higher_is_better: bool = True,
            target: Target | None = None, valid: str = "", notes: str = "") -> Row:
    """A row whose ratio is median(variant) / median(baseline), inverted for lower-is-better metrics so that a
    ratio > 1 always means the variant is better. The per-repeat (paired) ratios are kept to show the noise."""
    med, base = statistics.median(values), statistics.median(baseline_values)
    ratio = _ratio(med, base, higher_is_better)
    paired = [_ratio(v, b, higher_is_better) for v, b in zip(values, baseline_values)]
    return Row(measurement, variant, metric, unit, list(values), baseline, list(baseline_values), ratio,
               [p for p in paired if p is not None], target, valid, notes)


def _ratio(value: float, base: float, higher_is_better: bool) -> float | None:
    if not base or not value or math.isnan(value) or math.isnan(base):
        return None
    return value / base if higher_is_better else base / value


def interleaved(ctx: Context, variant: Callable[[int], Any], baseline: Callable[[int], Any]
                ) -> tuple[list[Any], list[Any]]:
    """Run variant and baseline ``ctx.repeats`` times each, alternating which goes first (ABBAAB...), so a slow
    drift of the machine (another tenant, thermal state) does not favour either side."""
    a, b = [], []
    for i in range(ctx.repeats):
        if i % 2 == 0:
            a.append(variant(i))
            b.append(baseline(i))
        else:
            b.append(baseline(i))
            a.append(variant(i))
    return a, b


# ---------------------------------------------------------------------------------------------------------------
# fresh processes


def _child(conn: Any, func: Callable, args: tuple, kwargs: dict) -> None:
    try:
        conn.send(("ok", func(*args, **kwargs)))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        conn.send(("error", f"{exc!r}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, or None where there is none."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle, sum(fields[:8])


def machine_busy(seconds: float = 0.1) -> float | None:
    """Fraction of the machine's CPU time (all cores) spent busy over the next ``seconds``; None if unknown."""
    a = _cpu_jiffies()
    time.sleep(seconds)
    b = _cpu_jiffies()
    if a is None or b is None or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


QUIET: dict[str, float] = {"max_wait_s": 15.0, "threshold": 0.25, "budget_s": 60.0}
"""Before each fresh-process run, wait up to max_wait_s (and at most budget_s over the whole invocation) for the
machine's CPU use by other processes to drop below threshold. run.py sets them from the mode and --max-wait."""


def wait_quiet() -> dict[str, Any]:
    waited, busy = 0.0, machine_busy()
    while (busy is not None and busy > QUIET["threshold"] and waited < QUIET["max_wait_s"]
           and QUIET["budget_s"] > 0):
        time.sleep(1.0)
        waited += 1.25
        QUIET["budget_s"] -= 1.25
        busy = machine_busy()
    return {"busy_before": None if busy is None else round(busy, 3), "waited_s": waited}


def in_fresh_process(func: Callable, *args: Any, timeout_s: float = 300.0, **kwargs: Any) -> Any:
    """Call ``func(*args, **kwargs)`` in a new process (multiprocessing spawn) and return its result.

    Every LoadGen run goes through here: LoadGen counts config loads per process (a second run in one process logs
    "Multiple conf files are used" and runs without mlperf.conf's values), and a fresh process also starts with no
    leftover threads or JIT state of an earlier run. ``func`` must be a top-level function of an importable module.

    When ``func`` returns a dict, the facts of the machine around the run are added: ``foreign_cpu`` = the
    fraction of the machine's CPU time that processes other than this run used while it ran (another tenant of a
    shared machine), ``busy_before`` and ``waited_s`` (see :func:`wait_quiet`).
    """
    import resource

    quiet = wait_quiet()
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args, kwargs), daemon=True)
    own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before, wall_before = _cpu_jiffies(), time.monotonic()
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            proc.kill()
            raise TimeoutError(f"{func.__name__} did not finish within {timeout_s:g} s")
        status, payload = parent.recv()
    except EOFError:
        status, payload = "error", "the process died"
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    cpu_after = _cpu_jiffies()
    own_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != "ok":
        raise RuntimeError(f"{func.__name__} failed in its process (exit code {proc.exitcode}): {payload}")
    if isinstance(payload, dict):
        payload = dict(payload)
        if cpu_before and cpu_after and cpu_after[1] > cpu_before[1]:
            hz = os.sysconf("SC_CLK_TCK")
            own = (own_after.ru_utime + own_after.ru_stime - own_before.ru_utime - own_before.ru_stime) * hz
            foreign = (cpu_after[0] - cpu_before[0] - own) / (cpu_after[1] - cpu_before[1])
            payload["foreign_cpu"] = round(max(0.0, foreign), 3)
        payload.update(quiet)
        payload["process_wall_s"] = round(time.monotonic() - wall_before, 3)
    return payload


def foreign_note(results: Iterable[dict[str, Any]]) -> str:
    """A note on other tenants' CPU use during the runs behind a row (the highest fraction seen)."""
    values = [r["foreign_cpu"] for r in results if r.get("foreign_cpu") is not None]
    if not values:
        return ""
    worst = max(values)
    busy = sum(v > QUIET["threshold"] for v in values)
    return (f"other load during runs: max {worst:.0%} of the machine"
            + (f", {busy} of {len(values)} runs above {QUIET['threshold']:.0%}" if busy else ""))


# ---------------------------------------------------------------------------------------------------------------
# LoadGen helpers (imported lazily: the parent process never loads LoadGen or torch)


def campaign_spec(scenario: str, precision: str = "fp32", *, benchmark: str = "digits-cnn", system: str = "cpu-host",
                  mode: str = "performance", **overrides: Any) -> dict[str, Any]:
    """The RunSpec the DAG would give this run (config/config.yaml, the benchmark file and the SKU's tuning), with
    ``overrides`` applied; returned as JSON-able data so it can cross a process boundary."""
    from benchwright.config import load_plan_file

    previous = Path.cwd()
    os.chdir(ROOT)  # the campaign's paths are relative to the project root, as for snakemake
    try:
        plan = load_plan_file(ROOT / "config" / "config.yaml", ROOT)
    finally:
        os.chdir(previous)
    spec = plan.run_spec(benchmark, system, scenario, precision, mode)
    return spec.model_copy(update=overrides).model_dump(mode="json")


def torch_threads_for(spec_threads: int) -> int:
    """What benchwright.harness.workload.load_workload gives torch: the process's cores divided among the SUT's workers."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // spec_threads)


def summarize_run(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The facts of one LoadGen run that the measurements use, from its detail log.

    A "Multiple conf files are used" error (a second LoadGen run in one process) is ignored for validity: it says
    nothing about the measurement. Every run here has a process of its own, so it should not appear at all.
    """
    from benchwright.harness.logs import read_run

    result = read_run(run_dir)
    errors = [e for e in result.errors if "Multiple conf files" not in e]
    return {
        "scenario": result.scenario.value,
        "metric": result.metric_value,
        "validity": result.result_validity,
        "valid": result.result_validity == "VALID",
        "invalid_reason": result.invalid_reason,
        "p99_ns": result.latency.p99_ns,
        "samples": result.sample_count,
        "target_qps": result.effective.get("target_qps"),
        "min_duration_ms": result.effective.get("min_duration_ms"),
        "duration_ns": result.duration_ns,
        "completed_samples_per_sec": result.completed_samples_per_sec,
        "errors": errors,
        "ignored_errors": len(result.errors) - len(errors),
    }


def max_valid_qps(trial: Callable[[float], bool], ceiling: float, *, tolerance: float,
                  guess: float | None = None) -> tuple[float | None, list[tuple[float, bool]]]:
    """The highest target QPS ``trial`` finds VALID, to within ``tolerance`` (relative), below ``ceiling``.

    Cold (no ``guess``): like benchwright's ranging, the first trial is at ``ceiling`` (the Offline throughput:
    Server can never sustain more), halving until a VALID one. Warm: the first trials bracket ``guess`` at ±10 %,
    widening geometrically when the bracket does not hold. Then geometric bisection until hi/lo <= 1 + tolerance.
    Returns (highest VALID QPS or None, every (qps, valid) trial in order).
    """
    trials: list[tuple[float, bool]] = []

    def run(q: float) -> bool:
        q = round(q, 1)
        ok = trial(q)
        trials.append((q, ok))
        return ok

    lo: float | None = None
    hi: float
    if guess:
        q = min(guess * 1.1, ceiling)
        if run(q):
            lo = q
            while lo < ceiling:  # the bracket's top held: widen upwards
                q = min(lo * 1.25, ceiling)
                if not run(q):
                    break
                lo = q
            else:
                return round(lo, 1), trials
            hi = q
        else:
            hi, shrink, q = q, 0.7, guess * 0.9
    else:
        if run(ceiling):
            return round(ceiling, 1), trials
        hi, shrink, q = ceiling, 0.5, ceiling * 0.5
    while lo is None:  # widen downwards until a VALID trial
        if q < 1.0:
            return None, trials
        if run(q):
            lo = q
        else:
            hi, q = q, q * shrink
    while hi / lo > 1.0 + tolerance:
        q = math.sqrt(lo * hi)
        if run(q):
            lo = q
        else:
            hi = q
    return round(lo, 1), trials


# ---------------------------------------------------------------------------------------------------------------
# machine facts and the results table


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": affinity,
        "machine": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "mlcommons-loadgen": _version("mlcommons-loadgen"),
        "numpy": _version("numpy"),
        "benchwright": _version("benchwright"),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def machine_line(facts: dict[str, Any]) -> str:
    return (f"Machine: {facts['cpu']}, {facts['usable_cores']} usable of {facts['logical_cores']} logical cores, "
            f"{facts['machine']}, {facts['os']}; Python {facts['python']}, torch {facts['torch']}, "
            f"mlcommons-loadgen {facts['mlcommons-loadgen']}, numpy {facts['numpy']}")


COLUMNS = ["measurement", "variant", "metric", "unit", "n", "valid", "min", "median", "max", "baseline",
           "baseline median", "ratio", "ratio range (paired)", "target", "met", "notes"]


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n.a."
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.1f}"
    return f"{x:.3f}" if unit in ("ratio", "") else f"{x:.2f}"


def row_cells(row: Row) -> list[str]:
    lo, med, hi = stats(row.values)
    base = statistics.median(row.baseline_values) if row.baseline_values else None
    paired = (f"{min(row.paired_ratios):.3f}–{max(row.paired_ratios):.3f}" if row.paired_ratios else "n.a.")
    return [row.measurement, row.variant, row.metric, row.unit, str(len(row.values)), row.valid or "n.a.",
            _fmt(lo, row.unit), _fmt(med, row.unit), _fmt(hi, row.unit), row.baseline or "n.a.",
            _fmt(base, row.unit), "n.a." if row.ratio is None else f"{row.ratio:.3f}", paired,
            str(row.target) if row.target else "n.a.", row.met, row.notes]


def write_results(rows: Iterable[Row], out_dir: Path, facts: dict[str, Any], ctx: Context,
                  failures: dict[str, str], elapsed_s: float) -> tuple[Path, Path]:
    import csv

    rows = list(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "results.csv", out_dir / "results.md"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["# " + machine_line(facts)])
        writer.writerow(COLUMNS + ["values", "baseline values"])
        for row in rows:
            writer.writerow(row_cells(row) + [" ".join(f"{v:.6g}" for v in row.values),
                                              " ".join(f"{v:.6g}" for v in row.baseline_values)])
    lines = [
        f"{machine_line(facts)}.",
        "",
        *[f"{line}  " for line in ctx.header],
        *([""] if ctx.header else []),
        f"Mode `{ctx.mode}`: {ctx.repeats} repeats per measurement, variant and baseline interleaved in the same "
        f"invocation ({facts['date']}, {elapsed_s:.0f} s in all). min / median / max are over the repeats of the "
        "variant; ratio = median(variant) / median(baseline), oriented so that **> 1 means the variant is better**; "
        "ratio range = smallest and largest per-repeat ratio (variant and baseline of the same repeat); valid = "
        "LoadGen runs judged VALID.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row_cells(row)) + " |")
    if failures:
        lines += ["", "Measurements that failed:"] + [f"- `{k}`: {v}" for k, v in failures.items()]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "runs.json").write_text(json.dumps({"machine": facts, "mode": ctx.mode, "repeats": ctx.repeats,
                                                   "settings": ctx.settings, "header": ctx.header,
                                                   "runs": ctx.runs,
                                                   "rows": [dataclasses.asdict(r) | {"met": r.met,
                                                                                    "target": str(r.target or "")}
                                                            for r in rows], "failures": failures},
                                                  indent=1, default=str), encoding="utf-8")
    return csv_path, md_path
