"""sample_memory: how much memory benchwright's sample library holds against what LoadGen asks it to hold.

A generated preprocessed split of 50,000 float32 samples of shape (3, 32, 32) (12 KiB each: 586 MiB on disk,
``val_x.npy`` beside ``val_y.npy`` and ``val_ids.npy``) is written in chunks into the measurement's scratch folder
(never whole in any process's memory) and deleted at the end.

Variant, in a fresh process per repeat: the process's resident memory (VmRSS of /proc/self/status) with numpy,
LoadGen and benchwright imported, then ``SampleLibrary(Split(data_dir, "val", ["x"]), 1024)`` and its ``load()``
of 1,024 random distinct indices (what LoadGen's performance run asks for), then VmRSS again: the growth.
Baseline: what LoadGen asks for, performance_sample_count x sample bytes = 1,024 x 12 KiB = 12 MiB (the same
every repeat). Target: growth <= 1.2 x that. As in every row, the ratio is oriented so that > 1 means the variant is
better: ratio = baseline / growth, so the target reads ratio >= 1 / 1.2 = 0.833 (the notes give growth / baseline).

Reference row (no target), in a fresh process per repeat as well: the RSS growth of ``np.load`` of the whole
``val_x.npy`` (no mmap), what a library holding the dataset in memory would cost; its ratio is what the streaming
library saves.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from typing import Any

from common import Context, Row, Target, compare, foreign_note, in_fresh_process, interleaved, register

NAME = "sample_memory"
SAMPLES = 50_000
SAMPLE_SHAPE = (3, 32, 32)
PERFORMANCE_SAMPLE_COUNT = 1024
LIMIT = 1.2
"""Target: RSS growth <= LIMIT x performance_sample_count x sample bytes."""
TARGET = Target(">=", round(1 / LIMIT, 3))
MiB = 1024 * 1024
CHUNK = 1000
"""Samples written per write while generating the split (12 MiB)."""


def sample_bytes() -> int:
    n = 4  # float32
    for d in SAMPLE_SHAPE:
        n *= d
    return n


# ---------------------------------------------------------------------------------------------------------------
# fresh processes


def rss_bytes() -> int:
    """This process's resident memory (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def generate(data_dir: str) -> dict[str, Any]:
    """Write the split in chunks of CHUNK samples with plain writes after the .npy header (no memory map, so the
    pages written are not this process's either); labels and sample ids beside it."""
    import numpy as np

    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    path = folder / "val_x.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                                      "fortran_order": False, "shape": (SAMPLES, *SAMPLE_SHAPE)})
        for i in range(0, SAMPLES, CHUNK):
            rng.random((min(CHUNK, SAMPLES - i), *SAMPLE_SHAPE), dtype=np.float32).tofile(handle)
    np.save(folder / "val_y.npy", rng.integers(0, 10, SAMPLES, dtype=np.int64))
    np.save(folder / "val_ids.npy", np.arange(SAMPLES, dtype=np.int64))
    check = np.load(path, mmap_mode="r")  # the header and size fit together
    assert check.shape == (SAMPLES, *SAMPLE_SHAPE), check.shape
    return {"bytes": path.stat().st_size, "peak_rss": _hwm()}


def _hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def library_growth(data_dir: str, count: int, seed: int) -> dict[str, Any]:
    """RSS before and after SampleLibrary(Split(...), count).load(count random distinct indices), and after a
    second load() of another random set (the library must drop the first set before reading the next)."""
    import gc

    import mlperf_loadgen  # noqa: F401 - imported before the first reading: the library's cost only
    import numpy as np

    from benchwright.data.store import Split
    from benchwright.harness.sut import SampleLibrary

    rng = np.random.default_rng(seed)
    first = rng.choice(SAMPLES, size=count, replace=False)
    second = rng.choice(SAMPLES, size=count, replace=False)
    gc.collect()
    before = rss_bytes()
    split = Split(data_dir, "val", ["x"])
    library = SampleLibrary(split, count)
    constructed = rss_bytes()
    library.load(first.tolist())
    after = rss_bytes()
    resident = library.resident_bytes
    library.unload(first.tolist())
    library.load(second.tolist())
    after_second = rss_bytes()
    library.close()
    split.close()
    return {"rss_before": before, "rss_constructed": constructed, "rss_after": after, "growth": after - before,
            "resident_bytes": resident, "growth_after_second_load": after_second - before, "samples": len(split)}


