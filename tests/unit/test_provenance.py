"""Provenance: what each run records about its code and software, the bundle's provenance/ records and
evidence, and `benchwright verify`, which must notice a single changed byte anywhere in a bundle."""

from __future__ import annotations

import json
import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from benchwright.fsutil import sha256_file
from benchwright.provenance import CODE_ENV, code_state, drift, fingerprint, run_facts, software
from benchwright.submission.bundle import MANIFEST, bundle_files, publish, write_manifest, write_tarball
from benchwright.submission.check import check_bundle
from benchwright.submission.verify import parse_manifest, verify
from tests.unit.test_submission import RECORDED, REPO, TREE_RESULT, assemble, make_campaign

PROV = "provenance/inference/cpu-host/digits-cnn-int8/Offline.json"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> tuple[Path, Path]:
    """The submittable bundle of the recorded 600 s INT8 Offline run and five training runs, and its tarball."""
    root = make_campaign(tmp_path_factory.mktemp("campaign"), recorded="submission-int8-offline", training=True)
    folder, tarball, _ = assemble(root)
    return folder, tarball


@pytest.fixture
def copy(bundle, tmp_path) -> Path:
    shutil.copytree(bundle[0], tmp_path / "bundle")
    return tmp_path / "bundle"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


# --- run time -------------------------------------------------------------------------------------------


