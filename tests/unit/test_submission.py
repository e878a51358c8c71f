"""Submission bundles assembled from recorded real runs (tests/data/recorded, see its README), checked by the
validator and by mlperf-logging's checkers; corrupted bundles, each breaking one rule, are rejected."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from benchwright.config import load_plan
from benchwright.submission.bundle import assemble_bundle, publish, write_manifest
from benchwright.submission.check import RULES, check_bundle
from benchwright.submission.spec import bundle_spec

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "tests/data/recorded"
RESULT = "results/inference/cpu-host/digits-cnn/int8/Offline"
ORG = "inference/open/benchwright"
TREE_RESULT = f"{ORG}/results/cpu-host/digits-cnn-int8/Offline"


def copy_evidence(root: Path, benchmark: str, recorded: str) -> None:
    """The artifacts the recorded run descends from, where the DAG leaves them: the preprocessing manifest, the
    FP32 weights' record and the INT8 calibration record of that run."""
    evidence = RECORDED / "evidence"
    for src, dst in ((evidence / "data-manifest.json", f"results/data/{benchmark}/manifest.json"),
                     (evidence / "fp32-record.json", f"results/models/{benchmark}/fp32/record.json"),
                     (evidence / recorded / "calibration.json", f"results/models/{benchmark}/int8/calibration.json")):
        (root / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / dst)


def stamp_commands(root: Path, run: str) -> None:
    """The recorded runs predate command records: give their copies in ``root`` what a job of the rules records
    now, the command it ran (``execution.command``, as `benchwright.cli.main` passes it to ``run_facts``), and the
    accuracy check's accuracy.json. ``run``: an inference folder (results/inference/...) or a training run."""
    from benchwright.harness.accuracy import accuracy_record
    from benchwright.provenance import command_line, invocation

    def stamp(record_file: Path, argv: list[str]) -> None:
        record = json.loads(record_file.read_text())
        with invocation(argv):
            record.setdefault("execution", {})["command"] = command_line()
        record_file.write_text(json.dumps(record, indent=2))

    parts = run.split("/")
    if parts[1] == "training":
        _, _, system, benchmark, _ = parts
        record = json.loads((root / run / "record.json").read_text())
        stamp(root / run / "record.json", ["train", "--spec", json.dumps(record["spec"]), "--data",
                                           f"results/data/{benchmark}", "--out", run, "--threads", "2",
                                           "--detected", f"results/systems/{system}/detected.json"])
        return
    _, _, system, benchmark, precision, scenario = parts
    model = f"results/models/{benchmark}/{'int8' if precision == 'int8' else 'fp32'}"
    for mode, extra in (("performance", ["--ranging", f"results/ranging/{system}/{benchmark}/{precision}/"
                                                      f"{scenario}.json"]), ("accuracy", [])):
        spec = json.loads((root / run / mode / "record.json").read_text())["spec"]
        stamp(root / run / mode / "record.json",
              ["loadgen", "--spec", json.dumps(spec), "--model", model, "--data", f"results/data/{benchmark}",
               "--detected", f"results/systems/{system}/detected.json", *extra, "--out", f"{run}/{mode}"])
    bench = yaml.safe_load((root / f"config/benchmarks/{benchmark}.yaml").read_text())
    acc = bench["accuracy"]
    argv = ["accuracy", "--run", f"{run}/accuracy", "--data", f"results/data/{benchmark}", "--benchmark", benchmark,
            "--task", bench.get("task", "image_classification"), "--metric", acc.get("metric", "top1"),
            "--reference", str(acc["reference"]), "--target-fraction", str(acc["target_fraction"]),
            "--out", f"{run}/accuracy.txt", "--record", f"{run}/accuracy.json"]
    with invocation(argv):
        record = accuracy_record((root / run / "accuracy.txt").read_text(), benchmark=benchmark,
                                 task=argv[argv.index("--task") + 1], metric=argv[argv.index("--metric") + 1],
                                 reference=acc["reference"], target_fraction=acc["target_fraction"])
    (root / run / "accuracy.json").write_text(json.dumps(record, indent=2))


