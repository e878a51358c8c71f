"""Stand-in fixtures: official ImageNet-val layout, deterministic bytes, runnable ONNX / TorchScript classifiers."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from benchwright import fixtures
from benchwright.errors import BenchwrightError
from benchwright.fixtures import FixtureError, imagenet_folder, onnx_classifier, torch_classifier
from benchwright.fsutil import sha256_file

NAME = re.compile(r"^ILSVRC2012_val_(\d{8})\.JPEG$")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(parent: Path, target: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{target.name}."))


# --- ImageNet-style folder ---------------------------------------------------------------------------------


def test_folder_holds_exactly_the_official_files(tmp_path):
    out = tmp_path / "val"
    info = imagenet_folder(out, count=12, classes=1000, seed=3)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 13)] + ["val_map.txt"])
    lines = (out / "val_map.txt").read_text(encoding="ascii").splitlines()
    assert len(lines) == 12
    labels = []
    for index, line in enumerate(lines, start=1):
        name, label = line.split(" ")
        assert NAME.match(name) and int(NAME.match(name).group(1)) == index
        assert label.isdigit() and 0 <= int(label) < 1000
        labels.append(int(label))
    assert (out / "val_map.txt").read_bytes().endswith(b"\n")
    assert info.labels == tuple(labels)
    assert info.kind == "imagenet_folder" and info.path == out
    assert info.sha256 == sha256_file(out / "val_map.txt")
    assert info.parameters == {"count": 12, "classes": 1000, "size": [64, 48], "seed": 3}
    assert "not real data" in info.note and "never submittable" in info.note
    assert _leftovers(tmp_path, out) == []


def test_labels_respect_a_small_class_count(tmp_path):
    info = imagenet_folder(tmp_path / "val", count=40, classes=3)
    assert set(info.labels) <= {0, 1, 2} and len(set(info.labels)) > 1


def test_images_are_rgb_varied_in_size_orientation_and_content(tmp_path):
    from PIL import Image

    out = tmp_path / "val"
    info = imagenet_folder(out, count=9, size=(64, 48))
    sizes, means = [], []
    for path in sorted(out.glob("*.JPEG")):
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert "exif" not in image.info
            sizes.append(image.size)
            means.append(np.asarray(image, dtype=np.float64).mean(axis=(0, 1)))
    assert len(sizes) == 9 and len(set(sizes)) > 3  # not just one size and its transpose
    assert any(w > h for w, h in sizes) and any(w < h for w, h in sizes)
    assert all(0.6 * 48 <= min(w, h) and max(w, h) <= 1.3 * 64 for w, h in sizes)
    # different labels give visibly different mean colours
    by_label = {label: mean for label, mean in zip(info.labels, means)}
    spread = np.ptp(np.stack(list(by_label.values())), axis=0)
    assert spread.max() > 30, spread


def test_same_arguments_give_identical_bytes(tmp_path):
    a = imagenet_folder(tmp_path / "a", count=8, classes=10, size=(40, 30), seed=5)
    b = imagenet_folder(tmp_path / "b", count=8, classes=10, size=(40, 30), seed=5)
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(files_a) == 9 and files_a == files_b
    assert a.sha256 == b.sha256 and a.labels == b.labels


def test_different_seed_gives_different_data(tmp_path):
    imagenet_folder(tmp_path / "a", count=6, seed=0)
    imagenet_folder(tmp_path / "b", count=6, seed=1)
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a.keys() == files_b.keys()
    assert files_a["val_map.txt"] != files_b["val_map.txt"]
    assert all(files_a[n] != files_b[n] for n in files_a if n.endswith(".JPEG"))
    # with one class every label is 0: the images still differ, by the seed alone
    imagenet_folder(tmp_path / "c", count=6, classes=1, seed=0)
    imagenet_folder(tmp_path / "d", count=6, classes=1, seed=1)
    files_c, files_d = _files(tmp_path / "c"), _files(tmp_path / "d")
    assert files_c["val_map.txt"] == files_d["val_map.txt"]
    assert all(files_c[n] != files_d[n] for n in files_c if n.endswith(".JPEG"))


def test_existing_non_empty_folder_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "val"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(FixtureError, match="not empty") as caught:
        imagenet_folder(out, count=2)
    assert isinstance(caught.value, BenchwrightError) and str(out) in str(caught.value)
    assert _files(out) == {"mine.txt": b"keep me"}
    assert _leftovers(tmp_path, out) == []

    imagenet_folder(out, count=2, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG",
                                                     "val_map.txt"]


def test_existing_empty_folder_is_filled_and_a_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    imagenet_folder(empty, count=1)
    assert sorted(p.name for p in empty.iterdir()) == ["ILSVRC2012_val_00000001.JPEG", "val_map.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(FixtureError, match="not a folder"):
        imagenet_folder(a_file, count=1, overwrite=True)
    assert a_file.read_text() == "x"


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    real, calls = fixtures._jpeg_bytes, []

    def failing(pixels):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(pixels)

    monkeypatch.setattr(fixtures, "_jpeg_bytes", failing)
    out = tmp_path / "val"
    with pytest.raises(RuntimeError, match="killed"):
        imagenet_folder(out, count=5)
    assert len(calls) == 3
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs", [{"count": 0}, {"count": 2, "classes": 0}, {"count": 2, "size": (64,)},
                                    {"count": 2, "size": (0, 48)}, {"count": 2, "seed": -1}, {"count": 1.5}])
def test_bad_arguments_are_refused(tmp_path, kwargs):
    with pytest.raises(FixtureError):
        imagenet_folder(tmp_path / "val", **kwargs)
    assert not (tmp_path / "val").exists()


# --- ONNX classifier ---------------------------------------------------------------------------------------


def test_onnx_classifier_checks_and_runs_with_a_dynamic_batch(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    info = onnx_classifier(out, input_name="images", input_shape=(3, 32, 40), output_name="scores", classes=7, seed=1)
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["images"] and [o.name for o in model.graph.output] == ["scores"]
    in_dims = model.graph.input[0].type.tensor_type.shape.dim
    assert in_dims[0].dim_param == "N" and [d.dim_value for d in in_dims[1:]] == [3, 32, 40]
    assert "benchwright fixture" in model.graph.doc_string and "random weights" in model.doc_string
    assert model.producer_name == "benchwright-fixture"
    assert [n.op_type for n in model.graph.node] == ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]
    assert info.kind == "onnx_classifier" and info.path == out and info.sha256 == sha256_file(out)
    assert info.parameters["opset"] == 17 and "never submittable" in info.note

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["scores"]
    rng = np.random.default_rng(0)
    for batch in (2, 5):
        x = rng.random((batch, 3, 32, 40), dtype=np.float32)
        (y,) = session.run(None, {"images": x})
        assert y.shape == (batch, 7) and y.dtype == np.float32
        assert np.isfinite(y).all() and not np.allclose(y[0], y[1])


def test_onnx_classifier_is_byte_identical_and_seeded(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    a = onnx_classifier(tmp_path / "a.onnx", classes=10)
    b = onnx_classifier(tmp_path / "b.onnx", classes=10)
    c = onnx_classifier(tmp_path / "c.onnx", classes=10, seed=1)
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert a.sha256 == b.sha256 != c.sha256
    assert (tmp_path / "a.onnx").read_bytes() != (tmp_path / "c.onnx").read_bytes()
    weights = {name: {t.name: numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / name)).graph.initializer}
               for name in ("a.onnx", "c.onnx")}
    assert weights["a.onnx"].keys() == weights["c.onnx"].keys()
    assert all(w.dtype == np.float32 for w in weights["a.onnx"].values())
    assert all(not np.array_equal(w, weights["c.onnx"][k]) for k, w in weights["a.onnx"].items())


def test_model_files_are_not_overwritten_unless_asked(tmp_path):
    pytest.importorskip("onnx")
    out = tmp_path / "model.onnx"
    out.write_bytes(b"mine")
    with pytest.raises(FixtureError, match="already exists"):
        onnx_classifier(out, classes=3)
    with pytest.raises(FixtureError, match="already exists"):
        torch_classifier(out, classes=3)
    assert out.read_bytes() == b"mine"
    with pytest.raises(FixtureError, match="must differ"):
        onnx_classifier(tmp_path / "x.onnx", input_name="a", output_name="a")
    onnx_classifier(out, classes=3, overwrite=True)
    assert out.read_bytes() != b"mine" and _leftovers(tmp_path, out) == []


# --- TorchScript classifier --------------------------------------------------------------------------------


def test_torch_classifier_loads_and_matches_the_onnx_one(tmp_path):
    import torch

    out = tmp_path / "model.pt"
    info = torch_classifier(out, input_shape=(3, 32, 40), classes=7, seed=1)
    assert info.kind == "torch_classifier" and info.sha256 == sha256_file(out) and "never submittable" in info.note
    with zipfile.ZipFile(out) as archive:
        extra = [n for n in archive.namelist() if n.endswith("extra/benchwright_fixture.txt")]
        assert extra and b"random weights" in archive.read(extra[0])
    module = torch.jit.load(str(out))
    x = np.random.default_rng(0).random((5, 3, 32, 40), dtype=np.float32)
    outputs = {}
    for batch in (2, 5):
        with torch.no_grad():
            y = module(torch.from_numpy(x[:batch]))
        assert tuple(y.shape) == (batch, 7) and y.dtype == torch.float32
        outputs[batch] = y.numpy()
    assert np.allclose(outputs[2], outputs[5][:2], atol=1e-6)

    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    onnx_classifier(tmp_path / "model.onnx", input_shape=(3, 32, 40), classes=7, seed=1)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (reference,) = session.run(None, {"input": x})
    assert np.allclose(outputs[5], reference, atol=1e-5)


def test_classifier_features_set_the_convolution_width_in_both_formats(tmp_path):
    """``features`` widens the one convolution (more compute per input byte); both formats keep the same
    weights, and a non-positive width is refused."""
    import onnx
    import torch

    ort = pytest.importorskip("onnxruntime")
    info = onnx_classifier(tmp_path / "wide.onnx", input_shape=(3, 16, 16), classes=5, seed=2, features=24)
    weights = {i.name: tuple(i.dims) for i in onnx.load(str(tmp_path / "wide.onnx")).graph.initializer}
    assert weights["conv.weight"] == (24, 3, 3, 3) and weights["fc.weight"] == (5, 24)
    assert info.parameters["features"] == 24
    torch_classifier(tmp_path / "wide.pt", input_shape=(3, 16, 16), classes=5, seed=2, features=24)
    x = np.random.default_rng(3).random((4, 3, 16, 16), dtype=np.float32)
    with torch.no_grad():
        y = torch.jit.load(str(tmp_path / "wide.pt"))(torch.from_numpy(x)).numpy()
    (reference,) = ort.InferenceSession(str(tmp_path / "wide.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})
    assert np.allclose(y, reference, atol=1e-5)
    with pytest.raises(FixtureError, match="features"):
        onnx_classifier(tmp_path / "bad.onnx", features=0)
