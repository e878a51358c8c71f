"""Tests for benchwright.data.archive.safe_extract: real archives built on the fly."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from benchwright.data import archive as archive_mod
from benchwright.data.archive import FORMATS, ArchiveError, UnsafeArchiveError, safe_extract

GOOD_FILES = {"a.txt": b"alpha\n", "sub/b.txt": b"beta\n", "sub/deeper/c.bin": bytes(range(256))}
TAR_SUFFIX = {"tar": ":", "tar.gz": ":gz", "tar.bz2": ":bz2", "tar.xz": ":xz"}


# ----------------------------------------------------------------------------- archive builders


def file_info(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, io.BytesIO(data)


def link_info(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def special_info(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, io.BytesIO | None]], fmt: str = "tar.gz") -> Path:
    with tarfile.open(path, "w" + TAR_SUFFIX[fmt]) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return path


def good_tar_members() -> list[tuple[tarfile.TarInfo, io.BytesIO | None]]:
    return [file_info(name, data) for name, data in GOOD_FILES.items()]


def make_zip(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix, so external_attr carries st_mode
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A sandbox two levels deep, so '../../outside' would land inside tmp_path where we can see it."""
    sandbox = tmp_path / "level1" / "work"
    sandbox.mkdir(parents=True)
    return sandbox


def assert_refused(
    archive: Path, fmt: str, member: str, tmp_path: Path, *, by_filter: bool = False
) -> UnsafeArchiveError:
    """Extraction must raise naming ``member`` and leave the whole tree exactly as it was.

    Unless ``by_filter``, the refusal must come from the up-front member checks, not from tarfile's
    data filter tripping half-way through extraction.
    """
    before = snapshot(tmp_path)
    dest = archive.parent / "out"
    with pytest.raises(UnsafeArchiveError) as info:
        safe_extract(archive, dest, fmt)
    err = info.value
    assert repr(member) in str(err)
    assert str(archive) in str(err) and "nothing was extracted" in str(err)
    assert err.member == member
    assert ("data filter" in str(err)) == by_filter
    assert not dest.exists()
    assert snapshot(tmp_path) == before
    return err


# ----------------------------------------------------------------------------- accepted archives


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "tar.bz2", "tar.xz"])
def test_tar_formats_extract(work: Path, fmt: str) -> None:
    archive = make_tar(work / f"data.{fmt}", good_tar_members(), fmt)
    dest = work / "out"
    files = safe_extract(archive, dest, fmt)
    assert files == sorted(dest / name for name in GOOD_FILES)
    for name, data in GOOD_FILES.items():
        assert (dest / name).read_bytes() == data
    assert snapshot(work) == sorted([f"data.{fmt}", "out", *(f"out/{p}" for p in
                                     ["a.txt", "sub", "sub/b.txt", "sub/deeper", "sub/deeper/c.bin"])])


def test_tar_internal_links_are_allowed(work: Path) -> None:
    members = good_tar_members() + [
        link_info("sub/link_to_a", "../a.txt"),
        link_info("hard_b", "sub/b.txt", tarfile.LNKTYPE),
    ]
    dest = work / "out"
    files = safe_extract(make_tar(work / "d.tar.gz", members), dest, "tar.gz")
    assert (dest / "sub" / "link_to_a").is_symlink()
    assert (dest / "sub" / "link_to_a").read_bytes() == GOOD_FILES["a.txt"]
    assert (dest / "hard_b").read_bytes() == GOOD_FILES["sub/b.txt"]
    assert dest / "sub" / "link_to_a" not in files  # symlinks are not regular files
    assert dest / "hard_b" in files


def test_zip_extracts(work: Path) -> None:
    archive = make_zip(work / "data.zip", GOOD_FILES)
    dest = work / "out"
    files = safe_extract(archive, dest, "zip")
    assert files == sorted(dest / name for name in GOOD_FILES)
    assert all((dest / name).read_bytes() == data for name, data in GOOD_FILES.items())


def test_existing_empty_dest_dir_is_fine(work: Path) -> None:
    dest = work / "out"
    dest.mkdir()
    assert len(safe_extract(make_zip(work / "d.zip", GOOD_FILES), dest, "zip")) == 3


def test_non_empty_dest_dir_is_not_touched(work: Path) -> None:
    dest = work / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        safe_extract(make_zip(work / "d.zip", GOOD_FILES), dest, "zip")
    assert snapshot(dest) == ["keep.txt"]


