"""Fault injection (issue #10): the default campaign SIGKILLed 10 times at random points recovers with
`snakemake --unlock` + `--rerun-incomplete`, uses no corrupt file, and ends with the uninterrupted run's bundle.

The uninterrupted baseline is the session's default campaign (shared with test_workflow.py), so this test adds
one interrupted campaign: about 8 minutes on 2 cores. Run it alone with `pytest -m faults`; the script itself is
tests/faults/inject.py (docs/reliability.md). BENCHWRIGHT_FAULT_SEED=<n> replays the kill points of a failure.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from .conftest import BIN, REPO

pytestmark = [pytest.mark.workflow, pytest.mark.faults]

KILLS = 10


def test_ten_sigkills_resume_to_the_baseline_bundle(default_campaign, tmp_path):
    seed = int(os.environ.get("BENCHWRIGHT_FAULT_SEED") or random.SystemRandom().randrange(1 << 31))
    out = tmp_path / "faults"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, str(REPO / "tests/faults/inject.py"), "--kills", str(KILLS),
                           "--seed", str(seed), "--workdir", str(out), "--baseline", str(default_campaign)],
                          capture_output=True, text=True, env=env, timeout=30 * 60)
    print(proc.stdout)  # the kill log, shown by pytest on failure (or with -s)
    assert proc.returncode == 0, (f"fault injection failed (seed {seed}, BENCHWRIGHT_FAULT_SEED={seed} replays "
                                  f"it):\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}")
    result = json.loads((out / "kills.json").read_text())
    kills = [r for r in result["records"] if r["killed"]]
    assert len(kills) == KILLS and result["problems"] == []
    assert not result["records"][-1]["killed"] and result["records"][-1]["returncode"] == 0
    stages = {j["stage"] for r in kills for j in r["running"]}
    assert {"data", "training", "quantization", "loadgen", "bundle/report"} <= stages, stages
