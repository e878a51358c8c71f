"""The default campaign's pages in headless Chromium: screenshots that are neither blank nor cut, and the rendered
DOM carrying the status table, the SLO tiers and the capacity section with the numbers of the CSV files they come
from (the repeated-runs table in a browser: tests/integration/test_report_browser.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.service

WIDTH, HEIGHT = 1280, 6000


class Keyed(HTMLParser):
    """Every table cell with a data-key: its data-value."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, str] = {}
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-key" in attrs:
            self.found[attrs["data-key"]] = attrs.get("data-value", "")
        if "id" in attrs:
            self.ids.add(attrs["id"])


def _chromium(chromium: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=180)


def _dom(chromium: str, page: Path) -> Keyed:
    proc = _chromium(chromium, "--dump-dom", page.resolve().as_uri())
    assert proc.returncode == 0 and "<table" in proc.stdout, proc.stderr[-2000:]
    parser = Keyed()
    parser.feed(proc.stdout)
    return parser


def test_the_pages_render_with_status_tiers_and_capacity(chromium, default_campaign, tmp_path):
    from PIL import Image

    report = default_campaign / "results/report"
    for page in ("cpu-host.html", "index.html"):
        shot = tmp_path / f"{page}.png"
        proc = _chromium(chromium, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}",
                         (report / page).resolve().as_uri())
        assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
        with Image.open(shot) as image:
            assert image.size == (WIDTH, HEIGHT)
            gray = image.convert("L")
            dark = sum(gray.histogram()[:128])  # pixels of text, rules and plot lines
            assert dark > 0.002 * WIDTH * HEIGHT, f"{page} renders (almost) blank"
            # the page's content ends before the bottom of the window: nothing is cut off
            assert gray.crop((0, HEIGHT - 200, WIDTH, HEIGHT)).getextrema() == (255, 255), f"{page} is cut off"
        shutil.copyfile(shot, default_campaign / f"{page}.png")  # kept beside the campaign for a look by hand

    sku = _dom(chromium, report / "cpu-host.html")
    summary = json.loads((report / "summary.json").read_text())
    table = pd.read_csv(report / "results.csv")
    offline = table[(table.kind == "inference") & (table.scenario == "Offline") & (table.precision == "int8")
                    & (table.benchmark == "digits-cnn")].iloc[0]
    assert float(sku.found["cpu-host/digits-cnn/Offline/int8/accuracy"]) == pytest.approx(offline.accuracy)
    tiers = pd.read_csv(report / "tiers.csv")
    for row in tiers.itertuples():
        key = f"cpu-host/{row.benchmark}/{row.scenario}/{row.precision}/tier/{row.tier}/qps"
        shown = sku.found[key]
        assert (shown == "" and pd.isna(row.qps)) or float(shown) == pytest.approx(row.qps), key
    assert "tiers" in sku.ids

    index = _dom(chromium, report / "index.html")
    assert {"status", "capacity"} <= index.ids
    status = pd.read_csv(report / "status.csv")
    for row in status.itertuples():
        assert index.found[f"{row.result}/PerformanceMode"] == str(row.PerformanceMode)
        assert index.found[f"{row.result}/status"] == row.status
    for i, demand in enumerate(summary["capacity"]):
        for r in demand["rows"]:
            key = f"capacity/{i}/{r['system']}/{r['benchmark']}/{r['scenario']}/{r['precision']}/systems"
            assert index.found[key] == ("" if r["systems"] is None else str(r["systems"])), key
