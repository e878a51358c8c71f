"""Hardening catalog (docs/reliability.md), the cases that need no service: every class of config error is
reported with file, field, expectation and fix; names that become paths or wildcards refuse shell
metacharacters; a download that never arrives whole keeps what it got; a disk error names the file; an INVALID
LoadGen run fails and is kept aside, never at the result's path."""

from __future__ import annotations

import copy
import errno
import json
import time
from pathlib import Path

import pytest

from benchwright.errors import CampaignError, DiskWriteError
from benchwright.fsutil import atomic_open, atomic_write_text, staged_dir
from tests.unit.test_fetch import FAST, PAYLOAD, PAYLOAD_SHA, quiet, send_cut, send_range, serve  # noqa: F401

CAMPAIGN = "config/config.yaml"
SKU = "config/systems/cpu-host.yaml"
BENCH = "config/benchmarks/digits-cnn.yaml"

INJECTIONS = ["'; touch PWNED #", "$(touch PWNED)", "`touch PWNED`", "x\ntouch PWNED"]


def _campaign(change):
    return lambda tree: change(tree.campaign)


def _edit(kind, name, change):
    return lambda tree: tree.edit(kind, name, change)


def _set(path: list, value):
    def change(d):
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
    return change


def _drop(path: list):
    def change(d):
        for key in path[:-1]:
            d = d[key]
        d.pop(path[-1])
    return change


# One row per pydantic error class (and the run-rule checks after them): (edit, file, field, problem, fix).
SCHEMA_VIOLATIONS = [
    pytest.param(_campaign(_drop(["submitter"])), CAMPAIGN, "submitter", "required key `submitter` is missing",
                 "add `submitter:`", id="missing-field"),
    pytest.param(_edit("systems", "cpu-host", _set(["coolign"], "air")), SKU, "coolign", "unknown key `coolign`",
                 "did you mean `cooling`?", id="extra-misspelled-key"),
    pytest.param(_campaign(_set(["seed"], "forty-two")), CAMPAIGN, "seed", "expected a valid integer",
                 "Master seed", id="wrong-type"),
    pytest.param(_campaign(_set(["seed"], -1)), CAMPAIGN, "seed", "greater than or equal to 0", "Master seed",
                 id="out-of-range"),
    pytest.param(_edit("benchmarks", "digits-cnn", _set(["training", "max_epochs"], 0)), BENCH,
                 "training.max_epochs", "greater than 0", "", id="out-of-range-nested"),
    pytest.param(_campaign(_set(["division"], "closd")), CAMPAIGN, "division", "`closd` is not allowed",
                 "did you mean `closed`?", id="invalid-enum"),
    pytest.param(_edit("systems", "cpu-host", _set(["status"], "availble")), SKU, "status",
                 "`availble` is not allowed", "did you mean `available`?", id="invalid-literal"),
    pytest.param(_edit("benchmarks", "digits-cnn", lambda d: d["dataset"]["files"][0].update(sha256="09F66E")),
                 BENCH, "dataset.files[0].sha256", "'09F66E' is not valid", "64 lower-case hex digits",
                 id="bad-pattern-sha256"),
    pytest.param(_campaign(_set(["name"], "My Campaign")), CAMPAIGN, "name", "'My Campaign' is not valid",
                 "a lower-case name", id="bad-pattern-identifier"),
    pytest.param(_edit("benchmarks", "digits-cnn", lambda d: d["dataset"]["files"][0].update(url="ftp://x/y")),
                 BENCH, "dataset.files[0].url", "'ftp://x/y' is not valid", "http://, https://, file://",
                 id="bad-pattern-url"),
    pytest.param(_campaign(lambda c: c["benchmarks"]["digits-cnn"].update(systems=[])), CAMPAIGN,
                 "benchmarks.digits-cnn.systems", "at least 1 item", "SKU ids", id="too-short"),
    pytest.param(_campaign(lambda c: c["benchmarks"]["digits-cnn"].update(systems=["cpu-host", "cpu-host"])),
                 CAMPAIGN, "benchmarks.digits-cnn.systems", "more than once", "SKU ids", id="field-validator"),
    pytest.param(_edit("benchmarks", "digits-cnn", _set(["model", "weights"], {"url": "https://x/w.pt"})), BENCH,
                 "model.weights", "`url` needs the model file's `sha256`",
                 "weights", id="cross-field"),
    pytest.param(_campaign(lambda c: c.update(mode="submission", loadgen={"min_duration_ms": 1000})), CAMPAIGN,
                 "loadgen.min_duration_ms", "under the run rules' minimum of 600000 ms", "use `mode: smoke`",
                 id="run-rule"),
    pytest.param(_campaign(lambda c: c["benchmarks"]["digits-cnn"].update(systems=["gpu-box"])), CAMPAIGN,
                 "benchmarks.digits-cnn.systems", "unknown SKU `gpu-box`", "Known:", id="cross-file-reference"),
]


