"""The campaign is checked against the schemas and the run rules before any job runs.

Each broken config must be rejected with a message that names the file, the field and the fix.
"""

from __future__ import annotations

import pytest

from benchwright.config import load_plan_file, read_yaml
from benchwright.errors import CampaignError


def rejected(tree, *, file: str, field: str, message: str, fix: str):
    with pytest.raises(CampaignError) as info:
        tree.load()
    matches = [p for p in info.value.problems if p.file.endswith(file) and p.field == field]
    assert matches, f"no problem for {file}:{field}; got:\n{info.value}"
    problem = matches[0]
    assert message in problem.message, problem.render()
    assert fix in problem.fix, problem.render()
    assert "no job was started" in str(info.value)
    return info.value


def test_default_campaign_is_valid(config_tree):
    plan = config_tree.load()
    assert plan.campaign.mode.value == "smoke"
    assert len(plan.inference_jobs) == 8 + 3  # digits: 4 scenarios x 2 precisions; the LM: 3 scenarios
    assert plan.training_jobs == (("digits-cnn", "cpu-host"),)
    seeds = plan.training_seeds("digits-cnn")
    assert len(seeds) == 5 and len(set(seeds)) == 5
    assert plan.min_duration_ms() == plan.rules.inference.smoke.min_duration_ms


# --- schema violations ---------------------------------------------------------------------------------------

def test_misspelled_campaign_key(config_tree):
    config_tree.campaign["submiter"] = config_tree.campaign.pop("submitter")
    err = rejected(config_tree, file="config/config.yaml", field="submiter", message="unknown key `submiter`",
                   fix="did you mean `submitter`?")
    # The now-missing key is reported too, in the same error.
    assert any(p.field == "submitter" and "missing" in p.message for p in err.problems)


def test_misspelled_nested_key_in_sku(config_tree):
    config_tree.edit("systems", "cpu-host", lambda d: d["accelerators"].update(cuont=0))
    rejected(config_tree, file="config/systems/cpu-host.yaml", field="accelerators.cuont",
             message="unknown key `cuont`", fix="did you mean `count`?")


def test_wrong_type(config_tree):
    config_tree.edit("systems", "cpu-host", lambda d: d["host"].update(processors_per_node="two"))
    rejected(config_tree, file="config/systems/cpu-host.yaml", field="host.processors_per_node",
             message="expected a valid integer", fix="CPU sockets per node")


def test_wrong_type_in_union_with_auto(config_tree):
    config_tree.edit("systems", "cpu-host", lambda d: d["host"].update(processor_core_count="many"))
    rejected(config_tree, file="config/systems/cpu-host.yaml", field="host.processor_core_count",
             message="'auto'", fix="Cores per processor")


def test_unknown_sku(config_tree):
    config_tree.campaign["benchmarks"]["digits-cnn"]["systems"] = ["cpu-hots"]
    rejected(config_tree, file="config/config.yaml", field="benchmarks.digits-cnn.systems",
             message="unknown SKU `cpu-hots`", fix="did you mean `cpu-host`?")


def test_unknown_benchmark(config_tree):
    config_tree.campaign["benchmarks"]["digits"] = config_tree.campaign["benchmarks"].pop("digits-cnn")
    rejected(config_tree, file="config/config.yaml", field="benchmarks.digits", message="unknown benchmark",
             fix="did you mean `digits-cnn`?")


def test_unknown_scenario_name(config_tree):
    config_tree.campaign["benchmarks"]["digits-cnn"]["scenarios"] = ["offline"]
    rejected(config_tree, file="config/config.yaml", field="benchmarks.digits-cnn.scenarios[0]",
             message="`offline` is not allowed", fix="did you mean `Offline`?")


def test_negative_batch_size(config_tree):
    config_tree.edit("systems", "cpu-host",
                     lambda d: d["tuning"]["digits-cnn"]["scenarios"]["Offline"].update(batch_size=-4))
    rejected(config_tree, file="config/systems/cpu-host.yaml",
             field="tuning.digits-cnn.scenarios.Offline.batch_size", message="greater than 0",
             fix="Largest batch the SUT forms")


def test_dataset_without_sha256(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["dataset"]["files"][0].pop("sha256"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="dataset.files[0].sha256",
             message="required key `sha256` is missing", fix="add `sha256:`")


def test_malformed_sha256(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["dataset"]["files"][0].update(sha256="abc"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="dataset.files[0].sha256",
             message="'abc' is not valid", fix="64 lower-case hex digits")


def test_bad_accuracy_target_fraction(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["accuracy"].update(target_fraction=0.95))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="accuracy.target_fraction",
             message="`0.95` is not allowed", fix="0.99, 0.999")


def test_weights_need_a_source(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["model"].update(weights={"url": "https://x/w.pt"}))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="model.weights",
             message="`url` needs the model file's `sha256`", fix="weights")


