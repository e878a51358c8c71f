"""Tests for benchwright.data.folder: manifests of dataset folders, their verification and path expansion."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from benchwright.data import folder as folder_mod
from benchwright.data.folder import (
    DatasetFolderError,
    FolderReport,
    expand_path,
    read_manifest,
    verify_folder,
    write_manifest,
)
from benchwright.errors import BenchwrightError

FILES = {
    "a.JPEG": b"alpha",
    "train/n01/x.JPEG": b"x" * 100,
    "train/n01/y.JPEG": b"yy",
    "train/n02/deep/z.bin": bytes(range(256)),
    ".hidden": b"hidden files count too",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path, files: dict[str, bytes] = FILES) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path, str]:
    """A dataset folder, its manifest beside it, and the manifest's sha256."""
    data = make_tree(tmp_path / "data")
    manifest = tmp_path / "data.sha256"
    return data, manifest, write_manifest(data, manifest)


def set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


# ----------------------------------------------------------------------------- write / read


def test_manifest_is_sha256sum_format_sorted_and_round_trips(dataset):
    data, manifest, digest = dataset
    text = manifest.read_text()
    expected = "".join(f"{sha(FILES[rel])}  {rel}\n" for rel in sorted(FILES))
    assert text == expected
    assert digest == sha(manifest.read_bytes())
    assert read_manifest(manifest) == {rel: sha(body) for rel, body in FILES.items()}
    assert read_manifest(manifest, digest) == read_manifest(manifest)


def test_manifest_is_deterministic(tmp_path):
    order_a = dict(FILES)
    order_b = dict(reversed(list(FILES.items())))  # created in the other order
    d1 = write_manifest(make_tree(tmp_path / "one", order_a), tmp_path / "one.sha256")
    d2 = write_manifest(make_tree(tmp_path / "two", order_b), tmp_path / "two.sha256")
    assert d1 == d2
    assert (tmp_path / "one.sha256").read_bytes() == (tmp_path / "two.sha256").read_bytes()
    assert write_manifest(tmp_path / "one", tmp_path / "again.sha256") == d1


def test_nested_folders_use_relative_posix_paths(dataset):
    _, manifest, _ = dataset
    paths = list(read_manifest(manifest))
    assert "train/n02/deep/z.bin" in paths
    assert all(not p.startswith("/") and "\\" not in p for p in paths)
    assert paths == sorted(paths)


def test_manifest_inside_the_folder_is_skipped_and_not_extra(tmp_path):
    data = make_tree(tmp_path / "data")
    manifest = data / "MANIFEST.sha256"
    manifest.write_text("stale content that must not be hashed\n")
    digest = write_manifest(data, manifest)
    assert "MANIFEST.sha256" not in read_manifest(manifest)
    assert len(read_manifest(manifest)) == len(FILES)
    report = verify_folder(data, manifest, digest)
    assert report.files == len(FILES)


def test_empty_or_missing_directory_is_an_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DatasetFolderError, match="contains no files"):
        write_manifest(tmp_path / "empty", tmp_path / "m.sha256")
    with pytest.raises(DatasetFolderError, match="does not exist"):
        write_manifest(tmp_path / "nowhere", tmp_path / "m.sha256")
    assert not (tmp_path / "m.sha256").exists()


