"""Tasks, backends, devices and the streaming sample library: the workload path every benchmark runs through.

The CUDA path is tested here without a GPU: which device each SKU, SUT worker and training rank gets, which
onnxruntime providers a run asks for, and where tensors are placed."""

from __future__ import annotations


import numpy as np
import pytest

from benchwright.backends import ModelLoadError, ModelSpec, load_runner
from benchwright.config import load_system_file
from benchwright.data.store import ArrayFile, RaggedFile, Split, StoreError
from benchwright.devices import (DeviceError, ort_providers, place, precision_problem, require_device, sku_devices,
                                 training_device, visible_devices, worker_devices)
from benchwright.tasks import UnknownTask, get_task
from tests.conftest import REPO

TASK = get_task("image_classification")


# --- tasks ---------------------------------------------------------------------------------------------------------

def test_image_classification_responds_with_the_class_of_scores_or_of_an_argmax_output():
    scores = np.array([[0.1, 0.9, 0.0], [2.0, -1.0, 1.0]], dtype=np.float32)
    assert TASK.respond([scores]).tolist() == [1, 0]
    assert TASK.respond([scores]).dtype == np.dtype("<i4")
    assert TASK.respond([np.array([[4], [7]], dtype=np.int64)]).tolist() == [4, 7]  # an ArgMax output


def test_image_classification_scores_the_accuracy_log_against_the_labels(tmp_path):
    np.save(tmp_path / "val_y.npy", np.array([1, 2, 3, 4], dtype=np.int64))
    entries = [{"seq_id": i, "qsl_idx": i, "data": np.array([p], dtype="<i4").tobytes().hex()}
               for i, p in enumerate([1, 2, 0, 4])]
    score = TASK.score(entries, tmp_path, "top1")
    assert score.value == 75.0 and score.total == 4
    assert score.text == "accuracy=75.000%, good=3, total=4"


def test_unknown_task_names_the_implemented_ones():
    with pytest.raises(UnknownTask, match="implemented: image_classification"):
        get_task("speech_recognition")


# --- devices -------------------------------------------------------------------------------------------------------

def test_every_sku_gets_its_devices():
    assert sku_devices(load_system_file(REPO / "config/systems/cpu-host.yaml")) == ("cpu",)
    h100 = load_system_file(REPO / "config/systems/h100-sxm-80gb-x8.yaml")
    assert sku_devices(h100) == tuple(f"cuda:{i}" for i in range(8))
    assert visible_devices(h100) is None
    mig = h100.model_copy(update={"accelerators": h100.accelerators.model_copy(
        update={"mig_instances": ("MIG-5c0c6e4c-9a1d-5b3e-8e1f-0a2b3c4d5e6f", "MIG-6d1d7f5d-0b2e-6c4f-9f20-1b3c4d5e6f70")})})
    assert sku_devices(mig) == ("cuda:0", "cuda:1")
    assert visible_devices(mig).startswith("MIG-5c0c6e4c") and "," in visible_devices(mig)


def test_one_sut_worker_per_accelerator_and_shared_model_on_the_cpu():
    assert worker_devices(("cpu",), 2) == ["cpu", "cpu"]
    assert worker_devices(tuple(f"cuda:{i}" for i in range(4)), None) == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
    assert worker_devices(("cuda:0", "cuda:1"), 2) == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]


def test_training_ranks_use_their_own_gpu_with_nccl():
    assert [training_device("nccl", r) for r in range(3)] == ["cuda:0", "cuda:1", "cuda:2"]
    assert training_device("gloo", 1) == "cpu"


def test_precisions_per_device():
    assert precision_problem("cpu", "fp16") and "CPU" in precision_problem("cpu", "fp16")
    assert precision_problem("cuda:0", "int8")
    assert precision_problem("cuda:3", "bf16") is None and precision_problem("cpu", "int8") is None


def test_onnxruntime_providers_from_the_sku():
    assert ort_providers("auto", "cpu") == ["CPUExecutionProvider"]
    assert ort_providers("auto", "cuda:3") == [("CUDAExecutionProvider", {"device_id": 3})]
    trt = ort_providers("tensorrt", "cuda:1", "fp16")
    assert [p[0] for p in trt] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    assert trt[0][1]["device_id"] == 1 and trt[0][1]["trt_fp16_enable"] is True
    assert "CPUExecutionProvider" not in [p[0] for p in trt]  # a CPU fallback only where the campaign allows it
    with pytest.raises(DeviceError, match="needs a CUDA device"):
        ort_providers("cuda", "cpu")
    with pytest.raises(DeviceError, match="cannot run on cuda:0"):
        ort_providers("cpu", "cuda:0")