def test_benchmark_name_differs_from_file(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d.update(name="digits"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="name",
             message="differs from the file name", fix="set `name: digits-cnn`")


def test_malformed_yaml_names_line(config_tree):
    path = config_tree.path("systems", "cpu-host")
    path.write_text(path.read_text().replace("number_of_nodes: 1", "number_of_nodes: [1"))
    with pytest.raises(CampaignError) as info:
        config_tree.load()
    problem = info.value.problems[0]
    assert problem.file.endswith("config/systems/cpu-host.yaml")
    assert problem.field.startswith("line ") and "not valid YAML" in problem.message


def test_duplicate_yaml_key_is_refused(config_tree):
    path = config_tree.path("systems", "cpu-host")
    path.write_text(path.read_text() + "cooling: liquid\n")
    with pytest.raises(CampaignError) as info:
        config_tree.load()
    assert "found the key 'cooling' twice" in info.value.problems[0].message


def test_campaign_file_must_be_a_mapping(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("- just\n- a list\n")
    with pytest.raises(CampaignError, match="expected a mapping"):
        load_plan_file(tmp_path / "c.yaml", root=tmp_path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CampaignError, match="does not exist"):
        read_yaml(tmp_path / "nope.yaml")


# --- run rules -----------------------------------------------------------------------------------------------

OTHER_SEEDS = {"qsl_rng_seed": 1, "sample_index_rng_seed": 2, "schedule_rng_seed": 3}


def test_seed_override_in_submission_mode(config_tree):
    config_tree.campaign.update(mode="submission", loadgen={"seeds": OTHER_SEEDS})
    rejected(config_tree, file="config/config.yaml", field="loadgen.seeds", message="official LoadGen seeds",
             fix="remove `loadgen.seeds`")


def test_seed_override_allowed_in_smoke_mode(config_tree):
    config_tree.campaign.update(loadgen={"seeds": OTHER_SEEDS})
    assert config_tree.load().campaign.loadgen.seeds.qsl_rng_seed == 1


def test_short_duration_in_submission_mode(config_tree):
    config_tree.campaign.update(mode="submission", loadgen={"min_duration_ms": 60000})
    rejected(config_tree, file="config/config.yaml", field="loadgen.min_duration_ms",
             message="60000 ms is under the run rules' minimum of 600000 ms", fix="use `mode: smoke`")


def test_low_query_count_in_submission_mode(config_tree):
    config_tree.campaign.update(mode="submission", loadgen={"min_query_count": 10})
    rejected(config_tree, file="config/config.yaml", field="loadgen.min_query_count",
             message="under the SingleStream minimum of 100, the MultiStream minimum of 662", fix="at least 662")


def test_submission_mode_uses_official_duration(config_tree):
    config_tree.campaign.update(mode="submission")
    assert config_tree.load().min_duration_ms() == 600000


def test_duplicate_training_seeds(config_tree):
    config_tree.campaign["training"] = {"seeds": [1, 2, 2, 3, 4]}
    rejected(config_tree, file="config/config.yaml", field="training.seeds", message="must be distinct",
             fix="One seed per training run")


def test_wrong_number_of_training_seeds(config_tree):
    config_tree.campaign["training"] = {"seeds": [1, 2, 3]}
    rejected(config_tree, file="config/config.yaml", field="training.seeds", message="needs 5 runs",
             fix="give exactly 5 distinct seeds")


def test_own_model_in_closed_division(config_tree):
    config_tree.campaign["division"] = "closed"
    rejected(config_tree, file="config/config.yaml", field="division", message="closed division runs only the "
             "official models", fix="use `division: open`")


def test_unmapped_model_is_rejected_even_in_open(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"].pop("mlperf_benchmark"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="inference.mlperf_benchmark",
             message="maps to no official MLPerf benchmark", fix="resnet")


def test_mapping_to_unknown_official_benchmark(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"].update(mlperf_benchmark="resnet-50"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="inference.mlperf_benchmark",
             message="not an official benchmark", fix="did you mean `resnet`?")


def test_mapping_to_a_benchmark_of_another_task(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"].update(mlperf_benchmark="bert-99"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="inference.mlperf_benchmark",
             message="maps a image_classification model to `bert-99`", fix="same task")


def test_performance_sample_count_under_official_minimum(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"].update(performance_sample_count=512))
    config_tree.campaign["division"] = "closed"
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="inference.performance_sample_count",
             message="512 is under the resnet minimum of 1024", fix="at least 1024")


def test_an_open_model_of_our_own_may_use_fewer_performance_samples(config_tree):
    # the open division runs our own models on our own (smaller) data; the bundle's checker run names the gap
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"].update(performance_sample_count=512))
    assert config_tree.load().benchmarks["digits-cnn"].inference.performance_sample_count == 512


def test_scenario_the_benchmark_does_not_support(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"]["scenarios"].pop("Server"))
    config_tree.edit("systems", "cpu-host", lambda d: d["tuning"]["digits-cnn"]["scenarios"].pop("Server"))
    rejected(config_tree, file="config/config.yaml", field="benchmarks.digits-cnn.scenarios",
             message="does not support the Server scenario", fix="SingleStream, MultiStream, Offline")


def test_precision_the_sku_cannot_run(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"].update(precisions=["fp32", "int8", "bf16"]))
    config_tree.campaign["benchmarks"]["digits-cnn"]["precisions"] = ["bf16"]
    rejected(config_tree, file="config/config.yaml", field="benchmarks.digits-cnn.precisions",
             message="SKU `cpu-host` does not run bf16", fix="config/systems/cpu-host.yaml")


def test_changed_non_borrowable_hyperparameter_in_closed(config_tree):
    # An official training benchmark (ssd) in closed; the SKU changes a hyperparameter closed keeps fixed.
    def make_ssd(d):
        d.update(name="ssd", task="object_detection")
        d.pop("inference")
        d.pop("calibration")
        d["training"].update(mlperf_benchmark="ssd", optimizer="adam",
                             hyperparameters={"global_batch_size": 256, "opt_base_learning_rate": 1e-4,
                                              "opt_weight_decay": 0.0})
        d["training"].pop("required_runs")

    config_tree.write("benchmarks", "ssd", config_tree.read("benchmarks", "digits-cnn"))
    config_tree.edit("benchmarks", "ssd", make_ssd)
    config_tree.edit("systems", "cpu-host", lambda d: d["tuning"].update(
        ssd={"training": {"hyperparameters": {"global_batch_size": 512, "opt_weight_decay": 0.1}}}))
    config_tree.campaign.update(division="closed",
                                benchmarks={"ssd": {"systems": ["cpu-host"], "training": True}})
    err = rejected(config_tree, file="config/systems/cpu-host.yaml",
                   field="tuning.ssd.training.hyperparameters.opt_weight_decay",
                   message="does not allow changing `opt_weight_decay`", fix="global_batch_size")
    # The borrowable one (global_batch_size) is accepted.
    assert not any(p.field.endswith("global_batch_size") for p in err.problems)


def test_unknown_hyperparameter_in_tuning(config_tree):
    config_tree.edit("systems", "cpu-host", lambda d: d["tuning"]["digits-cnn"].update(
        training={"hyperparameters": {"opt_base_learnig_rate": 0.1}}))
    rejected(config_tree, file="config/systems/cpu-host.yaml",
             field="tuning.digits-cnn.training.hyperparameters.opt_base_learnig_rate",
             message="not a hyperparameter", fix="did you mean `opt_base_learning_rate`?")


def official_resnet(config_tree):
    """The digits model under the official benchmark name `resnet` (with its own copy of the calibration list)."""
    config_tree.write("benchmarks", "resnet", config_tree.read("benchmarks", "digits-cnn"))
    config_tree.edit("benchmarks", "resnet", lambda d: d.update(name="resnet"))
    (config_tree.root / "config/benchmarks/resnet.calibration.txt").write_bytes(
        (config_tree.root / "config/benchmarks/digits-cnn.calibration.txt").read_bytes())
    config_tree.edit("benchmarks", "resnet", lambda d: d["calibration"].update(sample_list="resnet.calibration.txt"))


def test_closed_submission_needs_every_scenario_of_the_system_type(config_tree):
    official_resnet(config_tree)
    config_tree.campaign.update(division="closed", mode="submission",
                                benchmarks={"resnet": {"systems": ["cpu-host"], "scenarios": ["Offline"]}})
    rejected(config_tree, file="config/config.yaml", field="benchmarks.resnet.scenarios",
             message="must cover MultiStream, SingleStream too", fix="add MultiStream, SingleStream")


def test_closed_result_holds_one_precision(config_tree):
    official_resnet(config_tree)
    config_tree.campaign.update(division="closed", benchmarks={
        "resnet": {"systems": ["cpu-host"], "scenarios": ["Offline"], "precisions": ["fp32", "int8"]}})
    rejected(config_tree, file="config/config.yaml", field="benchmarks.resnet.precisions",
             message="one result per benchmark and scenario", fix="keep the one precision to submit")


def test_calibration_list_checksum(config_tree):
    (config_tree.root / "config/benchmarks/digits-cnn.calibration.txt").write_text("1\n2\n")
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="calibration.sha256",
             message="has sha256", fix="restore the official calibration list")


def test_unknown_mlperf_round(config_tree):
    config_tree.campaign["mlperf_version"] = "2.0"
    rejected(config_tree, file="config/config.yaml", field="mlperf_version", message="no run rules",
             fix="6.1")


def test_accepting_mismatch_of_an_unused_sku(config_tree):
    config_tree.campaign["accept_system_mismatch"] = ["a100-sxm4-80gb-x8"]
    rejected(config_tree, file="config/config.yaml", field="accept_system_mismatch",
             message="not a SKU this campaign uses", fix="cpu-host")


def test_int8_without_calibration_set(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d.pop("calibration"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="",
             message="int8 is listed in inference.precisions but the benchmark has no `calibration`",
             fix="")


def test_every_problem_is_reported_at_once(config_tree):
    config_tree.edit("systems", "cpu-host", lambda d: d.update(cooling=""))
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["training"].update(max_epochs=0))
    with pytest.raises(CampaignError) as info:
        config_tree.load()
    fields = {(p.file.rsplit("/", 1)[-1], p.field) for p in info.value.problems}
    assert ("cpu-host.yaml", "cooling") in fields and ("digits-cnn.yaml", "training.max_epochs") in fields


def test_override_file_is_named_for_the_field_it_sets(config_tree, tmp_path):
    from benchwright.config import load_plan

    base = config_tree.root / "config/config.yaml"
    override = tmp_path / "override.yaml"
    override.write_text("mode: submission\nloadgen: {min_duration_ms: 1000}\n")
    merged = {**config_tree.campaign, "mode": "submission", "loadgen": {"min_duration_ms": 1000}}
    with pytest.raises(CampaignError) as info:
        load_plan(merged, [base, override], root=config_tree.root)
    assert info.value.problems[0].file == "override.yaml"


def test_shipped_submission_campaign_keeps_official_settings(config_tree):
    from benchwright.config import load_plan

    override = config_tree.root / "config/campaigns/submission-offline.yaml"
    base = config_tree.root / "config/config.yaml"
    merged = {**config_tree.campaign, **read_yaml(override)}
    plan = load_plan(merged, [base, override], root=config_tree.root)
    assert plan.campaign.mode.value == "submission"
    assert [(j.scenario.value, j.precision.value) for j in plan.inference_jobs] == [("Offline", "int8")]
    spec = plan.run_spec("digits-cnn", "cpu-host", "Offline", "int8", "performance")
    assert spec.min_duration_ms is None and spec.seeds is None and spec.run_mode.value == "submission"


def test_trained_weights_need_a_recipe(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d.pop("training"))
    config_tree.campaign["benchmarks"]["digits-cnn"]["training"] = False
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="",
             message="needs a `training` section", fix="")


def test_loading_from_another_directory_resolves_files_against_the_root(tmp_path, monkeypatch):
    from benchwright.config import load_plan_file

    from ..conftest import REPO

    monkeypatch.chdir(tmp_path)  # not the checkout
    plan = load_plan_file(REPO / "config/config.yaml", root=REPO)
    assert plan.benchmarks["digits-cnn"].training.compliance_rules == "digits-cnn.compliance.yaml"


def test_missing_compliance_rules_file(config_tree):
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["training"].update(compliance_rules="nope.yaml"))
    rejected(config_tree, file="config/benchmarks/digits-cnn.yaml", field="training.compliance_rules",
             message="nope.yaml does not exist", fix="create the rules file")


# --- report.baseline -----------------------------------------------------------------------------------------

def test_a_report_baseline_that_does_not_exist(config_tree):
    config_tree.campaign["report"] = {"baseline": "submissions/nightly/v12"}
    rejected(config_tree, file="config/config.yaml", field="report.baseline",
             message="submissions/nightly/v12 does not exist", fix="submissions/<campaign>/v1")


def test_a_report_baseline_with_an_unset_variable(config_tree, monkeypatch):
    monkeypatch.delenv("BW_BASELINE_ROOT", raising=False)
    config_tree.campaign["report"] = {"baseline": "${BW_BASELINE_ROOT}/v12"}
    rejected(config_tree, file="config/config.yaml", field="report.baseline", message="BW_BASELINE_ROOT",
             fix="set the variable")


def test_a_report_baseline_reaches_the_report_spec_expanded(config_tree, monkeypatch):
    from benchwright.report.table import report_spec

    (config_tree.root / "submissions/nightly/v12").mkdir(parents=True)
    monkeypatch.setenv("BW_BASELINE_ROOT", "submissions/nightly")
    config_tree.campaign["report"] = {"baseline": "${BW_BASELINE_ROOT}/v12", "regression_threshold_pct": 3}
    spec = report_spec(config_tree.load())
    assert spec.baseline == "submissions/nightly/v12" and spec.regression_threshold_pct == 3
