"""Keep third-party logging inside the project's logging configuration (``conf/logging.yml``).

Lightning, imported after Kedro has configured logging, sets its loggers to INFO and
gives the ``lightning`` logger a console handler of its own: every line then appeared
twice (``INFO: …`` and the configured format), with an advertising tip, whatever the
configuration said. :func:`defer_to_logging_config` undoes that after the import.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

__all__ = ["defer_to_logging_config"]

_THIRD_PARTY = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric",
                "torchmetrics")  # fmt: skip


def _configured_levels() -> dict[str, Any]:
    """Logger levels of the active Kedro logging configuration (empty outside Kedro)."""
    try:
        from kedro.framework.project import LOGGING
    except ImportError:  # pragma: no cover - kedro is a dependency
        return {}
    loggers = dict(LOGGING.data.get("loggers") or {})
    return {name: spec.get("level") for name, spec in loggers.items() if isinstance(spec, dict)}


def defer_to_logging_config() -> None:
    """Drop Lightning's own handlers and levels; the logging configuration decides again."""
    levels = _configured_levels()
    for name in _THIRD_PARTY:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(levels.get(name) or logging.NOTSET)
    # Lightning's own use of a deprecated torch API: noise for our users, nothing to act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
