"""The default language model's data (issue 18, item 4): CPython's pydoc_data/topics.py fetched through the
download + checksum path, split by topic with a seed, and a byte-level BPE tokenizer trained on the training
topics, byte-reproducible."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchwright.data.fetch import fetch
from benchwright.data.preprocess import PREPROCESSORS, PreprocessError, preprocess
from benchwright.data.textcorpus import EOS, read_topics
from benchwright.fsutil import sha256_file

URL = "package://pydoc_data/topics.py"
SMALL = {"vocab_size": 512, "val_topics": 4, "prompt_tokens": 16, "continuation_tokens": 8}


@pytest.fixture(scope="module")
def topics_py(tmp_path_factory) -> Path:
    """topics.py as the download rule gets it: package:// through fetch, placed only after its sha256 matches."""
    import pydoc_data.topics

    expected = sha256_file(pydoc_data.topics.__file__)
    dest = tmp_path_factory.mktemp("download") / "topics.py"
    fetch(URL, dest, expected)
    return dest


@pytest.fixture(scope="module")
def corpus(topics_py, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lm") / "data"
    preprocess("pydoc-topics", 1, SMALL, [topics_py], out)
    return out


def test_the_split_is_by_topic_and_the_samples_are_true_continuations(corpus, topics_py):
    from tokenizers import Tokenizer

    split = json.loads((corpus / "split.json").read_text())
    topics = read_topics(topics_py)
    assert len(split["val_topics"]) == 4 and not set(split["val_topics"]) & set(split["train_topics"])
    assert sorted(split["val_topics"] + split["train_topics"]) == sorted(topics)

    tokenizer = Tokenizer.from_file(str(corpus / "tokenizer.json"))
    assert tokenizer.get_vocab_size() == 512 == split["vocab_size"]
    prompts, references = np.load(corpus / "val_prompt.npy"), np.load(corpus / "val_reference.npy")
    assert prompts.dtype == references.dtype == np.int32
    assert prompts.shape[1:] == (16,) and references.shape == (len(prompts), 8) and len(prompts) > 50
    # Each sample is a window of its validation topic: the prompt, then what really follows it.
    for i in (0, len(prompts) // 2, len(prompts) - 1):
        name, start = split["val_starts"][i]
        ids = tokenizer.encode(topics[name]).ids
        assert prompts[i].tolist() == ids[start:start + 16] and references[i].tolist() == ids[start + 16:start + 24]
    # The training stream: every training topic, each ended by the one special token, nothing of validation.
    train = np.load(corpus / "train_tokens.npy")
    eos = tokenizer.token_to_id(EOS)
    assert split["eos_token_id"] == eos and int((train == eos).sum()) == len(split["train_topics"])
    first = split["train_topics"][0]
    assert tokenizer.decode(train[:int(np.argmax(train == eos))].tolist()) == topics[first]


def test_the_outputs_are_byte_identical_in_a_fresh_process(corpus, topics_py, tmp_path):
    again = tmp_path / "again"
    code = ("import sys, json; from benchwright.data.preprocess import preprocess; "
            "preprocess('pydoc-topics', 1, json.loads(sys.argv[1]), [sys.argv[2]], sys.argv[3])")
    subprocess.run([sys.executable, "-c", code, json.dumps(SMALL), str(topics_py), str(again)], check=True)
    assert json.loads((again / "manifest.json").read_text()) == json.loads((corpus / "manifest.json").read_text())
    other_seed = preprocess("pydoc-topics", 1, {**SMALL, "split_seed": 1}, [topics_py], tmp_path / "seed1")
    assert other_seed["outputs"]["val_prompt.npy"]["sha256"] != json.loads(
        (corpus / "manifest.json").read_text())["outputs"]["val_prompt.npy"]["sha256"]


def test_a_file_without_topics_is_refused_naming_it_and_the_url(tmp_path):
    bad = tmp_path / "topics.py"
    bad.write_text("x = 1\n")
    with pytest.raises(PreprocessError, match=r"topics\.py: no `topics = .*package://pydoc_data/topics\.py"):
        preprocess("pydoc-topics", 1, {}, [bad], tmp_path / "out")
    bad.write_text("topics = {'a': open('/etc/passwd').read()}\n")  # data only: never evaluated
    with pytest.raises(PreprocessError, match="no `topics"):
        preprocess("pydoc-topics", 1, {}, [bad], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_parameters_out_of_range_are_refused(topics_py, tmp_path):
    with pytest.raises(PreprocessError, match=r"val_topics=79 must be between 1 and 78"):
        preprocess("pydoc-topics", 1, {"val_topics": 79}, [topics_py], tmp_path / "out")
    with pytest.raises(PreprocessError, match=r"no 100064-token window"):
        preprocess("pydoc-topics", 1, {**SMALL, "prompt_tokens": 100_000, "continuation_tokens": 64},
                   [topics_py], tmp_path / "out")
    assert PREPROCESSORS["pydoc-topics"].version == 1 and not (tmp_path / "out").exists()
