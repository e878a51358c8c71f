"""Failures as results: the status table (Virtual Client's AccuracyMode / PerformanceMode as 1/0 per result,
min/max/avg over repeats), the failure reason of a row, and the accuracy record's verdict."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchwright.harness.accuracy import accuracy_record
from benchwright.report.table import STATUS_COLUMNS, failure_reason, status_table

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "campaign" / "results.csv"


def test_the_recorded_campaign_passes_everywhere():
    status = status_table(pd.read_csv(RECORDED)).set_index("result")
    assert list(status.reset_index().columns) == STATUS_COLUMNS
    assert len(status) == 8 + 3 + 1  # digits 4 scenarios x 2 precisions, the LM's 3 scenarios, training
    assert (status.status == "PASS").all() and (status.PerformanceMode == 1).all()
    training = status.loc["cpu-host_digits-cnn_fp32_training"]
    assert training.runs == 5 and training.PerformanceMode_avg == 1.0


def test_repeats_give_min_max_avg_and_a_failure_its_reason():
    table = pd.read_csv(RECORDED)
    server = table[(table.scenario == "Server") & (table.precision == "int8")].iloc[0].to_dict()
    repeats = [dict(server, run=i, validity=v, failure="" if v == "VALID" else "performance run INVALID (x)")
               for i, v in ((1, "VALID"), (2, "INVALID"), (3, "VALID"), (4, "INVALID"))]
    status = status_table(pd.DataFrame(repeats)).iloc[0]
    assert status.result == "cpu-host_digits-cnn_int8_Server"
    assert (status.PerformanceMode, status.PerformanceMode_min, status.PerformanceMode_max) == (1, 0, 1)
    assert status.PerformanceMode_avg == pytest.approx(0.5) and status.runs == 4
    assert status.status == "FAIL" and status.reason == "performance run INVALID (x)"


def test_an_accuracy_under_target_fails_accuracy_mode():
    table = pd.read_csv(RECORDED)
    table.loc[(table.scenario == "Offline") & (table.precision == "fp32") & (table.benchmark == "digits-cnn"),
              "accuracy_ok"] = False
    status = status_table(table).set_index("result")
    assert status.loc["cpu-host_digits-cnn_fp32_Offline", ["AccuracyMode", "PerformanceMode"]].tolist() == [0, 1]
    assert status.loc["cpu-host_digits-cnn_fp32_Offline", "status"] == "FAIL"


def test_failure_reasons():
    assert failure_reason("VALID", None, 97.6, True, 96.7) == ""
    assert failure_reason("INVALID", "Reduce target QPS", 97.6, True, 96.7) == \
        "performance run INVALID (Reduce target QPS)"
    assert failure_reason("VALID", None, 12.5, False, 96.7) == "accuracy 12.500 % under the target 96.7 %"
    assert failure_reason("VALID", None, 12.5, False, 96.7, fixture=True) == ""  # a stand-in is expected to miss


def test_the_accuracy_record_says_whether_the_target_was_met():
    met = accuracy_record("accuracy=97.656%, good=1000, total=1024\nhash=ab\n", benchmark="b",
                          task="image_classification", metric="top1", reference=97.656, target_fraction=0.99)
    assert met["meets_target"] is True and met["accuracy"] == pytest.approx(97.656)
    missed = accuracy_record("accuracy=10.000%, good=102, total=1024\nhash=ab\n", benchmark="b",
                             task="image_classification", metric="top1", reference=97.656, target_fraction=0.99)
    assert missed["meets_target"] is False and missed["target"] == pytest.approx(96.67944)
