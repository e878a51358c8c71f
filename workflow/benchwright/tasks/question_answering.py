"""Question answering (MLPerf bert-99 / bert-99.9 on SQuAD v1.1): token ids in, start and end logits out, scored
by exact match and F1 as MLCommons' ``language/bert/accuracy-squad.py`` and ``evaluate_v1.1.py``.

Inputs: ``input_ids``, ``input_mask``, ``segment_ids`` (int64 [384] each, made by the ``squad`` preprocessor).
Outputs: ``start_logits`` and ``end_logits`` ([n, 384] each; MLCommons' model.onnx calls them
``output_start_logits`` / ``output_end_logits``). A response is what the reference SUTs return
(``onnxruntime_SUT.py``, ``pytorch_SUT.py``): the two stacked on the last axis, float32 [384, 2] in C order
(start_0, end_0, start_1, end_1, ...), 3,072 bytes.

The score is the reference's: each feature's logits (padded to 384 with -10000), the 20 best start and end
positions, the candidates that lie in the window's document part, where the start token has its maximum context,
end >= start, at most 30 tokens long; the best start + end logit over all of a question's features wins, its
WordPieces are joined (``##`` removed) and projected back onto the paragraph's words by ``get_final_text``; a
question without a candidate answers "empty". Then the official SQuAD v1.1 metrics over every question of the file:
exact match and F1 after normalization (lower case, ASCII punctuation removed, the articles a/an/the removed,
whitespace collapsed), the best over the reference answers, in percent. accuracy.txt is
``{"exact_match": ..., "f1": ...}``, as ``evaluate_v1.1.py`` prints it.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .base import ArraySpec, Score, Task

MAX_SEQ_LENGTH = 384
N_BEST_SIZE = 20
MAX_ANSWER_LENGTH = 30
PAD_LOGIT = -10000.0
NO_ANSWER = "empty"
"""The reference's prediction for a question none of whose features gives a valid span."""


