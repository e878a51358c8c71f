"""generation: what generating text through LoadGen's token API and benchwright's streaming SUT costs against
``model.generate`` in a plain loop, on the same prompts, batch and token budget.

Nothing here needs the campaign. A fresh process writes, into the measurement's scratch folder, the
``pydoc-topics`` corpus (vocabulary 2,048, prompts of 64 tokens) and a random-weight GPT-2 LM head model of the
default LM's shape (4 layers x 256, ``benchwright.models.lm.build_lm``, torch seed 0) as a transformers folder.

Variant: the model through ``harness.generation.StreamingSUT`` and ``backends.generate.TransformersGenerator``
(greedy, KV cache, batch 8, 32 new tokens) in LoadGen's Offline scenario with ``use_token_latencies``, the SUT's
worker in the thread that loaded the model and LoadGen in another (``StreamingSUT.serve``): LoadGen's
``result_tokens_per_second``. Baseline, in a fresh process, no LoadGen, no benchwright: ``model.generate`` of the
same folder (``do_sample=False``, KV cache, the same threads) on the same prompts in batches of 8 with 32 new
tokens, as many prompts as the LoadGen run issued: generated tokens per second. Target: ratio >= 0.9.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import Context, Row, Target, compare, foreign_note, in_fresh_process, register

NAME = "generation"
TARGET = Target(">=", 0.90)
BATCH, NEW_TOKENS, THREADS = 8, 32, 2
MODEL = {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_positions": 256}
"""A random-weight GPT-2 of 4 x 256 (3.7M parameters), the shape the numbers in docs/performance.md were measured
with. The default LM (LM_DEFAULTS) has since become 2 x 256: less work per token for the same harness."""
PROMPTS = {"quick": 96, "full": 160}
"""Prompts per run: Offline's one query (min_query_count), and as many in the plain loop."""


def prepare(folder: str) -> dict[str, Any]:
    import json
    import shutil

    import pydoc_data.topics
    import torch
    from benchwright.data.preprocess import preprocess
    from benchwright.models.lm import build_lm

    root = Path(folder)
    preprocess("pydoc-topics", 1, {}, [pydoc_data.topics.__file__], root / "data")
    split = json.loads((root / "data/split.json").read_text())
    torch.manual_seed(0)
    model = build_lm(MODEL, split["vocab_size"], split["eos_token_id"])
    model.save_pretrained(root / "model", safe_serialization=True)
    shutil.copyfile(root / "data/tokenizer.json", root / "model/tokenizer.json")
    return {"model_dir": str(root / "model"), "data_dir": str(root / "data"), "parameters": MODEL,
            "parameter_count": int(sum(p.numel() for p in model.parameters()))}


def sut_run(model_dir: str, data_dir: str, out_dir: str, prompts: int) -> dict[str, Any]:
    """One Offline LoadGen run of ``prompts`` prompts through the streaming SUT."""
    import mlperf_loadgen as lg
    import numpy as np
    from benchwright.backends.generate import TransformersGenerator
    from benchwright.harness.generation import StreamingSUT
    from benchwright.harness.logs import read_run
    from benchwright.harness.sut import SampleLibrary

    generator = TransformersGenerator(model_dir, threads=THREADS)
    samples = np.load(Path(data_dir) / "val_prompt.npy")[:prompts]
    generator.generate(list(samples[:BATCH]), 4)  # warm-up, untimed
    library = SampleLibrary(samples, len(samples))
    sut = StreamingSUT(generator, library, batch_size=BATCH, max_new_tokens=NEW_TOKENS, serve_in_caller=True)
    settings = lg.TestSettings()
    settings.scenario, settings.mode = lg.TestScenario.Offline, lg.TestMode.PerformanceOnly
    settings.use_token_latencies = True
    settings.min_duration_ms, settings.min_query_count, settings.offline_expected_qps = 1, prompts, 1
    log = lg.LogSettings()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    log.log_output.outdir, log.log_output.copy_summary_to_stdout = out_dir, False
    started = time.perf_counter()
    sut.serve(lambda: lg.StartTestWithLogSettings(sut.sut, library.qsl, settings, log))  # model in this thread
    wall = time.perf_counter() - started
    sut.close()
    library.close()
    run = read_run(out_dir)
    return {"tokens_per_second": run.tokens_per_second, "valid": run.valid, "samples": run.sample_count,
            "tokens": sut.tokens, "wall_s": round(wall, 3)}


