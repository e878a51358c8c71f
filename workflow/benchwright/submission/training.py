"""The training part of an MLPerf submission tree, as mlperf-logging's package checker reads it:

    <submitter>/systems/<system>.json
    <submitter>/benchmarks/<benchmark>/implementations/<implementation>/   the code and how to run it
    <submitter>/results/<system>/<benchmark>/result_0.txt ... result_{N-1}.txt
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import BenchwrightError
from ..fsutil import atomic_write_json, atomic_write_text

SUCCESS_LINE = "PACKAGE CHECKER FOUND NO ERRORS, SUCCESS !"


class PackageCheckFailed(BenchwrightError):
    def __init__(self, message: str, report: str = ""):
        super().__init__(message)
        self.report = report
        """The checker's whole output (its skipped benchmarks, its errors)."""


def assemble_training(root: str | os.PathLike[str], *, submitter: str, system: str, system_description: Mapping[str, str],
                      benchmark: str, result_logs: Sequence[str | os.PathLike[str]], implementation: str,
                      source: str | os.PathLike[str] | None = None, readme: str = "",
                      rules: str | os.PathLike[str] | None = None) -> Path:
    """Add one training result (a system x benchmark) to the tree under ``root``; return ``root/<submitter>``.

    Result files are numbered in the order given. An existing result folder is never overwritten. ``rules``: our
    own compliance rules of a benchmark outside the ruleset, kept beside the implementation as compliance.yaml.
    """
    org = Path(root) / submitter
    results = org / "results" / system / benchmark
    if results.exists():
        raise FileExistsError(f"{results} already exists; a finished result is never overwritten")
    system_file = org / "systems" / f"{system}.json"
    if not system_file.exists():
        atomic_write_json(system_file, dict(system_description))
    impl = org / "benchmarks" / benchmark / "implementations" / implementation
    if not impl.exists():
        impl.mkdir(parents=True)
        if source is not None:
            shutil.copytree(source, impl / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if rules is not None:
            shutil.copyfile(rules, impl / "compliance.yaml")
        atomic_write_text(impl / "README.md", readme or f"# {benchmark}: {implementation}\n")
    staging = results.with_name(f".{results.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for i, log in enumerate(result_logs):
        shutil.copyfile(log, staging / f"result_{i}.txt")
    os.replace(staging, results)
    return org


def check_training_package(org_dir: str | os.PathLike[str], ruleset: str) -> str:
    """mlperf-logging's package checker on a submitter folder; success is read from its output (it exits 0 even
    when it fails). Returns the report; raises PackageCheckFailed."""
    cmd = [sys.executable, "-m", "mlperf_logging.package_checker", str(org_dir), "training", ruleset,
           "--log_output", os.devnull]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    report = proc.stdout + proc.stderr
    if SUCCESS_LINE not in report:
        errors = [line for line in report.splitlines() if re.search(r"ERROR|error", line)]
        raise PackageCheckFailed(f"benchwright: mlperf-logging's package checker rejects {org_dir} (training "
                                 f"{ruleset}):\n" + "\n".join(errors[-20:] or report.splitlines()[-20:]), report)
    return report


def result_summary(org_dir: str | os.PathLike[str], ruleset: str, csv_out: str | os.PathLike[str]) -> dict[str, Any]:
    """mlperf-logging's result summarizer on a submitter folder, written as CSV."""
    cmd = [sys.executable, "-m", "mlperf_logging.result_summarizer", str(org_dir), "training", ruleset,
           "--csv", str(csv_out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return {"returncode": proc.returncode, "output": proc.stdout[-4000:] + proc.stderr[-4000:]}
