"""Seeded, deterministic training of a benchmark's model on its preprocessed data.

Used for the FP32 reference weights of an inference benchmark (the DAG's ``train_reference`` rule) and, with
MLPerf logging around it, for the training benchmark. The same seed, data and thread count give the same
weights bit for bit on the same machine.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..devices import place

SUPPORTED_HYPERPARAMETERS = {
    "global_batch_size", "opt_base_learning_rate", "opt_momentum", "opt_weight_decay",
    "opt_learning_rate_warmup_epochs",
}


class TrainingError(ValueError):
    pass


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    eval_accuracy: float
    """Fraction of evaluation samples classified correctly."""


@dataclass
class TrainResult:
    epochs: list[EpochStats] = field(default_factory=list)
    reached_target_at: int | None = None

    @property
    def final_accuracy(self) -> float:
        return self.epochs[-1].eval_accuracy if self.epochs else 0.0


@contextlib.contextmanager
def deterministic(seed: int, threads: int | None = None) -> Iterator[None]:
    """Seed every generator and make torch pick deterministic kernels, restoring the previous state after."""
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev_det)
        torch.set_num_threads(prev_threads)


def make_optimizer(name: str, model: nn.Module, hp: Mapping[str, Any]) -> torch.optim.Optimizer:
    lr = float(hp["opt_base_learning_rate"])
    wd = float(hp.get("opt_weight_decay", 0.0))
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=float(hp.get("opt_momentum", 0.0)),
                               weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    raise TrainingError(f"unknown optimizer {name!r}; benchwright trains with: sgd, adam")


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512, device: str = "cpu") -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        pred = model(place(x[i:i + batch], device)).argmax(1)
        correct += int((pred == place(y[i:i + batch], device)).sum())
    return correct / len(x)


def train(model: nn.Module, train_xy: tuple[np.ndarray, np.ndarray], eval_xy: tuple[np.ndarray, np.ndarray], *,
          optimizer: str, hyperparameters: Mapping[str, Any], seed: int, max_epochs: int,
          quality_target: float | None = None, eval_interval: int = 1,
          on_epoch_start: Callable[[int], None] | None = None,
          on_epoch_end: Callable[[EpochStats], None] | None = None,
          on_epoch_stop: Callable[[int], None] | None = None,
          on_eval_start: Callable[[int], None] | None = None,
          threads: int | None = None, rank: int = 0, world_size: int = 1, device: str = "cpu") -> TrainResult:
    """Train until ``quality_target`` (a fraction) is reached on the evaluation set, or ``max_epochs``.

    Hooks, in MLPerf's order per epoch: on_epoch_start(epoch), training, on_epoch_stop(epoch),
    on_eval_start(epoch), evaluation, on_epoch_end(stats). With ``world_size`` > 1 (torch.distributed already
    initialised), every rank takes its share of each global batch and DDP averages the gradients; every rank
    evaluates, so all ranks stop at the same epoch. ``device``: where the model and every batch live (the rank's
    GPU for NCCL, which reduces CUDA tensors only).
    """
    unknown = sorted(set(hyperparameters) - SUPPORTED_HYPERPARAMETERS)
    if unknown:
        raise TrainingError(f"hyperparameters {unknown} are not supported by benchwright's trainer; "
                            f"supported: {sorted(SUPPORTED_HYPERPARAMETERS)}")
    batch = int(hyperparameters["global_batch_size"])
    warmup = float(hyperparameters.get("opt_learning_rate_warmup_epochs", 0))
    with deterministic(seed, threads):
        x = torch.from_numpy(np.ascontiguousarray(train_xy[0]))
        y = torch.from_numpy(np.ascontiguousarray(train_xy[1]))
        ex = torch.from_numpy(np.ascontiguousarray(eval_xy[0]))
        ey = torch.from_numpy(np.ascontiguousarray(eval_xy[1]))
        gen = torch.Generator().manual_seed(seed)  # the same permutation on every rank
        model.to(device)
        net: nn.Module = model
        if world_size > 1:
            net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device != "cpu" else None)
        opt = make_optimizer(optimizer, model, hyperparameters)
        base_lrs = [g["lr"] for g in opt.param_groups]
        steps_per_epoch = math.ceil(len(x) / batch)
        loss_fn = nn.CrossEntropyLoss()
        result = TrainResult()
        for epoch in range(1, max_epochs + 1):
            if on_epoch_start:
                on_epoch_start(epoch)
            model.train()
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for step in range(steps_per_epoch):
                progress = (epoch - 1) + step / steps_per_epoch
                # linear warmup, then cosine decay over max_epochs
                scale = progress / warmup if warmup and progress < warmup else \
                    0.5 * (1 + math.cos(math.pi * min(1.0, progress / max_epochs)))
                for g, lr in zip(opt.param_groups, base_lrs, strict=True):
                    g["lr"] = lr * scale
                global_idx = order[step * batch:(step + 1) * batch]
                if len(global_idx) < world_size:
                    continue  # a last global batch too small to give every rank a sample
                idx = global_idx[rank::world_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(place(x[idx], device)), place(y[idx], device))
                loss.backward()
                opt.step()
                total += loss.detach().item() * len(idx) * world_size
            if on_epoch_stop:
                on_epoch_stop(epoch)
            if epoch % eval_interval and epoch != max_epochs:
                continue
            if on_eval_start:
                on_eval_start(epoch)
            accuracy = evaluate(model, ex, ey, device=device)
            if world_size > 1:
                # BatchNorm buffers drift per rank after the last broadcast, so ranks could disagree on whether
                # the target is reached and stop at different epochs (a hang): every rank takes rank 0's answer.
                import torch.distributed as dist

                shared = torch.tensor([accuracy], dtype=torch.float64, device=device)
                dist.broadcast(shared, src=0)
                accuracy = float(shared.item())
            stats = EpochStats(epoch, total / len(x), accuracy)
            result.epochs.append(stats)
            if on_epoch_end:
                on_epoch_end(stats)
            if quality_target is not None and stats.eval_accuracy >= quality_target:
                result.reached_target_at = epoch
                break
        model.eval()
        return result
