"""LoadGen TestSettings from a RunSpec, through a generated user.conf on top of LoadGen's built-in mlperf.conf.

``FromConfig`` is called exactly once per settings object (LoadGen logs "Multiple conf files are used" as an
error otherwise). Nothing here touches the seeds or durations in submission mode: those come from mlperf.conf.
"""

from __future__ import annotations

from pathlib import Path

import mlperf_loadgen as lg

from ..fsutil import atomic_write_text
from ..schemas.base import RunMode
from .scenarios import policy
from .spec import RunSpec

MODES = {"performance": lg.TestMode.PerformanceOnly, "accuracy": lg.TestMode.AccuracyOnly}


def user_conf(spec: RunSpec) -> str:
    """The user.conf text: the SKU's tuning and the campaign's overrides, in LoadGen's key = value form."""
    run_as = policy(spec.scenario)
    model, scenario = spec.loadgen_model + run_as.model_suffix, run_as.loadgen_name
    lines = [f"# benchwright user.conf: {spec.benchmark} on {spec.system}, {spec.scenario.value}, "
             f"{spec.precision.value}, {spec.run_mode.value} mode"]

    def put(key: str, value: object, where: str = scenario) -> None:
        lines.append(f"{model}.{where}.{key} = {value}")

    put("performance_sample_count_override", spec.performance_sample_count, "*")
    for key, value in policy(spec.scenario).conf_items(spec):
        put(key, _num(value))
    if spec.min_duration_ms is not None:
        put("min_duration", spec.min_duration_ms)
    if spec.min_query_count is not None:
        put("min_query_count", spec.min_query_count)
    if spec.seeds is not None:
        if spec.run_mode is RunMode.submission:
            raise ValueError("a submission run cannot override LoadGen's seeds")
        # LoadGen reads seeds only from its own mlperf.conf; test_settings sets them on the settings object.
        lines.append(f"# seeds overridden (smoke mode): {spec.seeds.model_dump()}")
    return "\n".join(lines) + "\n"


def _num(value: float) -> str:
    return f"{value:g}" if float(value) != int(value) else str(int(value))


_loads_in_this_process = 0


class SettingsAlreadyLoaded(RuntimeError):
    """LoadGen applies mlperf.conf only once per process; a second run here would use LoadGen's defaults."""


def loads_in_this_process() -> int:
    """How many LoadGen settings this process has loaded (only the first gets the official mlperf.conf)."""
    return _loads_in_this_process


def test_settings(spec: RunSpec, run_dir: str | Path) -> lg.TestSettings:
    """Write ``run_dir/user.conf`` and return the settings LoadGen will run with.

    Call it once per process (see benchwright.harness.isolate): LoadGen applies its built-in mlperf.conf only
    on the first FromConfig of a process, and later settings would silently miss the official values.
    """
    global _loads_in_this_process
    if _loads_in_this_process:
        raise SettingsAlreadyLoaded(
            "LoadGen settings were already loaded in this process; LoadGen would not apply mlperf.conf again "
            "(official seeds and durations). Run each LoadGen test in a fresh process "
            "(benchwright.harness.isolate.call_in_fresh_process).")
    _loads_in_this_process += 1
    path = Path(run_dir) / "user.conf"
    atomic_write_text(path, user_conf(spec))
    settings = lg.TestSettings()
    run_as = policy(spec.scenario)
    settings.FromConfig(str(path), spec.loadgen_model + run_as.model_suffix, run_as.loadgen_name)
    settings.scenario = run_as.test_scenario()
    settings.mode = MODES[spec.mode]
    if spec.model.task == "text_generation":
        settings.use_token_latencies = True  # TTFT and TPOT, as MLCommons' LLM harnesses measure them
    if spec.seeds is not None:
        for key, value in spec.seeds.model_dump().items():
            setattr(settings, key, value)
    return settings
