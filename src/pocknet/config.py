"""Parameter blocks of params.yaml → frozen dataclasses, strictly.

Unknown keys are errors, not ignored: a misspelt key (``windows:``) would
otherwise run silently with the default.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping, TypeVar

from pocknet.errors import ConfigError

__all__ = ["dataclass_from_params"]

T = TypeVar("T")


def dataclass_from_params(cls: type[T], params: Mapping[str, Any] | None, where: str, **converted: Any) -> T:
    """``cls(**params)``, rejecting keys ``cls`` does not have; ``converted`` overrides values."""
    values = dict(params or {})
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    values.update({k: v for k, v in converted.items() if k in values})
    return cls(**values)
