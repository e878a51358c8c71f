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

    def put_file(self, name: str, data: bytes) -> None:
        """A file beside the arrays that is not an array (a JSON side table, a copied vocabulary), hashed like them;
        the manifest gives its size as ``shape`` [bytes] and ``dtype`` "bytes"."""
        path = self.folder / name
        path.write_bytes(data)
        self.outputs[path.name] = {"sha256": sha256_file(path), "shape": [len(data)], "dtype": "bytes"}

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
    expects: Callable[[Path, Mapping[str, Any]], list[str]] | None = None
    """For a dataset folder: ``expects(folder, params)`` -> the relative paths the preprocessor reads (raises
    PreprocessError when an index file it needs to know them is missing); ``benchwright dataset check`` uses it."""


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


def read_val_map(folder: Path) -> list[tuple[str, int]]:
    """``val_map.txt`` of an ImageNet validation folder as (file name, label) in file order, as MLCommons'
    imagenet.py reads it: one ``<file name> <label>`` per line, split on whitespace, the label an int (0..999 in
    the official file). Blank lines are skipped; any other malformed line is an error naming it."""
    val_map = folder / VAL_MAP
    if not val_map.is_file():
        raise PreprocessError(f"{folder}: {VAL_MAP} is missing; an ImageNet validation folder holds the images and "
                              f"{VAL_MAP} (`<file name> <label>` per line, the labels 0..999 of MLCommons' file); "
                              f"fix: put {VAL_MAP} into {folder}")
    entries = []
    for number, line in enumerate(val_map.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise PreprocessError(f"{val_map}, line {number}: expected `<file name> <label>`, got {line!r}")
        entries.append((parts[0], int(parts[1])))
    if not entries:
        raise PreprocessError(f"{val_map} lists no images; fix: restore the file")
    return entries


def imagenet_entries(folder: Path, params: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The (file name, label) pairs the ``imagenet`` preprocessor reads: the first ``count`` lines of
    ``val_map.txt`` (all of them when ``count`` is 0), as the reference's ``--count``."""
    entries = read_val_map(folder)
    count = int(params.get("count", 0)) or len(entries)
    if not 0 < count <= len(entries):
        raise PreprocessError(f"parameter count={count} must be between 1 and the {len(entries)} images of {VAL_MAP}")
    return entries[:count]


def _resnet50_image(path: Path, size: int, scale: float, mean: np.ndarray) -> np.ndarray:
    """One image as MLCommons' resnet50 reference makes it (imagenet.py + dataset.py ``pre_process_vgg`` with
    ``need_transpose`` for NCHW): cv2.imread (BGR) -> RGB; resize_with_aspectratio with INTER_AREA (short side to
    ``int(100 * size / scale)``, the other side ``int(new * long / short)``); center_crop; float32; minus the
    per-channel means; HWC -> CHW."""
    import cv2

    img = cv2.imread(str(path))
    if img is None:
        raise PreprocessError(f"{path}: OpenCV cannot decode this image; fix: restore the file from the dataset")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    height, width, _ = img.shape
    new_height = int(100.0 * size / scale)
    new_width = int(100.0 * size / scale)
    if height > width:
        w, h = new_width, int(new_height * height / width)
    else:
        h, w = new_height, int(new_width * width / height)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    left, right = int((w - size) / 2), int((w + size) / 2)
    top, bottom = int((h - size) / 2), int((h + size) / 2)
    img = np.asarray(img[top:bottom, left:right], dtype=np.float32)
    img -= mean
    return img.transpose([2, 0, 1])


def _imagenet_expects(folder: Path, params: Mapping[str, Any]) -> list[str]:
    """val_map.txt, then every image it names (its first ``count``)."""
    return [VAL_MAP, *(name for name, _ in imagenet_entries(folder, params))]


def _imagenet_v2(inputs: Sequence[Path], params: Mapping[str, Any], out: Output) -> None:
    """An ImageNet-2012-validation-style folder (JPEGs + val_map.txt) -> NCHW float32 ``val_x``, ``val_y``, ``val_ids``.

    Exactly MLCommons' resnet50 reference preprocessing (see :func:`_resnet50_image`), on the images of
    ``val_map.txt`` in its order, with its labels as they are (0..999); sample i is line i. Unlike the reference,
    which skips an image it cannot find, a missing image is an error. Images are decoded and written one at a
    time, so memory stays at one image whatever the dataset's size.

    Version 1 resized with Pillow's box filter (an approximation); version 2 uses OpenCV as the reference does.
    """
    if len(inputs) != 1 or not inputs[0].is_dir():
        raise PreprocessError("imagenet expects one input: the dataset folder with val_map.txt")
    folder = inputs[0]
    entries = imagenet_entries(folder, params)
    missing = [name for name, _ in entries if not (folder / name).is_file()]
    if missing:
        raise PreprocessError(f"{folder}: {len(missing)} image(s) named in {VAL_MAP} are missing: "
                              f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}; fix: restore them "
                              f"(`benchwright dataset check BENCHMARK` lists every missing file)")
    size, scale = int(params["image_size"]), float(params["scale"])
    if size < 1 or not 0 < scale <= 100:
        raise PreprocessError(f"parameters image_size={size} and scale={scale}: image_size must be positive and "
                              "scale (the crop's share of the resized short side, in percent) in (0, 100]")
    mean = np.array([float(v) for v in str(params["mean"]).split()], dtype=np.float32)
    if mean.shape != (3,):
        raise PreprocessError(f"parameter mean={params['mean']!r} must be three numbers (R G B)")
    with out.stream("val_x", (len(entries), 3, size, size), np.float32) as write:
        for name, _ in entries:
            write(_resnet50_image(folder / name, size, scale, mean)[None])
    out.put("val_y", np.array([label for _, label in entries], dtype=np.int64))
    out.put("val_ids", np.arange(len(entries), dtype=np.int64))


def _squad_v1(inputs: Sequence[Path], params: Mapping[str, Any], out: Output) -> None:
    """SQuAD v1.1 + vocab.txt -> MLCommons' bert features (benchwright.data.squad)."""
    from .squad import squad_v1

    squad_v1(inputs, params, out)


def _squad_expects(folder: Path, params: Mapping[str, Any]) -> list[str]:
    """The folder's SQuAD JSON and vocab.txt (dev-v1.1.json and vocab.txt where the folder has none)."""
    from .squad import expected_files

    return expected_files(folder)


def _pydoc_topics_v1(inputs: Sequence[Path], params: Mapping[str, Any], out: Output) -> None:
    """CPython's pydoc_data/topics.py -> the default language model's tokenizer and splits
    (benchwright.data.textcorpus)."""
    from .textcorpus import pydoc_topics_v1

    pydoc_topics_v1(inputs, params, out)


def _cnn_dailymail_v1(inputs: Sequence[Path], params: Mapping[str, Any], out: Output) -> None:
    """MLCommons' cnn_eval.json + the model's tokenizer.json -> llama3.1-8b's prompts and references
    (benchwright.data.cnn)."""
    from .cnn import cnn_dailymail_v1

    cnn_dailymail_v1(inputs, params, out)


def _cnn_expects(folder: Path, params: Mapping[str, Any]) -> list[str]:
    from .cnn import DATASET_FILE, TOKENIZER_FILE

    return [DATASET_FILE, TOKENIZER_FILE]


PREPROCESSORS: dict[str, Preprocessor] = {
    "digits": Preprocessor("digits", 1, _digits_v1, {"val_count": 1024, "split_seed": 0, "mean": 0.0, "std": 1.0}),
    "imagenet": Preprocessor("imagenet", 2, _imagenet_v2, {"image_size": 224, "scale": 87.5, "count": 0,
                                                           "mean": "123.68 116.78 103.94"},
                             streams=True, expects=_imagenet_expects),
    "squad": Preprocessor("squad", 1, _squad_v1, {"max_seq_length": 384, "doc_stride": 128, "max_query_length": 64,
                                                  "do_lower_case": True}, streams=True, expects=_squad_expects),
    "pydoc-topics": Preprocessor("pydoc-topics", 1, _pydoc_topics_v1,
                                 {"vocab_size": 2048, "val_topics": 8, "split_seed": 0, "prompt_tokens": 64,
                                  "continuation_tokens": 32, "val_count": 0}, streams=True),
    "cnn-dailymail": Preprocessor("cnn-dailymail", 1, _cnn_dailymail_v1, {"count": 0}, streams=True,
                                  expects=_cnn_expects),
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