def make_campaign(root: Path, *, recorded: str, training: bool, mode: str = "submission",
                  repeats: tuple[float, ...] = ()) -> Path:
    """A working directory holding the repository's config and, under results/, the recorded runs laid out as a
    finished campaign (INT8 Offline on cpu-host, and the five training runs when ``training``). ``repeats``: each
    factor adds a repeated performance run, the recorded one with its metric times the factor."""
    shutil.copytree(REPO / "config", root / "config")
    campaign = yaml.safe_load((REPO / "config/config.yaml").read_text())
    campaign["mode"] = mode
    campaign["benchmarks"]["digits-cnn"].update(scenarios=["Offline"], precisions=["int8"], training=training,
                                                repeats=1 + len(repeats))
    campaign["benchmarks"].pop("pydoc-lm", None)  # the recorded runs are the digits model's
    (root / "config/config.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    shutil.copytree(RECORDED / recorded, root / RESULT)
    stamp_commands(root, RESULT)
    for i, factor in enumerate(repeats, start=2):
        repeat = root / RESULT / f"repeats/run_{i}"
        shutil.copytree(root / RESULT / "performance", repeat)
        record = json.loads((repeat / "record.json").read_text())
        record["result"]["metric_value"] *= factor
        (repeat / "record.json").write_text(json.dumps(record))
    copy_evidence(root, "digits-cnn", recorded)
    (root / "results/systems/cpu-host").mkdir(parents=True)
    shutil.copyfile(RECORDED / "systems/cpu-host.detected.json", root / "results/systems/cpu-host/detected.json")
    if training:
        base = root / "results/training/cpu-host/digits-cnn"
        for i in range(5):
            shutil.copytree(RECORDED / f"training/run_{i}", base / f"run_{i}")
            stamp_commands(root, f"results/training/cpu-host/digits-cnn/run_{i}")
        shutil.copyfile(RECORDED / "training/score.json", base / "score.json")
    return root


def make_closed_campaign(root: Path) -> Path:
    """The digits model under the official name `resnet` in the closed division (smoke, INT8 Offline), with the
    recorded run and its TEST01/TEST04 evidence under results/."""
    shutil.copytree(REPO / "config", root / "config")
    bench = yaml.safe_load((root / "config/benchmarks/digits-cnn.yaml").read_text())
    bench["name"] = "resnet"
    bench["calibration"]["sample_list"] = "resnet.calibration.txt"
    (root / "config/benchmarks/resnet.yaml").write_text(yaml.safe_dump(bench, sort_keys=False))
    shutil.copyfile(root / "config/benchmarks/digits-cnn.calibration.txt", root / "config/benchmarks/resnet.calibration.txt")
    campaign = yaml.safe_load((root / "config/config.yaml").read_text())
    campaign.update(name="closed-smoke", division="closed",
                    benchmarks={"resnet": {"systems": ["cpu-host"], "scenarios": ["Offline"], "precisions": ["int8"]}})
    (root / "config/config.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    sku = yaml.safe_load((root / "config/systems/cpu-host.yaml").read_text())
    sku["tuning"]["resnet"] = sku["tuning"].pop("digits-cnn")
    (root / "config/systems/cpu-host.yaml").write_text(yaml.safe_dump(sku, sort_keys=False))
    shutil.copytree(RECORDED / "closed-smoke-int8-offline", root / "results/inference/cpu-host/resnet/int8/Offline")
    stamp_commands(root, "results/inference/cpu-host/resnet/int8/Offline")
    copy_evidence(root, "resnet", "closed-smoke-int8-offline")
    (root / "results/systems/cpu-host").mkdir(parents=True)
    shutil.copyfile(RECORDED / "systems/cpu-host.detected.json", root / "results/systems/cpu-host/detected.json")
    return root


def assemble(root: Path, out: str = "bundle", tarball: str = "bundle.tar.gz"):
    """bundle_spec + assemble_bundle in ``root``, as the DAG's rule runs them; returns (bundle, tarball, spec)."""
    with contextlib.chdir(root):
        campaign = yaml.safe_load(Path("config/config.yaml").read_text())
        spec = bundle_spec(load_plan(campaign, ["config/config.yaml"]), ["config/config.yaml"])
        assemble_bundle(spec, out, tarball, REPO)
    return root / out, root / tarball, spec


@pytest.fixture(scope="module")
def submission_bundle(tmp_path_factory) -> Path:
    """A submittable open-division bundle: a 600 s submission-mode INT8 Offline run and five training runs."""
    root = make_campaign(tmp_path_factory.mktemp("campaign"), recorded="submission-int8-offline", training=True)
    bundle, _, _ = assemble(root)
    return bundle


@pytest.fixture
def bundle_copy(submission_bundle, tmp_path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(submission_bundle, copy)
    return copy


def rules_of(report) -> set[str]:
    return {v.rule for v in report.violations}


# --- assembly --------------------------------------------------------------------------------------------


def test_submission_mode_offline_campaign_gives_a_complete_submittable_open_bundle(submission_bundle):
    report = check_bundle(submission_bundle)
    assert report.ok, report.text()
    assert report.submittable and report.checked == {"inference results": 1, "training results": 1}
    meta = json.loads((submission_bundle / "benchwright.json").read_text())
    assert meta["mode"] == "submission" and meta["submittable"] is True and meta["division"] == "open"
    org = submission_bundle / ORG
    result = submission_bundle / TREE_RESULT
    expected = {
        "README.md", "user.conf", "measurements.json",
        "performance/run_1/mlperf_log_detail.txt", "performance/run_1/mlperf_log_summary.txt",
        "accuracy/mlperf_log_detail.txt", "accuracy/mlperf_log_summary.txt", "accuracy/mlperf_log_accuracy.json",
        "accuracy/accuracy.txt",
    }
    assert {p.relative_to(result).as_posix() for p in result.rglob("*") if p.is_file()} == expected
    assert json.loads((org / "model_mapping.json").read_text()) == {"digits-cnn-int8": "resnet"}
    system = json.loads((org / "systems/cpu-host.json").read_text())
    assert len(system) == 35 and system["division"] == "open" and system["submitter"] == "benchwright"
    assert (org / "src/Snakefile").is_file() and (org / "src/workflow/benchwright/cli.py").is_file()
    assert (org / "src/campaign/config/config.yaml").is_file()
    source = json.loads((org / "src/SOURCE.json").read_text())
    assert len(source["commit"]) == 40 or source["commit"] == "unknown"
    # The accuracy log is cut to its first and last 4 KiB; accuracy.txt keeps the hash of the whole log.
    whole = RECORDED / "submission-int8-offline/accuracy/mlperf_log_accuracy.json"
    cut = result / "accuracy/mlperf_log_accuracy.json"
    assert whole.stat().st_size > 10 * 1024 > cut.stat().st_size
    assert cut.read_bytes()[:4096] == whole.read_bytes()[:4096]
    assert cut.read_bytes()[-4096:] == whole.read_bytes()[-4096:]
    lines = (result / "accuracy/accuracy.txt").read_text().splitlines()
    assert lines[-1] == "hash=" + hashlib.sha256(whole.read_bytes()).hexdigest()
    readme = (result / "README.md").read_text()
    assert "snakemake --cores all --configfile config/config.yaml" in readme and "benchwright loadgen" in readme
    assert "Run mode: submission" in readme
    # The training tree: systems with the 33 training keys, five result files, our rules beside the code.
    training = submission_bundle / "training/benchwright"
    assert sorted(p.name for p in (training / "results/cpu-host/digits-cnn").iterdir()) == [
        f"result_{i}.txt" for i in range(5)]
    assert len(json.loads((training / "systems/cpu-host.json").read_text())) == 33
    assert (training / "benchmarks/digits-cnn/implementations/benchwright-pytorch/compliance.yaml").is_file()


def test_the_recorded_run_is_a_real_submission_run(submission_bundle):
    from benchwright.harness.logs import read_run

    run = read_run(submission_bundle / TREE_RESULT / "performance/run_1")
    assert run.result_validity == "VALID" and run.errors == []
    assert run.effective["min_duration_ms"] == 600000 and run.duration_ns >= 600e9
    assert run.effective["qsl_rng_seed"] == 2085463073848966840
    assert "submission mode" in (submission_bundle / TREE_RESULT / "user.conf").read_text().splitlines()[0]


def test_two_assemblies_of_the_same_inputs_give_byte_identical_tarballs(tmp_path):
    root = make_campaign(tmp_path / "c", recorded="smoke-int8-offline", training=True, mode="smoke")
    _, first, _ = assemble(root, "one", "one.tar.gz")
    _, second, _ = assemble(root, "two", "two.tar.gz")
    assert first.read_bytes() == second.read_bytes()
    # ... also from another working directory, whose path appears nowhere in the bundle.
    other = make_campaign(tmp_path / "elsewhere", recorded="smoke-int8-offline", training=True, mode="smoke")
    _, third, _ = assemble(other, "three", "three.tar.gz")
    assert third.read_bytes() == first.read_bytes()
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {m.mtime for m in members} == {0} and {m.uid for m in members} == {0}
    assert all(m.name.startswith("default/") for m in members)


def test_a_smoke_bundle_passes_but_does_not_claim_to_be_submittable(tmp_path):
    root = make_campaign(tmp_path, recorded="smoke-int8-offline", training=False, mode="smoke")
    bundle, tarball, _ = assemble(root)
    report = check_bundle(bundle)
    assert report.ok and not report.submittable, report.text()
    assert any("600000 ms a submission needs" in n for n in report.notes)
    assert "Run mode: smoke" in (bundle / TREE_RESULT / "README.md").read_text()
    assert check_bundle(tarball).ok


def test_an_existing_bundle_is_never_overwritten(tmp_path):
    from benchwright.submission.bundle import BundleExists

    root = make_campaign(tmp_path, recorded="smoke-int8-offline", training=False, mode="smoke")
    bundle, tarball, spec = assemble(root)
    before = tarball.read_bytes()
    with pytest.raises(BundleExists, match="never overwritten"):
        assemble(root)
    assert tarball.read_bytes() == before
    with contextlib.chdir(root):
        assemble_bundle(spec, "bundle", "bundle.tar.gz", REPO, overwrite=True)  # the explicit flag
    assert tarball.read_bytes() == before


def test_publishing_writes_new_versions_and_never_touches_an_old_one(tmp_path):
    root = make_campaign(tmp_path, recorded="smoke-int8-offline", training=False, mode="smoke")
    bundle, tarball, _ = assemble(root)
    report = root / "check.txt"
    report.write_text(check_bundle(bundle).text())
    first = publish(bundle, tarball, report, root / "submissions/default")
    assert first["version"] == "v1" and first["new"]
    v1 = root / "submissions/default/v1"
    assert check_bundle(v1 / "bundle").ok and (v1 / "bundle.tar.gz").read_bytes() == tarball.read_bytes()
    assert (v1 / "bundle.tar.gz.sha256").read_text().split()[0] == first["tarball_sha256"]
    again = publish(bundle, tarball, report, root / "submissions/default")
    assert again == {**first, "new": False}  # same bytes: nothing new to publish
    snapshot = {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()}
    # New results: the accuracy run is scored differently, the bundle is re-assembled and published as v2.
    acc = root / RESULT / "accuracy.txt"
    acc.write_text(acc.read_text().replace("accuracy=97.656%", "accuracy=97.600%"))
    bundle2, tarball2, _ = assemble(root, "bundle2", "next/bundle.tar.gz")
    second = publish(bundle2, tarball2, report, root / "submissions/default")
    assert second["version"] == "v2" and second["new"]
    assert {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()} == snapshot


def test_assembly_names_a_missing_result(tmp_path):
    from benchwright.submission.inference import AssemblyError

    root = make_campaign(tmp_path, recorded="smoke-int8-offline", training=False, mode="smoke")
    (root / RESULT / "accuracy.txt").unlink()
    with pytest.raises(AssemblyError, match=r"accuracy.txt is missing.*\n.*fix: run the campaign"):
        assemble(root)
    assert not (root / "bundle").exists() and not list(root.glob(".bundle*"))


def _readme_commands(readme: Path) -> list[str]:
    """The recorded commands a README lists: the line under each '# <job>, as recorded in <record>' comment."""
    lines = readme.read_text().splitlines()
    return [lines[n + 1].strip() for n, line in enumerate(lines) if ", as recorded in " in line]


def test_the_readme_commands_are_the_commands_the_jobs_recorded(submission_bundle):
    """Not retyped: every command of a result's README (performance run, accuracy run, accuracy check) and of the
    training implementation's README (each seeded run) is the `execution.command` its job's record holds."""
    from benchwright.provenance import recorded_command

    root = submission_bundle.parent  # the campaign's working directory the bundle was assembled in
    records = [f"{RESULT}/performance/record.json", f"{RESULT}/accuracy/record.json", f"{RESULT}/accuracy.json"]
    recorded = [recorded_command(root / r) for r in records]
    readme = submission_bundle / TREE_RESULT / "README.md"
    assert _readme_commands(readme) == recorded
    text = readme.read_text()
    assert all(f"as recorded in {r}" in text for r in records) and "exactly as each job recorded them" in text
    assert recorded[0].startswith("benchwright loadgen --spec ") and f"--out {RESULT}/performance" in recorded[0]
    assert "--ranging results/ranging/cpu-host/digits-cnn/int8/Offline.json" in recorded[0]
    assert recorded[2].startswith(f"benchwright accuracy --run {RESULT}/accuracy ")
    # The campaign's own command stays derived from its files (it is not a job's command).
    assert f"    snakemake --cores all --configfile config/config.yaml {RESULT}/performance {RESULT}/accuracy.txt" in text
    runs = [f"results/training/cpu-host/digits-cnn/run_{i}/record.json" for i in range(5)]
    impl = submission_bundle / "training/benchwright/benchmarks/digits-cnn/implementations/benchwright-pytorch"
    assert _readme_commands(impl / "README.md") == [recorded_command(root / r) for r in runs]
    prov = json.loads((submission_bundle / "provenance/inference/cpu-host/digits-cnn-int8/Offline.json").read_text())
    assert prov["reproduce"] == {"readme": f"{TREE_RESULT}/README.md", "commands": recorded}


@pytest.mark.parametrize("record", ["performance/record.json", "accuracy/record.json", "accuracy.json"])
def test_a_record_without_a_command_stops_the_assembly_naming_the_file(tmp_path, record):
    from benchwright.submission.inference import AssemblyError

    root = make_campaign(tmp_path, recorded="smoke-int8-offline", training=False, mode="smoke")
    path = root / RESULT / record
    data = json.loads(path.read_text())
    del data["execution"]["command"]
    path.write_text(json.dumps(data))
    with pytest.raises(AssemblyError, match=rf"{RESULT}/{record} records no command \(execution.command\).*\n"
                                            r".*fix: run the .* again with this benchwright"):
        assemble(root)
    assert not (root / "bundle").exists() and not list(root.glob(".bundle*"))


def test_a_missing_accuracy_record_stops_the_assembly_naming_the_file(tmp_path):
    from benchwright.submission.inference import AssemblyError

    root = make_campaign(tmp_path, recorded="smoke-int8-offline", training=False, mode="smoke")
    (root / RESULT / "accuracy.json").unlink()
    with pytest.raises(AssemblyError, match=rf"{RESULT}/accuracy.json is missing; the bundle needs it"):
        assemble(root)


def test_a_training_record_without_a_command_stops_the_assembly_naming_the_file(tmp_path):
    from benchwright.submission.inference import AssemblyError

    root = make_campaign(tmp_path, recorded="smoke-int8-offline", training=True, mode="smoke")
    path = root / "results/training/cpu-host/digits-cnn/run_3/record.json"
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "execution"}))
    with pytest.raises(AssemblyError, match=r"results/training/cpu-host/digits-cnn/run_3/record.json records no "
                                            r"command"):
        assemble(root)


