"""The default LM (issue 18, item 4): a GPT-2-style model trained, seeded, on the pydoc-topics corpus, saved as a
transformers model folder (safetensors + tokenizer.json), bit-identical for the same seed and threads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchwright.data.preprocess import preprocess
from benchwright.fsutil import sha256_file
from benchwright.models.lm import WEIGHTS, build_lm, train_lm
from benchwright.models.train import TrainingError

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 64, "n_positions": 128}
RECIPE = {"epochs": 2, "block_size": 64, "batch_size": 16}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import pydoc_data.topics

    out = tmp_path_factory.mktemp("lm") / "data"
    preprocess("pydoc-topics", 1, {"vocab_size": 512, "val_topics": 4, "prompt_tokens": 16,
                                   "continuation_tokens": 8}, [pydoc_data.topics.__file__], out)
    return out


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "model"
    return out, train_lm(corpus, out, seed=3, threads=1, parameters=TINY, hyperparameters=RECIPE, log=lambda m: None)


def test_training_learns_and_records_its_recipe(trained, corpus):
    out, record = trained
    first, last = record["epochs"][0], record["epochs"][-1]
    assert last["val_loss"] < first["val_loss"] < np.log(512)  # better than a uniform guess, and improving
    assert record["parameters"] == TINY and record["hyperparameters"]["epochs"] == 2 and record["seed"] == 3
    assert json.loads((out / "record.json").read_text()) == record
    assert record["data_manifest_sha256"] == sha256_file(corpus / "manifest.json")  # provenance: what it learnt from
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "generation_config.json", WEIGHTS, "record.json",
                                                    "tokenizer.json"]
    # readable by another user (a container job runs as uid 1000): safetensors alone would leave 0600
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in out.iterdir())


def test_the_folder_is_a_transformers_model_that_generates(trained, corpus):
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    out, record = trained
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"))
    prompt = np.load(corpus / "val_prompt.npy")[:1].astype(np.int64)
    ids = torch.from_numpy(prompt)
    generated = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False,
                               pad_token_id=record["eos_token_id"])
    assert generated.shape == (1, 24) and torch.equal(generated[0, :16], ids[0])
    assert isinstance(tokenizer.decode(generated[0, 16:]), str)


def test_the_same_seed_gives_the_same_weights_and_another_seed_others(trained, corpus, tmp_path):
    _, record = trained
    again = train_lm(corpus, tmp_path / "again", seed=3, threads=1, parameters=TINY, hyperparameters=RECIPE,
                     log=lambda m: None)
    assert again["weights_sha256"] == record["weights_sha256"] and again["epochs"] == record["epochs"]
    # the record is evidence in the bundle: byte-identical for a rerun (no timings in it)
    assert (tmp_path / "again/record.json").read_bytes() == (trained[0] / "record.json").read_bytes()
    other = train_lm(corpus, tmp_path / "other", seed=4, threads=1, parameters=TINY,
                     hyperparameters={**RECIPE, "epochs": 1}, log=lambda m: None)
    assert other["weights_sha256"] != record["weights_sha256"]


def test_bad_recipes_are_refused_before_training(corpus, tmp_path):
    with pytest.raises(TrainingError, match=r"unknown LM parameter\(s\) \['layers'\]"):
        build_lm({"layers": 2}, 512, 0)
    with pytest.raises(TrainingError, match=r"unknown LM hyperparameter\(s\) \['lr'\]"):
        train_lm(corpus, tmp_path / "m", seed=0, hyperparameters={"lr": 1})
    with pytest.raises(TrainingError, match="block_size 256 is longer than the model's context n_positions 128"):
        train_lm(corpus, tmp_path / "m", seed=0, parameters=TINY, hyperparameters={"block_size": 256})
    assert not (tmp_path / "m").exists()
