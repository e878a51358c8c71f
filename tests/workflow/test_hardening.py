"""Hardening catalog (docs/reliability.md), the cases that run the real Snakefile: no shell injection from any
config string, Snakemake's lock against a second run in the same folder, and a killed job."""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from .conftest import BIN, REPO, snakemake

PAYLOADS = ["'; touch PWNED #", "$(touch PWNED)", "`touch PWNED`", "x\ntouch PWNED \"q\" && touch PWNED"]
DRY_TARGETS: tuple[str, ...] = ()  # the default target: every job of the campaign
DIGITS = importlib.resources.files("sklearn") / "datasets" / "data" / "digits.csv.gz"

STUB = """#!{python}
import json, os, sys
with open(os.environ["ARGV_LOG"], "a") as log:
    log.write(json.dumps({{"prog": os.path.basename(sys.argv[0]), "argv": sys.argv[1:]}}) + "\\n")
if os.path.basename(sys.argv[0]) == "tee":
    sys.stdin.read()
"""


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _shell_commands(dry_run: str) -> list[tuple[str, list[str]]]:
    """(command, its log files) of every job in `snakemake -n -p` output."""
    jobs = []
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} [A-Z][a-z]{2} )", dry_run):
        if "Shell command: " not in block or re.search(r"^(local)?rule all:", block, re.M):
            continue  # `rule all` has no command (Snakemake prints "Shell command: None" for it)
        head, command = block.split("Shell command: ", 1)
        command = re.split(r"\n\n|\nJob stats:", command)[0]
        logs = [line.split("log: ", 1)[1] for line in head.splitlines() if line.strip().startswith("log: ")]
        jobs.append((command, [p.strip() for log in logs for p in log.split(", ")]))
    return jobs


def test_config_strings_never_reach_a_shell_unquoted(workdir, tmp_path):
    """Every free string of the campaign that reaches a rule's command (SKU name and notes, descriptions, model
    and preprocessing parameters, the dataset URL, the folder of the SKU files, the calibration list and the
    compliance rules file) holds shell metacharacters; every command of a forced dry run is then executed with
    stub programs that record their arguments. Nothing is executed by the shell, and each string arrives whole."""
    cfg = workdir / "config"
    p_name, p_hw, p_sw, p_desc = PAYLOADS
    _edit(cfg / "systems/cpu-host.yaml", lambda d: d.update(system_name=p_name, hw_notes=p_hw, sw_notes=p_sw))
    systems_dir = f"config/sys {PAYLOADS[0]}"
    shutil.move(cfg / "systems", workdir / systems_dir)
    calibration, rules = f"cal {PAYLOADS[1]}.txt", f"rules {PAYLOADS[2]}.yaml"
    shutil.move(cfg / "benchmarks/digits-cnn.calibration.txt", cfg / "benchmarks" / calibration)
    shutil.move(cfg / "benchmarks/digits-cnn.compliance.yaml", cfg / "benchmarks" / rules)

    def bench(d):
        d["description"] = p_desc
        d["dataset"]["description"] = p_desc
        d["dataset"]["files"][0].update(url=f"{d['dataset']['files'][0]['url']}?{p_name}", filename="digits.csv.gz")
        d["model"]["parameters"]["note"] = p_hw
        d["preprocessing"]["parameters"]["note"] = p_sw
        d["calibration"]["sample_list"] = calibration
        d["training"]["compliance_rules"] = rules

    _edit(cfg / "benchmarks/digits-cnn.yaml", bench)
    _edit(cfg / "config.yaml", lambda d: d.update(paths={"systems": systems_dir}))

    dry = snakemake(workdir, "-n", "-p", "--forceall", *DRY_TARGETS).stdout
    jobs = _shell_commands(dry)
    assert len(jobs) >= 40, dry[-3000:]  # every job of the default campaign

    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for prog in ("benchwright", "tee"):
        (stubs / prog).write_text(STUB.format(python=sys.executable))
        (stubs / prog).chmod(0o755)
    argv_log = tmp_path / "argv.jsonl"
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "ARGV_LOG": str(argv_log), "HOME": str(tmp_path)}
    # The payloads are live: put in a command bare, in '...' or in "..." (naive quoting), each creates the file.
    for payload in PAYLOADS:
        probe = tmp_path / "probe"
        probe.mkdir()
        for naive in (f"echo {payload}", f"echo '{payload}'", f'echo "{payload}"'):
            subprocess.run(["bash", "-c", naive], cwd=probe, env=env, capture_output=True)
        assert (probe / "PWNED").exists(), payload
        shutil.rmtree(probe)

    for command, logs in jobs:
        for log in logs:
            (workdir / log).parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["bash", "-c", f"set -euo pipefail; {command}"], cwd=workdir, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{command}\n{proc.stderr}"

    assert not [str(p) for p in tmp_path.rglob("PWNED")], "a config string was executed by the shell"
    calls = [json.loads(line) for line in argv_log.read_text().splitlines()]
    assert sum(c["prog"] == "benchwright" for c in calls) == len(jobs)
    # Each string arrives as one argument (a path) or inside one JSON argument, unchanged.
    args = [a for c in calls for a in c["argv"]]
    in_json = []
    for arg in args:
        if arg.startswith("{"):
            in_json += _strings(json.loads(arg))
    seen = set(args) | set(in_json)
    assert {p_name, p_hw, p_sw} <= seen  # the SKU's name (platform of training runs) and notes, parameters
    assert f"{systems_dir}/cpu-host.yaml" in seen
    assert f"config/benchmarks/{calibration}" in seen and f"config/benchmarks/{rules}" in seen
    assert any(a.endswith(f"?{p_name}") for a in args)  # the dataset URL