def test_no_cpu_fallback_on_an_accelerator_unless_allowed():
    pytest.importorskip("onnxruntime")
    from benchwright.backends.ort import session_options

    strict = session_options(1, 1, on_accelerator=True, allow_cpu_fallback=False)
    assert strict.get_session_config_entry("session.disable_cpu_ep_fallback") == "1"
    for lenient in (session_options(1, 1, on_accelerator=True, allow_cpu_fallback=True),
                    session_options(2, 1, on_accelerator=False, allow_cpu_fallback=False)):
        with pytest.raises(RuntimeError, match="does not have configuration"):  # never set: ORT's default
            lenient.get_session_config_entry("session.disable_cpu_ep_fallback")


class FakeTensor:
    def __init__(self):
        self.calls = []

    def to(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self


def test_batches_are_placed_on_their_worker_device():
    t = FakeTensor()
    assert place(t, "cpu") is t and t.calls == []
    place(t, "cuda:2")
    assert t.calls == [(("cuda:2",), {"non_blocking": True})]


def test_a_cuda_sku_on_a_machine_without_cuda_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError) as info:
        require_device("cuda:0", sku="h100-sxm-80gb-x8")
    text = str(info.value)
    assert "h100-sxm-80gb-x8" in text and "cuda:0" in text and "no usable CUDA device" in text and "fix:" in text
    require_device("cpu")  # the CPU is always there


# --- backends ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from benchwright.fixtures import onnx_classifier

    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    onnx_classifier(path, input_name="images", input_shape=(3, 16, 16), output_name="scores", classes=5)
    return path


def _ort_spec(**update):
    return ModelSpec(**{"task": "image_classification", "backend": "onnxruntime", "format": "onnx",
                        "inputs": {"x": "images"}, "outputs": {"logits": "scores"}, **update})


def test_onnxruntime_backend_runs_the_model_with_the_tuned_threads(onnx_model):
    x = np.random.default_rng(0).standard_normal((6, 3, 16, 16)).astype(np.float32)
    runner = load_runner(_ort_spec(intra_op_threads=1), TASK, onnx_model, "fp32", "cpu", example=[x[:1]],
                         intra_threads=2)
    out = runner([x])
    assert out[0].shape == (6, 5) and TASK.respond(out).shape == (6,)
    facts = runner.describe()
    assert facts["providers"] == ["CPUExecutionProvider"] and facts["intra_op_threads"] == 1


def test_wrong_onnx_input_names_list_the_model_inputs_and_outputs(onnx_model):
    with pytest.raises(ModelLoadError) as info:
        load_runner(_ort_spec(inputs={"x": "input_tensor:0"}), TASK, onnx_model, "fp32", "cpu", example=[],
                    intra_threads=1)
    text = str(info.value)
    assert "input_tensor:0" in text and "images float32 ['N', 3, 16, 16]" in text
    assert "scores float32 ['N', 5]" in text and "model.inputs" in text


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    for spec in (_ort_spec(), ModelSpec(task="image_classification", architecture="digits-resnet")):
        with pytest.raises(ModelLoadError, match="does not exist"):
            load_runner(spec, TASK, tmp_path / "nope", "fp32", "cpu", example=[np.zeros((1, 1, 8, 8), np.float32)],
                        intra_threads=1)


def test_a_precision_the_device_cannot_run_is_refused_at_load(onnx_model, tmp_path):
    with pytest.raises(ModelLoadError, match="fp16"):
        load_runner(_ort_spec(), TASK, onnx_model, "fp16", "cpu", example=[], intra_threads=1)
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="fp16 does not run on the CPU"):
        load_runner(ModelSpec(task="image_classification", architecture="digits-resnet"), TASK, weights, "fp16",
                    "cpu", example=[np.zeros((1, 1, 8, 8), np.float32)], intra_threads=1)


