"""Predict many structures: worker processes, a time limit per structure, failures listed.

Each worker loads the model once and handles one structure at a time. A
structure that exceeds the time limit gets its worker killed (a hang in C code
cannot be interrupted any other way) and is reported as failed; a fresh worker
takes its place, so one pathological entry never stalls a batch.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Iterator, Sequence

from pocknet.datasets import read_ds, scan_folder
from pocknet.errors import PockNetError, StructureError
from pocknet.structure import is_structure_file

__all__ = ["PredictJob", "JobResult", "collect_inputs", "run_jobs", "predict_job"]


@dataclass(frozen=True)
class PredictJob:
    path: Path
    name: str
    chains: tuple[str, ...] | None = None


@dataclass
class JobResult:
    job: PredictJob
    ok: bool
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _output_name(path: Path) -> str:
    """P2Rank names outputs after the file (``1a82a.pdb_predictions.csv``); .gz dropped."""
    name = path.name
    return name[:-3] if name.lower().endswith(".gz") else name


def collect_inputs(inputs: Sequence[str | Path], chains: Sequence[str] | None = None) -> list[PredictJob]:
    """Structure files, folders (recursive) and .ds lists → jobs with unique output names."""
    entries: list[tuple[Path, tuple[str, ...] | None]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            entries += [(e.path, None) for e in scan_folder(path).entries]
        elif path.suffix == ".ds":
            entries += [(e.path, e.chains) for e in read_ds(path).entries]
        elif path.exists() and not is_structure_file(path):
            raise StructureError(f"{path}: not a structure file (.pdb/.ent/.cif/.mmcif, optionally .gz), folder or .ds")
        else:
            entries.append((path, None))  # a missing file fails as a job, with the others still run
    selected = tuple(chains) if chains else None
    jobs: list[PredictJob] = []
    seen: dict[str, int] = {}
    for path, ds_chains in entries:
        name = _output_name(path)
        if name in seen:  # same file name in two folders: keep outputs apart
            name = f"{path.parent.name}_{name}"
        seen[name] = seen.get(name, 0) + 1
        jobs.append(PredictJob(path=path, name=name, chains=selected or ds_chains))
    return jobs


def predict_job(predictor: Any, job: PredictJob, out_dir: Path, formats: Sequence[str], threshold: float | None) -> JobResult:
    """One structure, in-process: user errors become a failed result."""
    from pocknet.outputs import summary_rows, write_outputs

    try:
        prediction = predictor.predict_file(job.path, chains=job.chains, threshold=threshold, name=job.name)
        files = write_outputs(prediction, out_dir, formats)
    except PockNetError as exc:
        return JobResult(job, ok=False, error=str(exc))
    return JobResult(job, ok=True, summary=summary_rows([prediction])[0], files=[str(f) for f in files])


def _worker(conn: Connection, model: str | None, device: str, out_dir: str, formats: Sequence[str],
            threshold: float | None) -> None:  # fmt: skip
    from pocknet.predict import Predictor

    try:
        predictor = Predictor(model, device=device)
    except PockNetError as exc:
        conn.send(("fatal", str(exc)))
        return
    conn.send(("ready", ""))
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            result = predict_job(predictor, job, Path(out_dir), formats, threshold)
        except Exception as exc:  # a bug: report it for this structure, keep serving others
            result = JobResult(job, ok=False, error=f"internal error: {exc!r}")
        conn.send(("done", result))


class _Slot:
    def __init__(self, ctx: Any, args: tuple) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.job: PredictJob | None = None
        self.deadline = float("inf")
        self.ready = False

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


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
) -> Iterator[JobResult]:
    """Yield one result per job (in completion order) from ``workers`` processes."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    args = (model, device, str(out_dir), tuple(formats), threshold)
    pending = list(jobs)[::-1]
    slots = [_Slot(ctx, args) for _ in range(max(1, min(workers, len(jobs))))]
    try:
        while pending or any(s.job for s in slots):
            for slot in slots:
                if slot.ready and slot.job is None and pending:
                    slot.job = pending.pop()
                    slot.deadline = time.monotonic() + timeout
                    slot.conn.send(slot.job)
            nearest = min(s.deadline for s in slots)
            pause = None if nearest == float("inf") else max(0.0, nearest - time.monotonic()) + 0.01
            ready = wait([s.conn for s in slots], timeout=pause)
            for i, slot in enumerate(slots):
                if slot.conn in ready:
                    try:
                        kind, payload = slot.conn.recv()
                    except EOFError:  # the worker died (e.g. killed by the OOM killer)
                        kind, payload = "died", f"worker process died (exit code {slot.process.exitcode})"
                    if kind == "ready":
                        slot.ready = True
                    elif kind == "fatal":
                        raise PockNetError(payload)
                    elif kind == "done":
                        slot.job = None
                        slot.deadline = float("inf")
                        yield payload
                    else:
                        job = slot.job
                        slots[i] = _Slot(ctx, args)
                        slot.kill()
                        if job is not None:
                            yield JobResult(job, ok=False, error=f"{job.path}: {payload}")
                elif slot.job is not None and time.monotonic() > slot.deadline:
                    job = slot.job
                    slot.kill()
                    slots[i] = _Slot(ctx, args)
                    yield JobResult(job, ok=False, error=f"{job.path}: timed out after {timeout:g} s (worker killed)")
    finally:
        for slot in slots:
            if slot.process.is_alive():
                try:
                    slot.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
                slot.process.join(timeout=5)
                if slot.process.is_alive():
                    slot.kill()
