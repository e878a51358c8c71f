"""Text generation in process: a Hugging Face ``transformers`` causal LM from a local folder (``config.json``,
safetensors weights and ``tokenizer.json``), decoding a batch of prompts greedily with its KV cache and reporting
each token as it comes out, so the SUT can tell LoadGen when a request's first token is out.

A batch is decoded together (static batching): prompts of one batch are left-padded to the longest, and a
request that reaches its end-of-sequence token or ``max_new_tokens`` stops being reported while the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import ModelLoadError

OnToken = Callable[[int, int], None]
"""``on_token(request, token_id)``: request is the prompt's position in the batch."""
REQUIRED_FILES = ("config.json", "tokenizer.json")


class TransformersGenerator:
    """``generate(prompts, max_new_tokens, on_token)`` -> one int32 array of generated ids per prompt."""

    def __init__(self, folder: str | os.PathLike[str], *, device: str = "cpu", threads: int | None = None):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        path = Path(folder)
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        weights = sorted(path.glob("*.safetensors"))
        if missing or not weights:
            raise ModelLoadError(
                f"benchwright: the model folder {path} has no {', '.join(missing + ['*.safetensors'] * (not weights))}"
                f"; a generation model is a transformers folder: config.json, safetensors weights and the "
                "tokenizer's tokenizer.json (save it with tokenizer.save_pretrained, or copy it from the model's hub "
                "folder)")
        if threads:
            torch.set_num_threads(threads)
        self.path, self.device = path, torch.device(device)
        config = AutoConfig.from_pretrained(path)
        self.context = int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions"))
        self.eos = config.eos_token_id
        self.pad = config.pad_token_id if config.pad_token_id is not None else self.eos
        self.model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True).to(self.device).eval()

    def describe(self) -> dict[str, Any]:
        import torch
        import transformers

        return {"backend": "transformers", "folder": str(self.path), "device": str(self.device),
                "architecture": type(self.model).__name__, "context": self.context,
                "transformers": transformers.__version__, "torch": torch.__version__}

    def check_prompts(self, lengths: Sequence[int], max_new_tokens: int, where: str = "the prompts") -> None:
        """Refuse prompts that, with the tokens to generate, do not fit the model's context."""
        longest = max(lengths, default=0)
        if longest + max_new_tokens > self.context:
            raise ModelLoadError(
                f"benchwright: {where}: the longest prompt has {longest} tokens; with max_new_tokens "
                f"{max_new_tokens} that is {longest + max_new_tokens}, past the model's context of {self.context} "
                f"tokens ({self.path / 'config.json'}); shorten the prompts (preprocessing) or lower max_new_tokens")

    def generate(self, prompts: Sequence[np.ndarray], max_new_tokens: int, on_token: OnToken | None = None
                 ) -> list[np.ndarray]:
        import torch

        n = len(prompts)
        lengths = [len(p) for p in prompts]
        self.check_prompts(lengths, max_new_tokens)
        width = max(lengths)
        ids = torch.full((n, width), self.pad, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, p in enumerate(prompts):  # left padding: every prompt's last token is in the last column
            ids[i, width - len(p):] = torch.as_tensor(np.asarray(p, dtype=np.int64))
            mask[i, width - len(p):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out: list[list[int]] = [[] for _ in range(n)]
        active = [True] * n
        past = None
        with torch.inference_mode():
            step_ids, step_pos = ids, positions
            for _ in range(max_new_tokens):
                result = self.model(input_ids=step_ids, attention_mask=mask, position_ids=step_pos, cache=past,
                                    use_cache=True)
                past = result.cache
                token = result.logits[:, -1, :].argmax(-1)
                for i, t in enumerate(token.tolist()):
                    if active[i]:
                        out[i].append(t)
                        if on_token is not None:
                            on_token(i, t)
                        if t == self.eos or len(out[i]) == max_new_tokens:
                            active[i] = False
                if not any(active):
                    break
                step_ids = token.unsqueeze(-1)
                step_pos = step_pos[:, -1:] + 1
                mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=mask.device)], dim=-1)
        return [np.asarray(tokens, dtype=np.int32) for tokens in out]
