"""``cxc``: ``<name>.cxc``, a ChimeraX command script that shows the pockets on the structure copy.

Meant for a fresh session (``open``, ``name``, ``color``, ``surface``, ``view`` …): the
structure becomes model #1 and the points model #2. How it finds its folder, and why no
input reaches a command unchecked: :mod:`pocknet.predict.writers.scripts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pocknet.errors import PockNetError
from pocknet.predict.prediction import Prediction
from pocknet.predict.writers.base import PROTEIN_COLOUR, OutputJob, Writer, pocket_colour, ranked
from pocknet.predict.writers.files import breaks_lines, shown, write_text
from pocknet.predict.writers.scripts import check_groups, comment, left_out_note, pocket_residue_groups

__all__ = ["WRITER", "chimerax_spec"]


def chimerax_spec(groups: Sequence[tuple[str, Sequence[str]]], model: int = 1) -> str:
    """ChimeraX atom spec of residues grouped by chain, e.g. ``#1/A:12,15,100A/B:7``.

    A repeated ``/`` restarts the chain level in ChimeraX, so one spec covers
    several chains. Residues are listed one by one, not as ranges: a range
    such as ``100-101`` would also take an inserted ``100A`` that is not in the
    pocket. A blank chain id is left out (ChimeraX cannot name it).

    Raises
    ------
    ValueError
        For a chain id other than letters and digits, or a label other than
        ``-?[0-9]+`` with an optional insertion code: text a command must not hold.
    """
    check_groups(groups)
    parts = []
    for chain, labels in groups:
        if not labels:
            continue
        chain_part = f"/{chain}" if chain.strip() else ""
        parts.append(f"{chain_part}:{','.join(labels)}")
    return f"#{int(model)}" + "".join(parts) if parts else ""


def _cxc_path(file_name: str) -> str:
    """A file name double-quoted for a ChimeraX command (``;`` and blanks allowed inside)."""
    if '"' in file_name or breaks_lines(file_name):
        raise PockNetError(f"{shown(file_name)}: a ChimeraX script cannot name this file")
    return f'"{file_name}"'


def _cxc_text(prediction: Prediction, structure_file: str, points_file: str) -> str:
    title = f"{comment(prediction.name)} (model {comment(prediction.model_name)})"
    lines = [
        f"# PockNet pockets of {title}, ChimeraX script.",
        f"# Open it in a fresh session from any folder (chimerax path/to/{comment(prediction.name)}.cxc).",
        "# ChimeraX runs it in its own folder, where the files are; the structure becomes #1, the points #2.",
        "# Points: residue number = pocket rank (0: none), B-factor = calibrated probability 0.01-0.99.",
        f"open {_cxc_path(structure_file)}",
        f"open {_cxc_path(points_file)}",
        f"color #1 & protein {PROTEIN_COLOUR[0]}",
        "surface #1",
        "style #2 sphere",
        "size #2 atomRadius 0.4",
        "hide #2:0 target a",
    ]
    for pocket in ranked(prediction):
        rank = int(pocket.rank)
        colour = pocket_colour(rank)[0]
        groups, left_out = pocket_residue_groups(prediction, pocket)
        lines += left_out_note(rank, left_out)
        spec = chimerax_spec(groups, model=1)
        if spec:
            lines += [f"name pocket{rank} {spec}", f"color pocket{rank} {colour}"]
        lines.append(f"color #2:{rank} {colour}")
    lines += [
        "# Option: every point coloured by probability instead of by pocket:",
        "# show #2 target a",
        "# color bfactor #2 palette blue:white:red range 0,1",
        "view",
    ]
    return "\n".join(lines) + "\n"


def _write(paths: Sequence[Path], job: OutputJob) -> None:
    write_text(paths[0], _cxc_text(job.prediction, job.structure_file, job.points_file))


WRITER = Writer(files=lambda name: [f"{name}.cxc"], write=_write, script=True, reads_source=True)
