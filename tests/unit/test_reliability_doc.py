"""docs/reliability.md: every case of the hardening catalog has a row, and every test it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs/reliability.md"
CASES = 15


def _rows() -> dict[int, str]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\| (\d+) \|", line)
        if match:
            rows[int(match.group(1))] = line
    return rows


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")}


def test_every_catalog_case_has_a_row_with_tests():
    rows = _rows()
    assert sorted(rows) == list(range(1, CASES + 1))
    for number, line in rows.items():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert len(cells) == 5, f"row {number} needs: # | case | what the user sees | kept/redone | tests"
        assert all(cells), f"row {number} has an empty cell"
        assert re.search(r"tests/\S+\.py::test_\w+", cells[4]), f"row {number} names no test"


def test_every_named_test_exists():
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)(\[[^\]]*\])?`", DOC.read_text())
    assert named
    missing = []
    for file, function, _ in named:
        path = REPO / file
        if not path.is_file() or function not in _test_functions(path):
            missing.append(f"{file}::{function}")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_the_sections_after_the_table_are_there():
    text = DOC.read_text()
    for heading in ("## After a crash or kill -9", "## Fault injection", "## Provenance and `benchwright verify`"):
        assert heading in text
    assert "snakemake --unlock" in text and "--rerun-incomplete" in text
