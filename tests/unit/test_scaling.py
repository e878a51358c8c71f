"""Scaling efficiency between SKUs that differ in accelerator count (``scales:``), against a hand computation on the
recorded campaign's table, and the SKU checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchwright.report.scaling import scaling_rows
from benchwright.report.table import ReportSpec, SkuInfo
from tests.unit.test_config import rejected

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "campaign" / "results.csv"


def test_efficiency_of_an_eight_accelerator_sku_against_one():
    """gpu-x8 does 6x the throughput of gpu-x1 in every throughput scenario (efficiency 6/8) and trains 4x faster
    (efficiency 4/8); the latency scenarios are left out."""
    base = pd.read_csv(RECORDED).assign(system="gpu-x1")
    big = base.assign(system="gpu-x8")
    throughput = (big.kind == "inference") & big.scenario.isin(["Server", "Offline", "Interactive"])
    big.loc[throughput, "samples_per_s"] *= 6
    big.loc[big.kind == "training", "value"] /= 4
    table = pd.concat([base, big], ignore_index=True)
    spec = ReportSpec(campaign="c", mode="smoke", division="open", systems={
        "gpu-x1": SkuInfo(system_name="1 GPU", accelerators_total=1, accelerator_model="NVIDIA H100"),
        "gpu-x8": SkuInfo(system_name="8 GPUs", accelerators_total=8, accelerator_model="NVIDIA H100",
                          scales="gpu-x1")})
    rows = scaling_rows(spec, table)
    inference = [r for r in rows if r["kind"] == "inference"]
    assert {(r["benchmark"], r["scenario"], r["precision"]) for r in inference} == {
        ("digits-cnn", "Server", "fp32"), ("digits-cnn", "Server", "int8"), ("digits-cnn", "Offline", "fp32"),
        ("digits-cnn", "Offline", "int8"), ("pydoc-lm", "Offline", "fp32"), ("pydoc-lm", "Server", "fp32"),
        ("pydoc-lm", "Interactive", "fp32")}
    for r in inference:
        assert r["k"] == 8 and r["scaling"] == pytest.approx(6) and r["efficiency"] == pytest.approx(0.75)
        assert r["value"] == pytest.approx(6 * r["base_value"])
    (training,) = [r for r in rows if r["kind"] == "training"]
    times = base[base.kind == "training"].value
    assert training["base_value"] == pytest.approx(times.median())
    assert training["scaling"] == pytest.approx(4) and training["efficiency"] == pytest.approx(0.5)
    # a SKU that scales nothing gives no row
    spec.systems["gpu-x8"] = spec.systems["gpu-x8"].model_copy(update={"scales": None})
    assert scaling_rows(spec, table) == []


def _two_skus(config_tree, big: str, small: str):
    config_tree.campaign["benchmarks"] = {"digits-cnn": {"systems": [small, big], "scenarios": ["Offline"]}}


def test_a_sku_scaling_another_accelerator_model_is_refused(config_tree):
    _two_skus(config_tree, "a100-sxm4-80gb-x8", "a30-x1")
    config_tree.edit("systems", "a100-sxm4-80gb-x8", lambda d: d.update(scales="a30-x1"))
    rejected(config_tree, file="config/systems/a100-sxm4-80gb-x8.yaml", field="scales",
             message="has NVIDIA A100-SXM4-80GB accelerators and `a30-x1` NVIDIA A30",
             fix="scale a SKU of the same accelerator model")


def test_a_sku_scaling_one_the_campaign_does_not_run_is_refused(config_tree):
    _two_skus(config_tree, "a100-sxm4-80gb-x8", "a30-x1")
    config_tree.edit("systems", "a100-sxm4-80gb-x8", lambda d: d.update(scales="h100-sxm-80gb-x8"))
    rejected(config_tree, file="config/systems/a100-sxm4-80gb-x8.yaml", field="scales",
             message="`h100-sxm-80gb-x8` is not a SKU this campaign runs", fix="remove `scales`")


def test_a_base_with_as_many_accelerators_is_refused(config_tree):
    config_tree.write("systems", "a30-x2", {**config_tree.read("systems", "a30-x1"), "id": "a30-x2"})
    _two_skus(config_tree, "a30-x2", "a30-x1")
    config_tree.edit("systems", "a30-x2", lambda d: d.update(scales="a30-x1"))
    rejected(config_tree, file="config/systems/a30-x2.yaml", field="scales",
             message="have 1 and 1 accelerators", fix="fewer accelerators of the same model")
