#!/usr/bin/env python3
"""A stand-in for an external training implementation (NVIDIA's, MLCommons' reference): it trains a small
two-layer perceptron with numpy on a preprocessed classification split, to a quality target, and writes the run's
MLPerf log with mlperf_logging.mllog. It imports nothing from benchwright.

    mllog_player.py --config config_CPU_1x1x32.sh --seed S --log result.txt --data DATA_DIR
                    --benchmark B --submitter ORG --platform P --division D --status S
                    --quality-target 0.95 --max-epochs 30

The config file is NVIDIA-style shell (``export BATCHSIZE=32``): BATCHSIZE, LR, MOMENTUM, WEIGHT_DECAY, HIDDEN.
``--write-no-log`` plays a broken implementation: it exits 0 without writing the log.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys

import numpy as np
from mlperf_logging.mllog import constants as C
from mlperf_logging.mllog.mllog import MLLogger


def read_config(path: str) -> dict[str, str]:
    """``export KEY=VALUE`` / ``KEY=VALUE`` lines of a shell config, as NVIDIA's config_*.sh files write them."""
    out = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=[\"']?([^\"'#\s]*)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def logger(path: str) -> MLLogger:
    log = logging.getLogger("mllog_player")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    return MLLogger(logger=log, default_stack_offset=1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    for name in ("config", "log", "data", "benchmark", "submitter", "platform", "division", "status"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--quality-target", type=float, required=True)
    p.add_argument("--max-epochs", type=int, required=True)
    p.add_argument("--write-no-log", action="store_true")
    args = p.parse_args(argv)
    if args.write_no_log:
        print("mllog_player: --write-no-log: exiting without a log", file=sys.stderr)
        return 0
    cfg = read_config(args.config)
    batch, lr = int(cfg["BATCHSIZE"]), float(cfg["LR"])
    momentum, decay, hidden = float(cfg["MOMENTUM"]), float(cfg["WEIGHT_DECAY"]), int(cfg.get("HIDDEN", "64"))

    ml = logger(args.log)
    ml.event(key=C.CACHE_CLEAR, value=True)
    ml.start(key=C.INIT_START)
    for key, value in ((C.SUBMISSION_ORG, args.submitter), (C.SUBMISSION_PLATFORM, args.platform),
                       (C.SUBMISSION_DIVISION, args.division), (C.SUBMISSION_STATUS, args.status),
                       (C.SUBMISSION_BENCHMARK, args.benchmark), (C.SEED, args.seed),
                       (C.GLOBAL_BATCH_SIZE, batch), (C.GRADIENT_ACCUMULATION_STEPS, 1), (C.OPT_NAME, "sgd"),
                       ("opt_base_learning_rate", lr), ("opt_momentum", momentum), ("opt_weight_decay", decay)):
        ml.event(key=key, value=value)
    x = np.load(f"{args.data}/train_x.npy").reshape(-1, 64).astype(np.float64)
    y = np.load(f"{args.data}/train_y.npy")
    vx = np.load(f"{args.data}/val_x.npy").reshape(-1, 64).astype(np.float64)
    vy = np.load(f"{args.data}/val_y.npy")
    ml.event(key=C.TRAIN_SAMPLES, value=len(y))
    ml.event(key=C.EVAL_SAMPLES, value=len(vy))
    rng = np.random.default_rng(args.seed)
    w1 = rng.standard_normal((64, hidden)) * np.sqrt(2 / 64)
    w2 = rng.standard_normal((hidden, 10)) * np.sqrt(1 / hidden)
    b1, b2 = np.zeros(hidden), np.zeros(10)
    params = [w1, b1, w2, b2]
    velocity = [np.zeros_like(q) for q in params]
    ml.end(key=C.INIT_STOP)
    ml.start(key=C.RUN_START)
    status = C.ABORTED
    for epoch in range(1, args.max_epochs + 1):
        ml.start(key=C.EPOCH_START, metadata={C.EPOCH_NUM: epoch})
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            j = order[i:i + batch]
            h = np.maximum(x[j] @ w1 + b1, 0)
            z = h @ w2 + b2
            prob = np.exp(z - z.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            prob[np.arange(len(j)), y[j]] -= 1
            prob /= len(j)
            dh = (prob @ w2.T) * (h > 0)
            grads = [x[j].T @ dh + decay * w1, dh.sum(0), h.T @ prob + decay * w2, prob.sum(0)]
            for q, v, g in zip(params, velocity, grads):
                v *= momentum
                v -= lr * g
                q += v
        ml.end(key=C.EPOCH_STOP, metadata={C.EPOCH_NUM: epoch})
        ml.start(key=C.EVAL_START, metadata={C.EPOCH_NUM: epoch})
        accuracy = float(((np.maximum(vx @ w1 + b1, 0) @ w2 + b2).argmax(axis=1) == vy).mean())
        ml.event(key=C.EVAL_ACCURACY, value=round(accuracy, 6), metadata={C.EPOCH_NUM: epoch})
        ml.end(key=C.EVAL_STOP, metadata={C.EPOCH_NUM: epoch})
        print(f"mllog_player: seed {args.seed} epoch {epoch}: eval accuracy {accuracy:.4f}", file=sys.stderr)
        if accuracy >= args.quality_target:
            status = C.SUCCESS
            break
    ml.end(key=C.RUN_STOP, metadata={C.STATUS: status})
    return 0


if __name__ == "__main__":
    sys.exit(main())
