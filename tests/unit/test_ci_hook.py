"""A service test may skip on a developer's machine, never in CI."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").read_text()
TEST = """
import pytest

@pytest.mark.service
def test_needs_docker():
    pytest.skip("no Docker engine")

def test_plain_skip():
    pytest.skip("not a service test")
"""


def test_service_skip_is_a_failure_in_ci(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    service: needs a service\n")
    pytester.makepyfile(TEST)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*service test skipped in CI*no Docker engine*"])


def test_service_skip_is_a_skip_elsewhere(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    service: needs a service\n")
    pytester.makepyfile(TEST)
    pytester.runpytest().assert_outcomes(skipped=2)
