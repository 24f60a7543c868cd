"""What runs inside a Dask worker: one structure per task, predicted by a persistent pocknet worker child.

Why a child and not the task's own thread: a thread cannot be stopped inside C code
and cannot have its own memory limit, so a hang or a memory blow-up would take the
Dask worker (and every task on it) down. Each Dask worker thread therefore drives one
worker process of :mod:`pocknet.predict.workers` (forkserver, model loaded once, dies
with its parent, ``RLIMIT_AS`` bound): the task sends the job, waits up to the time
limit, and on a timeout or the child's death kills it and records the structure as
failed; the next task starts a fresh child. The Dask worker itself never loads torch
and survives. Idle children are pooled per configuration, at most one per thread.

Outputs: a local output folder (one every worker sees at the same path) is written
by the child exactly as in a local batch (atomic files, completion marker last). For
an fsspec URL (``s3://…``) the child writes into a staging folder of this Dask worker
and the task uploads the set, completion marker last, then removes the staged files.

Nothing here imports Dask: the client pickles :func:`run_task` by reference.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pocknet import __version__
from pocknet.errors import PockNetError
from pocknet.predict.failures import _one_line
from pocknet.predict.jobs import JobResult, PredictJob
from pocknet.predict.workers import _context, _Slot, _WorkerConfig

__all__ = [
    "TaskOutcome",
    "release_idle",
    "run_task",
    "worker_version",
]

_pool_lock = threading.Lock()
_spawn_lock = threading.Lock()


class _Child:
    """A pooled worker child and, for an fsspec output, its own staging folder (one job at a time)."""

    def __init__(self, key: tuple[_WorkerConfig, str | None]) -> None:
        config, out_url = key
        self.key = key
        self.staging = tempfile.mkdtemp(prefix="pocknet-staging-") if out_url is not None else None
        self.slot = _spawn(replace(config, out_dir=self.staging) if self.staging else config)

    def clear_staging(self) -> None:
        if self.staging is not None:
            for entry in os.scandir(self.staging):
                Path(entry.path).unlink(missing_ok=True)

    def kill(self) -> None:
        self.slot.kill()
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)


_idle: list[_Child] = []


def worker_version() -> str:
    """pocknet's version in this Dask worker (the client refuses workers that differ)."""
    return __version__


def _spawn(config: _WorkerConfig) -> _Slot:
    """A new child; allowed even in a daemonic Dask worker (Nanny-started workers are daemonic).

    multiprocessing refuses children of daemonic processes because they could be
    orphaned; ours cannot: each dies with the forkserver, which dies with this
    process (:mod:`pocknet.predict.workers`). So the flag is lifted for the start only.
    """
    with _spawn_lock:
        process = mp.current_process()
        daemonic = bool(process.daemon)
        if daemonic:
            process._config["daemon"] = False  # type: ignore[attr-defined]
        try:
            return _Slot(_context(), config)
        finally:
            if daemonic:
                process._config["daemon"] = True  # type: ignore[attr-defined]


def _take(key: tuple[_WorkerConfig, str | None]) -> _Child:
    """An idle child for this run's settings, else a new one; idle children of other runs are freed."""
    chosen: _Child | None = None
    with _pool_lock:
        for i, child in enumerate(_idle):
            if child.key == key:
                chosen = _idle.pop(i)
                break
        stale = [child for child in _idle if child.key != key]
        _idle[:] = [child for child in _idle if child.key == key]
    for child in stale:
        child.kill()
    if chosen is not None and chosen.slot.process.is_alive():
        return chosen
    if chosen is not None:
        chosen.kill()
    return _Child(key)


def _give_back(child: _Child) -> None:
    with _pool_lock:
        _idle.append(child)


def release_idle() -> int:
    """Stop every idle child of this Dask worker (the end of a run): their memory goes back to the cluster."""
    with _pool_lock:
        children = list(_idle)
        _idle.clear()
    for child in children:
        child.kill()
    return len(children)


