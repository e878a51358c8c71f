"""SQuAD v1.1 -> BERT features, as MLCommons' bert reference makes them.

The reference (mlcommons/inference ``language/bert/``: ``squad_QSL.py`` calling ``create_squad_data.py``'s
``read_squad_examples`` and ``convert_examples_to_features``, and ``accuracy-squad.py`` doing the same before it
scores) turns every question of ``dev-v1.1.json`` into one or more features:

- the paragraph is split into words on whitespace (space, tab, CR, LF and U+202F, nothing else);
- every word is WordPiece-tokenized with BERT's ``vocab.txt``, lower-cased (``BertTokenizer``'s default
  ``do_lower_case=True``); the question is tokenized whole and cut to ``max_query_length`` (64) tokens;
- the document's tokens are cut into windows of at most ``max_seq_length - len(query) - 3`` tokens, each starting
  ``doc_stride`` (128) tokens after the previous one, the last ending at the document's end;
- a feature is ``[CLS] query [SEP] window [SEP]``, zero-padded to ``max_seq_length`` (384), with segment id 0 for
  the query part and 1 for the window and its [SEP], input mask 1 for real tokens;
- for each window token it records the word it came from (``token_to_orig_map``) and whether this window gives it
  the most context (``token_is_max_context``: the largest min(left, right) + 0.01 x window length).

Features are numbered in example order (``unique_id`` 1000000000 + row), and the QSL's sample i is feature i:
10,833 features for the 10,570 questions of the real dev set.

Tokenization uses the Hugging Face ``tokenizers`` library's BERT WordPiece pipeline (BertNormalizer with
lower-casing and accent stripping, BertPreTokenizer, WordPiece with ``##`` continuation pieces and a 100-character
word limit), which is what ``transformers.BertTokenizer`` does in Python.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .preprocess import Output, PreprocessError

SQUAD_VERSION = "1.1"
EXAMPLES_FILE = "squad_examples.json"
"""Beside the arrays: the examples (question id, answers, paragraph) the accuracy script scores."""
VOCAB_FILE = "vocab.txt"
"""Beside the arrays: a copy of the vocabulary the features were made with."""
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[UNK]")
"""Tokens a BERT vocabulary must hold for the features (``[PAD]`` is not looked up: padding is id 0)."""
UNIQUE_ID_BASE = 1_000_000_000
DEFAULTS: dict[str, Any] = {"max_seq_length": 384, "doc_stride": 128, "max_query_length": 64, "do_lower_case": True}


def is_whitespace(char: str) -> bool:
    """The reference's word separators: space, tab, CR, LF and U+202F (narrow no-break space)."""
    return char in " \t\r\n" or ord(char) == 0x202F


def split_words(text: str) -> list[str]:
    """A paragraph -> its words, as read_squad_examples splits ``context``."""
    words: list[str] = []
    previous_space = True
    for char in text:
        if is_whitespace(char):
            previous_space = True
            continue
        if previous_space:
            words.append(char)
        else:
            words[-1] += char
        previous_space = False
    return words


# --- vocabulary and tokenizer -----------------------------------------------------------------------------


def read_vocab(path: str | Path) -> list[str]:
    """``vocab.txt``: one token per line, the line number its id (as BertTokenizer's load_vocab reads it)."""
    path = Path(path)
    if not path.is_file():
        raise PreprocessError(f"{path}: the vocabulary file is missing; fix: give the vocab.txt that came with the "
                              "BERT model (MLPerf: bert_tf_v1_1_large_fp32_384_v2/vocab.txt)")
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    missing = [t for t in SPECIAL_TOKENS if t not in tokens]
    if missing:
        raise PreprocessError(f"{path}: the vocabulary has no {', '.join(missing)} token ({len(tokens)} lines); a "
                              f"BERT vocab.txt holds [PAD] [UNK] [CLS] [SEP] [MASK] and the WordPieces, one a line; "
                              "fix: give the model's own vocab.txt")
    return tokens


