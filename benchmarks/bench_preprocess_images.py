"""preprocess_images: how fast the ``imagenet`` preprocessor (version 2, MLCommons' resnet50 preprocessing with
OpenCV) turns an ImageNet-style validation folder into its split, against the same per-image OpenCV work in a bare
loop. Informational: no target.

A fresh process writes an ImageNet-2012-validation-style folder with ``benchwright.fixtures.imagenet_folder``
(JPEGs about 500 x 375, every third one portrait, as real ImageNet validation images; 1,000 classes, seed 0) into
the measurement's scratch folder: 10,000 images in full mode, 2,000 in quick mode (the fixture writes about 40
images/s on one core, so 10,000 take about 4 minutes before anything is timed). Then, per repeat, interleaved,
each in a fresh process:

- **variant**: ``benchwright.data.preprocess.preprocess("imagenet", 2, {}, [folder], out)`` with the default
  parameters (224 x 224 crop, scale 87.5 %, the reference's means): reads val_map.txt, checks every image exists,
  decodes, resizes and crops each image, streams ``val_x.npy`` (float32 [N, 3, 224, 224], 602 KB per image) to
  disk, writes ``val_y``/``val_ids``, hashes every output for the manifest and renames the staged folder into place.
  As the DAG does for a folder dataset, the input's hash is given (here the fixture's val_map.txt hash), so the
  input JPEGs are not hashed. The output is deleted after the repeat.
- **baseline**: the same per-image work in a bare loop, no benchwright: the val_map.txt lines, ``cv2.imread``,
  BGR -> RGB, ``cv2.resize`` (INTER_AREA, short side 256), centre crop 224, float32, minus the means, HWC -> CHW;
  each result is dropped, nothing is written or hashed.

Both report images/s (wall) and images/s per core: images / CPU seconds (user + sys) of the process, so
OpenCV's own threads (cv2.getNumThreads() = the machine's cores) count as cores used. The ratio, variant /
baseline, shows what writing, hashing and staging cost on top of the decode work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import Context, Row, compare, foreign_note, in_fresh_process, interleaved, register

NAME = "preprocess_images"
IMAGES = {"quick": 2_000, "full": 10_000}
SIZE = (500, 375)
"""The fixture's (width, height) before its +-25 % variation: about the median ImageNet validation image."""
CLASSES = 1000
CROP, SCALE, MEAN = 224, 87.5, (123.68, 116.78, 103.94)
"""The imagenet preprocessor's defaults (version 2)."""


# ---------------------------------------------------------------------------------------------------------------
# fresh processes


def make_folder(folder: str, count: int) -> dict[str, Any]:
    from benchwright.fixtures import imagenet_folder

    started = time.perf_counter()
    info = imagenet_folder(folder, count=count, classes=CLASSES, size=SIZE, seed=0, overwrite=True)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in Path(folder).iterdir())
    return {"sha256": info.sha256, "images": count, "seconds": round(seconds, 2), "bytes": size}


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_preprocessor(folder: str, out_dir: str, sha256: str) -> dict[str, Any]:
    """benchwright's imagenet preprocessor (version 2, default parameters) on ``folder`` into ``out_dir``."""
    import shutil

    import cv2
    from benchwright.data.preprocess import preprocess

    cpu0, wall0 = _cpu_s(), time.perf_counter()
    manifest = preprocess("imagenet", 2, {}, [folder], out_dir, input_hashes={Path(folder).name: sha256})
    wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
    images = manifest["outputs"]["val_x.npy"]["shape"][0]
    out_bytes = sum(p.stat().st_size for p in Path(out_dir).iterdir())
    shutil.rmtree(out_dir, ignore_errors=True)
    return {"images": images, "wall_s": wall, "cpu_s": cpu, "images_per_s": images / wall,
            "images_per_cpu_s": images / cpu, "cores_used": cpu / wall, "out_bytes": out_bytes,
            "cv2_threads": cv2.getNumThreads()}


