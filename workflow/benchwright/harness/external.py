"""External inference harnesses: a benchmark's ``model.harness`` command runs LoadGen itself, once per test.

benchwright writes the run's user.conf (and, for a compliance test, audit.config) into the run folder, runs the
command there (LoadGen reads audit.config from its working directory) with the placeholders below filled in, and
then holds the folder to what a built-in run leaves: LoadGen's summary and detail logs of the scenario and mode
it asked for, with the performance sample count of its user.conf. From there the run is parsed, checked,
recorded and bundled exactly as a built-in one.
"""

from __future__ import annotations

import os
import shlex
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from ..fsutil import atomic_write_text

PLACEHOLDERS: dict[str, str] = {
    "scenario": "the LoadGen scenario: SingleStream, MultiStream, Server or Offline",
    "mode": "LoadGen's test mode: PerformanceOnly or AccuracyOnly",
    "user_conf": "the user.conf to load on top of LoadGen's mlperf.conf (TestSettings.FromConfig)",
    "audit_config": "the compliance test's audit.config, in the working directory, or empty outside compliance runs",
    "output": "the folder for LoadGen's logs (LogSettings.log_output.outdir); also the working directory",
    "model": "the model file, copied and checked by its sha256",
    "data": "the preprocessed data folder (the task's val_*.npy arrays)",
    "loadgen_model": "the model name in mlperf.conf and user.conf (resnet50, bert, ...)",
    "performance_sample_count": "the performance sample count of user.conf",
}
"""Every placeholder of a harness command, with what it becomes (paths are absolute)."""

MODES = {"performance": "PerformanceOnly", "accuracy": "AccuracyOnly"}
RUN_LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")


class ExternalHarnessError(BenchwrightError):
    """The external harness failed, or left no run benchwright can use."""


def harness_command(template: tuple[str, ...] | list[str], values: dict[str, str], *,
                    known: dict[str, str] = PLACEHOLDERS, field: str = "model.harness.command") -> list[str]:
    """The command with its placeholders and environment variables filled in; an unknown placeholder is an error
    naming it, the known ones and the benchmark file's ``field``."""
    out = []
    for arg in template:
        fields = {name for _, name, _, _ in string.Formatter().parse(arg) if name is not None}
        unknown = sorted(fields - set(known))
        if unknown:
            raise ExternalHarnessError(
                f"benchwright: the harness command's argument {arg!r} uses the unknown placeholder(s) "
                f"{', '.join('{' + u + '}' for u in unknown)}.\n  fix: use only "
                f"{', '.join('{' + k + '}' for k in known)} in `{field}` (write {{{{ }}}} for a literal brace)")
        out.append(os.path.expandvars(arg.format_map(values)))
    return out


def run_external(spec: Any, model_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str],
                 run_dir: str | os.PathLike[str], audit: str | None = None) -> Any:
    """Run the benchmark's external harness for one LoadGen test of ``spec`` into ``run_dir``; returns
    run.RunOutcome. Raises ExternalHarnessError when it fails or leaves no usable LoadGen log."""
    from ..power import EnergyMeter
    from .logs import read_run
    from .run import RunOutcome
    from .settings import user_conf
    from .workload import model_path

    out = Path(run_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    conf = out / "user.conf"
    atomic_write_text(conf, user_conf(spec))
    if audit is not None:
        atomic_write_text(out / "audit.config", audit)
    values = {"scenario": spec.scenario.value, "mode": MODES[spec.mode], "user_conf": str(conf),
              "audit_config": str(out / "audit.config") if audit is not None else "", "output": str(out),
              "model": str(model_path(spec, model_dir).resolve()), "data": str(Path(data_dir).resolve()),
              "loadgen_model": spec.loadgen_model, "performance_sample_count": str(spec.performance_sample_count)}
    cmd = harness_command(spec.model.harness, values)
    shown = shlex.join(cmd)
    print(f"benchwright: external harness: {shown}", file=sys.stderr, flush=True)
    start = time.monotonic()
    meter = EnergyMeter()
    try:
        with meter:
            proc = subprocess.run(cmd, cwd=out, stdout=sys.stderr, stderr=sys.stderr)
    except FileNotFoundError:
        raise ExternalHarnessError(f"benchwright: the harness command {cmd[0]!r} was not found.\n  fix: check "
                                   "`model.harness.command` in the benchmark file (an absolute path, or a program "
                                   "on the SKU container's PATH)") from None
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise ExternalHarnessError(f"benchwright: the external harness exited {proc.returncode}: {shown}\n  fix: "
                                   "its output above says why; run the command by hand in a copy of the run folder")
    missing = [name for name in RUN_LOGS if not (out / name).is_file() or not (out / name).stat().st_size]
    if missing:
        raise ExternalHarnessError(
            f"benchwright: the external harness exited 0 but wrote no LoadGen log in {out} (missing: "
            f"{', '.join(missing)}): {shown}\n  fix: pass {{output}} to LoadGen as its log folder "
            "(LogSettings.log_output.outdir), and run StartTestWithLogSettings to its end")
    run = read_run(out)
    wrong = []
    if run.scenario.value != spec.scenario.value or run.mode != MODES[spec.mode]:
        wrong.append(f"ran {run.scenario.value} {run.mode}, not {spec.scenario.value} {MODES[spec.mode]}")
    count = run.effective.get("performance_sample_count")
    if count != spec.performance_sample_count:
        wrong.append(f"performance_sample_count {count}, not user.conf's {spec.performance_sample_count}")
    if wrong:
        raise ExternalHarnessError(f"benchwright: the external harness's LoadGen log in {out} is not of the run "
                                   f"benchwright asked for: {'; '.join(wrong)}.\n  fix: pass {{scenario}} and "
                                   "{mode} to LoadGen and load {user_conf} (TestSettings.FromConfig)")
    samples = run.sample_count or 0
    return RunOutcome(out, wall, samples, samples, 0, meter.result(samples or None),
                      backend={"backend": "external", "command": cmd, "exit_code": proc.returncode})
