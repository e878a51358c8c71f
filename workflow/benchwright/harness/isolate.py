"""Run a function in a new Python process (spawn) and return its result or raise its exception.

LoadGen applies its built-in mlperf.conf only on the first ``TestSettings.FromConfig`` of a process: every later
settings object silently gets LoadGen's defaults (seed 0, 10 s minimum duration) and the run logs "Multiple conf
files are used". So every LoadGen run whose settings matter runs in a process of its own.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ChildProcessDied(RuntimeError):
    pass


def _child(conn: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    try:
        result: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        result = ("error", exc)
    try:
        conn.send(result)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        conn.send(("error", RuntimeError(f"{result[0]}: {result[1]!r} (could not be sent back: {exc})")))


def call_in_fresh_process(fn: Callable[..., T], *args: Any, start_method: str = "spawn",
                          preload: tuple[str, ...] = (), **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a new process that has run no LoadGen test; ``fn`` and its arguments must be
    picklable. ``start_method`` "forkserver" forks from a clean server that imported ``preload`` once (faster
    than spawning when many runs follow each other, as in tests)."""
    if start_method not in ("spawn", "forkserver"):
        raise ValueError(f"start_method must be 'spawn' or 'forkserver', got {start_method!r}")
    ctx = multiprocessing.get_context(start_method)
    if start_method == "forkserver" and preload:
        ctx.set_forkserver_preload(list(preload))  # used when the forkserver starts, ignored after
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, kwargs), name=getattr(fn, "__name__", "child"))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        proc.join()
        raise ChildProcessDied(f"the process running {getattr(fn, '__name__', fn)} died "
                               f"(exit code {proc.exitcode})") from None
    finally:
        parent.close()
    proc.join()
    if status == "error":
        raise payload
    return payload


FORKSERVER_PRELOAD = ("torch", "torch.distributed.tensor", "mlperf_loadgen", "benchwright.harness.run",
                      "benchwright.harness.steps", "benchwright.harness.workload", "benchwright.harness.compliance")
"""Modules a forkserver imports once (start_method="forkserver"): each run then starts in well under a second."""


def run_model(spec: Any, model_dir: str, data_dir: str, run_dir: str, audit: str | None = None,
              wrap_predictor: Callable[[Any], Any] | None = None) -> Any:
    """Load the run's workload and run LoadGen once in this process; returns run.RunOutcome. A benchmark with an
    external harness runs its command instead (benchwright.harness.external)."""
    if spec.model.harness is not None:
        return _external(spec, model_dir, data_dir, run_dir, audit, wrap_predictor)
    if spec.model.task == "text_generation":
        from .generation import run_generation

        if wrap_predictor is not None:
            raise ValueError("a text-generation run has a generator, not a predictor to wrap")
        return run_generation(spec, model_dir, data_dir, run_dir, audit)
    from .run import run_loadgen
    from .workload import load_workload

    work = load_workload(spec, model_dir, data_dir)
    predictors = work.predictors
    if wrap_predictor is not None:  # one wrapper per model replica, shared by the workers that share the replica
        wrapped = {id(p): wrap_predictor(p) for p in dict.fromkeys(predictors)}
        predictors = [wrapped[id(p)] for p in predictors]
    outcome = run_loadgen(spec, predictors, work.samples, run_dir, audit_config=audit)
    outcome.backend = work.backend
    return outcome


def run_isolated(spec: Any, model_dir: Any, data_dir: Any, run_dir: Any, *, audit: str | None = None,
                 wrap_predictor: Callable[[Any], Any] | None = None, start_method: str = "spawn") -> Any:
    """One LoadGen run of the model in a fresh process (the one way every LoadGen run of a model is started);
    its logs land in ``run_dir``. ``audit``: an audit.config text. ``wrap_predictor``: a picklable callable applied
    to each loaded predictor in the LoadGen process (tests use it to model a SUT that caches results or answers
    differently in performance mode). ``start_method="forkserver"`` reuses a process that imported torch once."""
    if spec.model.harness is not None:  # a process of its own already
        return _external(spec, model_dir, data_dir, run_dir, audit, wrap_predictor)
    return call_in_fresh_process(run_model, spec, str(model_dir), str(data_dir), str(run_dir), audit, wrap_predictor,
                                 start_method=start_method, preload=FORKSERVER_PRELOAD)


def _external(spec: Any, model_dir: Any, data_dir: Any, run_dir: Any, audit: str | None,
              wrap_predictor: Callable[[Any], Any] | None) -> Any:
    from .external import run_external

    if wrap_predictor is not None:
        raise ValueError("an external harness runs its own model: there is no predictor to wrap")
    return run_external(spec, model_dir, data_dir, run_dir, audit)
