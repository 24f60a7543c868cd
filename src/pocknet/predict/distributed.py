"""Predict many structures on a Dask cluster: one task per structure, a manifest at the end.

``pocknet predict INPUTS -o OUT --scheduler ADDRESS`` and :func:`predict_many` send one
task per structure to an existing Dask distributed scheduler, or to a ``LocalCluster``
(``local:N``). What runs in the Dask workers (a persistent pocknet worker child per
thread, so the per-structure time limit and memory bound of a local batch still hold
and the model is loaded once per child) is :mod:`pocknet.predict.dask_task`.

This client only reads the inputs, skips complete sets (``resume``), streams one line
per finished structure and writes ``OUT/manifest.csv`` (structure, name, status
ok|failed|skipped, seconds, error) once every structure is done. Inputs, the model and
a local ``OUT`` must be visible to every worker at the same absolute path (a shared
file system); ``OUT`` may instead be an fsspec URL (``s3://bucket/run``), which the
workers upload to. Dask is imported only here, and only when a run starts.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pocknet import __version__
from pocknet.errors import PockNetError
from pocknet.predict.failures import _one_line
from pocknet.predict.jobs import JobResult, PredictJob, collect_inputs
from pocknet.predict.bundled import predicted_model_path
from pocknet.predict.workers import DEFAULT_MAX_MEMORY_GB, _WorkerConfig
from pocknet.structure.kind import KIND_OPTIONS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "local_cluster",
    "parse_scheduler",
    "predict_many",
    "split_complete",
]

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ("structure", "name", "status", "seconds", "error")


def parse_scheduler(text: str) -> tuple[str, Any]:
    """``local:N`` → ``("local", N)``, ``local`` → one worker per core, ``X.json`` → ``("file", X.json)``
    (what ``dask scheduler --scheduler-file`` writes), anything else → ``("address", text)``."""
    text = str(text).strip()
    if text.endswith(".json") and "://" not in text:
        return "file", os.path.expanduser(text)
    if text == "local":
        return "local", max(1, os.cpu_count() or 1)
    if text.startswith("local:"):
        count = text.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise PockNetError(f"--scheduler {text}: expected local:N with N >= 1 worker processes")
        return "local", int(count)
    if not text:
        raise PockNetError("--scheduler: empty address (give tcp://HOST:PORT or local:N)")
    return "address", text


def _distributed() -> Any:
    """The ``distributed`` module, or one line saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise PockNetError(f"--scheduler needs Dask: pip install 'dask[distributed]' ({exc})") from None
    return distributed


def local_cluster(workers: int) -> Any:
    """What ``--scheduler local:N`` starts: N worker processes, one thread (one pocknet child) each.

    Processes, not threads: each Dask worker owns its children and their memory, as a
    ``dask worker`` on a node would. No dashboard (it needs bokeh and a free port).
    """
    import logging

    return _distributed().LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)  # fmt: skip


@contextmanager
def _connected(client: Any, scheduler: str | None) -> Iterator[Any]:
    """The caller's client, a client of ``scheduler``, or of a LocalCluster closed on the way out."""
    if client is not None:
        yield client
        return
    kind, value = parse_scheduler(scheduler or "local")
    distributed = _distributed()
    import logging

    with ExitStack() as stack:
        # Dask logs every scheduler/nanny event at INFO: quiet unless -v (the root logger says)
        dask_log = logging.getLogger("distributed")
        if logging.getLogger().getEffectiveLevel() >= logging.WARNING and dask_log.level < logging.WARNING:
            stack.callback(dask_log.setLevel, dask_log.level)
            dask_log.setLevel(logging.WARNING)
        address: Any = stack.enter_context(local_cluster(value)) if kind == "local" else value
        if kind == "file" and not os.path.isfile(value):
            raise PockNetError(f"{value}: no such scheduler file (dask scheduler --scheduler-file writes it)")
        try:
            if kind == "file":
                own = distributed.Client(scheduler_file=value, timeout="30s")
            else:
                own = distributed.Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise PockNetError(f"{value}: cannot reach the Dask scheduler ({_one_line(str(exc))})") from None
        stack.enter_context(own)
        yield own


def _url(out: str | Path) -> str | None:
    """``out`` as an fsspec URL (``s3://…``, ``file://…``), or ``None`` for a local folder."""
    text = str(out)
    return text if "://" in text else None


def _listing(out: str | Path, url: str | None) -> set[str]:
    """File names in the output folder (one listing, not one request per file)."""
    try:
        if url is None:
            return set(os.listdir(out))
        import fsspec

        fs, root = fsspec.core.url_to_fs(url)
        return {PurePosixPath(p).name for p in fs.ls(root, detail=False)}
    except FileNotFoundError:
        return set()


