"""LoadGen's SUT for text generation, with LoadGen's token API as MLCommons' LLM reference implementations use it:
the run sets ``use_token_latencies``; when a request's first token is out the SUT calls ``lg.FirstTokenComplete``
with it, and at completion ``lg.QuerySamplesComplete`` with every generated token (int32, little-endian) and their
count, so LoadGen measures time to first token (TTFT), time per output token (TPOT) and tokens per second.

Offline's query is cut into batches of ``batch_size`` requests on a work queue; Server's requests are gathered
from the :class:`~benchwright.harness.sut.Inbox` as for the batching SUT. Each worker decodes its batch with a
generator (benchwright.backends.generate) that reports every token.
"""

from __future__ import annotations

import array
import os
import queue
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlperf_loadgen as lg
import numpy as np

from .sut import Counters, Inbox, SampleLibrary


def _response(response_id: int, tokens: np.ndarray, n_tokens: int | None = None) -> tuple[Any, array.array]:
    """A QuerySampleResponse pointing at ``tokens`` as int32 bytes; the buffer must stay alive until LoadGen returns."""
    data = array.array("B", np.ascontiguousarray(tokens, dtype="<i4").tobytes())
    address, length = data.buffer_info()
    if n_tokens is None:
        return lg.QuerySampleResponse(response_id, address, length), data
    return lg.QuerySampleResponse(response_id, address, length, n_tokens), data


class StreamingSUT:
    """``generator.generate(prompts, max_new_tokens, on_token)`` answers batches of prompts, each prompt the
    sample library's first input row (int token ids)."""

    def __init__(self, generator: Any, library: SampleLibrary, *, batch_size: int, threads: int = 1,
                 max_new_tokens: int, batching_timeout_us: int = 0, gather: bool = False,
                 serve_in_caller: bool = False):
        self.generator, self.library = generator, library
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        self.timeout, self.gather = batching_timeout_us / 1e6, gather
        self._issued = 0
        self._done = [[0, 0, 0] for _ in range(threads)]  # per worker: requests, batches, tokens
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._incoming = Inbox()
        self._errors: list[BaseException] = []
        self._stopped = False
        self._serve = self._gathering_worker if gather else self._worker
        # serve_in_caller: worker 0 is the thread that calls serve() (see there); the others are threads of their own
        self._workers = [threading.Thread(target=self._serve, args=(i,), name=f"sut-generate-{i}", daemon=True)
                         for i in range(1 if serve_in_caller else 0, threads)]
        for w in self._workers:
            w.start()
        self.sut = lg.ConstructFastSUT(self.issue_queries, self.flush_queries)

    def serve(self, start_test: Any) -> None:
        """Run ``start_test()`` (LoadGen's StartTest) in a thread of its own and worker 0 in the calling thread until
        the test ends (``serve_in_caller=True``). torch generates about 10-40 % slower from a thread other than the
        one that loaded and warmed the model (measured here: 1,215-1,607 against 1,765-2,175 tokens/s, OpenMP
        thread teams per calling thread), so the thread that loaded the model should be the one that runs it."""
        failure: list[BaseException] = []

        def run() -> None:
            try:
                start_test()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                failure.append(exc)
            finally:
                self._stop()

        test = threading.Thread(target=run, name="loadgen-test", daemon=True)
        test.start()
        self._serve(0)
        test.join()
        if failure:
            raise failure[0]

    @property
    def counters(self) -> Counters:
        return Counters(issued=self._issued, completed=sum(d[0] for d in self._done),
                        batches=sum(d[1] for d in self._done))

    @property
    def tokens(self) -> int:
        """Tokens generated so far, all workers together."""
        return sum(d[2] for d in self._done)

    def issue_queries(self, ids: list[int], indices: list[int]) -> None:
        self._issued += len(ids)
        if self.gather:
            self._incoming.put_many(zip(ids, indices))
            return
        for i in range(0, len(ids), self.batch_size):
            self._work.put((ids[i:i + self.batch_size], indices[i:i + self.batch_size]))

    def flush_queries(self) -> None:
        pass

    def _worker(self, slot: int) -> None:
        while (batch := self._work.get()) is not None:
            self._answer(slot, *batch)
        self._work.put(None)  # let the other workers stop too

    def _stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            if self.gather:
                self._incoming.close()
            else:
                self._work.put(None)

    def _gathering_worker(self, slot: int) -> None:
        while (batch := self._incoming.gather(self.batch_size, self.timeout)) is not None:
            self._answer(slot, *batch)

    def _prompts(self, indices: Sequence[int]) -> list[np.ndarray]:
        return list(self.library.batch(np.asarray(indices, dtype=np.int64))[0])

    def _answer(self, slot: int, ids: list[int], indices: list[int]) -> None:
        started = [False] * len(ids)
        answered = False

        def on_token(request: int, token: int) -> None:
            # Never after the batch is answered: LoadGen has released those requests (a late call would crash it).
            if not started[request] and not answered:
                started[request] = True
                response, data = _response(ids[request], np.asarray([token]))
                lg.FirstTokenComplete([response])
                del data  # LoadGen copied what it needs before returning

        try:
            if self._errors:  # the run has failed already: answer at once instead of waiting on a broken model
                raise RuntimeError("not run: an earlier batch failed")
            outputs = self.generator.generate(self._prompts(indices), self.max_new_tokens, on_token)
            answered = True
            responses, buffers = [], []
            for request_id, tokens in zip(ids, outputs):
                response, data = _response(request_id, tokens, len(tokens))
                responses.append(response)
                buffers.append(data)
            lg.QuerySamplesComplete(responses)
            tokens_out = sum(len(t) for t in outputs)
        except BaseException as exc:  # noqa: BLE001 - reported by close(); LoadGen would hang otherwise
            if not self._errors:
                print(f"benchwright: generation failed on a batch: {exc!r}; the run's other requests are answered "
                      "empty at once and the run fails", file=sys.stderr, flush=True)
            self._errors.append(exc)
            answered = True
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0, 0) for i in ids])
            tokens_out = 0
        done = self._done[slot]
        done[0] += len(ids)
        done[1] += 1
        done[2] += tokens_out

    def close(self) -> None:
        self._stop()
        for w in self._workers:
            w.join(timeout=30)
        lg.DestroyFastSUT(self.sut)
        if self._errors:
            raise RuntimeError(f"generation failed on {len(self._errors)} batch(es); first: {self._errors[0]!r}")


