"""One error family for everything a user can get wrong.

Library code raises these; the CLI and pipelines catch :class:`PockNetError`
and show its message (which always names the file or setting at fault)
instead of a traceback.
"""

from __future__ import annotations

__all__ = ["PockNetError", "StructureError", "DatasetError", "ConfigError"]


class PockNetError(Exception):
    """Base class for errors caused by input or configuration, not by bugs."""


class StructureError(PockNetError):
    """A structure file is missing, unreadable, empty or has no protein atoms."""


class DatasetError(PockNetError):
    """A dataset list (.ds), folder or dataset root is missing or malformed."""


class ConfigError(PockNetError):
    """A parameter is missing or has a value the code cannot use."""
