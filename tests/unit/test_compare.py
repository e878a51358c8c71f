"""benchwright compare: ratios with bootstrap intervals, verdicts, provenance differences, and its errors, on a
recorded campaign's results table (tests/data/recorded/campaign/results.csv, the default campaign's) and on
copies of it with planted changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchwright.cli import main
from benchwright.report.compare import (IMPROVEMENT, NO_CHANGE, REGRESSION, CompareError, compare, load_side,
                                        parse_thresholds, ratio_ci, verdict)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "campaign" / "results.csv"


def _planted(tmp_path: Path, name: str, change) -> Path:
    """A campaign folder whose results table is the recorded one after ``change(table)``."""
    folder = tmp_path / name / "results" / "report"
    folder.mkdir(parents=True)
    table = pd.read_csv(RECORDED)
    changed = change(table)
    table = table if changed is None else changed
    table.to_csv(folder / "results.csv", index=False)
    return tmp_path / name


def _row(table: pd.DataFrame, scenario: str, precision: str = "fp32", benchmark: str = "digits-cnn") -> pd.Series:
    mask = (table.kind == "inference") & (table.benchmark == benchmark) & (table.scenario == scenario) & (
        table.precision == precision)
    assert mask.sum() == 1, f"the recorded campaign has no single {benchmark} {scenario} {precision} row"
    return mask


# --- arithmetic ------------------------------------------------------------------------------------------------------

def test_ratio_of_single_runs_is_exact_and_oriented():
    assert ratio_ci([100.0], [90.0], True) == pytest.approx((0.9, 0.9, 0.9))
    # lower is better: a latency going from 10 ms to 11 ms is a ratio of 10/11, under 1 (worse)
    assert ratio_ci([10.0], [11.0], False) == pytest.approx((10 / 11, 10 / 11, 10 / 11))


def test_bootstrap_interval_of_the_ratio_on_known_samples():
    base, cand = [100.0, 102.0, 98.0, 101.0, 99.0], [90.0, 91.0, 89.0, 92.0, 88.0]
    ratio, low, high = ratio_ci(base, cand, True, resamples=4000, seed=1)
    assert ratio == pytest.approx(90 / 100)
    # every resampled median lies between the samples' extremes, so the interval does too
    assert 88 / 102 <= low <= ratio <= high <= 92 / 98
    assert high < 1  # the two sets do not overlap: the interval excludes "no change"
    assert ratio_ci(base, cand, True, resamples=4000, seed=1) == (ratio, low, high)  # seeded


def test_verdicts_need_the_threshold_and_an_interval_that_excludes_one():
    assert verdict(0.90, 0.90, 0.90, 0.05) == REGRESSION
    assert verdict(0.96, 0.96, 0.96, 0.05) == NO_CHANGE
    assert verdict(0.90, 0.80, 1.02, 0.05) == NO_CHANGE  # past the threshold, but within the noise
    assert verdict(1.10, 1.08, 1.12, 0.05) == IMPROVEMENT


def test_thresholds_default_and_per_metric():
    assert parse_thresholds([]) == (0.05, {})
    assert parse_thresholds(["3", "p99_ms=10"]) == (pytest.approx(0.03), {"p99_ms": pytest.approx(0.10)})
    with pytest.raises(CompareError, match="no metric named 'qps'"):
        parse_thresholds(["qps=5"])
    with pytest.raises(CompareError, match="not a positive percentage"):
        parse_thresholds(["-5"])


# --- on the recorded campaign ------------------------------------------------------------------------------------------

def test_a_campaign_against_itself_is_no_change(tmp_path, capsys):
    copy = _planted(tmp_path, "same", lambda t: None)
    assert main(["compare", str(RECORDED), str(copy), "--json", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["regressions"] == 0 and data["improvements"] == 0
    assert {r["verdict"] for r in data["results"]} == {NO_CHANGE}
    table = pd.read_csv(RECORDED)
    inference = table[table.kind == "inference"]
    assert len({r["result"] for r in data["results"]}) == len(inference) + table[table.kind == "training"].benchmark.nunique()
    assert all(r["ratio"] == pytest.approx(1.0) for r in data["results"] if r["ratio"] is not None)
    assert "0 regression(s)" in out and "provenance: the same" in out


def test_a_planted_ten_percent_slowdown_is_a_regression_named_with_exit_1(tmp_path, capsys):
    def slower(t):
        t.loc[_row(t, "Offline"), "value"] *= 0.9

    candidate = _planted(tmp_path, "slower", slower)
    assert main(["compare", str(RECORDED), str(candidate), "--markdown", str(tmp_path / "c.md"),
                 "--html", str(tmp_path / "c.html")]) == 1
    captured = capsys.readouterr()
    assert "cpu-host/digits-cnn/Offline/fp32 throughput" in captured.err
    line = next(li for li in captured.out.splitlines() if li.split()[:2] == ["cpu-host/digits-cnn/Offline/fp32",
                                                                               "throughput"])
    assert "0.900" in line and REGRESSION in line
    assert "| cpu-host/digits-cnn/Offline/fp32 | throughput |" in (tmp_path / "c.md").read_text()
    page = (tmp_path / "c.html").read_text()
    assert 'data-result="cpu-host/digits-cnn/Offline/fp32" data-metric="throughput" data-verdict="regression"' in page
    # a looser threshold for throughput lets the same slowdown pass
    assert main(["compare", str(RECORDED), str(candidate), "--threshold", "throughput=15"]) == 0


def test_a_slower_latency_scenario_and_an_improvement(tmp_path):
    def change(t):
        t.loc[_row(t, "SingleStream"), "value"] *= 1.2  # 20 % more latency: worse
        t.loc[_row(t, "Server"), "value"] *= 1.2  # 20 % more QPS: better

    cmp = compare(load_side(RECORDED, "BASELINE"), load_side(_planted(tmp_path, "c", change), "CANDIDATE"))
    by = {(li.result, li.metric): li for li in cmp.lines}
    assert by[("cpu-host/digits-cnn/SingleStream/fp32", "latency")].verdict == REGRESSION
    assert by[("cpu-host/digits-cnn/SingleStream/fp32", "latency")].ratio == pytest.approx(1 / 1.2)
    assert by[("cpu-host/digits-cnn/Server/fp32", "throughput")].verdict == IMPROVEMENT
    assert len(cmp.regressions) == 1


def test_an_invalid_run_and_an_accuracy_under_target_are_regressions_at_any_ratio(tmp_path):
    def change(t):
        t.loc[_row(t, "Offline", "int8"), "validity"] = "INVALID"
        t.loc[_row(t, "Server", "int8"), "accuracy_ok"] = False

    cmp = compare(load_side(RECORDED, "BASELINE"), load_side(_planted(tmp_path, "c", change), "CANDIDATE"))
    found = {(li.result, li.metric) for li in cmp.regressions}
    assert found == {("cpu-host/digits-cnn/Offline/int8", "validity"),
                     ("cpu-host/digits-cnn/Server/int8", "accuracy target")}


def test_provenance_differences_are_reported(tmp_path, capsys):
    def change(t):
        t["torch"] = "9.9.9"
        t["code_commit"] = "0123456789ab"

    assert main(["compare", str(RECORDED), str(_planted(tmp_path, "c", change))]) == 0
    out = capsys.readouterr().out
    assert "provenance that differs:" in out
    assert "torch: baseline" in out and "candidate 9.9.9" in out and "code: baseline" in out


def _drop_offline(t):
    return t[~_row(t, "Offline")]


def test_results_only_on_one_side_are_listed(tmp_path, capsys):
    candidate = _planted(tmp_path, "c", _drop_offline)
    assert main(["compare", str(RECORDED), str(candidate)]) == 0
    assert "only in the baseline: cpu-host/digits-cnn/Offline/fp32" in capsys.readouterr().out


# --- bad input --------------------------------------------------------------------------------------------------------

def test_two_campaigns_with_nothing_in_common_is_a_clear_error(tmp_path, capsys):
    def other(t):
        t["system"] = "other-sku"

    assert main(["compare", str(RECORDED), str(_planted(tmp_path, "c", other))]) == 2
    err = capsys.readouterr().err
    assert "the two share no result" in err and "cpu-host/" in err and "other-sku/" in err and "fix:" in err


def test_a_folder_without_results_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(RECORDED), str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "empty") in err and "CANDIDATE" in err and "results/report/results.csv" in err
    assert main(["compare", str(tmp_path / "missing"), str(RECORDED)]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_a_recorded_bundle_folder_and_its_tarball_compare_equal(tmp_path, capsys):
    """A bundle's results come from its LoadGen logs: the recorded closed INT8 Offline run, laid out as a bundle."""
    run = Path(__file__).resolve().parents[1] / "data" / "recorded" / "closed-smoke-int8-offline"
    bundle = tmp_path / "bundle"
    result = bundle / "inference/closed/benchwright/results/cpu-host/resnet50/Offline"
    (result / "performance" / "run_1").mkdir(parents=True)
    for name in ("mlperf_log_detail.txt", "mlperf_log_summary.txt"):
        shutil.copyfile(run / "performance" / name, result / "performance" / "run_1" / name)
    (result / "accuracy").mkdir(parents=True)
    shutil.copyfile(run / "accuracy.txt", result / "accuracy" / "accuracy.txt")
    (bundle / "benchwright.json").write_text("{}")
    import tarfile

    with tarfile.open(tmp_path / "bundle.tar.gz", "w:gz") as tar:
        tar.add(bundle, arcname="bundle")
    assert main(["compare", str(bundle), str(tmp_path / "bundle.tar.gz"), "--json", str(tmp_path / "c.json")]) == 0
    data = json.loads((tmp_path / "c.json").read_text())
    metrics = {r["metric"] for r in data["results"] if r["result"] == "cpu-host/resnet50/Offline"}
    assert {"throughput", "accuracy"} <= metrics and "p99_ms" not in metrics  # Offline has no latency bound
    assert {r["verdict"] for r in data["results"]} == {NO_CHANGE}