def load_generator(spec: Any, model_dir: str | os.PathLike[str]) -> Any:
    """The run's generator: the transformers model folder ``model_dir`` on the run's first device, or the
    benchmark's OpenAI-compatible endpoint (``backend: endpoint``), counting tokens with ``model_dir``'s
    tokenizer.json."""
    m = spec.model
    if m.endpoint is not None:
        from ..backends.endpoint import EndpointGenerator

        e = m.endpoint
        return EndpointGenerator(e.base_url, e.model, Path(model_dir) / "tokenizer.json", api_key_env=e.api_key_env,
                                 timeout_s=e.timeout_s, max_retries=e.max_retries, concurrency=e.concurrency)
    from ..backends.generate import TransformersGenerator
    from ..devices import require_device
    from .workload import cores

    if m.visible_devices and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = m.visible_devices  # before CUDA initialises
    device = m.devices[0]
    require_device(device, sku=spec.system)
    threads = m.intra_op_threads or max(1, cores() // (spec.threads if device == "cpu" else 1))
    return TransformersGenerator(model_dir, device=device, threads=threads)


def run_generation(spec: Any, model_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str],
                   run_dir: str | os.PathLike[str], audit_config: str | None = None,
                   emit: Any = None) -> Any:
    """One LoadGen run of a text-generation benchmark in this process, token latencies on: the prompts of the
    validation split through a :class:`StreamingSUT`. LoadGen runs in a thread of its own and worker 0 in this one
    (the thread that loaded the model; see :meth:`StreamingSUT.serve`). Returns run.RunOutcome."""
    from ..tasks import get_task
    from .run import _stderr

    emit = emit or _stderr
    out = Path(run_dir)
    task = get_task(spec.model.task, spec.model.task_parameters)
    max_new_tokens = int(task.settings["max_new_tokens"])
    generator = load_generator(spec, model_dir)
    try:
        return _run(spec, generator, max_new_tokens, data_dir, out, audit_config, emit)
    finally:
        close = getattr(generator, "close", None)  # an endpoint's connections and threads
        if close is not None:
            close()


def _run(spec: Any, generator: Any, max_new_tokens: int, data_dir: str | os.PathLike[str], out: Path,
         audit_config: str | None, emit: Any) -> Any:
    import time

    from ..data.store import Split
    from ..power import EnergyMeter
    from .run import Progress, RunOutcome, _cwd, prepare_run, run_label
    from .scenarios import policy

    samples = Split(data_dir, "val", ["prompt"])
    prompts = samples.rows(np.arange(len(samples)))[0]
    check = getattr(generator, "check_prompts", None)  # an endpoint knows its own context
    if check is not None:
        check([len(p) for p in prompts], max_new_tokens, where=f"the prompts of {Path(data_dir) / 'val_prompt.npy'}")
    described = generator.describe()
    identity = getattr(generator, "identity", None)
    if identity is not None:  # the served model and the server's version, for the run's provenance
        described["served"] = identity()
    settings, log_settings = prepare_run(spec, out, audit_config)
    warm = time.monotonic()
    generator.generate(list(prompts[:spec.batch_size]), max_new_tokens)  # untimed, caches nothing
    emit(f"warm-up: one batch of {min(spec.batch_size, len(prompts))} prompts in {time.monotonic() - warm:.2f} s")
    library = SampleLibrary(samples, min(spec.performance_sample_count, len(samples)))
    sut = StreamingSUT(generator, library, batch_size=spec.batch_size, threads=spec.threads,
                       max_new_tokens=max_new_tokens, batching_timeout_us=spec.batching_timeout_us,
                       gather=policy(spec.scenario).gathers_queries, serve_in_caller=True)
    start = time.monotonic()
    meter = EnergyMeter()
    try:
        with _cwd(out), Progress(run_label(spec), sut, settings.min_duration_ms / 1000, spec.progress_interval_s,
                                 emit), meter:
            sut.serve(lambda: lg.StartTestWithLogSettings(sut.sut, library.qsl, settings, log_settings))
    finally:
        try:
            sut.close()
        finally:
            library.close()
    c = sut.counters
    return RunOutcome(out, time.monotonic() - start, c.issued, c.completed, c.batches, meter.result(c.completed),
                      backend=described, tokens=sut.tokens)
