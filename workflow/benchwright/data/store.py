"""Preprocessed samples on disk, read row by row: what the sample library, calibration and training read.

A split is a set of ``.npy`` files in the preprocessing folder, ``<split>_<array>.npy`` per named array (fixed
shape: one row per sample). An array of variable shape is stored flat, with ``<split>_<array>.offsets.npy`` (n+1
int64 offsets into the first axis). Rows are read with positioned reads (``os.preadv``) into one buffer, not
through a memory map: mapped pages would count in the process's resident memory, and a sample library must hold
only the performance sample set, never the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

OFFSETS = ".offsets"


class StoreError(Exception):
    """A split's files are missing or do not fit together."""


class ArrayFile:
    """One ``.npy`` file: its header parsed once, rows read on demand."""

    _fd = -1

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: the preprocessed array is missing; run the preprocessing again "
                             "(delete the folder and re-run the workflow)")
        with open(self.path, "rb") as handle:
            major, _ = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(handle)
            self.offset = handle.tell()
        if fortran:
            raise StoreError(f"{self.path}: Fortran-ordered arrays are not supported; save C-ordered arrays")
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.row_shape = self.shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a new array."""
        out = np.empty((stop - start, *self.row_shape), dtype=self.dtype)
        self._read_into(memoryview(out.reshape(-1).view(np.uint8)), start, stop)
        return out

    def rows(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The given rows (any order, repeats allowed) as one contiguous array; consecutive rows are read at once."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"{self.path}: row {int(idx.max() if idx.max() >= len(self) else idx.min())} is outside "
                             f"its {len(self)} rows")
        out = np.empty((len(idx), *self.row_shape), dtype=self.dtype)
        if not len(idx):
            return out
        flat = memoryview(out.reshape(-1).view(np.uint8))
        # runs of consecutive indices: one read each
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1 if len(idx) > 1 else np.array([], dtype=np.int64)
        starts = np.concatenate(([0], breaks)).astype(np.int64)
        ends = np.concatenate((breaks, [len(idx)])).astype(np.int64)
        rb = self.row_bytes
        for s, e in zip(starts.tolist(), ends.tolist()):
            first = int(idx[s])
            self._read_into(flat[s * rb:e * rb], first, first + (e - s))
        return out

    def all(self) -> np.ndarray:
        return self.read(0, len(self))

    def _read_into(self, view: memoryview, start: int, stop: int) -> None:
        want, pos, done = (stop - start) * self.row_bytes, self.offset + start * self.row_bytes, 0
        while done < want:
            got = os.preadv(self._fd, [view[done:want]], pos + done)
            if got <= 0:
                raise StoreError(f"{self.path}: file ends before row {stop} (truncated); run the preprocessing again")
            done += got

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class RaggedFile:
    """An array of variable first-axis length per sample: flat data plus n+1 offsets."""

    def __init__(self, data: str | os.PathLike[str], offsets: str | os.PathLike[str]):
        self.data = ArrayFile(data)
        self.offsets = np.load(offsets, allow_pickle=False).astype(np.int64)
        if self.offsets.ndim != 1 or self.offsets[0] != 0 or self.offsets[-1] != len(self.data) \
                or (np.diff(self.offsets) < 0).any():
            raise StoreError(f"{offsets}: offsets must rise from 0 to the {len(self.data)} rows of {data}")
        self.dtype = self.data.dtype
        self.row_shape: tuple[int | None, ...] = (None, *self.data.row_shape)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, indices: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        return [self.data.read(int(self.offsets[i]), int(self.offsets[i + 1])) for i in np.asarray(indices)]

    def close(self) -> None:
        self.data.close()


def open_array(data_dir: str | os.PathLike[str], split: str, name: str) -> ArrayFile | RaggedFile:
    base = Path(data_dir) / f"{split}_{name}"
    offsets = base.with_name(base.name + OFFSETS + ".npy")
    if offsets.is_file():
        return RaggedFile(base.with_name(base.name + ".npy"), offsets)
    return ArrayFile(base.with_name(base.name + ".npy"))


class Split:
    """The named arrays of one split (same number of rows each)."""

    def __init__(self, data_dir: str | os.PathLike[str], split: str, names: Sequence[str]):
        self.arrays = {name: open_array(data_dir, split, name) for name in names}
        lengths = {name: len(a) for name, a in self.arrays.items()}
        if len(set(lengths.values())) > 1:
            raise StoreError(f"{data_dir}: the {split} arrays have different lengths {lengths}; run the "
                             "preprocessing again")
        self.count = next(iter(lengths.values()), 0)

    def __len__(self) -> int:
        return self.count

    def rows(self, indices: Sequence[int] | np.ndarray) -> list[np.ndarray | list[np.ndarray]]:
        return [a.rows(indices) for a in self.arrays.values()]

    def close(self) -> None:
        for a in self.arrays.values():
            a.close()


def load_array(data_dir: str | os.PathLike[str], split: str, name: str) -> np.ndarray:
    """A whole fixed-shape array (labels, sample ids): small arrays only."""
    return np.load(Path(data_dir) / f"{split}_{name}.npy", allow_pickle=False)
