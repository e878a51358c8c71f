"""Running a raw LoadGen test from the tests, without benchwright's harness (to check the parsers on their own)."""

from __future__ import annotations

from pathlib import Path

import mlperf_loadgen as lg


def start_test(sut, qsl, settings: lg.TestSettings, outdir: Path) -> Path:
    """Run one LoadGen test whose logs land in ``outdir`` (created); no trace, no summary on stdout."""
    outdir.mkdir(parents=True)
    out = lg.LogOutputSettings()
    out.outdir = str(outdir)
    out.copy_summary_to_stdout = False
    log = lg.LogSettings()
    log.log_output = out
    log.enable_trace = False
    lg.StartTestWithLogSettings(sut, qsl, settings, log)
    return outdir