def test_unknown_format_lists_valid_ones(work: Path) -> None:
    with pytest.raises(ValueError) as info:
        safe_extract(work / "x.rar", work / "out", "rar")
    assert all(fmt in str(info.value) for fmt in FORMATS)


def test_corrupt_archive_raises_archive_error(work: Path) -> None:
    archive = work / "broken.tar.gz"
    archive.write_bytes(b"this is not gzip")
    with pytest.raises(ArchiveError) as info:
        safe_extract(archive, work / "out", "tar.gz")
    assert not isinstance(info.value, UnsafeArchiveError)
    assert snapshot(work) == ["broken.tar.gz"]


def test_missing_archive(work: Path) -> None:
    with pytest.raises(ArchiveError, match="does not exist"):
        safe_extract(work / "nope.zip", work / "out", "zip")


def test_interrupted_extraction_leaves_no_partial_dest(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_tar(work / "d.tar", good_tar_members(), "tar")
    real_extractall = tarfile.TarFile.extractall

    def crash_midway(self: tarfile.TarFile, path: str, members: list[tarfile.TarInfo], **kw: object) -> None:
        real_extractall(self, path, members=members[:1], **kw)  # type: ignore[arg-type]
        assert any(Path(path).iterdir())  # something really was written to the staging dir
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "extractall", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        safe_extract(archive, work / "out", "tar")
    assert snapshot(work) == ["d.tar"]


# ----------------------------------------------------------------------------- refused tar archives

UNSAFE_TAR = [
    pytest.param(file_info("../evil", b"x"), "../evil", id="dotdot"),
    pytest.param(file_info("sub/../../evil", b"x"), "sub/../../evil", id="nested-dotdot"),
    pytest.param(file_info("/etc/x", b"x"), "/etc/x", id="absolute"),
    pytest.param(link_info("link", "../../outside"), "link", id="symlink-out"),
    pytest.param(link_info("sub/link", "../../outside"), "sub/link", id="nested-symlink-out"),
    pytest.param(link_info("abs_link", "/etc/passwd"), "abs_link", id="symlink-absolute"),
    pytest.param(link_info("hard", "../outside", tarfile.LNKTYPE), "hard", id="hardlink-out"),
    pytest.param(link_info("hard_abs", "/etc/passwd", tarfile.LNKTYPE), "hard_abs", id="hardlink-absolute"),
    pytest.param(special_info("dev", tarfile.CHRTYPE), "dev", id="char-device"),
    pytest.param(special_info("blk", tarfile.BLKTYPE), "blk", id="block-device"),
    pytest.param(special_info("pipe", tarfile.FIFOTYPE), "pipe", id="fifo"),
]


@pytest.mark.parametrize(("bad", "member"), UNSAFE_TAR)
def test_unsafe_tar_member_is_refused(
    tmp_path: Path, work: Path, bad: tuple[tarfile.TarInfo, io.BytesIO | None], member: str
) -> None:
    # good members first: proves the check happens before anything is extracted
    archive = make_tar(work / "evil.tar.gz", [*good_tar_members(), bad])
    assert_refused(archive, "tar.gz", member, tmp_path)


def test_member_through_symlinked_directory_is_refused(tmp_path: Path, work: Path) -> None:
    # "d" -> "." is harmless by itself, but "d/l" -> "../x" would really land in work/x.
    members = [link_info("d", "."), link_info("d/l", "../x")]
    err = assert_refused(make_tar(work / "evil.tar", members, "tar"), "tar", "d/l", tmp_path)
    assert "symlink" in err.reason


def test_data_filter_is_a_second_defence(tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_mod, "_check_members", lambda archive, members: None)
    archive = make_tar(work / "evil.tar", [link_info("link", "../../outside")], "tar")
    assert_refused(archive, "tar", "link", tmp_path, by_filter=True)


# ----------------------------------------------------------------------------- refused zip archives


@pytest.mark.parametrize("member", ["../evil", "/etc/x", "sub/../../evil"])
def test_unsafe_zip_path_is_refused(tmp_path: Path, work: Path, member: str) -> None:
    archive = make_zip(work / "evil.zip", {**GOOD_FILES, member: b"x"})
    assert_refused(archive, "zip", member, tmp_path)


def test_zip_symlink_out_is_refused(tmp_path: Path, work: Path) -> None:
    archive = make_zip(work / "evil.zip", GOOD_FILES, symlinks={"link": "../../outside"})
    assert_refused(archive, "zip", "link", tmp_path)
