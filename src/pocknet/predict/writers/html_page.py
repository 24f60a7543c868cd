"""``html``: ``<name>.html``, the pockets in 3D in any browser, offline.

One self-contained page (the structure, the SAS points, the pocket table and the vendored
3Dmol.js inlined; nothing is fetched), written by :mod:`pocknet.predict.viewer` (``pocknet
view`` writes the same page from an output folder). Not among the defaults: each page
carries the ~0.5 MB viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pocknet.predict.writers.base import OutputJob, Writer
from pocknet.predict.writers.files import write_text

__all__ = ["WRITER"]


def _write(paths: Sequence[Path], job: OutputJob) -> None:
    # Imported here: the viewer reads the other writers' tables, and this module is part of their registry.
    from pocknet.predict.viewer.inputs import viewer_data_from_prediction
    from pocknet.predict.viewer.page import viewer_html

    write_text(paths[0], viewer_html(viewer_data_from_prediction(job.prediction, job.source_bytes)))


WRITER = Writer(files=lambda name: [f"{name}.html"], write=_write, reads_source=True)
