"""The default LM as a benchmark (config/benchmarks/pydoc-lm.yaml): its schema (task, transformers backend,
causal-lm recipe, endpoint), the run rules of LLMs and the Interactive scenario, and the clear errors of bad input."""

from __future__ import annotations

import pytest

from benchwright.schemas.base import Scenario
from tests.unit.test_config import rejected


def lm_campaign(tree, **selection):
    tree.campaign["benchmarks"] = {"digits-cnn": None, "pydoc-lm": {
        "systems": ["cpu-host"], "scenarios": ["Offline", "Server", "Interactive"], "precisions": ["fp32"],
        **selection}}
    return tree


def test_the_lm_campaign_plans_three_llm_scenarios(config_tree):
    plan = lm_campaign(config_tree).load()
    assert sorted(j.scenario.value for j in plan.inference_jobs) == ["Interactive", "Offline", "Server"]
    spec = plan.run_spec("pydoc-lm", "cpu-host", "Interactive", "fp32", "performance")
    assert spec.loadgen_model == "llama3_1-8b" and spec.model.task == "text_generation"
    assert (spec.model.backend.value, spec.model.format.value) == ("transformers", "transformers")
    assert spec.model.task_parameters == {"max_new_tokens": 16}
    assert (spec.batch_size, spec.threads, spec.target_qps) == (8, 1, 40)
    bench = plan.benchmarks["pydoc-lm"]
    assert bench.model.weights.recipe == "causal-lm" and bench.accuracy.metric == "rougeL"
    official = plan.rules.inference.benchmarks["llama3.1-8b"]
    assert official.task is bench.task and official.compliance_tests == ("TEST06",)
    assert {s: (v.ttft, v.tpot) for s, v in official.token_latency_limits_ms.items()} == {
        Scenario.Server: (2000, 100), Scenario.Interactive: (500, 30)}


def test_interactive_is_only_for_llms(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"]["scenarios"].update(Interactive={}))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="",
             message="`Interactive` is a scenario of LLMs", fix="")


def test_a_generation_backend_needs_the_text_generation_task(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["model"].update(
        backend="transformers", format="transformers", weights={"path": "/models/lm", "sha256": "0" * 64}))
    with pytest.raises(Exception) as info:
        config_tree.load()
    assert "config/benchmarks/digits-cnn.yaml" in str(info.value)
    assert "text_generation" in str(info.value)


def test_unknown_lm_hyperparameter(config_tree):
    lm_campaign(config_tree).edit("benchmarks", "pydoc-lm",
                                  lambda d: d["model"]["weights"]["hyperparameters"].update(epoch=3))
    rejected(config_tree, file="config/benchmarks/pydoc-lm.yaml", field="model.weights",
             message="unknown causal-lm hyperparameter(s) ['epoch']", fix="")


def _endpoint(tree, **endpoint):
    def change(d):
        d["model"].update(backend="endpoint", endpoint={"base_url": "http://127.0.0.1:8000/v1", "model": "lm",
                                                        **endpoint})
    lm_campaign(tree).edit("benchmarks", "pydoc-lm", change)
    return tree


def test_an_endpoint_benchmark_is_valid_and_names_its_key_variable(config_tree):
    plan = _endpoint(config_tree, api_key_env="LM_API_KEY").load()
    spec = plan.run_spec("pydoc-lm", "cpu-host", "Server", "fp32", "performance")
    assert spec.model.backend.value == "endpoint"
    assert spec.model.endpoint.base_url == "http://127.0.0.1:8000/v1" and spec.model.endpoint.api_key_env == "LM_API_KEY"


def test_an_api_key_in_the_yaml_is_refused_without_echoing_it(config_tree):
    secret = "sk-do-not-print-me-0123456789"
    err = rejected(_endpoint(config_tree, api_key=secret), file="config/benchmarks/pydoc-lm.yaml",
                   field="model.endpoint", message="an API key never goes into the campaign",
                   fix="")
    assert "api_key_env" in str(err) and secret not in str(err)


def test_an_endpoint_url_that_is_not_http_is_refused(config_tree):
    rejected(_endpoint(config_tree, base_url="grpc://127.0.0.1:8001"), file="config/benchmarks/pydoc-lm.yaml",
             field="model.endpoint.base_url", message="is not an http(s) URL", fix="")


def test_smoke_runs_are_short_but_can_meet_early_stopping(config_tree):
    from benchwright.harness.scenarios import early_stopping_min_queries

    # LoadGen's early stopping with every query under the bound: p^n <= 1 - 0.99
    assert (early_stopping_min_queries(99), early_stopping_min_queries(90)) == (459, 44)
    plan = lm_campaign(config_tree).load()
    counts = {s: plan.run_spec("pydoc-lm", "cpu-host", s, "fp32", "performance").min_query_count
              for s in ("Offline", "Server", "Interactive")}
    # Offline: one pass over the 64 performance samples, not mlperf.conf's whole llama3.1-8b dataset (13,368)
    assert counts == {"Offline": 64, "Server": 459, "Interactive": 459}
    config_tree.campaign["benchmarks"] = {"digits-cnn": {"systems": ["cpu-host"], "precisions": ["fp32"],
                                                         "scenarios": ["SingleStream", "MultiStream", "Offline"]}}
    digits = config_tree.load()
    # the image benchmark keeps LoadGen's own minimums (resnet50: 100, 662, 24,576)
    assert {s: digits.run_spec("digits-cnn", "cpu-host", s, "fp32", "performance").min_query_count
            for s in ("SingleStream", "MultiStream", "Offline")} == dict.fromkeys(
        ("SingleStream", "MultiStream", "Offline"))
    config_tree.campaign["loadgen"] = {"min_query_count": 2000}  # a campaign's own value wins
    assert lm_campaign(config_tree).load().run_spec("pydoc-lm", "cpu-host", "Server", "fp32",
                                                    "performance").min_query_count == 2000
