"""The DAG as a user runs it: lint, dry run, bad config, the data stage end to end, and a no-op re-run."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import shutil
import subprocess

import pytest
import yaml

from benchwright.fsutil import sha256_file

from .conftest import REPO, snakemake

pytestmark = pytest.mark.workflow

DIGITS = importlib.resources.files("sklearn") / "datasets" / "data" / "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


def test_dry_run_lists_every_stage(workdir):
    proc = snakemake(workdir, "-n")
    for rule in ("download", "preprocess", "detect_system", "train_reference", "quantize_int8", "range_performance",
                 "loadgen_performance", "loadgen_accuracy", "accuracy_check", "all"):
        assert f"rule {rule}:" in proc.stdout, rule


def test_rule_graph_builds_without_cores(workdir):
    # `snakemake --rulegraph` and `snakemake -n` must work without --cores (thread counts come from the SKUs).
    proc = snakemake(workdir, "--forceall", "--rulegraph")
    assert "loadgen_performance" in proc.stdout and "train_reference" in proc.stdout


def test_bad_config_stops_before_any_job(workdir):
    (workdir / "bad.yaml").write_text("mode: submission\nloadgen: {min_duration_ms: 1000}\n")
    proc = snakemake(workdir, "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert "bad.yaml: loadgen.min_duration_ms" in proc.stderr
    assert "under the run rules' minimum of 600000 ms" in proc.stderr
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


def _serve_digits(workdir, file_server, payload: bytes | None = None) -> None:
    base, served = file_server
    (served / "digits.csv.gz").write_bytes(payload if payload is not None else DIGITS.read_bytes())
    path = workdir / "config/benchmarks/digits-cnn.yaml"
    bench = yaml.safe_load(path.read_text())
    bench["dataset"]["files"][0]["url"] = f"{base}/digits.csv.gz"
    path.write_text(yaml.safe_dump(bench, sort_keys=False))


def test_http_dataset_goes_through_the_same_rule_and_gives_the_same_data(workdir, file_server, tmp_path):
    # Reference: the package:// source, as in the default campaign.
    local = tmp_path / "local"
    shutil.copytree(workdir / "config", local / "config")
    snakemake(local, "--cores", "2", "results/data/digits-cnn")
    # The same dataset served over HTTP on 127.0.0.1.
    _serve_digits(workdir, file_server)
    proc = snakemake(workdir, "--cores", "2", "results/data/digits-cnn")
    assert "rule download:" in proc.stdout + proc.stderr
    log = (workdir / "logs/download/sklearn-digits/digits.csv.gz.log").read_text()
    assert "127.0.0.1" in log
    remote = json.loads((workdir / "results/data/digits-cnn/manifest.json").read_text())
    reference = json.loads((local / "results/data/digits-cnn/manifest.json").read_text())
    assert remote == reference


def test_checksum_mismatch_fails_the_rule_and_leaves_nothing(workdir, file_server):
    _serve_digits(workdir, file_server, payload=b"not the digits file\n")
    proc = snakemake(workdir, "--cores", "1", "results/data/digits-cnn", check=False)
    assert proc.returncode != 0
    log = (workdir / "logs/download/sklearn-digits/digits.csv.gz.log").read_text()
    assert "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22" in log  # expected

    assert hashlib.sha256(b"not the digits file\n").hexdigest() in log  # actual
    assert not (workdir / "resources/datasets/sklearn-digits/digits.csv.gz").exists()
    assert list((workdir / "resources/quarantine/sklearn-digits").iterdir())
    assert not (workdir / "results/data/digits-cnn").exists()


def test_default_campaign_runs_and_a_second_run_has_nothing_to_do(default_campaign):
    workdir = default_campaign  # run once per session by the fixture, shared with the fault injection test
    manifest = json.loads((workdir / "results/data/digits-cnn/manifest.json").read_text())
    assert manifest["inputs"] == {"digits.csv.gz": DIGITS_SHA256}
    detected = json.loads((workdir / "results/systems/cpu-host/detected.json").read_text())
    assert detected["system"] == "cpu-host" and detected["differences"] == []
    _assert_inference_results(workdir)
    _assert_llm_results(workdir)
    _assert_training_results(workdir)
    _assert_bundle(workdir)
    _assert_report(workdir)
    again = snakemake(workdir, "--cores", "2", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def _assert_inference_results(workdir):
    """FP32 and INT8 in all four scenarios, performance and accuracy; every run VALID; records complete."""
    fp32_accuracy = {}
    for precision in ("fp32", "int8"):
        for scenario in ("SingleStream", "MultiStream", "Server", "Offline"):
            base = workdir / "results/inference/cpu-host/digits-cnn" / precision / scenario
            record = json.loads((base / "performance/record.json").read_text())
            result = record["result"]
            assert result["result_validity"] == "VALID", (precision, scenario, result.get("invalid_reason"))
            assert result["early_stopping_met"] is True
            assert result["metric_value"] > 0 and result["errors"] == []
            assert result["effective"]["min_duration_ms"] == 2000  # smoke mode, and labelled so
            assert record["smoke"] is True and record["spec"]["run_mode"] == "smoke"
            assert len(record["model_sha256"]) == 64 and record["detected"]["processor_model_name"]
            for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "user.conf"):
                assert (base / "performance" / name).stat().st_size > 0, name
            assert (base / "accuracy/mlperf_log_accuracy.json").stat().st_size > 0
            first, last = (base / "accuracy.txt").read_text().splitlines()
            assert first.startswith("accuracy=") and first.endswith("total=1024") and last.startswith("hash=")
            accuracy = float(first.split("=")[1].split("%")[0])
            if precision == "fp32":
                fp32_accuracy[scenario] = accuracy
            else:
                assert accuracy >= 0.99 * fp32_accuracy[scenario]


LM_SCENARIOS = ("Offline", "Server", "Interactive")


def _assert_llm_results(workdir):
    """The default LM: trained in the DAG, then Offline, Server and Interactive with LoadGen's token latencies
    (TTFT, TPOT, tokens/s), every run VALID, ROUGE accuracy at or above the target."""
    model = workdir / "results/models/pydoc-lm/fp32"
    assert {"config.json", "model.safetensors", "tokenizer.json", "record.json"} <= {p.name for p in model.iterdir()}
    for scenario in LM_SCENARIOS:
        base = workdir / "results/inference/cpu-host/pydoc-lm/fp32" / scenario
        record = json.loads((base / "performance/record.json").read_text())
        result = record["result"]
        assert result["result_validity"] == "VALID", (scenario, result.get("invalid_reason"))
        assert result["tokens_per_second"] > 0 and record["backend"]["backend"] == "transformers"
        assert record["model_sha256"] == sha256_file(model / "model.safetensors")
        detail = (base / "performance/mlperf_log_detail.txt").read_text()
        assert '"key": "requested_use_token_latencies", "value": true' in detail
        if scenario != "Offline":
            assert 0 < result["first_token_latency"]["p99_ns"] and 0 < result["time_per_output_token"]["p99_ns"]
            assert result["early_stopping_met"] is True
        assert ("llama3_1-8b-interactive.Server." in (base / "performance/user.conf").read_text()) == \
            (scenario == "Interactive")
        scores = json.loads((base / "accuracy.txt").read_text().splitlines()[0])
        assert scores["gen_num"] == 64 and scores["rougeL"] >= 0.99 * 10.676 - 1e-9


def _assert_report(workdir):
    """The results table (a row per inference configuration and per training run), the plots and the pages."""
    import pandas as pd

    report = workdir / "results/report"
    table = pd.read_csv(report / "results.csv")
    assert len(table[table.kind == "inference"]) == 8 + 3 and len(table[table.kind == "training"]) == 5
    assert set(table[table.kind == "inference"].validity) == {"VALID"} and set(table.run[table.kind == "inference"]) == {1}
    digits = table[(table.kind == "inference") & (table.benchmark == "digits-cnn")]
    lm = table[table.benchmark == "pydoc-lm"].set_index("scenario")
    assert (lm.tokens_per_s > 0).all() and (lm.cost_per_1k_tokens_usd > 0).all()
    assert (lm.loc[["Server", "Interactive"], ["ttft_p99_ms", "tpot_p99_ms"]] > 0).all().all()
    assert table[table.benchmark == "digits-cnn"].tokens_per_s.isna().all()
    plots = sorted(p.name for p in (report / "cpu-host").iterdir() if not p.name.startswith("."))  # Snakemake's mark
    assert plots == ["accuracy.png", "latency.png", "server_ranging.png", "time_to_train.png"]
    page = (report / "cpu-host.html").read_text()
    assert "not measured" in page or "mJ" in page
    assert "Text generation: token latencies" in page and "cost per 1,000 output tokens" in page
    assert "cpu-host.html" in (report / "index.html").read_text()
    summary = json.loads((report / "summary.json").read_text())
    assert summary["systems"]["cpu-host"]["training"]["digits-cnn"]["n"] == 5
    stats = summary["systems"]["cpu-host"]["inference"]
    offline = stats["digits-cnn/Offline/int8"]
    value = digits[(digits.scenario == "Offline") & (digits.precision == "int8")].value.iloc[0]
    assert offline["runs"] == 1 and offline["valid_rate"] == 1.0 and offline["metrics"]["value"]["cv"] is None
    assert offline["metrics"]["value"]["median"] == pytest.approx(value) and offline["noisy"] is False
    assert offline["accuracy"]["samples"] == 1024 and offline["accuracy"]["ci_low"] < offline["accuracy"]["accuracy"]
    assert "Wilson score intervals" in page and "<h2>Repeated runs</h2>" not in page  # one run each
    # the status table: every result PASS, one row per result
    status = pd.read_csv(report / "status.csv")
    assert len(status) == 8 + 3 + 1 and set(status.status) == {"PASS"} and set(status.PerformanceMode_min) == {1}
    assert status.set_index("result").loc["cpu-host_digits-cnn_fp32_training", "runs"] == 5
    # the SLO tiers: each result's QPS within each tier from its ranging trials and runs, on the page
    tiers = pd.read_csv(report / "tiers.csv")
    assert set(tiers.tier) == {"interactive", "batch", "chat"}
    assert set(tiers[tiers.tier == "chat"].benchmark) == {"pydoc-lm"}
    batch = tiers[(tiers.tier == "batch") & (tiers.precision == "int8")].iloc[0]
    server = digits[(digits.scenario == "Server") & (digits.precision == "int8")]
    # batch's limit is the benchmark's own Server bound (15 ms): every VALID run is within it
    assert batch.qps >= server.queries_per_s.max() > 0
    assert 'id="tiers"' in page and "data-key=\"cpu-host/digits-cnn/Server/int8/tier/batch/qps\"" in page
    index = (report / "index.html").read_text()
    assert 'id="status"' in index and 'id="capacity"' in index
    assert len(summary["capacity"]) == 2 and all(c["rows"] for c in summary["capacity"])


def _assert_bundle(workdir):
    """The campaign ends with a published bundle, its manifest and tarball, passed by the validator and, for its
    training part, by mlperf-logging's package checker."""
    from benchwright.submission.check import check_bundle
    from benchwright.submission.training import check_training_package

    receipt = json.loads((workdir / "results/submission/default/published.json").read_text())
    assert receipt["version"] == "v1" and receipt["new"]
    published = workdir / "submissions/default/v1"
    assert sorted(p.name for p in published.iterdir()) == ["bundle", "check.txt", "default.tar.gz",
                                                           "default.tar.gz.sha256"]
    assert (published / "default.tar.gz").read_bytes() == (workdir / "results/submission/default/default.tar.gz"
                                                           ).read_bytes()
    assert (published / "check.txt").read_text().splitlines()[-1].startswith(
        "PASS: results/submission/default/bundle (smoke mode, not submittable): 11 inference results, 1 training")
    report = check_bundle(published / "bundle")
    assert report.ok and not report.submittable, report.text()
    assert check_bundle(published / "default.tar.gz").ok
    assert "SUCCESS" in check_training_package(published / "bundle/training/benchwright", "4.1.0")
    results = published / "bundle/inference/open/benchwright/results/cpu-host"
    assert sorted(p.name for p in results.iterdir()) == ["digits-cnn-fp32", "digits-cnn-int8", "pydoc-lm-fp32"]
    assert all(len(list((results / m).iterdir())) == 4 for m in ("digits-cnn-fp32", "digits-cnn-int8"))
    lm = results / "pydoc-lm-fp32"
    assert sorted(p.name for p in lm.iterdir()) == sorted(LM_SCENARIOS)  # Interactive by its own name
    for scenario in LM_SCENARIOS:
        assert '"key": "requested_use_token_latencies", "value": true' in (
            lm / scenario / "performance/run_1/mlperf_log_detail.txt").read_text()
    _assert_provenance(workdir, published)