class WordPiece:
    """BERT's WordPiece tokenizer over ``vocab`` (a list of tokens, index = id), built with ``tokenizers``."""

    def __init__(self, vocab: Sequence[str], *, lowercase: bool = True):
        try:
            from tokenizers import BertWordPieceTokenizer
        except ImportError as exc:  # pragma: no cover - a dependency of benchwright
            raise PreprocessError(f"the squad preprocessor needs the `tokenizers` package ({exc}); "
                                  "fix: pip install tokenizers") from exc
        self.tokens = list(vocab)
        ids: dict[str, int] = {}
        for index, token in enumerate(self.tokens):
            ids[token] = index  # a repeated line: the last one wins, as in BertTokenizer's load_vocab
        self.ids = ids
        self._tokenizer = BertWordPieceTokenizer(
            ids, unk_token="[UNK]", sep_token="[SEP]", cls_token="[CLS]", pad_token="[PAD]", mask_token="[MASK]",
            clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase,
            wordpieces_prefix="##")

    @property
    def size(self) -> int:
        return len(self.tokens)

    def tokenize(self, text: str) -> list[str]:
        """``BertTokenizer.tokenize(text)``: the WordPiece tokens of a text."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).tokens)

    def tokenize_words(self, words: Sequence[str]) -> tuple[list[str], list[int]]:
        """Each word tokenized on its own: (all tokens, the index of the word each came from)."""
        if not words:
            return [], []
        encoding = self._tokenizer.encode(list(words), is_pretokenized=True, add_special_tokens=False)
        return list(encoding.tokens), [int(w) for w in encoding.word_ids]

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> list[int]:
        unk = self.ids["[UNK]"]
        return [self.ids.get(t, unk) for t in tokens]


# --- SQuAD examples ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One question: its id, text, paragraph (index into the paragraphs' words) and reference answers."""

    qas_id: str
    question: str
    paragraph: int
    answers: tuple[str, ...]


def _field(obj: Any, key: str, kind: type, where: str, path: Path) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise PreprocessError(f"{path}: {where} has no `{key}`; a SQuAD v1.1 file has data[].paragraphs[] with "
                              "`context` and `qas` [{`id`, `question`, `answers` [{`text`, `answer_start`}]}]; "
                              "fix: give the official dev-v1.1.json")
    value = obj[key]
    if not isinstance(value, kind):
        raise PreprocessError(f"{path}: {where}.{key} is a {type(value).__name__}, expected a {kind.__name__}; "
                              "fix: give the official dev-v1.1.json")
    return value


def read_squad(path: str | Path) -> tuple[list[list[str]], list[Example]]:
    """A SQuAD v1.1 file -> (each paragraph's words, every question in file order), as read_squad_examples
    (``is_training=False``) reads it. A file of another ``version`` (v2.0 adds unanswerable questions) is refused."""
    path = Path(path)
    if not path.is_file():
        raise PreprocessError(f"{path}: the SQuAD file is missing; fix: give dev-v1.1.json")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PreprocessError(f"{path}: not a JSON file ({exc}); fix: give the official dev-v1.1.json") from None
    if not isinstance(document, dict):
        raise PreprocessError(f"{path}: expected a JSON object with `version` and `data`, found a "
                              f"{type(document).__name__}; fix: give the official dev-v1.1.json")
    version = document.get("version")
    if version != SQUAD_VERSION:
        raise PreprocessError(f"{path}: field `version` is {version!r}, expected {SQUAD_VERSION!r}: the squad "
                              "preprocessor and the bert-99 accuracy script read SQuAD v1.1 (MLPerf's "
                              "dev-v1.1.json; v2.0 adds unanswerable questions they do not score); fix: give "
                              "dev-v1.1.json")
    paragraphs: list[list[str]] = []
    examples: list[Example] = []
    for a, article in enumerate(_field(document, "data", list, "the file", path)):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, f"data[{a}]", path)):
            where = f"data[{a}].paragraphs[{p}]"
            paragraphs.append(split_words(_field(paragraph, "context", str, where, path)))
            for q, qa in enumerate(_field(paragraph, "qas", list, where, path)):
                at = f"{where}.qas[{q}]"
                answers = _field(qa, "answers", list, at, path)
                texts = tuple(_field(ans, "text", str, f"{at}.answers[{i}]", path) for i, ans in enumerate(answers))
                examples.append(Example(qas_id=str(_field(qa, "id", str, at, path)),
                                        question=_field(qa, "question", str, at, path),
                                        paragraph=len(paragraphs) - 1, answers=texts))
    return paragraphs, examples


# --- features ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One window of one example, padded to max_seq_length."""

    example_index: int
    doc_span_index: int
    tokens: tuple[str, ...]
    token_to_orig_map: dict[int, int]
    token_is_max_context: dict[int, bool]
    input_ids: tuple[int, ...]
    input_mask: tuple[int, ...]
    segment_ids: tuple[int, ...]


