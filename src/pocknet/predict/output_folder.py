"""Where a batch writes: an output folder held by one run, and complete output sets.

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

import errno
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from pocknet.errors import PockNetError

__all__ = [
    "OutputFolder",
    "complete_set_files",
    "write_prediction_set",
]

LOCK_NAME = ".pocknet.lock"
# what tempfile.mkstemp(prefix=".<target>.", suffix=".tmp") in pocknet.atomic makes: 8 random [a-z0-9_]
_STALE_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


class OutputFolder:
    """An output folder held by one run: created, proven writable, locked, cleared of stale temp files.

    Checked before any model is loaded, so a bad ``-o`` costs nothing. The lock
    (``fcntl.flock`` on ``.pocknet.lock``, which records the holder's PID) keeps
    two runs from interleaving their files; the file is removed on release, and
    so is the folder when this run created it and wrote nothing (a run refused at
    once, e.g. for a bad model, leaves no empty ``pocknet_predictions/`` behind).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.created = False
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
            self.created = not self.path.exists()
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
        if self.created:
            try:
                self.path.rmdir()  # only if empty
            except OSError:
                pass


def write_prediction_set(prediction: Any, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Write a structure's files with its completion marker last (see the module docstring).

    The JSON is the marker when requested; otherwise ``<name>.done`` lists the set's files.
    """
    from pocknet.atomic import atomic_write
    from pocknet.predict.writers import write_outputs
    from pocknet.predict.writers.files import structure_file_name

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


def complete_set_files(name: str, source: str | Path, formats: Sequence[str]) -> list[str]:
    """The file names a complete set of ``formats`` has, its completion marker last (``--resume``).

    A marker alone is not enough: a set written with fewer formats (``--formats json``
    before ``--formats csv,json``) has the marker but lacks what is now asked for.
    """
    from pocknet.predict.writers import WRITERS
    from pocknet.predict.writers.files import structure_file_name

    files = [file for fmt in formats if fmt != "json" for file in WRITERS[fmt].files(name)]
    if any(WRITERS[fmt].script for fmt in formats):
        files.append(structure_file_name(name, source))
    files.append(f"{name}.json" if "json" in formats else f"{name}.done")
    return files
