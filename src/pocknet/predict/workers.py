"""The worker processes of a batch: each loads the model once and predicts one structure at a time.

Workers never outlive the parent: they fork from a forkserver (torch
preloaded there, never in the parent, which holds no model) and so inherit none
of the parent's file descriptors; each asks the kernel for SIGKILL when the
forkserver dies, which it does as soon as the parent does (Linux
``PR_SET_PDEATHSIG``; elsewhere a thread watches the parent); a dead parent
also reads as end-of-file on the worker's pipe. Workers ignore SIGINT (Ctrl-C
reaches the whole process group; the parent alone reports and stops the
batch). A worker's memory limit (``--max-memory``) is an address-space limit
set in the worker only. The parent side of the pool is :func:`pocknet.predict.batch.run_jobs`.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Sequence

from pocknet.errors import PockNetError
from pocknet.predict.failures import _one_line, _out_of_memory, _OutputWriteError, failure_message
from pocknet.predict.jobs import JobResult, PredictJob
from pocknet.predict.output_folder import write_prediction_set

__all__ = [
    "DEFAULT_MAX_MEMORY_GB",
]

#: GB each worker may allocate beyond what it maps once the model is loaded (0: no limit).
DEFAULT_MAX_MEMORY_GB = 4.0


@dataclass(frozen=True)
class _WorkerConfig:
    model: str | None
    device: str
    out_dir: str
    formats: tuple[str, ...]
    threshold: float | None
    max_memory: float
    structure_kind: str = "auto"  # auto | experimental | predicted
    predicted_model: str | None = None  # the bundled default's partner for predicted structures (None: none)


def _run_one(predictor: Any, job: PredictJob, out_dir: Path, formats: Sequence[str], threshold: float | None,
             max_memory: float | None, structure_kind: str = "auto") -> tuple[JobResult, bool]:  # fmt: skip
    """The job's result and whether the worker should be replaced (after running out of memory)."""
    from pocknet.predict.writers.json_summary import summary_rows

    failure: str | None = None
    out_of_memory = False
    try:
        prediction = predictor.predict_file(job.path, chains=job.chains, threshold=threshold, name=job.name,
                                            structure_kind=structure_kind)  # fmt: skip
        try:
            files = write_prediction_set(prediction, out_dir, formats)
        except OSError as exc:
            raise _OutputWriteError(out_dir, exc) from exc
        summary = summary_rows([prediction])[0]
    except Exception as exc:  # every failure is this structure's one line; the worker serves the next
        failure = failure_message(exc, job.path, max_memory=max_memory)
        out_of_memory = _out_of_memory(exc)
    if failure is not None:  # outside the except block: the failed frames (and their memory) are freed
        return JobResult(job, ok=False, error=failure), out_of_memory
    return JobResult(job, ok=True, summary=summary, files=[str(f) for f in files]), False


def _die_with_parent(parent_pid: int) -> None:
    """Never outlive the batch: SIGKILL from the kernel when the process that forked us dies (Linux).

    That process is the forkserver, which exits as soon as the batch's parent
    does. Elsewhere a thread watches the parent itself.
    """
    forker = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # PR_SET_PDEATHSIG
                if os.getppid() != forker or not _alive(parent_pid):  # it died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while _alive(parent_pid):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="pocknet-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _vm_size() -> int | None:
    """Bytes of address space this process maps (Linux ``VmSize``), ``None`` where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _limit_memory(gb: float) -> bool:
    """RLIMIT_AS = the loaded worker's address space + ``gb``; True when a limit was set.

    Relative, not absolute: torch maps GBs of address space at import that it
    never touches, so an absolute cap would either fail at load or limit nothing.
    """
    if gb <= 0:
        return False
    try:
        import resource
    except ImportError:
        return False
    baseline = _vm_size()
    if baseline is None:
        return False
    limit = baseline + int(gb * 2**30)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return True


def _release_forkserver() -> None:
    """Drop the forkserver's "alive" pipe that every forked worker inherits.

    The forkserver exits once all holders of that pipe are gone; a worker
    keeping it would keep the forkserver, and so itself (its death signal is
    tied to the forkserver), alive after the parent died.
    """
    try:
        from multiprocessing import forkserver

        server = forkserver._forkserver  # type: ignore[attr-defined]
        fd = server._forkserver_alive_fd
    except (ImportError, AttributeError):
        return
    if isinstance(fd, int):
        try:
            os.close(fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None


def _worker(conn: Connection, parent_pid: int, config: _WorkerConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent reports and stops the batch
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _release_forkserver()
    _die_with_parent(parent_pid)
    from pocknet.predict.predictor import Predictor

    try:
        # the second model (predicted structures) loads on the first predicted structure, not here
        predictor = Predictor(config.model, device=config.device, predicted_model=config.predicted_model)
        if predictor.uses_embeddings:
            predictor.load_embedder()  # before the memory baseline: ESM2 weights are part of the model
    except Exception as exc:
        where = config.model or "the bundled model"
        message = str(exc) if isinstance(exc, PockNetError) else failure_message(exc, where)
        conn.send(("fatal", _one_line(message)))
        return
    # CUDA maps far more address space than it uses, so the limit would only break it
    limited = config.device == "cpu" and _limit_memory(config.max_memory)
    max_memory = config.max_memory if limited else None
    conn.send(("ready", ""))
    out_dir = Path(config.out_dir)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if job is None:
            return
        result, replace = _run_one(predictor, job, out_dir, config.formats, config.threshold, max_memory,
                                   config.structure_kind)  # fmt: skip
        try:
            conn.send(("done", result, replace))
        except OSError:
            return
        if replace:  # after MemoryError a library may be left half-initialised: start afresh
            return


def _death_reason(exitcode: int | None) -> str:
    """``killed by SIGKILL (out of memory?)``, ``exit code 3``: what happened to a worker, in words."""
    if exitcode is None:
        return "worker process stopped responding"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"worker process died (killed by {name}{hint})"
    return f"worker process died (exit code {exitcode})"


class _Slot:
    def __init__(self, ctx: Any, config: _WorkerConfig) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, os.getpid(), config), daemon=True)
        self.process.start()
        child.close()
        self.job: PredictJob | None = None
        self.deadline = float("inf")
        self.ready = False  # the model is loaded
        self.dead = False  # its pipe broke: no more jobs; end-of-file follows and replaces it

    def reap(self) -> str:
        """After end-of-file from the worker: wait for it to exit, then say why it did."""
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()
        return _death_reason(self.process.exitcode)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _context() -> Any:
    """A forkserver with torch and the predictor code preloaded; spawn where there is none (Windows).

    Workers fork from the forkserver, so they share its imports (torch's
    hundreds of MB) while the parent imports neither torch nor a model. Unlike
    forking the parent, no worker inherits the parent's file descriptors (the
    pipe ends of other workers, the output folder's lock). The forkserver skips
    the interpreter's teardown when it exits (:mod:`pocknet.predict.forkserver_exit`).
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["pocknet.predict.predictor", "pocknet.predict.forkserver_exit"])
    return ctx