def _assert_provenance(workdir, published):
    """Every result has a provenance record tying it to this checkout's code, the data, weights and calibration;
    `benchwright verify` re-checks the published version (folder, tarball, .sha256) and finds nothing wrong."""
    from benchwright.submission.verify import verify

    result = verify(published)
    assert result.ok and result.counts["provenance records"] == 8 + 3 + 5, result.text()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = json.loads((published / "bundle/benchwright.json").read_text())
    assert meta["source"]["commit"] == head
    for entry in meta["inference"]:
        record = json.loads((published / "bundle" / entry["provenance"]).read_text())
        assert record["code"]["commit"] == head  # recorded by the run itself, in its record.json
        assert record["software"]["packages"]["torch"].startswith("2.13.0")
        assert record["software"]["torch_build"]["compiler"] and record["loadgen"].startswith("6.0.")
        if entry["benchmark"] == "pydoc-lm":
            assert record["weights"]["model_sha256"] == sha256_file(
                workdir / "results/models/pydoc-lm/fp32/model.safetensors")
            assert list(record["dataset"]["files"]) == ["topics.py"]
            continue
        model = workdir / "results/models/digits-cnn" / ("int8/model.pt" if entry["precision"] == "int8"
                                                          else "fp32/weights.pt")
        assert record["weights"]["model_sha256"] == sha256_file(model)
        assert record["dataset"]["files"] == {"digits.csv.gz": DIGITS_SHA256}
    # a dirty checkout would be a warning; a campaign of one checkout has no drift
    import pandas as pd

    table = pd.read_csv(workdir / "results/report/results.csv", keep_default_na=False)
    assert set(table.drift) == {""} and set(table.code_commit) <= {head[:12], head[:12] + "+modified"}


