"""Text generation through LoadGen's token API (issue 18, items 1 and 3a): a transformers LM from a local folder
decodes batches with its KV cache; the SUT calls FirstTokenComplete at each request's first token and completes it
with its tokens and their count; LoadGen's TTFT, TPOT and tokens/s land in the run's record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchwright.backends.base import ModelLoadError
from benchwright.backends.generate import TransformersGenerator
from benchwright.harness.accuracy import read_accuracy_log
from benchwright.harness.generation import StreamingSUT
from benchwright.harness.logs import read_run
from benchwright.harness.sut import SampleLibrary

from ..generation_helpers import run_generation, tiny_lm

NEW_TOKENS = 12


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> tuple[Path, Path]:
    return tiny_lm(tmp_path_factory.mktemp("gen"))


@pytest.fixture(scope="module")
def generator(lm) -> TransformersGenerator:
    return TransformersGenerator(lm[0], threads=1)


def test_batched_decoding_equals_transformers_generate_one_prompt_at_a_time(generator, lm):
    import torch

    prompts = np.load(lm[1] / "val_prompt.npy")[:4]
    ragged = [prompts[0], prompts[1][:9], prompts[2][:3], prompts[3]]  # left-padded in the batch
    seen: list[tuple[int, int]] = []
    out = generator.generate(ragged, NEW_TOKENS, lambda request, token: seen.append((request, token)))
    for i, prompt in enumerate(ragged):
        ids = torch.as_tensor(prompt[None].astype(np.int64))
        expected = generator.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                                            do_sample=False, pad_token_id=generator.pad)[0, len(prompt):]
        assert out[i].dtype == np.int32 and out[i].tolist() == expected.tolist()[:len(out[i])]
        assert [t for r, t in seen if r == i] == out[i].tolist()  # every token reported, in order


def test_a_folder_without_tokenizer_json_and_a_prompt_past_the_context_are_refused(generator, lm, tmp_path):
    import shutil

    shutil.copytree(lm[0], tmp_path / "model")
    (tmp_path / "model/tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match=r"model folder .* has no tokenizer\.json; a generation model is"):
        TransformersGenerator(tmp_path / "model")
    with pytest.raises(ModelLoadError, match=r"longest prompt has 60 tokens; with max_new_tokens 12 that is 72, "
                                             r"past the model's context of 64 tokens"):
        generator.generate([np.zeros(60, dtype=np.int32)], NEW_TOKENS)


@pytest.mark.parametrize("serve", [False, True], ids=["worker-thread", "serve-in-caller"])
@pytest.mark.parametrize("scenario", ["Offline", "Server"])
def test_loadgen_measures_token_latencies_through_the_sut(generator, lm, tmp_path, scenario, serve):
    prompts = np.load(lm[1] / "val_prompt.npy")[:32]
    sut = run_generation(generator, prompts, tmp_path / scenario, scenario, max_new_tokens=NEW_TOKENS, serve=serve)
    run = read_run(tmp_path / scenario)
    assert run.requested["use_token_latencies"] is True and sut.counters.completed == sut.counters.issued > 0
    assert run.tokens_per_second and run.tokens_per_second > 0
    if scenario == "Server":  # TTFT and TPOT are Server's (and Interactive's) metrics
        ttft, tpot = run.first_token_latency, run.time_per_output_token
        assert ttft is not None and tpot is not None
        assert 0 < ttft.p50_ns <= ttft.p99_ns <= run.latency.p99_ns and 0 < tpot.p50_ns <= tpot.p99_ns
    else:
        assert run.first_token_latency is None and run.time_per_output_token is None


def test_the_accuracy_log_holds_every_generated_token(generator, lm, tmp_path):
    prompts = np.load(lm[1] / "val_prompt.npy")[:8]
    run_generation(generator, prompts, tmp_path / "acc", "Offline", max_new_tokens=NEW_TOKENS, mode="AccuracyOnly").close()
    entries = read_accuracy_log(tmp_path / "acc/mlperf_log_accuracy.json")
    assert sorted(e["qsl_idx"] for e in entries) == list(range(8))
    expected = generator.generate(list(prompts), NEW_TOKENS)
    for e in entries:
        tokens = np.frombuffer(bytes.fromhex(e["data"]), dtype="<i4")
        assert tokens.tolist() == expected[e["qsl_idx"]].tolist()
        assert e["token_count"] == len(tokens)  # QuerySampleResponse(..., n_tokens)


def test_serve_stops_its_worker_and_reraises_when_loadgen_fails(generator, lm):
    library = SampleLibrary(np.load(lm[1] / "val_prompt.npy")[:4], 4)
    sut = StreamingSUT(generator, library, batch_size=4, max_new_tokens=NEW_TOKENS, serve_in_caller=True)

    def start_test() -> None:
        raise RuntimeError("LoadGen could not start")

    with pytest.raises(RuntimeError, match="could not start"):
        sut.serve(start_test)  # returns: the worker loop in this thread ended with the test
    sut.close()
    library.close()