@pytest.mark.parametrize(("edit", "file", "field", "problem", "fix"), SCHEMA_VIOLATIONS)
def test_every_schema_violation_class_names_file_field_expectation_and_fix(config_tree, edit, file, field,
                                                                           problem, fix):
    edit(config_tree)
    with pytest.raises(CampaignError) as info:
        config_tree.load()
    found = [p for p in info.value.problems if p.file.endswith(file) and p.field == field]
    assert found, f"no problem at {file}: {field}; got:\n{info.value}"
    assert problem in found[0].message, found[0].render()
    assert fix in found[0].fix and found[0].fix.strip(), found[0].render()
    text = str(info.value)  # what the user reads: one block per problem
    assert f"{file}: {field}" in text and "problem:" in text and "fix:" in text and "no job was started" in text


@pytest.mark.parametrize(("text", "where"), [
    pytest.param("name: default\nsubmitter: [unclosed\n", "line 3", id="unclosed-flow"),
    pytest.param("name: default\n  submitter: x\n", "line 2", id="bad-indent"),
    pytest.param("name: 'default\nsubmitter: x\n", "line 3", id="unclosed-quote"),
    pytest.param("name: default\n\tsubmitter: x\n", "line 2", id="tab"),
])
def test_malformed_campaign_yaml_names_file_and_line(tmp_path, monkeypatch, text, where):
    from benchwright.config import load_plan_file

    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaign.yaml").write_text(text)
    with pytest.raises(CampaignError) as info:
        load_plan_file(tmp_path / "campaign.yaml", root=tmp_path)
    problem = info.value.problems[0]
    assert problem.file == "campaign.yaml" and problem.field.startswith(where), problem.render()
    assert "not valid YAML" in problem.message and "fix the YAML syntax" in problem.fix


# --- names that become paths, wildcards or directory names refuse shell metacharacters ---------------------

NAMED = [
    pytest.param(lambda t, v: t.campaign.update(name=v), CAMPAIGN, "name", id="campaign-name"),
    pytest.param(lambda t, v: t.campaign.update(submitter=v), CAMPAIGN, "submitter", id="submitter"),
    pytest.param(lambda t, v: t.campaign["benchmarks"].update({v: t.campaign["benchmarks"]["digits-cnn"]}),
                 CAMPAIGN, "benchmarks.{v}", id="benchmark-key"),
    pytest.param(lambda t, v: t.campaign["benchmarks"]["digits-cnn"].update(systems=[v]), CAMPAIGN,
                 "benchmarks.digits-cnn.systems[0]", id="sku-id"),
    pytest.param(lambda t, v: t.edit("benchmarks", "digits-cnn", lambda d: d["dataset"].update(name=v)), BENCH,
                 "dataset.name", id="dataset-name"),
    pytest.param(lambda t, v: t.edit("benchmarks", "digits-cnn", lambda d: d["dataset"]["files"][0].update(
        filename=v)), BENCH, "dataset.files[0].filename", id="dataset-filename"),
    pytest.param(lambda t, v: t.edit("benchmarks", "digits-cnn", lambda d: d["dataset"]["files"][0].update(
        url="https://example.org/data/" + v)), BENCH, "dataset.files[0]", id="file-name-from-url"),
    pytest.param(lambda t, v: t.edit("systems", "cpu-host", lambda d: d["container"].update(image=v)), SKU,
                 "container.image", id="image-name"),
]


@pytest.mark.parametrize("value", INJECTIONS, ids=["quote", "dollar-paren", "backticks", "newline"])
@pytest.mark.parametrize(("put", "file", "field"), NAMED)
def test_names_used_as_paths_refuse_shell_metacharacters(config_tree, put, file, field, value):
    put(config_tree, value)
    with pytest.raises(CampaignError) as info:
        config_tree.load()
    field = field.format(v=value)
    found = [p for p in info.value.problems if p.file.endswith(file) and p.field == field]
    assert found, f"no problem at {file}: {field}; got:\n{info.value}"
    message = found[0].message + found[0].fix
    assert "is not valid" in message or "cannot be a local file name" in message, found[0].render()
    assert "letters, digits" in message, found[0].render()


