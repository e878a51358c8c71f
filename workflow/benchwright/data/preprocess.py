"""Deterministic preprocessing: the same input bytes, code version and parameters give the same output bytes.

A preprocessor turns verified dataset files into arrays (``.npy``, which carry no timestamps) plus a
``manifest.json`` that records the sha256 of every input and output, the preprocessor's name and version and
its parameters. Sample ids are the row numbers of the raw data, so a calibration list or an accuracy log
can name samples independently of how they were split.
"""

from __future__ import annotations

import contextlib
import gzip
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..fsutil import atomic_write_json, sha256_file, staged_dir

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class PreprocessError(Exception):
    """The input does not look like what the preprocessor expects, or its parameters are wrong."""


class Output:
    """Where a preprocessor puts its arrays: whole (``put``) or row by row (``stream``), so a dataset larger than
    memory is written without holding it; every file is hashed once it is complete."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.outputs: dict[str, dict[str, Any]] = {}

    def put(self, key: str, array: np.ndarray) -> None:
        path = self.folder / f"{key}.npy"
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        self._record(path, array.shape, array.dtype)

    @contextlib.contextmanager
    def stream(self, key: str, shape: tuple[int, ...], dtype: Any) -> Iterator[Callable[[np.ndarray], None]]:
        """Yield ``write(rows)``; exactly ``shape[0]`` rows must be written, in order."""
        path = self.folder / f"{key}.npy"
        dtype = np.dtype(dtype)
        written = 0
        with open(path, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                          "fortran_order": False, "shape": tuple(shape)})

            def write(rows: np.ndarray) -> None:
                nonlocal written
                rows = np.ascontiguousarray(rows, dtype=dtype)
                if rows.shape[1:] != tuple(shape[1:]):
                    raise PreprocessError(f"{key}: rows of shape {rows.shape[1:]}, expected {tuple(shape[1:])}")
                handle.write(rows.tobytes())
                written += len(rows)

            yield write
        if written != shape[0]:
            raise PreprocessError(f"{key}: {written} rows written, {shape[0]} declared")
        self._record(path, shape, dtype)

    def _record(self, path: Path, shape: Sequence[int], dtype: Any) -> None:
        self.outputs[path.name] = {"sha256": sha256_file(path), "shape": list(shape), "dtype": str(np.dtype(dtype))}


@dataclass(frozen=True)
class Preprocessor:
    name: str
    version: int
    run: Callable[..., dict[str, np.ndarray] | None]
    """``run(inputs, params)`` -> arrays, or ``run(inputs, params, out)`` writing into an :class:`Output`."""
    defaults: Mapping[str, Any]
    streams: bool = False
    """True: ``run`` takes the Output and writes its arrays itself."""


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


VAL_MAP = "val_map.txt"


def _imagenet_geometry(width: int, height: int, size: int, scale: float) -> tuple[int, int]:
    """MLCommons' resize_with_aspectratio: the short side to size / (scale / 100), the other in proportion."""
    new = int(100.0 * size / scale)
    if height > width:
        return new, int(new * height / width)
    return int(new * width / height), new


def _imagenet_v1(inputs: Sequence[Path], params: Mapping[str, Any], out: Output) -> None:
    """An ImageNet-2012-validation-style folder (JPEGs + val_map.txt) -> NCHW float32 ``val_x``, ``val_y``, ``val_ids``.

    The geometry of MLCommons' resnet50 reference (``pre_process_vgg``): RGB, the short side resized to
    ``image_size / 0.875`` with the aspect ratio kept, a center crop of ``image_size``, the per-channel means
    subtracted (divided by ``std``), channels first. Resizing uses Pillow's box filter (area averaging). Images are
    decoded and written one at a time, so memory stays at one image whatever the dataset's size.
    """
    from PIL import Image

    if len(inputs) != 1 or not inputs[0].is_dir():
        raise PreprocessError("imagenet expects one input: the dataset folder with val_map.txt")
    folder = inputs[0]
    val_map = folder / VAL_MAP
    if not val_map.is_file():
        raise PreprocessError(f"{folder}: {VAL_MAP} is missing; an ImageNet validation folder holds the images and "
                              f"{VAL_MAP} (`<file name> <label>` per line)")
    entries = []
    for number, line in enumerate(val_map.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise PreprocessError(f"{val_map}, line {number}: expected `<file name> <label>`, got {line!r}")
        entries.append((parts[0], int(parts[1])))
    count = int(params["count"]) or len(entries)
    if not 0 < count <= len(entries):
        raise PreprocessError(f"parameter count={count} must be between 1 and the {len(entries)} images of {VAL_MAP}")
    entries = entries[:count]
    missing = [name for name, _ in entries if not (folder / name).is_file()]
    if missing:
        raise PreprocessError(f"{folder}: {len(missing)} image(s) named in {VAL_MAP} are missing: "
                              f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    size, scale = int(params["image_size"]), float(params["scale"])
    mean = np.array([float(v) for v in str(params["mean"]).split()], dtype=np.float32).reshape(3, 1, 1)
    std = np.array([float(v) for v in str(params["std"]).split()], dtype=np.float32).reshape(3, 1, 1)
    with out.stream("val_x", (count, 3, size, size), np.float32) as write:
        for name, _ in entries:
            with Image.open(folder / name) as img:
                rgb = img.convert("RGB")
                w, h = _imagenet_geometry(rgb.width, rgb.height, size, scale)
                rgb = rgb.resize((w, h), Image.Resampling.BOX)
            pixels = np.asarray(rgb, dtype=np.float32)
            top, left = int((h - size) / 2), int((w - size) / 2)
            crop = pixels[top:top + size, left:left + size].transpose(2, 0, 1)
            write(((crop - mean) / std)[None])
    out.put("val_y", np.array([label for _, label in entries], dtype=np.int64))
    out.put("val_ids", np.arange(count, dtype=np.int64))


PREPROCESSORS: dict[str, Preprocessor] = {
    "digits": Preprocessor("digits", 1, _digits_v1, {"val_count": 1024, "split_seed": 0, "mean": 0.0, "std": 1.0}),
    "imagenet": Preprocessor("imagenet", 1, _imagenet_v1, {"image_size": 224, "scale": 87.5, "count": 0,
                                                           "mean": "123.68 116.78 103.94", "std": "1 1 1"},
                             streams=True),
}


def preprocess(name: str, version: int, parameters: Mapping[str, Any], inputs: Sequence[str | os.PathLike[str]],
               out_dir: str | os.PathLike[str], *, input_hashes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run a registered preprocessor and place its outputs and manifest in ``out_dir`` atomically.

    ``input_hashes``: what the manifest records as the inputs (a folder dataset: its verified manifest's hash);
    by default the sha256 of every input file."""
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
    hashes = dict(input_hashes) if input_hashes is not None else {p.name: sha256_file(p) for p in paths}

    out = Path(out_dir)
    with staged_dir(out, replace=True) as staging:
        output = Output(staging)
        if proc.streams:
            proc.run(paths, params, output)
        else:
            arrays = proc.run(paths, params)
            for key in sorted(arrays):
                output.put(key, arrays[key])
        manifest = {
            "version": MANIFEST_VERSION,
            "preprocessor": {"name": name, "version": proc.version, "parameters": params},
            "inputs": hashes,
            "outputs": dict(sorted(output.outputs.items())),
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
