"""LoadGen's query sample library (QSL) and system under test (SUT) around a batch predictor.

The QSL reads only the samples LoadGen loads (the performance sample set, or one chunk of an accuracy run) from
the preprocessed files into one contiguous array per input; the dataset itself stays on disk. The SUT puts queries
on a work queue as batches of up to ``batch_size`` samples: Offline's single huge query is cut into batches;
Server's queries, which arrive one by one, are gathered by the workers themselves until the batch is full or
``batching_timeout_us`` has passed since its first sample. Each worker runs its own predictor (one per accelerator
on GPU SKUs, one shared model on the CPU) and answers every sample with the task's response row (image
classification: the class as a little-endian int32), so LoadGen's accuracy log holds real predictions.
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
        self._rows = np.full(len(source), -1, dtype=np.int64)
        self._ram: list[Any] = []
        self.qsl = lg.ConstructQSL(len(source), performance_sample_count, self.load, self.unload)

    def load(self, indices: Sequence[int]) -> None:
        idx = np.asarray(indices, dtype=np.int64)
        self._ram = []  # the previous set goes before the next one is read
        self._ram = self.source.rows(idx)
        self._rows[:] = -1
        self._rows[idx] = np.arange(len(idx))

    def unload(self, indices: Sequence[int]) -> None:
        self._rows[np.asarray(indices, dtype=np.int64)] = -1
        if not (self._rows >= 0).any():
            self._ram = []

    def batch(self, indices: np.ndarray) -> list[Any]:
        rows = self._rows[indices]
        if (rows < 0).any():
            raise RuntimeError(f"LoadGen asked for samples that were not loaded: {indices[rows < 0][:5]}")
        return [col[rows] if isinstance(col, np.ndarray) else [col[r] for r in rows] for col in self._ram]

    @property
    def resident_bytes(self) -> int:
        return sum(c.nbytes if isinstance(c, np.ndarray) else sum(x.nbytes for x in c) for c in self._ram)

    def close(self) -> None:
        lg.DestroyQSL(self.qsl)


class Inbox:
    """Server's incoming samples, gathered into batches: a deque under a condition.

    Not ``queue.SimpleQueue``: its ``get(timeout=...)`` can block far past the timeout. When two threads wait on it
    and one item arrives, the one that loses the race recomputes its timeout, finds it negative and, in CPython's C
    code, a negative timeout means "wait forever": it then waits for the next put, holding the samples it gathered.
    At the end of a Server run no put comes, and the run hung (twice in this project's runs: 11 samples never
    completed; reproduced in 1 of 100 trials of 2,000 items with two gathering threads, Python 3.11.7).
    ``threading.Condition.wait(timeout)`` returns at its timeout.
    """

    def __init__(self) -> None:
        self._items: deque[tuple[int, int]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._gathering = threading.Lock()
        self._closed = False

    def put_many(self, items: Iterable[tuple[int, int]]) -> None:
        with self._cond:
            self._items.extend(items)
            self._cond.notify()

    def close(self) -> None:
        """No more samples: gather() returns what is left, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def gather(self, size: int, timeout: float) -> tuple[list[int], list[int]] | None:
        """Wait for a sample, then take up to ``size`` samples until ``timeout`` seconds after the first one; the
        (ids, indices) of the batch, or None once closed and empty. One thread gathers at a time, so a batch fills
        before the next one starts; the model runs outside, in parallel."""
        with self._gathering, self._cond:
            items, batch = self._items, []
            while not items:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + timeout
            while True:
                batch.extend(items.popleft() for _ in range(min(size - len(batch), len(items))))
                remaining = deadline - time.monotonic()
                if len(batch) == size or self._closed or remaining <= 0:
                    break
                if not self._cond.wait(remaining) and not items:  # timed out with nothing new
                    break
            return [i for i, _ in batch], [j for _, j in batch]


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
                predictions = np.ascontiguousarray(predict(*batch(rows)))
            else:  # gathered one model batch at a time: a copy of the whole item would leave the CPU cache
                predictions = np.ascontiguousarray(
                    np.concatenate([predict(*batch(rows[j:j + bs])) for j in range(0, n, bs)]))
            if predictions.dtype.kind in "iu" and predictions.ndim == 1:
                predictions = predictions.astype("<i4", copy=False)  # a class id per sample
            base, size = predictions.ctypes.data, predictions.nbytes // n
            # map() runs the loop in C: one QuerySampleResponse per sample, pointing into predictions
            responses = list(map(lg.QuerySampleResponse, ids, range(base, base + n * size, size), repeat(size, n)))
            lg.QuerySamplesComplete(responses)  # copies what it logs before returning; predictions stays alive
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
