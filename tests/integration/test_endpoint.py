"""The OpenAI-compatible endpoint SUT (issue 18, item 3b) against a real server process on 127.0.0.1
(tests/endpoint_server.py: uvicorn serving a transformers LM), through LoadGen in Offline and Server; and a server
that answers 500, drops the stream, or never sends a first chunk fails the run with what happened."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchwright.backends.endpoint import EndpointError, EndpointGenerator, check_base_url
from benchwright.backends.generate import TransformersGenerator
from benchwright.harness.logs import read_run

from ..generation_helpers import run_generation, tiny_lm

REPO = Path(__file__).resolve().parents[2]
NEW_TOKENS = 8
KEY_ENV = "BENCHWRIGHT_TEST_ENDPOINT_KEY"
SECRET = "sk-test-do-not-log-4f1c"


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> tuple[Path, Path]:
    return tiny_lm(tmp_path_factory.mktemp("endpoint"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """tests/endpoint_server.py in a process of its own, up once /v1/models answers."""

    def __init__(self, model: Path, mode: str):
        self.port = _free_port()
        env = {**os.environ, KEY_ENV: SECRET, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "workflow")])}
        self.log = model.parent / f"server-{mode}-{self.port}.log"
        with open(self.log, "w") as log:  # a file, not a pipe nobody reads: a full pipe would block the server
            self.proc = subprocess.Popen([sys.executable, str(REPO / "tests/endpoint_server.py"), "--model",
                                          str(model), "--port", str(self.port), "--mode", mode, "--api-key-env",
                                          KEY_ENV], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the test server exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the test server did not start within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def server(lm):
    s = Server(lm[0], "ok")
    yield s
    s.stop()


@pytest.fixture
def client(server, lm, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    g = EndpointGenerator(server.base_url, "tiny-lm", lm[0] / "tokenizer.json", api_key_env=KEY_ENV,
                          timeout_s=30, concurrency=4)
    yield g
    g.close()


def test_the_endpoint_answers_what_the_model_generates_in_process(client, lm):
    prompts = list(np.load(lm[1] / "val_prompt.npy")[:4])
    local = TransformersGenerator(lm[0], threads=1).generate(prompts, NEW_TOKENS)
    firsts: dict[int, int] = {}
    remote = client.generate(prompts, NEW_TOKENS, lambda i, t: firsts.setdefault(i, t))
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(lm[0] / "tokenizer.json"))
    for a, b in zip(local, remote):  # the same text; the client re-tokenizes it as MLCommons' API harnesses do
        assert tok.decode(a.tolist()) == tok.decode(b.tolist())
    assert sorted(firsts) == [0, 1, 2, 3]
    identity = client.identity()
    assert identity["served_models"] == ["tiny-lm"] and identity["server"] == "benchwright-test-endpoint/1"
    assert SECRET not in json.dumps(identity) and SECRET not in json.dumps(client.describe())


@pytest.mark.parametrize("scenario", ["Offline", "Server"])
def test_loadgen_through_the_endpoint(client, lm, tmp_path, scenario):
    sut = run_generation(client, np.load(lm[1] / "val_prompt.npy")[:24], tmp_path / scenario, scenario,
                         max_new_tokens=NEW_TOKENS)
    sut.close()
    run = read_run(tmp_path / scenario)
    assert sut.counters.completed == sut.counters.issued >= 12 and run.tokens_per_second > 0
    if scenario == "Server":
        assert run.first_token_latency.p50_ns > 0 and run.time_per_output_token.p50_ns > 0
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / scenario).iterdir())
    assert SECRET not in logs


@pytest.mark.parametrize(("mode", "message"), [
    ("fail500", r"POST http://127\.0\.0\.1:\d+/v1/completions answered HTTP 500: .*model crashed"),
    ("cut", r"broke off the response after 2 chunk"),
    ("silent", r"no first chunk within the timeout"),
])
def test_a_misbehaving_server_fails_the_run_with_what_happened(lm, tmp_path, monkeypatch, mode, message):
    bad = Server(lm[0], mode)
    monkeypatch.setenv(KEY_ENV, SECRET)
    try:
        g = EndpointGenerator(bad.base_url, "tiny-lm", lm[0] / "tokenizer.json", api_key_env=KEY_ENV,
                              timeout_s=2, max_retries=0, concurrency=2)
        with pytest.raises(EndpointError, match=message) as caught:
            g.generate([np.load(lm[1] / "val_prompt.npy")[0]], NEW_TOKENS)
        assert SECRET not in str(caught.value)
        # Through LoadGen: the run still ends (every request answered), and closing the SUT reports the failure.
        sut = run_generation(g, np.load(lm[1] / "val_prompt.npy")[:4], tmp_path / "run", "Offline",
                             max_new_tokens=NEW_TOKENS)
        with pytest.raises(RuntimeError, match=message):
            sut.close()
        g.close()
    finally:
        bad.stop()


def test_bad_endpoint_settings_are_refused(lm, monkeypatch):
    with pytest.raises(EndpointError, match=r"base_url 'ftp://example' is not an http\(s\) URL"):
        check_base_url("ftp://example")
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(EndpointError, match=f"API key variable {KEY_ENV} is not set"):
        EndpointGenerator("http://127.0.0.1:9/v1", "m", lm[0] / "tokenizer.json", api_key_env=KEY_ENV)
    with pytest.raises(EndpointError, match="tokenizer.json"):
        EndpointGenerator("http://127.0.0.1:9/v1", "m", lm[0] / "missing.json")


def _endpoint_spec(base_url: str, scenario: str, **endpoint):
    from benchwright.harness.spec import RunSpec

    return RunSpec(benchmark="pydoc-lm", system="cpu-host", loadgen_model="llama3_1-8b", scenario=scenario,
                   mode="performance", precision="fp32", run_mode="smoke", performance_sample_count=64,
                   min_duration_ms=300, min_query_count=8, batch_size=4, threads=1, batching_timeout_us=2000,
                   target_qps=20, expected_qps=20, progress_interval_s=60,
                   model={"task": "text_generation", "backend": "endpoint", "format": "transformers",
                          "task_parameters": {"max_new_tokens": NEW_TOKENS},
                          "endpoint": {"base_url": base_url, "model": "tiny-lm", "api_key_env": KEY_ENV,
                                       "timeout_s": 5, "max_retries": 0, "concurrency": 4, **endpoint}})


@pytest.mark.parametrize("scenario", ["Offline", "Server"])
def test_the_dags_loadgen_step_through_the_endpoint(server, lm, tmp_path, monkeypatch, scenario, fresh_processes):
    from benchwright.harness.steps import loadgen_job

    monkeypatch.setenv(KEY_ENV, SECRET)
    record = loadgen_job(_endpoint_spec(server.base_url, scenario), lm[0], lm[1], tmp_path / "run",
                         require_valid=False)
    assert record["backend"]["backend"] == "openai-endpoint"
    assert record["backend"]["served"]["served_models"] == ["tiny-lm"]  # the endpoint's identity, in provenance
    assert record["result"]["tokens_per_second"] > 0
    if scenario == "Server":
        assert record["result"]["first_token_latency"]["p99_ns"] > 0
    text = "".join(p.read_text(errors="replace") for p in (tmp_path / "run").rglob("*") if p.is_file())
    assert SECRET not in text and KEY_ENV in (tmp_path / "run/record.json").read_text()  # named, never held


@pytest.mark.parametrize("mode", ["fail500", "cut", "silent"])
def test_a_failed_endpoint_run_leaves_nothing_at_the_output(lm, tmp_path, monkeypatch, mode, fresh_processes):
    from benchwright.harness.steps import loadgen_job

    bad = Server(lm[0], mode)
    monkeypatch.setenv(KEY_ENV, SECRET)
    try:
        with pytest.raises(Exception, match="generation failed|HTTP 500|broke off|no first chunk") as caught:
            loadgen_job(_endpoint_spec(bad.base_url, "Offline", timeout_s=2), lm[0], lm[1], tmp_path / "run")
        assert SECRET not in str(caught.value)
        assert list(tmp_path.iterdir()) == []  # no run folder, no staging folder left behind
    finally:
        bad.stop()