def whole_load_growth(data_dir: str) -> dict[str, Any]:
    """RSS before and after np.load of the whole val_x.npy (no mmap): a library that holds the dataset."""
    import gc

    import numpy as np

    gc.collect()
    before = rss_bytes()
    x = np.load(Path(data_dir) / "val_x.npy")
    after = rss_bytes()
    return {"rss_before": before, "rss_after": after, "growth": after - before, "array_bytes": int(x.nbytes)}


# ---------------------------------------------------------------------------------------------------------------
# parent side


@register(NAME, order=35, description="RSS growth of the sample library loading 1,024 of 50,000 samples from "
                                      "disk vs performance_sample_count x sample bytes")
def sample_memory(ctx: Context) -> list[Row]:
    data_dir = ctx.scratch("split")
    try:
        return _measure(ctx, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)  # 586 MiB: gone even with --keep-logs


def _measure(ctx: Context, data_dir: Path) -> list[Row]:
    made = in_fresh_process(generate, str(data_dir))
    ctx.record(label="generate", **made)
    ctx.emit(f"split written: {SAMPLES:,} samples of {list(SAMPLE_SHAPE)} float32, {made['bytes'] / MiB:,.0f} MiB")
    wanted = PERFORMANCE_SAMPLE_COUNT * sample_bytes()
    library_runs: list[dict[str, Any]] = []
    whole_runs: list[dict[str, Any]] = []

    def library(i: int) -> float:
        result = in_fresh_process(library_growth, str(data_dir), PERFORMANCE_SAMPLE_COUNT, i)
        ctx.record(label=f"library-r{i}", **result)
        library_runs.append(result)
        ctx.emit(f"library repeat {i}: RSS +{result['growth'] / MiB:.2f} MiB (holds "
                 f"{result['resident_bytes'] / MiB:.2f} MiB; after a second load +"
                 f"{result['growth_after_second_load'] / MiB:.2f} MiB)")
        return result["growth"] / MiB

    def whole(i: int) -> float:
        result = in_fresh_process(whole_load_growth, str(data_dir))
        ctx.record(label=f"whole-r{i}", **result)
        whole_runs.append(result)
        ctx.emit(f"whole-split np.load repeat {i}: RSS +{result['growth'] / MiB:,.1f} MiB")
        return result["growth"] / MiB

    growth, whole_growth = interleaved(ctx, library, whole)
    factor = statistics.median(growth) / (wanted / MiB)
    resident = statistics.median(r["resident_bytes"] for r in library_runs) / MiB
    second = statistics.median(r["growth_after_second_load"] for r in library_runs) / MiB
    constructed = statistics.median(r["rss_constructed"] - r["rss_before"] for r in library_runs) / MiB
    variant = f"SampleLibrary: load() of {PERFORMANCE_SAMPLE_COUNT:,} random samples of {SAMPLES:,}"
    sizes = (f"{SAMPLES:,} samples of {list(SAMPLE_SHAPE)} float32 ({sample_bytes() / 1024:g} KiB each, "
             f"{made['bytes'] / MiB:,.0f} MiB on disk)")
    return [
        compare(NAME, variant, "RSS growth", "MiB", growth, [wanted / MiB] * len(growth),
                baseline=f"performance_sample_count x sample bytes ({PERFORMANCE_SAMPLE_COUNT:,} x "
                         f"{sample_bytes() / 1024:g} KiB)",
                higher_is_better=False, target=TARGET,
                notes=f"growth / baseline = {factor:.3f} (target ≤ {LIMIT:g}, i.e. ratio ≥ {TARGET.value:g}); "
                      f"{sizes}; library holds {resident:.2f} MiB (resident_bytes), construction alone "
                      f"+{constructed:.2f} MiB; after unload and a second load() of another random set "
                      f"+{second:.2f} MiB; VmRSS in a fresh process with numpy, LoadGen and benchwright imported; "
                      + foreign_note(library_runs)),
        compare(NAME, variant, "RSS growth (reference: against holding the whole split)", "MiB", growth,
                whole_growth, baseline="np.load of the whole val_x.npy (no mmap)", higher_is_better=False,
                notes=f"no target: what streaming saves (ratio = whole-split growth / library growth); {sizes}; "
                      + foreign_note(whole_runs)),
    ]
