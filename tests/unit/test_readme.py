"""The README's commands are the ones CI runs and users type; keep them true."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_readme_has_the_two_commands():
    blocks = [b.strip() for b in _bash_blocks()]
    assert blocks[0].endswith("snakemake --cores 2")
    assert blocks[1].endswith("pytest")


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _bash_blocks()[1].strip().split(" && ", 2)[2]  # after creating and activating the venv
    ci = (REPO / ".ci/run").read_text()
    assert test_command in ci, f"`{test_command}` is not in .ci/run"


def test_rule_graph_picture_names_every_rule():
    rules = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        rules |= set(re.findall(r"^rule (\w+):", smk.read_text(), flags=re.M))
    svg = (REPO / "docs/rulegraph.svg").read_text()
    # Rules the default campaign does not use: unpack (archive datasets), build_image (docker SKUs),
    # compliance_test (closed division), fetch_weights (published weights), fixture_* (fixture campaigns),
    # loadgen_repeat (repeats: N > 1).
    conditional = {"unpack", "build_image", "compliance_test", "fetch_weights", "fixture_dataset", "fixture_model",
                   "loadgen_repeat"}
    missing = {r for r in rules - conditional if f">{r}<" not in svg}
    assert not missing, f"docs/rulegraph.svg lacks {missing}: regenerate it (README, 'What runs')"
