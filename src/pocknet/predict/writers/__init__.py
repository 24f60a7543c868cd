"""Write a :class:`~pocknet.predict.prediction.Prediction` as files people and tools open.

Formats (SCIENCE.md §7), for ``name = prediction.name``, one module each, registered in
:data:`WRITERS` in writing order:

``csv``
    ``<name>_predictions.csv``, ``<name>_residues.csv`` (:mod:`.p2rank_csv`): P2Rank 2.x's layout.
``pdb``
    ``<name>_points.pdb`` (:mod:`.points_pdb`): residue number = pocket rank, B-factor =
    calibrated point probability.
``pml``
    ``<name>.pml`` (:mod:`.pymol`), a PyMOL script.
``cxc``
    ``<name>.cxc`` (:mod:`.chimerax`), a ChimeraX command script.
``html``
    ``<name>.html`` (:mod:`.html_page`): the offline 3D page of :mod:`pocknet.predict.viewer`.
    Not among the defaults (:data:`DEFAULT_FORMATS`): each page carries the ~0.5 MB viewer.
``json``
    ``<name>.json`` (:mod:`.json_summary`), a machine-readable summary, always written last.

With ``pml`` or ``cxc`` the input structure is copied beside the outputs (written after the
points file and before the scripts), so an output folder is self-contained
(:mod:`.files`); the scripts run from anywhere and no input reaches their commands
unchecked (:mod:`.scripts`). Every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pocknet.errors import PockNetError
from pocknet.predict.formats import DEFAULT_FORMATS, FORMATS, parse_formats, validate_formats
from pocknet.predict.prediction import Prediction
from pocknet.predict.writers import chimerax, html_page, json_summary, p2rank_csv, points_pdb, pymol
from pocknet.predict.writers.base import OutputJob, Writer
from pocknet.predict.writers.files import (
    name_problem,
    shown,
    structure_bytes,
    structure_file_name,
    write_bytes,
)

__all__ = ["DEFAULT_FORMATS", "FORMATS", "WRITERS", "parse_formats", "write_outputs"]

#: Every format's writer, in writing order (the JSON summary last); the keys are
#: :data:`pocknet.predict.formats.FORMATS` (tested), which the CLI parses without importing this package.
WRITERS: dict[str, Writer] = {
    "csv": p2rank_csv.WRITER,
    "pdb": points_pdb.WRITER,
    "pml": pymol.WRITER,
    "cxc": chimerax.WRITER,
    "html": html_page.WRITER,
    "json": json_summary.WRITER,
}


def write_outputs(
    prediction: Prediction,
    out_dir: str | Path,
    formats: Iterable[str] | str = DEFAULT_FORMATS,
    structure_copy: str | None = None,
) -> list[Path]:
    """Write the requested formats for one prediction into ``out_dir`` (created if missing).

    Parameters
    ----------
    prediction
        What to write; ``prediction.name`` prefixes every file.
    out_dir
        Output folder.
    formats
        Subset of :data:`FORMATS`, or a comma list as accepted by :func:`parse_formats`;
        default :data:`DEFAULT_FORMATS`. With ``pml`` or ``cxc`` the source structure is
        copied beside the scripts; ``html`` inlines it into the page.
    structure_copy
        Name of the structure copy an earlier call wrote into ``out_dir`` for this same
        prediction (the scripts first, the JSON marker last, as ``pocknet predict`` does):
        the JSON's ``structure_file`` when this call copies nothing itself.

    Returns
    -------
    list of Path
        The written files, in :data:`WRITERS` order, the structure copy right before the
        first script (the ``json`` summary last).

    Raises
    ------
    ConfigError
        For an unknown format, before anything is written.
    PockNetError
        Before anything is written, for a name that cannot prefix the files
        (:func:`~pocknet.predict.writers.files.name_problem`) or, with scripts or ``html``,
        a source structure that cannot be read or is no longer the featurised file.
    """
    chosen = parse_formats(formats) if isinstance(formats, str) else validate_formats(formats)
    name = prediction.name
    f = prediction.features
    scripts = any(WRITERS[fmt].script for fmt in chosen)
    problem = name_problem(name, scripts)
    if problem:
        raise PockNetError(f"{shown(f.source)}: output name {name!r} {problem}")
    structure_file = structure_file_name(name, f.source) if scripts else structure_copy
    # read before anything is written
    source_bytes = structure_bytes(f) if any(WRITERS[fmt].reads_source for fmt in chosen) else None
    structure = source_bytes if scripts else None
    job = OutputJob(prediction, structure_file, WRITERS["pdb"].files(name)[0], source_bytes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in chosen:
        writer = WRITERS[fmt]
        if writer.script and structure is not None:
            path = out_dir / structure_file
            write_bytes(path, structure)
            written.append(path)
            structure = None
        paths = [out_dir / file for file in writer.files(name)]
        writer.write(paths, job)
        written += paths
    return written
