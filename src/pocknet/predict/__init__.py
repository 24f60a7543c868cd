"""Prediction (inference stage, `pocknet predict`): scoring, pockets, calibration, output files.

The public names of the module this package replaces are re-exported from :mod:`pocknet.predict.predictor`,
so importing them from the package still works; they load on first use, so importing a
sibling module does not import ``predictor`` (nor what it imports).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocknet.predict.predictor import (
        DEFAULT_MODEL,
        default_model_path,
        Predictor,
        features_batch_arrays,
    )

__all__ = [
    "DEFAULT_MODEL",
    "default_model_path",
    "Predictor",
    "features_batch_arrays",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("pocknet.predict.predictor"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