def doc_spans(length: int, max_tokens_for_doc: int, doc_stride: int) -> list[tuple[int, int]]:
    """(start, length) of each window over ``length`` document tokens (an empty document has none)."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < length:
        size = min(length - start, max_tokens_for_doc)
        spans.append((start, size))
        if start + size == length:
            break
        start += min(size, doc_stride)
    return spans


def is_max_context(spans: Sequence[tuple[int, int]], current: int, position: int) -> bool:
    """Whether window ``current`` gives token ``position`` its most context: the largest
    min(tokens left, tokens right) + 0.01 x window length, the first window on a tie."""
    best_score, best = None, None
    for index, (start, size) in enumerate(spans):
        end = start + size - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * size
        if best_score is None or score > best_score:
            best_score, best = score, index
    return current == best


def make_features(paragraphs: Sequence[Sequence[str]], examples: Sequence[Example], tokenizer: WordPiece, *,
                  max_seq_length: int = 384, doc_stride: int = 128, max_query_length: int = 64) -> Iterator[Feature]:
    """convert_examples_to_features (``is_training=False``): every example's features, in order."""
    tokenized: dict[int, tuple[list[str], list[int]]] = {}
    for example_index, example in enumerate(examples):
        query = tokenizer.tokenize(example.question)[:max_query_length]
        if example.paragraph not in tokenized:
            tokenized = {example.paragraph: tokenizer.tokenize_words(paragraphs[example.paragraph])}
        doc_tokens, tok_to_orig = tokenized[example.paragraph]
        max_tokens_for_doc = max_seq_length - len(query) - 3
        if max_tokens_for_doc < 1:
            raise PreprocessError(f"max_seq_length={max_seq_length} leaves no room for the document after a "
                                  f"{len(query)}-token question; fix: max_seq_length > max_query_length + 3")
        spans = doc_spans(len(doc_tokens), max_tokens_for_doc, doc_stride)
        for span_index, (start, size) in enumerate(spans):
            tokens = ["[CLS]", *query, "[SEP]"]
            segment_ids = [0] * len(tokens)
            to_orig: dict[int, int] = {}
            max_context: dict[int, bool] = {}
            for i in range(size):
                position = start + i
                to_orig[len(tokens)] = tok_to_orig[position]
                max_context[len(tokens)] = is_max_context(spans, span_index, position)
                tokens.append(doc_tokens[position])
                segment_ids.append(1)
            tokens.append("[SEP]")
            segment_ids.append(1)
            input_ids = tokenizer.convert_tokens_to_ids(tokens)
            input_mask = [1] * len(input_ids)
            padding = max_seq_length - len(input_ids)
            yield Feature(example_index=example_index, doc_span_index=span_index, tokens=tuple(tokens),
                          token_to_orig_map=to_orig, token_is_max_context=max_context,
                          input_ids=tuple(input_ids + [0] * padding), input_mask=tuple(input_mask + [0] * padding),
                          segment_ids=tuple(segment_ids + [0] * padding))


# --- the preprocessor -------------------------------------------------------------------------------------


def squad_inputs(inputs: Sequence[Path]) -> tuple[Path, Path]:
    """(the SQuAD JSON, vocab.txt) among the inputs: two files, or one folder holding them."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
        else:
            files.append(path)
    jsons = [p for p in files if p.suffix == ".json"]
    vocabs = [p for p in files if p.suffix == ".txt"]
    if len(jsons) != 1 or len(vocabs) != 1:
        raise PreprocessError(f"squad expects the SQuAD v1.1 file (dev-v1.1.json) and the model's vocab.txt, as two "
                              f"files or one folder holding them; got {[str(p) for p in inputs]} "
                              f"({len(jsons)} .json, {len(vocabs)} .txt); fix: list both in the benchmark's dataset")
    return jsons[0], vocabs[0]


def expected_files(folder: Path) -> list[str]:
    """What the preprocessor reads in a dataset folder: its one .json file and its one .txt file, named
    dev-v1.1.json and vocab.txt when the folder has none (``benchwright dataset check`` lists those as missing)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    jsons = [n for n in names if n.endswith(".json")] or ["dev-v1.1.json"]
    texts = [n for n in names if n.endswith(".txt")] or [VOCAB_FILE]
    if len(jsons) > 1 or len(texts) > 1:
        raise PreprocessError(f"{folder}: holds {len(jsons)} .json and {len(texts)} .txt files; the squad "
                              "preprocessor reads one SQuAD v1.1 file and one vocab.txt; fix: keep only "
                              "dev-v1.1.json and the model's vocab.txt in the folder")
    return [jsons[0], texts[0]]


def _int_param(params: Mapping[str, Any], key: str, minimum: int) -> int:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PreprocessError(f"parameter {key}={value!r} must be an integer of at least {minimum}")
    return value