def test_a_url_ending_in_a_usable_name_needs_no_filename(config_tree):
    config_tree.edit("benchmarks", "digits-cnn",
                     lambda d: d["dataset"]["files"][0].update(url="https://example.org/d/digits.csv.gz"))
    assert config_tree.load().dataset_files()[("sklearn-digits", "digits.csv.gz")]


# --- a download that never arrives whole -----------------------------------------------------------------


def test_a_download_always_cut_short_keeps_its_bytes_and_the_next_run_resumes(serve, tmp_path):  # noqa: F811
    from benchwright.data.fetch import FetchError, fetch, part_path

    keep = 10_000

    def cut_every_time(h, n):
        if n == 0:
            return send_cut(h, keep=keep)  # 200, the announced length, then the connection closes
        h.send_response(206)  # the resumed requests: the rest is announced, nothing of it arrives
        h.send_header("Content-Range", f"bytes {keep}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        h.send_header("Content-Length", str(len(PAYLOAD) - keep))
        h.end_headers()
        h.close_connection = True

    cut = serve(cut_every_time)
    dest = tmp_path / "data.bin"
    with pytest.raises(FetchError) as info:
        fetch(cut.url(), dest, PAYLOAD_SHA, retries=2, log=quiet, **FAST)
    message = str(info.value)
    assert cut.url() in message and "after 3 attempts" in message
    assert f"{keep} bytes received so far are kept in {part_path(dest)}" in message and "resumes" in message
    assert not dest.exists() and part_path(dest).read_bytes() == PAYLOAD[:keep]
    assert [r.get("range") for r in cut.requests] == [None, f"bytes={keep}-", f"bytes={keep}-"]
    healthy = serve(lambda h, n: send_range(h))
    fetch(healthy.url(), dest, PAYLOAD_SHA, log=quiet, **FAST)
    assert dest.read_bytes() == PAYLOAD and not part_path(dest).exists()
    assert healthy.requests[0]["range"] == f"bytes={keep}-"


# --- disk errors name the file (a full disk itself: tests/integration/test_hardening.py) ----------------------


class _FailingWrites:
    """A file object whose writes fail as a full disk's do (an OSError without a file name)."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_names_the_file_and_keeps_the_previous_one(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("previous")
    with pytest.raises(DiskWriteError) as info:
        with atomic_open(target, "w") as handle:
            _FailingWrites(handle).write("new")
    err = info.value
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC and err.filename == str(target)
    assert str(target) in str(err) and "free space" in str(err)
    assert target.read_text() == "previous" and sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_other_errors_inside_an_atomic_write_pass_unchanged(tmp_path):
    with pytest.raises(KeyError):
        with atomic_open(tmp_path / "x", "w"):
            raise KeyError("k")
    with pytest.raises(FileNotFoundError):
        with atomic_open(tmp_path / "y", "w"):
            open(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_staged_folder_names_its_target_and_keeps_the_previous_one(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    atomic_write_text(target / "kept.txt", "previous")
    with pytest.raises(DiskWriteError, match=f"while writing {target}"):
        with staged_dir(target, replace=True) as staging:
            (staging / "a.npy").write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (target / "kept.txt").read_text() == "previous"


# --- an INVALID LoadGen run ---------------------------------------------------------------------------------


def test_an_invalid_run_is_retried_then_fails_and_is_kept_aside(default_models, tmp_path):
    """SingleStream sized for 1 s per query: LoadGen pre-generates 100 queries, the model answers them long before
    the 2 s minimum duration, and the run is INVALID (ran out of queries). Each retry halves the expected latency
    (4 attempts in all, each recorded), still too few queries; the job fails and the run is kept as
    performance.invalid/, with nothing at the result's path."""
    from benchwright.harness.spec import RunSpec
    from benchwright.harness.isolate import call_in_fresh_process
    from benchwright.harness.steps import InvalidRun, loadgen_job

    spec = RunSpec(benchmark="digits-cnn", system="cpu-host", loadgen_model="resnet50", scenario="SingleStream",
                   mode="performance", precision="fp32", run_mode="smoke",
                   model=default_models["plan"].model_spec("digits-cnn", "cpu-host"),
                   performance_sample_count=1024, min_duration_ms=2000, min_query_count=100,
                   target_latency_ms=1000)
    out = tmp_path / "results/SingleStream/performance"
    with pytest.raises(InvalidRun) as info:  # in a process of its own, as every LoadGen run (harness.isolate)
        call_in_fresh_process(loadgen_job, spec, default_models["fp32"], default_models["data"], out)
    message = str(info.value)
    assert "SingleStream fp32 performance run of digits-cnn on cpu-host is INVALID" in message
    assert f"{out}.invalid/mlperf_log_summary.txt" in message and "target_latency_ms" in message
    assert not out.exists()
    record = json.loads((out.parent / "performance.invalid/record.json").read_text())
    assert [a["target_latency_ms"] for a in record["attempts"]] == [1000, 500, 250, 125]
    assert {a["validity"] for a in record["attempts"]} == {"INVALID"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["performance.invalid"]  # no staging folder left


def test_a_step_missing_its_input_fails_in_one_line_naming_the_file(tmp_path, capsys):
    """An OSError of a step (a missing input here; a permission or a full disk likewise) is one line with the
    file's name and exit code 1, not a traceback."""
    from benchwright.cli import main

    code = main(["accuracy", "--run", str(tmp_path / "no-such-run"), "--data", str(tmp_path / "no-data"),
                 "--benchmark", "digits-cnn", "--reference", "97.656", "--target-fraction", "0.99",
                 "--out", str(tmp_path / "accuracy.txt")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("benchwright accuracy: ") and "no-data" in err
    assert "No such file" in err or "is missing" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "accuracy.txt").exists()


def test_the_next_writer_removes_what_a_killed_writer_left_and_nothing_of_a_live_one(tmp_path):
    """A writer killed with SIGKILL leaves its hidden temporary file and staging folder; the next write of the same
    target removes them (their process is gone), never those of a live process or of another target."""
    import signal
    import subprocess
    import sys

    from benchwright.fsutil import atomic_write_text, staging_dir

    target = tmp_path / "result.json"
    code = ("import sys, time; from pathlib import Path; from benchwright.fsutil import atomic_open, staging_dir\n"
            "staging_dir(Path(sys.argv[1]))\n"
            "with atomic_open(sys.argv[1], 'w') as h:\n"
            "    h.write('half'); h.flush(); print('ready', flush=True); time.sleep(60)\n")

    def writer():
        proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    killed = writer()
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    leftovers = {p.name for p in tmp_path.iterdir() if f"-{killed.pid}." in p.name}
    assert len(leftovers) == 2 and not target.exists()  # a temporary file and a staging folder
    other = staging_dir(tmp_path / "result.json.other")  # another target whose name starts the same way
    live = writer()  # the next writer of the same target
    try:
        names = {p.name for p in tmp_path.iterdir()}
        assert not leftovers & names, "the killed writer's leftovers are still there"
        atomic_write_text(target, "{}")  # and one more, while the live writer is still writing
        names = {p.name for p in tmp_path.iterdir()}
        assert len([n for n in names if f"-{live.pid}." in n]) == 2, "a live writer's files were removed"
        assert other.name in names and target.read_text() == "{}"
    finally:
        live.kill()
        live.wait()


def test_a_run_that_stops_moving_is_stopped_with_the_stacks_of_its_threads(tmp_path):
    """A LoadGen run whose samples issued and completed stop changing cannot be interrupted from Python: the
    progress reporter writes every thread's stack and exits with STALL_EXIT, so the job fails instead of hanging."""
    import subprocess
    import sys

    from benchwright.harness.run import STALL_EXIT

    code = ("import threading, time\n"
            "from benchwright.harness.run import Progress\n"
            "from benchwright.harness.sut import Counters\n"
            "class Stuck:\n"
            "    counters = Counters(issued=5, completed=3)\n"
            "def emit(m): print(m, flush=True)\n"
            "with Progress('[stuck run]', Stuck(), 2.0, 0.2, emit, stall_s=1.0):\n"
            "    threading.Event().wait(30)  # like StartTest blocked in C++\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == STALL_EXIT and time.monotonic() - start < 20
    assert "[stuck run] made no progress for 1 s" in proc.stdout and "5 samples issued, 3 completed" in proc.stdout
    assert "Thread 0x" in proc.stderr and "wait" in proc.stderr  # faulthandler's stacks of every thread


def test_progress_reads_the_counters_live_and_a_moving_run_is_never_stopped():
    from benchwright.harness.run import Progress
    from benchwright.harness.sut import Counters

    class Moving:
        n = 0

        @property
        def counters(self):
            self.n += 1
            return Counters(issued=self.n, completed=self.n)

    lines = []
    with Progress("[run]", Moving(), 1.0, 0.05, lines.append, stall_s=0.1):
        time.sleep(0.6)
    reports = [line for line in lines if " s / 1 s minimum" in line]
    assert len(reports) >= 3 and reports[0] != reports[-1]  # each report reads the SUT again
    assert lines[-1].startswith("[run]: finished after")
