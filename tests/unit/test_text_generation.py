"""The text_generation task's accuracy script (issue 18, item 1): MLCommons' llama3.1-8b evaluation (decode
without special tokens, strip, sentences on lines, ROUGE with the Porter stemmer, gen_len / gen_num /
tokens_per_sample), checked against ROUGE values computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchwright.data.textcorpus import EOS, train_tokenizer
from benchwright.harness.accuracy import accuracy_values
from benchwright.tasks import get_task

# (reference, prediction). By hand, on lower-cased, stemmed words:
# 1: "the cat sat on the mat" / "the cat is on the mat": ROUGE-1 5 of 6 words both ways (F 0.8333), ROUGE-2 3 of 5
#    bigrams (F 0.6), LCS "the cat on the mat" 5 (F 0.8333); one sentence, so ROUGE-Lsum = ROUGE-L.
# 2: "Python is great. It is fast." / "Python is great.": ROUGE-1 P 3/3 R 3/6 (F 0.6667), ROUGE-2 P 2/2 R 2/5
#    (F 0.5714), LCS 3 (F 0.6667); ROUGE-Lsum: sentence 1 hits 3 words, sentence 2's "is" is used up (F 0.6667).
PAIRS = [("the cat sat on the mat", "the cat is on the mat"),
         ("Python is great. It is fast.", "Python is great.")]
EXPECTED = {"rouge1": 75.0, "rouge2": 58.5714, "rougeL": 75.0, "rougeLsum": 75.0}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The two references as a preprocessed split stores them (int32 rows of one width, padded with the special
    end-of-text token, which decoding skips) and their tokenizer."""
    folder = tmp_path_factory.mktemp("textgen")
    tokenizer = train_tokenizer([r + " " + p for r, p in PAIRS] * 4, 300)
    (folder / "tokenizer.json").write_text(tokenizer.to_str())
    refs = [tokenizer.encode(r).ids for r, _ in PAIRS]
    width, eos = max(map(len, refs)), tokenizer.token_to_id(EOS)
    np.save(folder / "val_reference.npy", np.array([r + [eos] * (width - len(r)) for r in refs], dtype=np.int32))
    return folder, tokenizer


def _entry(seq: int, index: int, ids: list[int]) -> dict:
    return {"seq_id": seq, "qsl_idx": index, "data": np.asarray(ids, dtype="<i4").tobytes().hex(),
            "token_count": len(ids)}


def test_rouge_and_generation_lengths_on_two_hand_computed_pairs(data):
    folder, tokenizer = data
    predictions = [tokenizer.encode(p).ids for _, p in PAIRS]
    entries = [_entry(0, 1, predictions[1]), _entry(1, 0, predictions[0]),
               _entry(2, 0, tokenizer.encode("something else entirely").ids)]  # a repeat: the first answer counts
    score = get_task("text_generation").score(entries, folder, "rougeL")
    assert {k: score.metrics[k] for k in EXPECTED} == EXPECTED
    assert score.total == 2 and score.primary == "rougeL" and score.value == 75.0
    tokens = len(predictions[0]) + len(predictions[1])
    assert score.metrics["gen_num"] == 2 and score.metrics["gen_tok_len"] == tokens
    assert score.metrics["tokens_per_sample"] == round(tokens / 2, 1)
    assert score.metrics["gen_len"] == len(PAIRS[0][1]) + len(PAIRS[1][1])  # characters, one sentence each
    # accuracy.txt: the metrics as one JSON line (read back by the project's one reader), then the splitter used.
    assert json.loads(score.text.splitlines()[0]) == score.metrics
    assert accuracy_values(score.text)["rougeLsum"] == 75.0 and "sentence splitter" in score.text.splitlines()[1]


def test_bad_log_entries_are_refused_naming_them(data):
    folder, _ = data
    task = get_task("text_generation")
    with pytest.raises(ValueError, match=r"seq_id=4 has qsl_idx=7, outside the 2 references"):
        task.score([_entry(4, 7, [1, 2])], folder, "rouge1")
    with pytest.raises(ValueError, match=r"seq_id=5 \(qsl_idx=0\) holds 3 bytes, not whole int32 token ids"):
        task.score([{"seq_id": 5, "qsl_idx": 0, "data": "010203"}], folder, "rouge1")
    with pytest.raises(ValueError, match="no metric 'top1'"):
        task.score([], folder, "top1")


def test_respond_is_int32_rows():
    rows = get_task("text_generation").respond([np.array([[1, 2], [3, 4]], dtype=np.int64)])
    assert rows.dtype == np.dtype("<i4") and rows.flags.c_contiguous and rows.tolist() == [[1, 2], [3, 4]]
