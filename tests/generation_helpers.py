"""What the text-generation tests share: a tiny random-weight LM over the pydoc-topics corpus, and one LoadGen
run of a generator through the streaming SUT with token latencies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlperf_loadgen as lg
import numpy as np

from benchwright.data.preprocess import preprocess
from benchwright.harness.generation import StreamingSUT
from benchwright.harness.sut import SampleLibrary
from benchwright.models.lm import build_lm

from .loadgen_helpers import start_test


def tiny_lm(root: Path, name: str = "tiny-lm") -> tuple[Path, Path]:
    """(model folder, data folder): a 1-layer GPT-2 (32 wide, context 64) with random weights, seed 0, saved as a
    transformers folder with the tokenizer of a small pydoc-topics split (prompts of 16 tokens)."""
    import pydoc_data.topics
    import torch

    preprocess("pydoc-topics", 1, {"vocab_size": 512, "val_topics": 4, "prompt_tokens": 16,
                                   "continuation_tokens": 8}, [pydoc_data.topics.__file__], root / "data")
    split = json.loads((root / "data/split.json").read_text())
    torch.manual_seed(0)
    model = build_lm({"n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 64}, split["vocab_size"],
                     split["eos_token_id"])
    model.save_pretrained(root / name, safe_serialization=True)
    shutil.copyfile(root / "data/tokenizer.json", root / name / "tokenizer.json")
    return root / name, root / "data"


def run_generation(generator, prompts: np.ndarray, out: Path, scenario: str, *, max_new_tokens: int,
                   mode: str = "PerformanceOnly", serve: bool = False) -> StreamingSUT:
    """One short LoadGen run (token latencies on) of ``generator`` through a StreamingSUT of batch 4; the SUT is
    returned open when the run itself went through (close() reports generation failures)."""
    library = SampleLibrary(prompts, len(prompts))
    sut = StreamingSUT(generator, library, batch_size=4, threads=1, max_new_tokens=max_new_tokens,
                       gather=scenario == "Server", batching_timeout_us=2000, serve_in_caller=serve)
    settings = lg.TestSettings()
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = getattr(lg.TestMode, mode)
    settings.use_token_latencies = True
    settings.min_duration_ms, settings.min_query_count = 300, 12
    settings.offline_expected_qps = 10  # Offline's one query: max(min_query_count, 1.1 x 0.3 s x 10) samples
    settings.server_target_qps, settings.server_target_latency_ns = 10, 5_000_000_000
    settings.ttft_latency, settings.tpot_latency = 2_000_000_000, 500_000_000
    try:
        if serve:  # LoadGen in a thread of its own, the worker in this one
            sut.serve(lambda: start_test(sut.sut, library.qsl, settings, out))
        else:
            start_test(sut.sut, library.qsl, settings, out)
    finally:
        library.close()
    return sut
