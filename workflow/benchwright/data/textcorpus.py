"""The default language model's data: the CPython documentation topics every Python ships
(``pydoc_data/topics.py``), split by topic, with a byte-level BPE tokenizer trained on the training topics.

Outputs of the ``pydoc-topics`` preprocessor (:func:`pydoc_topics_v1`):

- ``tokenizer.json``: the tokenizer (Hugging Face ``tokenizers``), trained on the training topics only;
- ``train_tokens.npy``: int32, the training topics' token ids in topic order, each topic ended by ``<|endoftext|>``;
- ``val_prompt.npy`` int32 [N, prompt_tokens] and ``val_reference.npy`` int32 [N, continuation_tokens]: held-out
  passages of the validation topics and their true continuations; ``val_ids.npy``: 0..N-1;
- ``split.json``: which topics are in which split, and where each validation sample starts.

The same input, parameters and ``tokenizers`` version give byte-identical files.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .preprocess import Output, PreprocessError

EOS = "<|endoftext|>"
"""The tokenizer's one special token: ends each topic in the training stream."""


def read_topics(path: Path) -> dict[str, str]:
    """``topics`` of a ``pydoc_data/topics.py`` (a dict of topic name -> text), read as data: the file is parsed,
    never imported or run."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise PreprocessError(f"{path}: not a readable Python file ({exc}); expected pydoc_data/topics.py") from None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "topics"):
            try:
                topics = ast.literal_eval(node.value)
            except ValueError:
                break
            if isinstance(topics, dict) and topics and all(
                    isinstance(k, str) and isinstance(v, str) for k, v in topics.items()):
                return topics
            break
    raise PreprocessError(f"{path}: no `topics = {{name: text, ...}}` dict of strings; expected pydoc_data/topics.py "
                          "as Python ships it (url: package://pydoc_data/topics.py)")


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer (GPT-2's scheme: any text encodes, nothing is unknown) trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(list(texts), trainer)
    return tokenizer


def pydoc_topics_v1(inputs: Sequence[Path], params: Mapping[str, Any], out: Output) -> None:
    """topics.py -> tokenizer, training token stream and held-out prompt/continuation pairs (module docstring)."""
    if len(inputs) != 1:
        raise PreprocessError(f"pydoc-topics expects one input file (topics.py), got {len(inputs)}")
    topics = read_topics(inputs[0])
    names = sorted(topics)
    val_topics, vocab_size = int(params["val_topics"]), int(params["vocab_size"])
    prompt_len, cont_len = int(params["prompt_tokens"]), int(params["continuation_tokens"])
    if not 0 < val_topics < len(names):
        raise PreprocessError(f"parameter val_topics={val_topics} must be between 1 and {len(names) - 1} "
                              f"({inputs[0]} has {len(names)} topics)")
    if vocab_size < 300 or prompt_len < 1 or cont_len < 1:
        raise PreprocessError(f"parameters vocab_size={vocab_size} (at least 300: 256 bytes and merges), "
                              f"prompt_tokens={prompt_len} and continuation_tokens={cont_len} (at least 1) are out "
                              "of range")
    order = np.random.default_rng(int(params["split_seed"])).permutation(len(names))
    val_names = sorted(names[i] for i in order[:val_topics])
    train_names = sorted(names[i] for i in order[val_topics:])

    tokenizer = train_tokenizer([topics[n] for n in train_names], vocab_size)
    eos = tokenizer.token_to_id(EOS)
    train = [ids for n in train_names for ids in (tokenizer.encode(topics[n]).ids, [eos])]
    out.put("train_tokens", np.fromiter((i for ids in train for i in ids), dtype=np.int32))

    # Held-out samples: consecutive windows of prompt + continuation tokens inside each validation topic.
    window = prompt_len + cont_len
    prompts, references, starts = [], [], []
    for name in val_names:
        ids = tokenizer.encode(topics[name]).ids
        for start in range(0, len(ids) - window + 1, window):
            prompts.append(ids[start:start + prompt_len])
            references.append(ids[start + prompt_len:start + window])
            starts.append([name, start])
    limit = int(params["val_count"])
    if limit:
        prompts, references, starts = prompts[:limit], references[:limit], starts[:limit]
    if not prompts:
        raise PreprocessError(f"the {val_topics} validation topics hold no {window}-token window; lower "
                              "prompt_tokens + continuation_tokens or raise val_topics")
    out.put("val_prompt", np.asarray(prompts, dtype=np.int32))
    out.put("val_reference", np.asarray(references, dtype=np.int32))
    out.put("val_ids", np.arange(len(prompts), dtype=np.int64))
    out.put_file("tokenizer.json", tokenizer.to_str().encode("utf-8"))
    split = {"train_topics": train_names, "val_topics": val_names, "val_starts": starts,
             "eos_token_id": eos, "vocab_size": tokenizer.get_vocab_size()}
    out.put_file("split.json", (json.dumps(split, indent=1) + "\n").encode("utf-8"))
