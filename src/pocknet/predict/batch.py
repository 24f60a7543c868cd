"""Predict many structures: worker processes, a time and memory limit per structure, failures listed.

Each worker loads the model once and handles one structure at a time. A
structure that exceeds the time limit gets its worker killed (a hang in C code
cannot be interrupted any other way) and is reported as failed; a fresh worker
takes its place, so one pathological entry never stalls a batch. The same
holds for a structure that runs out of the worker's memory (``--max-memory``,
an address-space limit set in the worker only).

Workers never outlive the parent: they fork from a forkserver (torch
preloaded there, never in the parent, which holds no model) and so inherit none
of the parent's file descriptors; each asks the kernel for SIGKILL when the
forkserver dies, which it does as soon as the parent does (Linux
``PR_SET_PDEATHSIG``; elsewhere a thread watches the parent); a dead parent
also reads as end-of-file on the worker's pipe. Workers ignore SIGINT (Ctrl-C
reaches the whole process group; the parent alone reports and stops the
batch). The parent turns SIGTERM into :class:`Terminated`, which kills the
workers on the way out.

Output sets: every file is written atomically (:mod:`pocknet.atomic`), and a
structure's set is complete only when its *completion marker* exists. The
marker is ``<name>.json`` when JSON is among the formats, else ``<name>.done``
(the list of the set's files). It is removed before a set is (re)written and
written last, so a kill or a full disk part-way leaves a set without marker.
An output folder is held by one run at a time (:class:`OutputFolder`: a
``.pocknet.lock`` flock naming the holder's PID), and a run first removes the
``.<file>.<random>.tmp`` files killed runs left behind.
"""

from __future__ import annotations

import ctypes
import errno
import math
import multiprocessing as mp
import os
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Iterator, Sequence

from pocknet.structure.datasets import read_ds, scan_folder
from pocknet.errors import PockNetError, StructureError
from pocknet.structure.reader import is_structure_file

__all__ = [
    "DEFAULT_MAX_MEMORY_GB",
    "PredictJob",
    "JobResult",
    "OutputFolder",
    "Terminated",
    "collect_inputs",
    "failure_message",
    "predict_job",
    "result_line",
    "run_jobs",
    "write_prediction_set",
]

#: GB each worker may allocate beyond what it maps once the model is loaded (0: no limit).
DEFAULT_MAX_MEMORY_GB = 4.0

LOCK_NAME = ".pocknet.lock"
# what tempfile.mkstemp(prefix=".<target>.", suffix=".tmp") in pocknet.atomic makes: 8 random [a-z0-9_]
_STALE_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