# --- the validator on corrupted bundles -----------------------------------------------------------------


def _edit_log(path: Path, key: str, value) -> None:
    """Set an MLLOG key of a LoadGen detail log to ``value``."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith(":::MLLOG "):
            record = json.loads(line[len(":::MLLOG "):])
            if record["key"] == key:
                record["value"] = value
                line = ":::MLLOG " + json.dumps(record)
        out.append(line)
    path.write_text("\n".join(out) + "\n")


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


PERF_LOG = f"{TREE_RESULT}/performance/run_1/mlperf_log_detail.txt"
ACC_TXT = f"{TREE_RESULT}/accuracy/accuracy.txt"
TRAINING = "training/benchwright/results/cpu-host/digits-cnn"
LOADGEN_ERROR = {"key": "error_runtime", "value": "Multiple conf files are used", "time_ms": 1.0,
                 "namespace": "mlperf::logging", "event_type": "POINT_IN_TIME",
                 "metadata": {"is_error": True, "is_warning": False, "file": "x.cc", "line_no": 1, "pid": 1, "tid": 1}}


def _smoke_result(b: Path) -> None:
    target = b / TREE_RESULT
    shutil.rmtree(target)
    root = b.parent / "smoke-campaign"
    smoke, _, _ = assemble(make_campaign(root, recorded="smoke-int8-offline", training=False, mode="smoke"))
    shutil.copytree(smoke / TREE_RESULT, target)


def _strip_training_key(b: Path) -> None:
    log = b / TRAINING / "result_2.txt"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines() if '"key": "eval_accuracy"' not in
                           line))


# (id, corruption, the rules reported, a fragment of the message)
CORRUPTIONS = [
    ("missing-file", lambda b: (b / f"{TREE_RESULT}/performance/run_1/mlperf_log_summary.txt").unlink(),
     {"missing-file"}, "mlperf_log_summary.txt: [missing-file]"),
    ("empty-readme", lambda b: (b / f"{TREE_RESULT}/README.md").write_text(""),
     {"empty-file"}, "README.md: [empty-file]"),
    ("system-field", lambda b: _edit_json(b / f"{ORG}/systems/cpu-host.json", lambda d: d.pop("host_memory_capacity")),
     {"system-field"}, "field `host_memory_capacity` is missing"),
    ("system-empty", lambda b: _edit_json(b / f"{ORG}/systems/cpu-host.json", lambda d: d.update(cooling=" ")),
     {"system-field"}, "field `cooling` is empty"),
    ("system-status", lambda b: _edit_json(b / f"{ORG}/systems/cpu-host.json", lambda d: d.update(status="beta")),
     {"system-field"}, "status `beta`"),
    ("wrong-seeds", lambda b: _edit_log(b / PERF_LOG, "effective_schedule_rng_seed", 0),
     {"seeds"}, "effective_schedule_rng_seed is 0; round 6.1 requires 16159082839903944936"),
    ("short-duration", lambda b: _edit_log(b / PERF_LOG, "effective_min_duration_ms", 60000),
     {"min-duration"}, "effective_min_duration_ms is 60000; a submission run needs at least 600000"),
    ("invalid-run", lambda b: _edit_log(b / PERF_LOG, "result_validity", "INVALID"),
     {"invalid-run"}, "result_validity is INVALID"),
    ("loadgen-error", lambda b: (b / PERF_LOG).write_text((b / PERF_LOG).read_text() + ":::MLLOG "
                                                          + json.dumps(LOADGEN_ERROR) + "\n"),
     {"loadgen-error"}, "LoadGen logged an error: error_runtime: Multiple conf files are used"),
    ("accuracy-under-target", lambda b: (b / ACC_TXT).write_text((b / ACC_TXT).read_text().replace(
        "accuracy=97.656%", "accuracy=95.000%")),
     {"accuracy-target"}, "accuracy 95.000% is under the target 96.679%"),
    ("unmapped-model", lambda b: (b / f"{ORG}/model_mapping.json").write_text("{}"),
     {"unmapped-model"}, "model `digits-cnn-int8` is not in model_mapping.json"),
    ("mapped-to-unknown", lambda b: (b / f"{ORG}/model_mapping.json").write_text('{"digits-cnn-int8": "mnist"}'),
     {"unmapped-model"}, "maps `digits-cnn-int8` to `mnist`, which is not an official benchmark"),
    ("smoke-result", _smoke_result, {"smoke-result", "min-duration"}, "a smoke-mode result in a bundle that claims"),
    ("smoke-bundle-claims-submittable", lambda b: _edit_json(b / "benchwright.json", lambda d: d.update(mode="smoke")),
     {"smoke-result"}, "a smoke-mode campaign's bundle claims to be submittable"),
    ("fixture-bundle-claims-submittable", lambda b: _edit_json(b / "benchwright.json", lambda d: d.update(fixture=True)),
     {"fixture-result"}, "a fixture campaign's bundle claims to be submittable"),
    ("fixture-result", lambda b: _edit_json(b / "benchwright.json",
                                            lambda d: d["inference"][0].update(fixture=True)),
     {"fixture-result"}, "README.md: [fixture-result] a result on `benchwright fixture` stand-ins in a bundle that "
                         "claims to be submittable"),
    ("whole-accuracy-log", lambda b: shutil.copyfile(
        RECORDED / "submission-int8-offline/accuracy/mlperf_log_accuracy.json",
        b / f"{TREE_RESULT}/accuracy/mlperf_log_accuracy.json"),
     {"accuracy-log"}, "a bundle keeps it under 10240 bytes"),
    ("no-hash-line", lambda b: (b / ACC_TXT).write_text((b / ACC_TXT).read_text().splitlines()[0] + "\n"),
     {"accuracy-hash"}, "the last line is not `hash="),
    ("sample-count", lambda b: _edit_log(b / PERF_LOG, "effective_performance_sample_count", 64),
     {"sample-count"}, "performance_sample_count is 64; resnet needs at least 1024"),
    ("measurements", lambda b: _edit_json(b / f"{TREE_RESULT}/measurements.json", lambda d: d.pop("retraining")),
     {"measurements"}, "field `retraining` is missing or empty"),
    ("no-src", lambda b: shutil.rmtree(b / f"{ORG}/src"), {"missing-file"}, "src: [missing-file]"),
    ("wrong-scenario-folder", lambda b: (b / TREE_RESULT).rename(b / TREE_RESULT.replace("Offline", "Server")),
     {"scenario"}, "the log ran Offline PerformanceOnly; the folder needs Server"),
    ("offline-samples", lambda b: _edit_log(b / PERF_LOG, "effective_samples_per_query", 1000),
     {"query-count"}, "effective_samples_per_query is 1000; an Offline run needs at least 24576"),
    ("accuracy-coverage", lambda b: (b / ACC_TXT).write_text((b / ACC_TXT).read_text().replace("total=1024",
                                                                                               "total=1000")),
     {"accuracy-coverage"}, "total=1000, but the accuracy run covered 1024 samples"),
    ("stray-file-in-run", lambda b: (b / f"{TREE_RESULT}/performance/run_1/notes.txt").write_text("x"),
     {"stray-file"}, "notes.txt: [stray-file] not a file of run_1/"),
    ("dotfile-in-src", lambda b: (b / f"{ORG}/src/.env").write_text("x"),
     {"stray-file"}, "src/.env: [stray-file] dotfiles"),
    ("file-beside-divisions", lambda b: (b / "inference/SHA256SUMS").write_text("x"),
     {"stray-file"}, "inference/SHA256SUMS: [stray-file] a file beside the division folders"),
    ("too-few-training-runs", lambda b: (b / TRAINING / "result_4.txt").unlink(),
     {"training-results"}, "4 result files; digits-cnn needs 5"),
    ("training-log-rejected", _strip_training_key,
     {"training-checker"}, "mlperf-logging's compliance checker rejects it"),
]


@pytest.mark.parametrize("corrupt, rules, fragment", [c[1:] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS])
def test_a_bundle_breaking_one_rule_is_rejected_with_a_specific_message(bundle_copy, corrupt, rules, fragment):
    corrupt(bundle_copy)
    write_manifest(bundle_copy)  # a submitter who edits files and regenerates the manifest: only the rule fires
    report = check_bundle(bundle_copy)
    assert not report.ok
    assert rules_of(report) == rules, report.text()
    assert fragment in report.text(), report.text()
    assert set(rules) <= set(RULES)
    assert all("\n" not in v.line() for v in report.violations)  # one line each


def _mark_fixture(data: dict) -> None:
    data.update(fixture=True, submittable=False)
    for entry in data["inference"]:
        entry["fixture"] = True


def test_a_fixture_bundle_reports_what_its_stand_ins_imply_as_notes_and_passes(bundle_copy):
    _edit_json(bundle_copy / "benchwright.json", _mark_fixture)
    (bundle_copy / ACC_TXT).write_text((bundle_copy / ACC_TXT).read_text().replace("accuracy=97.656%",
                                                                                   "accuracy=0.100%"))
    _edit_log(bundle_copy / PERF_LOG, "effective_performance_sample_count", 64)
    write_manifest(bundle_copy)
    report = check_bundle(bundle_copy)
    assert report.ok, report.text()
    assert report.fixture and not report.submittable
    notes = "\n".join(report.notes)
    assert "[accuracy-target] accuracy 0.100% is under the target 96.679%" in notes, notes
    assert "[sample-count] performance_sample_count is 64" in notes, notes
    assert "expected of a fixture run's stand-ins" in notes
    assert "fixture run, not submittable" in report.text()


def test_the_same_shortfalls_in_a_result_not_marked_fixture_are_violations(bundle_copy):
    _edit_json(bundle_copy / "benchwright.json", lambda d: d.update(fixture=True, submittable=False))
    (bundle_copy / ACC_TXT).write_text((bundle_copy / ACC_TXT).read_text().replace("accuracy=97.656%",
                                                                                   "accuracy=0.100%"))
    write_manifest(bundle_copy)
    report = check_bundle(bundle_copy)
    assert rules_of(report) == {"accuracy-target"}, report.text()


def test_a_file_changed_after_assembly_breaks_the_manifest(bundle_copy):
    (bundle_copy / f"{TREE_RESULT}/user.conf").write_text("resnet50.Offline.target_qps = 1\n")
    (bundle_copy / f"{ORG}/documentation/extra.txt").write_text("added later\n")
    (bundle_copy / f"{ORG}/documentation/README.md").unlink()
    report = check_bundle(bundle_copy)
    lines = [v.line() for v in report.violations]
    assert rules_of(report) == {"manifest"}
    assert f"{TREE_RESULT}/user.conf: [manifest] sha256 differs from SHA256SUMS" in "\n".join(lines)
    assert any("extra.txt: [manifest] not listed" in line for line in lines)
    assert any("README.md: [manifest] listed in SHA256SUMS but absent" in line for line in lines)


def test_a_closed_result_needs_official_name_scenarios_and_compliance_tests(submission_bundle, tmp_path):
    # The open result moved into closed as a bare MLPerf root: closed needs the official model name, every
    # scenario of its system type, and TEST01/TEST04.
    root = tmp_path / "mlperf"
    shutil.copytree(submission_bundle / "inference/open", root / "closed")
    org = root / "closed/benchwright"
    _edit_json(org / "systems/cpu-host.json", lambda d: d.update(division="closed"))
    report = check_bundle(root)
    # an unmapped model has no official benchmark, so no required scenarios to miss (they are per benchmark)
    assert rules_of(report) == {"unmapped-model"}, report.text()
    assert "`digits-cnn-int8` is not an official benchmark; closed results use the official names" in report.text()
    (org / "results/cpu-host/digits-cnn-int8").rename(org / "results/cpu-host/resnet")
    report = check_bundle(root)
    text = report.text()
    assert rules_of(report) == {"compliance", "missing-scenario"}, text
    assert "TEST01 is missing" in text and "TEST04 is missing" in text
    assert "resnet/SingleStream: [missing-scenario] closed edge results need SingleStream" in text


def test_check_command_prints_one_line_per_violation_and_exits_1(bundle_copy, capsys):
    from benchwright.cli import main

    _edit_log(bundle_copy / PERF_LOG, "result_validity", "INVALID")
    write_manifest(bundle_copy)
    assert main(["check", str(bundle_copy), "--no-training-tools"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{PERF_LOG}: [invalid-run] result_validity is INVALID; expected VALID"
    assert out[-1].startswith(f"FAIL: {bundle_copy} (submittable)")


def test_a_corrupted_tarball_is_rejected(submission_bundle, tmp_path):
    from benchwright.submission.bundle import write_tarball

    tarball = write_tarball(submission_bundle, tmp_path / "ok.tar.gz", prefix="default")
    assert check_bundle(tarball, training_tools=False).ok
    bad = tmp_path / "bad"
    shutil.copytree(submission_bundle, bad)
    (bad / ACC_TXT).write_text("accuracy=99.000%, good=1014, total=1024\nhash=" + "0" * 64 + "\n")
    report = check_bundle(write_tarball(bad, tmp_path / "bad.tar.gz", prefix="default"), training_tools=False)
    assert rules_of(report) == {"manifest"} and report.root.endswith("bad.tar.gz")


def test_a_closed_bundle_carries_its_compliance_tests(tmp_path):
    bundle, _, _ = assemble(make_closed_campaign(tmp_path))
    result = bundle / "inference/closed/benchwright/results/cpu-host/resnet/Offline"
    for test in ("TEST01", "TEST04"):
        assert "TEST PASS" in (result / test / "verify_performance.txt").read_text()
        assert (result / test / "performance/run_1/mlperf_log_detail.txt").is_file()
    assert "TEST PASS" in (result / "TEST01/verify_accuracy.txt").read_text()
    assert (result / "TEST01/accuracy/mlperf_log_accuracy.json").stat().st_size < 10 * 1024
    assert not (bundle / "inference/closed/benchwright/model_mapping.json").exists()
    report = check_bundle(bundle)
    assert report.ok and not report.submittable, report.text()
    # A smoke bundle need not be complete: the scenarios a closed edge submission needs are notes, not violations.
    assert any("no SingleStream, which a closed edge submission needs" in n for n in report.notes)
    # A failed compliance test is a violation.
    verdict = result / "TEST04/verify_performance.txt"
    verdict.write_text(verdict.read_text().replace("TEST PASS", "TEST FAIL"))
    write_manifest(bundle)
    report = check_bundle(bundle)
    assert rules_of(report) == {"compliance"}
    assert "TEST04/verify_performance.txt: [compliance] TEST04 did not pass" in report.text()
