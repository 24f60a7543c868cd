"""``<file>: <reason>`` on one line for anything a structure can cause.

Its own module so that the single-structure commands (``pocknet featurize``, ``view``)
print the batch's failure lines without importing the worker machinery.
"""

from __future__ import annotations

import errno
from pathlib import Path

from pocknet.errors import PockNetError

__all__ = [
    "failure_message",
]


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
