"""Scenario policies: every scenario has one, and each reproduces what the per-scenario branches did before
(LoadGen settings, retry sizing, ranging and its result file, metric, compliance and submission rules)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchwright.harness.isolate import call_in_fresh_process
from benchwright.harness.scenarios import (
    POLICIES,
    RANGED,
    LatencyRanging,
    OfflineRanging,
    RangingTrial,
    ServerRanging,
    policy,
)
from benchwright.harness.spec import RunSpec
from benchwright.schemas.base import RunMode, Scenario

BASE = dict(benchmark="digits-cnn", system="cpu-host", loadgen_model="resnet50", precision="fp32", run_mode="smoke",
            mode="performance", performance_sample_count=1024, min_duration_ms=2000,
            model={"task": "image_classification", "architecture": "digits-resnet",
                   "parameters": {"width": 32, "blocks": 2, "classes": 10}})

CLASSIC = ["SingleStream", "MultiStream", "Server", "Offline"]
"""The scenarios the policies replaced hand-written branches for (Interactive came after, tested on its own)."""

TUNING = {  # what a campaign resolves for each scenario (config/: digits-cnn on cpu-host)
    "SingleStream": dict(target_latency_ms=2.5, target_latency_percentile=90),
    "MultiStream": dict(target_latency_ms=8, target_latency_percentile=99, samples_per_query=8),
    "Server": dict(target_qps=500, target_latency_ms=15, target_latency_percentile=99, batch_size=16),
    "Offline": dict(expected_qps=20000.5, batch_size=64),
    "Interactive": dict(target_qps=3.5, batch_size=4),
}


def _spec(scenario: str, **update) -> RunSpec:
    return RunSpec(scenario=scenario, **{**BASE, **TUNING[scenario], **update})


# --- the code the policies replaced, kept here as the reference ------------------------------------------------------

def _num(value: float) -> str:
    return f"{value:g}" if float(value) != int(value) else str(int(value))


def _old_user_conf(spec: RunSpec) -> str:
    """harness.settings.user_conf before the policies."""
    model, scenario = spec.loadgen_model, spec.scenario.value
    lines = [f"# benchwright user.conf: {spec.benchmark} on {spec.system}, {scenario}, {spec.precision.value}, "
             f"{spec.run_mode.value} mode"]

    def put(key, value, where=scenario):
        lines.append(f"{model}.{where}.{key} = {value}")

    put("performance_sample_count_override", spec.performance_sample_count, "*")
    if spec.scenario.value == "Server":
        if spec.target_qps is not None:
            put("target_qps", _num(spec.target_qps))
        if spec.target_latency_ms is not None:
            put("target_latency", _num(spec.target_latency_ms))
    elif spec.scenario.value == "Offline":
        if spec.expected_qps is not None:
            put("target_qps", _num(spec.expected_qps))
    elif spec.target_latency_ms is not None:
        put("target_latency", _num(spec.target_latency_ms))
    if spec.scenario.value == "MultiStream" and spec.samples_per_query is not None:
        put("samples_per_query", spec.samples_per_query)
    if spec.target_latency_percentile is not None and spec.scenario.value != "Offline":
        put("target_latency_percentile", _num(spec.target_latency_percentile))
    if spec.min_duration_ms is not None:
        put("min_duration", spec.min_duration_ms)
    if spec.min_query_count is not None:
        put("min_query_count", spec.min_query_count)
    if spec.seeds is not None:
        lines.append(f"# seeds overridden (smoke mode): {spec.seeds.model_dump()}")
    return "\n".join(lines) + "\n"


def _fields(settings) -> dict:
    """Every plain field of a LoadGen TestSettings object."""
    out = {}
    for name in dir(settings):
        value = getattr(settings, name)
        if not name.startswith("_") and not callable(value):
            out[name] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def _old_settings(spec: RunSpec, run_dir: Path) -> dict:
    """harness.settings.test_settings before the policies, read back field by field (in a fresh process)."""
    import mlperf_loadgen as lg

    scenarios = {"SingleStream": lg.TestScenario.SingleStream, "MultiStream": lg.TestScenario.MultiStream,
                 "Server": lg.TestScenario.Server, "Offline": lg.TestScenario.Offline}
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "user.conf"
    path.write_text(_old_user_conf(spec))
    settings = lg.TestSettings()
    settings.FromConfig(str(path), spec.loadgen_model, spec.scenario.value)
    settings.scenario = scenarios[spec.scenario.value]
    settings.mode = lg.TestMode.PerformanceOnly
    return _fields(settings)


def _new_settings(spec: RunSpec, run_dir: Path) -> dict:
    from benchwright.harness.settings import test_settings

    run_dir.mkdir(parents=True, exist_ok=True)
    return _fields(test_settings(spec, run_dir))


# --- tests -------------------------------------------------------------------------------------------------------------

def test_every_scenario_has_a_policy():
    assert set(POLICIES) == set(Scenario)
    for scenario in Scenario:
        assert policy(scenario) is policy(scenario.value) is POLICIES[scenario]
        assert policy(scenario).scenario is scenario and policy(scenario).name == scenario.value
    with pytest.raises(ValueError):
        policy("Batch")


def test_policies_are_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        policy("Server").gathers_queries = False  # type: ignore[misc]


@pytest.mark.parametrize("scenario", CLASSIC)
def test_user_conf_is_what_the_scenario_branches_wrote(scenario):
    from benchwright.harness.settings import user_conf

    variants = [
        {},
        {"target_qps": None, "expected_qps": None, "target_latency_ms": None, "target_latency_percentile": None,
         "samples_per_query": None},
        # knobs of other scenarios must not leak into this one's user.conf
        {"target_qps": 123.5, "expected_qps": 4567, "target_latency_ms": 0.25, "target_latency_percentile": 97.5,
         "samples_per_query": 16, "min_query_count": 100},
        {"min_duration_ms": None, "run_mode": RunMode.submission},
    ]
    for update in variants:
        spec = _spec(scenario, **update)
        assert user_conf(spec) == _old_user_conf(spec), update


@pytest.mark.parametrize("scenario", CLASSIC)
def test_loadgen_settings_are_what_the_scenario_branches_produced(scenario, tmp_path):
    spec = _spec(scenario)
    old = call_in_fresh_process(_old_settings, spec, tmp_path / "old")
    new = call_in_fresh_process(_new_settings, spec, tmp_path / "new")
    assert new == old
    assert (tmp_path / "new/user.conf").read_text() == (tmp_path / "old/user.conf").read_text()
    assert new["scenario"] == f"TestScenario.{scenario}"
    expected = {  # the fields each scenario's tuning sets
        "SingleStream": {"single_stream_expected_latency_ns": 2_500_000,
                         "single_stream_target_latency_percentile": pytest.approx(0.9)},
        "MultiStream": {"multi_stream_expected_latency_ns": 8_000_000, "multi_stream_samples_per_query": 8,
                        "multi_stream_target_latency_percentile": pytest.approx(0.99)},
        "Server": {"server_target_qps": pytest.approx(500), "server_target_latency_ns": 15_000_000,
                   "server_target_latency_percentile": pytest.approx(0.99)},
        "Offline": {"offline_expected_qps": pytest.approx(20000.5)},
    }[scenario]
    assert {k: new[k] for k in expected} == expected
    assert new["min_duration_ms"] == 2000 and new["performance_sample_count_override"] == 1024


def test_test_scenario_is_loadgens():
    import mlperf_loadgen as lg

    for scenario in Scenario:
        runs_as = "Server" if scenario is Scenario.Interactive else scenario.value
        assert policy(scenario).test_scenario() == getattr(lg.TestScenario, runs_as)


LM = dict(BASE, benchmark="pydoc-lm", loadgen_model="llama3_1-8b", performance_sample_count=64,
          model={"task": "text_generation", "backend": "transformers", "format": "transformers"})


def test_interactive_is_server_under_the_models_interactive_settings(tmp_path):
    from benchwright.harness.settings import user_conf

    spec = RunSpec(scenario="Interactive", target_qps=3.5, batch_size=4, **LM)
    conf = user_conf(spec)
    assert "llama3_1-8b-interactive.Server.target_qps = 3.5" in conf
    assert "llama3_1-8b-interactive.*.performance_sample_count_override = 64" in conf
    assert ".Interactive." not in conf  # LoadGen has no Interactive scenario of its own
    interactive = call_in_fresh_process(_new_settings, spec, tmp_path / "interactive")
    server = call_in_fresh_process(_new_settings, spec.model_copy(update={"scenario": Scenario.Server}),
                                   tmp_path / "server")
    assert interactive["scenario"] == server["scenario"] == "TestScenario.Server"
    assert interactive["use_token_latencies"] and server["use_token_latencies"]
    # the p99 limits of LoadGen's mlperf.conf, as the run rules list them (ms -> ns)
    from benchwright.config.loading import load_rules

    limits = load_rules("6.1").inference.benchmarks["llama3.1-8b"].token_latency_limits_ms
    for fields, scenario in ((interactive, Scenario.Interactive), (server, Scenario.Server)):
        assert fields["ttft_latency"] == limits[scenario].ttft * 1_000_000
        assert fields["tpot_latency"] == limits[scenario].tpot * 1_000_000
    assert (interactive["ttft_latency"], interactive["tpot_latency"]) == (500_000_000, 30_000_000)


def test_token_latencies_only_for_text_generation(tmp_path):
    fields = call_in_fresh_process(_new_settings, _spec("Server"), tmp_path / "server")
    assert fields["use_token_latencies"] is False


SHORT = SimpleNamespace(min_duration_met=False, min_queries_met=True)
FEW_QUERIES = SimpleNamespace(min_duration_met=True, min_queries_met=False)
LONG_ENOUGH = SimpleNamespace(min_duration_met=True, min_queries_met=True)  # INVALID for latency, not length


def test_retry_steps_server_down_whatever_made_it_invalid():
    server = _spec("Server", target_qps=517.3)
    for result in (SHORT, LONG_ENOUGH):
        assert policy("Server").next_attempt(server, result).target_qps == round(517.3 * 0.8, 1)
    assert policy("Server").next_attempt(_spec("Server", target_qps=None), LONG_ENOUGH) is None


def test_retry_doubles_offline_expected_qps_when_the_run_was_short():
    offline = _spec("Offline")
    assert policy("Offline").next_attempt(offline, SHORT).expected_qps == round(20000.5 * 2, 1)
    assert policy("Offline").next_attempt(offline, FEW_QUERIES).expected_qps == round(20000.5 * 2, 1)
    assert policy("Offline").next_attempt(offline, LONG_ENOUGH) is None  # a longer run would not help
    unset = _spec("Offline", expected_qps=None)
    assert policy("Offline").next_attempt(unset, SHORT).expected_qps == 2000.0


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream"])
def test_retry_halves_the_expected_latency_when_loadgen_ran_out_of_queries(scenario):
    spec = _spec(scenario, target_latency_ms=0.3333337)
    following = policy(scenario).next_attempt(spec, SHORT)
    assert following.target_latency_ms == round(0.3333337 / 2, 6)
    assert following.model_dump(exclude={"target_latency_ms"}) == spec.model_dump(exclude={"target_latency_ms"})
    assert policy(scenario).next_attempt(spec, LONG_ENOUGH) is None
    assert policy(scenario).next_attempt(_spec(scenario, target_latency_ms=None), SHORT) is None


def test_steps_next_attempt_asks_the_policy():
    from benchwright.harness.steps import next_attempt

    for scenario in Scenario:
        spec = _spec(scenario.value)
        assert next_attempt(spec, SHORT) == policy(scenario).next_attempt(spec, SHORT)


def test_metric_per_scenario_is_the_one_logs_and_compliance_read():
    from benchwright.harness.compliance import RESULT_FIELD

    old_metrics = {  # harness.logs.METRICS before the policies
        "SingleStream": ("90th percentile latency", "ns",
                         ("early_stopping_latency_ss", "result_90.00_percentile_latency_ns")),
        "MultiStream": ("99th percentile latency", "ns",
                        ("early_stopping_latency_ms", "result_99.00_percentile_per_query_latency_ns")),
        "Server": ("completed samples per second", "samples/s", ("result_completed_samples_per_sec",)),
        "Offline": ("samples per second", "samples/s", ("result_samples_per_second",)),
    }
    for name, (label, unit, keys) in old_metrics.items():
        metric = policy(name).metric
        assert (metric.name, metric.unit, metric.keys) == (label, unit, keys)
    assert RESULT_FIELD == {"Offline": "result_samples_per_second", "SingleStream": "early_stopping_latency_ss",
                            "MultiStream": "early_stopping_latency_ms", "Server": "result_completed_samples_per_sec",
                            "Interactive": "result_completed_samples_per_sec"}
    assert [s.value for s in Scenario if policy(s).metric.is_latency] == ["SingleStream", "MultiStream"]


def test_compliance_rules_per_scenario():
    from benchwright.harness.compliance import TEST04_SCENARIOS

    assert TEST04_SCENARIOS == ("MultiStream", "Offline", "SingleStream", "Server")
    limits = {s.value: policy(s).relaxed_limit for s in Scenario}
    assert limits == {"SingleStream": 200_000.0, "MultiStream": 1_600_000.0, "Server": None, "Offline": None,
                      "Interactive": None}
    assert [s.value for s in Scenario if policy(s).latency_bound] == ["Server", "Interactive"]


def test_flags_that_replaced_scenario_names():
    def where(flag):
        return [s.value for s in Scenario if getattr(policy(s), flag)]

    assert RANGED == ("SingleStream", "MultiStream", "Server", "Offline", "Interactive")
    assert where("gathers_queries") == ["Server", "Interactive"]      # harness.run
    assert where("multi_sample_queries") == ["MultiStream"]           # user.conf, report queries per second
    assert where("early_stopping") == ["SingleStream", "MultiStream", "Server", "Interactive"]  # submission check
    assert where("min_samples_per_query") == ["Offline"]              # submission check
    assert where("ranging_plot") == ["Server", "Interactive"]         # report plot, its Snakemake inputs
    assert where("expected_latency") == ["SingleStream", "MultiStream"]  # config: tuning latency is expected
    assert where("latency_percentile") == ["SingleStream", "MultiStream", "Server", "Interactive"]
    assert where("token_latencies_only") == ["Interactive"]           # benchmark validation


# --- ranging -----------------------------------------------------------------------------------------------------------

def _trial(s) -> RangingTrial:
    return RangingTrial(target_qps=s.get("target_qps"), expected_qps=s.get("expected_qps"), validity="VALID",
                        metric=123.4, p99_ns=5_000_000)


OLD_FILES = {  # results/ranging/.../<scenario>.json as range_job wrote them before the models
    "Server": {"scenario": "Server", "max_valid_qps": 687.5, "target_qps": 550, "offline_qps": 1000.0},
    "Offline": {"scenario": "Offline", "expected_qps": 1250.0, "measured_qps": 1000.0},
    "SingleStream": {"scenario": "SingleStream", "measured_p50_ms": 0.5, "expected_latency_ms": 0.25},
    "MultiStream": {"scenario": "MultiStream", "measured_p50_ms": 2.0, "expected_latency_ms": 1.0},
}


@pytest.mark.parametrize("scenario", list(OLD_FILES))
def test_an_old_ranging_file_reads_back_and_keeps_its_keys(scenario, tmp_path):
    from benchwright.fsutil import atomic_write_json
    from benchwright.harness.steps import apply_ranging, read_ranging

    old = {**OLD_FILES[scenario], "version": 1, "benchmark": "digits-cnn", "system": "cpu-host", "precision": "fp32",
           "trials": [{"target_qps": 500.0, "expected_qps": None, "validity": "INVALID", "metric": 480.2,
                       "p99_ns": 31_000_000}]}
    path = tmp_path / f"{scenario}.json"
    atomic_write_json(path, old)
    spec = _spec(scenario)
    ranging = read_ranging(spec, path)
    assert type(ranging) is policy(scenario).ranging_model()
    # fields added later, None here: LLM token latencies; Server's reason for finding no VALID QPS
    later = {"trials": {"__all__": {"ttft_p99_ns", "tpot_p99_ns"}}, "reason": True}
    assert ranging.model_dump(mode="json", exclude=later) == old
    assert all(t.ttft_p99_ns is None and t.tpot_p99_ns is None for t in ranging.trials)
    assert getattr(ranging, "reason", None) is None
    again = type(ranging).model_validate_json(ranging.model_dump_json(indent=2))
    assert again == ranging
    assert set(json.loads(ranging.model_dump_json())) - {"reason"} == set(old)
    sized = apply_ranging(spec, ranging)
    assert sized == apply_ranging(spec, old)  # a dict is validated the same way
    knob = {"Server": ("target_qps", "target_qps"), "Offline": ("expected_qps", "expected_qps"),
            "SingleStream": ("target_latency_ms", "expected_latency_ms"),
            "MultiStream": ("target_latency_ms", "expected_latency_ms")}[scenario]
    assert getattr(sized, knob[0]) == old[knob[1]]
    assert apply_ranging(spec, None) is spec


def test_a_ranging_file_of_another_scenario_is_refused(tmp_path):
    from benchwright.harness.steps import read_ranging
    from pydantic import ValidationError

    path = tmp_path / "Server.json"
    path.write_text(ServerRanging(scenario="Server", benchmark="b", system="s", precision="fp32", trials=(),
                                  max_valid_qps=1.0, target_qps=1.0, offline_qps=1.0).model_dump_json())
    with pytest.raises(ValidationError):
        read_ranging(_spec("Offline"), path)


class FakeLoadGen:
    """Stands in for run_isolated + read_run: Offline runs at ``throughput``; Server is VALID up to ``max_qps``."""

    def __init__(self, throughput=1000.0, max_qps=700.0, p50_ns=500_000):
        self.throughput, self.max_qps, self.p50_ns = throughput, max_qps, p50_ns
        self.specs: dict[str, RunSpec] = {}

    def run_isolated(self, spec, model_dir, data_dir, out_dir, **_):
        self.specs[str(out_dir)] = spec

    def read_run(self, run_dir):
        s = self.specs[str(run_dir)]
        if s.scenario is Scenario.Offline:
            valid, value = True, self.throughput
        elif s.scenario is Scenario.Server:
            valid, value = s.target_qps <= self.max_qps, s.target_qps
        else:
            valid, value = True, self.p50_ns * 1.2
        return SimpleNamespace(result_validity="VALID" if valid else "INVALID", metric_value=value,
                               metric=policy(s.scenario).metric.name,
                               latency=SimpleNamespace(p50_ns=self.p50_ns, p99_ns=2 * self.p50_ns),
                               first_token_latency=None, time_per_output_token=None)  # not an LLM


def _old_range(spec: RunSpec, fake: FakeLoadGen, steps: int = 6) -> dict:
    """steps.range_job's computation before the policies (same trial order and rounding)."""
    import math

    trials = []

    def trial(s):
        fake.run_isolated(s, None, None, "x")
        r = fake.read_run("x")
        trials.append({"target_qps": s.target_qps, "expected_qps": s.expected_qps, "validity": r.result_validity,
                       "metric": r.metric_value, "p99_ns": r.latency.p99_ns})
        return r

    def short(s, **update):
        return s.model_copy(update={"mode": "performance", "min_duration_ms": min(2000, s.min_duration_ms or 2000),
                                    "progress_interval_s": 60.0, **update})

    if spec.scenario.value in ("SingleStream", "MultiStream"):
        r = trial(short(spec))
        median_ms = (r.latency.p50_ns or 1_000_000) / 1e6
        out = {"scenario": spec.scenario.value, "measured_p50_ms": round(median_ms, 4),
               "expected_latency_ms": round(max(0.001, median_ms * 0.5), 4)}
    else:
        guess = spec.expected_qps or 1000.0
        offline = trial(short(spec.model_copy(update={"scenario": Scenario.Offline}), expected_qps=guess,
                              target_qps=None, target_latency_ms=None, target_latency_percentile=None))
        throughput = float(offline.metric_value or guess)
        if spec.scenario.value == "Offline":
            out = {"scenario": "Offline", "expected_qps": round(throughput * 1.25, 1), "measured_qps": throughput}
        else:
            lo, hi, best = 0.0, throughput, None
            for i in range(steps):
                qps = hi if i == 0 else (lo + hi) / 2
                if trial(short(spec, target_qps=round(qps, 1))).result_validity == "VALID":
                    best, lo = qps, qps
                    if i == 0:
                        break
                else:
                    hi = qps
            out = {"scenario": "Server", "max_valid_qps": round(best, 1),
                   "target_qps": round(max(1.0, math.floor(best * 0.8)), 1), "offline_qps": throughput}
    out.update({"version": 1, "benchmark": spec.benchmark, "system": spec.system, "precision": spec.precision.value,
                "trials": trials})
    return out