def _assert_training_results(workdir):
    """Five seeded runs, each log passing the compliance checker with our rules, and the olympic-mean score."""
    base = workdir / "results/training/cpu-host/digits-cnn"
    records = [json.loads((base / f"run_{i}/record.json").read_text()) for i in range(5)]
    seeds = [r["spec"]["seed"] for r in records]
    assert len(set(seeds)) == 5
    for i in range(5):
        assert (base / f"run_{i}.compliance.txt").read_text().strip().endswith("SUCCESS")
        assert ":::MLLOG" in (base / f"run_{i}/result.txt").read_text()
    score = json.loads((base / "score.json").read_text())
    assert score["olympic_mean_min"] > 0 and [r["seed"] for r in score["runs"]] == seeds
    assert score["reference_convergence"]["reference_epochs"] == 4.0


def test_compare_a_finished_campaign_with_its_own_bundle_and_tarball(default_campaign, tmp_path):
    """`benchwright compare` on what the DAG wrote: the results folder against its bundle (both name results
    <system>/<benchmark>/<scenario>/<precision>), and the bundle against its tarball: every shared result, no
    change, exit 0."""
    bundle = default_campaign / "results/submission/default/bundle"
    tarball = default_campaign / "results/submission/default/default.tar.gz"
    for baseline, candidate in ((default_campaign, bundle), (bundle, tarball)):
        proc = subprocess.run(["benchwright", "compare", str(baseline), str(candidate), "--json",
                               str(tmp_path / "c.json")], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads((tmp_path / "c.json").read_text())
        shared = {r["result"] for r in data["results"]}
        assert "cpu-host/digits-cnn/Offline/int8" in shared and "cpu-host/digits-cnn/training" in shared
        assert len(shared) == 12 and not data["only_baseline"] and not data["only_candidate"]
        assert data["regressions"] == 0 and data["improvements"] == 0 and not data["provenance"]


def test_a_broken_model_s_accuracy_is_a_result_under_its_target(workdir):
    # An untrained model: the learning rate is zero, so the reference weights stay at their random start. The
    # accuracy check records the miss as the result (the report shows it, the bundle refuses it), not a failed job.
    path = workdir / "config/benchmarks/digits-cnn.yaml"
    bench = yaml.safe_load(path.read_text())
    bench["training"]["hyperparameters"]["opt_base_learning_rate"] = 0.0
    bench["training"]["max_epochs"] = 1
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    snakemake(workdir, "--cores", "2", "results/inference/cpu-host/digits-cnn/fp32/Offline/accuracy.txt")
    log = (workdir / "logs/inference/cpu-host/digits-cnn/fp32/Offline/accuracy_check.log").read_text()
    assert "digits-cnn" in log and "96.679%" in log  # the benchmark and its target (97.656 x 0.99)
    assert "recorded as the result" in log
    measured = float(log.split("accuracy=")[1].split("%")[0])
    assert measured < 50 and f"{measured:.3f}%" in log.split("hash=")[1]  # stated in the message
    record = json.loads((workdir / "results/inference/cpu-host/digits-cnn/fp32/Offline/accuracy.json").read_text())
    assert record["meets_target"] is False and record["accuracy"] == pytest.approx(measured, abs=1e-3)
    assert record["target"] == pytest.approx(96.67944)


def test_a_server_run_that_stays_invalid_is_a_result_and_the_campaign_ends_with_its_report(workdir):
    """A latency bound no batch can meet (50 us): Server's ranging finds no VALID QPS, its performance runs (two:
    repeats: 2) stay INVALID after their retries, and the campaign still finishes. The runs are in the results
    table and the status table with their reason, on the pages, and the bundle refuses the result while keeping
    Offline."""
    import pandas as pd

    campaign = yaml.safe_load((workdir / "config/config.yaml").read_text())
    campaign["benchmarks"] = {"digits-cnn": {"systems": ["cpu-host"], "scenarios": ["Server", "Offline"],
                                             "precisions": ["fp32"], "repeats": 2}}
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    path = workdir / "config/benchmarks/digits-cnn.yaml"
    bench = yaml.safe_load(path.read_text())
    bench["inference"]["scenarios"]["Server"]["target_latency_ms"] = 0.05
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    snakemake(workdir, "--cores", "2", timeout=900)

    ranging = json.loads((workdir / "results/ranging/cpu-host/digits-cnn/fp32/Server.json").read_text())
    assert ranging["max_valid_qps"] is None and "no Server QPS" in ranging["reason"]
    record = json.loads((workdir / "results/inference/cpu-host/digits-cnn/fp32/Server/performance/record.json")
                        .read_text())
    assert record["result"]["result_validity"] == "INVALID" and len(record["attempts"]) > 1

    # repeats: 2, so each result has a second performance run (rule loadgen_repeat), sized by the same ranging
    repeat = json.loads((workdir / "results/inference/cpu-host/digits-cnn/fp32/Server/repeats/run_2/record.json")
                        .read_text())
    assert repeat["result"]["result_validity"] == "INVALID"
    assert repeat["attempts"][0]["target_qps"] == record["attempts"][0]["target_qps"] == ranging["target_qps"]

    table = pd.read_csv(workdir / "results/report/results.csv")
    server = table[(table.scenario == "Server")].sort_values("run")
    assert server.run.tolist() == [1, 2] and set(server.validity) == {"INVALID"}
    assert server.failure.iloc[0].startswith("performance run INVALID")
    offline = table[(table.scenario == "Offline")].sort_values("run")
    assert offline.run.tolist() == [1, 2] and offline.validity.iloc[0] == "VALID"
    status = pd.read_csv(workdir / "results/report/status.csv").set_index("result")
    assert status.loc["cpu-host_digits-cnn_fp32_Server", ["PerformanceMode", "AccuracyMode", "runs"]].tolist() == [0, 1, 2]
    assert status.loc["cpu-host_digits-cnn_fp32_Server", ["PerformanceMode_max", "status"]].tolist() == [0, "FAIL"]
    assert status.loc["cpu-host_digits-cnn_fp32_Offline", ["PerformanceMode", "AccuracyMode"]].tolist() == [1, 1]
    stats = json.loads((workdir / "results/report/summary.json").read_text())["systems"]["cpu-host"]["inference"]
    assert stats["digits-cnn/Server/fp32"]["valid_rate"] == 0 and stats["digits-cnn/Offline/fp32"]["runs"] == 2
    assert "<h2>Repeated runs</h2>" in (workdir / "results/report/cpu-host.html").read_text()
    as_json = json.loads((workdir / "results/report/status.json").read_text())["results"]
    assert {r["result"]: r["PerformanceMode"] for r in as_json} == {"cpu-host_digits-cnn_fp32_Server": 0,
                                                                   "cpu-host_digits-cnn_fp32_Offline": 1}
    for page in ("cpu-host.html", "index.html"):
        text = (workdir / "results/report" / page).read_text()
        assert 'id="failures"' in text and 'data-key="cpu-host/digits-cnn/Server/fp32/failure"' in text

    meta = json.loads((workdir / "results/submission/default/bundle/benchwright.json").read_text())
    assert [r["result"] for r in meta["refused"]] == ["cpu-host/digits-cnn/Server/fp32"]
    assert "INVALID" in meta["refused"][0]["reasons"][0]
    assert [e["scenario"] for e in meta["inference"]] == ["Offline"]
    readme = next((workdir / "results/submission/default/bundle").glob("inference/*/*/documentation/README.md"))
    assert "## Refused results" in readme.read_text()


def test_declared_hardware_that_is_absent_stops_the_run(workdir):
    path = workdir / "config/config.yaml"
    campaign = yaml.safe_load(path.read_text())
    campaign["benchmarks"]["digits-cnn"].update(systems=["a100-sxm4-80gb-x8"], precisions=["fp32"])
    path.write_text(yaml.safe_dump(campaign))
    proc = snakemake(workdir, "--cores", "1", "results/systems/a100-sxm4-80gb-x8/detected.json", check=False)
    assert proc.returncode != 0
    log = (workdir / "logs/detect/a100-sxm4-80gb-x8.log").read_text()
    assert "accelerators.count: declared 8, detected 0" in log
    # Accepting the difference explicitly lets it through, and it is recorded.
    campaign["accept_system_mismatch"] = ["a100-sxm4-80gb-x8"]
    path.write_text(yaml.safe_dump(campaign))
    snakemake(workdir, "--cores", "1", "results/systems/a100-sxm4-80gb-x8/detected.json")
    record = json.loads((workdir / "results/systems/a100-sxm4-80gb-x8/detected.json").read_text())
    assert record["differences_accepted"] is True


def test_published_weights_are_fetched_and_verified(workdir, file_server, tmp_path):
    # A benchmark whose FP32 weights are published: they go through `benchwright fetch` (sha256 verified).
    import torch

    from benchwright.models import build

    base, served = file_server
    weights = served / "digits.pt"
    torch.save(build("digits-resnet", {"width": 32, "blocks": 2, "classes": 10}, seed=1).state_dict(), weights)
    path = workdir / "config/benchmarks/digits-cnn.yaml"
    bench = yaml.safe_load(path.read_text())
    bench["model"]["weights"] = {"url": f"{base}/digits.pt", "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    proc = snakemake(workdir, "--cores", "1", "-n", "results/models/digits-cnn/int8/model.pt")
    assert "rule fetch_weights:" in proc.stdout and "rule train_reference:" not in proc.stdout
    snakemake(workdir, "--cores", "1", "results/models/digits-cnn/fp32/weights.pt")
    assert (workdir / "results/models/digits-cnn/fp32/weights.pt").read_bytes() == weights.read_bytes()


def test_closed_division_adds_the_compliance_tests(workdir):
    # The official benchmark name (resnet) in closed: TEST01 and TEST04 join the DAG for every scenario run.
    bench = yaml.safe_load((workdir / "config/benchmarks/digits-cnn.yaml").read_text())
    bench["name"] = "resnet"
    (workdir / "config/benchmarks/resnet.yaml").write_text(yaml.safe_dump(bench, sort_keys=False))
    campaign = yaml.safe_load((workdir / "config/config.yaml").read_text())
    campaign.update(division="closed", benchmarks={"resnet": {"systems": ["cpu-host"], "scenarios": ["Offline"],
                                                              "precisions": ["int8"]}})
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    tuning = yaml.safe_load((workdir / "config/systems/cpu-host.yaml").read_text())
    tuning["tuning"]["resnet"] = tuning["tuning"].pop("digits-cnn")
    (workdir / "config/systems/cpu-host.yaml").write_text(yaml.safe_dump(tuning, sort_keys=False))
    proc = snakemake(workdir, "-n")
    assert proc.stdout.count("rule compliance_test:") == 2
    assert "results/inference/cpu-host/resnet/int8/Offline/TEST01" in proc.stdout
    assert "results/inference/cpu-host/resnet/int8/Offline/TEST04" in proc.stdout