def test_symlinked_directory_is_not_followed_but_refused(tmp_path):
    outside = make_tree(tmp_path / "outside", {"secret.bin": b"s"})
    data = make_tree(tmp_path / "data", {"a.bin": b"a"})
    (data / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(DatasetFolderError, match="symlinked directory linked"):
        write_manifest(data, tmp_path / "m.sha256")


def test_manifest_hash_mismatch_names_both_hashes_and_the_fix(dataset):
    _, manifest, digest = dataset
    pinned = "0" * 64
    with pytest.raises(DatasetFolderError) as err:
        read_manifest(manifest, pinned)
    msg = str(err.value)
    assert digest in msg and pinned in msg
    assert "benchwright dataset manifest" in msg and "dataset.manifest_sha256" in msg and "restore" in msg
    assert isinstance(err.value, BenchwrightError)


def test_edited_manifest_fails_against_its_pin(dataset):
    data, manifest, digest = dataset
    manifest.write_text(manifest.read_text().replace("  a.JPEG\n", "  b.JPEG\n"))
    with pytest.raises(DatasetFolderError, match=f"pins dataset.manifest_sha256 {digest}"):
        verify_folder(data, manifest, digest)


@pytest.mark.parametrize(("line", "reason"), [
    ("not a manifest line", "sha256sum format"),
    ("a" * 63 + "  short.bin", "sha256sum format"),
    ("a" * 64 + " one-space.bin", "sha256sum format"),
    ("A" * 64 + "  upper.bin", "sha256sum format"),
    ("", "sha256sum format"),
    ("a" * 64 + "  crlf.bin\r", "Windows line ending"),
])
def test_malformed_line_names_file_and_line_number(tmp_path, line, reason):
    manifest = tmp_path / "m.sha256"
    manifest.write_text(f"{'b' * 64}  ok.bin\n{'c' * 64}  ok2.bin\n{line}\n")
    with pytest.raises(DatasetFolderError) as err:
        read_manifest(manifest)
    assert f"{manifest}, line 3:" in str(err.value)
    assert reason in str(err.value)


@pytest.mark.parametrize(("path", "reason"), [
    ("../escape.bin", "'..'"),
    ("train/../../escape.bin", "'..'"),
    ("/etc/passwd", "absolute"),
    ("a//b.bin", "not normalized"),
    ("./a.bin", "not normalized"),
])
def test_unsafe_paths_are_refused(tmp_path, path, reason):
    manifest = tmp_path / "m.sha256"
    manifest.write_text(f"{'b' * 64}  {path}\n")
    with pytest.raises(DatasetFolderError, match="line 1") as err:
        read_manifest(manifest)
    assert reason in str(err.value)


def test_duplicate_path_is_an_error(tmp_path):
    manifest = tmp_path / "m.sha256"
    manifest.write_text(f"{'b' * 64}  a.bin\n{'c' * 64}  b.bin\n{'d' * 64}  a.bin\n")
    with pytest.raises(DatasetFolderError, match=r"line 3: path 'a.bin' is listed twice"):
        read_manifest(manifest)


def test_binary_mode_marker_is_accepted(tmp_path):
    manifest = tmp_path / "m.sha256"
    manifest.write_text(f"{'b' * 64} *a.bin\n")
    assert read_manifest(manifest) == {"a.bin": "b" * 64}


# ----------------------------------------------------------------------------- verification


def test_verify_intact_folder_reports_counts(dataset):
    data, manifest, digest = dataset
    report = verify_folder(data, manifest, digest)
    assert report == FolderReport(files=len(FILES), bytes=sum(map(len, FILES.values())), hashed=len(FILES),
                                  manifest_sha256=digest)


def test_missing_file_is_named(dataset):
    data, manifest, digest = dataset
    (data / "train/n01/y.JPEG").unlink()
    with pytest.raises(DatasetFolderError) as err:
        verify_folder(data, manifest, digest)
    assert err.value.missing == ("train/n01/y.JPEG",)
    assert err.value.extra == () and err.value.changed == ()
    assert "  missing: train/n01/y.JPEG" in str(err.value).splitlines()


def test_extra_file_is_named(dataset):
    data, manifest, digest = dataset
    (data / "train/n02/stray.JPEG").write_bytes(b"stray")
    with pytest.raises(DatasetFolderError) as err:
        verify_folder(data, manifest, digest)
    assert err.value.extra == ("train/n02/stray.JPEG",)
    assert err.value.missing == () and err.value.changed == ()
    assert "  extra: train/n02/stray.JPEG" in str(err.value).splitlines()


def test_changed_file_is_named_with_both_hashes(dataset):
    data, manifest, digest = dataset
    (data / "a.JPEG").write_bytes(b"ALPHA")
    with pytest.raises(DatasetFolderError) as err:
        verify_folder(data, manifest, digest)
    assert err.value.changed == ("a.JPEG",)
    assert err.value.hashes["a.JPEG"] == (sha(b"ALPHA"), sha(b"alpha"))
    assert f"  changed: a.JPEG (sha256 {sha(b'ALPHA')}, manifest {sha(b'alpha')})" in str(err.value).splitlines()


def test_all_three_kinds_in_one_error(dataset):
    data, manifest, digest = dataset
    (data / "train/n01/y.JPEG").unlink()
    (data / "c.JPEG").write_bytes(b"extra")
    (data / "train/n01/x.JPEG").write_bytes(b"z" * 100)
    with pytest.raises(DatasetFolderError) as err:
        verify_folder(data, manifest, digest)
    lines = str(err.value).splitlines()
    assert lines[0] == f"benchwright: dataset folder {data} does not match its manifest {manifest}:"
    assert lines[1] == "  missing: train/n01/y.JPEG"
    assert lines[2] == "  extra: c.JPEG"
    assert lines[3].startswith("  changed: train/n01/x.JPEG (sha256 ")
    assert lines[4].startswith("  fix: restore")
    assert f"benchwright dataset manifest {data} --out {manifest}" in lines[4]
    assert "dataset.manifest_sha256" in lines[4]
    assert len(lines) == 5


def test_listing_is_capped_with_a_count(tmp_path):
    data = make_tree(tmp_path / "data", {f"f{i:03}.bin": b"%d" % i for i in range(30)})
    manifest = tmp_path / "m.sha256"
    digest = write_manifest(data, manifest)
    for i in range(25):
        (data / f"f{i:03}.bin").unlink()
    with pytest.raises(DatasetFolderError) as err:
        verify_folder(data, manifest, digest)
    lines = str(err.value).splitlines()
    assert sum(line.startswith("  missing: ") for line in lines) == folder_mod.MAX_LISTED
    assert "  ... and 5 more missing files (25 in all)" in lines
    assert len(err.value.missing) == 25


def test_cache_file_inside_the_folder_is_not_extra(tmp_path):
    data = make_tree(tmp_path / "data")
    manifest = data / "MANIFEST.sha256"
    digest = write_manifest(data, manifest)
    cache = data / ".verify-cache.json"
    assert verify_folder(data, manifest, digest, cache_file=cache).hashed == len(FILES)
    assert verify_folder(data, manifest, digest, cache_file=cache).hashed == 0


# ----------------------------------------------------------------------------- incremental verification


def test_incremental_verification_rehashes_only_the_changed_file(dataset, tmp_path):
    data, manifest, digest = dataset
    cache = tmp_path / "cache.json"
    assert verify_folder(data, manifest, digest, cache_file=cache).hashed == len(FILES)
    assert verify_folder(data, manifest, digest, cache_file=cache).hashed == 0

    target = data / "train/n01/y.JPEG"
    old = target.stat().st_mtime_ns
    target.write_bytes(b"YY")  # same size, new content
    set_mtime(target, old + 10**9)  # a new mtime, whatever the file system's timestamp granularity
    with pytest.raises(DatasetFolderError) as err:
        verify_folder(data, manifest, digest, cache_file=cache)
    assert err.value.changed == ("train/n01/y.JPEG",)

    target.write_bytes(b"yy")  # restored content, again a new mtime
    set_mtime(target, old + 2 * 10**9)
    report = verify_folder(data, manifest, digest, cache_file=cache)
    assert report.hashed == 1  # the cache kept what verified during the failed run
    assert verify_folder(data, manifest, digest, cache_file=cache, verify_all=True).hashed == len(FILES)
    assert verify_folder(data, manifest, digest, cache_file=cache).hashed == 0


def test_cache_holds_only_verified_entries(dataset, tmp_path):
    import json

    data, manifest, digest = dataset
    cache = tmp_path / "cache.json"
    (data / "a.JPEG").write_bytes(b"ALPHA")
    with pytest.raises(DatasetFolderError):
        verify_folder(data, manifest, digest, cache_file=cache)
    entries = json.loads(cache.read_text())
    assert "a.JPEG" not in entries
    assert set(entries) == set(FILES) - {"a.JPEG"}
    st = (data / ".hidden").stat()
    assert entries[".hidden"] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha(FILES[".hidden"])}


