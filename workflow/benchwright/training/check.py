"""mlperf-logging's compliance checker on a training log, with success read from its output (it exits 0
even when a log fails)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BenchwrightError


class ComplianceCheckFailed(BenchwrightError):
    pass


def check_training_log(log: str | os.PathLike[str], *, ruleset: str, rules: str | os.PathLike[str] | None = None
                       ) -> str:
    """Run ``python -m mlperf_logging.compliance_checker --usage training`` on ``log``; return its report.

    ``rules``: our own rules file (a benchmark outside the ruleset); None checks against the ruleset's own.
    Raises ComplianceCheckFailed with the checker's report when the log does not pass.
    """
    with tempfile.TemporaryDirectory() as tmp:
        report_file = Path(tmp) / "compliance.log"
        cmd = [sys.executable, "-m", "mlperf_logging.compliance_checker", "--usage", "training", "--ruleset", ruleset,
               "--log_output", str(report_file)]
        if rules is not None:
            cmd += ["--config", str(Path(rules).resolve())]  # a relative path is read from the package's folder
        proc = subprocess.run([*cmd, str(log)], capture_output=True, text=True)
        report = report_file.read_text() if report_file.exists() else ""
    report = report or proc.stdout + proc.stderr
    lines = report.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].rstrip().endswith("SUCCESS"):
        raise ComplianceCheckFailed(
            f"benchwright: {log} fails the MLPerf training compliance check (ruleset {ruleset}"
            f"{', rules ' + str(rules) if rules else ''}):\n{report[-3000:] or proc.stderr[-3000:]}\n"
            "fix: the log lacks or misplaces a required key; see the checker's lines above")
    return report
