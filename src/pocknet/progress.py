"""The one progress-bar helper: tqdm on stderr, quiet when not attached to a terminal."""

from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

from tqdm.auto import tqdm

__all__ = ["progress"]

T = TypeVar("T")


def progress(items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """Wrap ``items`` in a progress bar (disabled automatically on non-TTY output)."""
    yield from tqdm(items, total=total, desc=desc, unit=unit, disable=None, dynamic_ncols=True)
