"""The accuracy script on real LoadGen accuracy logs, from SUTs whose answers (and so accuracy) we control."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import mlperf_loadgen as lg

from ..loadgen_helpers import start_test
import numpy as np
import pytest

from benchwright.fsutil import sha256_file
from benchwright.harness.accuracy import (
    ACCURACY_LOG,
    TRUNCATION_MARK,
    AccuracyBelowTarget,
    AccuracyResult,
    check_accuracy,
    format_accuracy,
    read_accuracy_log,
    top1_accuracy,
    truncate_accuracy_log,
)
from benchwright.harness.logs import LogError

SAMPLES = 1024
LABELS = ((np.arange(SAMPLES) * 7 + 3) % 1000).astype(np.int32)


class AnsweringSUT:
    """Answers each sample with the int32 ``answer(qsl_idx)`` returns."""

    def __init__(self) -> None:
        self.answer: Callable[[int], int] = lambda index: int(LABELS[index])
        self.qsl = lg.ConstructQSL(SAMPLES, SAMPLES, lambda s: None, lambda s: None)
        self.sut = lg.ConstructSUT(self._issue, lambda: None)

    def _issue(self, queries) -> None:
        data = np.array([self.answer(q.index) for q in queries], dtype="<i4")
        base = data.ctypes.data
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, base + 4 * i, 4) for i, q in enumerate(queries)])

    def run(self, outdir: Path, answer: Callable[[int], int], mode: str, **settings) -> Path:
        self.answer = answer
        ts = lg.TestSettings()
        ts.scenario = lg.TestScenario.SingleStream
        ts.mode = getattr(lg.TestMode, mode)
        for name, value in settings.items():
            setattr(ts, name, value)
        return start_test(self.sut, self.qsl, ts, outdir) / ACCURACY_LOG

    def close(self) -> None:
        lg.DestroySUT(self.sut)
        lg.DestroyQSL(self.qsl)


def _first_right_then_wrong() -> Callable[[int], int]:
    seen: set[int] = set()

    def answer(index: int) -> int:
        first = index not in seen
        seen.add(index)
        return int(LABELS[index]) if first else int(LABELS[index]) + 1

    return answer


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("accuracy")
    sut = AnsweringSUT()
    try:
        yield {
            # Right for even qsl_idx, wrong for odd: exactly 50%.
            "half": sut.run(root / "half", lambda i: int(LABELS[i]) + (i % 2), "AccuracyOnly"),
            # A performance run that logs every response: samples repeat. Each is right the first time only.
            "repeats": sut.run(root / "repeats", _first_right_then_wrong(), "PerformanceOnly",
                               min_duration_ms=50, min_query_count=2000, single_stream_expected_latency_ns=10_000,
                               accuracy_log_probability=1.0, accuracy_log_rng_seed=1),
            # A performance run without accuracy logging: LoadGen writes an empty list.
            "empty": sut.run(root / "empty", lambda i: 0, "PerformanceOnly", min_duration_ms=10, min_query_count=10),
        }
    finally:
        sut.close()


def test_read_accuracy_log_reads_what_loadgen_writes(logs):
    entries = read_accuracy_log(logs["half"])
    assert len(entries) == SAMPLES
    assert sorted(e["qsl_idx"] for e in entries) == list(range(SAMPLES))
    assert all(set(e) == {"seq_id", "qsl_idx", "data"} and len(e["data"]) == 8 for e in entries)
    assert read_accuracy_log(logs["empty"]) == []
    assert logs["empty"].read_bytes() == b"[\n]\n"


def test_top1_accuracy_half_right(logs):
    result = top1_accuracy(read_accuracy_log(logs["half"]), LABELS, dtype="int32")
    assert (result.good, result.total) == (SAMPLES // 2, SAMPLES)
    assert result.accuracy == 50.0


def test_repeated_samples_count_once_with_their_first_answer(logs):
    entries = read_accuracy_log(logs["repeats"])
    distinct = {e["qsl_idx"] for e in entries}
    assert len(entries) > len(distinct)  # LoadGen did log samples more than once
    result = top1_accuracy(entries, LABELS)
    assert (result.good, result.total, result.accuracy) == (len(distinct), len(distinct), 100.0)
    # Counting every entry would have scored the repeats, which were all wrong.
    per_entry = sum(int.from_bytes(bytes.fromhex(e["data"]), "little") == LABELS[e["qsl_idx"]] for e in entries)
    assert per_entry == len(distinct) < len(entries)


def test_empty_log_scores_zero_over_zero(logs):
    assert top1_accuracy(read_accuracy_log(logs["empty"]), LABELS) == AccuracyResult(accuracy=0.0, good=0, total=0)


def test_wrong_dtype_or_labels_are_reported(logs):
    entries = read_accuracy_log(logs["half"])
    with pytest.raises(ValueError, match="holds 4 bytes; one int64 prediction is 8"):
        top1_accuracy(entries, LABELS, dtype="int64")
    with pytest.raises(ValueError, match="outside the 10 labels"):
        top1_accuracy(entries, LABELS[:10])
    with pytest.raises(ValueError, match="integer"):
        top1_accuracy(entries, LABELS, dtype="float32")


def test_format_accuracy_is_the_official_form(logs):
    result = top1_accuracy(read_accuracy_log(logs["half"]), LABELS)
    text = format_accuracy(result, logs["half"])
    lines = text.splitlines()
    assert lines[0] == "accuracy=50.000%, good=512, total=1024"
    assert lines[-1] == f"hash={sha256_file(logs['half'])}"
    assert AccuracyResult(accuracy=98.6123, good=1010, total=1024).line() == "accuracy=98.612%, good=1010, total=1024"


def test_check_accuracy_passes_at_the_target(logs):
    result = top1_accuracy(read_accuracy_log(logs["half"]), LABELS)
    check_accuracy(result, benchmark="resnet", reference=50.0, target_fraction=1.0)
    check_accuracy(result, benchmark="resnet", reference=50.5, target_fraction=0.99)


def test_check_accuracy_below_target_says_what_and_why(logs):
    result = top1_accuracy(read_accuracy_log(logs["half"]), LABELS)
    with pytest.raises(AccuracyBelowTarget) as info:
        check_accuracy(result, benchmark="resnet", reference=76.46, target_fraction=0.99, log_path=logs["half"])
    message = str(info.value)
    for part in ("resnet", "50.000%", "512/1024", "target 75.695%", "reference 76.460% x 0.99",
                 "quantization lost accuracy", "calibration", str(logs["half"])):
        assert part in message, part
    err = info.value
    assert (err.benchmark, err.accuracy, err.reference, err.target_fraction) == ("resnet", 50.0, 76.46, 0.99)
    assert err.target == pytest.approx(75.6954)
    with pytest.raises(ValueError):
        check_accuracy(result, benchmark="resnet", reference=76.46, target_fraction=1.5)


def test_truncation_keeps_head_and_tail_under_10_kib(logs, tmp_path):
    src = logs["half"]
    data = src.read_bytes()
    assert len(data) > 8192
    digest = sha256_file(src)
    dst = tmp_path / "bundle" / ACCURACY_LOG
    assert truncate_accuracy_log(src, dst) is True
    out = dst.read_bytes()
    assert len(out) == 2 * 4096 + len(TRUNCATION_MARK) < 10 * 1024
    assert out[:4096] == data[:4096] and out[-4096:] == data[-4096:]
    assert sha256_file(src) == digest  # the source is untouched; accuracy.txt hashes it
    assert [p.name for p in dst.parent.iterdir()] == [ACCURACY_LOG]  # no temporary file left behind


def test_small_log_is_copied_whole(logs, tmp_path):
    for name in ("empty", "half"):
        dst = tmp_path / name / ACCURACY_LOG
        assert truncate_accuracy_log(logs[name], dst, keep=64 * 1024) is False
        assert dst.read_bytes() == logs[name].read_bytes()


# --- accuracy logs older LoadGens or killed runs leave (made by cutting a real one) --------------------------------


def test_trailing_comma_and_missing_bracket_are_accepted(logs, tmp_path):
    text = logs["half"].read_text()
    expected = json.loads(text)
    body = text.rstrip().removesuffix("]").rstrip()
    for variant in (body, body + ",", body + ",\n]\n"):
        path = tmp_path / "log.json"
        path.write_text(variant)
        assert read_accuracy_log(path) == expected


def test_cut_entry_is_an_error_naming_the_file(logs, tmp_path):
    text = logs["half"].read_text()
    path = tmp_path / ACCURACY_LOG
    path.write_text(text[: text.index('"data"', len(text) // 2)])  # stopped inside an entry
    with pytest.raises(LogError) as info:
        read_accuracy_log(path)
    assert str(path) in str(info.value) and "killed" in str(info.value)
    path.write_text("")
    with pytest.raises(LogError, match="empty"):
        read_accuracy_log(path)
    with pytest.raises(LogError, match="missing"):
        read_accuracy_log(tmp_path / "nope.json")


def test_the_accuracy_command_records_its_command_and_accuracy_beside_accuracy_txt(logs, tmp_path):
    """`benchwright accuracy` writes accuracy.txt and its record, accuracy.json: the command exactly as it was
    called (what the bundle's README lists), the numbers of accuracy.txt and the target."""
    import shlex

    from benchwright.cli import main
    from benchwright.provenance import recorded_command

    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "val_y.npy", LABELS)
    out = tmp_path / "result dir/accuracy.txt"
    argv = ["accuracy", "--run", str(logs["half"].parent), "--data", str(data), "--benchmark", "half-right",
            "--reference", "50.0", "--target-fraction", "0.99", "--out", str(out)]
    assert main(argv) == 0
    record_file = out.with_name("accuracy.json")
    record = json.loads(record_file.read_text())
    assert recorded_command(record_file) == shlex.join(["benchwright", *argv])
    assert record["values"] == {"accuracy": 50.0, "good": 512, "total": 1024}
    assert record["accuracy_txt"] == [out.read_text().splitlines()[0]]
    assert record["accuracy_log_sha256"] == sha256_file(logs["half"])
    assert record["target"] == 49.5 and record["benchmark"] == "half-right" and record["metric"] == "top1"
    explicit = tmp_path / "elsewhere.json"
    assert main([*argv, "--record", str(explicit)]) == 0
    assert json.loads(explicit.read_text())["execution"]["command"].endswith(f"--record {explicit}")


def test_top1_on_ten_known_predictions_through_the_official_models_classes():
    """resnet50_v1.onnx answers classes 1..1000 (0 is background); the task's class_offset -1 maps them onto
    val_map.txt's 0..999 before LoadGen logs them. By hand: samples 0, 1, 2, 4, 6, 7 and 9 right, 7 of 10."""
    from benchwright.tasks import get_task

    labels = np.array([0, 999, 65, 3, 10, 500, 7, 42, 1, 998])
    argmax = np.array([1, 1000, 66, 5, 11, 1, 8, 43, 3, 999], dtype=np.int64)  # the model's ArgMax:0
    logged = get_task("image_classification", {"class_offset": -1}).respond([argmax])
    entries = [{"seq_id": i, "qsl_idx": i, "data": np.asarray(c, dtype="<i4").tobytes().hex()}
               for i, c in enumerate(logged)]
    # Sample 3 logged again (a performance run's repeat) with a right answer: the first answer counts.
    entries.append({"seq_id": 10, "qsl_idx": 3, "data": np.asarray(3, dtype="<i4").tobytes().hex()})
    result = top1_accuracy(entries, labels)
    assert (result.good, result.total) == (7, 10)
    assert result.line() == "accuracy=70.000%, good=7, total=10"
