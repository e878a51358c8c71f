from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pytest

from benchwright.data.preprocess import PreprocessError, load_split, preprocess, verify_manifest

DIGITS = Path(str(importlib.resources.files("sklearn") / "datasets" / "data" / "digits.csv.gz"))
PARAMS = {"val_count": 1024, "split_seed": 20261123, "mean": 0.5, "std": 0.5}


def test_preprocessing_twice_gives_byte_identical_outputs(tmp_path):
    a = preprocess("digits", 1, PARAMS, [DIGITS], tmp_path / "a")
    b = preprocess("digits", 1, PARAMS, [DIGITS], tmp_path / "b")
    assert a == b
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert "manifest.json" in names and len(names) == 7
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_split_is_a_partition_with_every_class(tmp_path):
    preprocess("digits", 1, PARAMS, [DIGITS], tmp_path / "d")
    tx, ty, tids = load_split(tmp_path / "d", "train")
    vx, vy, vids = load_split(tmp_path / "d", "val")
    assert len(vids) == 1024 and len(tids) == 1797 - 1024
    assert set(tids).isdisjoint(vids) and set(tids) | set(vids) == set(range(1797))
    assert set(ty) == set(vy) == set(range(10))
    assert tx.shape == (773, 1, 8, 8) and tx.dtype == np.float32
    assert -1.0 <= vx.min() and vx.max() <= 1.0  # (x/16 - 0.5)/0.5


def test_parameters_change_the_output(tmp_path):
    a = preprocess("digits", 1, PARAMS, [DIGITS], tmp_path / "a")
    b = preprocess("digits", 1, {**PARAMS, "split_seed": 1}, [DIGITS], tmp_path / "b")
    assert a["outputs"]["val_ids.npy"]["sha256"] != b["outputs"]["val_ids.npy"]["sha256"]


def test_manifest_detects_a_changed_byte(tmp_path):
    preprocess("digits", 1, PARAMS, [DIGITS], tmp_path / "d")
    verify_manifest(tmp_path / "d")
    target = tmp_path / "d" / "val_y.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(PreprocessError, match="val_y.npy: sha256"):
        verify_manifest(tmp_path / "d")


def test_replaces_an_existing_output_atomically(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "stale.npy").write_text("old")
    preprocess("digits", 1, PARAMS, [DIGITS], out)
    assert not (out / "stale.npy").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


@pytest.mark.parametrize("name,version,params,match", [
    ("nope", 1, {}, "unknown preprocessor"),
    ("digits", 2, {}, "at version 1"),
    ("digits", 1, {"val_cnt": 5}, "no parameter"),
    ("digits", 1, {"val_count": 5000}, "must be between"),
])
def test_bad_preprocessing_spec(tmp_path, name, version, params, match):
    with pytest.raises(PreprocessError, match=match):
        preprocess(name, version, params, [DIGITS], tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_wrong_input_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(PreprocessError, match="65 comma-separated columns"):
        preprocess("digits", 1, PARAMS, [bad], tmp_path / "d")


def test_outputs_get_ordinary_permissions(tmp_path):
    # Atomic writes go through mkstemp/mkdtemp (owner-only); shared results must stay readable by the group.
    import os
    import stat

    old = os.umask(0o022)
    try:
        preprocess("digits", 1, PARAMS, [DIGITS], tmp_path / "d")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "d" / "manifest.json").stat().st_mode) == 0o644