# --- a second run in the same folder ----------------------------------------------------------------------


class _HeldFile:
    """An HTTP server on 127.0.0.1 whose one file is sent only once ``release`` is set (a download that lasts)."""

    def __init__(self, payload: bytes):
        import http.server

        self.release = threading.Event()
        self.asked = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.asked.set()
                outer.release.wait(120)
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/digits.csv.gz"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _stop(proc: subprocess.Popen) -> None:
    """End a snakemake we started: SIGINT (it stops its jobs and releases its lock), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_second_run_in_the_same_folder_is_refused_by_the_lock(workdir, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    held = _HeldFile(DIGITS.read_bytes())
    _edit(workdir / "config/benchmarks/digits-cnn.yaml",
          lambda d: d["dataset"]["files"][0].update(url=held.url))
    target = "resources/datasets/sklearn-digits/digits.csv.gz"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    first = subprocess.Popen([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--cores", "1", target],
                             cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert held.asked.wait(120), "the first run never started its download"
        second = snakemake(workdir, "--cores", "1", target, check=False, timeout=120)
        assert second.returncode != 0
        assert "Directory cannot be locked" in second.stderr + second.stdout
        assert first.poll() is None  # the first run was not disturbed
        held.release.set()
        out, _ = first.communicate(timeout=120)
        assert first.returncode == 0, out[-3000:]
        assert (workdir / target).read_bytes() == DIGITS.read_bytes()
        locks = workdir / ".snakemake/locks"
        assert not locks.exists() or not list(locks.iterdir())  # released
    finally:
        held.close()
        _stop(first)


# --- a killed job -----------------------------------------------------------------------------------------------


def _seed_results(workdir: Path, models: dict) -> None:
    """The upstream outputs of an inference job (dataset, preprocessed data, FP32 weights), newer than their
    inputs, so Snakemake runs only detection and the LoadGen job itself."""
    dataset = workdir / "resources/datasets/sklearn-digits/digits.csv.gz"
    dataset.parent.mkdir(parents=True)
    dataset.write_bytes(DIGITS.read_bytes())
    time.sleep(0.05)
    shutil.copytree(models["data"], workdir / "results/data/digits-cnn")
    shutil.copytree(models["fp32"], workdir / "results/models/digits-cnn/fp32")


def _job_process(workdir: Path, needle: str) -> psutil.Process | None:
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmd = proc.info["cmdline"] or []
            if proc.info["cwd"] == str(workdir) and any(needle in a for a in cmd) and \
                    any(a.endswith("benchwright") for a in cmd[:2]):
                return proc
        except (psutil.Error, TypeError):
            continue
    return None


def test_a_killed_loadgen_job_fails_leaves_no_result_and_the_next_run_produces_it(workdir, default_models):
    _seed_results(workdir, default_models)
    target = "results/inference/cpu-host/digits-cnn/fp32/Offline/accuracy"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.Popen([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--cores", "1", target],
                           cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        job = None
        while time.monotonic() < deadline and run.poll() is None:
            job = _job_process(workdir, "loadgen")
            if job is not None and list((workdir / target).parent.glob(".accuracy.*")):
                break  # the job has begun writing its staged result
            time.sleep(0.05)
        assert job is not None, "the LoadGen job never started"
        job.send_signal(signal.SIGKILL)
        out, _ = run.communicate(timeout=120)
    finally:
        _stop(run)
    assert run.returncode != 0
    assert "Error in rule loadgen_accuracy" in out and target in out, out[-3000:]
    assert not (workdir / target).exists()  # nothing at the result's path
    assert _job_process(workdir, "loadgen") is None  # no process left behind

    again = snakemake(workdir, "--cores", "1", target)
    record = json.loads((workdir / target / "record.json").read_text())
    assert record["spec"]["mode"] == "accuracy" and "Nothing to be done" not in again.stdout + again.stderr
