"""Preloaded only into a batch's forkserver: leave without tearing the interpreter down.

The forkserver holds torch and the predictor code for the workers it forks, and it exits
as soon as the batch's parent does. Python's teardown of those modules then costs ~0.4 s
of CPU (``import torch`` alone: 1.25 s with the teardown, 0.9 s without) on a core the
next job may want, for nothing: the forkserver owns no files or buffers that need it, and
its workers already leave through ``os._exit`` (multiprocessing's way out of a forked child).
Importing this module anywhere else would cut that process's teardown short too: only
:func:`pocknet.predict.workers._context` names it.
"""

from __future__ import annotations

import atexit
import os
import sys

__all__: list[str] = []


def _exit_now() -> None:
    """Flush what the forkserver may have printed, then end the process (exit status 0)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed or replaced streams
            pass
    os._exit(0)


atexit.register(_exit_now)  # registered last, so run first: before teardown, after the server loop ended
