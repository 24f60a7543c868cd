"""Predict many structures: worker processes, a time and memory limit per structure, failures listed.

Each worker (:mod:`pocknet.predict.workers`) loads the model once and handles one
structure at a time. A structure that exceeds the time limit gets its worker killed
(a hang in C code cannot be interrupted any other way) and is reported as failed; a
fresh worker takes its place, so one pathological entry never stalls a batch. The same
holds for a structure that runs out of the worker's memory (``--max-memory``,
an address-space limit set in the worker only). The parent turns SIGTERM into
:class:`Terminated`, which kills the workers on the way out.

Inputs and output names: :mod:`pocknet.predict.jobs`; the output folder's lock and
completion markers: :mod:`pocknet.predict.output_folder`.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Iterator, Sequence

from pocknet.errors import PockNetError
from pocknet.predict.bundled import predicted_model_path
from pocknet.predict.jobs import JobResult, PredictJob
from pocknet.predict.workers import DEFAULT_MAX_MEMORY_GB, _context, _Slot, _WorkerConfig

__all__ = [
    "Terminated",
    "result_line",
    "run_jobs",
]


class Terminated(BaseException):
    """The parent got SIGTERM: raised where it runs, so the workers are killed on the way out."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


def result_line(result: JobResult, finished: int, total: int) -> str:
    """``[3/40] 1a82a.pdb  4 pockets  top score 12.31  probability 0.834  centre ...  (0.31 s)``; ``-`` for none.

    Three decimals: calibrated probabilities lie in [0.001, 0.999] and must never print as certainty.
    A predicted structure's line ends with ``  predicted structure, model <name>``.
    """
    row = result.summary

    def number(value: Any, fmt: str) -> str:
        return (
            "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)
        )

    centre = row.get("top_centre") or row.get("top_center")
    centre_text = " ".join(f"{c:.1f}" for c in centre) if centre else "-"
    return (
        f"[{finished}/{total}] {result.job.name}  {row.get('pockets', 0)} pocket(s)  "
        f"top score {number(row.get('top_score'), '.2f')}  probability {number(row.get('top_probability'), '.3f')}  "
        f"centre {centre_text}  ({number(row.get('seconds'), '.2f')} s)"
        + (f"  predicted structure, model {row.get('model_name')}" if row.get("structure_kind") == "predicted" else "")
    )


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def run_jobs(
    jobs: Sequence[PredictJob],
    *,
    model: str | None,
    device: str,
    out_dir: Path,
    formats: Sequence[str],
    threshold: float | None,
    workers: int = 1,
    timeout: float = 600.0,
    max_memory: float = DEFAULT_MAX_MEMORY_GB,
    structure_kind: str = "auto",
) -> Iterator[JobResult]:
    """Yield one result per job (in completion order) from ``workers`` processes.

    ``structure_kind``: auto | experimental | predicted (``--structure-kind``). Without ``model``
    the workers score predicted structures with the model of
    :func:`pocknet.predict.bundled.predicted_model_path`, resolved here, once.

    Jobs that carry an ``error`` are yielded first, as failures, without a
    worker. The model is loaded in the workers only: a bad model file ends the
    run with :class:`PockNetError` from the first worker's report. SIGTERM
    raises :class:`Terminated` here; on any exception (or when the caller closes
    the generator early) the workers are killed.
    """
    for job in jobs:
        if job.error:
            yield JobResult(job, ok=False, error=job.error)
    runnable = [job for job in jobs if not job.error]
    if not runnable:
        return
    ctx = _context()
    predicted = None if model else predicted_model_path()
    config = _WorkerConfig(model, device, str(out_dir), tuple(formats), threshold, float(max_memory),
                           structure_kind, None if predicted is None else str(predicted))  # fmt: skip
    pending = runnable[::-1]
    slots: list[_Slot] = []

    def spawn() -> _Slot:
        return _Slot(ctx, config)

    def dispatch() -> None:
        for slot in slots:
            if slot.ready and not slot.dead and slot.job is None and pending:
                slot.job = pending.pop()
                try:
                    slot.conn.send(slot.job)
                except OSError:  # died before it got the job: the job waits for the replacement
                    pending.append(slot.job)
                    slot.job, slot.dead = None, True
                    continue
                slot.deadline = time.monotonic() + timeout

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    finished = False
    try:
        for _ in range(max(1, min(workers, len(runnable)))):
            slots.append(spawn())
        while pending or any(s.job is not None for s in slots):
            dispatch()
            nearest = min(s.deadline for s in slots)
            pause = None if nearest == float("inf") else max(0.0, nearest - time.monotonic()) + 0.01
            ready = wait([s.conn for s in slots], timeout=pause)
            for i, slot in enumerate(slots):
                if slot.conn in ready:
                    try:
                        message = slot.conn.recv()
                    except (EOFError, OSError):  # the worker died (OOM killer, a crash in C code, a kill)
                        message = ("died", slot.reap())
                    kind = message[0]
                    if kind == "ready":
                        slot.ready = True
                    elif kind == "fatal":
                        raise PockNetError(message[1])
                    elif kind == "done":
                        result, replace = message[1], message[2]
                        slot.job, slot.deadline = None, float("inf")
                        if replace:
                            slot.kill()
                            slots[i] = spawn()
                        dispatch()  # keep the worker busy while the caller handles the result
                        yield result
                    else:
                        job, was_ready = slot.job, slot.ready
                        slot.kill()
                        if not was_ready:  # it would die again: a broken installation, not a structure
                            raise PockNetError(f"{message[1]} while loading the model")
                        slots[i] = spawn()
                        if job is not None:
                            yield JobResult(job, ok=False, error=f"{job.path}: {message[1]}")
                elif slot.job is not None and time.monotonic() > slot.deadline:
                    job = slot.job
                    slot.kill()
                    slots[i] = spawn()
                    yield JobResult(
                        job, ok=False, error=f"{job.path}: timed out after {timeout:g} s (worker killed)"
                    )
        finished = True
    finally:
        for slot in slots:
            if finished and slot.process.is_alive():
                try:
                    slot.conn.send(None)
                except OSError:
                    pass
                slot.process.join(timeout=5)
            slot.kill()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