def squad_v1(inputs: Sequence[Path], params: Mapping[str, Any], out: Output) -> None:
    """dev-v1.1.json + vocab.txt -> the bert features and what the accuracy script needs to map them back.

    Arrays (one row per feature, fixed shape ``[max_seq_length]``): ``val_input_ids``, ``val_input_mask``,
    ``val_segment_ids`` (int64, the model's inputs); ``val_example_index`` (int64, the question of each feature),
    ``val_token_to_orig`` (int32, the paragraph word of each window token, -1 elsewhere),
    ``val_token_is_max_context`` (uint8) and ``val_ids``. Files: ``squad_examples.json`` (each question's id,
    answers and paragraph, and each paragraph's words) and a copy of ``vocab.txt``.
    """
    squad_file, vocab_file = squad_inputs(inputs)
    seq = _int_param(params, "max_seq_length", 8)
    stride = _int_param(params, "doc_stride", 1)
    query = _int_param(params, "max_query_length", 1)
    if query + 3 >= seq:
        raise PreprocessError(f"parameters max_query_length={query} and max_seq_length={seq}: the query, [CLS] and "
                              "two [SEP] must leave room for the document (max_seq_length > max_query_length + 3)")
    if not isinstance(params["do_lower_case"], bool):
        raise PreprocessError(f"parameter do_lower_case={params['do_lower_case']!r} must be true or false")
    tokenizer = WordPiece(read_vocab(vocab_file), lowercase=params["do_lower_case"])
    paragraphs, examples = read_squad(squad_file)
    if not examples:
        raise PreprocessError(f"{squad_file}: holds no questions; fix: give the official dev-v1.1.json")
    columns: dict[str, list[Any]] = {k: [] for k in ("input_ids", "input_mask", "segment_ids", "example_index",
                                                    "token_to_orig", "token_is_max_context")}
    for feature in make_features(paragraphs, examples, tokenizer, max_seq_length=seq, doc_stride=stride,
                                 max_query_length=query):
        columns["input_ids"].append(feature.input_ids)
        columns["input_mask"].append(feature.input_mask)
        columns["segment_ids"].append(feature.segment_ids)
        columns["example_index"].append(feature.example_index)
        to_orig = np.full(seq, -1, dtype=np.int32)
        max_context = np.zeros(seq, dtype=np.uint8)
        for position, word in feature.token_to_orig_map.items():
            to_orig[position] = word
            max_context[position] = feature.token_is_max_context[position]
        columns["token_to_orig"].append(to_orig)
        columns["token_is_max_context"].append(max_context)
    count = len(columns["input_ids"])
    if count == 0:
        raise PreprocessError(f"{squad_file}: no paragraph has any token; fix: give the official dev-v1.1.json")
    for key in ("input_ids", "input_mask", "segment_ids"):
        out.put(f"val_{key}", np.asarray(columns[key], dtype=np.int64).reshape(count, seq))
    out.put("val_example_index", np.asarray(columns["example_index"], dtype=np.int64))
    out.put("val_token_to_orig", np.stack(columns["token_to_orig"]))
    out.put("val_token_is_max_context", np.stack(columns["token_is_max_context"]))
    out.put("val_ids", np.arange(count, dtype=np.int64))
    side = {"version": SQUAD_VERSION, "source": squad_file.name, "vocab_size": tokenizer.size,
            "do_lower_case": params["do_lower_case"], "max_seq_length": seq, "features": count,
            "paragraphs": paragraphs,
            "examples": [{"id": e.qas_id, "paragraph": e.paragraph, "answers": list(e.answers)} for e in examples]}
    out.put_file(EXAMPLES_FILE, json.dumps(side, ensure_ascii=True, separators=(",", ":")).encode("ascii"))
    out.put_file(VOCAB_FILE, vocab_file.read_bytes())


def read_side(data_dir: str | Path) -> dict[str, Any]:
    """``squad_examples.json`` of a preprocessed folder."""
    path = Path(data_dir) / EXAMPLES_FILE
    if not path.is_file():
        raise PreprocessError(f"{path} is missing: {data_dir} was not made by the squad preprocessor; fix: run the "
                              "preprocessing step of the benchmark again")
    return json.loads(path.read_text(encoding="ascii"))


__all__ = [
    "DEFAULTS",
    "EXAMPLES_FILE",
    "SQUAD_VERSION",
    "VOCAB_FILE",
    "Example",
    "Feature",
    "WordPiece",
    "doc_spans",
    "expected_files",
    "is_max_context",
    "make_features",
    "read_side",
    "read_squad",
    "read_vocab",
    "split_words",
    "squad_inputs",
    "squad_v1",
]