# --- the official SQuAD v1.1 metrics (evaluate_v1.1.py) ----------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace (in that order)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def f1_score(prediction: str, truth: str) -> float:
    """Token F1 of the normalized prediction against one normalized answer (0 when no token is shared)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0
    precision, recall = 1.0 * same / len(predicted), 1.0 * same / len(expected)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction: str, truth: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(truth)


def evaluate(examples: Sequence[dict[str, Any]], predictions: dict[str, str]) -> dict[str, float]:
    """``{"exact_match", "f1"}`` in percent over every question (an unanswered one scores 0)."""
    f1 = exact_match = total = 0
    for example in examples:
        total += 1
        if example["id"] not in predictions:
            continue
        prediction, truths = predictions[example["id"]], example["answers"]
        exact_match += max(exact_match_score(prediction, t) for t in truths)
        f1 += max(f1_score(prediction, t) for t in truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


# --- from logits to answer text (accuracy-squad.py) --------------------------------------------------------


def _strip_spaces(text: str) -> tuple[str, dict[int, int]]:
    kept, positions = [], {}
    for index, char in enumerate(text):
        if char == " ":
            continue
        positions[len(kept)] = index
        kept.append(char)
    return "".join(kept), positions


def final_text(tokenizer: Any, pred_text: str, orig_text: str) -> str:
    """get_final_text: the part of ``orig_text`` (the paragraph's words) that the de-tokenized prediction covers,
    by a character alignment of the WordPiece-tokenized ``orig_text`` with it; ``orig_text`` when they do not align.

    As the reference, ``orig_text`` is tokenized with the full WordPiece tokenizer, so a word split into pieces keeps
    its ``##`` marks and the alignment falls back to ``orig_text``."""
    tok_text = " ".join(tokenizer.tokenize(orig_text))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1
    orig_ns, orig_map = _strip_spaces(orig_text)
    tok_ns, tok_map = _strip_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text
    tok_s_to_ns = {s: ns for ns, s in tok_map.items()}
    if start not in tok_s_to_ns or tok_s_to_ns[start] not in orig_map:
        return orig_text
    orig_start = orig_map[tok_s_to_ns[start]]
    if end not in tok_s_to_ns or tok_s_to_ns[end] not in orig_map:
        return orig_text
    return orig_text[orig_start:orig_map[tok_s_to_ns[end]] + 1]


def best_indexes(logits: np.ndarray, n_best: int = N_BEST_SIZE) -> list[int]:
    """The ``n_best`` positions of the highest logits, ties in position order (Python's stable sort)."""
    return [int(i) for i in np.argsort(-logits, kind="stable")[:n_best]]


def decode_logits(raw: bytes, max_seq_length: int = MAX_SEQ_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """One response (float32 [L, 2], L <= max_seq_length) -> start and end logits as float64 [max_seq_length],
    positions past L at -10000 (load_loadgen_log)."""
    if len(raw) % 8:
        raise ValueError(f"a response of {len(raw)} bytes is not float32 [L, 2] start/end logits")
    logits = np.frombuffer(raw, dtype="<f4").reshape(-1, 2)
    if len(logits) > max_seq_length:
        raise ValueError(f"a response holds {len(logits)} positions, more than max_seq_length={max_seq_length}")
    start = np.full(max_seq_length, PAD_LOGIT)
    end = np.full(max_seq_length, PAD_LOGIT)
    start[:len(logits)], end[:len(logits)] = logits[:, 0], logits[:, 1]
    return start, end


class SquadData:
    """What the accuracy script reads from a ``squad``-preprocessed folder: per feature its question, tokens, word
    map and max-context flags; per question its id, answers and paragraph; the tokenizer."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        from ..data.squad import VOCAB_FILE, WordPiece, read_side, read_vocab

        folder = Path(data_dir)
        side = read_side(folder)
        self.examples: list[dict[str, Any]] = side["examples"]
        self.paragraphs: list[list[str]] = side["paragraphs"]
        vocab = read_vocab(folder / VOCAB_FILE)
        self.tokenizer = WordPiece(vocab, lowercase=bool(side.get("do_lower_case", True)))
        load = lambda name: np.load(folder / f"val_{name}.npy", allow_pickle=False)
        self.example_index = load("example_index")
        self.input_ids = load("input_ids")
        self.lengths = load("input_mask").sum(axis=1)
        self.token_to_orig = load("token_to_orig")
        self.max_context = load("token_is_max_context").astype(bool)
        self.vocab = vocab
        self.max_seq_length = int(self.input_ids.shape[1])

    def __len__(self) -> int:
        return len(self.example_index)

    def tokens(self, feature: int, start: int, end: int) -> list[str]:
        return [self.vocab[int(i)] for i in self.input_ids[feature, start:end + 1]]


def predict(data: SquadData, results: dict[int, tuple[np.ndarray, np.ndarray]], *, n_best: int = N_BEST_SIZE,
            max_answer_length: int = MAX_ANSWER_LENGTH) -> dict[str, str]:
    """write_predictions: question id -> the best answer text, from each feature's (start, end) logits."""
    features_of: dict[int, list[int]] = {}
    for feature, example in enumerate(data.example_index):
        features_of.setdefault(int(example), []).append(feature)
    predictions: dict[str, str] = {}
    for example_index, example in enumerate(data.examples):
        best = None  # (score, feature, start, end): the first of the highest, as the reference's stable sort
        for feature in features_of.get(example_index, []):
            if feature not in results:
                continue
            start_logits, end_logits = results[feature]
            length = int(data.lengths[feature])
            in_doc, max_context = data.token_to_orig[feature] >= 0, data.max_context[feature]
            ends = best_indexes(end_logits, n_best)
            for start in best_indexes(start_logits, n_best):
                if start >= length or not in_doc[start] or not max_context[start]:
                    continue
                for end in ends:
                    if end >= length or not in_doc[end] or end < start or end - start + 1 > max_answer_length:
                        continue
                    score = float(start_logits[start]) + float(end_logits[end])
                    if best is None or score > best[0]:
                        best = (score, feature, start, end)
        if best is None:
            predictions[example["id"]] = NO_ANSWER
            continue
        _, feature, start, end = best
        tok_text = " ".join(data.tokens(feature, start, end)).replace(" ##", "").replace("##", "")
        tok_text = " ".join(tok_text.strip().split())
        words = data.paragraphs[example["paragraph"]]
        orig_text = " ".join(words[int(data.token_to_orig[feature, start]):int(data.token_to_orig[feature, end]) + 1])
        predictions[example["id"]] = final_text(data.tokenizer, tok_text, orig_text)
    return predictions


class QuestionAnswering(Task):
    name: ClassVar[str] = "question_answering"
    inputs: ClassVar[tuple[ArraySpec, ...]] = (ArraySpec("input_ids", "int64", (MAX_SEQ_LENGTH,)),
                                               ArraySpec("input_mask", "int64", (MAX_SEQ_LENGTH,)),
                                               ArraySpec("segment_ids", "int64", (MAX_SEQ_LENGTH,)))
    outputs: ClassVar[tuple[str, ...]] = ("start_logits", "end_logits")
    labels: ClassVar[tuple[str, ...]] = ("example_index", "token_to_orig", "token_is_max_context")
    preprocessors: ClassVar[tuple[str, ...]] = ("squad",)
    metrics: ClassVar[tuple[str, ...]] = ("f1", "exact_match")

    def respond(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        if len(outputs) == 1 and outputs[0].ndim == 3 and outputs[0].shape[-1] == 2:
            stacked = outputs[0]  # a model with one [n, L, 2] logits output
        elif len(outputs) == 2 and outputs[0].shape == outputs[1].shape and outputs[0].ndim == 2:
            stacked = np.stack([outputs[0], outputs[1]], axis=-1)
        else:
            raise ValueError(f"question_answering takes start and end logits [n, L] each (or one [n, L, 2]); got "
                             f"outputs of shapes {[tuple(o.shape) for o in outputs]}")
        return np.ascontiguousarray(stacked, dtype="<f4")

    def score(self, entries: list[dict[str, Any]], data_dir: str | os.PathLike[str], metric: str) -> Score:
        if metric not in self.metrics:
            raise ValueError(f"the question_answering task has no metric {metric!r}; use one of {self.metrics}")
        data = SquadData(data_dir)
        results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for entry in entries:  # a sample logged twice: the last response counts, as unique_id_to_result keeps it
            index = entry["qsl_idx"]
            if not 0 <= index < len(data):
                raise ValueError(f"accuracy log entry seq_id={entry.get('seq_id')} has qsl_idx={index}, outside the "
                                 f"{len(data)} features: the data is not that of the QSL that ran")
            try:
                results[index] = decode_logits(bytes.fromhex(entry["data"]), data.max_seq_length)
            except ValueError as exc:
                raise ValueError(f"accuracy log entry seq_id={entry.get('seq_id')} (qsl_idx={index}): {exc}") from None
        metrics = evaluate(data.examples, predict(data, results))
        return Score(metrics=metrics, primary=metric, total=len(results), text=json.dumps(metrics))

    def check_model(self, model_file: str | os.PathLike[str], runner: Any, data_dir: str | os.PathLike[str]) -> None:
        """The model's vocabulary (its word-embedding rows) must be the size of the vocab.txt the data was
        tokenized with: another vocabulary gives other token ids, and the accuracy means nothing."""
        from ..backends.base import ModelLoadError
        from ..data.squad import read_side

        found = model_vocab_size(model_file, runner)
        side_file = Path(data_dir) / "squad_examples.json"
        if found is None or not side_file.is_file():
            return
        size, where = found
        vocab = int(read_side(data_dir).get("vocab_size", 0))
        if vocab and size != vocab:
            raise ModelLoadError(
                f"benchwright: {model_file} has a vocabulary of {size} tokens ({where}), but the preprocessed data in "
                f"{data_dir} was tokenized with a vocab.txt of {vocab} lines.\n  fix: use the vocab.txt that came "
                "with the model in the benchmark's dataset (MLPerf bert: 30522 lines) and preprocess again, or the "
                "model trained with that vocabulary")


def model_vocab_size(model_file: str | os.PathLike[str], runner: Any) -> tuple[int, str] | None:
    """(rows of the model's word-embedding table, where that was read), or None when it cannot be told: a torch
    module's ``*word_embeddings.weight`` parameter; an ONNX file's fixture metadata ``benchwright.vocab_size``, its
    ``*word_embeddings*`` initializer, or the initializer a Gather reads with the first graph input."""
    module = getattr(runner, "module", None)
    if module is not None and hasattr(module, "named_parameters"):
        for name, param in module.named_parameters():
            if name.endswith("word_embeddings.weight"):
                return int(param.shape[0]), f"parameter {name} {list(param.shape)}"
        return None
    path = Path(model_file)
    if path.suffix != ".onnx" or not path.is_file():
        return None
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("benchwright.vocab_size", "").isdigit():
        return int(meta["benchwright.vocab_size"]), "metadata benchwright.vocab_size"
    graph = model.graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    for name, dims in shapes.items():
        if "word_embeddings" in name and len(dims) == 2:
            return int(dims[0]), f"initializer {name} {dims}"
    first = graph.input[0].name if graph.input else None
    for node in graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == first and node.input[0] in shapes:
            dims = shapes[node.input[0]]
            return int(dims[0]), f"initializer {node.input[0]} {dims}, gathered by input {first}"
    return None
