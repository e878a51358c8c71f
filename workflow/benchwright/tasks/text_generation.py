"""Text generation (LLMs): prompts are token ids, responses the generated token ids, and the accuracy script is
MLCommons' llama3.1-8b one (language/llama3.1-8b/evaluation.py): the tokens decoded without special tokens,
stripped, sentences put on lines of their own, then ROUGE-1/2/L/Lsum (the ``rouge-score`` package with the Porter
stemmer; per-sample F-measure, mean x 100, rounded to 4 places), plus ``gen_len`` (characters generated),
``gen_num`` (samples) and ``tokens_per_sample``, which MLPerf checks against the reference's.

Sentence splitting: NLTK's ``sent_tokenize`` with its trained English Punkt model, as the reference, when that
model is installed (``python -m nltk.downloader punkt_tab``); otherwise NLTK's Punkt algorithm untrained, which
splits after every abbreviation too. Only ROUGE-Lsum depends on it; accuracy.txt says which was used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .base import ArraySpec, Score, Task

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def sentence_splitter() -> tuple[Any, str]:
    """(split(text) -> sentences, which splitter): the reference's trained Punkt model where NLTK has it."""
    import nltk
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    try:
        nltk.data.find("tokenizers/punkt_tab/english")
        return nltk.sent_tokenize, "nltk punkt_tab (english)"
    except LookupError:
        return PunktSentenceTokenizer().tokenize, "nltk Punkt, untrained (punkt_tab not installed)"


def rouge_scores(predictions: Sequence[str], references: Sequence[str]) -> tuple[dict[str, float], int, str]:
    """MLCommons' postprocess_text + evaluate's rouge (use_stemmer, no aggregator): the mean F-measures x 100
    rounded to 4 places, ``gen_len`` (characters of the postprocessed predictions) and the sentence splitter."""
    from rouge_score import rouge_scorer

    split, splitter = sentence_splitter()
    scorer = rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_KEYS, 0.0)
    gen_len = 0
    for pred, ref in zip(predictions, references, strict=True):
        pred, ref = "\n".join(split(pred.strip())), "\n".join(split(ref.strip()))
        gen_len += len(pred)
        scores = scorer.score(ref, pred)
        for key in ROUGE_KEYS:
            totals[key] += scores[key].fmeasure
    n = max(len(predictions), 1)
    return {key: round(totals[key] / n * 100, 4) for key in ROUGE_KEYS}, gen_len, splitter


class TextGeneration(Task):
    name = "text_generation"
    inputs: ClassVar[tuple[ArraySpec, ...]] = (ArraySpec("prompt", "int32", (None,)),)
    outputs: ClassVar[tuple[str, ...]] = ("tokens",)
    labels: ClassVar[tuple[str, ...]] = ("reference",)
    preprocessors: ClassVar[tuple[str, ...]] = ("pydoc-topics", "cnn-dailymail")
    metrics: ClassVar[tuple[str, ...]] = (*ROUGE_KEYS, "tokens_per_sample")
    parameters: ClassVar[dict[str, int | float | str | bool]] = {"max_new_tokens": 32}

    def respond(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        """Fixed-length generated ids (one row per sample) as LoadGen's int32 responses; the streaming SUT
        (benchwright.harness.generation) answers each request with its own token count instead."""
        return np.ascontiguousarray(outputs[0], dtype="<i4")

    def score(self, entries: list[dict[str, Any]], data_dir: str | os.PathLike[str], metric: str) -> Score:
        from tokenizers import Tokenizer

        if metric not in self.metrics:
            raise ValueError(f"the text_generation task has no metric {metric!r}; use one of {self.metrics}")
        from ..data.store import open_array

        data = Path(data_dir)
        stored = open_array(data, "val", "reference")
        references = stored.rows(np.arange(len(stored)))
        stored.close()
        texts = data / "references.json"  # the dataset's own reference texts, where it has them (cnn-dailymail)
        reference_texts = json.loads(texts.read_text(encoding="utf-8")) if texts.is_file() else None
        tokenizer = Tokenizer.from_file(str(data / "tokenizer.json"))
        generated: dict[int, np.ndarray] = {}
        for entry in entries:  # a sample logged twice: its first response counts, as the reference dedups
            index = entry["qsl_idx"]
            if not 0 <= index < len(references):
                raise ValueError(f"accuracy log entry seq_id={entry.get('seq_id')} has qsl_idx={index}, outside the "
                                 f"{len(references)} references: the data is not that of the QSL that ran")
            if index not in generated:
                raw = bytes.fromhex(entry["data"])
                if len(raw) % 4:
                    raise ValueError(f"accuracy log entry seq_id={entry.get('seq_id')} (qsl_idx={index}) holds "
                                     f"{len(raw)} bytes, not whole int32 token ids")
                generated[index] = np.frombuffer(raw, dtype="<i4")
        order = sorted(generated)
        predictions = tokenizer.decode_batch([generated[i].tolist() for i in order], skip_special_tokens=True)
        targets = ([reference_texts[i] for i in order] if reference_texts is not None else
                   tokenizer.decode_batch([references[i].tolist() for i in order], skip_special_tokens=True))
        metrics, gen_len, splitter = rouge_scores(predictions, targets)
        tokens = sum(len(generated[i]) for i in order)
        metrics.update({"gen_len": gen_len, "gen_num": len(order),
                        "gen_tok_len": tokens, "tokens_per_sample": round(tokens / max(len(order), 1), 1)})
        text = json.dumps(metrics) + f"\n# sentence splitter for rougeLsum: {splitter}"
        return Score(metrics=metrics, primary=metric, total=len(order), text=text)