def test_same_size_change_with_restored_mtime_needs_verify_all(dataset, tmp_path):
    """The documented trade-off of the cache: it trusts size + mtime_ns; --verify-all does not."""
    data, manifest, digest = dataset
    cache = tmp_path / "cache.json"
    verify_folder(data, manifest, digest, cache_file=cache)
    target = data / "a.JPEG"
    st = target.stat()
    target.write_bytes(b"ALPHA")  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime restored (touch -r, cp -p, rsync -t)

    assert verify_folder(data, manifest, digest, cache_file=cache).hashed == 0  # not detected
    with pytest.raises(DatasetFolderError) as err:
        verify_folder(data, manifest, digest, cache_file=cache, verify_all=True)
    assert err.value.changed == ("a.JPEG",)
    with pytest.raises(DatasetFolderError):  # and the failed full run dropped the entry: detected from now on
        verify_folder(data, manifest, digest, cache_file=cache)


def test_cache_entry_for_another_manifest_hash_is_not_trusted(dataset, tmp_path):
    data, manifest, digest = dataset
    cache = tmp_path / "cache.json"
    verify_folder(data, manifest, digest, cache_file=cache)
    # the dataset changes on purpose: a.JPEG gets new content and the manifest is regenerated
    target = data / "a.JPEG"
    st = target.stat()
    target.write_bytes(b"ALPHA")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    new_digest = write_manifest(data, manifest)
    report = verify_folder(data, manifest, new_digest, cache_file=cache)
    assert report.hashed == 1  # a.JPEG's cached sha256 is not the new manifest's


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", '{"a.JPEG": {"size": "big"}}', ""])
def test_corrupt_cache_is_ignored(dataset, tmp_path, content):
    data, manifest, digest = dataset
    cache = tmp_path / "cache.json"
    cache.write_text(content)
    report = verify_folder(data, manifest, digest, cache_file=cache)
    assert report.hashed == len(FILES)
    assert verify_folder(data, manifest, digest, cache_file=cache).hashed == 0  # rewritten, valid again