def _receive(slot: _Slot, timeout: float | None) -> tuple[Any, ...] | None:
    """The child's next message; ``None`` when ``timeout`` passed first; ``("died", why)`` at its death."""
    if timeout is not None and not slot.conn.poll(max(0.0, timeout)):
        return None
    try:
        return slot.conn.recv()
    except (EOFError, OSError):
        return ("died", slot.reap())


def _wait_ready(slot: _Slot) -> None:
    """Block until the child has loaded the model (not part of a structure's time limit, as locally)."""
    while not slot.ready:
        message = _receive(slot, None)
        assert message is not None
        if message[0] == "ready":
            slot.ready = True
        elif message[0] == "fatal":  # a bad model file: the client ends the run with this line
            slot.kill()
            raise PockNetError(message[1])
        else:
            slot.kill()
            raise PockNetError(f"{message[1]} while loading the model")


def _upload(result: JobResult, out_url: str) -> JobResult:
    """Copy a staged set to ``out_url``, its completion marker last.

    The set's old markers are removed first, so until the new marker lands the set
    reads as incomplete (the local folder's rule); each file is one ``put_file``,
    which object stores make visible only once complete.
    """
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(out_url)
        root = root.rstrip("/")
        name = result.job.name
        for marker in (f"{name}.json", f"{name}.done"):
            if fs.exists(f"{root}/{marker}"):
                fs.rm_file(f"{root}/{marker}")
        remote = []
        for path in map(Path, result.files):  # write_prediction_set lists the marker last
            target = f"{root}/{path.name}"
            fs.put_file(str(path), target)
            remote.append(fs.unstrip_protocol(target))
    except Exception as exc:  # noqa: BLE001 - any fsspec backend's error is this structure's one line
        detail = _one_line(str(exc)) or type(exc).__name__
        return JobResult(
            result.job, ok=False, error=f"{result.job.path}: cannot write outputs to {out_url}: {detail}"
        )
    return replace(result, files=remote)


def _predict(job: PredictJob, child: _Child, timeout: float) -> tuple[JobResult, float, bool]:
    """Run one job on ``child``: its result, seconds (hand-over to answer) and whether the child lives on."""
    slot = child.slot
    _wait_ready(slot)
    start = time.monotonic()
    try:
        slot.conn.send(job)
    except OSError:
        message: tuple[Any, ...] | None = ("died", slot.reap())
    else:
        message = _receive(slot, None if timeout == float("inf") else timeout)
    seconds = time.monotonic() - start
    if message is None:  # a hang in C code cannot be interrupted any other way
        return (
            JobResult(job, ok=False, error=f"{job.path}: timed out after {timeout:g} s (worker killed)"),
            seconds,
            False,
        )
    if message[0] == "done":  # after running out of memory (message[2]) a library may be half-initialised
        return message[1], seconds, not message[2]
    return JobResult(job, ok=False, error=f"{job.path}: {message[1]}"), seconds, False


@dataclass(frozen=True)
class TaskOutcome:
    """What a task returns: the structure's result and seconds, or ``fatal``: the model cannot be loaded.

    A value, not an exception: a raised one would also be logged by every Dask worker, traceback and all.
    """

    result: JobResult | None
    seconds: float = 0.0
    fatal: str = ""


def run_task(
    job: PredictJob, config: _WorkerConfig, timeout: float, out_url: str | None = None
) -> TaskOutcome:
    """The Dask task: predict ``job`` and write its outputs; a structure's failure is its result.

    Only a model no child can load is ``fatal`` (the client ends the run with it, as the
    first worker's report does locally).
    """
    child = _take((config, out_url))
    keep = False
    try:
        result, seconds, keep = _predict(job, child, timeout)
        if out_url is not None and result.ok:
            result = _upload(result, out_url)
    except PockNetError as exc:  # from _wait_ready: the model
        return TaskOutcome(None, fatal=str(exc))
    finally:
        if keep:
            child.clear_staging()
            _give_back(child)
        else:
            child.kill()
    return TaskOutcome(result, seconds)