def test_torchscript_and_state_dict_models_give_the_same_answers(tmp_path):
    import torch

    from benchwright.models import build

    net = build("digits-resnet", {"width": 4, "blocks": 1, "classes": 10}, seed=3).eval()
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    x = np.random.default_rng(1).standard_normal((5, 1, 8, 8)).astype(np.float32)
    torch.jit.save(torch.jit.trace(net, torch.from_numpy(x[:1])), str(tmp_path / "model.pt"))
    a = load_runner(ModelSpec(task="image_classification", architecture="digits-resnet",
                              parameters={"width": 4, "blocks": 1, "classes": 10}), TASK, tmp_path / "weights.pt",
                    "fp32", "cpu", example=[x[:1]], intra_threads=1)
    b = load_runner(ModelSpec(task="image_classification", format="torchscript"), TASK, tmp_path / "model.pt",
                    "fp32", "cpu", example=[x[:1]], intra_threads=1)
    assert np.allclose(a([x])[0], b([x])[0], atol=1e-5)


# --- streaming sample library ---------------------------------------------------------------------------------------

def test_split_reads_exactly_the_requested_rows(tmp_path):
    x = np.arange(20 * 3, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "val_x.npy", x)
    split = Split(tmp_path, "val", ["x"])
    assert len(split) == 20
    idx = [19, 0, 1, 2, 7, 7, 3]
    assert np.array_equal(split.rows(idx)[0], x[idx])
    with pytest.raises(IndexError):
        split.rows([20])


def test_a_truncated_array_is_a_clear_error(tmp_path):
    np.save(tmp_path / "val_x.npy", np.zeros((10, 100), np.float32))
    raw = (tmp_path / "val_x.npy").read_bytes()
    (tmp_path / "val_x.npy").write_bytes(raw[:-800])
    with pytest.raises(StoreError, match="truncated"):
        ArrayFile(tmp_path / "val_x.npy").rows([9])


def test_variable_shape_arrays_are_stored_flat_with_offsets(tmp_path):
    seqs = [np.arange(n, dtype=np.int64) for n in (3, 1, 4)]
    np.save(tmp_path / "val_tokens.npy", np.concatenate(seqs))
    np.save(tmp_path / "val_tokens.offsets.npy", np.array([0, 3, 4, 8], dtype=np.int64))
    ragged = Split(tmp_path, "val", ["tokens"]).arrays["tokens"]
    assert isinstance(ragged, RaggedFile) and len(ragged) == 3
    assert [r.tolist() for r in ragged.rows([2, 0])] == [[0, 1, 2, 3], [0, 1, 2]]


def test_the_sample_library_holds_only_the_loaded_samples(tmp_path):
    from benchwright.harness.sut import SampleLibrary

    rows, shape = 4000, (3, 32, 32)
    out = np.lib.format.open_memmap(tmp_path / "val_x.npy", mode="w+", dtype=np.float32, shape=(rows, *shape))
    out[:] = np.arange(rows, dtype=np.float32)[:, None, None, None]
    del out
    library = SampleLibrary(Split(tmp_path, "val", ["x"]), 256)
    try:
        wanted = np.random.default_rng(0).choice(rows, 256, replace=False)
        library.load(wanted.tolist())
        assert library.resident_bytes == 256 * int(np.prod(shape)) * 4
        batch = library.batch(wanted[:5])[0]
        assert batch[:, 0, 0, 0].tolist() == wanted[:5].astype(np.float32).tolist()
        library.unload(wanted.tolist())
        assert library.resident_bytes == 0
    finally:
        library.close()


# --- bad input in the campaign: file, field and fix, before any job runs ------------------------------------------

def _problems(config_tree):
    from benchwright.errors import CampaignError

    with pytest.raises(CampaignError) as info:
        config_tree.load()
    return info.value.problems


def test_a_precision_the_sku_device_cannot_run_is_rejected(config_tree):
    config_tree.edit("systems", "cpu-host", lambda d: d.update(precisions=["fp32", "fp16", "int8"]))
    config_tree.edit("benchmarks", "digits-cnn", lambda d: d["inference"].update(precisions=["fp32", "fp16", "int8"]))
    config_tree.campaign["benchmarks"]["digits-cnn"]["precisions"] = ["fp16"]
    found = [p for p in _problems(config_tree) if p.field == "benchmarks.digits-cnn.precisions"]
    assert found and "fp16 does not run on the CPU" in found[0].message and "cpu-host" in found[0].message
    assert found[0].fix