def test_code_state_names_the_commit_and_modified_files(tmp_path, monkeypatch):
    monkeypatch.delenv(CODE_ENV, raising=False)
    repo = tmp_path / "repo"
    (repo / "workflow").mkdir(parents=True)
    (repo / "workflow/a.py").write_text("x = 1\n")
    (repo / "notes.txt").write_text("not code\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    head = _git(repo, "rev-parse", "HEAD").strip()
    assert code_state(repo) == {"commit": head, "dirty": False, "modified": []}
    (repo / "notes.txt").write_text("changed, but not under a code path\n")
    assert code_state(repo)["dirty"] is False
    (repo / "workflow/a.py").write_text("x = 2\n")
    assert code_state(repo) == {"commit": head, "dirty": True, "modified": ["workflow/a.py"]}
    outside = code_state(tmp_path / "nowhere")
    assert outside["commit"] is None and "not a git checkout" in outside["reason"]


def test_a_container_job_takes_the_code_state_its_host_passes(monkeypatch):
    monkeypatch.setenv(CODE_ENV, json.dumps({"commit": "abc", "dirty": False, "modified": []}))
    assert run_facts()["code"] == {"commit": "abc", "dirty": False, "modified": []}


def test_run_facts_record_this_checkout_and_this_process_software(monkeypatch):
    monkeypatch.delenv(CODE_ENV, raising=False)
    facts = run_facts()
    assert facts["code"]["commit"] == _git(REPO, "rev-parse", "HEAD").strip()
    assert facts["code"]["dirty"] == bool(_git(REPO, "status", "--porcelain", "--untracked-files=no", "--",
                                                "Snakefile", "pyproject.toml", "workflow", "containers", "config"))
    sw = software()
    assert sw["packages"]["torch"] == torch.__version__ and sw["torch_build"]["version"] == torch.__version__
    assert sw["packages"]["mlcommons-loadgen"] and sw["python"] == ".".join(map(str, sys.version_info[:3]))
    assert sw["python_compiler"] and sw["torch_build"]["compiler"]  # e.g. "GCC 13.3"


def test_a_job_records_the_command_it_ran_innermost_first():
    """`benchwright.cli.main` runs every command inside ``invocation``; `container-run` on a local SKU runs its
    job's command in the same process, and the job records that command, not the container-run around it."""
    from benchwright.provenance import command_line, invocation

    assert run_facts()["command"] is None  # the package called from Python: no command to record
    job = ["loadgen", "--spec", '{"a": "b c"}', "--out", "results/inference/x y/performance"]
    with invocation(["container-run", "--system", "config/systems/cpu-host.yaml", "--", *job]):
        with invocation(job):
            facts = run_facts()
        assert command_line().startswith("benchwright container-run ")
    assert command_line() is None
    assert facts["command"] == ("benchwright loadgen --spec '{\"a\": \"b c\"}' --out "
                                "'results/inference/x y/performance'")
    assert shlex.split(facts["command"]) == ["benchwright", *job]  # shell-quoted: it gives back the argv


def test_the_cli_passes_its_argv_to_the_record(monkeypatch, capsys):
    from benchwright import cli

    seen = {}
    monkeypatch.setattr(cli, "_cmd_validate", lambda args: seen.setdefault("command", run_facts()["command"]) and 0)
    cli.main(["validate", "--configfile", "config/config.yaml"])
    assert seen["command"] == "benchwright validate --configfile config/config.yaml"


def test_a_record_without_a_command_is_an_error_naming_the_file(tmp_path):
    from benchwright.provenance import MissingCommand, recorded_command

    old = tmp_path / "record.json"
    old.write_text(json.dumps({"execution": {"hostname": "vm"}}))
    with pytest.raises(MissingCommand, match=rf"{old} records no command \(execution.command\)"):
        recorded_command(old)
    old.write_text("{not json")
    with pytest.raises(MissingCommand, match=rf"{old} is not JSON"):
        recorded_command(old)
    old.write_text(json.dumps({"execution": {"command": "benchwright loadgen --out x"}}))
    assert recorded_command(old) == "benchwright loadgen --out x"


# --- the bundle's records ---------------------------------------------------------------------------------


def test_every_result_has_a_provenance_record_with_the_whole_chain(bundle):
    folder, _ = bundle
    meta = json.loads((folder / "benchwright.json").read_text())
    assert meta["inference"][0]["provenance"] == PROV
    assert len(meta["training"][0]["provenance"]) == 5
    record = json.loads((folder / PROV).read_text())
    bench = yaml.safe_load((REPO / "config/benchmarks/digits-cnn.yaml").read_text())
    perf = json.loads((RECORDED / "submission-int8-offline/performance/record.json").read_text())
    calibration = json.loads((RECORDED / "evidence/submission-int8-offline/calibration.json").read_text())
    manifest = RECORDED / "evidence/data-manifest.json"
    dataset = bench["dataset"]["files"][0]
    assert record["dataset"]["files"] == {dataset["url"].rsplit("/", 1)[-1]: dataset["sha256"]}
    assert record["preprocessing"]["manifest_sha256"] == sha256_file(manifest)
    assert record["calibration"]["list_sha256"] == bench["calibration"]["sha256"]
    assert record["weights"] == {"fp32_sha256": calibration["fp32_weights_sha256"],
                                 "model_sha256": perf["model_sha256"],
                                 "accuracy_run_model_sha256": perf["model_sha256"]}
    assert record["seeds"] == {k: perf["result"]["effective"][k]
                               for k in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")}
    assert record["loadgen"].startswith("6.0.") and record["precision"] == "int8"
    assert record["batch"]["batch_size"] == perf["spec"]["batch_size"]
    assert record["backend"] == perf.get("backend")  # what ran the model (an endpoint: what it serves)
    assert record["topology"]["nodes"] == 1 and record["power_limit_w"] is None
    assert record["container"]["runtime"] == "local" and record["host"]["hostname"] == perf["execution"]["hostname"]
    assert record["validity"] == "VALID" and record["run_mode"] == "submission"
    assert set(record["files"]) == {f for f in bundle_files(folder) if f.startswith(TREE_RESULT + "/")}
    training = json.loads((folder / "provenance/training/cpu-host/digits-cnn/result_3.json").read_text())
    run = json.loads((RECORDED / "training/run_3/record.json").read_text())
    assert training["seeds"] == {"training": run["spec"]["seed"]} and training["log_sha256"] == run["log_sha256"]


def test_a_clean_bundle_verifies_and_passes_the_validator(bundle):
    folder, tarball = bundle
    result = verify(folder, tarball=tarball)
    assert result.ok, result.text()
    assert result.counts["provenance records"] == 6 and result.counts["files"] == len(bundle_files(folder))
    assert check_bundle(folder).ok


# --- one changed byte -------------------------------------------------------------------------------------


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    if not data:  # an empty file: the one byte it can change is a new one
        path.write_bytes(b"x")
        return
    data[offset] = (data[offset] + 1) % 256 if data[offset] != ord("\n") else ord("x")
    path.write_bytes(bytes(data))


def test_a_single_changed_byte_in_any_file_of_the_bundle_fails_verification(bundle, tmp_path):
    """Every file of the bundle (SHA256SUMS included), one byte each at a random position; then every byte of
    the manifest's first line (hash digits, separator, path, newline)."""
    folder, _ = bundle
    rng = random.Random(20261123)
    work = tmp_path / "b"
    shutil.copytree(folder, work)
    files = [*bundle_files(folder), MANIFEST]
    for rel in files:
        target = work / rel
        original = target.read_bytes()
        _flip(target, rng.randrange(max(len(original), 1)))
        result = verify(work)
        assert not result.ok, f"a changed byte in {rel} went unnoticed"
        assert any(rel in e or MANIFEST in e for e in result.errors), (rel, result.errors[:3])
        target.write_bytes(original)
    manifest = work / MANIFEST
    original = manifest.read_bytes()
    for offset in range(original.index(b"\n") + 1):
        _flip(manifest, offset)
        assert not verify(work).ok, f"byte {offset} of SHA256SUMS"
        manifest.write_bytes(original)
    assert verify(work).ok  # every file restored: the loop really put each byte back


def test_a_changed_byte_in_the_tarball_fails_verification(bundle, tmp_path):
    folder, tarball = bundle
    rng = random.Random(7)
    alone = tmp_path / tarball.name
    for _ in range(5):
        shutil.copyfile(tarball, alone)
        _flip(alone, rng.randrange(10, alone.stat().st_size - 8))  # inside the deflate stream or its CRC
        result = verify(alone)
        assert not result.ok and any(tarball.name in e and "corrupt" in e for e in result.errors), result.errors
    shutil.copyfile(tarball, alone)
    (tmp_path / f"{tarball.name}.sha256").write_text(f"{sha256_file(tarball)}  {tarball.name}\n")
    assert verify(alone).ok
    _flip(alone, 5)  # gzip's header time: ignored by gunzip, caught by the .sha256 beside it
    result = verify(alone)
    assert not result.ok and any("differs from" in e for e in result.errors)


def test_a_published_version_is_verified_with_its_tarball_against_its_folder(bundle, tmp_path):
    folder, tarball = bundle
    report = tmp_path / "check.txt"
    report.write_text("PASS\n")
    receipt = publish(folder, tarball, report, tmp_path / "submissions")
    version = Path(receipt["path"])
    assert verify(version).ok
    # a tarball re-made from a changed folder, with a matching .sha256: the folder and the tarball disagree
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    (changed / "benchwright.json").write_text((changed / "benchwright.json").read_text() + " ")
    write_manifest(changed)
    write_tarball(changed, version / tarball.name, prefix="default")
    (version / f"{tarball.name}.sha256").write_text(f"{sha256_file(version / tarball.name)}  {tarball.name}\n")
    result = verify(version)
    assert not result.ok
    assert any("benchwright.json: differs between the tarball and the folder" in e for e in result.errors)


# --- the chain ------------------------------------------------------------------------------------------


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


CHAIN = [  # (file, change, the error's words, whether the validator's provenance rule sees it too)
    ("provenance/evidence/digits-cnn/int8-calibration.json", lambda d: d.update(model_sha256="0" * 64),
     "INT8 model the runs loaded", True),
    ("provenance/evidence/digits-cnn/fp32-record.json", lambda d: d.update(weights_sha256="1" * 64),
     "FP32 weights in their training record", True),
    ("provenance/evidence/digits-cnn/data-manifest.json",
     lambda d: d["inputs"].update({"digits.csv.gz": "2" * 64}), "sha256 of the preprocessing manifest", True),
    (PROV, lambda d: d["calibration"].update(list_sha256="3" * 64), "calibration list in the calibration record",
     True),
    (PROV, lambda d: d["files"].popitem(), "does not name", False),  # result files: the validator's own rules
    ("provenance/training/cpu-host/digits-cnn/result_1.json", lambda d: d.update(log_sha256="4" * 64),
     "against its run's record", False),
]


@pytest.mark.parametrize("rel,change,fragment,validator", CHAIN, ids=[c[2] for c in CHAIN])
def test_a_broken_link_of_the_chain_is_named_even_with_a_rewritten_manifest(copy, rel, change, fragment, validator):
    _edit_json(copy / rel, change)
    write_manifest(copy)  # a careful forger: the manifest alone no longer tells
    result = verify(copy)
    assert not result.ok and any(fragment in e for e in result.errors), result.errors
    report = check_bundle(copy, training_tools=False)
    assert ("provenance" in {v.rule for v in report.violations}) is validator, report.text()


def test_a_result_without_provenance_fails(copy):
    _edit_json(copy / "benchwright.json", lambda d: d["inference"][0].update(provenance=None))
    write_manifest(copy)
    assert any("has no provenance record" in e for e in verify(copy).errors)
    assert "provenance" in {v.rule for v in check_bundle(copy, training_tools=False).violations}


def test_code_drift_is_a_warning_not_an_error(copy):
    meta = json.loads((copy / "benchwright.json").read_text())
    _edit_json(copy / PROV, lambda d: d.update(code={"commit": "f" * 40, "dirty": True, "modified": ["workflow/x"]}))
    write_manifest(copy)
    result = verify(copy)
    assert result.ok
    assert any(f"produced at commit {'f' * 12}" in w and meta["source"]["commit"][:12] in w for w in result.warnings)
    assert any("modified code (workflow/x)" in w for w in result.warnings)


def test_a_readme_command_that_is_not_the_recorded_one_fails_verification(copy):
    """The README lists the commands the jobs recorded; one edited (and the manifest rewritten) no longer matches
    the provenance record's."""
    readme = copy / TREE_RESULT / "README.md"
    readme.write_text(readme.read_text().replace("--target-fraction 0.99", "--target-fraction 0.9"))
    write_manifest(copy)
    result = verify(copy)
    assert not result.ok
    assert any(e.startswith(f"{TREE_RESULT}/README.md: does not list the command its job recorded ({PROV}): "
                            "benchwright accuracy --run ") for e in result.errors), result.errors


def test_manifest_is_parsed_strictly():
    good = f"{'a' * 64}  a.txt\n{'b' * 64}  b.txt\n".encode()
    assert parse_manifest(good) == {"a.txt": "a" * 64, "b.txt": "b" * 64}
    for bad, why in [(good[:-1], "newline"), (good.replace(b"  a.txt", b" a.txt"), "line 1"),
                     (good.replace(b"a.txt", b"c.txt"), "out of order"), (good.upper(), "line 1"),
                     (good + good[:72], "listed twice"), (b"\xff" + good, "UTF-8")]:
        with pytest.raises(ValueError, match=why):
            parse_manifest(bad)


def test_verify_command_prints_one_line_per_error_and_exits_1(copy, capsys):
    from benchwright.cli import main

    assert main(["verify", str(copy)]) == 0
    (copy / TREE_RESULT / "user.conf").write_text("changed\n")
    (copy / "stray.txt").write_text("added\n")
    capsys.readouterr()
    assert main(["verify", str(copy)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("FAILED: ") and "3 error(s)" in out[-1]
    assert f"error: {TREE_RESULT}/user.conf: sha256 " in "\n".join(out)
    assert f"error: {PROV}: sha256 of {TREE_RESULT}/user.conf: " in "\n".join(out)  # and what it breaks
    assert "error: stray.txt: not listed in SHA256SUMS" in "\n".join(out)


# --- drift ------------------------------------------------------------------------------------------------


def test_drift_flags_the_runs_that_differ_from_the_others():
    base = {"execution": {"code": {"commit": "a" * 40, "dirty": False}, "image_id": None,
                          "software": {"python": "3.11.7", "packages": {"torch": "2.13.0+cpu"}}},
            "node": {"effective": {"processor_model_name": "AMD EPYC", "processor_core_count": 2}}}
    other = json.loads(json.dumps(base))
    other["execution"]["software"]["packages"]["torch"] = "2.12.0+cpu"
    other["node"]["effective"]["processor_model_name"] = "Intel Xeon"
    old = {"execution": {"hostname": "vm"}}  # an older run that recorded neither code nor software
    flags = drift({"r1": fingerprint(base), "r2": fingerprint(base), "r3": fingerprint(other), "r4": fingerprint(old)})
    assert set(flags) == {"r3"}
    assert any("torch 2.12.0+cpu (the other 2 run(s): 2.13.0+cpu)" == m for m in flags["r3"])
    assert any(m.startswith("host processor_model_name Intel Xeon") for m in flags["r3"])