def plain_loop(model_dir: str, data_dir: str, prompts: int) -> dict[str, Any]:
    """``model.generate`` over the same prompts in batches of BATCH: generated tokens per second."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(THREADS)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    samples = torch.from_numpy(np.load(Path(data_dir) / "val_prompt.npy")[:prompts].astype(np.int64))
    eos = model.config.eos_token_id

    def run(batch: Any, new: int) -> int:
        out = model.generate(batch, attention_mask=torch.ones_like(batch), max_new_tokens=new, do_sample=False,
                             pad_token_id=eos)
        generated = out[:, batch.shape[1]:]
        # tokens up to and including each row's first end-of-text, as the SUT counts them
        ends = [(row == eos).nonzero() for row in generated]
        return sum(int(e[0]) + 1 if len(e) else generated.shape[1] for e in ends)

    with torch.inference_mode():
        run(samples[:BATCH], 4)  # warm-up, untimed
        started = time.perf_counter()
        tokens = sum(run(samples[i:i + BATCH], NEW_TOKENS) for i in range(0, len(samples), BATCH))
        elapsed = time.perf_counter() - started
    return {"tokens_per_second": tokens / elapsed, "tokens": tokens, "wall_s": round(elapsed, 3)}


@register(NAME, description="text generation (GPT-2 4x256, greedy, batch 8) through LoadGen's token API and the "
                            "streaming SUT vs model.generate in a plain loop (tokens/s)", order=65)
def generation(ctx: Context) -> list[Row]:
    import shutil

    folder = ctx.scratch("fixture")
    try:
        made = in_fresh_process(prepare, str(folder))
        ctx.record(label="prepare", **made)
        prompts = PROMPTS["full" if ctx.mode == "full" else "quick"]
        sut_runs, loops = [], []
        for i in range(ctx.repeats):  # alternate which goes first
            pair = [lambda: sut_runs.append(in_fresh_process(sut_run, made["model_dir"], made["data_dir"],
                                                             str(ctx.scratch(f"sut-r{i}")), prompts)),
                    lambda: loops.append(in_fresh_process(plain_loop, made["model_dir"], made["data_dir"], prompts))]
            for run in (pair if i % 2 == 0 else pair[::-1]):
                run()
            ctx.record(label=f"repeat {i}", sut=sut_runs[-1], loop=loops[-1])
            ctx.emit(f"repeat {i}: SUT {sut_runs[-1]['tokens_per_second']:,.0f} tokens/s, plain generate "
                     f"{loops[-1]['tokens_per_second']:,.0f} tokens/s")
        valid = f"{sum(r['valid'] for r in sut_runs)}/{len(sut_runs)}"
        return [compare(NAME, "GPT-2 4x256 through the streaming SUT (Offline)", "generated tokens", "tokens/s",
                        [r["tokens_per_second"] for r in sut_runs], [r["tokens_per_second"] for r in loops],
                        baseline=f"model.generate, plain loop, batch {BATCH}", target=TARGET, valid=valid,
                        notes=f"random-weight GPT-2 {made['parameter_count']:,} parameters, {prompts} prompts of 64 "
                              f"tokens, {NEW_TOKENS} new tokens, greedy, {THREADS} torch threads; "
                              + foreign_note(sut_runs + loops))]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# endpoint_ttft: what the HTTP hop adds to the time to first token

SERVER_QPS, SERVER_QUERIES = 4.0, 24


def server_run(model_dir: str, data_dir: str, out_dir: str, base_url: str | None) -> dict[str, Any]:
    """One Server run at SERVER_QPS, batch 1: in process (base_url None; the model in this thread) or through the
    OpenAI-compatible endpoint at ``base_url``. Returns LoadGen's TTFT and TPOT percentiles (ms)."""
    import mlperf_loadgen as lg
    import numpy as np
    from benchwright.backends.endpoint import EndpointGenerator
    from benchwright.backends.generate import TransformersGenerator
    from benchwright.harness.generation import StreamingSUT
    from benchwright.harness.logs import read_run
    from benchwright.harness.sut import SampleLibrary

    samples = np.load(Path(data_dir) / "val_prompt.npy")[:SERVER_QUERIES]
    if base_url is None:
        generator: Any = TransformersGenerator(model_dir, threads=1)
    else:
        generator = EndpointGenerator(base_url, Path(model_dir).name, Path(model_dir) / "tokenizer.json",
                                      concurrency=4)
    generator.generate(list(samples[:1]), 4)  # warm-up (and the connection), untimed
    library = SampleLibrary(samples, len(samples))
    sut = StreamingSUT(generator, library, batch_size=1, max_new_tokens=NEW_TOKENS, gather=True,
                       batching_timeout_us=0, serve_in_caller=True)
    settings = lg.TestSettings()
    settings.scenario, settings.mode = lg.TestScenario.Server, lg.TestMode.PerformanceOnly
    settings.use_token_latencies = True
    settings.server_target_qps, settings.server_target_latency_ns = SERVER_QPS, 10_000_000_000
    settings.ttft_latency, settings.tpot_latency = 2_000_000_000, 200_000_000
    settings.min_duration_ms, settings.min_query_count = 1000, SERVER_QUERIES
    log = lg.LogSettings()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    log.log_output.outdir, log.log_output.copy_summary_to_stdout = out_dir, False
    sut.serve(lambda: lg.StartTestWithLogSettings(sut.sut, library.qsl, settings, log))
    sut.close()
    library.close()
    if base_url is not None:
        generator.close()
    run = read_run(out_dir)
    ttft, tpot = run.first_token_latency, run.time_per_output_token
    return {"ttft_p50_ms": ttft.p50_ns / 1e6, "ttft_p90_ms": ttft.p90_ns / 1e6, "tpot_p50_ms": tpot.p50_ns / 1e6,
            "queries": run.query_count}


