"""The default language model: a small GPT-2-style causal transformer (Hugging Face ``transformers``) trained,
seeded, on the ``pydoc-topics`` corpus (benchwright.data.textcorpus).

:func:`train_lm` writes a model folder as ``transformers`` and serving stacks read it: ``config.json``,
``model.safetensors``, ``generation_config.json`` and the corpus's ``tokenizer.json``, plus ``record.json`` (the
recipe, the losses and the weights' sha256). The same data, seed, parameters and thread count give the same weights
bit for bit on the same machine, as for the reference weights of the other benchmarks.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..fsutil import atomic_write_json, plain_file_modes, sha256_file, staged_dir
from pydantic import Field

from ..schemas.base import JsonScalar, Spec
from ..schemas.benchmark import LM_DEFAULTS, LM_HYPERPARAMETERS
from .train import TrainingError, deterministic

WEIGHTS = "model.safetensors"


class LMSpec(Spec):
    """How ``benchwright train-lm`` trains a ``recipe: causal-lm`` model (``--spec``, resolved by the DAG)."""

    parameters: dict[str, JsonScalar] = {}
    """The benchmark's ``model.parameters`` (over LM_DEFAULTS)."""

    hyperparameters: dict[str, JsonScalar] = {}
    """The benchmark's ``model.weights.hyperparameters`` (over LM_HYPERPARAMETERS)."""

    seed: int = Field(ge=0)
    """Seed of the initial weights and of the order of training blocks (the campaign's seed)."""


def build_lm(parameters: Mapping[str, Any], vocab_size: int, eos_token_id: int) -> Any:
    """A randomly initialised GPT-2 LM head model of ``parameters`` (keys of :data:`LM_DEFAULTS`)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    unknown = sorted(set(parameters) - set(LM_DEFAULTS))
    if unknown:
        raise TrainingError(f"unknown LM parameter(s) {unknown}; known: {sorted(LM_DEFAULTS)}")
    p = {**LM_DEFAULTS, **parameters}
    config = GPT2Config(vocab_size=vocab_size, n_positions=p["n_positions"], n_embd=p["n_embd"],
                        n_layer=p["n_layer"], n_head=p["n_head"], bos_token_id=eos_token_id,
                        eos_token_id=eos_token_id, pad_token_id=eos_token_id)
    return GPT2LMHeadModel(config)


def _validation_loss(model: Any, data_dir: Path, batch: int = 32) -> float:
    """Mean next-token cross-entropy on the held-out samples (prompt followed by its continuation)."""
    import torch

    tokens = np.concatenate([np.load(data_dir / "val_prompt.npy"), np.load(data_dir / "val_reference.npy")], axis=1)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(tokens), batch):
            ids = torch.from_numpy(tokens[i:i + batch].astype(np.int64))
            loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids).loss
            n = ids.shape[0] * (ids.shape[1] - 1)
            total, count = total + float(loss) * n, count + n
    model.train()
    return total / count


def train_lm(data_dir: str | Path, out_dir: str | Path, *, seed: int, threads: int | None = None,
             parameters: Mapping[str, Any] | None = None, hyperparameters: Mapping[str, Any] | None = None,
             log: Any = print) -> dict[str, Any]:
    """Train the LM on ``data_dir``'s ``train_tokens.npy`` and place the model folder at ``out_dir`` atomically;
    returns its record."""
    import torch

    data = Path(data_dir)
    split = json.loads((data / "split.json").read_text())
    unknown = sorted(set(hyperparameters or {}) - set(LM_HYPERPARAMETERS))
    if unknown:
        raise TrainingError(f"unknown LM hyperparameter(s) {unknown}; known: {sorted(LM_HYPERPARAMETERS)}")
    hp = {**LM_HYPERPARAMETERS, **(hyperparameters or {})}
    block, batch = int(hp["block_size"]), int(hp["batch_size"])
    params = {**LM_DEFAULTS, **(parameters or {})}
    if block > params["n_positions"]:
        raise TrainingError(f"block_size {block} is longer than the model's context n_positions "
                            f"{params['n_positions']}")
    stream = np.load(data / "train_tokens.npy").astype(np.int64)
    blocks = len(stream) // block
    if blocks < batch:
        raise TrainingError(f"{data / 'train_tokens.npy'}: {len(stream)} tokens make {blocks} blocks of {block}, "
                            f"fewer than one batch of {batch}")
    windows = torch.from_numpy(stream[:blocks * block].reshape(blocks, block))
    with deterministic(seed, threads):
        model = build_lm(params, split["vocab_size"], split["eos_token_id"])
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        rest = [p for n, p in model.named_parameters() if p.ndim < 2]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": float(hp["weight_decay"])},
                                       {"params": rest, "weight_decay": 0.0}], lr=float(hp["learning_rate"]))
        steps = int(hp["epochs"]) * (blocks // batch)
        warmup = int(hp["warmup_steps"])
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)) * (
            0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))))
        generator = torch.Generator().manual_seed(seed)
        epochs = []
        model.train()
        for epoch in range(int(hp["epochs"])):
            order = torch.randperm(blocks, generator=generator)
            losses = []
            for i in range(0, blocks - batch + 1, batch):
                ids = windows[order[i:i + batch]]
                loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids).loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                losses.append(float(loss.detach()))
            val = _validation_loss(model, data)
            epochs.append({"epoch": epoch + 1, "train_loss": round(float(np.mean(losses)), 6),
                           "val_loss": round(val, 6), "val_perplexity": round(math.exp(val), 3)})
            log(f"LM epoch {epoch + 1}: train loss {epochs[-1]['train_loss']:.4f}, validation loss {val:.4f} "
                f"(perplexity {math.exp(val):.1f})")
    with staged_dir(out_dir, replace=True) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        shutil.copyfile(data / "tokenizer.json", staging / "tokenizer.json")
        plain_file_modes(staging)  # model.safetensors comes out 0600: a container job runs as another user
        record = {
            "version": 1, "architecture": "gpt2", "parameters": params, "hyperparameters": hp, "seed": seed,
            "threads": threads, "parameter_count": int(sum(p.numel() for p in model.parameters())),
            "vocab_size": split["vocab_size"], "eos_token_id": split["eos_token_id"], "epochs": epochs,
            "train_tokens": int(blocks * block),
            "weights_sha256": sha256_file(staging / WEIGHTS),
            "data_manifest_sha256": sha256_file(data / "manifest.json") if (data / "manifest.json").is_file() else None,
            "tokenizer_sha256": sha256_file(staging / "tokenizer.json"),
        }
        atomic_write_json(staging / "record.json", record)
    return record
