"""LoadGen's query sample library (QSL) and system under test (SUT) around a batch predictor.

The QSL reads only the samples LoadGen loads (the performance sample set, or one chunk of an accuracy run) from
the preprocessed files into one contiguous array per input; the dataset itself stays on disk. The SUT puts queries
on a work queue as batches of up to ``batch_size`` samples: Offline's single huge query is cut into batches;
Server's queries, which arrive one by one, are gathered by the workers themselves until the batch is full or
``batching_timeout_us`` has passed since its first sample. Each worker runs its own predictor (one per accelerator
on GPU SKUs, one shared model on the CPU) and answers every sample with the task's response row (image
classification: the class as a little-endian int32), so LoadGen's accuracy log holds real predictions. The
per-sample path is kept out of Python where the profile found it (docs/performance.md, "Issue 19"): a Server
worker is woken once per batch, and responses are preallocated per worker.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import mlperf_loadgen as lg
import numpy as np

Predict = Callable[..., np.ndarray]
"""``predict(*inputs) -> responses``: one array per task input (n rows each) -> n response rows (C-contiguous)."""
CHUNK = 1024
"""Offline: samples per work item (a whole number of model batches)."""
SERVER_SWITCH_INTERVAL_S = 0.0002


class InMemory:
    """Samples already in memory (tests, benchmarks): one array, or one array per input."""

    def __init__(self, *arrays: np.ndarray):
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def rows(self, indices: np.ndarray) -> list[np.ndarray]:
        return [a[indices] for a in self.arrays]


def as_source(samples: Any) -> Any:
    """A sample source: anything with ``len()`` and ``rows(indices) -> one array per input``."""
    return InMemory(samples) if isinstance(samples, np.ndarray) else samples


class SampleLibrary:
    """The QSL: sample ``i`` is row ``i`` of the source (benchwright.data.store.Split); LoadGen's load callback
    reads exactly the requested rows into one contiguous array per input, unload drops them."""

    def __init__(self, samples: Any, performance_sample_count: int):
        source = as_source(samples)
        if performance_sample_count > len(source):
            raise ValueError(f"performance_sample_count {performance_sample_count} exceeds the {len(source)} "
                             "samples of the dataset")
        self.source = source
        self.performance_sample_count = performance_sample_count
        self._absent = len(source)  # the row of a sample not in memory: past the end of every loaded array
        self._rows = np.full(len(source), self._absent, dtype=np.int64)
        self._ram: list[Any] = []
        self.qsl = lg.ConstructQSL(len(source), performance_sample_count, self.load, self.unload)

    def load(self, indices: Sequence[int]) -> None:
        idx = np.asarray(indices, dtype=np.int64)
        self._ram = []  # the previous set goes before the next one is read
        self._ram = self.source.rows(idx)
        self._rows[:] = self._absent
        self._rows[idx] = np.arange(len(idx))

    def unload(self, indices: Sequence[int]) -> None:
        self._rows[np.asarray(indices, dtype=np.int64)] = self._absent
        if (self._rows == self._absent).all():
            self._ram = []

    def batch(self, indices: np.ndarray) -> list[Any]:
        """The inputs of samples ``indices``, one array (or list, for ragged inputs) per task input. A sample that
        was not loaded has a row past the end, so indexing itself raises: no check on the per-batch path."""
        rows = self._rows[indices]
        try:
            if not self._ram:
                raise IndexError
            return [col[rows] if isinstance(col, np.ndarray) else [col[r] for r in rows] for col in self._ram]
        except IndexError:
            raise RuntimeError("LoadGen asked for samples that were not loaded: "
                               f"{indices[rows == self._absent][:5]}") from None

    @property
    def resident_bytes(self) -> int:
        return sum(c.nbytes if isinstance(c, np.ndarray) else sum(x.nbytes for x in c) for c in self._ram)

    def close(self) -> None:
        lg.DestroyQSL(self.qsl)


class Inbox:
    """Server's incoming samples, gathered into batches: a deque that LoadGen's issuing thread appends to, and a
    gatherer that sleeps until the batch it waits for is there.

    The issuing thread pays one ``deque.extend`` per query, and it wakes the gatherer only when the gatherer's
    need is met: its first sample, then a full batch. So a batch costs two thread wake-ups, not one per query,
    and the per-query path holds no Python-level lock (a ``threading.Condition`` is Python code, and its
    ``notify`` per query was the largest cost of the issuing thread). The wake-up is a plain lock used as a
    binary semaphore; ``Lock.acquire(timeout)`` returns at its timeout, unlike ``queue.SimpleQueue.get(timeout)``
    with two consumers, which can wait forever after a lost race (it held 11 samples at the end of a Server run).
    """

    def __init__(self) -> None:
        self._items: deque[tuple[int, int]] = deque()
        self._gathering = threading.Lock()  # one gatherer at a time: a batch fills before the next one starts
        self._wake = threading.Lock()
        self._wake.acquire()  # released (by put_many or close) to wake the gatherer
        self._need = 0  # > 0 while the gatherer sleeps until that many samples are in
        self._closed = False

    def put_many(self, items: Iterable[tuple[int, int]]) -> None:
        self._items.extend(items)
        need = self._need
        if need and len(self._items) >= need:
            self._signal()

    def _signal(self) -> None:
        self._need = 0
        try:
            self._wake.release()
        except RuntimeError:  # already released and not yet taken: the gatherer wakes either way
            pass

    def close(self) -> None:
        """No more samples: gather() returns what is left, then None."""
        self._closed = True
        self._signal()

    def _wait(self, need: int, timeout: float | None) -> None:
        """Sleep until ``need`` samples are in, ``timeout`` seconds pass, or close(); may return early."""
        items = self._items
        if len(items) >= need or self._closed:
            return
        self._need = need
        if len(items) < need and not self._closed:  # re-checked: a put between the check and the flag
            if timeout is None:
                self._wake.acquire()
            else:
                self._wake.acquire(timeout=timeout)
        self._need = 0

    def gather(self, size: int, timeout: float) -> tuple[list[int], list[int]] | None:
        """Wait for a sample, then take up to ``size`` samples until ``timeout`` seconds after the first one; the
        (ids, indices) of the batch, or None once closed and empty. The model runs outside, in parallel."""
        with self._gathering:
            items = self._items
            while not items:
                if self._closed:
                    return None
                self._wait(1, None)
            deadline = time.monotonic() + timeout
            while len(items) < size and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wait(size, remaining)
            batch = [items.popleft() for _ in range(min(size, len(items)))]
        return [i for i, _ in batch], [j for _, j in batch]


class Responses:
    """One worker's preallocated answers: a buffer of response rows and one QuerySampleResponse per row, pointing
    into it. A batch copies its rows in and sets only the responses' ids, which costs a third of building new
    response objects per sample (the largest per-sample cost of the SUT in Offline). LoadGen copies what it logs
    inside QuerySamplesComplete, so buffer and responses are reused as soon as it returns."""

    def __init__(self) -> None:
        self._buffer = np.empty(0, dtype=np.uint8)
        self._list: list[Any] = []
        self._row_bytes = -1

    def complete(self, ids: list[int], predictions: np.ndarray) -> None:
        """Answer sample ``ids[k]`` with row ``k`` of ``predictions`` (a class id per sample goes as int32)."""
        n = len(ids)
        if predictions.dtype.kind in "iu" and predictions.ndim == 1:
            predictions = predictions.astype("<i4", copy=False)
        row_bytes = predictions.nbytes // n if n else 0
        if n > len(self._list) or row_bytes != self._row_bytes:
            self._allocate(max(n, CHUNK), row_bytes)
        self._buffer[:n * row_bytes] = np.ascontiguousarray(predictions).reshape(-1).view(np.uint8)
        responses = self._list[:n]
        deque(map(setattr, responses, repeat("id"), ids), 0)  # the loop runs in C
        lg.QuerySamplesComplete(responses)

    def _allocate(self, rows: int, row_bytes: int) -> None:
        self._buffer = np.empty(rows * row_bytes, dtype=np.uint8)
        base = self._buffer.ctypes.data
        addresses = range(base, base + rows * row_bytes, row_bytes) if row_bytes else repeat(base, rows)
        self._list = list(map(lg.QuerySampleResponse, repeat(0, rows), addresses, repeat(row_bytes, rows)))
        self._row_bytes = row_bytes


@dataclass
class Counters:
    issued: int = 0
    completed: int = 0
    batches: int = 0


class BatchingSUT:
    """LoadGen's "fast" SUT: LoadGen hands over each query as two lists of ints (response ids, sample indices),
    converted in C++, so no Python code touches a QuerySample object.

    Offline's query is cut into batches of ``batch_size`` on the work queue. For Server (``gather``), every
    sample goes into the :class:`Inbox` and the workers take turns gathering a batch from it (up to
    ``batch_size``, or until ``batching_timeout_us`` after the batch's first sample), then run it: one thread
    hand-off per query, not two.
    Counters are kept per thread (no lock on the per-batch path) and summed on reading. ``predict`` is one
    predictor for every worker, or a list of them, one per worker (``threads`` is then its length).
    """

    def __init__(self, predict: Predict | Sequence[Predict], library: SampleLibrary, *, batch_size: int,
                 threads: int, batching_timeout_us: int = 0, gather: bool = False):
        self.predictors = list(predict) if isinstance(predict, (list, tuple)) else [predict] * threads
        threads = len(self.predictors)
        self.library = library
        self.batch_size = batch_size
        self.timeout = batching_timeout_us / 1e6
        self.gather = gather
        self._issued = 0  # written by LoadGen's issuing thread only
        self._done = [[0, 0] for _ in range(threads)]  # per worker: samples completed, batches
        self._work: queue.SimpleQueue = queue.SimpleQueue()  # only blocking get(): no timeout to miscompute
        self._incoming = Inbox()
        self._errors: list[BaseException] = []
        self._responses = [Responses() for _ in range(threads)]
        self._switch = sys.getswitchinterval()
        if gather:
            # Server: a query waits for the GIL in LoadGen's issuing thread while a worker runs Python; the
            # interpreter's default 5 ms switch interval would put that wait into the query's latency.
            sys.setswitchinterval(SERVER_SWITCH_INTERVAL_S)
        target = self._gathering_worker if gather else self._worker
        self._workers = [threading.Thread(target=target, args=(i,), name=f"sut-worker-{i}", daemon=True)
                         for i in range(threads)]
        for w in self._workers:
            w.start()
        self.sut = lg.ConstructFastSUT(self.issue_queries, self.flush_queries)

    @property
    def counters(self) -> Counters:
        return Counters(issued=self._issued, completed=sum(d[0] for d in self._done),
                        batches=sum(d[1] for d in self._done))

    # LoadGen callbacks ---------------------------------------------------------------------------------------
    def issue_queries(self, ids: list[int], indices: list[int]) -> None:
        n = len(ids)
        self._issued += n
        if self.gather:
            self._incoming.put_many(zip(ids, indices))
            return
        # Work items of several model batches (up to CHUNK samples, at least one per worker): the model still
        # sees batches of batch_size, but the Python around it (gather, responses, completion) runs per item.
        per_worker = -(-n // len(self._workers))
        size = max(self.batch_size, min(per_worker, CHUNK) // self.batch_size * self.batch_size)
        for i in range(0, n, size):
            self._work.put((ids[i:i + size], indices[i:i + size]))

    def flush_queries(self) -> None:
        pass

    # threads -------------------------------------------------------------------------------------------------
    def _worker(self, slot: int) -> None:
        get = self._work.get
        while True:
            batch = get()
            if batch is None:
                self._work.put(None)  # let the other workers stop too
                return
            self._answer(slot, *batch)

    def _gathering_worker(self, slot: int) -> None:
        gather, size, timeout = self._incoming.gather, self.batch_size, self.timeout
        while (batch := gather(size, timeout)) is not None:
            self._answer(slot, *batch)

    def _answer(self, slot: int, ids: list[int], indices: list[int]) -> None:
        n = len(ids)
        try:
            rows = np.fromiter(indices, dtype=np.int64, count=n)
            bs, predict, batch = self.batch_size, self.predictors[slot], self.library.batch
            if n <= bs:
                predictions = predict(*batch(rows))
            else:  # gathered one model batch at a time: a copy of the whole item would leave the CPU cache
                predictions = np.concatenate([predict(*batch(rows[j:j + bs])) for j in range(0, n, bs)])
            self._responses[slot].complete(ids, predictions)
        except BaseException as exc:  # noqa: BLE001 - reported by close(); LoadGen would hang otherwise
            self._errors.append(exc)
            print(f"benchwright: the model failed on a batch: {exc!r}", file=sys.stderr, flush=True)
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])
        done = self._done[slot]
        done[0] += n
        done[1] += -(-n // self.batch_size)

    def close(self) -> None:
        if self.gather:
            self._incoming.close()
        else:
            self._work.put(None)
        for w in self._workers:
            w.join(timeout=10)
        lg.DestroyFastSUT(self.sut)
        sys.setswitchinterval(self._switch)
        if self._errors:
            raise RuntimeError(f"the model failed on {len(self._errors)} batch(es); first: {self._errors[0]!r}")