class Terminated(BaseException):
    """The parent got SIGTERM: raised where it runs, so the workers are killed on the way out."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass(frozen=True)
class PredictJob:
    """One structure to predict; ``error`` marks an input that cannot run (reported, never sent to a worker)."""

    path: Path
    name: str
    chains: tuple[str, ...] | None = None
    error: str = ""


@dataclass
class JobResult:
    job: PredictJob
    ok: bool
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- inputs


def _output_name(path: Path) -> str:
    """P2Rank names outputs after the file (``1a82a.pdb_predictions.csv``); .gz dropped."""
    name = path.name
    return name[:-3] if name.lower().endswith(".gz") else name


def _name_candidates(path: Path) -> Iterator[str]:
    """The file name, then ever more parent folders before it (``x_1.pdb``, ``a_x_1.pdb``, ...)."""
    base = _output_name(path)
    yield base
    parent = Path(os.path.abspath(path)).parent  # absolute, so ``../x`` still has named parents
    prefix = ""
    for part in reversed([p for p in parent.parts if p != parent.anchor]):
        prefix = f"{part}_{prefix}"
        yield prefix + base


def _numbered(name: str, number: int) -> str:
    """``1a82a.pdb`` → ``1a82a_2.pdb``: the number before the extension keeps the file type visible."""
    stem, dot, rest = name.partition(".") if not name.startswith(".") else (name, "", "")
    return f"{stem}_{number}{dot}{rest}"


def _unique_name(path: Path, taken: set[str]) -> str:
    """The first candidate no other structure of the run has, compared case-insensitively.

    Case-insensitive file systems (macOS, Windows) would merge ``A_1.pdb`` and ``a_1.pdb``.
    """
    for candidate in _name_candidates(path):
        if candidate.casefold() not in taken:
            break
    else:
        base = _output_name(path)
        number = 2
        while (candidate := _numbered(base, number)).casefold() in taken:
            number += 1
    taken.add(candidate.casefold())
    return candidate


def collect_inputs(inputs: Sequence[str | Path], chains: Sequence[str] | None = None) -> list[PredictJob]:
    """Structure files, folders (recursive) and .ds lists → jobs with unique output names.

    Output names are unique by construction (checked against every name already
    given in the run, case-insensitively), so no structure overwrites another's
    files. A file listed twice (same real path and chains) is predicted once.
    An input that cannot run (an empty folder, a malformed .ds, a file that is
    no structure) becomes one failed job, so the rest of the batch still runs.
    """
    selected = tuple(chains) if chains else None
    entries: list[tuple[Path, tuple[str, ...] | None, str]] = []
    for raw in inputs:
        path = Path(raw)
        try:
            if path.is_dir():
                entries += [(e.path, None, "") for e in scan_folder(path).entries]
            elif path.suffix.lower() == ".ds":
                entries += [(e.path, e.chains, "") for e in read_ds(path).entries]
            elif path.exists() and not is_structure_file(path):
                raise StructureError(
                    f"{path}: not a structure file (.pdb/.ent/.cif/.mmcif, optionally .gz), folder or .ds"
                )
            else:
                entries.append((path, None, ""))  # a missing file fails as a job, with the others still run
        except PockNetError as exc:
            entries.append((path, None, str(exc)))
    jobs: list[PredictJob] = []
    taken: set[str] = set()
    seen: set[tuple[str, tuple[str, ...] | None]] = set()
    for path, ds_chains, error in entries:
        job_chains = selected or ds_chains
        key = (os.path.realpath(path), job_chains)
        if key in seen:
            continue
        seen.add(key)
        if error:
            jobs.append(PredictJob(path=path, name=path.name, chains=job_chains, error=error))
        else:
            jobs.append(PredictJob(path=path, name=_unique_name(path, taken), chains=job_chains))
    return jobs


# ---------------------------------------------------------------------------------------------- outputs


class OutputFolder:
    """An output folder held by one run: created, proven writable, locked, cleared of stale temp files.

    Checked before any model is loaded, so a bad ``-o`` costs nothing. The lock
    (``fcntl.flock`` on ``.pocknet.lock``, which records the holder's PID) keeps
    two runs from interleaving their files; the file is removed on release.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.removed_temp_files: list[Path] = []

    def __enter__(self) -> "OutputFolder":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _fail(self, what: str, exc: OSError) -> PockNetError:
        return PockNetError(f"{self.path}: {what}: {exc.strerror or exc}")

    def acquire(self) -> None:
        start = time.time()
        if self.path.exists() and not self.path.is_dir():
            raise PockNetError(f"{self.path}: output folder is a file")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._fail("cannot create output folder", exc) from exc
        try:  # root ignores permission bits, so try a real write instead of os.access
            fd, probe = tempfile.mkstemp(prefix=".pocknet-probe.", suffix=".tmp", dir=self.path)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise self._fail("output folder is not writable", exc) from exc
        self.fd = self._lock()
        self.removed_temp_files = self._remove_stale_temp_files(before=start)

    def _lock(self) -> int:
        import fcntl

        lock_path = self.path / LOCK_NAME
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise self._fail("output folder is not writable", exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise self._fail("cannot lock output folder", exc) from exc
                raise PockNetError(
                    f"{self.path}: another pocknet predict (PID {holder}) is writing to this folder; "
                    "wait for it to finish or choose another -o"
                ) from None
            try:  # the holder we waited on may have removed the file: lock the one that is there now
                if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise self._fail("output folder is not writable", exc) from exc
        return fd

    def _remove_stale_temp_files(self, before: float) -> list[Path]:
        """``.<file>.<random>.tmp`` left by a killed run (ours hold the lock, so none is in use)."""
        removed = []
        for entry in os.scandir(self.path):
            try:
                if (_STALE_TMP.match(entry.name) and entry.is_file(follow_symlinks=False)
                        and entry.stat(follow_symlinks=False).st_mtime < before):  # fmt: skip
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue  # vanished or not ours to remove: never fail a run over a temp file
        return removed

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            lock_path = self.path / LOCK_NAME
            if os.stat(lock_path).st_ino == os.fstat(self.fd).st_ino:
                os.unlink(lock_path)  # while still locked: a waiting run re-checks the inode
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def write_prediction_set(prediction: Any, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Write a structure's files with its completion marker last (see the module docstring).

    The JSON is the marker when requested; otherwise ``<name>.done`` lists the set's files.
    """
    from pocknet.atomic import atomic_write
    from pocknet.predict.outputs import structure_file_name, write_outputs

    out_dir = Path(out_dir)
    json_marker, done_marker = out_dir / f"{prediction.name}.json", out_dir / f"{prediction.name}.done"
    for marker in (json_marker, done_marker):  # first: until the set is complete again, it has none
        marker.unlink(missing_ok=True)
    others = [f for f in formats if f != "json"]
    files = write_outputs(prediction, out_dir, others) if others else []
    if "json" in formats:
        copied = any(f in ("pml", "cxc") for f in others)  # the copy the scripts load, named in the JSON
        copy = structure_file_name(prediction.name, prediction.features.source) if copied else None
        files += write_outputs(prediction, out_dir, ["json"], structure_copy=copy)
    else:
        with atomic_write(done_marker) as handle:
            handle.write("".join(f"{f.name}\n" for f in files))
        files.append(done_marker)
    return files


# ---------------------------------------------------------------------------------------------- failures


class _OutputWriteError(Exception):
    """An OSError while writing a structure's outputs (disk full, permissions, a folder in the way)."""

    def __init__(self, out_dir: Path, cause: OSError) -> None:
        super().__init__(str(cause))
        self.out_dir, self.cause = out_dir, cause


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


_OOM_TEXT = ("can't allocate memory", "out of memory", "can't start new thread", "cannot allocate memory")


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, and what torch, threads and the OS raise instead when an allocation fails."""
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        return True
    return isinstance(exc, RuntimeError) and any(t in str(exc).lower() for t in _OOM_TEXT)


def failure_message(exc: BaseException, path: str | Path, *, max_memory: float | None = None) -> str:
    """``<path>: <reason>`` on one line for any exception a structure can cause; never a repr.

    ``max_memory`` is the worker's limit in GB, named in out-of-memory messages.
    """
    where = str(path)
    if isinstance(exc, _OutputWriteError):
        return f"{where}: cannot write outputs to {exc.out_dir}: {exc.cause.strerror or exc.cause}"
    if isinstance(exc, PockNetError):
        message = _one_line(str(exc))
        return message if message.startswith(where) else f"{where}: {message}"
    if _out_of_memory(exc):
        limit = f" (limit {max_memory:g} GB; raise --max-memory)" if max_memory else ""
        return f"{where}: out of memory{limit}"
    detail = _one_line(str(exc))
    return f"{where}: internal error ({type(exc).__name__}{': ' + detail if detail else ''})"


def _run_one(predictor: Any, job: PredictJob, out_dir: Path, formats: Sequence[str], threshold: float | None,
             max_memory: float | None) -> tuple[JobResult, bool]:  # fmt: skip
    """The job's result and whether the worker should be replaced (after running out of memory)."""
    from pocknet.predict.outputs import summary_rows

    failure: str | None = None
    out_of_memory = False
    try:
        prediction = predictor.predict_file(job.path, chains=job.chains, threshold=threshold, name=job.name)
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


def predict_job(predictor: Any, job: PredictJob, out_dir: Path, formats: Sequence[str], threshold: float | None,
                max_memory: float | None = None) -> JobResult:  # fmt: skip
    """One structure, in-process: any failure becomes a failed result naming the file."""
    return _run_one(predictor, job, Path(out_dir), formats, threshold, max_memory)[0]


def result_line(result: JobResult, finished: int, total: int) -> str:
    """``[3/40] 1a82a.pdb  4 pockets  top score 12.31  probability 0.834  centre ...  (0.31 s)``; ``-`` for none.

    Three decimals: calibrated probabilities lie in [0.001, 0.999] and must never print as certainty.
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
    )


# ---------------------------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class _WorkerConfig:
    model: str | None
    device: str
    out_dir: str
    formats: tuple[str, ...]
    threshold: float | None
    max_memory: float


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
        predictor = Predictor(config.model, device=config.device)
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
        result, replace = _run_one(predictor, job, out_dir, config.formats, config.threshold, max_memory)
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
    pipe ends of other workers, the output folder's lock).
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["pocknet.predict.predictor"])
    return ctx


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
) -> Iterator[JobResult]:
    """Yield one result per job (in completion order) from ``workers`` processes.

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
    config = _WorkerConfig(model, device, str(out_dir), tuple(formats), threshold, float(max_memory))
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
