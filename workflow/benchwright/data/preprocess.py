"""Deterministic preprocessing: the same input bytes, code version and parameters give the same output bytes.

A preprocessor turns verified dataset files into arrays (``.npy``, which carry no timestamps) plus a
``manifest.json`` that records the sha256 of every input and output, the preprocessor's name and version and
its parameters. Sample ids are the row numbers of the raw data, so a calibration list or an accuracy log
can name samples independently of how they were split.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..fsutil import atomic_write_json, sha256_file, staged_dir

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class PreprocessError(Exception):
    """The input does not look like what the preprocessor expects, or its parameters are wrong."""


@dataclass(frozen=True)
class Preprocessor:
    name: str
    version: int
    run: Callable[[Sequence[Path], Mapping[str, Any]], dict[str, np.ndarray]]
    defaults: Mapping[str, Any]


def _digits_v1(inputs: Sequence[Path], params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """scikit-learn's digits.csv.gz (1,797 rows of 64 pixels in 0..16 and a label) -> train/val splits.

    The validation split (``val_count`` samples, chosen by a seeded permutation) is the inference sample set;
    the rest is the training split, from which the calibration list is drawn.
    """
    if len(inputs) != 1:
        raise PreprocessError(f"digits expects one input file (digits.csv.gz), got {len(inputs)}")
    opener = gzip.open if inputs[0].suffix == ".gz" else open
    with opener(inputs[0], "rt") as handle:
        raw = np.loadtxt(handle, delimiter=",", dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != 65:
        raise PreprocessError(f"{inputs[0]}: expected 65 comma-separated columns, got shape {raw.shape}")
    pixels = raw[:, :64]
    labels = raw[:, 64].astype(np.int64)
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise PreprocessError(f"{inputs[0]}: pixel values must be in 0..16 and labels in 0..9")
    n = len(raw)
    val_count = int(params["val_count"])
    if not 0 < val_count < n:
        raise PreprocessError(f"parameter val_count={val_count} must be between 1 and {n - 1}")
    mean, std = float(params["mean"]), float(params["std"])
    images = ((pixels / 16.0 - mean) / std).astype(np.float32).reshape(n, 1, 8, 8)
    order = np.random.default_rng(int(params["split_seed"])).permutation(n)
    val_ids = np.sort(order[:val_count]).astype(np.int64)
    train_ids = np.sort(order[val_count:]).astype(np.int64)
    return {
        "train_x": images[train_ids], "train_y": labels[train_ids], "train_ids": train_ids,
        "val_x": images[val_ids], "val_y": labels[val_ids], "val_ids": val_ids,
    }


PREPROCESSORS: dict[str, Preprocessor] = {
    "digits": Preprocessor("digits", 1, _digits_v1, {"val_count": 1024, "split_seed": 0, "mean": 0.0, "std": 1.0}),
}


def preprocess(name: str, version: int, parameters: Mapping[str, Any], inputs: Sequence[str | os.PathLike[str]],
               out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Run a registered preprocessor and place its outputs and manifest in ``out_dir`` atomically."""
    if name not in PREPROCESSORS:
        raise PreprocessError(f"unknown preprocessor {name!r}; known: {', '.join(sorted(PREPROCESSORS))}")
    proc = PREPROCESSORS[name]
    if version != proc.version:
        raise PreprocessError(f"preprocessor {name!r} is at version {proc.version}, the benchmark asks for "
                              f"{version}; update `preprocessing.version` after checking the change")
    unknown = sorted(set(parameters) - set(proc.defaults))
    if unknown:
        raise PreprocessError(f"preprocessor {name!r} has no parameter(s) {unknown}; "
                              f"known: {sorted(proc.defaults)}")
    params = {**proc.defaults, **parameters}
    paths = [Path(p) for p in inputs]
    arrays = proc.run(paths, params)

    out = Path(out_dir)
    with staged_dir(out, replace=True) as staging:
        outputs = {}
        for key in sorted(arrays):
            path = staging / f"{key}.npy"
            np.save(path, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            outputs[path.name] = {"sha256": sha256_file(path), "shape": list(arrays[key].shape),
                                  "dtype": str(arrays[key].dtype)}
        manifest = {
            "version": MANIFEST_VERSION,
            "preprocessor": {"name": name, "version": proc.version, "parameters": params},
            "inputs": {p.name: sha256_file(p) for p in paths},
            "outputs": outputs,
        }
        atomic_write_json(staging / MANIFEST, manifest)
    return manifest


def verify_manifest(out_dir: str | os.PathLike[str]) -> None:
    """Re-hash every output listed in a manifest; raise PreprocessError naming the first file that differs."""
    import json

    out = Path(out_dir)
    manifest = json.loads((out / MANIFEST).read_text())
    for fname, meta in manifest["outputs"].items():
        actual = sha256_file(out / fname)
        if actual != meta["sha256"]:
            raise PreprocessError(f"{out / fname}: sha256 {actual} differs from the manifest's {meta['sha256']}; "
                                  "delete the folder and run the workflow again")


def load_split(out_dir: str | os.PathLike[str], split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, sample ids) of a split written by :func:`preprocess`."""
    out = Path(out_dir)
    return tuple(np.load(out / f"{split}_{k}.npy", allow_pickle=False) for k in ("x", "y", "ids"))  # type: ignore[return-value]