def _folder_benchmark(config_tree, tmp_path, **dataset):
    def change(d):
        d["dataset"] = {"name": "folder-data", "licence": "test", **dataset}
    config_tree.edit("benchmarks", "digits-cnn", change)


def test_a_folder_dataset_with_an_unset_variable_names_it(config_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("BW_NO_SUCH_VAR", raising=False)
    (tmp_path / "config/benchmarks/data.sha256").write_text(f"{'0' * 64}  a.bin\n")
    from benchwright.fsutil import sha256_file

    _folder_benchmark(config_tree, tmp_path, path="${BW_NO_SUCH_VAR}/val", manifest="data.sha256",
                      manifest_sha256=sha256_file(tmp_path / "config/benchmarks/data.sha256"))
    found = [p for p in _problems(config_tree) if p.field == "dataset.path"]
    assert found and "BW_NO_SUCH_VAR" in found[0].message and "export BW_NO_SUCH_VAR" in found[0].fix


def test_a_folder_dataset_error_names_the_field_it_is_about(config_tree, tmp_path, monkeypatch):
    """The field comes from the error (DatasetFolderError.field), not from words of its message: an empty variable
    is `dataset.path`, a manifest in a folder named `pins` with a bad line is `dataset.manifest`."""
    monkeypatch.setenv("BW_EMPTY_VAR", "")
    (tmp_path / "config/benchmarks/pins").mkdir()
    (tmp_path / "config/benchmarks/pins/data.sha256").write_text("not a manifest line\n")
    from benchwright.fsutil import sha256_file

    digest = sha256_file(tmp_path / "config/benchmarks/pins/data.sha256")
    _folder_benchmark(config_tree, tmp_path, path="${BW_EMPTY_VAR}/val", manifest="pins/data.sha256",
                      manifest_sha256=digest)
    found = {p.field: p for p in _problems(config_tree) if p.field.startswith("dataset.")}
    assert "set but empty" in found["dataset.path"].message and "dataset.manifest" not in found
    (tmp_path / "data").mkdir()
    _folder_benchmark(config_tree, tmp_path, path=str(tmp_path / "data"), manifest="pins/data.sha256",
                      manifest_sha256=digest)
    found = {p.field: p for p in _problems(config_tree) if p.field.startswith("dataset.")}
    assert list(found) == ["dataset.manifest"] and "line 1" in found["dataset.manifest"].message


def test_a_folder_dataset_whose_manifest_hash_differs_is_rejected(config_tree, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "config/benchmarks/data.sha256").write_text(f"{'0' * 64}  a.bin\n")
    _folder_benchmark(config_tree, tmp_path, path=str(tmp_path / "data"), manifest="data.sha256",
                      manifest_sha256="1" * 64)
    found = [p for p in _problems(config_tree) if p.field == "dataset.manifest_sha256"]
    assert found and "1" * 64 in found[0].message and "benchwright dataset manifest" in found[0].fix


def test_a_missing_local_model_file_is_rejected(config_tree, tmp_path):
    def change(d):
        d["model"] = {"backend": "onnxruntime", "format": "onnx",
                      "weights": {"path": str(tmp_path / "missing.onnx"), "sha256": "2" * 64}}
        d.pop("training")
        d.pop("calibration")
        d["inference"]["precisions"] = ["fp32"]
    config_tree.edit("benchmarks", "digits-cnn", change)
    config_tree.campaign["benchmarks"]["digits-cnn"].update(precisions=["fp32"], training=False)
    found = [p for p in _problems(config_tree) if p.field == "model.weights.path"]
    assert found and "missing.onnx" in found[0].message and "does not exist" in found[0].message


def test_a_model_file_with_another_hash_is_quarantined_and_nothing_is_written(tmp_path):
    from benchwright.cli import main
    from benchwright.fixtures import onnx_classifier

    model = tmp_path / "m.onnx"
    onnx_classifier(model, input_shape=(3, 8, 8), classes=2)
    out = tmp_path / "results/models/b/fp32/model.onnx"
    code = main(["fetch", "--url", model.resolve().as_uri(), "--sha256", "3" * 64, "--out", str(out),
                 "--quarantine", str(tmp_path / "q")])
    assert code == 1 and not out.exists() and any((tmp_path / "q").iterdir())