def split_complete(jobs: Sequence[PredictJob], out: str | Path, formats: Sequence[str]
                   ) -> tuple[list[PredictJob], list[PredictJob]]:  # fmt: skip
    """``(to_run, complete)``: a set is complete when its marker and every file of ``formats`` exist."""
    from pocknet.predict.output_folder import complete_set_files

    present = _listing(out, _url(out))
    to_run, complete = [], []
    for job in jobs:
        done = not job.error and all(f in present for f in complete_set_files(job.name, job.path, formats))
        (complete if done else to_run).append(job)
    return to_run, complete


def _manifest_text(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        seconds = row["seconds"]
        writer.writerow({**row, "seconds": "" if seconds is None else f"{seconds:.3f}"})
    return buffer.getvalue()


def _write_manifest(rows: Sequence[dict[str, Any]], out: str | Path) -> str:
    """``OUT/manifest.csv``, atomically (a rename locally; one object on an object store)."""
    text = _manifest_text(rows)
    url = _url(out)
    if url is None:
        from pocknet.atomic import atomic_write

        target = Path(out) / MANIFEST_NAME
        with atomic_write(target) as handle:
            handle.write(text)
        return str(target)
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    target = f"{root.rstrip('/')}/{MANIFEST_NAME}"
    fs.pipe_file(target, text.encode("utf-8"))
    return fs.unstrip_protocol(target)


def _as_given(text: str, given: str | Path) -> str:
    """Workers see absolute paths (their working folder is not ours): name a file as the user did, as locally."""
    sent = os.path.abspath(given)
    return str(given) + text[len(sent) :] if text.startswith(sent) and sent != str(given) else text


def _check_workers(client: Any) -> None:
    """Every connected worker runs this pocknet (a task pickled here is unpickled there)."""
    from pocknet.predict.dask_task import worker_version

    try:
        versions = client.run(worker_version)
    except Exception as exc:  # noqa: BLE001 - whatever unpickling or importing raised on a worker
        raise PockNetError(
            f"the Dask workers cannot run pocknet ({type(exc).__name__}: {_one_line(str(exc))}); "
            f"install pocknet {__version__} on every worker"
        ) from None
    odd = sorted(f"{worker} has {version}" for worker, version in versions.items() if version != __version__)
    if odd:
        raise PockNetError(f"Dask workers run another pocknet than this {__version__}: {'; '.join(odd)}")


def _results(client: Any, jobs: Sequence[PredictJob], config: _WorkerConfig, timeout: float,
             url: str | None) -> Iterator[tuple[JobResult, float | None]]:  # fmt: skip
    """Submit one task per job; yield ``(result, seconds)`` as tasks finish; cancel the rest on exit."""
    from pocknet.predict.dask_task import release_idle, run_task

    distributed = _distributed()
    run = uuid.uuid4().hex[:8]
    futures = {}
    for i, job in enumerate(jobs):
        sent = replace(job, path=Path(os.path.abspath(job.path)))  # workers have their own working folder
        future = client.submit(
            run_task, sent, config, timeout, url, key=f"pocknet-predict-{run}-{i}", pure=False
        )
        futures[future] = job
    try:
        for future in distributed.as_completed(futures):
            job = futures[future]
            try:
                outcome = future.result()
                if outcome.fatal:  # the model cannot be loaded: no structure would succeed
                    raise PockNetError(outcome.fatal)
                result, seconds = outcome.result, outcome.seconds
            except PockNetError:
                raise
            except Exception as exc:  # noqa: BLE001 - a Dask worker lost (KilledWorker) and the like: this structure
                detail = _one_line(str(exc))
                result = JobResult(job, ok=False, error=f"{job.path}: Dask task failed ({type(exc).__name__}"
                                                         f"{': ' + detail if detail else ''})")  # fmt: skip
                seconds = None
            yield replace(result, job=job, error=_as_given(result.error, job.path)), seconds
    finally:
        client.cancel(list(futures), force=True)
        try:
            client.run(release_idle)  # idle children hold a model each: give their memory back
        except Exception:  # noqa: BLE001, S110 - best effort: a closing cluster frees them anyway
            pass


def _row(job: PredictJob, status: str, seconds: float | None, error: str) -> dict[str, Any]:
    return {
        "structure": str(job.path),
        "name": job.name,
        "status": status,
        "seconds": seconds,
        "error": error,
    }


def _on_sigterm(signum: int, frame: Any) -> None:
    from pocknet.predict.batch import Terminated

    raise Terminated(signum)


def predict_many(
    paths: str | Path | Sequence[str | Path],
    out: str | Path = "pocknet_predictions",
    *,
    client: Any = None,
    scheduler: str | None = None,
    model: str | Path | None = None,
    formats: str | Sequence[str] | None = None,
    chains: Sequence[str] | None = None,
    threshold: float | None = None,
    device: str = "cpu",
    timeout: float = 600.0,
    max_memory: float = DEFAULT_MAX_MEMORY_GB,
    resume: bool = False,
    progress: bool = False,
    structure_kind: str = "auto",
) -> pd.DataFrame:
    """Predict every structure of ``paths`` on a Dask cluster; the run's manifest as a DataFrame.

    ``paths``: structure files, folders and ``.ds`` lists (as ``pocknet predict``);
    ``formats``: as ``--formats`` (default: csv, pdb, pml, cxc, json).
    ``client``: a ``distributed.Client``; else ``scheduler``: an address or ``local:N``
    (default: a LocalCluster with one worker per core, closed at the end). ``timeout``
    (seconds) and ``max_memory`` (GB beyond the loaded model, 0: none) hold per
    structure; a structure over them, or one that fails, is ``failed`` in the manifest
    and the run goes on. ``resume`` skips structures whose set is complete in ``out``.
    ``progress`` prints one line per finished structure (the CLI's lines).
    ``structure_kind``: auto | experimental | predicted (``--structure-kind``); without
    ``model``, predicted structures get the bundled bfactor-free model. The manifest
    (:data:`MANIFEST_COLUMNS`, input order) is also written to ``out/manifest.csv``.
    """
    import pandas as pd

    from pocknet.predict.batch import result_line
    from pocknet.predict.output_folder import OutputFolder
    from pocknet.predict.formats import DEFAULT_FORMATS, parse_formats
    from pocknet.progress import ResultLines

    formats = DEFAULT_FORMATS if formats is None else formats
    fmts = parse_formats(formats if isinstance(formats, str) else ",".join(formats))
    if model is not None and not Path(model).is_file():  # cheap; the model itself is checked by the workers
        raise PockNetError(f"{model}: no such model file")
    if not timeout > 0:
        raise PockNetError(f"timeout must be a positive number of seconds, got {timeout!r}")
    inputs = [paths] if isinstance(paths, (str, Path)) else list(paths)
    url = _url(out)
    if structure_kind not in KIND_OPTIONS:
        raise PockNetError(f"structure_kind must be one of {', '.join(KIND_OPTIONS)}, got {structure_kind!r}")
    predicted = None if model is not None else predicted_model_path()
    config = _WorkerConfig(None if model is None else os.path.abspath(model), device,
                           "" if url else os.path.abspath(out), tuple(fmts), threshold, float(max_memory),
                           structure_kind, None if predicted is None else str(predicted))  # fmt: skip
    with ExitStack() as stack:
        if url is None:
            stack.enter_context(OutputFolder(out))  # before any work: a bad OUT costs nothing
        else:
            import fsspec

            fs, root = fsspec.core.url_to_fs(url)
            fs.makedirs(root, exist_ok=True)
        jobs = collect_inputs(inputs, chains)
        to_run, complete = split_complete(jobs, out, fmts) if resume else (list(jobs), [])
        rows: dict[int, dict[str, Any]] = {}
        index = {id(job): i for i, job in enumerate(jobs)}
        for job in complete:
            rows[index[id(job)]] = _row(job, "skipped", None, "")
        lines = (
            stack.enter_context(ResultLines(len(to_run), desc="predict", unit="structure"))
            if progress
            else None
        )
        if lines is not None and complete:
            lines.echo(f"skipped {len(complete)} structure(s) already complete in {out}")
        finished = 0

        def record(result: JobResult, seconds: float | None) -> None:
            nonlocal finished
            finished += 1
            job = result.job
            rows[index[id(job)]] = _row(job, "ok" if result.ok else "failed", seconds, result.error)
            if lines is not None:
                if result.ok:
                    lines.finished(result_line(result, finished, len(to_run)))
                else:
                    lines.finished(f"error: {result.error}", err=True)

        for job in to_run:
            if job.error:
                record(JobResult(job, ok=False, error=job.error), None)
        runnable = [job for job in to_run if not job.error]
        if runnable:
            in_main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
            try:
                active = stack.enter_context(_connected(client, scheduler))
                _check_workers(active)
                for result, seconds in _results(active, runnable, config, float(timeout), url):
                    record(result, seconds)
            except PockNetError as exc:  # the model no worker can load, named as given
                raise PockNetError(_as_given(str(exc), model) if model is not None else str(exc)) from None
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
        ordered = [rows[i] for i in range(len(jobs))]
        _write_manifest(ordered, out)
    frame = pd.DataFrame(ordered, columns=list(MANIFEST_COLUMNS))
    frame["seconds"] = frame["seconds"].astype(float)
    return frame
