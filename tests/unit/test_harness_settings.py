"""LoadGen settings: submission mode carries the official seeds and durations; smoke mode is labelled."""

from __future__ import annotations

import pytest

from benchwright.harness.isolate import call_in_fresh_process
from benchwright.harness.settings import user_conf

ATTRS = ("min_duration_ms", "qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed",
         "performance_sample_count_override", "server_target_latency_ns", "server_target_latency_percentile",
         "multi_stream_samples_per_query")


def _loaded(spec, run_dir):
    """The settings LoadGen would run with, read back from the TestSettings object (in a fresh process)."""
    from benchwright.harness.settings import test_settings

    settings = test_settings(spec, run_dir)
    return {key: getattr(settings, key) for key in ATTRS}


def build_settings(spec, run_dir):
    class Settings:
        pass

    out = Settings()
    out.__dict__.update(call_in_fresh_process(_loaded, spec, run_dir))
    return out

OFFICIAL = {"qsl_rng_seed": 2085463073848966840, "sample_index_rng_seed": 2747215439041700203,
            "schedule_rng_seed": 16159082839903944936}
SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_submission_mode_settings_carry_official_seeds_and_durations(config_tree, scenario, tmp_path):
    config_tree.campaign["mode"] = "submission"
    plan = config_tree.load()
    spec = plan.run_spec("digits-cnn", "cpu-host", scenario, "int8", "performance")
    assert spec.min_duration_ms is None and spec.seeds is None  # nothing overrides the official values
    settings = build_settings(spec, tmp_path)
    assert settings.min_duration_ms == 600000
    for key, value in OFFICIAL.items():
        assert getattr(settings, key) == value, key
    assert settings.performance_sample_count_override == 1024
    conf = (tmp_path / "user.conf").read_text()
    assert "submission mode" in conf and "min_duration" not in conf and "rng_seed" not in conf
    if scenario == "Server":
        assert settings.server_target_latency_ns == 15_000_000
        assert settings.server_target_latency_percentile == pytest.approx(0.99)
    if scenario == "MultiStream":
        assert settings.multi_stream_samples_per_query == 8


def test_smoke_mode_settings_are_short_and_labelled(config_tree, tmp_path):
    plan = config_tree.load()
    spec = plan.run_spec("digits-cnn", "cpu-host", "Offline", "fp32", "performance")
    settings = build_settings(spec, tmp_path)
    assert settings.min_duration_ms == 2000
    assert settings.qsl_rng_seed == OFFICIAL["qsl_rng_seed"]
    assert "smoke mode" in (tmp_path / "user.conf").read_text()


def test_smoke_seed_override_reaches_loadgen(config_tree, tmp_path):
    config_tree.campaign["loadgen"] = {"seeds": {"qsl_rng_seed": 1, "sample_index_rng_seed": 2,
                                                 "schedule_rng_seed": 3}}
    spec = config_tree.load().run_spec("digits-cnn", "cpu-host", "Server", "fp32", "performance")
    settings = build_settings(spec, tmp_path)
    assert (settings.qsl_rng_seed, settings.sample_index_rng_seed, settings.schedule_rng_seed) == (1, 2, 3)


def test_sku_tuning_reaches_user_conf(config_tree):
    spec = config_tree.load().run_spec("digits-cnn", "cpu-host", "Server", "fp32", "performance")
    assert (spec.batch_size, spec.threads, spec.batching_timeout_us, spec.target_qps) == (16, 2, 1000, 500)
    conf = user_conf(spec)
    assert "resnet50.Server.target_qps = 500" in conf
    assert "resnet50.Server.target_latency = 15" in conf
    assert "resnet50.*.performance_sample_count_override = 1024" in conf


def test_a_submission_spec_cannot_override_seeds(config_tree):
    spec = config_tree.load().run_spec("digits-cnn", "cpu-host", "Server", "fp32", "performance")
    from benchwright.schemas.base import RunMode

    bad = spec.model_copy(update={"run_mode": RunMode.submission, "seeds": spec.seeds or _seeds()})
    with pytest.raises(ValueError, match="cannot override"):
        user_conf(bad)


def _seeds():
    from benchwright.schemas.rules import LoadGenSeeds

    return LoadGenSeeds(qsl_rng_seed=1, sample_index_rng_seed=2, schedule_rng_seed=3)


def _load_twice(spec, run_dir):
    from benchwright.harness.settings import SettingsAlreadyLoaded, test_settings

    test_settings(spec, run_dir)
    try:
        test_settings(spec, run_dir)
    except SettingsAlreadyLoaded as exc:
        return str(exc)
    return None


def test_a_second_load_in_one_process_is_refused(config_tree, tmp_path):
    # LoadGen applies mlperf.conf only on a process's first FromConfig; a silent second load would run with
    # seed 0 and a 10 s minimum duration.
    spec = config_tree.load().run_spec("digits-cnn", "cpu-host", "Offline", "fp32", "performance")
    message = call_in_fresh_process(_load_twice, spec, tmp_path)
    assert message is not None and "fresh process" in message


def test_next_attempt_adjusts_the_knob_that_sizes_each_scenario(config_tree):
    from types import SimpleNamespace

    from benchwright.harness.steps import next_attempt

    plan = config_tree.load()
    short = SimpleNamespace(min_duration_met=False, min_queries_met=True)
    latency = SimpleNamespace(min_duration_met=True, min_queries_met=True)  # INVALID for latency, not length
    server = plan.run_spec("digits-cnn", "cpu-host", "Server", "fp32", "performance")
    assert next_attempt(server, latency).target_qps == pytest.approx(server.target_qps * 0.8)
    offline = plan.run_spec("digits-cnn", "cpu-host", "Offline", "fp32", "performance")
    assert next_attempt(offline, short).expected_qps == offline.expected_qps * 2
    assert next_attempt(offline, latency) is None  # a longer run would not help
    single = plan.run_spec("digits-cnn", "cpu-host", "SingleStream", "fp32", "performance")
    assert next_attempt(single, short).target_latency_ms == single.target_latency_ms / 2
