"""Statistics against known answers, energy from RAPL counters (a fake powercap tree), and the results table,
plots and pages built from recorded real runs."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchwright.power import EnergyMeter, rapl_zones
from benchwright.report.stats import bootstrap_ci, describe, olympic_mean, weighted_geomean

REPO = Path(__file__).resolve().parents[2]


# --- statistics -------------------------------------------------------------------------------------------


def test_bootstrap_interval_covers_the_true_mean_as_often_as_it_claims():
    # Normal data with a known mean: a 95% interval must contain it in about 95% of repeated experiments,
    # and be as wide as the textbook interval of the mean (2 x 1.96 sigma / sqrt(n)).
    rng = np.random.default_rng(2026)
    mu, sigma, n, experiments = 10.0, 2.0, 40, 400
    hits, widths = 0, []
    for i in range(experiments):
        sample = rng.normal(mu, sigma, n)
        low, high = bootstrap_ci(sample, resamples=2000, seed=i)
        hits += low <= mu <= high
        widths.append(high - low)
    assert 0.91 <= hits / experiments <= 0.98, hits / experiments
    textbook = 2 * 1.96 * sigma / math.sqrt(n)
    assert abs(np.mean(widths) / textbook - 1) < 0.1, (np.mean(widths), textbook)


def test_bootstrap_of_a_constant_and_of_one_value_and_its_seed():
    assert bootstrap_ci([3.0] * 10) == (3.0, 3.0)
    assert bootstrap_ci([7.5]) == (7.5, 7.5)
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    data = [1.0, 2.0, 4.0, 8.0, 16.0]
    assert bootstrap_ci(data, seed=5) == bootstrap_ci(data, seed=5)
    low, high = bootstrap_ci(data, statistic=np.median, resamples=3000)
    assert 1.0 <= low <= 4.0 <= high <= 16.0


def test_olympic_mean_geomean_and_describe():
    assert olympic_mean([5.0, 1.0, 3.0, 100.0, 4.0]) == pytest.approx(4.0)  # drops 1 and 100
    with pytest.raises(ValueError, match="at least 3"):
        olympic_mean([1.0, 2.0])
    assert weighted_geomean({"a": 4.0, "b": 16.0}, {}) == pytest.approx(8.0)
    assert weighted_geomean({"a": 4.0, "b": 16.0}, {"b": 3.0}) == pytest.approx(math.exp((math.log(4) + 3 *
                                                                                         math.log(16)) / 4))
    stats = describe([2.0, 4.0, 6.0, 8.0, 10.0], olympic=True, resamples=2000)
    assert (stats["n"], stats["mean"], stats["olympic_mean"]) == (5, 6.0, 6.0)
    assert stats["std"] == pytest.approx(np.std([2, 4, 6, 8, 10], ddof=1))
    assert stats["ci_low"] < 6.0 < stats["ci_high"]


# --- energy ------------------------------------------------------------------------------------------------


def fake_rapl(root: Path, packages: dict[str, int], max_uj: int = 262143328850) -> Path:
    """A powercap tree like the kernel's: intel-rapl:N packages with a sub-zone each (which must be skipped)."""
    for i, (name, energy) in enumerate(packages.items()):
        for zone, zname in ((f"intel-rapl:{i}", name), (f"intel-rapl:{i}:0", "core")):
            d = root / zone
            d.mkdir(parents=True)
            (d / "name").write_text(zname + "\n")
            (d / "energy_uj").write_text(f"{energy}\n")
            (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return root


def set_energy(root: Path, zone: str, value: int) -> None:
    (root / zone / "energy_uj").write_text(f"{value}\n")


def test_energy_per_sample_from_rapl_counters(tmp_path):
    root = fake_rapl(tmp_path / "powercap", {"package-0": 1_000_000, "package-1": 5_000_000})
    assert [z.name for z in rapl_zones(root)] == ["package-0", "package-1"]  # sub-zones not counted twice
    with EnergyMeter(root=root, nvml=False) as meter:
        set_energy(root, "intel-rapl:0", 3_000_000)   # +2 J
        set_energy(root, "intel-rapl:1", 6_500_000)   # +1.5 J
        set_energy(root, "intel-rapl:0:0", 9_999_999_999)  # a sub-zone: part of package-0 already
    result = meter.result(samples=700)
    assert result["measured"] and result["sources"] == ["rapl"]
    assert result["joules"] == pytest.approx(3.5)
    assert result["joules_per_sample"] == pytest.approx(3.5 / 700)
    assert result["zones"] == {"rapl:package-0": pytest.approx(2.0), "rapl:package-1": pytest.approx(1.5)}


def test_a_wrapped_rapl_counter_is_unwrapped(tmp_path):
    root = fake_rapl(tmp_path / "powercap", {"package-0": 999_500_000}, max_uj=1_000_000_000)
    with EnergyMeter(root=root, nvml=False) as meter:
        set_energy(root, "intel-rapl:0", 500_000)  # passed max_energy_range_uj and started again
    assert meter.result(samples=10)["joules"] == pytest.approx(1.0)


def test_without_a_power_source_energy_is_not_measured(tmp_path):
    (tmp_path / "empty").mkdir()
    with EnergyMeter(root=tmp_path / "empty", nvml=False) as meter:
        pass
    result = meter.result(samples=100)
    assert result["measured"] is False and "no power source" in result["reason"]
    assert "joules" not in result


HEATER = """
import os, sys, time
path, start = sys.argv[1], time.monotonic()
while True:
    with open(path + ".tmp", "w") as f:
        f.write(f"{int((time.monotonic() - start) * 20 * 1e6) + 1}\\n")
    os.replace(path + ".tmp", path)
    time.sleep(0.002)
"""


def test_a_loadgen_run_integrates_the_power_of_a_fake_rapl_tree(default_models, tmp_path, monkeypatch):
    # A counter that rises at 20 W during a real LoadGen run: the run's energy is 20 W x its length.
    from benchwright.data.preprocess import load_split
    from benchwright.harness.run import run_loadgen
    from benchwright.harness.spec import RunSpec

    root = fake_rapl(tmp_path / "powercap", {"package-0": 0})
    monkeypatch.setenv("BENCHWRIGHT_POWERCAP_ROOT", str(root))
    # The counter is driven by its own process, as the kernel's is: a thread here would share the GIL with the
    # run and fall behind it, and a stale counter reads as less power. Each write is a rename, never a torn file.
    heater = subprocess.Popen([sys.executable, "-c", HEATER, str(root / "intel-rapl:0" / "energy_uj")])
    deadline = time.monotonic() + 30
    while (root / "intel-rapl:0" / "energy_uj").read_text().strip() == "0":
        assert heater.poll() is None and time.monotonic() < deadline, "the fake RAPL counter never started"
        time.sleep(0.01)
    images, _, _ = load_split(default_models["data"], "val")
    spec = RunSpec(benchmark="digits-cnn", system="cpu-host", loadgen_model="resnet50", scenario="Offline",
                   mode="performance", precision="fp32", run_mode="smoke",
                   model={"task": "image_classification", "architecture": "digits-resnet"},
                   performance_sample_count=1024, min_duration_ms=1000, expected_qps=20000, batch_size=64,
                   threads=1)
    try:
        outcome = run_loadgen(spec, lambda batch: np.zeros(len(batch), dtype=np.int32), images, tmp_path / "run",
                              emit=lambda m: None)
    finally:
        heater.kill()
        heater.wait()
    energy = outcome.energy
    assert energy["measured"] and energy["sources"] == ["rapl"]
    assert energy["average_watts"] == pytest.approx(20, rel=0.1)
    assert energy["joules_per_sample"] == pytest.approx(energy["joules"] / outcome.completed)


# --- table, plots, pages -------------------------------------------------------------------------------------


def build_report(root: Path, *, price: float | None = 0.08, prepare=None, repeats: tuple[float, ...] = ()
                 ) -> dict[str, Path]:
    """The recorded smoke run and training runs laid out as a finished campaign; then `benchwright table` and
    `benchwright report` as the DAG runs them."""
    from benchwright.cli import main
    from benchwright.config import load_plan
    from benchwright.report.table import report_spec
    from tests.unit.test_submission import make_campaign

    make_campaign(root, recorded="smoke-int8-offline", training=True, mode="smoke", repeats=repeats)
    if prepare:
        prepare(root)
    sku = root / "config/systems/cpu-host.yaml"
    data = yaml.safe_load(sku.read_text())
    data["price_per_hour_usd"] = price
    sku.write_text(yaml.safe_dump(data, sort_keys=False))
    with contextlib.chdir(root):
        spec = report_spec(load_plan(yaml.safe_load(Path("config/config.yaml").read_text()),
                                     ["config/config.yaml"])).model_dump_json()
        assert main(["table", "--spec", spec, "--out-dir", "results/report"]) == 0
        assert main(["report", "--spec", spec, "--table", "results/report/results.csv", "--summary",
                     "results/report/summary.json", "--system", "cpu-host", "--plots", "results/report/cpu-host",
                     "--out", "results/report/cpu-host.html"]) == 0
        assert main(["report", "--index", "--spec", spec, "--table", "results/report/results.csv", "--summary",
                     "results/report/summary.json", "--out", "results/report/index.html"]) == 0
    out = root / "results/report"
    return {"csv": out / "results.csv", "summary": out / "summary.json", "page": out / "cpu-host.html",
            "index": out / "index.html", "plots": out / "cpu-host"}


def test_table_has_a_row_per_run_with_normalizations(tmp_path):
    files = build_report(tmp_path)
    table = pd.read_csv(files["csv"])
    inf = table[table.kind == "inference"]
    assert len(inf) == 1 and len(table[table.kind == "training"]) == 5
    row = inf.iloc[0]
    record = json.loads((REPO / "tests/data/recorded/smoke-int8-offline/performance/record.json").read_text())
    assert row.value == pytest.approx(record["result"]["metric_value"]) and row.validity == "VALID"
    assert row.samples_per_s == pytest.approx(record["sut"]["samples_completed"] /
                                              (record["result"]["duration_ns"] / 1e9))
    assert row.cost_per_1k_queries_usd == pytest.approx(0.08 / 3600 / row.queries_per_s * 1000)
    assert row.cost_per_1m_samples_usd == pytest.approx(0.08 / 3600 / row.samples_per_s * 1e6)
    assert row.accuracy == 97.656 and bool(row.accuracy_ok)
    assert row.power_source == "not measured" and math.isnan(row.energy_per_sample_j)
    assert math.isnan(row.samples_per_s_per_accelerator)  # no accelerator: nothing per accelerator
    summary = json.loads(files["summary"].read_text())
    training = summary["systems"]["cpu-host"]["training"]["digits-cnn"]
    minutes = table[table.kind == "training"].value.tolist()
    assert training["olympic_mean"] == pytest.approx(olympic_mean(minutes))
    assert training["ci_low"] <= training["mean"] <= training["ci_high"]
    assert "not an MLPerf metric" in summary["summary_label"]


def test_repeated_runs_give_median_interval_cv_valid_rate_and_a_noisy_flag(tmp_path):
    """Three performance runs of one result (the recorded one, then x0.9 and x1.1): a row each; the summary's
    median, bootstrap interval of the median, CV (0.1: noisy, over 5 %) and VALID rate; the page's table; the
    accuracy interval from its 1,024 samples."""
    from benchwright.report.stats import proportion_ci

    files = build_report(tmp_path, repeats=(0.9, 1.1))
    table = pd.read_csv(files["csv"])
    inf = table[table.kind == "inference"]
    assert inf.run.tolist() == [1, 2, 3]
    value = inf.value.iloc[0]
    assert inf.value.tolist() == pytest.approx([value, 0.9 * value, 1.1 * value])
    stats = json.loads(files["summary"].read_text())["systems"]["cpu-host"]["inference"]["digits-cnn/Offline/int8"]
    assert stats["runs"] == 3 and stats["valid_rate"] == 1.0
    m = stats["metrics"]["value"]
    assert m["median"] == pytest.approx(value) and m["cv"] == pytest.approx(0.1)
    assert 0.9 * value <= m["ci_low"] <= m["median"] <= m["ci_high"] <= 1.1 * value
    assert stats["noisy"] is True
    assert stats["accuracy"] == pytest.approx(proportion_ci(1000, 1024))
    page = files["page"].read_text()
    assert "<h2>Repeated runs</h2>" in page and "noisy" in page and 'data-key="cpu-host/digits-cnn/Offline/int8/cv"' in page
    assert "Wilson score intervals" in page
    # the submitted run (run 1) is the one on the pages and plots
    assert f'data-key="cpu-host/digits-cnn/Offline/int8/value" data-value="{float(value)!r}"' in page


def test_an_accuracy_interval_from_its_sample_count():
    from benchwright.report.stats import proportion_ci, repeat_stats

    ci = proportion_ci(1000, 1024)
    assert ci["accuracy"] == pytest.approx(97.65625)
    # Wilson score interval, by hand: z = 1.959964
    z, n, p = 1.959964, 1024, 1000 / 1024
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert ci["ci_low"] == pytest.approx(100 * (centre - half), abs=1e-4)
    assert ci["ci_high"] == pytest.approx(100 * (centre + half), abs=1e-4)
    assert ci["samples_for_1_point"] == math.ceil(z * z * p * (1 - p) / 1e-4)  # 880 samples
    single = repeat_stats([5.0])
    assert single["n"] == 1 and math.isnan(single["cv"]) and single["noisy"] is False
    steady = repeat_stats([100.0, 101.0, 99.0])
    assert steady["cv"] == pytest.approx(0.01) and steady["noisy"] is False


def test_plots_and_pages_are_written_and_say_not_measured(tmp_path):
    files = build_report(tmp_path)
    assert sorted(p.name for p in files["plots"].iterdir()) == ["accuracy.png", "latency.png", "time_to_train.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in files["plots"].iterdir())
    page = files["page"].read_text()
    assert "not measured" in page and "Run mode <b>smoke</b>" in page
    assert 'src="cpu-host/latency.png"' in page and "calibration" in page and "batch 64" in page
    assert 'href="cpu-host.html"' in files["index"].read_text()


def test_the_same_results_give_the_same_report(tmp_path):
    first = build_report(tmp_path / "a")
    second = build_report(tmp_path / "b")
    for key in ("csv", "page", "index"):
        assert first[key].read_bytes() == second[key].read_bytes(), key
    for png in first["plots"].iterdir():
        assert png.read_bytes() == (second["plots"] / png.name).read_bytes(), png.name


def _set_execution(record_file: Path, *, commit: str, torch: str, cpu: str = "AMD EPYC") -> None:
    record = json.loads(record_file.read_text())
    record.setdefault("execution", {}).update(code={"commit": commit, "dirty": False, "modified": []},
                               software={"python": "3.11.7", "packages": {"torch": torch}})
    record["node"] = {"hostname": "vm", "effective": {"processor_model_name": cpu, "processor_core_count": 2}}
    record_file.write_text(json.dumps(record))


def test_runs_under_other_versions_code_or_hardware_are_flagged_in_table_summary_and_pages(tmp_path):
    a, b = "a" * 40, "b" * 40

    def prepare(root: Path) -> None:
        base = root / "results/training/cpu-host/digits-cnn"
        for i in range(5):
            _set_execution(base / f"run_{i}/record.json", commit=a, torch="2.13.0+cpu",
                           cpu="Intel Xeon" if i == 3 else "AMD EPYC")
        _set_execution(base / "run_1/record.json", commit=a, torch="2.12.0+cpu")
        _set_execution(root / "results/inference/cpu-host/digits-cnn/int8/Offline/performance/record.json",
                       commit=b, torch="2.13.0+cpu")

    files = build_report(tmp_path, prepare=prepare)
    table = pd.read_csv(files["csv"], keep_default_na=False)
    drift = dict(zip(table.kind + "/" + table.run.astype(str), table.drift))
    assert drift["inference/1"] == f"code commit {b} (the other 5 run(s): {a})"
    assert drift["training/1"] == "torch 2.12.0+cpu (the other 5 run(s): 2.13.0+cpu)"
    assert drift["training/3"] == "host processor_model_name Intel Xeon (the other 5 run(s): AMD EPYC)"
    assert drift["training/0"] == drift["training/2"] == drift["training/4"] == ""
    assert set(table.code_commit) == {a[:12], b[:12]} and set(table.torch) == {"2.12.0+cpu", "2.13.0+cpu"}
    summary = json.loads(files["summary"].read_text())
    assert sorted(d["run"] for d in summary["drift"]) == [
        "cpu-host/digits-cnn/Offline/int8", "cpu-host/digits-cnn/training/run_1", "cpu-host/digits-cnn/training/run_3"]
    page, index = files["page"].read_text(), files["index"].read_text()
    for text in (page, index):
        assert "Drift: 3 of 6 run(s)" in text
        assert 'data-key="cpu-host/digits-cnn/training/run_1/drift"' in text
    assert "(drift)" in page


def test_a_campaign_without_drift_says_nothing_about_it(tmp_path):
    files = build_report(tmp_path)
    assert "Drift" not in files["page"].read_text() and json.loads(files["summary"].read_text())["drift"] == []


def test_an_llm_row_carries_token_latencies_and_cost_per_1k_tokens(tmp_path):
    from benchwright.report.html import token_table
    from benchwright.report.table import InferenceItem, SkuInfo, inference_row

    run = tmp_path / "Server"
    (run / "performance").mkdir(parents=True)
    result = {"metric": "completed samples per second", "metric_value": 40.0, "metric_unit": "samples/s",
              "result_validity": "VALID", "early_stopping_met": True, "duration_ns": 10_000_000_000,
              "latency": {"p50_ns": 300_000_000, "p99_ns": 900_000_000},
              "first_token_latency": {"p50_ns": 20_000_000, "p99_ns": 150_000_000},
              "time_per_output_token": {"p50_ns": 4_000_000, "p99_ns": 9_000_000},
              "tokens_per_second": 640.0}
    (run / "performance/record.json").write_text(json.dumps({
        "result": result, "sut": {"samples_completed": 400}, "spec": {"run_mode": "smoke", "batch_size": 8,
                                                                      "threads": 1}}))
    (run / "accuracy.txt").write_text('{"rouge1": 11.4, "rougeL": 10.7, "gen_num": 64}\nhash=' + "0" * 64 + "\n")
    item = InferenceItem(benchmark="pydoc-lm", system="cpu-host", scenario="Server", precision="fp32", run=str(run),
                         accuracy_reference=10.676, accuracy_target=10.569, accuracy_metric="rougeL")
    row = inference_row(item, SkuInfo(system_name="CPU", accelerators_total=0, accelerator_model="none",
                                      price_per_hour_usd=0.08))
    assert (row["ttft_p50_ms"], row["ttft_p99_ms"], row["tpot_p50_ms"], row["tpot_p99_ms"]) == (20, 150, 4, 9)
    assert row["tokens_per_s"] == 640 and row["accuracy"] == 10.7 and row["accuracy_ok"]
    assert row["cost_per_1k_tokens_usd"] == pytest.approx(0.08 / 3600 / 640 * 1000)  # the SKU's $/h over tokens/h
    page = "\n".join(token_table(pd.DataFrame([row]), "cpu-host"))
    assert 'data-key="cpu-host/pydoc-lm/Server/fp32/ttft_p99_ms"' in page and "150 ms" in page
    digits = {**row, "tokens_per_s": math.nan}
    assert token_table(pd.DataFrame([digits]), "cpu-host") == []  # no token table without an LLM run