def bare_loop(folder: str) -> dict[str, Any]:
    """The same per-image OpenCV work in a plain loop: decode, RGB, resize with aspect ratio, crop, float32, minus
    the means, CHW; no benchwright, nothing written."""
    import cv2
    import numpy as np

    root = Path(folder)
    mean = np.array(MEAN, dtype=np.float32)
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    names = [line.split()[0] for line in (root / "val_map.txt").read_text().splitlines() if line.strip()]
    target = int(100.0 * CROP / SCALE)
    checksum = 0.0
    for name in names:
        img = cv2.cvtColor(cv2.imread(str(root / name)), cv2.COLOR_BGR2RGB)
        height, width, _ = img.shape
        if height > width:
            w, h = target, int(target * height / width)
        else:
            h, w = target, int(target * width / height)
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        left, top = int((w - CROP) / 2), int((h - CROP) / 2)
        x = np.asarray(img[top:top + CROP, left:left + CROP], dtype=np.float32)
        x -= mean
        x = x.transpose([2, 0, 1])
        checksum += float(x[0, 0, 0])
    wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
    return {"images": len(names), "wall_s": wall, "cpu_s": cpu, "images_per_s": len(names) / wall,
            "images_per_cpu_s": len(names) / cpu, "cores_used": cpu / wall, "checksum": checksum,
            "cv2_threads": cv2.getNumThreads()}


# ---------------------------------------------------------------------------------------------------------------
# parent side


@register(NAME, order=34, description="imagenet preprocessor (v2, OpenCV) on a generated ImageNet-style folder: "
                                      "images/s and images/s per core, against the same cv2 work in a bare loop")
def preprocess_images(ctx: Context) -> list[Row]:
    import shutil

    folder = ctx.scratch("fixture")
    try:
        return _measure(ctx, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measure(ctx: Context, scratch: Path) -> list[Row]:
    count = IMAGES["full" if ctx.mode == "full" else "quick"]
    folder = scratch / "imagenet-val"
    made = in_fresh_process(make_folder, str(folder), count, timeout_s=3600)
    ctx.record(label="fixture", **made)
    ctx.emit(f"fixture: {count:,} JPEGs ({made['bytes'] / count / 1024:.0f} KiB each) in {made['seconds']:.0f} s")
    ctx.header.append(f"Images preprocess_images: `benchwright.fixtures.imagenet_folder` {count:,} JPEGs about "
                      f"{SIZE[0]} x {SIZE[1]}, seed 0, val_map sha256 {made['sha256'][:16]}…")
    results: dict[str, list[dict[str, Any]]] = {"variant": [], "baseline": []}

    def variant(i: int) -> float:
        r = in_fresh_process(run_preprocessor, str(folder), str(scratch / f"out-r{i}"), made["sha256"],
                             timeout_s=3600)
        ctx.record(label=f"preprocess-r{i}", **r)
        results["variant"].append(r)
        ctx.emit(f"preprocessor repeat {i}: {r['images_per_s']:,.0f} images/s, {r['cores_used']:.2f} cores")
        return r["images_per_s"]

    def baseline(i: int) -> float:
        r = in_fresh_process(bare_loop, str(folder), timeout_s=3600)
        ctx.record(label=f"bare-r{i}", **r)
        results["baseline"].append(r)
        ctx.emit(f"bare loop repeat {i}: {r['images_per_s']:,.0f} images/s, {r['cores_used']:.2f} cores")
        return r["images_per_s"]

    interleaved(ctx, variant, baseline)
    v, b = results["variant"], results["baseline"]
    cores_v = sorted(r["cores_used"] for r in v)
    cores_b = sorted(r["cores_used"] for r in b)
    common_notes = (f"{count:,} images ({'full' if ctx.mode == 'full' else 'quick'} mode), cv2 threads "
                    f"{v[0]['cv2_threads']}; cores used (CPU s / wall s) preprocessor {cores_v[0]:.2f}–"
                    f"{cores_v[-1]:.2f}, bare loop {cores_b[0]:.2f}–{cores_b[-1]:.2f}; preprocessor output "
                    f"{v[0]['out_bytes'] / 2**30:.2f} GiB per run; informational, no target; "
                    + foreign_note(v + b))
    return [
        compare(NAME, "imagenet preprocessor v2", "throughput (wall)", "images/s",
                [r["images_per_s"] for r in v], [r["images_per_s"] for r in b],
                baseline="bare cv2 loop, same per-image work, nothing written", notes=common_notes),
        compare(NAME, "imagenet preprocessor v2", "throughput per core (images / CPU s)", "images/s/core",
                [r["images_per_cpu_s"] for r in v], [r["images_per_cpu_s"] for r in b],
                baseline="bare cv2 loop, same per-image work, nothing written", notes=common_notes),
    ]
