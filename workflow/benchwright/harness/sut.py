"""LoadGen's query sample library (QSL) and system under test (SUT) around a batch predictor.

The QSL keeps the performance samples in one contiguous tensor after LoadSamplesToRam. The SUT puts queries
on a work queue as batches of up to ``batch_size`` samples: Offline's single huge query is cut into batches;
Server's queries, which arrive one by one, are gathered by a batcher thread until the batch is full or
``batching_timeout_us`` has passed since its first sample. ``threads`` workers run the predictor and answer
every sample with its predicted class (int32, little-endian), so LoadGen's accuracy log holds real predictions.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mlperf_loadgen as lg
import numpy as np
import torch

Predict = Callable[[torch.Tensor], np.ndarray]


class SampleLibrary:
    """The QSL: sample ``i`` is row ``i`` of ``images``; loaded rows live in one contiguous tensor."""

    def __init__(self, images: np.ndarray, performance_sample_count: int):
        if performance_sample_count > len(images):
            raise ValueError(f"performance_sample_count {performance_sample_count} exceeds the {len(images)} "
                             "samples of the dataset")
        self.images = images
        self.performance_sample_count = performance_sample_count
        self._rows = np.full(len(images), -1, dtype=np.int64)
        self._ram = torch.empty((0, *images.shape[1:]), dtype=torch.float32)
        self.qsl = lg.ConstructQSL(len(images), performance_sample_count, self.load, self.unload)

    def load(self, indices: Sequence[int]) -> None:
        idx = np.asarray(indices, dtype=np.int64)
        self._ram = torch.from_numpy(np.ascontiguousarray(self.images[idx]))
        self._rows[:] = -1
        self._rows[idx] = np.arange(len(idx))

    def unload(self, indices: Sequence[int]) -> None:
        self._rows[np.asarray(indices, dtype=np.int64)] = -1

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        rows = self._rows[indices]
        if (rows < 0).any():
            raise RuntimeError(f"LoadGen asked for samples that were not loaded: {indices[rows < 0][:5]}")
        return self._ram[torch.from_numpy(rows)]

    def close(self) -> None:
        lg.DestroyQSL(self.qsl)


@dataclass
class Counters:
    issued: int = 0
    completed: int = 0
    batches: int = 0


class BatchingSUT:
    def __init__(self, predict: Predict, library: SampleLibrary, *, batch_size: int, threads: int,
                 batching_timeout_us: int = 0, gather: bool = False):
        self.predict = predict
        self.library = library
        self.batch_size = batch_size
        self.timeout = batching_timeout_us / 1e6
        self.gather = gather
        self.counters = Counters()
        self._lock = threading.Lock()
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._incoming: queue.SimpleQueue = queue.SimpleQueue()
        self._errors: list[BaseException] = []
        self._workers = [threading.Thread(target=self._worker, name=f"sut-worker-{i}", daemon=True)
                         for i in range(threads)]
        for w in self._workers:
            w.start()
        self._batcher = None
        if gather:
            self._batcher = threading.Thread(target=self._gather, name="sut-batcher", daemon=True)
            self._batcher.start()
        self.sut = lg.ConstructSUT(self.issue_queries, self.flush_queries)

    # LoadGen callbacks ---------------------------------------------------------------------------------------
    def issue_queries(self, samples: Sequence[lg.QuerySample]) -> None:
        with self._lock:
            self.counters.issued += len(samples)
        if self.gather:
            for s in samples:
                self._incoming.put(s)
            return
        for i in range(0, len(samples), self.batch_size):
            self._work.put(samples[i:i + self.batch_size])

    def flush_queries(self) -> None:
        pass

    # threads -------------------------------------------------------------------------------------------------
    def _gather(self) -> None:
        get = self._incoming.get
        while True:
            first = get()
            if first is None:
                self._work.put(None)
                return
            batch = [first]
            deadline = time.monotonic() + self.timeout
            while len(batch) < self.batch_size:
                try:
                    item = self._incoming.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = get(timeout=remaining)
                    except queue.Empty:
                        break
                if item is None:
                    self._incoming.put(None)
                    break
                batch.append(item)
            self._work.put(batch)

    def _worker(self) -> None:
        while True:
            batch = self._work.get()
            if batch is None:
                self._work.put(None)  # let the other workers stop too
                return
            try:
                self._answer(batch)
            except BaseException as exc:  # noqa: BLE001 - reported by close(); LoadGen would hang otherwise
                self._errors.append(exc)
                print(f"benchwright: the model failed on a batch: {exc!r}", file=sys.stderr, flush=True)
                lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in batch])

    def _answer(self, batch: Sequence[lg.QuerySample]) -> None:
        indices = np.fromiter((s.index for s in batch), dtype=np.int64, count=len(batch))
        predictions = np.ascontiguousarray(self.predict(self.library.batch(indices)), dtype="<i4")
        base, size = predictions.ctypes.data, predictions.itemsize
        responses = [lg.QuerySampleResponse(s.id, base + k * size, size) for k, s in enumerate(batch)]
        lg.QuerySamplesComplete(responses)  # copies what it logs before returning; predictions stays alive
        with self._lock:
            self.counters.completed += len(batch)
            self.counters.batches += 1

    def close(self) -> None:
        (self._incoming if self.gather else self._work).put(None)
        for w in self._workers:
            w.join(timeout=10)
        lg.DestroySUT(self.sut)
        if self._errors:
            raise RuntimeError(f"the model failed on {len(self._errors)} batch(es); first: {self._errors[0]!r}")
