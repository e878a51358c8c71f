"""SLO tiers on the recorded default campaign's Server and Interactive ranging trials and runs, capacity against a
hand computation, and their bad input."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchwright.cli import main
from benchwright.report.table import InferenceItem, ReportSpec, SkuInfo
from benchwright.report.tiers import HOURS_PER_MONTH, capacity_rows, tier_rows
from benchwright.schemas.campaign import CapacityDemand, Tier

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "campaign"
LATENCY_BOUND = [("digits-cnn", "Server", "fp32", "image_classification"),
                 ("digits-cnn", "Server", "int8", "image_classification"),
                 ("pydoc-lm", "Server", "fp32", "text_generation"),
                 ("pydoc-lm", "Interactive", "fp32", "text_generation")]
TIERS = {"interactive": Tier(p99_ms=10, benchmarks=("digits-cnn",)), "batch": Tier(p99_ms=15),
         "chat": Tier(ttft_p99_ms=500, tpot_p99_ms=30), "tight": Tier(p99_ms=1)}


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """The recorded ranging results under results/ranging/ of a working directory, its table and report spec."""
    shutil.copytree(RECORDED / "ranging", tmp_path / "results/ranging")
    monkeypatch.chdir(tmp_path)
    items = tuple(InferenceItem(benchmark=b, system="cpu-host", scenario=s, precision=p, run="unused",
                                accuracy_reference=1, accuracy_target=1, task=t) for b, s, p, t in LATENCY_BOUND)
    spec = ReportSpec(campaign="default", mode="smoke", division="open", inference=items, tiers=TIERS,
                      systems={"cpu-host": SkuInfo(system_name="cpu", accelerators_total=0, accelerator_model="none",
                                                   price_per_hour_usd=0.08)})
    return spec, pd.read_csv(RECORDED / "results.csv")


def _by(rows):
    return {(r["benchmark"], r["scenario"], r["precision"], r["tier"]): r for r in rows}


def test_tier_qps_is_the_highest_valid_measured_point_within_its_limits(recorded):
    rows = _by(tier_rows(*recorded))
    # digits fp32 Server trials (completed QPS, p99): 6631.34 @ 8.48 ms VALID, 9977.42 @ 11.7 ms VALID,
    # 10386.4 @ 8.51 ms VALID, others INVALID; the performance run: 8340.57 QPS @ 6.49 ms VALID
    assert rows[("digits-cnn", "Server", "fp32", "interactive")]["qps"] == 10386.4
    assert rows[("digits-cnn", "Server", "fp32", "batch")]["qps"] == 10386.4
    # digits int8 Server: VALID trials 24695.7 @ 5.79 ms, 37056.4 @ 8.91 ms, 43111.7 @ 11.2 ms; the run 34505.2 @ 13.2
    assert rows[("digits-cnn", "Server", "int8", "interactive")]["qps"] == 37056.4
    assert rows[("digits-cnn", "Server", "int8", "batch")]["qps"] == 43111.7
    assert rows[("digits-cnn", "Server", "int8", "batch")]["source"] == "ranging trial 5"
    # nothing within 1 ms: said, never a guess
    tight = rows[("digits-cnn", "Server", "int8", "tight")]
    assert math.isnan(tight["qps"]) and tight["source"] == "no VALID point within the tier"
    assert tight["points_within"] == 0 and tight["points"] == 7  # 6 Server trials and the performance run
    # interactive names digits-cnn only; chat's TTFT and TPOT exist for the LM only
    assert ("pydoc-lm", "Server", "fp32", "interactive") not in rows
    assert ("digits-cnn", "Server", "fp32", "chat") not in rows
    # the LM: the ranging trial 186.879 QPS (TTFT p99 73.5 ms, TPOT 2.7 ms), the run 148.773 (107.7 ms, 4.96 ms)
    chat = rows[("pydoc-lm", "Server", "fp32", "chat")]
    assert chat["qps"] == 186.879 and chat["source"] == "ranging trial 1"
    table = recorded[1]
    run = table[(table.benchmark == "pydoc-lm") & (table.scenario == "Server")].iloc[0]
    assert chat["tokens_per_query"] == pytest.approx(run.tokens_per_s / run.queries_per_s)
    assert chat["cost_per_1k_tokens_usd"] == pytest.approx(0.08 / 3600 / (186.879 * chat["tokens_per_query"]) * 1000)
    assert chat["cost_per_1k_queries_usd"] == pytest.approx(0.08 / 3600 / 186.879 * 1000)
    assert chat["energy_source"].startswith("not measured")


def test_capacity_against_a_hand_computation(recorded):
    rows = tier_rows(*recorded)
    plan = capacity_rows(rows, tier="batch", demand=50000, headroom=1.25)
    by = {(r["benchmark"], r["precision"]): r for r in plan}
    # fp32: 50000 x 1.25 / 10386.4 = 6.017... -> 7 systems; int8: 62500 / 43111.7 = 1.45 -> 2
    assert by[("digits-cnn", "fp32")]["systems"] == 7 and by[("digits-cnn", "int8")]["systems"] == 2
    assert by[("digits-cnn", "fp32")]["usd_per_hour"] == pytest.approx(7 * 0.08)
    assert by[("digits-cnn", "fp32")]["usd_per_month"] == pytest.approx(7 * 0.08 * HOURS_PER_MONTH)
    assert by[("digits-cnn", "int8")]["nodes"] == 2
    exact = capacity_rows(rows, tier="batch", demand=43111.7, headroom=1.0, benchmark="digits-cnn")
    assert {r["precision"]: r["systems"] for r in exact} == {"fp32": 5, "int8": 1}  # exactly one int8 system
    tokens = capacity_rows(rows, tier="chat", demand=2000, unit="tokens", headroom=1.0)
    per_system = {r["scenario"]: r["capacity_per_system"] for r in tokens}
    assert {r["scenario"]: r["systems"] for r in tokens} == {s: math.ceil(2000 / v) for s, v in per_system.items()}
    tight = capacity_rows(rows, tier="tight", demand=100)
    assert all(r["systems"] is None and "no QPS measured within the tier" in r["note"] for r in tight)
    with pytest.raises(ValueError, match="demand must be positive"):
        capacity_rows(rows, tier="batch", demand=-5)


def test_the_capacity_command_and_its_bad_input(recorded, tmp_path, capsys):
    tiers = tmp_path / "results/report/tiers.csv"
    tiers.parent.mkdir(parents=True)
    pd.DataFrame(tier_rows(*recorded)).to_csv(tiers, index=False)
    assert main(["capacity", str(tmp_path), "--demand", "50000", "--tier", "batch", "--benchmark", "digits-cnn"]) == 0
    out = capsys.readouterr().out
    line = next(li for li in out.splitlines() if li.startswith("cpu-host") and " int8 " in li)
    assert line.split()[4:] == ["43,111.7", "2", "2", "0.16", "116.80"]  # 2 x 0.08 USD/h; x 730 h
    assert main(["capacity", str(tmp_path), "--demand", "-10", "--tier", "batch"]) == 2
    err = capsys.readouterr().err
    assert "--demand" in err and "must be a positive rate" in err and "fix:" in err
    assert main(["capacity", str(tmp_path), "--demand", "10", "--tier", "gold"]) == 2
    assert "no tier 'gold'" in capsys.readouterr().err
    assert main(["capacity", str(tmp_path / "nowhere"), "--demand", "10", "--tier", "batch"]) == 2
    assert "no tiers.csv here" in capsys.readouterr().err


# --- the campaign's tiers and demands -----------------------------------------------------------------------------

def test_a_tier_naming_a_metric_the_benchmark_lacks(config_tree):
    from tests.unit.test_config import rejected

    config_tree.campaign["report"] = {"tiers": {"chat": {"ttft_p99_ms": 500, "benchmarks": ["digits-cnn"]}}}
    rejected(config_tree, file="config/config.yaml", field="report.tiers.chat",
             message="the tier limits ttft_p99_ms, which `digits-cnn` does not measure", fix="limit only p99_ms")


def test_a_tier_naming_a_benchmark_that_does_not_exist(config_tree):
    from tests.unit.test_config import rejected

    config_tree.campaign["report"] = {"tiers": {"batch": {"p99_ms": 15, "benchmarks": ["digits-cn"]}}}
    rejected(config_tree, file="config/config.yaml", field="report.tiers.batch.benchmarks",
             message="`digits-cn` is not a benchmark", fix="digits-cnn")


def test_a_trimmed_campaign_keeps_its_tiers_without_rows(config_tree):
    """A `--configfile` that runs only Offline of the digits model: the default's tiers (p99 for digits-cnn, chat
    for the LM) stay valid and simply have no result to apply to."""
    config_tree.campaign["benchmarks"] = {"digits-cnn": {"systems": ["cpu-host"], "scenarios": ["Offline"]}}
    assert set(config_tree.load().campaign.report.tiers) == {"interactive", "batch", "chat"}


def test_a_demand_for_a_benchmark_its_tier_leaves_out(config_tree):
    from tests.unit.test_config import rejected

    config_tree.campaign["report"]["capacity"] = [{"tier": "batch", "demand": 10, "benchmark": "pydoc-lm"}]
    rejected(config_tree, file="config/config.yaml", field="report.capacity[0].benchmark",
             message="the tier `batch` does not apply to `pydoc-lm`", fix="['digits-cnn']")


def test_a_negative_demand_and_an_undeclared_tier(config_tree):
    from benchwright.errors import CampaignError

    config_tree.campaign["report"] = {"tiers": {"batch": {"p99_ms": 15}},
                                      "capacity": [{"tier": "batch", "demand": -100}]}
    with pytest.raises(CampaignError) as info:
        config_tree.load()
    assert "report.capacity[0].demand" in str(info.value) and "greater than 0; got -100" in str(info.value)
    config_tree.campaign["report"] = {"tiers": {"batch": {"p99_ms": 15}}, "capacity": [{"tier": "gold", "demand": 1}]}
    with pytest.raises(CampaignError, match="names the tier 'gold', which report.tiers does not declare"):
        config_tree.load()


def test_the_default_campaign_declares_tiers_and_demands():
    from benchwright.config import load_plan_file

    plan = load_plan_file(Path(__file__).resolve().parents[2] / "config/config.yaml")
    assert set(plan.campaign.report.tiers) == {"interactive", "batch", "chat"}
    assert [d.tier for d in plan.campaign.report.capacity] == ["batch", "chat"]
    assert CapacityDemand(tier="chat", demand=1).headroom == 1.25