def test_the_report_index_shows_the_comparison_with_the_campaign_baseline(tmp_path):
    """`report.baseline` in the campaign: the index page carries compare's table; a baseline that cannot be
    compared is said on the page, and the report is still written."""
    from benchwright.report.table import ReportSpec, SkuInfo, summary

    def slower(t):
        t.loc[_row(t, "Server", "int8"), "value"] *= 0.8

    candidate = _planted(tmp_path, "candidate", slower) / "results/report/results.csv"
    table = pd.read_csv(candidate)
    for baseline, expect in ((str(RECORDED), 'data-result="cpu-host/digits-cnn/Server/int8" data-metric="throughput" '
                                             'data-verdict="regression"'),
                             (str(tmp_path), "No comparison with")):
        spec = ReportSpec(campaign="c", mode="smoke", division="open", baseline=baseline,
                          systems={"cpu-host": SkuInfo(system_name="cpu", accelerators_total=0,
                                                       accelerator_model="none")})
        (tmp_path / "summary.json").write_text(json.dumps(summary(spec, table), default=str))
        out = tmp_path / "index.html"
        assert main(["report", "--index", "--spec", spec.model_dump_json(), "--table", str(candidate),
                     "--summary", str(tmp_path / "summary.json"), "--out", str(out)]) == 0
        page = out.read_text()
        assert '<section id="comparison">' in page and expect in page
