"""The models shipped inside the package, found without importing torch.

``pocknet_default.pt`` scores experimental structures (and everything, when it is the only
one); ``pocknet_predicted.pt``, trained without the ``bfactor`` descriptor, scores predicted
structures (AlphaFold, ESMFold: their B-factor column holds pLDDT). The second may be absent
from an installation; predicted structures then fall back to the default model, with a note.
The batch parent resolves both paths here and hands them to its workers, which never look them
up themselves (a forkserver keeps the environment it started with).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from pocknet.errors import PockNetError

__all__ = [
    "DEFAULT_MODEL",
    "PREDICTED_MODEL",
    "PREDICTED_MODEL_ENV",
    "default_model_path",
    "predicted_model_path",
]

DEFAULT_MODEL = "pocknet_default.pt"
PREDICTED_MODEL = "pocknet_predicted.pt"
#: A model file for predicted structures instead of the bundled one; ``none`` (or empty): none.
PREDICTED_MODEL_ENV = "POCKNET_PREDICTED_MODEL"


def _packaged(name: str) -> Path:
    return Path(str(resources.files("pocknet").joinpath("models").joinpath(name)))


def default_model_path() -> Path:
    """The model shipped inside the package (tabular-only, trained by this project's pipeline)."""
    path = _packaged(DEFAULT_MODEL)
    if not path.is_file():
        raise PockNetError(
            f"{path}: the bundled default model is missing from this installation; pass --model"
        )
    return path


def predicted_model_path() -> Path | None:
    """The model for predicted structures: ``$POCKNET_PREDICTED_MODEL``, else the bundled one; None: none."""
    raw = os.environ.get(PREDICTED_MODEL_ENV)
    if raw is not None:
        value = raw.strip()
        if value.lower() in ("", "none"):
            return None
        if not Path(value).is_file():
            raise PockNetError(f"{PREDICTED_MODEL_ENV}={value}: no such model file")
        return Path(value)
    path = _packaged(PREDICTED_MODEL)
    return path if path.is_file() else None
