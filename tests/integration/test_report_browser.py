"""The SKU report opened in headless Chromium: its key numbers are on the rendered page and equal the CSV."""

from __future__ import annotations

import math
import subprocess
from html.parser import HTMLParser

import pandas as pd
import pytest

from benchwright.report.stats import olympic_mean
from tests.unit.test_report import build_report

pytestmark = pytest.mark.service


class Keyed(HTMLParser):
    """Every element with a data-key: its data-value and its rendered text."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-key" in attrs:
            self._open.append((attrs["data-key"], attrs.get("data-value", "")))
            self._text = ""

    def handle_data(self, data):
        if self._open:
            self._text += data

    def handle_endtag(self, tag):
        if self._open and tag in ("td", "span"):
            key, value = self._open.pop()
            self.found[key] = (value, self._text.strip())


def rendered(chromium: str, page) -> dict[str, tuple[str, str]]:
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                           page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "<table" in proc.stdout, proc.stderr[-2000:]
    parser = Keyed()
    parser.feed(proc.stdout)
    return parser.found


def test_the_report_in_a_browser_shows_the_numbers_of_the_csv(chromium, tmp_path):
    files = build_report(tmp_path)
    found = rendered(chromium, files["page"])
    table = pd.read_csv(files["csv"])
    row = table[table.kind == "inference"].iloc[0]
    key = f"cpu-host/{row.benchmark}/{row.scenario}/{row.precision}"
    for column in ("value", "p99_ms", "samples_per_s", "cost_per_1k_queries_usd", "accuracy", "accuracy_target"):
        value, text = found[f"{key}/{column}"]
        assert float(value) == pytest.approx(float(row[column]), rel=1e-9), column
        shown = float(text.split()[0].replace(",", ""))
        assert shown == pytest.approx(float(row[column]), rel=0.01), (column, text)  # what a reader sees
    assert found[f"{key}/validity"] == ("VALID", "VALID")
    assert found[f"{key}/energy_per_sample_j"] == ("", "not measured")
    training = table[table.kind == "training"]
    value, text = found["cpu-host/digits-cnn/training/olympic_mean"]
    assert float(value) == pytest.approx(olympic_mean(training.value.tolist()), rel=1e-9)
    assert text.endswith("min")
    assert found["cpu-host/digits-cnn/training/n"][0] == str(len(training))
    assert not math.isnan(float(found["cpu-host/summary_score"][0]))


def test_the_comparison_page_in_a_browser(chromium, tmp_path):
    files = build_report(tmp_path)
    found = rendered(chromium, files["index"])
    row = pd.read_csv(files["csv"]).query("kind == 'inference'").iloc[0]
    value, _ = found[f"cpu-host/{row.benchmark}/{row.scenario}/{row.precision}/value"]
    assert float(value) == pytest.approx(float(row.value), rel=1e-9)


def test_repeated_runs_in_a_browser(chromium, tmp_path):
    """Three runs of one result (the recorded one, x0.9, x1.1): the rendered repeated-runs table carries the
    summary's median and CV, the run count, and the noisy flag (CV 10 %)."""
    import json

    files = build_report(tmp_path, repeats=(0.9, 1.1))
    found = rendered(chromium, files["page"])
    stats = json.loads(files["summary"].read_text())["systems"]["cpu-host"]["inference"]["digits-cnn/Offline/int8"]
    key = "cpu-host/digits-cnn/Offline/int8"
    assert float(found[f"{key}/median"][0]) == pytest.approx(stats["metrics"]["value"]["median"])
    value, text = found[f"{key}/cv"]
    assert float(value) == pytest.approx(0.1) and text == "10.0% noisy"
    assert found[f"{key}/runs"] == ("3", "3") and found[f"{key}/valid_rate"][1] == "100%"
