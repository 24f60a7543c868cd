"""The output format names of ``pocknet predict`` and their parsing, without the writers.

Apart from :mod:`pocknet.predict.writers` so that the CLI's parent process checks
``--formats`` without importing the writers (numpy, scipy, gemmi and the featurisation
code come with them): only the worker processes write. The writers package registers
one writer per name here, in this order (a test keeps the two equal).
"""

from __future__ import annotations

from collections.abc import Iterable

from pocknet.errors import ConfigError

__all__ = ["DEFAULT_FORMATS", "FORMATS", "parse_formats", "validate_formats"]

#: Every format, in writing order (the JSON summary last).
FORMATS: tuple[str, ...] = ("csv", "pdb", "pml", "cxc", "html", "json")
#: What ``pocknet predict`` and ``write_outputs`` write unless told otherwise (all but ``html``).
DEFAULT_FORMATS: tuple[str, ...] = ("csv", "pdb", "pml", "cxc", "json")


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse a comma list such as ``"csv,pml"`` into formats, in :data:`FORMATS` order.

    Case and blanks are ignored, repeats collapse and ``all`` means every
    format, so a CLI option can pass the user's text straight through.

    Raises
    ------
    ConfigError
        For an empty list or an unknown format (the message lists the known ones).
    """
    names = [part.strip().lower() for part in str(text).split(",") if part.strip()]
    if not names:
        raise ConfigError(f"output formats: none given in {text!r}; known: {', '.join(FORMATS)}")
    if "all" in names:
        return FORMATS
    return validate_formats(names)


def validate_formats(names: Iterable[str]) -> tuple[str, ...]:
    """Known names in :data:`FORMATS` order; :class:`ConfigError` naming any unknown one."""
    names = list(names)
    unknown = sorted(set(names) - set(FORMATS))
    if unknown:
        raise ConfigError(f"output formats: unknown {unknown}; known: {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in names)