@pytest.mark.parametrize("scenario,fake", [
    ("Server", FakeLoadGen(max_qps=700.0)),
    ("Server", FakeLoadGen(max_qps=5000.0)),  # the Offline throughput itself is VALID: one Server trial
    ("Offline", FakeLoadGen(throughput=1234.5)),
    ("SingleStream", FakeLoadGen(p50_ns=333_333)),
    ("MultiStream", FakeLoadGen(p50_ns=2_000_000)),
])
def test_range_job_writes_what_it_wrote_before(scenario, fake, tmp_path, monkeypatch):
    from benchwright.harness import isolate, logs
    from benchwright.harness.steps import range_job, read_ranging

    monkeypatch.setattr(isolate, "run_isolated", fake.run_isolated)
    monkeypatch.setattr(logs, "read_run", fake.read_run)
    spec = _spec(scenario)
    out = tmp_path / f"{scenario}.json"
    outcome = range_job(spec, "model", "data", out, work_dir=tmp_path / "work")
    expected = _old_range(spec, FakeLoadGen(fake.throughput, fake.max_qps, fake.p50_ns))
    for t in expected["trials"]:  # LLM token latencies came later: none for these runs
        t.update(ttft_p99_ns=None, tpot_p99_ns=None)
    if scenario == "Server":  # Server's reason for finding no VALID QPS came later: none, a QPS was found
        expected["reason"] = None
    on_disk = json.loads(out.read_text())
    assert set(on_disk) == set(expected)
    assert on_disk == expected  # same keys, same values (numbers compare equal: 550 == 550.0)
    assert [set(t) for t in on_disk["trials"]] == [set(t) for t in expected["trials"]]
    assert read_ranging(spec, out) == outcome
    assert isinstance(outcome, (ServerRanging, OfflineRanging, LatencyRanging))
    assert outcome.summary() == {k: v for k, v in outcome.model_dump().items() if k != "trials"}
    assert next(iter(outcome.summary())) == "scenario"


def test_server_ranging_without_a_valid_qps_sizes_the_run_at_the_lowest_qps_and_says_why():
    """No trial VALID: the ranging is still a result (the performance run then stays INVALID and is recorded as
    such, so the campaign goes on to its report), with max_valid_qps None and the reason."""
    fake = FakeLoadGen(max_qps=0.0)
    trials: list[RangingTrial] = []

    def trial(s, name):
        fake.run_isolated(s, None, None, name)
        r = fake.read_run(name)
        trials.append(RangingTrial(target_qps=s.target_qps, expected_qps=s.expected_qps,
                                   validity=r.result_validity, metric=r.metric_value, p99_ns=r.latency.p99_ns))
        return r

    ranging = policy("Server").range(_spec("Server"), trial, trials, 3)
    server = [t for t in ranging.trials if t.target_qps is not None]  # after the Offline trial
    assert ranging.max_valid_qps is None and [t.validity for t in server] == ["INVALID"] * 3
    assert ranging.target_qps == min(t.target_qps for t in server) == 250.0  # 1000, then 500, then 250
    assert "no Server QPS between 0 and 1000 was VALID" in ranging.reason and "lowest tried: 250.0 QPS" in ranging.reason
