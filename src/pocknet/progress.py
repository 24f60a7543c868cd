"""The one progress helper: a tqdm bar on a terminal, timed log lines everywhere else.

Off a terminal (CI, ``make run > log``, a batch scheduler) a carriage-return bar is
either invisible or garbage, yet long stages must still show that they advance, so
there :func:`progress` logs ``desc: n/N unit (pct), rate, ETA`` lines through the
``pocknet.progress`` logger at most every ``interval`` seconds, plus the last one.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm.auto import tqdm

__all__ = ["progress", "ProgressLine", "format_duration", "on_terminal", "ResultLines"]

T = TypeVar("T")
log = logging.getLogger("pocknet.progress")

#: Seconds between two progress lines off a terminal (the issue asks for one a minute at least).
INTERVAL = 20.0


def on_terminal() -> bool:
    """True when stderr is an interactive terminal (where a live bar is readable)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def format_duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``1h 02m``: compact enough for one log line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


class ProgressLine:
    """Counts work and logs a line at most every ``interval`` seconds (and at the end)."""

    def __init__(self, desc: str, total: int | None, unit: str = "it", interval: float = INTERVAL) -> None:
        self.desc, self.total, self.unit, self.interval = desc or "progress", total, unit, interval
        self.count = 0
        self.start = time.monotonic()
        self.last = self.start

    def line(self, extra: str = "") -> str:
        elapsed = time.monotonic() - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.desc}: {self.count}" + (f"/{self.total}" if self.total else "") + f" {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.count / self.total:.0f}%)"
        parts.append(f"{rate:.2f} {self.unit}/s" if rate < 10 else f"{rate:.0f} {self.unit}/s")
        if self.total and 0 < self.count < self.total and rate > 0:
            parts.append(f"ETA {format_duration((self.total - self.count) / rate)}")
        else:
            parts.append(f"elapsed {format_duration(elapsed)}")
        if extra:
            parts.append(extra)
        return ", ".join(parts)

    def update(self, n: int = 1, extra: str = "") -> None:
        self.count += n
        now = time.monotonic()
        if now - self.last >= self.interval or (self.total is not None and self.count >= self.total):
            self.last = now
            log.info(self.line(extra))


def progress(
    items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it", interval: float = INTERVAL
) -> Iterator[T]:
    """Iterate ``items`` showing progress: a bar on a terminal, else a log line every ``interval`` s."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if on_terminal():
        yield from tqdm(items, total=total, desc=desc, unit=unit, dynamic_ncols=True)
        return
    counter = ProgressLine(desc, total, unit, interval)
    for item in items:
        yield item
        counter.update()
    if counter.count != total:  # a generator without a total, or one that ended early
        log.info(counter.line())


class ResultLines:
    """One line per finished item, printed as it finishes; a bar below them on a terminal only.

    The lines are the progress off a terminal (a carriage-return bar would garble
    a log); on a terminal they are written through :meth:`tqdm.write` so the bar
    stays intact beneath them.
    """

    def __init__(self, total: int | None, desc: str = "", unit: str = "it") -> None:
        # disable=None: tqdm switches itself off when stderr is not a terminal
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=None, dynamic_ncols=True, leave=False)

    def __enter__(self) -> "ResultLines":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def echo(self, text: str, err: bool = False) -> None:
        """Print ``text`` (to stderr with ``err``) now, without advancing the bar."""
        stream = sys.stderr if err else sys.stdout
        if self.bar.disable:
            print(text, file=stream, flush=True)
        else:
            tqdm.write(text, file=stream)
            stream.flush()

    def finished(self, text: str, err: bool = False) -> None:
        """Print the line of an item that just finished and advance the bar."""
        self.echo(text, err=err)
        self.bar.update()

    def close(self) -> None:
        self.bar.close()