def test_directory_missing_at_verification(dataset, tmp_path):
    _, manifest, digest = dataset
    with pytest.raises(DatasetFolderError, match="does not exist"):
        verify_folder(tmp_path / "gone", manifest, digest)


# ----------------------------------------------------------------------------- expand_path


def test_expand_path_with_set_variables_and_home(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCHWRIGHT_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", "/home/tester")
    assert expand_path("${BENCHWRIGHT_DATA}/imagenet", field="dataset.path", file="x.yaml") == tmp_path / "imagenet"
    assert expand_path("$BENCHWRIGHT_DATA/val", field="dataset.path", file="x.yaml") == tmp_path / "val"
    assert expand_path("~/data", field="dataset.path", file="x.yaml") == Path("/home/tester/data")
    assert expand_path("/plain/path", field="dataset.path", file="x.yaml") == Path("/plain/path")


def test_expand_path_with_unset_variable_names_it(monkeypatch):
    monkeypatch.delenv("BENCHWRIGHT_DATA", raising=False)
    with pytest.raises(DatasetFolderError) as err:
        expand_path("${BENCHWRIGHT_DATA}/imagenet", field="dataset.path", file="config/benchmarks/x.yaml")
    assert str(err.value) == ("benchwright: config/benchmarks/x.yaml: dataset.path uses ${BENCHWRIGHT_DATA}, which is "
                              "not set; fix: export BENCHWRIGHT_DATA=/where/the/data/is")
    with pytest.raises(DatasetFolderError, match=r"uses \$\{BENCHWRIGHT_DATA\}, which is not set"):
        expand_path("$BENCHWRIGHT_DATA/imagenet", field="dataset.path", file="x.yaml")


def test_expand_path_with_empty_or_malformed_variable(monkeypatch):
    monkeypatch.setenv("EMPTY_VAR", "")
    with pytest.raises(DatasetFolderError, match="set but empty"):
        expand_path("${EMPTY_VAR}/x", field="dataset.path", file="x.yaml")
    with pytest.raises(DatasetFolderError, match="malformed variable"):
        expand_path("${UNCLOSED/x", field="dataset.path", file="x.yaml")
