"""A --spec that is not what a step expects (usually one written by hand) is a clear error: the model, each field
with what was wrong and what was given, exit code 2, nothing written at the output."""

from __future__ import annotations

from benchwright.cli import main


def test_a_bad_runspec_names_each_field(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["loadgen", "--spec", '{"benchmark": "x", "mode": "perf"}', "--model", str(tmp_path),
               "--data", str(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert err.startswith("benchwright loadgen: the input is not a valid RunSpec (8 problem(s)):")
    assert "  - mode: Input should be 'performance' or 'accuracy' (given: 'perf')" in err
    assert "  - scenario: Field required\n" in err and "Traceback" not in err
    assert "fix: the DAG builds --spec from the campaign" in err


def test_spec_that_is_not_json(tmp_path, capsys):
    rc = main(["quantize", "--spec", "not json", "--weights", str(tmp_path), "--data", str(tmp_path),
               "--calibration-list", str(tmp_path / "list.txt"), "--out", str(tmp_path / "int8")])
    err = capsys.readouterr().err
    assert rc == 2 and "not a valid QuantizeSpec" in err and "Invalid JSON" in err
    assert not (tmp_path / "int8").exists()