@register("endpoint_ttft", description="time to first token through an OpenAI-compatible endpoint on 127.0.0.1 "
                                       "(tests/endpoint_server.py) vs in process, Server at 4 QPS (report only)",
          order=66)
def endpoint_ttft(ctx: Context) -> list[Row]:
    import os
    import shutil
    import socket
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    folder = ctx.scratch("fixture")
    server = None
    try:
        made = in_fresh_process(prepare, str(folder))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "workflow")])}
        with open(folder / "server.log", "w") as log:  # needs the test extras (uvicorn, starlette)
            server = subprocess.Popen([sys.executable, str(repo / "tests/endpoint_server.py"), "--model",
                                       made["model_dir"], "--port", str(port)], env=env, stdout=log,
                                      stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the endpoint server did not start: {(folder / 'server.log').read_text()}")
                time.sleep(0.2)
        base_url = f"http://127.0.0.1:{port}/v1"
        local, remote = [], []
        for i in range(ctx.repeats):
            pair = [lambda: local.append(in_fresh_process(server_run, made["model_dir"], made["data_dir"],
                                                          str(ctx.scratch(f"local-r{i}")), None)),
                    lambda: remote.append(in_fresh_process(server_run, made["model_dir"], made["data_dir"],
                                                           str(ctx.scratch(f"remote-r{i}")), base_url))]
            for run in (pair if i % 2 == 0 else pair[::-1]):
                run()
            ctx.record(label=f"repeat {i}", local=local[-1], remote=remote[-1])
            ctx.emit(f"repeat {i}: TTFT p50 in process {local[-1]['ttft_p50_ms']:.2f} ms, through the endpoint "
                     f"{remote[-1]['ttft_p50_ms']:.2f} ms")
        added = [r["ttft_p50_ms"] - loc["ttft_p50_ms"] for r, loc in zip(remote, local)]
        return [compare("endpoint_ttft", "endpoint SUT, OpenAI-compatible server on 127.0.0.1", "TTFT p50", "ms",
                        [r["ttft_p50_ms"] for r in remote], [loc["ttft_p50_ms"] for loc in local],
                        baseline="in-process SUT, same model", higher_is_better=False,
                        notes=f"added TTFT per repeat: {', '.join(f'{a:+.2f}' for a in added)} ms; Server "
                              f"{SERVER_QPS:g} QPS, batch 1, {NEW_TOKENS} new tokens, the server's model on 1 "
                              "torch thread in its own process (tests/endpoint_server.py, uvicorn); report only; "
                              + foreign_note(local + remote))]
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)
