"""CNN/DailyMail as MLCommons preprocesses it for llama3.1-8b (``cnn_eval.json``): the user's local copy, beside the
served model's ``tokenizer.json``, in one dataset folder.

Each record holds ``tok_input`` (the prompt's token ids: article plus the summarization instruction, already in the
model's chat template) and ``output`` (the reference highlights), as the reference implementation's dataset.py reads
them (``pandas.read_json``: a list of records, or one object per column). The prompts are stored ragged
(``val_prompt.npy`` + ``val_prompt.offsets.npy``), the references both as text (``references.json``, what the
accuracy script compares against) and as token ids of that tokenizer (``val_reference``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DATASET_FILE, TOKENIZER_FILE = "cnn_eval.json", "tokenizer.json"


def _records(path: Path) -> list[dict[str, Any]]:
    from .preprocess import PreprocessError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PreprocessError(f"{path}: not readable JSON ({exc}); expected MLCommons' cnn_eval.json") from None
    if isinstance(data, dict):  # pandas' default orient: {column: {row: value}}
        columns = {k: v for k, v in data.items() if isinstance(v, dict)}
        rows = sorted({r for col in columns.values() for r in col}, key=lambda r: int(r) if str(r).isdigit() else r)
        data = [{k: col.get(r) for k, col in columns.items()} for r in rows]
    if not isinstance(data, list) or not data:
        raise PreprocessError(f"{path}: expected a list of records with `tok_input` and `output` (MLCommons' "
                              "cnn_eval.json), found none")
    return data


def cnn_dailymail_v1(inputs: Sequence[Path], params: Mapping[str, Any], out: Any) -> None:
    from tokenizers import Tokenizer

    from .preprocess import PreprocessError

    paths = [Path(p) for p in inputs]
    if len(paths) == 1 and paths[0].is_dir():  # a dataset folder, as the DAG passes it
        paths = [paths[0] / n for n in (DATASET_FILE, TOKENIZER_FILE) if (paths[0] / n).is_file()]
    files = {p.name: p for p in paths}
    missing = [n for n in (DATASET_FILE, TOKENIZER_FILE) if n not in files]
    if missing:
        raise PreprocessError(f"the dataset folder has no {' or '.join(missing)}; it holds MLCommons' {DATASET_FILE} "
                              f"and the served model's {TOKENIZER_FILE} (copy it from the model folder)")
    records = _records(files[DATASET_FILE])
    count = int(params["count"])
    if count:
        records = records[:count]
    prompts, references = [], []
    for i, record in enumerate(records):
        ids, text = record.get("tok_input"), record.get("output")
        if not isinstance(ids, list) or not ids or not all(isinstance(t, int) for t in ids) \
                or not isinstance(text, str):
            raise PreprocessError(f"{files[DATASET_FILE]}: record {i} needs `tok_input` (a list of token ids) and "
                                  "`output` (the reference text)")
        prompts.append(np.asarray(ids, dtype=np.int32))
        references.append(text)
    tokenizer = Tokenizer.from_file(str(files[TOKENIZER_FILE]))
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    too_big = next((i for i, p in enumerate(prompts) if int(p.max()) >= vocab or int(p.min()) < 0), None)
    if too_big is not None:
        raise PreprocessError(f"{files[DATASET_FILE]}: record {too_big} has token ids outside the {vocab}-token "
                              f"vocabulary of {files[TOKENIZER_FILE]}; the tokenizer is not the one the prompts were "
                              "made with")
    lengths = np.fromiter((len(p) for p in prompts), dtype=np.int64, count=len(prompts))
    out.put("val_prompt", np.concatenate(prompts))
    out.put("val_prompt.offsets", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    ref_ids = [np.asarray(tokenizer.encode(t, add_special_tokens=False).ids, dtype=np.int32) for t in references]
    out.put("val_reference", np.concatenate(ref_ids) if ref_ids else np.zeros(0, np.int32))
    out.put("val_reference.offsets", np.concatenate([[0], np.cumsum([len(r) for r in ref_ids])]).astype(np.int64))
    out.put("val_ids", np.arange(len(prompts), dtype=np.int64))
    out.put_file("references.json", json.dumps(references, ensure_ascii=False).encode("utf-8"))
    out.put_file(TOKENIZER_FILE, files[TOKENIZER_FILE].read_bytes())
